//! The server modes: the static server, the file sink and the live sink,
//! mounted on one router per server.

use std::path::PathBuf;
use std::sync::Arc;

use httpout_core::auth::rules::Rules;
use httpout_core::{ConfigError, Router};
use httpout_filesink::{SinkKind, Source, write_input};
use httpout_static::StaticConfig;
use httpout_store::{Live, WriteRoot};

use super::gmem::{gmem_dir, is_gmem};
use super::{file_sink, output_path};
use crate::options::{HMode, Options};
use crate::plan::{Pair, ServerPlan};

/// What one server runs: the handler tree, and the inputs to start once it
/// listens.
pub(crate) struct Modes {
    pub(crate) router: Router,
    pub(crate) inputs: Vec<FileInput>,
    /// Read directories whose local writers are followed (inotify).
    pub(crate) followed: Vec<PathBuf>,
    /// The live sink's inputs (started once the server listens).
    pub(crate) live_inputs: Vec<httpout_live::input::Input>,
    /// Masters whose mounts are relayed (`--master`; started with the
    /// inputs).
    pub(crate) masters: Vec<httpout_live::Master>,
    /// The live sink's mounts, when it runs.
    pub(crate) hub: Option<httpout_live::Hub>,
    /// Standard output carries uploads (`--hmode=source -o -`): the
    /// `listening on` lines go to standard error.
    pub(crate) stdout_taken: bool,
    /// What is served where, one line a mount, for the start-up banner.
    pub(crate) banner: Vec<String>,
}

/// What every server of the process shares.
pub(crate) struct Shared {
    /// Files being written (uploads, `-i` inputs, local writers), so that
    /// every server's readers find them at the live edge.
    pub(crate) live: Arc<Live>,
    /// The in-memory directory standing for `gmem`, removed when dropped.
    pub(crate) gmem: Option<tempfile::TempDir>,
    /// The one metrics registry of the process, which every server
    /// updates and serves (`--metrics`).
    pub(crate) metrics: Arc<httpout_core::Metrics>,
}

impl Shared {
    /// Creates the `gmem` directory if the options use it.
    pub(crate) fn new(opts: &Options) -> Result<Self, ConfigError> {
        let uses_gmem = opts.statics.rdirs.iter().any(|p| is_gmem(p))
            || opts.statics.wdir.as_deref().is_some_and(is_gmem);
        Ok(Self {
            live: Live::new(),
            gmem: if uses_gmem { Some(gmem_dir()?) } else { None },
            metrics: Arc::default(),
        })
    }
}

/// One `-i SOURCE -o URL` pair of the file sink.
pub(crate) struct FileInput {
    source: Source,
    target: Vec<String>,
    root: WriteRoot,
    live: Arc<Live>,
    block: usize,
    metrics: Arc<httpout_core::Metrics>,
}

impl FileInput {
    /// Copies the input into its file, served live meanwhile; logs the end.
    pub(crate) async fn run(self) {
        let _writing = self.metrics.filesink_writer();
        let shown = self.target.join("/");
        let source = match &self.source {
            Source::Stdin => "-".to_owned(),
            Source::Path(p) => p.display().to_string(),
        };
        match write_input(
            &self.source,
            &self.root,
            &self.target,
            &self.live,
            self.block,
        )
        .await
        {
            Ok(n) => eprintln!("httpout: input {source} written to /{shown} ({n} bytes)"),
            Err(e) => eprintln!("httpout: input {source} for /{shown} failed: {e}"),
        }
    }
}

/// The handler tree and inputs of one server; errors name the option.
pub(crate) fn build(
    plan: &ServerPlan,
    shared: &Shared,
    rules: &Rules,
) -> Result<Modes, ConfigError> {
    build_with(plan, shared, rules, &Build::Start)
}

/// The handler tree of a running server, built anew by a reload from
/// `plan`: its live mounts stay in `hub` (listeners and inputs are not
/// touched), its write directories keep their uploads in progress, and no
/// input is declared or started.
pub(crate) fn rebuild(
    plan: &ServerPlan,
    shared: &Shared,
    rules: &Rules,
    hub: Option<httpout_live::Hub>,
) -> Result<Router, ConfigError> {
    build_with(plan, shared, rules, &Build::Reload { hub }).map(|m| m.router)
}

/// Whether a server is built at start, or again by a reload.
enum Build {
    /// At start: inputs are declared, write directories cleaned.
    Start,
    /// By a reload: the running server's live mounts (`hub`) are kept.
    Reload { hub: Option<httpout_live::Hub> },
}

/// [`build`] or [`rebuild`].
fn build_with(
    plan: &ServerPlan,
    shared: &Shared,
    rules: &Rules,
    build: &Build,
) -> Result<Modes, ConfigError> {
    let reloading = matches!(build, Build::Reload { .. });
    let opts = &plan.opts;
    if opts.hmode == HMode::Source {
        return Ok(super::source::build(opts));
    }
    let mut resolved;
    let opts = match &shared.gmem {
        Some(dir) => {
            resolved = opts.clone();
            for p in resolved.statics.rdirs.iter_mut().filter(|p| is_gmem(p)) {
                *p = dir.path().to_path_buf();
            }
            if resolved.statics.wdir.as_deref().is_some_and(is_gmem) {
                resolved.statics.wdir = Some(dir.path().to_path_buf());
            }
            &resolved
        }
        None => opts,
    };
    let mut config = StaticConfig::from_args(&opts.core, &opts.statics)?;
    config.live = Arc::clone(&shared.live);
    config.reopen = reloading;
    // `gmem` was replaced by its directory above: retention still counts
    // segments in memory (the reference's MIN rule).
    config.retention.in_memory = shared.gmem.is_some()
        && (plan.opts.statics.rdirs.iter().any(|p| is_gmem(p))
            || plan.opts.statics.wdir.as_deref().is_some_and(is_gmem));
    let file_pairs: Vec<&Pair> = plan.pairs.iter().filter(|p| file_sink(&p.opts)).collect();
    let live_pairs: Vec<&Pair> = plan.pairs.iter().filter(|p| !file_sink(&p.opts)).collect();
    // The main server serves the directories; another serves them too when
    // its outputs are written there.
    let serves_files = plan.main || !file_pairs.is_empty();
    let mut router = Router::new();
    let mut mounted = false;
    let mut banner = Vec::new();
    if serves_files {
        for (prefix, handler) in httpout_static::mounts(&opts.statics, rules, &config)? {
            router = router.mount_path(prefix, handler);
            mounted = true;
        }
        banner.extend(static_banner(opts));
    }
    let mut live_inputs = Vec::new();
    let mut hub = None;
    let http_sources = plan.main
        && (opts.live.source_password.is_some()
            || opts.live.master.is_some()
            || opts.filesink.sink == SinkKind::Live);
    let mut masters = Vec::new();
    if !live_pairs.is_empty() || http_sources {
        let live_config = httpout_live::LiveConfig::from_args(&opts.core, &opts.live)?;
        let reused = match build {
            Build::Reload { hub } => hub.clone(),
            Build::Start => None,
        };
        let declare = !reloading;
        let live_hub = reused.unwrap_or_default();
        for pair in live_pairs.iter().filter(|_| declare) {
            let mount = format!("/{}", output_path(&pair.output)?.join("/"));
            let input = httpout_live::input::Input::declare(
                &live_hub,
                &httpout_live::LiveConfig::from_args(&pair.opts.core, &pair.opts.live)?,
                &pair.input,
                &mount,
            );
            banner.push(input.describe());
            live_inputs.push(input);
        }
        if http_sources && opts.live.source_password.is_some() {
            banner.push("/* <- Icecast source clients (--source_password)".to_owned());
        }
        if let (Some(url), true, true) = (&opts.live.master, plan.main, declare) {
            banner.push(format!(
                "/* <- every mount of the master {}",
                httpout_live::redacted(url)
            ));
            masters.push(httpout_live::Master::new(
                live_hub.clone(),
                live_config.clone(),
                url,
                std::time::Duration::from_secs(u64::from(opts.live.master_interval)),
            ));
        }
        let mut handler = httpout_live::LiveHandler::new(live_hub.clone(), live_config);
        if mounted {
            handler = handler.with_fallback(Arc::new(router), opts.statics.wdir.is_some());
        }
        router = Router::new().mount("/", handler);
        hub = Some(live_hub);
    }
    let mut inputs = Vec::new();
    if reloading {
        // A reload starts no input: those of the start run on.
    } else if let (Some(first), false) = (opts.statics.rdirs.first(), file_pairs.is_empty()) {
        let root = WriteRoot::new(first)
            .map(|r| r.with_fsync(opts.statics.fsync))
            .map_err(|e| {
                ConfigError::invalid(
                    "--rdirs",
                    first.display(),
                    format!("the file sink writes there ({e})"),
                )
            })?;
        for pair in file_pairs {
            let target = output_path(&pair.output)?;
            banner.push(format!(
                "/{} <- -i {} (file sink, written to {})",
                target.join("/"),
                pair.input,
                first.display()
            ));
            inputs.push(FileInput {
                source: Source::parse(&pair.input),
                target,
                root: root.clone(),
                live: Arc::clone(&config.live),
                block: config.block_size,
                metrics: Arc::clone(&shared.metrics),
            });
        }
    }
    let followed = if plan.main {
        opts.statics
            .rdirs
            .iter()
            .filter(|d| d.is_dir())
            .filter_map(|d| std::fs::canonicalize(d).ok())
            .collect()
    } else {
        Vec::new()
    };
    Ok(Modes {
        router,
        inputs,
        followed,
        live_inputs,
        masters,
        hub,
        stdout_taken: false,
        banner,
    })
}

/// What the static server serves where: `/ -> ./www (read)`, `uploads ->
/// ./in`, one line a directory or rules file.
fn static_banner(opts: &Options) -> Vec<String> {
    let plain: Vec<&PathBuf> = opts.statics.rdirs.iter().filter(|p| !p.is_file()).collect();
    let has_rules = opts.statics.rdirs.iter().any(|p| p.is_file());
    let mut lines = Vec::new();
    for dir in &plain {
        let name = std::fs::canonicalize(dir)
            .ok()
            .and_then(|d| d.file_name().map(|n| n.to_string_lossy().into_owned()));
        let at = match name {
            Some(name) if plain.len() > 1 || has_rules => format!("/{name}/"),
            _ => "/".to_owned(),
        };
        lines.push(format!("{at} -> {} (read)", dir.display()));
    }
    for file in opts.statics.rdirs.iter().filter(|p| p.is_file()) {
        lines.push(format!(
            "rules file {} (read and write by section)",
            file.display()
        ));
    }
    if let Some(w) = &opts.statics.wdir {
        lines.push(format!("uploads -> {}", w.display()));
    }
    lines
}

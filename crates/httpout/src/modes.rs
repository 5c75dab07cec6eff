//! Options → mounted modes: the only place where modes are wired.
//!
//! Built: the engine, the static server (`--rdirs`, `--wdir`) and the file
//! sink's inputs (`-i SOURCE -o URL` with `--rdirs`). Every option that
//! belongs to a mode that is not built yet is refused here, by name, rather
//! than ignored.

use std::sync::Arc;

use clap::CommandFactory;
use httpout_core::options::value::HMode;
use httpout_core::options::{Area, Options, area};
use httpout_core::{Router, SafePath};
use httpout_filesink::{Source, write_input};
use httpout_static::StaticConfig;
use httpout_store::{Live, WriteRoot};

/// Refuses options that this build cannot honour, naming the first one.
pub(crate) fn check(opts: &Options) -> Result<(), String> {
    if opts.hmode != HMode::Default {
        let mode = format!("{:?}", opts.hmode).to_lowercase();
        return Err(format!(
            "--hmode={mode}: {mode} mode is not built yet in this version"
        ));
    }
    let file_sink = !opts.rdirs.is_empty();
    if file_sink && opts.inputs.len() != opts.outputs.len() {
        return Err(format!(
            "-i and -o go in pairs: {} input(s) for {} output(s)",
            opts.inputs.len(),
            opts.outputs.len()
        ));
    }
    for url in opts.outputs.iter().filter(|_| file_sink) {
        output_path(url)?;
    }
    let cmd = Options::command();
    for id in &opts.given {
        if file_sink && (id == "inputs" || id == "outputs") {
            continue;
        }
        let flag = cmd
            .get_arguments()
            .find(|a| a.get_id().as_str() == id)
            .map_or_else(|| id.clone(), display_flag);
        let why = match area(id) {
            Area::Core | Area::Static | Area::StaticWrite => continue,
            Area::Sink => "belongs to the live/file sink, which is not built yet in this version",
            Area::Push => "belongs to the push client, which is not built yet in this version",
            Area::Unsupported => {
                "is a GPAC internal with no httpout equivalent (httpout I/O is always \
                 asynchronous; embed httpout-core instead of scripting it)"
            }
        };
        return Err(format!("{flag} {why}"));
    }
    Ok(())
}

fn display_flag(arg: &clap::Arg) -> String {
    match (arg.get_short(), arg.get_long()) {
        (Some(s), Some(l)) => format!("-{s}/--{l}"),
        (None, Some(l)) => format!("--{l}"),
        _ => arg.get_id().to_string(),
    }
}

/// What the options ask to run: the handler tree, and the file sink's
/// inputs (started once the server listens).
pub(crate) struct Modes {
    pub(crate) router: Router,
    pub(crate) inputs: Vec<FileInput>,
    /// Read directories whose local writers are followed (inotify).
    pub(crate) followed: Vec<std::path::PathBuf>,
    /// The registry of files being written, shared with the static mounts.
    pub(crate) live: Arc<Live>,
    /// After this long without a write, a local writer's file is finished.
    pub(crate) follow_idle: std::time::Duration,
    /// The in-memory directory standing for `gmem`, removed at exit.
    pub(crate) gmem: Option<std::path::PathBuf>,
}

/// One `-i SOURCE -o URL` pair of the file sink.
pub(crate) struct FileInput {
    source: Source,
    target: Vec<String>,
    root: WriteRoot,
    live: Arc<Live>,
    block: usize,
}

impl FileInput {
    /// Copies the input into its file, served live meanwhile; logs the end.
    pub(crate) async fn run(self) {
        let shown = self.target.join("/");
        match write_input(
            &self.source,
            &self.root,
            &self.target,
            &self.live,
            self.block,
        )
        .await
        {
            Ok(n) => eprintln!(
                "httpout: input {:?} written to /{shown} ({n} bytes)",
                self.source
            ),
            Err(e) => eprintln!("httpout: input {:?} for /{shown} failed: {e}", self.source),
        }
    }
}

/// The in-memory directory that stands for `gmem`: private to this
/// process, on the tmpfs of `/dev/shm` (RAM), removed at exit.
fn gmem_dir() -> Result<std::path::PathBuf, String> {
    use std::os::unix::fs::DirBuilderExt;
    let dir = std::path::PathBuf::from(format!("/dev/shm/httpout-gmem-{}", std::process::id()));
    std::fs::DirBuilder::new()
        .mode(0o700)
        .create(&dir)
        .map_err(|e| {
            format!(
                "invalid value 'gmem' for --rdirs/--wdir: cannot create {} ({e})",
                dir.display()
            )
        })?;
    Ok(dir)
}

/// The handler tree and inputs for these options; errors name the option.
pub(crate) fn build(opts: &Options) -> Result<Modes, String> {
    let config = StaticConfig::from_options(opts)?;
    let is_gmem = |p: &std::path::Path| p.as_os_str() == "gmem";
    let uses_gmem =
        opts.rdirs.iter().any(|p| is_gmem(p)) || opts.wdir.as_deref().is_some_and(is_gmem);
    let gmem = if uses_gmem { Some(gmem_dir()?) } else { None };
    let mut resolved;
    let opts = match &gmem {
        Some(dir) => {
            resolved = opts.clone();
            for p in resolved.rdirs.iter_mut().filter(|p| is_gmem(p)) {
                p.clone_from(dir);
            }
            if resolved.wdir.as_deref().is_some_and(is_gmem) {
                resolved.wdir = Some(dir.clone());
            }
            &resolved
        }
        None => opts,
    };
    let mut router = Router::new();
    for (prefix, handler) in httpout_static::mounts_with(opts, &config)? {
        router = router.mount_path(prefix, handler);
    }
    let mut inputs = Vec::new();
    if let Some(first) = opts.rdirs.first().filter(|_| !opts.inputs.is_empty()) {
        let root = WriteRoot::new(first).map_err(|e| {
            format!(
                "invalid value '{}' for --rdirs: the file sink writes there ({e})",
                first.display()
            )
        })?;
        for (input, url) in opts.inputs.iter().zip(&opts.outputs) {
            inputs.push(FileInput {
                source: Source::parse(input),
                target: output_path(url)?,
                root: root.clone(),
                live: Arc::clone(&config.live),
                block: config.block_size,
            });
        }
    }
    let followed = opts
        .rdirs
        .iter()
        .filter(|d| d.is_dir())
        .filter_map(|d| std::fs::canonicalize(d).ok())
        .collect();
    let follow_idle =
        std::time::Duration::from_secs(if opts.timeout > 0 { opts.timeout } else { 30 });
    Ok(Modes {
        router,
        inputs,
        followed,
        live: Arc::clone(&config.live),
        follow_idle,
        gmem,
    })
}

/// The file an output URL names, as path segments.
fn output_path(url: &str) -> Result<Vec<String>, String> {
    let bad = || format!("invalid value '{url}' for -o: expected http://HOST:PORT/NAME");
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
        .ok_or_else(bad)?;
    let path = rest.find('/').map(|i| &rest[i..]).ok_or_else(bad)?;
    let path = path.split(['?', '#']).next().unwrap_or(path);
    let safe = SafePath::parse(path).map_err(|_| bad())?;
    if safe.segments().is_empty() || safe.has_trailing_slash() {
        return Err(bad());
    }
    Ok(safe.segments().to_vec())
}

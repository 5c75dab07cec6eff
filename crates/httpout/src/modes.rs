//! Options → mounted modes: the only place where modes are wired.
//!
//! Built: the engine, the static server (`--rdirs`, `--wdir`), the file
//! sink (`-i SOURCE -o URL` with `--rdirs`) and the live sink (`-i SOURCE
//! -o URL` without `--rdirs` or with `--sink=live`, and HTTP source clients
//! with `--source_password`). Every option that belongs to a mode that is
//! not built yet, or to a sink that is not in use, is refused here, by
//! name, rather than ignored.

use std::sync::Arc;

use clap::CommandFactory;
use httpout_core::options::value::{HMode, SinkKind};
use httpout_core::options::{Area, Options, area};
use httpout_core::{Router, SafePath};
use httpout_filesink::{Source, write_input};
use httpout_static::StaticConfig;
use httpout_store::{Live, WriteRoot};

/// Whether `-i`/`-o` pairs feed the file sink (else the live sink).
fn file_sink(opts: &Options) -> bool {
    match opts.sink {
        SinkKind::Auto => !opts.rdirs.is_empty(),
        SinkKind::File => true,
        SinkKind::Live => false,
    }
}

/// Whether the live sink runs: live inputs, HTTP sources, or asked for.
fn live_sink(opts: &Options) -> bool {
    (!opts.inputs.is_empty() && !file_sink(opts))
        || opts.source_password.is_some()
        || opts.sink == SinkKind::Live
}

/// Options that only the live sink reads.
const LIVE_ONLY: &[&str] = &[
    "hold",
    "reopen",
    "quit",
    "ice",
    "max_async_buf",
    "burst",
    "rt",
    "rate",
    "metaint",
    "title",
    "ice_hdr",
    "ext",
    "mime",
];

/// Refuses options that this build cannot honour, naming the first one.
pub(crate) fn check(opts: &Options) -> Result<(), String> {
    if opts.hmode == HMode::Push {
        return push_config(opts).map(|_| ());
    }
    if opts.hmode == HMode::Source {
        return check_source(opts);
    }
    if opts.inputs.len() != opts.outputs.len() {
        return Err(format!(
            "-i and -o go in pairs: {} input(s) for {} output(s)",
            opts.inputs.len(),
            opts.outputs.len()
        ));
    }
    if opts.sink == SinkKind::File && opts.rdirs.is_empty() && !opts.inputs.is_empty() {
        return Err("--sink=file writes into the first of --rdirs: give --rdirs".to_owned());
    }
    for url in &opts.outputs {
        output_path(url)?;
    }
    let live = live_sink(opts);
    let cmd = Options::command();
    for id in &opts.given {
        let flag = cmd
            .get_arguments()
            .find(|a| a.get_id().as_str() == id)
            .map_or_else(|| id.clone(), display_flag);
        let why = match area(id) {
            Area::Core | Area::Static | Area::StaticWrite => continue,
            Area::Source => "applies to source mode: add --hmode=source",
            Area::Sink if !LIVE_ONLY.contains(&id.as_str()) || live => continue,
            Area::Sink if !opts.inputs.is_empty() => {
                "applies to the live sink; here -i/-o feed the file sink (--rdirs is given):                  add --sink=live to relay them live"
            }
            Area::Sink => {
                "applies to the live sink, which is not in use: give -i SOURCE -o URL                  (without --rdirs) or --source_password"
            }
            Area::Push => "applies to the push client: add --hmode=push",
            Area::Unsupported => {
                "is a GPAC internal with no httpout equivalent (httpout I/O is always \
                 asynchronous; embed httpout-core instead of scripting it)"
            }
        };
        return Err(format!("{flag} {why}"));
    }
    Ok(())
}

/// The push client's settings: one `-i` input, a destination (`--dst`
/// or one `-o URL`), nothing of the server's modes.
pub(crate) fn push_config(opts: &Options) -> Result<(String, httpout_push::PushConfig), String> {
    let [input] = opts.inputs.as_slice() else {
        return Err(format!(
            "--hmode=push pushes one input: give one -i SOURCE (got {})",
            opts.inputs.len()
        ));
    };
    let dst = match (&opts.dst, opts.outputs.as_slice()) {
        (Some(d), []) => d.clone(),
        (None, [o]) => o.clone(),
        _ => {
            return Err("--hmode=push needs one destination: --dst=URL or one -o URL".to_owned());
        }
    };
    let uri: http::Uri = dst
        .parse()
        .ok()
        .filter(|u: &http::Uri| {
            matches!(u.scheme_str(), Some("http" | "https")) && u.host().is_some()
        })
        .ok_or_else(|| {
            format!("invalid value '{dst}' for --dst: expected http(s)://HOST[:PORT]/PATH")
        })?;
    let cmd = Options::command();
    for id in &opts.given {
        if matches!(
            area(id),
            Area::Static | Area::StaticWrite | Area::Sink | Area::Source
        ) && id != "inputs"
            && id != "outputs"
        {
            let flag = cmd
                .get_arguments()
                .find(|a| a.get_id().as_str() == id)
                .map_or_else(|| id.clone(), display_flag);
            return Err(format!(
                "{flag} does not apply to the push client (--hmode=push runs no server)"
            ));
        }
    }
    let headers = httpout_core::ServerConfig::from_options(opts)?.headers;
    Ok((
        input.clone(),
        httpout_push::PushConfig {
            dst: uri,
            post: opts.post,
            cte: opts.cte,
            ka: opts.ka,
            user_agent: opts.user_agent.clone(),
            headers,
            cafile: opts.cafile.clone(),
            watch: opts.watch,
            delete: opts.delete,
            jobs: opts.jobs.max(1) as usize,
            progress: std::io::IsTerminal::is_terminal(&std::io::stderr()),
        },
    ))
}

/// Source mode takes its input from uploads and gives it to stdout
/// (`-o -`) or a command (`--exec`); it serves no files.
fn check_source(opts: &Options) -> Result<(), String> {
    if !opts.inputs.is_empty() {
        return Err("-i: source mode takes its input from uploads, not from -i".to_owned());
    }
    match (opts.outputs.as_slice(), &opts.exec) {
        ([out], None) if out == "-" => {}
        ([], Some(_)) => {}
        _ => {
            return Err(
                "--hmode=source needs one of -o - (uploads to standard output) or --exec=COMMAND"
                    .to_owned(),
            );
        }
    }
    let cmd = Options::command();
    for id in &opts.given {
        let refused = matches!(
            area(id),
            Area::Static | Area::StaticWrite | Area::Sink | Area::Push
        ) && id != "outputs";
        if refused {
            let flag = cmd
                .get_arguments()
                .find(|a| a.get_id().as_str() == id)
                .map_or_else(|| id.clone(), display_flag);
            return Err(format!(
                "{flag} does not apply to source mode (--hmode=source serves no files)"
            ));
        }
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
    /// The live sink's inputs (started once the server listens).
    pub(crate) live_inputs: Vec<httpout_live::input::Input>,
    /// The live sink's mounts, when it runs.
    pub(crate) hub: Option<httpout_live::Hub>,
    /// Standard output carries uploads (`--hmode=source -o -`): the
    /// `listening on` lines go to standard error.
    pub(crate) stdout_taken: bool,
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
    if opts.hmode == HMode::Source {
        let sink = match &opts.exec {
            Some(cmd) => httpout_source::Sink::Exec(cmd.clone()),
            None => httpout_source::Sink::Stdout,
        };
        let timeout =
            std::time::Duration::from_secs(if opts.timeout > 0 { opts.timeout } else { 30 });
        let handler = httpout_source::SourceHandler::new(sink, timeout);
        return Ok(Modes {
            router: Router::new().mount("/", handler),
            inputs: Vec::new(),
            followed: Vec::new(),
            live: Live::new(),
            follow_idle: timeout,
            gmem: None,
            live_inputs: Vec::new(),
            hub: None,
            stdout_taken: opts.exec.is_none(),
        });
    }
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
    let mut mounted = false;
    for (prefix, handler) in httpout_static::mounts_with(opts, &config)? {
        router = router.mount_path(prefix, handler);
        mounted = true;
    }
    let mut live_inputs = Vec::new();
    let mut hub = None;
    if live_sink(opts) {
        let live_config = httpout_live::LiveConfig::from_options(opts)?;
        let live_hub = httpout_live::Hub::new();
        for (input, url) in opts.inputs.iter().zip(&opts.outputs) {
            let mount = format!("/{}", output_path(url)?.join("/"));
            live_inputs.push(httpout_live::input::Input::declare(
                &live_hub,
                &live_config,
                input,
                &mount,
            ));
        }
        let mut handler = httpout_live::LiveHandler::new(live_hub.clone(), live_config);
        if mounted {
            handler = handler.with_fallback(Arc::new(router), opts.wdir.is_some());
        }
        router = Router::new().mount("/", handler);
        hub = Some(live_hub);
    }
    let mut inputs = Vec::new();
    if let Some(first) = opts
        .rdirs
        .first()
        .filter(|_| !opts.inputs.is_empty() && file_sink(opts))
    {
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
        live_inputs,
        hub,
        stdout_taken: false,
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

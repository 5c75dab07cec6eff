//! Options → mounted modes: the only place where modes are wired.
//!
//! Built: the engine, the static server (`--rdirs`, `--wdir`), the file
//! sink (`-i SOURCE -o URL` with `--rdirs`) and the live sink (`-i SOURCE
//! -o URL` without `--rdirs` or with `--sink=live`, and HTTP source clients
//! with `--source_password`). Every option that belongs to a mode or sink
//! that is not in use is refused here, by name, rather than ignored; so
//! are inputs that cannot work, before anything listens.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::CommandFactory;
use httpout_core::options::value::{HMode, SinkKind};
use httpout_core::options::{Area, Options, area};
use httpout_core::{Router, SafePath};
use httpout_filesink::{Source, write_input};
use httpout_static::StaticConfig;
use httpout_store::{Live, WriteRoot};

use crate::plan::{self, Pair, ServerPlan};

/// Whether `-i`/`-o` pairs feed the file sink (else the live sink).
fn file_sink(opts: &Options) -> bool {
    match opts.sink {
        SinkKind::Auto => !opts.rdirs.is_empty(),
        SinkKind::File => true,
        SinkKind::Live => false,
    }
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

/// Checks the options and plans the servers: refuses options that do not
/// apply and inputs that cannot work, naming the first one.
pub(crate) fn check(opts: &Options) -> Result<Vec<ServerPlan>, String> {
    if opts.hmode == HMode::Push {
        return push_config(opts).map(|_| Vec::new());
    }
    if opts.hmode == HMode::Source {
        check_source(opts)?;
        return plan::servers(opts, Vec::new());
    }
    if opts.inputs.len() != opts.outputs.len() {
        return Err(format!(
            "-i and -o go in pairs: {} input(s) for {} output(s)",
            opts.inputs.len(),
            opts.outputs.len()
        ));
    }
    if let Some(w) = opts.wdir.as_deref().filter(|w| w.is_file()) {
        return Err(format!(
            "invalid value '{}' for --wdir: it is a file, and --wdir takes a directory \
             (a rules file goes in --rdirs)",
            w.display()
        ));
    }
    if opts.sink == SinkKind::File && opts.rdirs.is_empty() && !opts.inputs.is_empty() {
        return Err("--sink=file writes into the first of --rdirs: give --rdirs".to_owned());
    }
    for url in &opts.outputs {
        output_path(url)?;
    }
    let pairs = plan::pairs(opts)?;
    let live = pairs.iter().any(|p| !file_sink(&p.opts))
        || opts.source_password.is_some()
        || opts.sink == SinkKind::Live;
    for id in &opts.given {
        refuse_misplaced(id, opts, live, None)?;
    }
    for pair in &pairs {
        let own = opts.input_flags[pair.index]
            .iter()
            .chain(&opts.output_flags[pair.index]);
        for id in own.filter_map(|f| Options::flag_id(f)) {
            refuse_misplaced(&id, &pair.opts, !file_sink(&pair.opts), Some(pair))?;
        }
        check_input(pair)?;
    }
    let serves_something = !opts.rdirs.is_empty()
        || opts.wdir.is_some()
        || !opts.inputs.is_empty()
        || opts.source_password.is_some()
        || opts.sink == SinkKind::Live;
    if !serves_something {
        return Err(
            "nothing to serve: give --rdirs, --wdir, -i/-o or --hmode; see httpout --help"
                .to_owned(),
        );
    }
    plan::servers(opts, pairs)
}

/// Refuses option `id` where nothing reads it: `live` tells whether the
/// live sink runs (for the whole command line, or for `pair` when the
/// option is that pair's suffix).
fn refuse_misplaced(
    id: &str,
    opts: &Options,
    live: bool,
    pair: Option<&Pair>,
) -> Result<(), String> {
    let why = match area(id) {
        Area::Core | Area::Static | Area::StaticWrite => return Ok(()),
        Area::Source => "applies to source mode: add --hmode=source",
        Area::Sink if !LIVE_ONLY.contains(&id) || live => return Ok(()),
        Area::Sink if !opts.inputs.is_empty() => {
            "applies to the live sink; here -i/-o feed the file sink (--rdirs is given): \
             add --sink=live to relay them live"
        }
        Area::Sink => {
            "applies to the live sink, which is not in use: give -i SOURCE -o URL \
             (without --rdirs) or --source_password"
        }
        Area::Push => "applies to the push client: add --hmode=push",
        Area::Unsupported => {
            "is a GPAC internal with no httpout equivalent (httpout I/O is always \
             asynchronous; embed httpout-core instead of scripting it)"
        }
    };
    let flag = flag_name(id);
    Err(match pair {
        Some(p) => format!("{flag} (given with -o {}) {why}", p.output),
        None => format!("{flag} {why}"),
    })
}

/// Checks that an input can feed its output, before anything listens.
fn check_input(pair: &Pair) -> Result<(), String> {
    if file_sink(&pair.opts) {
        if pair.input != "-" {
            std::fs::metadata(&pair.input)
                .map_err(|e| format!("invalid value '{}' for -i: {}", pair.input, io_reason(&e)))?;
        }
        return Ok(());
    }
    let config = httpout_live::LiveConfig::from_options(&pair.opts)?;
    httpout_live::input::Input::check(&config, &pair.input)
}

/// An I/O error as a user reads it.
fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file".to_owned(),
        std::io::ErrorKind::PermissionDenied => "permission denied".to_owned(),
        _ => e.to_string(),
    }
}

/// How an option (by clap id) is written on the command line.
fn flag_name(id: &str) -> String {
    Options::command()
        .get_arguments()
        .find(|a| a.get_id().as_str() == id)
        .map_or_else(|| id.to_owned(), display_flag)
}

/// The push client's settings: one `-i` input, a destination (`--dst`
/// or one `-o URL`), nothing of the server's modes.
pub(crate) fn push_config(opts: &Options) -> Result<(String, httpout_push::PushConfig), String> {
    // The push client is one output: its suffixes are the process's.
    let all: Vec<String> = opts
        .input_flags
        .iter()
        .chain(&opts.output_flags)
        .flatten()
        .cloned()
        .collect();
    let opts = &opts
        .scoped(&all)
        .map_err(|e| httpout_core::options::error_line(&e))?;
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
    for id in &opts.given {
        if matches!(
            area(id),
            Area::Static | Area::StaticWrite | Area::Sink | Area::Source
        ) && id != "inputs"
            && id != "outputs"
        {
            let flag = flag_name(id);
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
    for id in &opts.given {
        let refused = matches!(
            area(id),
            Area::Static | Area::StaticWrite | Area::Sink | Area::Push
        ) && id != "outputs";
        if refused {
            let flag = flag_name(id);
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

/// What one server runs: the handler tree, and the inputs to start once it
/// listens.
pub(crate) struct Modes {
    pub(crate) router: Router,
    pub(crate) inputs: Vec<FileInput>,
    /// Read directories whose local writers are followed (inotify).
    pub(crate) followed: Vec<PathBuf>,
    /// The live sink's inputs (started once the server listens).
    pub(crate) live_inputs: Vec<httpout_live::input::Input>,
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
}

impl Shared {
    /// Creates the `gmem` directory if the options use it.
    pub(crate) fn new(opts: &Options) -> Result<Self, String> {
        let uses_gmem =
            opts.rdirs.iter().any(|p| is_gmem(p)) || opts.wdir.as_deref().is_some_and(is_gmem);
        Ok(Self {
            live: Live::new(),
            gmem: if uses_gmem { Some(gmem_dir()?) } else { None },
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
}

impl FileInput {
    /// Copies the input into its file, served live meanwhile; logs the end.
    pub(crate) async fn run(self) {
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

fn is_gmem(p: &Path) -> bool {
    p.as_os_str() == "gmem"
}

/// The in-memory directory that stands for `gmem`: private to this
/// process (mode 0700, a random name created exclusively, so a leftover
/// never clashes), on the tmpfs of `/dev/shm` (RAM), removed at exit. The
/// name carries the process id, so that the leftovers of a crashed run
/// (whose process is gone) are removed by the next start.
fn gmem_dir() -> Result<tempfile::TempDir, String> {
    use std::os::unix::fs::PermissionsExt;
    let shm = Path::new("/dev/shm");
    remove_dead_gmem(shm);
    tempfile::Builder::new()
        .prefix(&format!("httpout-gmem-{}-", std::process::id()))
        .permissions(std::fs::Permissions::from_mode(0o700))
        .tempdir_in(shm)
        .map_err(|e| {
            format!(
                "invalid value 'gmem' for --rdirs/--wdir: cannot create a directory in /dev/shm ({e})"
            )
        })
}

/// Removes `httpout-gmem-PID-*` directories of processes that are gone.
fn remove_dead_gmem(shm: &Path) {
    let Ok(entries) = std::fs::read_dir(shm) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix("httpout-gmem-"))
            .and_then(|rest| rest.split_once('-'))
            .and_then(|(pid, _)| pid.parse::<u32>().ok())
        else {
            continue;
        };
        // The process is gone when /proc has no entry for it.
        if !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// The handler tree and inputs of one server; errors name the option.
pub(crate) fn build(plan: &ServerPlan, shared: &Shared) -> Result<Modes, String> {
    let opts = &plan.opts;
    if opts.hmode == HMode::Source {
        let sink = match &opts.exec {
            Some(cmd) => httpout_source::Sink::Exec(cmd.clone()),
            None => httpout_source::Sink::Stdout,
        };
        let timeout = httpout_core::timeout::from_secs(opts.timeout);
        let handler = httpout_source::SourceHandler::new(sink, timeout);
        let banner = match &opts.exec {
            Some(cmd) => format!("uploads -> command: {cmd}"),
            None => "uploads -> standard output".to_owned(),
        };
        return Ok(Modes {
            router: Router::new().mount("/", handler),
            inputs: Vec::new(),
            followed: Vec::new(),
            live_inputs: Vec::new(),
            hub: None,
            stdout_taken: opts.exec.is_none(),
            banner: vec![banner],
        });
    }
    let mut resolved;
    let opts = match &shared.gmem {
        Some(dir) => {
            resolved = opts.clone();
            for p in resolved.rdirs.iter_mut().filter(|p| is_gmem(p)) {
                *p = dir.path().to_path_buf();
            }
            if resolved.wdir.as_deref().is_some_and(is_gmem) {
                resolved.wdir = Some(dir.path().to_path_buf());
            }
            &resolved
        }
        None => opts,
    };
    let mut config = StaticConfig::from_options(opts)?;
    config.live = Arc::clone(&shared.live);
    // `gmem` was replaced by its directory above: retention still counts
    // segments in memory (the reference's MIN rule).
    config.retention.in_memory = shared.gmem.is_some()
        && (plan.opts.rdirs.iter().any(|p| is_gmem(p))
            || plan.opts.wdir.as_deref().is_some_and(is_gmem));
    let file_pairs: Vec<&Pair> = plan.pairs.iter().filter(|p| file_sink(&p.opts)).collect();
    let live_pairs: Vec<&Pair> = plan.pairs.iter().filter(|p| !file_sink(&p.opts)).collect();
    // The main server serves the directories; another serves them too when
    // its outputs are written there.
    let serves_files = plan.main || !file_pairs.is_empty();
    let mut router = Router::new();
    let mut mounted = false;
    let mut banner = Vec::new();
    if serves_files {
        for (prefix, handler) in httpout_static::mounts_with(opts, &config)? {
            router = router.mount_path(prefix, handler);
            mounted = true;
        }
        banner.extend(static_banner(opts));
    }
    let mut live_inputs = Vec::new();
    let mut hub = None;
    let http_sources = plan.main && (opts.source_password.is_some() || opts.sink == SinkKind::Live);
    if !live_pairs.is_empty() || http_sources {
        let live_config = httpout_live::LiveConfig::from_options(opts)?;
        let live_hub = httpout_live::Hub::new();
        for pair in &live_pairs {
            let mount = format!("/{}", output_path(&pair.output)?.join("/"));
            let input = httpout_live::input::Input::declare(
                &live_hub,
                &httpout_live::LiveConfig::from_options(&pair.opts)?,
                &pair.input,
                &mount,
            );
            banner.push(input.describe());
            live_inputs.push(input);
        }
        if http_sources && opts.source_password.is_some() {
            banner.push("/* <- Icecast source clients (--source_password)".to_owned());
        }
        let mut handler = httpout_live::LiveHandler::new(live_hub.clone(), live_config);
        if mounted {
            handler = handler.with_fallback(Arc::new(router), opts.wdir.is_some());
        }
        router = Router::new().mount("/", handler);
        hub = Some(live_hub);
    }
    let mut inputs = Vec::new();
    if let (Some(first), false) = (opts.rdirs.first(), file_pairs.is_empty()) {
        let root = WriteRoot::new(first)
            .map(|r| r.with_fsync(opts.fsync))
            .map_err(|e| {
                format!(
                    "invalid value '{}' for --rdirs: the file sink writes there ({e})",
                    first.display()
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
            });
        }
    }
    let followed = if plan.main {
        opts.rdirs
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
        hub,
        stdout_taken: false,
        banner,
    })
}

/// What the static server serves where: `/ -> ./www (read)`, `uploads ->
/// ./in`, one line a directory or rules file.
fn static_banner(opts: &Options) -> Vec<String> {
    let plain: Vec<&PathBuf> = opts.rdirs.iter().filter(|p| !p.is_file()).collect();
    let has_rules = opts.rdirs.iter().any(|p| p.is_file());
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
    for file in opts.rdirs.iter().filter(|p| p.is_file()) {
        lines.push(format!(
            "rules file {} (read and write by section)",
            file.display()
        ));
    }
    if let Some(w) = &opts.wdir {
        lines.push(format!("uploads -> {}", w.display()));
    }
    lines
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

//! Options → mounted modes: the only place where modes are wired.
//!
//! Built: the engine, the static server (`--rdirs`, `--wdir`), the file
//! sink (`-i SOURCE -o URL` with `--rdirs`) and the live sink (`-i SOURCE
//! -o URL` without `--rdirs` or with `--sink=live`, and HTTP source clients
//! with `--source_password`). Every option that belongs to a mode or sink
//! that is not in use is refused here, by name, rather than ignored; so
//! are inputs that cannot work, before anything listens.

mod gmem;
mod push;
mod server;
mod source;

pub(crate) use push::push_config;
pub(crate) use server::{Shared, build, rebuild};

use httpout_core::{ConfigError, SafePath};
use httpout_filesink::SinkKind;

use crate::options::{Group, HMode, Options, group_of};
use crate::plan::{self, Pair, ServerPlan};

/// Whether `-i`/`-o` pairs feed the file sink (else the live sink).
pub(super) fn file_sink(opts: &Options) -> bool {
    match opts.filesink.sink {
        SinkKind::Auto => !opts.statics.rdirs.is_empty(),
        SinkKind::File => true,
        SinkKind::Live => false,
    }
}

/// Checks the options and plans the servers: refuses options that do not
/// apply and inputs that cannot work, naming the first one.
pub(crate) fn check(opts: &Options) -> Result<Vec<ServerPlan>, ConfigError> {
    plan_checked(opts, true)
}

/// [`check`] for a reload: the inputs were opened at start and run on (a
/// file or FIFO read to its end may be gone), so they are not checked.
pub(crate) fn check_for_reload(opts: &Options) -> Result<Vec<ServerPlan>, ConfigError> {
    plan_checked(opts, false)
}

/// [`check`], the inputs checked or not.
fn plan_checked(opts: &Options, inputs: bool) -> Result<Vec<ServerPlan>, ConfigError> {
    if opts.hmode == HMode::Push {
        return push_config(opts).map(|_| Vec::new());
    }
    if opts.hmode == HMode::Source {
        source::check(opts)?;
        return plan::servers(opts, Vec::new());
    }
    if opts.inputs.len() != opts.outputs.len() {
        return Err(ConfigError::option(
            "-i",
            format!(
                "and -o go in pairs: {} input(s) for {} output(s)",
                opts.inputs.len(),
                opts.outputs.len()
            ),
        ));
    }
    if let Some(w) = opts.statics.wdir.as_deref().filter(|w| w.is_file()) {
        return Err(ConfigError::invalid(
            "--wdir",
            w.display(),
            "it is a file, and --wdir takes a directory (a rules file goes in --rdirs)",
        ));
    }
    if opts.filesink.sink == SinkKind::File
        && opts.statics.rdirs.is_empty()
        && !opts.inputs.is_empty()
    {
        return Err(ConfigError::option(
            "--sink=file",
            "writes into the first of --rdirs: give --rdirs",
        ));
    }
    for url in &opts.outputs {
        output_path(url)?;
    }
    let pairs = plan::pairs(opts)?;
    let live = pairs.iter().any(|p| !file_sink(&p.opts))
        || opts.live.source_password.is_some()
        || opts.live.master.is_some()
        || opts.filesink.sink == SinkKind::Live;
    for id in &opts.given {
        refuse_misplaced(id, opts, live, None)?;
    }
    if let Some(master) = &opts.live.master {
        httpout_live::Master::check(master)
            .map_err(|e| ConfigError::invalid("--master", master, e))?;
    }
    for pair in &pairs {
        let own = opts.input_flags[pair.index]
            .iter()
            .chain(&opts.output_flags[pair.index]);
        for id in own.filter_map(|f| Options::flag_id(f)) {
            refuse_misplaced(&id, &pair.opts, !file_sink(&pair.opts), Some(pair))?;
        }
        if inputs {
            check_input(pair)?;
        }
    }
    let serves_something = !opts.statics.rdirs.is_empty()
        || opts.statics.wdir.is_some()
        || !opts.inputs.is_empty()
        || opts.live.source_password.is_some()
        || opts.live.master.is_some()
        || opts.filesink.sink == SinkKind::Live;
    if !serves_something {
        return Err(ConfigError::general(
            "nothing to serve: give --rdirs, --wdir, -i/-o or --hmode; see httpout --help",
        ));
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
) -> Result<(), ConfigError> {
    let why = match group_of(id) {
        Group::CommandLine | Group::Core | Group::Static | Group::FileSink => return Ok(()),
        // The password of HTTP sources is what runs the live sink.
        Group::Live if live || id == "source_password" => return Ok(()),
        Group::Live if !opts.inputs.is_empty() => {
            "applies to the live sink; here -i/-o feed the file sink (--rdirs is given): \
             add --sink=live to relay them live"
        }
        Group::Live => {
            "applies to the live sink, which is not in use: give -i SOURCE -o URL \
             (without --rdirs) or --source_password"
        }
        Group::Source => "applies to source mode: add --hmode=source",
        Group::Push => "applies to the push client: add --hmode=push",
        Group::GpacOnly => {
            "is a GPAC internal with no httpout equivalent (httpout I/O is always \
             asynchronous; embed httpout-core instead of scripting it)"
        }
    };
    let flag = flag_name(id);
    Err(match pair {
        Some(p) => ConfigError::option(format!("{flag} (given with -o {})", p.output), why),
        None => ConfigError::option(flag, why),
    })
}

/// Checks that an input can feed its output, before anything listens.
fn check_input(pair: &Pair) -> Result<(), ConfigError> {
    if file_sink(&pair.opts) {
        if pair.input != "-" {
            std::fs::metadata(&pair.input)
                .map_err(|e| ConfigError::invalid("-i", &pair.input, io_reason(&e)))?;
        }
        return Ok(());
    }
    let config = httpout_live::LiveConfig::from_args(&pair.opts.core, &pair.opts.live)?;
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
pub(super) fn flag_name(id: &str) -> String {
    crate::options::command()
        .get_arguments()
        .find(|a| a.get_id().as_str() == id)
        .map_or_else(|| id.to_owned(), display_flag)
}

fn display_flag(arg: &clap::Arg) -> String {
    match (arg.get_short(), arg.get_long()) {
        (Some(s), Some(l)) => format!("-{s}/--{l}"),
        (None, Some(l)) => format!("--{l}"),
        _ => arg.get_id().to_string(),
    }
}

/// The file an output URL names, as path segments.
pub(super) fn output_path(url: &str) -> Result<Vec<String>, ConfigError> {
    let bad = || ConfigError::invalid("-o", url, "expected http://HOST:PORT/NAME");
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

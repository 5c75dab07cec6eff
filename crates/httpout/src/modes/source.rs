//! `--hmode=source`: uploads handed to standard output or a command.

use httpout_core::{ConfigError, Router};

use super::flag_name;
use super::server::Modes;
use crate::options::{Group, Options, group_of};

/// Source mode takes its input from uploads and gives it to stdout
/// (`-o -`) or a command (`--exec`); it serves no files.
pub(super) fn check(opts: &Options) -> Result<(), ConfigError> {
    if !opts.inputs.is_empty() {
        return Err(ConfigError::option(
            "-i",
            "does not apply to source mode, which takes its input from uploads",
        ));
    }
    match (opts.outputs.as_slice(), &opts.source.exec) {
        ([out], None) if out == "-" => {}
        ([], Some(_)) => {}
        _ => {
            return Err(ConfigError::option(
                "--hmode=source",
                "needs one of -o - (uploads to standard output) or --exec=COMMAND",
            ));
        }
    }
    for id in &opts.given {
        let refused = matches!(
            group_of(id),
            Group::Static | Group::FileSink | Group::Live | Group::Push
        );
        if refused {
            return Err(ConfigError::option(
                flag_name(id),
                "does not apply to source mode (--hmode=source serves no files)",
            ));
        }
    }
    Ok(())
}

/// The one mount of source mode: every upload to the sink.
pub(super) fn build(opts: &Options) -> Modes {
    let sink = match &opts.source.exec {
        Some(cmd) => httpout_source::Sink::Exec(cmd.clone()),
        None => httpout_source::Sink::Stdout,
    };
    let timeout = httpout_core::timeout::from_secs(opts.core.timeout);
    let handler = httpout_source::SourceHandler::with_exec_max(sink, timeout, opts.source.exec_max);
    let banner = match &opts.source.exec {
        Some(cmd) => format!("uploads -> command: {cmd}"),
        None => "uploads -> standard output".to_owned(),
    };
    Modes {
        router: Router::new().mount("/", handler),
        inputs: Vec::new(),
        followed: Vec::new(),
        live_inputs: Vec::new(),
        masters: Vec::new(),
        hub: None,
        stdout_taken: opts.source.exec.is_none(),
        banner: vec![banner],
    }
}

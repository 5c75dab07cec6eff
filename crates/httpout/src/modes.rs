//! Options → mounted modes: the only place where modes are wired.
//!
//! Built: the engine and the static server (`--rdirs`, `--wdir`). Every
//! option that belongs to a mode that is not built yet is refused here, by
//! name, rather than ignored.

use clap::CommandFactory;
use httpout_core::Router;
use httpout_core::options::value::HMode;
use httpout_core::options::{Area, Options, area};

/// Refuses options that this build cannot honour, naming the first one.
pub(crate) fn check(opts: &Options) -> Result<(), String> {
    if opts.hmode != HMode::Default {
        let mode = format!("{:?}", opts.hmode).to_lowercase();
        return Err(format!(
            "--hmode={mode}: {mode} mode is not built yet in this version"
        ));
    }
    let cmd = Options::command();
    for id in &opts.given {
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

/// The handler tree for these options; errors name the option at fault.
pub(crate) fn build(opts: &Options) -> Result<Router, String> {
    let mut router = Router::new();
    for (prefix, handler) in httpout_static::mounts(opts)? {
        router = router.mount_path(prefix, handler);
    }
    Ok(router)
}

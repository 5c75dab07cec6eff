//! SIGHUP: the settings read again — config file, `HTTPOUT_<OPTION>`
//! variables and the command line, with the users, rules and TLS files
//! they name — and applied to every running server without closing
//! anything ([`httpout_core::Running::reload`]): requests that start after
//! it get the new settings; live listeners, uploads and requests in flight
//! go on with theirs.
//!
//! What only a restart can change is refused, with one log line, and so is
//! a configuration that does not load: the old settings stay whole. That
//! is the listeners, the run mode (`hmode`, `sink`), the `-i`/`-o` pairs
//! and the directories served and written (`rdirs`, `wdir`), which inputs,
//! live mounts and directory followers were started from, and the access
//! log's file and format (`--access_log`, `--log_format`). The `--log`
//! filter is the caller's to apply, from what [`reload`] returns.

use std::ffi::OsString;

use crate::modes::{self, Shared};
use crate::options::{Options, error_line};
use crate::plan::ServerPlan;

/// What a reload may not change, per server, as text to compare and show.
pub(crate) fn fixed(plans: &[ServerPlan]) -> Vec<String> {
    plans
        .iter()
        .map(|plan| {
            let o = &plan.opts;
            let listeners: Vec<String> = plan.listeners.iter().map(ToString::to_string).collect();
            let pairs: Vec<String> = plan
                .pairs
                .iter()
                .map(|p| format!("-i {} -o {}", p.input, p.output))
                .collect();
            let logs = o.logs.settings();
            format!(
                "listeners {}; hmode {:?}; sink {:?}; pairs [{}]; rdirs {:?}; wdir {:?}; sources {}; \
                 access_log {:?}; log_format {:?}",
                listeners.join(", "),
                o.hmode,
                o.filesink.sink,
                pairs.join(", "),
                o.statics.rdirs,
                o.statics.wdir,
                o.live.source_password.is_some(),
                logs.access_log,
                logs.format
            )
        })
        .collect()
}

/// One running server, as a reload sees it.
pub(crate) struct Target<'a> {
    pub(crate) running: &'a httpout_core::Running,
    pub(crate) hub: Option<httpout_live::Hub>,
}

/// Reads the settings again from `args` and `env` and applies them to
/// `servers` (in the order of `running_fixed`, what [`fixed`] said at
/// start). Nothing is applied unless every server's new settings load.
/// Returns the new log settings, for the caller's log filter.
pub(crate) fn reload(
    args: &[OsString],
    env: &[(String, String)],
    running_fixed: &[String],
    servers: &[Target<'_>],
    shared: &Shared,
) -> Result<crate::log::Settings, String> {
    let opts = Options::try_parse_layers(args.to_vec(), env).map_err(|e| error_line(&e))?;
    let plans = modes::check_for_reload(&opts).map_err(|e| e.to_string())?;
    let now = fixed(&plans);
    if now != running_fixed {
        let what = now
            .iter()
            .zip(running_fixed)
            .find(|(a, b)| a != b)
            .map_or_else(
                || format!("{} server(s) instead of {}", now.len(), running_fixed.len()),
                |(new, old)| format!("running: {old}; asked: {new}"),
            );
        return Err(format!(
            "listeners, modes, -i/-o pairs and served directories cannot change without a restart ({what})"
        ));
    }
    let mut built = Vec::new();
    for (plan, target) in plans.iter().zip(servers) {
        let rules = plan.opts.statics.rules().map_err(|e| e.to_string())?;
        let mut config = plan
            .opts
            .core
            .server_config(plan.listeners.clone(), &rules)
            .map_err(|e| e.to_string())?;
        opts.logs.settings().apply(&mut config.reqlog);
        config.conn_hook = target.hub.is_some().then(httpout_live::SourceClients::hook);
        let router =
            modes::rebuild(plan, shared, &rules, target.hub.clone()).map_err(|e| e.to_string())?;
        // What can fail (the listeners, the certificate) is done for every
        // server before any of them changes.
        let prepared = target
            .running
            .prepare_reload(config)
            .map_err(|e| e.to_string())?;
        built.push((prepared, router));
    }
    for ((prepared, router), target) in built.into_iter().zip(servers) {
        target.running.apply_reload(prepared, router);
    }
    Ok(opts.logs.settings())
}

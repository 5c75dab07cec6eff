//! `httpout`: the command line. Parses options, refuses what this build
//! cannot do, binds the listeners, prints one `listening on URL` line per
//! listener, serves until SIGINT/SIGTERM (or for `--run_for` seconds), reloads its settings on SIGHUP
//! and reopens the access log file on SIGUSR1.
//! `httpout users ...` manages a users file instead (see `users`);
//! `httpout completions SHELL` and `httpout man` print what `generate`
//! makes. Options come from the command line over `HTTPOUT_<OPTION>`
//! variables over `--config=FILE` (see `options::layers`).
//!
//! Exit status: 0 after a clean shutdown, 2 for a usage or configuration
//! error (bad option, bad certificate), 1 for a runtime error (port in use).

mod generate;
mod log;
mod modes;
mod options;
mod plan;
mod reload;
mod systemd;
mod users;

use std::io::Write;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use crate::options::{HMode, Options, error_line};
use clap::error::ErrorKind;
use httpout_core::{Server, Shutdown};
use tokio::signal::unix::{SignalKind, signal};

/// Raises the soft limit of open files to the hard limit, as nginx's
/// `worker_rlimit_nofile` does: the usual soft limit (1 024) is a few dozen
/// HTTP/2 connections with open files. `Server::bind` warns when `maxc`
/// could still exceed it.
fn raise_fd_limit() {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let limit = getrlimit(Resource::Nofile);
    if let (Some(soft), Some(hard)) = (limit.current, limit.maximum) {
        if soft < hard {
            let raised = Rlimit {
                current: Some(hard),
                maximum: Some(hard),
            };
            if let Err(e) = setrlimit(Resource::Nofile, raised) {
                eprintln!(
                    "httpout: warning: cannot raise the open files limit from {soft} to {hard}: {e}"
                );
            }
        }
    }
}

fn main() -> ExitCode {
    // First, while the process has one thread: this unsets LISTEN_FDS.
    let inherited = systemd::inherited();
    raise_fd_limit();
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if args.get(1).is_some_and(|a| a == "users") {
        let _logging = log::init(&log::Settings::default());
        return users::run(&args[1..]);
    }
    if args
        .get(1)
        .is_some_and(|a| a == "completions" || a == "man")
    {
        return generate::run(&args[1..]);
    }
    let env: Vec<(String, String)> = std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
        .collect();
    let opts = match Options::try_parse_layers(args.clone(), &env) {
        Ok(opts) => opts,
        Err(e) if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) => {
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
        Err(e) => return usage_error(&error_line(&e)),
    };
    // Dropped last: what is queued is written before the exit.
    let logging = match log::init(&opts.logs.settings()) {
        Ok(l) => l,
        Err(e) => return usage_error(&e),
    };
    for warning in &opts.layers.warnings {
        tracing::warn!(target: "httpout::init", "warning: {warning}");
    }
    if opts.print_config {
        print!("{}", options::print::render(&opts));
        return ExitCode::SUCCESS;
    }
    let plans = match modes::check(&opts) {
        Ok(plans) => plans,
        Err(e) => return usage_error(&e.to_string()),
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("httpout: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let code = if opts.hmode == HMode::Push {
        runtime.block_on(push(&opts, &logging))
    } else {
        match inherited {
            Ok(sockets) => runtime.block_on(run(opts, plans, args, &logging, sockets)),
            Err(e) => usage_error(&e),
        }
    };
    // Inputs may sit in tokio's blocking pool (a terminal on stdin): they
    // must not hold the exit past the grace period.
    runtime.shutdown_timeout(Duration::from_millis(500));
    code
}

/// `--hmode=push`: no server; uploads until done (or, following a
/// directory, until SIGINT/SIGTERM; SIGUSR1 reopens the access log, SIGHUP
/// is logged and ignored). Exit 1 when a file was not pushed to some
/// destination (`--dst=URL1,URL2`: each destination's count is printed).
async fn push(opts: &Options, logging: &log::Logging) -> ExitCode {
    let (input, config) = match modes::push_config(opts) {
        Ok(c) => c,
        Err(e) => return usage_error(&e.to_string()),
    };
    // `--metrics`/`--health`: a server of the engine's own endpoints alone,
    // so that a long-running pusher (`--watch`) can be watched.
    let _endpoints = match push_endpoints(opts, &config.metrics).await {
        Ok(running) => running,
        Err(e) => return usage_error(&e),
    };
    let pusher = match httpout_push::Pusher::new(config) {
        Ok(p) => p,
        Err(e) => return usage_error(&e.to_string()),
    };
    let stop = tokio_util::sync::CancellationToken::new();
    // Every signal the server modes take is handled: left at its default,
    // SIGHUP (`systemctl reload`) or SIGUSR1 (logrotate) would kill a pusher.
    let (Ok(mut term), Ok(mut int), Ok(mut hup), Ok(mut usr1)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
        signal(SignalKind::hangup()),
        signal(SignalKind::user_defined1()),
    ) else {
        eprintln!("httpout: cannot install signal handlers");
        return ExitCode::FAILURE;
    };
    let run = pusher.run(&input, stop.clone());
    tokio::pin!(run);
    let run_for = ran_for(opts.core.run_for);
    tokio::pin!(run_for);
    let result = loop {
        tokio::select! {
            result = &mut run => break result,
            _ = term.recv() => stop.cancel(),
            _ = int.recv() => stop.cancel(),
            () = &mut run_for, if !stop.is_cancelled() => stop.cancel(),
            _ = usr1.recv() => logging.reopen(),
            _ = hup.recv() => tracing::warn!(
                target: "httpout::init",
                "SIGHUP: the push client has no settings to reload (restart it to change them)"
            ),
        }
    };
    let reports = pusher.reports();
    let count = |a: &std::sync::atomic::AtomicU64| a.load(std::sync::atomic::Ordering::Relaxed);
    // One summary line, or with several destinations one each, named.
    let several = reports.len() > 1;
    let mut failed = 0;
    for (name, report) in &reports {
        let named = if several {
            format!("{name}: ")
        } else {
            String::new()
        };
        eprintln!(
            "httpout: {named}pushed {} file(s), {} bytes; {} failed",
            count(&report.uploaded),
            count(&report.bytes),
            count(&report.failed)
        );
        failed += count(&report.failed);
    }
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            if failed == 0 {
                eprintln!("httpout: push failed: {e}");
            }
            ExitCode::FAILURE
        }
    }
}

/// The server of `--metrics` and `--health` in push mode, when either is
/// given: nothing but those paths (404 elsewhere), on `--listen` or
/// `--ifce`/`--port`. Prints its `listening on` lines.
async fn push_endpoints(
    opts: &Options,
    metrics: &Arc<httpout_core::Metrics>,
) -> Result<Option<httpout_core::Running>, String> {
    if opts.core.metrics.is_none() && opts.core.health.is_none() {
        return Ok(None);
    }
    let rules = httpout_core::auth::rules::Rules::default();
    let mut config = opts
        .core
        .server_config(opts.listeners(), &rules)
        .map_err(|e| e.to_string())?;
    config.metrics = Arc::clone(metrics);
    opts.logs.settings().apply(&mut config.reqlog);
    let server = Server::bind(config).await.map_err(|e| e.to_string())?;
    let running = server.serve(
        |_req: http::Request<httpout_core::Body>, _ctx: httpout_core::Ctx| async {
            Err::<http::Response<httpout_core::Body>, _>(httpout_core::Error::NotFound)
        },
    );
    let mut out = std::io::stdout().lock();
    for addr in running.local_addrs() {
        let _ = writeln!(out, "listening on {addr}");
    }
    let _ = out.flush();
    Ok(Some(running))
}

/// `--run_for`: ends `seconds` from now, with a line on standard error
/// saying so; never without it.
async fn ran_for(seconds: Option<u64>) {
    match seconds {
        Some(s) => {
            tokio::time::sleep(Duration::from_secs(s)).await;
            eprintln!("httpout: ran for {s} s (--run_for)");
        }
        None => std::future::pending().await,
    }
}

fn usage_error(msg: &str) -> ExitCode {
    eprintln!("httpout: {msg}");
    ExitCode::from(2)
}

/// One server's running state.
struct Serving {
    running: httpout_core::Running,
    hub: Option<httpout_live::Hub>,
}

/// `inherited`: listening sockets from systemd, for the first server.
async fn run(
    opts: Options,
    plans: Vec<plan::ServerPlan>,
    args: Vec<std::ffi::OsString>,
    logging: &log::Logging,
    mut inherited: Vec<httpout_core::Inherited>,
) -> ExitCode {
    let fixed = reload::fixed(&plans);
    let shared = match modes::Shared::new(&opts) {
        Ok(s) => s,
        Err(e) => return usage_error(&e.to_string()),
    };
    // Everything is built and bound before anything is served, so that an
    // error leaves nothing half-started.
    let mut bound = Vec::new();
    for plan in &plans {
        // Rules files are read once per server: they decide access (the
        // engine) and where their sections are mounted (the static server).
        let built = plan.opts.statics.rules().and_then(|rules| {
            let config = plan
                .opts
                .core
                .server_config(plan.listeners.clone(), &rules)?;
            Ok((config, modes::build(plan, &shared, &rules)?))
        });
        let (mut config, modes) = match built {
            Ok(b) => b,
            Err(e) => return usage_error(&e.to_string()),
        };
        config.conn_hook = modes.hub.is_some().then(httpout_live::SourceClients::hook);
        config.metrics = Arc::clone(&shared.metrics);
        opts.logs.settings().apply(&mut config.reqlog);
        let sockets = std::mem::take(&mut inherited);
        let server = match Server::bind_inherited(config, sockets).await {
            Ok(s) => s,
            Err(e) if e.is_config() => return usage_error(&e.to_string()),
            Err(e) => {
                eprintln!("httpout: {e}");
                return ExitCode::FAILURE;
            }
        };
        bound.push((server, modes));
    }
    let (Ok(mut term), Ok(mut int), Ok(mut hup), Ok(mut usr1)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
        signal(SignalKind::hangup()),
        signal(SignalKind::user_defined1()),
    ) else {
        eprintln!("httpout: cannot install signal handlers");
        return ExitCode::FAILURE;
    };
    let stdout_taken = bound.iter().any(|(_, m)| m.stdout_taken);
    let follow_idle = httpout_core::timeout::from_secs(opts.core.timeout);
    let mut servers = Vec::new();
    let mut starts = Vec::new();
    for (server, modes) in bound {
        let running = server.serve(modes.router);
        banner(&running, &modes.banner);
        // Local writers are followed before `listening` is printed: a
        // writer started once httpout says it listens is always served
        // from the live edge (its first write is not missed).
        for dir in &modes.followed {
            // Without inotify (or past its watch limit) files are still
            // served, only not from the live edge while other processes
            // write them.
            if let Err(e) = httpout_filesink::follow(
                dir,
                std::sync::Arc::clone(&shared.live),
                follow_idle.unwrap_or(Duration::MAX),
            ) {
                eprintln!("httpout: not following writers in {}: {e}", dir.display());
            }
        }
        starts.push((modes.inputs, modes.live_inputs, modes.masters));
        servers.push(Serving {
            running,
            hub: modes.hub,
        });
    }
    {
        let mut out: Box<dyn Write> = if stdout_taken {
            Box::new(std::io::stderr().lock())
        } else {
            Box::new(std::io::stdout().lock())
        };
        for s in &servers {
            for addr in s.running.local_addrs() {
                let _ = writeln!(out, "listening on {addr}");
            }
        }
        let _ = out.flush();
    }
    systemd::notify("READY=1");
    for (inputs, live_inputs, masters) in starts {
        for input in inputs {
            tokio::spawn(input.run());
        }
        for input in live_inputs {
            tokio::spawn(input.run());
        }
        for master in masters {
            tokio::spawn(master.run());
        }
    }
    // `quit`: exit once every live sink's inputs are over and its
    // listeners gone.
    let quit = async {
        let hubs: Vec<_> = servers.iter().filter_map(|s| s.hub.clone()).collect();
        if opts.live.quit && !hubs.is_empty() {
            for hub in hubs {
                hub.done().await;
            }
        } else {
            std::future::pending::<()>().await;
        }
    };
    tokio::pin!(quit);
    let run_for = ran_for(opts.core.run_for);
    tokio::pin!(run_for);
    loop {
        tokio::select! {
            _ = term.recv() => break,
            _ = int.recv() => break,
            () = &mut quit => break,
            () = &mut run_for => break,
            _ = usr1.recv() => logging.reopen(),
            _ = hup.recv() => {
                systemd::notify(&systemd::reloading());
                let env: Vec<(String, String)> = std::env::vars_os()
                    .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
                    .collect();
                let targets: Vec<reload::Target<'_>> = servers
                    .iter()
                    .map(|s| reload::Target { running: &s.running, hub: s.hub.clone() })
                    .collect();
                match reload::reload(&args, &env, &fixed, &targets, &shared) {
                    Ok(logs) => {
                        logging.set_filter(&logs);
                        tracing::info!(target: "httpout::init", "configuration reloaded");
                    }
                    Err(e) => tracing::warn!(
                        target: "httpout::init",
                        "reload failed, keeping the old settings: {e}"
                    ),
                }
                systemd::notify("READY=1");
            }
        }
    }
    systemd::notify("STOPPING=1");
    eprintln!("httpout: shutting down");
    let grace = Duration::from_secs(opts.core.grace);
    let handles: Vec<_> = servers.iter().map(|s| s.running.handle()).collect();
    let shutdowns = handles.iter().map(|h| h.shutdown(grace));
    let forced = futures_util::future::join_all(shutdowns)
        .await
        .into_iter()
        .any(|r| r == Shutdown::Forced);
    if forced {
        eprintln!(
            "httpout: grace period of {} s over, remaining connections closed",
            opts.core.grace
        );
    }
    drop(shared);
    ExitCode::SUCCESS
}

/// What a server serves, on standard error (standard output carries only
/// the `listening on` lines); a warning when it is reachable from every
/// interface.
fn banner(running: &httpout_core::Running, lines: &[String]) {
    let addrs: Vec<String> = running
        .local_addrs()
        .iter()
        .map(ToString::to_string)
        .collect();
    let at = addrs.join(", ");
    for line in lines {
        eprintln!("httpout: {at}: {line}");
    }
    if running.local_addrs().iter().any(plan::is_wildcard) {
        eprintln!(
            "httpout: warning: {at} accepts connections on every network interface; \
             give --ifce=127.0.0.1 (or a host in the -o URL) to stay local"
        );
    }
}

//! `httpout`: the command line. Parses options, refuses what this build
//! cannot do, binds the listeners, prints one `listening on URL` line per
//! listener, serves until SIGINT/SIGTERM, and reloads TLS files on SIGHUP.
//! `httpout users ...` manages a users file instead (see `users`).
//!
//! Exit status: 0 after a clean shutdown, 2 for a usage or configuration
//! error (bad option, bad certificate), 1 for a runtime error (port in use).

mod modes;
mod users;

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use clap::error::ErrorKind;
use httpout_core::options::{Options, error_line};
use httpout_core::{Server, ServerConfig, Shutdown};
use tokio::signal::unix::{SignalKind, signal};

fn main() -> ExitCode {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if args.get(1).is_some_and(|a| a == "users") {
        return users::run(&args[1..]);
    }
    let opts = match Options::try_parse_args(args) {
        Ok(opts) => opts,
        Err(e) if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) => {
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
        Err(e) => return usage_error(&error_line(&e)),
    };
    if let Err(msg) = modes::check(&opts) {
        return usage_error(&msg);
    }
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
    if opts.hmode == httpout_core::options::value::HMode::Push {
        return runtime.block_on(push(&opts));
    }
    runtime.block_on(run(opts))
}

/// `--hmode=push`: no server; uploads until done (or, following a
/// directory, until SIGINT/SIGTERM). Exit 1 when a file was not pushed.
async fn push(opts: &Options) -> ExitCode {
    let (input, config) = match modes::push_config(opts) {
        Ok(c) => c,
        Err(msg) => return usage_error(&msg),
    };
    let pusher = match httpout_push::Pusher::new(config) {
        Ok(p) => p,
        Err(e) => return usage_error(&e.to_string()),
    };
    let stop = tokio_util::sync::CancellationToken::new();
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        eprintln!("httpout: cannot install signal handlers");
        return ExitCode::FAILURE;
    };
    let on_signal = stop.clone();
    tokio::spawn(async move {
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
        on_signal.cancel();
    });
    let result = pusher.run(&input, stop).await;
    let report = pusher.report();
    let count = |a: &std::sync::atomic::AtomicU64| a.load(std::sync::atomic::Ordering::Relaxed);
    eprintln!(
        "httpout: pushed {} file(s), {} bytes; {} failed",
        count(&report.uploaded),
        count(&report.bytes),
        count(&report.failed)
    );
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            if count(&report.failed) == 0 {
                eprintln!("httpout: push failed: {e}");
            }
            ExitCode::FAILURE
        }
    }
}

fn usage_error(msg: &str) -> ExitCode {
    eprintln!("httpout: {msg}");
    ExitCode::from(2)
}

async fn run(opts: Options) -> ExitCode {
    let mut config = match ServerConfig::from_options(&opts) {
        Ok(c) => c,
        Err(msg) => return usage_error(&msg),
    };
    let modes = match modes::build(&opts) {
        Ok(m) => m,
        Err(msg) => return usage_error(&msg),
    };
    config.source_clients = modes.hub.is_some();
    let server = match Server::bind(config).await {
        Ok(s) => s,
        Err(e) if e.is_config() => return usage_error(&e.to_string()),
        Err(e) => {
            eprintln!("httpout: {e}");
            return ExitCode::FAILURE;
        }
    };
    let (Ok(mut term), Ok(mut int), Ok(mut hup)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
        signal(SignalKind::hangup()),
    ) else {
        eprintln!("httpout: cannot install signal handlers");
        return ExitCode::FAILURE;
    };
    let running = server.serve(modes.router);
    {
        let mut out: Box<dyn Write> = if modes.stdout_taken {
            Box::new(std::io::stderr().lock())
        } else {
            Box::new(std::io::stdout().lock())
        };
        for addr in running.local_addrs() {
            let _ = writeln!(out, "listening on {addr}");
        }
        let _ = out.flush();
    }
    for input in modes.inputs {
        tokio::spawn(input.run());
    }
    for input in modes.live_inputs {
        tokio::spawn(input.run());
    }
    // `quit`: exit once the inputs are over and the listeners gone.
    let quit = async {
        match &modes.hub {
            Some(hub) if opts.quit => hub.done().await,
            _ => std::future::pending().await,
        }
    };
    tokio::pin!(quit);
    for dir in &modes.followed {
        // Without inotify (or past its watch limit) files are still served,
        // only not from the live edge while other processes write them.
        if let Err(e) =
            httpout_filesink::follow(dir, std::sync::Arc::clone(&modes.live), modes.follow_idle)
        {
            eprintln!("httpout: not following writers in {}: {e}", dir.display());
        }
    }
    loop {
        tokio::select! {
            _ = term.recv() => break,
            _ = int.recv() => break,
            () = &mut quit => break,
            _ = hup.recv() => match running.reload_tls() {
                Ok(true) => eprintln!("httpout: TLS certificate reloaded"),
                Ok(false) => {}
                Err(e) => eprintln!("httpout: TLS reload failed, keeping the old certificate: {e}"),
            },
        }
    }
    eprintln!("httpout: shutting down");
    let gmem = modes.gmem.clone();
    match running
        .handle()
        .shutdown(Duration::from_secs(opts.grace))
        .await
    {
        Shutdown::Graceful => {}
        Shutdown::Forced => eprintln!(
            "httpout: grace period of {} s over, remaining connections closed",
            opts.grace
        ),
    }
    if let Some(dir) = gmem {
        let _ = std::fs::remove_dir_all(dir);
    }
    ExitCode::SUCCESS
}

//! Starting httpout's static mounts for a test, as the CLI does.
#![allow(dead_code)]

use std::net::SocketAddr;

use clap::{CommandFactory, FromArgMatches, Parser};
use httpout_core::options::{CoreArgs, boolean_flags};
use httpout_core::{ConfigError, ListenSpec, Router, Running, Server};
use httpout_static::{Mount, StaticArgs, StaticConfig};

/// The engine's and the static server's options, as the CLI flattens them.
#[derive(Debug, Parser)]
struct Args {
    #[command(flatten)]
    core: CoreArgs,
    #[command(flatten)]
    statics: StaticArgs,
}

fn parse(argv: &[&str]) -> Args {
    let matches = boolean_flags(Args::command())
        .try_get_matches_from(argv)
        .expect("options");
    Args::from_arg_matches(&matches).expect("options")
}

/// The static mounts of a command line, as the CLI makes them.
pub(crate) fn mounts_of(argv: &[&str]) -> Result<Vec<Mount>, ConfigError> {
    let args = parse(argv);
    let config = StaticConfig::from_args(&args.core, &args.statics)?;
    httpout_static::mounts(&args.statics, &args.statics.rules()?, &config)
}

/// Starts the static mounts for `extra` options on the given listener
/// (`http://127.0.0.1:0` or `https://127.0.0.1:0`, no per-peer limit).
async fn start(listen: &str, extra: &[&str]) -> (Running, SocketAddr) {
    let listen = format!("--listen={listen}");
    let mut argv = vec!["httpout", listen.as_str(), "--maxp=0"];
    argv.extend_from_slice(extra);
    let args = parse(&argv);
    let mut router = Router::new();
    for (prefix, handler) in mounts_of(&argv).expect("mounts") {
        router = router.mount_path(prefix, handler);
    }
    let rules = args.statics.rules().unwrap();
    let config = args
        .core
        .server_config(args.core.listeners(0), &rules)
        .unwrap();
    let server = Server::bind(config).await.expect("bind");
    let (ListenSpec::Http(addr) | ListenSpec::Https(addr)) = server.local_addrs()[0] else {
        unreachable!("TCP listener")
    };
    (server.serve(router), addr)
}

/// Plain HTTP (HTTP/1.1 and h2c) on 127.0.0.1:0.
pub(crate) async fn serve(extra: &[&str]) -> (Running, SocketAddr) {
    start("http://127.0.0.1:0", extra).await
}

/// HTTPS on 127.0.0.1:0 with a fresh self-signed certificate: the server,
/// its address, and the certificate (DER) for the client to trust.
pub(crate) async fn serve_tls(extra: &[&str]) -> (Running, SocketAddr, Vec<u8>) {
    let certs = tempfile::tempdir().unwrap();
    let (cert, key, der) = httpout_test::self_signed(certs.path(), "t");
    let (cert, key) = (
        format!("--cert={}", cert.display()),
        format!("--pkey={}", key.display()),
    );
    let mut args = vec![cert.as_str(), key.as_str()];
    args.extend_from_slice(extra);
    // The PEM files are read at bind time; the directory may go after.
    let (running, addr) = start("https://127.0.0.1:0", &args).await;
    (running, addr, der)
}

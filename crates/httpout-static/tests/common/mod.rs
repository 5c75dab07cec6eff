//! Starting httpout's static mounts for a test, as the CLI does.
#![allow(dead_code)]

use std::net::SocketAddr;

use httpout_core::{ListenSpec, Options, Router, Running, Server, ServerConfig};

/// Starts the static mounts for `extra` options on the given listener
/// (`http://127.0.0.1:0` or `https://127.0.0.1:0`, no per-peer limit).
async fn start(listen: &str, extra: &[&str]) -> (Running, SocketAddr) {
    let listen = format!("--listen={listen}");
    let mut argv = vec!["httpout", listen.as_str(), "--maxp=0"];
    argv.extend_from_slice(extra);
    let opts = Options::try_parse_args(argv).expect("options");
    let mut router = Router::new();
    for (prefix, handler) in httpout_static::mounts(&opts).expect("mounts") {
        router = router.mount_path(prefix, handler);
    }
    let server = Server::bind(ServerConfig::from_options(&opts).unwrap())
        .await
        .expect("bind");
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

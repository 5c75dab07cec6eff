//! Shared by the live sink's socket tests: a relay on 127.0.0.1, a source
//! client (raw HTTP/1.1 chunked PUT, as Icecast source clients send) and
//! MP3 frames to feed it. Every wait is bounded.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::time::Duration;

use http_body_util::BodyExt as _;
use httpout_core::{Running, ServerConfig};
use httpout_live::Amount;
use httpout_live::{Hub, LiveConfig, LiveHandler};
use httpout_test::{bounded, read_until, start_with};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

/// `source:hackme` in Basic.
pub(crate) const AUTH: &str = "Basic c291cmNlOmhhY2ttZQ==";
/// MPEG-1 Layer III, 128 kbit/s, 44.1 kHz, no padding: 417-byte frames.
pub(crate) const FRAME_LEN: usize = 417;

pub(crate) fn config() -> LiveConfig {
    LiveConfig {
        burst: Amount::Bytes(4096),
        max_lag: Amount::Bytes(64 * 1024),
        hold: false,
        reopen: false,
        ice: true,
        ice_values: vec![("genre".into(), "Test".into())],
        metaint: 1000,
        title: None,
        source_password: Some("hackme".into()),
        admin: None,
        rt: false,
        rate: None,
        mime: None,
        ext: None,
        source_timeout: Some(Duration::from_secs(10)),
        batch: Duration::from_millis(250),
        mounts: Default::default(),
    }
}

/// `n` MP3 frames; frame `i`'s payload bytes are `i % 200` (never 0xFF).
pub(crate) fn frames(from: usize, n: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(n * FRAME_LEN);
    for i in from..from + n {
        out.extend_from_slice(&[0xFF, 0xFB, 0x90, 0x00]);
        out.extend(std::iter::repeat_n((i % 200) as u8, FRAME_LEN - 4));
    }
    out
}

pub(crate) async fn serve(config: LiveConfig) -> (Running, SocketAddr, Hub) {
    serve_with(config, ServerConfig::default()).await
}

pub(crate) async fn serve_with(
    config: LiveConfig,
    server: ServerConfig,
) -> (Running, SocketAddr, Hub) {
    let hub = Hub::new();
    let handler = LiveHandler::new(hub.clone(), config);
    let (running, addr) = start_with(server, handler).await;
    (running, addr, hub)
}

/// A source client: the request head of a chunked PUT.
pub(crate) async fn source(addr: SocketAddr, path: &str, auth: &str) -> TcpStream {
    let mut s = bounded(TcpStream::connect(addr)).await.unwrap();
    let head = format!(
        "PUT {path} HTTP/1.1\r\nHost: x\r\nAuthorization: {auth}\r\nContent-Type: audio/mpeg\r\n\
         ice-name: Test Radio\r\nice-public: 0\r\nTransfer-Encoding: chunked\r\n\r\n"
    );
    s.write_all(head.as_bytes()).await.unwrap();
    s
}

pub(crate) async fn send_chunk(s: &mut TcpStream, data: &[u8]) {
    let mut msg = format!("{:x}\r\n", data.len()).into_bytes();
    msg.extend_from_slice(data);
    msg.extend_from_slice(b"\r\n");
    bounded(s.write_all(&msg)).await.unwrap();
}

/// Ends a source's body and returns its response's status line.
pub(crate) async fn end_source(mut s: TcpStream) -> String {
    s.write_all(b"0\r\n\r\n").await.unwrap();
    let head = bounded(read_until(&mut s, "\r\n\r\n")).await;
    head.lines().next().unwrap_or_default().to_owned()
}

/// Waits (bounded) until the hub has a live stream at `path`.
pub(crate) async fn wait_mount(hub: &Hub, path: &str) {
    bounded(async {
        while hub.get(path).is_none() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
}

/// Waits until the mount at `path` has published `bytes` bytes in all
/// (bounded): what was sent before is in the ring, in its own batch.
pub(crate) async fn wait_published(hub: &Hub, path: &str, bytes: usize) {
    bounded(async {
        while hub.get(path).is_none_or(|s| s.bytes_in() < bytes as u64) {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
}

/// Reads body frames until `n` bytes came (bounded).
pub(crate) async fn read_n(body: &mut hyper::body::Incoming, n: usize) -> Vec<u8> {
    let mut got = Vec::new();
    while got.len() < n {
        match bounded(body.frame()).await {
            Some(Ok(f)) => got.extend_from_slice(&f.into_data().unwrap_or_default()),
            other => panic!("body ended after {} bytes: {other:?}", got.len()),
        }
    }
    got
}

/// How a listener reaches the relay: HTTP/1.1 on plain TCP (its stream is
/// written outside hyper), h2c, or HTTP/1.1 over TLS (both through hyper).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Via {
    H1,
    H2c,
    Tls,
}

/// A relay with a plain listener (sources, and `H1`/`H2c` listeners) and,
/// for `Tls`, a TLS one.
pub(crate) struct Relay {
    pub(crate) running: Running,
    pub(crate) addr: SocketAddr,
    pub(crate) hub: Hub,
    tls: Option<(SocketAddr, Vec<u8>)>,
    _dir: tempfile::TempDir,
}

pub(crate) async fn serve_via(config: LiveConfig, via: Via) -> Relay {
    use httpout_core::{ListenSpec, TlsFiles};
    let dir = tempfile::tempdir().unwrap();
    let mut server = ServerConfig::default();
    let mut der = Vec::new();
    if via == Via::Tls {
        let (cert, key, d) = httpout_test::self_signed(dir.path(), "relay");
        der = d;
        server.listeners = vec![
            ListenSpec::Http("127.0.0.1:0".parse().unwrap()),
            ListenSpec::Https("127.0.0.1:0".parse().unwrap()),
        ];
        server.tls = Some(TlsFiles {
            cert,
            key,
            ca: None,
        });
    }
    let hub = Hub::new();
    let handler = LiveHandler::new(hub.clone(), config);
    let bound = httpout_core::Server::bind(server).await.expect("bind");
    let addrs: Vec<SocketAddr> = bound
        .local_addrs()
        .iter()
        .filter_map(|a| a.tcp_addr())
        .collect();
    let running = bound.serve(handler);
    let tls = (via == Via::Tls).then(|| (addrs[1], der));
    Relay {
        running,
        addr: addrs[0],
        hub,
        tls,
        _dir: dir,
    }
}

/// A listener's GET of `path` with `headers` on a new connection `via`.
pub(crate) async fn listen(
    relay: &Relay,
    via: Via,
    path: &str,
    headers: &[(&str, &str)],
) -> http::Response<hyper::body::Incoming> {
    use httpout_test::{h1, h2, request, tls_connect};
    let req = request("GET", path, headers);
    match via {
        Via::H1 => {
            let mut c = h1(bounded(TcpStream::connect(relay.addr)).await.unwrap()).await;
            bounded(c.send_request(req)).await.unwrap()
        }
        Via::H2c => {
            let mut c = h2(bounded(TcpStream::connect(relay.addr)).await.unwrap()).await;
            let res = bounded(c.send_request(req)).await.unwrap();
            assert_eq!(res.version(), http::Version::HTTP_2);
            res
        }
        Via::Tls => {
            let (addr, der) = relay.tls.as_ref().expect("a TLS relay");
            let mut c = h1(tls_connect(*addr, der, &[b"http/1.1"]).await).await;
            bounded(c.send_request(req)).await.unwrap()
        }
    }
}

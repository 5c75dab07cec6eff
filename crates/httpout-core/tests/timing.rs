//! The engine's connection timeouts in virtual time (`tokio::time::pause`
//! via `start_paused`): each waits exactly `timeout`, checked to the
//! millisecond in a test that takes no real time, so a loaded machine
//! cannot make it flaky. Real sockets on 127.0.0.1; the clock only moves
//! when every task is waiting.

use std::time::Duration;

use httpout_core::{ListenSpec, Server, ServerConfig};
use httpout_test::assert_about;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;

const TIMEOUT: Duration = Duration::from_secs(30);

/// A server answering 200 to anything, with `timeout` = [`TIMEOUT`] (and
/// no shorter first-request deadline: `header_timeout` has its own tests,
/// in attack.rs).
async fn server() -> (httpout_core::Running, std::net::SocketAddr) {
    let config = ServerConfig {
        timeout: Some(TIMEOUT),
        header_timeout: None,
        maxp: 0,
        ..ServerConfig::default()
    };
    let server = Server::bind(config).await.unwrap();
    let ListenSpec::Http(addr) = server.local_addrs()[0] else {
        unreachable!("a TCP listener")
    };
    let hello = |_req, _ctx| async { Ok(http::Response::new(httpout_core::Body::full("hi"))) };
    (server.serve(hello), addr)
}

/// Reads until the server closes; the bytes read.
async fn until_closed(s: &mut TcpStream) -> Vec<u8> {
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out).await;
    out
}

#[tokio::test(start_paused = true)]
async fn a_connection_that_sends_nothing_is_closed_after_timeout() {
    let (_server, addr) = server().await;
    let start = Instant::now();
    let mut s = TcpStream::connect(addr).await.unwrap();
    until_closed(&mut s).await;
    assert_about(start.elapsed(), TIMEOUT);
}

#[tokio::test(start_paused = true)]
async fn a_trickled_first_request_is_cut_at_timeout_after_connecting() {
    let (_server, addr) = server().await;
    let start = Instant::now();
    let s = TcpStream::connect(addr).await.unwrap();
    let (mut rd, mut wr) = s.into_split();
    // One byte every 5 s: each keeps the socket busy, none ends the head.
    let trickle = tokio::spawn(async move {
        for b in b"GET /slow HTTP/1.1\r\nX-Padding: aaaaaaaaaaaaaaaaaaaaaaaaaaaa" {
            tokio::time::sleep(Duration::from_secs(5)).await;
            if wr.write_all(&[*b]).await.is_err() {
                break;
            }
        }
    });
    let mut out = Vec::new();
    let _ = rd.read_to_end(&mut out).await;
    assert_about(start.elapsed(), TIMEOUT);
    trickle.abort();
}

#[tokio::test(start_paused = true)]
async fn an_idle_keep_alive_connection_is_closed_timeout_after_its_last_response() {
    let (_server, addr) = server().await;
    let mut s = TcpStream::connect(addr).await.unwrap();
    // Some virtual time passes first: the idle time counts from the answer.
    tokio::time::sleep(Duration::from_secs(20)).await;
    s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    while !got.ends_with(b"hi") {
        let n = s.read(&mut buf).await.unwrap();
        assert!(n > 0, "closed before the answer: {got:?}");
        got.extend_from_slice(&buf[..n]);
    }
    let answered = Instant::now();
    until_closed(&mut s).await;
    assert_about(answered.elapsed(), TIMEOUT);
}

//! A response's [`StallLimit`] in virtual time (`start_paused`): a reader
//! that stops reading is cut its stall limit after the socket fills, even
//! when its request started while the connection's watchdog was waiting
//! for the first-request deadline (`timeout` after accept); under hyper,
//! and for a [`LongLived`] body written outside hyper alike. Real sockets on
//! 127.0.0.1; the clock moves only when every task waits, so the bounds
//! hold on a loaded machine.

use std::pin::Pin;
use std::sync::Mutex;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use http_body::Frame;
use httpout_core::{Body, Ctx, ListenSpec, LongLived, Server, ServerConfig, StallLimit};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio::time::Instant;

const TIMEOUT: Duration = Duration::from_secs(30);
const LIMIT: Duration = Duration::from_secs(10);

/// A body that never ends; says when it is dropped (the connection cut).
struct Endless(Option<oneshot::Sender<Instant>>);

impl http_body::Body for Endless {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        Poll::Ready(Some(Ok(Frame::data(Bytes::from(vec![b'x'; 64 * 1024])))))
    }
}

impl Drop for Endless {
    fn drop(&mut self) {
        if let Some(tx) = self.0.take() {
            let _ = tx.send(Instant::now());
        }
    }
}

/// A server whose one response is endless, with `StallLimit(LIMIT)` (and
/// [`LongLived`] when `direct`), and `timeout` = [`TIMEOUT`]; the receiver
/// gets the time the body is dropped.
async fn server(
    direct: bool,
) -> (
    httpout_core::Running,
    std::net::SocketAddr,
    oneshot::Receiver<Instant>,
) {
    let (tx, dropped) = oneshot::channel();
    let tx = Mutex::new(Some(tx));
    let handler = move |_req: Request<Body>, _ctx: Ctx| {
        let body = Endless(tx.lock().unwrap().take());
        async move {
            let mut res = Response::new(Body::new(body));
            res.extensions_mut().insert(StallLimit(LIMIT));
            if direct {
                res.extensions_mut().insert(LongLived);
            }
            Ok(res)
        }
    };
    let config = ServerConfig {
        timeout: Some(TIMEOUT),
        maxp: 0,
        ..ServerConfig::default()
    };
    let server = Server::bind(config).await.unwrap();
    let ListenSpec::Http(addr) = server.local_addrs()[0] else {
        unreachable!("a TCP listener")
    };
    (server.serve(handler), addr, dropped)
}

/// Sends one request `after` connecting, never reads; returns how long
/// after the request the server cut the response.
async fn cut_after_request(after: Duration, direct: bool) -> Duration {
    let (_server, addr, dropped) = server(direct).await;
    let s = TcpStream::connect(addr).await.unwrap();
    tokio::time::sleep(after).await;
    let (_rd, mut wr) = s.into_split();
    let asked = Instant::now();
    wr.write_all(b"GET /endless HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .unwrap();
    // Not reading: the server's writes stall once the socket buffers fill.
    let cut = dropped.await.expect("the body was dropped");
    cut - asked
}

fn assert_limit(cut: Duration) {
    // The stall starts once the buffers are full, at once in virtual time;
    // before the fix the cut came at accept + TIMEOUT.
    assert!(
        cut >= LIMIT && cut < LIMIT + Duration::from_secs(2),
        "cut {cut:?} after the request, stall limit {LIMIT:?}, timeout {TIMEOUT:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_stall_limit_cuts_a_first_request_at_the_limit_not_the_timeout() {
    assert_limit(cut_after_request(Duration::ZERO, false).await);
}

#[tokio::test(start_paused = true)]
async fn a_stall_limit_cuts_a_body_written_outside_hyper_at_the_limit() {
    assert_limit(cut_after_request(Duration::ZERO, true).await);
}

#[tokio::test(start_paused = true)]
async fn a_stall_limit_counts_from_the_stall_whenever_the_first_request_comes() {
    assert_limit(cut_after_request(Duration::from_secs(5), false).await);
    assert_limit(cut_after_request(Duration::from_secs(5), true).await);
}

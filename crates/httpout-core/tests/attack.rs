//! Attacks on the engine's bounds (issue 12), each reproduced on real
//! sockets on 127.0.0.1, with a good client from 127.0.0.2 (its own
//! address, so `maxp` does not hide the effect) served meanwhile. Timing
//! cases run in virtual time (`start_paused`): the clock moves only when
//! every task waits, so the bounds (relative to the configured timeout)
//! hold on a loaded machine and the cases take no real time.
//!
//! The same attacks with stock tools, against a running httpout, are in
//! docs/security.md (nghttp, slowhttptest).

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Mutex;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body::Frame;
use http_body_util::{BodyExt, Empty};
use httpout_core::{Body, Ctx, Error, SendBuffer, ServerConfig, StallLimit};
use httpout_test::{config, echo, get, start, start_with};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::oneshot;
use tokio::time::Instant;

const TIMEOUT: Duration = Duration::from_secs(30);

/// The latest a cut due `limit` after a stall may come.
fn late(limit: Duration) -> Duration {
    2 * limit + Duration::from_secs(2)
}

/// A TCP connection from 127.0.0.2, the good client's address.
async fn from_second_address(addr: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.2:0".parse().unwrap()).unwrap();
    socket.connect(addr).await.unwrap()
}

/// An h2c client whose streams get `window` bytes of flow-control window
/// (0: the server may send nothing); the connection task's handle says
/// when the server closed it.
async fn h2_with_window(
    io: TcpStream,
    window: u32,
) -> (
    hyper::client::conn::http2::SendRequest<Empty<Bytes>>,
    tokio::task::JoinHandle<()>,
) {
    let (send, conn) = hyper::client::conn::http2::Builder::new(TokioExecutor::new())
        .initial_stream_window_size(window)
        .handshake(TokioIo::new(io))
        .await
        .expect("h2 handshake");
    let task = tokio::spawn(async move {
        let _ = conn.await;
    });
    (send, task)
}

/// A good client's GET from 127.0.0.2 over HTTP/1.1: its status.
async fn good_client(addr: SocketAddr) -> StatusCode {
    let mut send = httpout_test::h1(from_second_address(addr).await).await;
    send.send_request(get("/hello")).await.unwrap().status()
}

fn paused_config() -> ServerConfig {
    ServerConfig {
        timeout: Some(TIMEOUT),
        maxp: 0,
        ..config()
    }
}

/// nghttp -n -w 0 -m 32: 32 streams of a large body on a connection that
/// grants no window. Before: held for ever (no write is ever refused).
/// Now every stream is stalled, so the connection is closed at `timeout`.
#[tokio::test(start_paused = true)]
async fn a_zero_window_http2_connection_is_closed_at_the_timeout() {
    let (_server, addr) = start(paused_config()).await;
    let io = TcpStream::connect(addr).await.unwrap();
    let (send, conn) = h2_with_window(io, 0).await;
    let asked = Instant::now();
    let mut streams = Vec::new();
    for _ in 0..32 {
        let mut send = send.clone();
        streams.push(tokio::spawn(async move {
            let res = send.send_request(get("/endless")).await.unwrap();
            assert_eq!(
                res.status(),
                StatusCode::OK,
                "the head is not flow-controlled"
            );
            let mut body = res.into_body();
            // No window: no data can come; the stream ends in an error.
            while let Some(frame) = body.frame().await {
                if frame.is_err() {
                    break;
                }
            }
            Instant::now()
        }));
    }
    // Meanwhile a good client is served.
    tokio::time::sleep(TIMEOUT / 2).await;
    assert_eq!(good_client(addr).await, StatusCode::OK);
    for stream in streams {
        // Bounded in virtual time: before the fix this waited for ever.
        let ended = tokio::time::timeout(2 * late(TIMEOUT), stream)
            .await
            .expect("the stream was never ended")
            .unwrap()
            - asked;
        assert!(
            ended >= TIMEOUT && ended <= late(TIMEOUT),
            "a zero-window stream ended {ended:?} after it was asked, timeout {TIMEOUT:?}"
        );
    }
    tokio::time::timeout(late(TIMEOUT), conn)
        .await
        .expect("the connection was never closed")
        .unwrap();
    let closed = asked.elapsed();
    assert!(closed <= late(TIMEOUT), "closed after {closed:?}");
    assert_eq!(good_client(addr).await, StatusCode::OK);
}

/// The stock reproducer, in real time: `nghttp -n -w 0 -m 32` (Debian's
/// nghttp2-client, which scripts/test.sh installs; the test fails without
/// it) is cut within [timeout, 2 x timeout + 2 s] while a good client from
/// 127.0.0.2 is served.
#[tokio::test]
async fn nghttp_with_a_zero_window_is_cut_at_the_timeout() {
    let timeout = Duration::from_secs(2);
    let (_server, addr) = start(ServerConfig {
        timeout: Some(timeout),
        maxp: 0,
        ..config()
    })
    .await;
    let started = std::time::Instant::now();
    let mut nghttp = tokio::process::Command::new("nghttp")
        .args(["-n", "-w", "0", "-m", "32"])
        .arg(format!("http://{addr}/endless"))
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("nghttp (Debian package nghttp2-client; scripts/test.sh installs it)");
    tokio::time::sleep(timeout / 2).await;
    assert_eq!(good_client(addr).await, StatusCode::OK);
    tokio::time::timeout(late(timeout) + Duration::from_secs(10), nghttp.wait())
        .await
        .expect("nghttp's streams still held")
        .unwrap();
    let took = started.elapsed();
    assert!(
        took >= timeout && took <= late(timeout),
        "nghttp -w 0 ended after {took:?}, timeout {timeout:?}"
    );
    assert_eq!(good_client(addr).await, StatusCode::OK);
}

/// A body of `chunk` bytes every `period`, for ever (tokio's clock): a
/// stream that waits for its own data between chunks, like a live one;
/// says when it is dropped (the stream or connection ended).
struct Paced {
    ticks: tokio::time::Interval,
    chunk: usize,
    dropped: Option<oneshot::Sender<Instant>>,
}

impl Paced {
    fn new(chunk: usize, period: Duration, dropped: Option<oneshot::Sender<Instant>>) -> Self {
        Self {
            ticks: tokio::time::interval(period),
            chunk,
            dropped,
        }
    }
}

impl http_body::Body for Paced {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        std::task::ready!(self.ticks.poll_tick(cx));
        Poll::Ready(Some(Ok(Frame::data(Bytes::from(vec![b'x'; self.chunk])))))
    }
}

impl Drop for Paced {
    fn drop(&mut self) {
        if let Some(tx) = self.dropped.take() {
            let _ = tx.send(Instant::now());
        }
    }
}

/// One stream of a connection stops reading (its window runs out) while
/// another keeps going: the stalled stream alone is reset at `timeout`,
/// the other goes on, and the connection takes new requests.
#[tokio::test(start_paused = true)]
async fn a_stalled_http2_stream_is_reset_alone() {
    // `/trickle`: 1 KiB a second for ever; `/big`: 64 KiB chunks as fast as
    // the client takes them, saying when the server drops it.
    let (tx, dropped) = oneshot::channel();
    let tx = Mutex::new(Some(tx));
    let handler = move |req: Request<Body>, ctx: Ctx| {
        let body = match ctx.path.to_string().as_str() {
            "/trickle" => Some(Paced::new(1024, Duration::from_secs(1), None)),
            "/big" => {
                let tx = tx.lock().unwrap().take();
                Some(Paced::new(64 * 1024, Duration::from_millis(1), tx))
            }
            _ => None,
        };
        async move {
            match body {
                Some(body) => Ok(Response::new(Body::new(body))),
                None => echo(req, ctx).await,
            }
        }
    };
    let (_server, addr) = start_with(paused_config(), handler).await;
    let io = TcpStream::connect(addr).await.unwrap();
    let (mut send, conn) = h2_with_window(io, 64 * 1024).await;
    let live = send.send_request(get("/trickle")).await.unwrap();
    let asked = Instant::now();
    // Never read: once its window is used up, the server cannot send.
    let _stalled = send.send_request(get("/big")).await.unwrap();
    let (seen_tx, mut seen_rx) = tokio::sync::watch::channel(0usize);
    let reader = tokio::spawn(async move {
        let mut body = live.into_body();
        while let Some(Ok(frame)) = body.frame().await {
            if let Some(data) = frame.data_ref() {
                seen_tx.send_modify(|n| *n += data.len());
            }
        }
    });
    let ended = tokio::time::timeout(2 * late(TIMEOUT), dropped)
        .await
        .expect("the stalled stream was never ended")
        .unwrap()
        - asked;
    assert!(
        ended >= TIMEOUT && ended <= late(TIMEOUT),
        "the stalled stream ended {ended:?} after it was asked, timeout {TIMEOUT:?}"
    );
    // The live stream still runs, and the connection takes a new request.
    let before = *seen_rx.borrow_and_update();
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(*seen_rx.borrow() > before, "the live stream stopped");
    let res = send.send_request(get("/again")).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(!conn.is_finished() && !reader.is_finished());
    reader.abort();
}

/// A connection's first request head has `header_timeout` (10 s by
/// default), a kept-alive connection `timeout` between requests.
#[tokio::test(start_paused = true)]
async fn the_first_request_head_has_the_shorter_header_timeout() {
    let (_server, addr) = start(paused_config()).await;
    let header_timeout = config().header_timeout.unwrap();
    assert_eq!(header_timeout, Duration::from_secs(10));
    let start = Instant::now();
    let mut silent = TcpStream::connect(addr).await.unwrap();
    let mut out = Vec::new();
    let _ = silent.read_to_end(&mut out).await;
    let cut = start.elapsed();
    assert!(
        cut >= header_timeout && cut <= header_timeout + Duration::from_millis(50),
        "a silent connection was cut after {cut:?}"
    );
    // Once a request was answered, the connection idles `timeout`.
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let head = httpout_test::read_until(&mut s, "path=/").await;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    let answered = Instant::now();
    let _ = s.read_to_end(&mut out).await;
    let idle = answered.elapsed();
    assert!(
        idle >= TIMEOUT && idle <= TIMEOUT + Duration::from_millis(50),
        "an idle keep-alive connection was cut after {idle:?}"
    );
}

/// `max_conn_rate`: past N new connections a second from one address,
/// the next get 503 naming the option; another address is served.
#[tokio::test(start_paused = true)]
async fn over_the_connection_rate_an_address_gets_503() {
    let (_server, addr) = start(ServerConfig {
        max_conn_rate: 3,
        ..paused_config()
    })
    .await;
    let mut statuses = Vec::new();
    for _ in 0..5 {
        let answer = httpout_test::raw(
            addr,
            b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        )
        .await;
        statuses.push(answer);
    }
    let ok = statuses
        .iter()
        .filter(|a| a.starts_with("HTTP/1.1 200"))
        .count();
    assert_eq!(ok, 3, "{statuses:?}");
    assert!(statuses[4].starts_with("HTTP/1.1 503"), "{}", statuses[4]);
    assert!(statuses[4].contains("max_conn_rate=3"), "{}", statuses[4]);
    assert_eq!(good_client(addr).await, StatusCode::OK);
    // A second later the address may connect again.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let again = httpout_test::raw(
        addr,
        b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(again.starts_with("HTTP/1.1 200"), "{again}");
}

/// A request head over hyper's buffer limit (a 300 KB header) or with too
/// many fields is answered 431, not buffered.
#[tokio::test]
async fn a_huge_request_head_is_answered_431() {
    let (_server, addr) = start(config()).await;
    let mut head = b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: ".to_vec();
    head.extend(std::iter::repeat_n(b'a', 300_000));
    head.extend_from_slice(b"\r\n\r\n");
    let mut s = TcpStream::connect(addr).await.unwrap();
    // The server answers and closes before reading it all: a write may fail.
    let _ = s.write_all(&head).await;
    let answer = httpout_test::read_until(&mut s, "\r\n").await;
    assert!(answer.starts_with("HTTP/1.1 431"), "{answer}");
    let mut many = b"GET / HTTP/1.1\r\nHost: x\r\n".to_vec();
    for i in 0..150 {
        many.extend_from_slice(format!("X-{i}: y\r\n").as_bytes());
    }
    many.extend_from_slice(b"\r\n");
    let answer = httpout_test::raw(addr, &many).await;
    assert!(answer.starts_with("HTTP/1.1 431"), "{answer}");
}

/// A live listener of a 128 kbit/s stream that stops reading: with its
/// socket's send buffer bounded (`SendBuffer`, as the live sink sets it)
/// it is cut within [budget, 3 x budget + 5 s] of its request, `budget`
/// being its `StallLimit`. Before, the kernel grew the buffer to
/// megabytes: minutes of such a stream before a write was refused.
#[tokio::test(start_paused = true)]
async fn a_stalled_listener_of_a_slow_stream_is_cut_within_its_budget() {
    let budget = Duration::from_secs(5);
    // 128 kbit/s: 16 000 bytes a second, as 2 000 every 125 ms.
    let rate = 16_000.0;
    let send_buffer = ((rate * budget.as_secs_f64() / 4.0) as usize).max(16 * 1024);
    let cut = stalled_listener(budget, Some(send_buffer)).await;
    assert!(
        cut >= budget && cut <= 3 * budget + Duration::from_secs(5),
        "cut {cut:?} after the request, budget {budget:?}"
    );
    // For the record: the same without a bound on the send buffer.
    let unbounded = stalled_listener(budget, None).await;
    eprintln!(
        "stalled 128 kbit/s listener cut after {cut:?} (send buffer bounded), {unbounded:?} (kernel's own)"
    );
}

/// Time from a never-reading listener's request to its cut.
async fn stalled_listener(budget: Duration, send_buffer: Option<usize>) -> Duration {
    let (tx, dropped) = oneshot::channel();
    let tx = Mutex::new(Some(tx));
    let handler = move |_req: Request<Body>, _ctx: Ctx| {
        let body = Paced::new(2_000, Duration::from_millis(125), tx.lock().unwrap().take());
        async move {
            let mut res = Response::new(Body::new(body));
            res.extensions_mut().insert(StallLimit(budget));
            if let Some(bytes) = send_buffer {
                res.extensions_mut().insert(SendBuffer(bytes));
            }
            Ok::<_, Error>(res)
        }
    };
    let (_server, addr) = start_with(
        ServerConfig {
            timeout: Some(Duration::from_secs(600)),
            ..paused_config()
        },
        handler,
    )
    .await;
    let s = TcpStream::connect(addr).await.unwrap();
    let (_rd, mut wr) = s.into_split();
    let asked = Instant::now();
    wr.write_all(b"GET /live.mp3 HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let cut = tokio::time::timeout(Duration::from_secs(3600), dropped)
        .await
        .expect("cut within an hour")
        .unwrap();
    cut - asked
}

//! HTTP/2 WebSockets (RFC 8441) under load, beside HTTP/1.1 ones: one
//! httpout-core WebSocket echo server (h2c by prior knowledge and HTTP/1.1
//! on the same listener, as the engine serves both) run as a child process
//! of this binary on 127.0.0.1, driven by one client built on hyper 1's
//! client connections and tokio-tungstenite. Over HTTP/2 every socket is a
//! stream (extended CONNECT, `:protocol` websocket), as many on one
//! connection as the server allows; over HTTP/1.1 every socket is a
//! connection (`Upgrade: websocket`). Per protocol and round, each on a
//! fresh server:
//!
//! - load: N sockets echoing at once, each with one message in flight:
//!   64 KiB binary messages (aggregate MiB/s, server CPU ms per MiB), then
//!   100 B text messages (round trips/s, server CPU µs per round trip);
//! - fairness: one bulk socket with up to [`BULK_DEPTH`] 64 KiB messages
//!   in flight beside one socket echoing 100 B pings one at a time (on a
//!   client thread of its own); over HTTP/2 both are streams of one
//!   connection, over HTTP/1.1 two connections. The ping's round-trip
//!   median and p99, three times: the bulk socket flat out (its MiB/s
//!   too); paced at one message per [`BULK_PACE`] (62.5 MiB/s, the same
//!   offered load over both protocols, well under what the machine can
//!   echo); and open but silent (the protocol's own ping round trip);
//! - idle: on another fresh server, the RSS growth per idle open socket
//!   (/proc/PID/status VmRSS).
//!
//! Rounds take the protocols in turn, order flipped every round; medians
//! and h2/h1 ratios at the end.
//!
//!   h2ws [SECONDS] [ROUNDS] [SOCKETS] [IDLE]   # defaults 3 5 100 1000
//!   H2WS_ONLY=h2 h2ws ...                       (one protocol, to profile its server)
//!   h2ws serve                                  (the child: prints its port)

#[path = "../../common/child.rs"]
mod child;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use http::{Request, Response, StatusCode};
use http_body_util::Empty;
use httpout_core::ws::Upgrade;
use httpout_core::{Body, Ctx, Error, ListenSpec, Server, ServerConfig};
use hyper::client::conn::{http1, http2};
use hyper::upgrade::Upgraded;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpStream;
use tokio::sync::Semaphore;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};

/// The server's SETTINGS_MAX_CONCURRENT_STREAMS: httpout-core's
/// `H2_MAX_STREAMS` (crates/httpout-core/src/conn/mod.rs, crate-private,
/// hence copied). Over HTTP/2 the client opens `ceil(n / 32)` connections
/// and spreads the sockets over them; were the server's limit lower, the
/// streams over it would wait in hyper's client and the bench would stop
/// with "no answer in 10 s".
const H2_MAX_STREAMS: usize = 32;
const BIG: usize = 64 * 1024;
const SMALL: usize = 100;
/// 64 KiB messages the fairness bench's bulk socket keeps in flight (512
/// KiB): enough to fill the connection's buffers in front of the pings.
const BULK_DEPTH: usize = 8;
/// The paced bulk socket's interval between 64 KiB messages.
const BULK_PACE: Duration = Duration::from_millis(1);
/// The longest wait for any one thing (a connection, a handshake, an echo).
const WAIT: Duration = Duration::from_secs(10);
/// Warm-up before each measured window.
const WARM: Duration = Duration::from_millis(300);

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Proto {
    H1,
    H2,
}

impl Proto {
    fn name(self) -> &'static str {
        match self {
            Self::H1 => "h1",
            Self::H2 => "h2",
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("serve") {
        // As the httpout binary runs: tokio's multi-threaded runtime, one
        // worker per core.
        let rt = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(serve());
        return;
    }
    let num = |i: usize, name: &str, default: u64| -> u64 {
        args.get(i).map_or(default, |s| match s.parse() {
            Ok(n) if n > 0 => n,
            _ => {
                eprintln!("h2ws: {name} must be a positive number, not '{s}'");
                std::process::exit(2)
            }
        })
    };
    if args.len() > 4 {
        eprintln!("h2ws: at most 4 arguments: SECONDS ROUNDS SOCKETS IDLE");
        std::process::exit(2);
    }
    let secs = num(0, "SECONDS", 3);
    let rounds = num(1, "ROUNDS", 5);
    let sockets = num(2, "SOCKETS", 100) as usize;
    let idle = num(3, "IDLE", 1000) as usize;
    // The client: one thread, so that the server has the other core(s).
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(bench(Duration::from_secs(secs), rounds, sockets, idle));
}

// ----------------------------------------------------------------- server

/// httpout-core's echo (crates/httpout-core/examples/websocket.rs's `/echo`)
/// on 127.0.0.1, port chosen by the system and printed on stdout. No
/// connection limits (`maxc`, `maxp` 0): the bench opens a thousand
/// connections from one address. Everything else is the engine's default,
/// WebSocket limits and HTTP/2 settings included.
async fn serve() {
    let config = ServerConfig {
        listeners: vec![ListenSpec::Http(([127, 0, 0, 1], 0).into())],
        maxc: 0,
        maxp: 0,
        ..ServerConfig::default()
    };
    let server = Server::bind(config).await.expect("bind");
    let port = server.local_addrs()[0]
        .tcp_addr()
        .expect("a TCP listener")
        .port();
    println!("{port}");
    let app = |mut req: Request<Body>, ctx: Ctx| async move {
        if ctx.path.to_string() != "/echo" {
            return Err(Error::NotFound);
        }
        let upgrade = Upgrade::new(&mut req)?;
        Ok::<Response<Body>, Error>(upgrade.on_socket(|mut socket| async move {
            while let Some(msg) = socket.recv().await {
                if socket.send(msg).await.is_err() {
                    break;
                }
            }
        }))
    };
    let _running = server.serve(app);
    // The parent kills this process; nothing else ends it.
    std::future::pending::<()>().await;
}

// ----------------------------------------------------------------- client

type Ws = WebSocketStream<TokioIo<Upgraded>>;

/// What must live as long as the sockets: the HTTP/2 connections' request
/// senders (a client connection whose senders are all gone may close).
struct Opened {
    sockets: Vec<Ws>,
    _h2: Vec<http2::SendRequest<Empty<Bytes>>>,
}

/// The client's framing: tungstenite's defaults, unbuffered writes, the
/// server's 16 MiB message limit; `small` reads through a 4 KiB buffer
/// (idle sockets: the client holds a thousand of them too).
fn client_config(small: bool) -> WebSocketConfig {
    let config = WebSocketConfig::default()
        .write_buffer_size(0)
        .max_message_size(Some(16 << 20));
    if small {
        config.read_buffer_size(4 * 1024)
    } else {
        config
    }
}

async fn bounded<F: std::future::Future>(what: &str, f: F) -> F::Output {
    tokio::time::timeout(WAIT, f)
        .await
        .unwrap_or_else(|_| panic!("{what}: no answer in 10 s"))
}

async fn tcp(port: u16) -> TcpStream {
    let stream = bounded("connect", TcpStream::connect(("127.0.0.1", port)))
        .await
        .expect("connect");
    stream.set_nodelay(true).expect("nodelay");
    stream
}

/// One socket over its own HTTP/1.1 connection: GET with `Upgrade:
/// websocket`, 101, then the connection is the socket.
async fn open_h1(port: u16, small: bool) -> Ws {
    let (mut send, conn) = bounded(
        "h1 handshake",
        http1::handshake::<_, Empty<Bytes>>(TokioIo::new(tcp(port).await)),
    )
    .await
    .expect("h1 handshake");
    tokio::spawn(conn.with_upgrades());
    let req = Request::get("/echo")
        .header("host", format!("127.0.0.1:{port}"))
        .header("connection", "upgrade")
        .header("upgrade", "websocket")
        .header("sec-websocket-version", "13")
        .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")
        .body(Empty::new())
        .expect("request");
    let res = bounded("h1 upgrade", send.send_request(req))
        .await
        .expect("h1 upgrade request");
    assert_eq!(res.status(), StatusCode::SWITCHING_PROTOCOLS, "h1 upgrade");
    let upgraded = bounded("h1 upgrade", hyper::upgrade::on(res))
        .await
        .expect("h1 upgraded");
    WebSocketStream::from_raw_socket(
        TokioIo::new(upgraded),
        Role::Client,
        Some(client_config(small)),
    )
    .await
}

/// An HTTP/2 connection (h2c, prior knowledge, hyper's default client
/// settings) ready for extended CONNECT: a first request is answered once
/// the server's SETTINGS (ENABLE_CONNECT_PROTOCOL) have arrived.
async fn connect_h2(port: u16) -> http2::SendRequest<Empty<Bytes>> {
    let (mut send, conn) = bounded(
        "h2 handshake",
        http2::handshake(TokioExecutor::new(), TokioIo::new(tcp(port).await)),
    )
    .await
    .expect("h2 handshake");
    tokio::spawn(conn);
    let req = Request::get(format!("http://127.0.0.1:{port}/echo"))
        .body(Empty::new())
        .expect("request");
    let res = bounded("h2 first request", send.send_request(req))
        .await
        .expect("h2 first request");
    assert_eq!(
        res.status(),
        StatusCode::UPGRADE_REQUIRED,
        "h2 first request"
    );
    send
}

/// One socket as a stream of `send`'s connection (RFC 8441): CONNECT with
/// `:protocol` websocket, 200, then the stream is the socket.
async fn open_h2(send: &mut http2::SendRequest<Empty<Bytes>>, port: u16, small: bool) -> Ws {
    let mut req = Request::connect(format!("http://127.0.0.1:{port}/echo"))
        .header("sec-websocket-version", "13")
        .body(Empty::new())
        .expect("request");
    req.extensions_mut()
        .insert(hyper::ext::Protocol::from_static("websocket"));
    let res = bounded("h2 CONNECT", send.send_request(req))
        .await
        .expect("h2 CONNECT");
    assert_eq!(res.status(), StatusCode::OK, "h2 CONNECT");
    let upgraded = bounded("h2 upgrade", hyper::upgrade::on(res))
        .await
        .expect("h2 upgraded");
    WebSocketStream::from_raw_socket(
        TokioIo::new(upgraded),
        Role::Client,
        Some(client_config(small)),
    )
    .await
}

/// `n` sockets: over HTTP/1.1 `n` connections; over HTTP/2
/// `ceil(n / H2_MAX_STREAMS)` connections, socket `i` on connection
/// `i % connections`.
async fn open(proto: Proto, port: u16, n: usize, small: bool) -> Opened {
    let mut sockets = Vec::with_capacity(n);
    let mut h2 = Vec::new();
    match proto {
        Proto::H1 => {
            for _ in 0..n {
                sockets.push(open_h1(port, small).await);
            }
        }
        Proto::H2 => {
            for _ in 0..n.div_ceil(H2_MAX_STREAMS) {
                h2.push(connect_h2(port).await);
            }
            let conns = h2.len();
            for i in 0..n {
                sockets.push(open_h2(&mut h2[i % conns], port, small).await);
            }
        }
    }
    Opened { sockets, _h2: h2 }
}

/// One echo of `msg` on `ws`, checked by length.
async fn echo(ws: &mut Ws, msg: Message) {
    let len = msg.len();
    bounded("send", ws.send(msg)).await.expect("send");
    let back = bounded("echo", ws.next())
        .await
        .expect("closed")
        .expect("read");
    assert_eq!(back.len(), len, "echo of another length");
}

/// Every socket echoes `msg` one at a time until `until`, all at once,
/// each in a task of its own. Returns the sockets, the round trips done,
/// and when the last socket finished.
async fn echo_all(sockets: Vec<Ws>, msg: &Message, until: Instant) -> (Vec<Ws>, u64, Instant) {
    let tasks: Vec<_> = sockets
        .into_iter()
        .map(|mut ws| {
            let msg = msg.clone();
            tokio::spawn(async move {
                let mut n = 0u64;
                while Instant::now() < until {
                    echo(&mut ws, msg.clone()).await;
                    n += 1;
                }
                (ws, n)
            })
        })
        .collect();
    let mut sockets = Vec::with_capacity(tasks.len());
    let mut total = 0;
    for task in tasks {
        let (ws, n) = task.await.expect("socket task");
        sockets.push(ws);
        total += n;
    }
    (sockets, total, Instant::now())
}

/// What a load window did: round trips, seconds, and the CPU seconds the
/// server and the client spent in it.
struct Load {
    n: f64,
    secs: f64,
    server: f64,
    client: f64,
}

/// Aggregate echo over all `sockets` for `window`, after a warm-up.
async fn load(sockets: Vec<Ws>, msg: &Message, window: Duration, pid: u32) -> (Vec<Ws>, Load) {
    let (sockets, _, _) = echo_all(sockets, msg, Instant::now() + WARM).await;
    let (start, server, client) = (Instant::now(), child::cpu_s(Some(pid)), child::cpu_s(None));
    let (sockets, n, end) = echo_all(sockets, msg, start + window).await;
    let load = Load {
        n: n as f64,
        secs: (end - start).as_secs_f64(),
        server: child::cpu_s(Some(pid)) - server,
        client: child::cpu_s(None) - client,
    };
    (sockets, load)
}

/// The bulk socket: up to [`BULK_DEPTH`] 64 KiB messages in flight, one
/// sent every `pace` (or as soon as there is room), until `stop` is set;
/// then the echoes still owed are read. Returns the bytes echoed.
async fn bulk(ws: Ws, stop: Arc<AtomicBool>, pace: Option<Duration>) -> u64 {
    let (mut tx, mut rx) = ws.split();
    let room = Arc::new(Semaphore::new(BULK_DEPTH));
    let writer = {
        let room = Arc::clone(&room);
        tokio::spawn(async move {
            let msg = Message::Binary(vec![0x5au8; BIG].into());
            let mut sent = 0u64;
            // Behind schedule, it goes on at its pace from then (no burst).
            let mut ticker = pace.map(|p| {
                let mut ticker = tokio::time::interval(p);
                ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                ticker
            });
            while !stop.load(Ordering::Relaxed) {
                if let Some(ticker) = &mut ticker {
                    ticker.tick().await;
                }
                bounded("bulk room", room.acquire())
                    .await
                    .expect("semaphore")
                    .forget();
                bounded("bulk send", tx.send(msg.clone()))
                    .await
                    .expect("bulk send");
                sent += 1;
            }
            (tx, sent)
        })
    };
    let mut echoed = 0u64;
    loop {
        // Done once the writer has stopped and every message came back.
        if writer.is_finished() && room.available_permits() == BULK_DEPTH {
            break;
        }
        let next = tokio::time::timeout(Duration::from_millis(50), rx.next()).await;
        let Ok(msg) = next else { continue };
        let msg = msg.expect("bulk closed").expect("bulk read");
        assert_eq!(msg.len(), BIG, "bulk echo of another length");
        echoed += 1;
        room.add_permits(1);
    }
    let (_tx, sent) = writer.await.expect("bulk writer");
    assert_eq!(sent, echoed, "bulk echoes owed");
    echoed * BIG as u64
}

/// The ping socket's round trips (µs) until `until`, on a thread and
/// runtime of its own, so that its client side never waits behind the
/// bulk socket's tasks.
async fn pings(mut ping: Ws, until: Instant) -> Vec<f64> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let rtts = rt.block_on(async move {
            let small = Message::Text("p".repeat(SMALL).into());
            let mut rtts = Vec::new();
            while Instant::now() < until {
                let t = Instant::now();
                echo(&mut ping, small.clone()).await;
                rtts.push(t.elapsed().as_secs_f64() * 1e6);
            }
            rtts
        });
        let _ = tx.send(rtts);
    });
    let left = until.saturating_duration_since(Instant::now());
    tokio::time::timeout(left + WAIT, rx)
        .await
        .expect("pings: no end 10 s after the window")
        .expect("ping thread failed")
}

/// What the bulk socket does beside the pings.
#[derive(Clone, Copy)]
enum Bulk {
    /// As fast as [`BULK_DEPTH`] messages in flight allow.
    Flat,
    /// One message per [`BULK_PACE`].
    Paced,
    /// Nothing: open and silent.
    Silent,
}

/// Fairness: a bulk socket and a ping socket side by side for `window`
/// (over HTTP/2 two streams of one connection). Returns the ping round
/// trips in µs, sorted, and the bulk MiB/s.
async fn fairness(proto: Proto, port: u16, window: Duration, mode: Bulk) -> (Vec<f64>, f64) {
    let Opened {
        mut sockets,
        _h2: keep,
    } = open(proto, port, 2, false).await; // h2: two streams of one connection
    let mut ping = sockets.pop().expect("ping socket");
    let bulk_ws = sockets.pop().expect("bulk socket");
    echo(&mut ping, Message::Text("p".repeat(SMALL).into())).await;
    let stop = Arc::new(AtomicBool::new(false));
    let start = Instant::now();
    // The silent socket is held here, open, until the pings are done.
    let mut silent = None;
    let bulk_task = match mode {
        Bulk::Flat => tokio::spawn(bulk(bulk_ws, Arc::clone(&stop), None)),
        Bulk::Paced => tokio::spawn(bulk(bulk_ws, Arc::clone(&stop), Some(BULK_PACE))),
        Bulk::Silent => {
            silent = Some(bulk_ws);
            tokio::spawn(async { 0 })
        }
    };
    // The bulk socket gets going before the pings count.
    tokio::time::sleep(WARM).await;
    let mut rtts = pings(ping, Instant::now() + window).await;
    stop.store(true, Ordering::Relaxed);
    let bytes = bounded("bulk end", bulk_task).await.expect("bulk task");
    drop(silent);
    let mib_s = bytes as f64 / (1 << 20) as f64 / start.elapsed().as_secs_f64();
    drop(keep);
    rtts.sort_by(f64::total_cmp);
    (rtts, mib_s)
}

/// Idle: on a fresh server, one socket opened and echoed (the first
/// connection's one-off costs), then `idle` more, one small echo each,
/// held 1 s. KiB of server RSS per idle socket.
async fn idle_kib(proto: Proto, idle: usize) -> f64 {
    let mut server = child::spawn_self(&["serve"]).await;
    let (pid, port) = (server.pid, server.port);
    let mut first = open(proto, port, 1, true).await;
    echo(&mut first.sockets[0], Message::Text("hi".into())).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let before = child::rss_kib(pid);
    let mut held = open(proto, port, idle, true).await;
    for ws in &mut held.sockets {
        echo(ws, Message::Text("hi".into())).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let after = child::rss_kib(pid);
    drop(held);
    drop(first);
    server.child.kill().await.ok();
    after.saturating_sub(before) as f64 / idle as f64
}

/// One protocol's figures of one round.
#[derive(Clone, Copy, Default)]
struct Figures {
    mib_s: f64,
    /// Server CPU ms per MiB echoed (64 KiB messages).
    srv_ms_mib: f64,
    /// Client CPU ms per MiB echoed.
    cli_ms_mib: f64,
    rt_s: f64,
    /// Server CPU µs per 100 B round trip.
    srv_us_rt: f64,
    /// Fairness: ping round trip median and p99 (µs), bulk MiB/s beside;
    /// then the same beside the paced bulk socket, and beside a silent one.
    ping_p50: f64,
    ping_p99: f64,
    bulk_mib_s: f64,
    pace_p50: f64,
    pace_p99: f64,
    alone_p50: f64,
    alone_p99: f64,
    idle_kib: f64,
}

impl Figures {
    const HEAD: [&str; 13] = [
        "64K MiB/s",
        "srv ms/MiB",
        "cli ms/MiB",
        "100B rt/s",
        "srv us/rt",
        "ping p50 us",
        "ping p99 us",
        "bulk MiB/s",
        "pace p50 us",
        "pace p99 us",
        "solo p50 us",
        "solo p99 us",
        "idle KiB/sk",
    ];

    fn values(&self) -> [f64; 13] {
        [
            self.mib_s,
            self.srv_ms_mib,
            self.cli_ms_mib,
            self.rt_s,
            self.srv_us_rt,
            self.ping_p50,
            self.ping_p99,
            self.bulk_mib_s,
            self.pace_p50,
            self.pace_p99,
            self.alone_p50,
            self.alone_p99,
            self.idle_kib,
        ]
    }

    fn from_values(v: [f64; 13]) -> Self {
        Self {
            mib_s: v[0],
            srv_ms_mib: v[1],
            cli_ms_mib: v[2],
            rt_s: v[3],
            srv_us_rt: v[4],
            ping_p50: v[5],
            ping_p99: v[6],
            bulk_mib_s: v[7],
            pace_p50: v[8],
            pace_p99: v[9],
            alone_p50: v[10],
            alone_p99: v[11],
            idle_kib: v[12],
        }
    }

    fn cells(&self) -> Vec<String> {
        let precision = [1, 2, 2, 0, 1, 0, 0, 1, 0, 0, 0, 0, 2];
        self.values()
            .iter()
            .zip(precision)
            .map(|(v, p)| format!("{v:.p$}"))
            .collect()
    }
}

async fn measure(proto: Proto, window: Duration, n: usize, idle: usize) -> Figures {
    let mut server = child::spawn_self(&["serve"]).await;
    let (pid, port) = (server.pid, server.port);
    let mut f = Figures::default();

    let opened = open(proto, port, n, false).await;
    let big = Message::Binary(vec![0xa5u8; BIG].into());
    let (sockets, l) = load(opened.sockets, &big, window, pid).await;
    let mib = l.n * BIG as f64 / (1 << 20) as f64;
    f.mib_s = mib / l.secs;
    f.srv_ms_mib = l.server * 1e3 / mib;
    f.cli_ms_mib = l.client * 1e3 / mib;

    let small = Message::Text("x".repeat(SMALL).into());
    let (sockets, l) = load(sockets, &small, window, pid).await;
    f.rt_s = l.n / l.secs;
    f.srv_us_rt = l.server * 1e6 / l.n;
    for mut ws in sockets {
        let _ = tokio::time::timeout(WAIT, ws.close(None)).await;
    }
    drop(opened._h2);

    let (rtts, bulk_mib_s) = fairness(proto, port, window, Bulk::Flat).await;
    f.ping_p50 = percentile(&rtts, 0.50);
    f.ping_p99 = percentile(&rtts, 0.99);
    f.bulk_mib_s = bulk_mib_s;
    let (rtts, _) = fairness(proto, port, window, Bulk::Paced).await;
    f.pace_p50 = percentile(&rtts, 0.50);
    f.pace_p99 = percentile(&rtts, 0.99);
    let (rtts, _) = fairness(proto, port, window, Bulk::Silent).await;
    f.alone_p50 = percentile(&rtts, 0.50);
    f.alone_p99 = percentile(&rtts, 0.99);
    server.child.kill().await.ok();

    f.idle_kib = idle_kib(proto, idle).await;
    f
}

/// The `q` quantile of sorted `v` (nearest rank).
fn percentile(v: &[f64], q: f64) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    let rank = ((q * v.len() as f64).ceil() as usize).clamp(1, v.len());
    v[rank - 1]
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let m = v.len() / 2;
    if v.len() % 2 == 1 {
        v[m]
    } else {
        (v[m - 1] + v[m]) / 2.0
    }
}

fn row(name: &str, cells: &[String]) {
    let mut line = format!("{name:<10}");
    for c in cells {
        line.push_str(&format!(" {c:>11}"));
    }
    println!("{line}");
}

async fn bench(window: Duration, rounds: u64, n: usize, idle: usize) {
    println!(
        "# h2ws: httpout-core WebSocket echo, h2c vs HTTP/1.1, {} s windows, {rounds} rounds, order flipped each round",
        window.as_secs()
    );
    println!(
        "# load: {n} sockets echoing at once; h2 = {} connection(s) of up to {H2_MAX_STREAMS} streams (the server's max), h1 = {n} connections",
        n.div_ceil(H2_MAX_STREAMS)
    );
    println!(
        "# fairness: one bulk socket (<= {BULK_DEPTH} x 64 KiB in flight; flat out, then paced: 64 KiB per {} ms) beside one 100 B ping socket (own client thread), then silent (solo); h2 = one connection, h1 = two",
        BULK_PACE.as_millis()
    );
    println!(
        "# idle: {idle} sockets; h2 = {} connections, h1 = {idle}",
        idle.div_ceil(H2_MAX_STREAMS)
    );
    let head = Figures::HEAD.map(String::from);
    row("round", &head);
    let protos = [Proto::H1, Proto::H2];
    // H2WS_ONLY=h1 or h2: that protocol alone (to profile its server with
    // perf; the table then has no ratio).
    let only = std::env::var("H2WS_ONLY").ok();
    if let Some(name) = &only
        && !protos.iter().any(|p| p.name() == name)
    {
        eprintln!("h2ws: H2WS_ONLY must be h1 or h2, not '{name}'");
        std::process::exit(2);
    }
    let mut all: [Vec<Figures>; 2] = [Vec::new(), Vec::new()];
    for round in 0..rounds {
        let mut order = vec![0, 1];
        if round % 2 == 1 {
            order.reverse();
        }
        order.retain(|&i| only.as_deref().is_none_or(|n| n == protos[i].name()));
        for i in order {
            let f = measure(protos[i], window, n, idle).await;
            row(&format!("{} {}", protos[i].name(), round + 1), &f.cells());
            all[i].push(f);
        }
    }
    println!();
    println!(
        "# medians; CPU = utime+stime over the window (10 ms ticks), per MiB echoed or per round trip;"
    );
    println!("# idle = server VmRSS growth per idle open socket, KiB");
    row("proto", &head);
    let meds: Vec<Figures> = all
        .iter()
        .map(|v| {
            if v.is_empty() {
                return Figures::default();
            }
            let mut m = [0.0; 13];
            for (k, slot) in m.iter_mut().enumerate() {
                *slot = median(v.iter().map(|f| f.values()[k]).collect());
            }
            Figures::from_values(m)
        })
        .collect();
    for (i, m) in meds.iter().enumerate() {
        if !all[i].is_empty() {
            row(protos[i].name(), &m.cells());
        }
    }
    if only.is_some() {
        return;
    }
    let ratios: Vec<String> = meds[1]
        .values()
        .iter()
        .zip(meds[0].values())
        .map(|(a, b)| {
            if b > 0.0 {
                format!("{:.2}", a / b)
            } else {
                "n/a".into()
            }
        })
        .collect();
    row("h2/h1", &ratios);
}

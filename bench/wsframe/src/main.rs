//! WebSocket framing bench: an echo server on tokio-tungstenite 0.30 (the
//! crate httpout-core uses, configured as httpout-core configures it) and
//! one on fastwebsockets (and, to tell the crate from the configuration,
//! tokio-tungstenite with its default buffers), each run as a child process of this binary and
//! driven over loopback TCP by one client (tokio-tungstenite's). Per server
//! and round: 64 KiB binary echo throughput, 100 B text round trips per
//! second, and the server's RSS growth with 1 000 idle open sockets
//! (/proc/PID/status VmRSS). Rounds interleave the servers (order flipped
//! every round); medians and fastwebsockets / tungstenite ratios at the end.
//!
//!   wsframe [SECONDS] [ROUNDS] [IDLE]      # defaults 5 3 1000
//!   wsframe serve tungstenite|fastwebsockets  (the child: prints its port)

#[path = "../../common/child.rs"]
mod child;

use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};

/// httpout-core's read buffer (crates/httpout-core/src/ws/handshake.rs).
const READ_BUFFER: usize = 4 * 1024;
/// httpout-core's default message limit (ws::Config::max_message).
const MAX_MESSAGE: usize = 16 << 20;
const BIG: usize = 64 * 1024;
const SMALL: usize = 100;
/// The contenders: tungstenite as httpout-core configures it, fastwebsockets,
/// and tungstenite with its default buffers (128 KiB read buffer, 128 KiB
/// write buffer), which tells the crate from httpout's configuration.
const SERVERS: [&str; 3] = ["tungstenite", "fastwebsockets", "tung-default"];

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    if args.first().map(String::as_str) == Some("serve") {
        let which = args.get(1).cloned().unwrap_or_default();
        rt.block_on(serve(which));
        return;
    }
    let num = |i: usize, default: u64| -> u64 {
        args.get(i).map_or(default, |s| {
            s.parse().unwrap_or_else(|_| {
                eprintln!("wsframe: argument {} must be a number, not '{s}'", i + 1);
                std::process::exit(2)
            })
        })
    };
    let (secs, rounds, idle) = (num(0, 5), num(1, 3), num(2, 1000));
    rt.block_on(bench(Duration::from_secs(secs), rounds, idle as usize));
}

// ---------------------------------------------------------------- servers

async fn serve(which: String) {
    if !SERVERS.contains(&which.as_str()) {
        eprintln!(
            "wsframe: serve: unknown server '{which}' (tungstenite, fastwebsockets, tung-default)"
        );
        std::process::exit(2);
    }
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    println!("{}", listener.local_addr().expect("addr").port());
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let which = which.clone();
        tokio::spawn(async move {
            let _ = stream.set_nodelay(true);
            let Some(stream) = handshake(stream).await else {
                return;
            };
            match which.as_str() {
                "tungstenite" => echo_tungstenite(stream, httpout_config()).await,
                "tung-default" => echo_tungstenite(stream, default_config()).await,
                _ => echo_fastwebsockets(stream).await,
            }
        });
    }
}

/// The same hand-made HTTP/1.1 upgrade for both servers: read the request
/// head, answer 101 with the accept key. The framing crates start after it,
/// as in httpout-core, where hyper does the HTTP part.
async fn handshake(mut stream: TcpStream) -> Option<TcpStream> {
    let mut key = None;
    {
        let mut reader = BufReader::with_capacity(1024, &mut stream);
        let mut line = String::new();
        loop {
            line.clear();
            if reader.read_line(&mut line).await.ok()? == 0 {
                return None;
            }
            if line == "\r\n" {
                break;
            }
            if let Some((name, value)) = line.split_once(':')
                && name.eq_ignore_ascii_case("sec-websocket-key")
            {
                key = Some(value.trim().to_owned());
            }
        }
        // The client sends nothing more before the 101.
        if !reader.buffer().is_empty() {
            return None;
        }
    }
    let accept = derive_accept_key(key?.as_bytes());
    let res = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n"
    );
    stream.write_all(res.as_bytes()).await.ok()?;
    Some(stream)
}

/// As crates/httpout-core/src/ws/handshake.rs configures it.
fn httpout_config() -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(READ_BUFFER)
        .write_buffer_size(0)
        .max_write_buffer_size(MAX_MESSAGE.saturating_mul(2).max(1 << 20))
        .max_message_size(Some(MAX_MESSAGE))
        .max_frame_size(Some(MAX_MESSAGE))
}

/// tungstenite's own buffers, httpout's message limit.
fn default_config() -> WebSocketConfig {
    WebSocketConfig::default()
        .max_message_size(Some(MAX_MESSAGE))
        .max_frame_size(Some(MAX_MESSAGE))
}

async fn echo_tungstenite(stream: TcpStream, config: WebSocketConfig) {
    let mut ws =
        tokio_tungstenite::WebSocketStream::from_raw_socket(stream, Role::Server, Some(config))
            .await;
    while let Some(Ok(msg)) = ws.next().await {
        if msg.is_close() {
            break;
        }
        if (msg.is_text() || msg.is_binary()) && ws.send(msg).await.is_err() {
            break;
        }
    }
}

async fn echo_fastwebsockets(stream: TcpStream) {
    use fastwebsockets::{FragmentCollector, OpCode, Role, WebSocket};
    let mut ws = WebSocket::after_handshake(stream, Role::Server);
    ws.set_max_message_size(MAX_MESSAGE);
    ws.set_auto_close(true);
    ws.set_auto_pong(true);
    let mut ws = FragmentCollector::new(ws);
    while let Ok(frame) = ws.read_frame().await {
        if matches!(frame.opcode, OpCode::Close) {
            break;
        }
        if matches!(frame.opcode, OpCode::Text | OpCode::Binary)
            && ws.write_frame(frame).await.is_err()
        {
            break;
        }
    }
}

// ----------------------------------------------------------------- client

type Client = tokio_tungstenite::WebSocketStream<TcpStream>;

async fn connect(port: u16) -> Client {
    let stream = TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect");
    stream.set_nodelay(true).expect("nodelay");
    let config = WebSocketConfig::default()
        .max_message_size(Some(MAX_MESSAGE))
        .write_buffer_size(0);
    let (ws, _) = tokio_tungstenite::client_async_with_config(
        format!("ws://127.0.0.1:{port}/"),
        stream,
        Some(config),
    )
    .await
    .expect("websocket handshake");
    ws
}

/// Echo round trips of `msg` for `window`: one message in flight at a
/// time, each echo checked. Returns round trips done.
async fn echo_for(ws: &mut Client, msg: Message, window: Duration) -> u64 {
    let len = msg.len();
    let start = Instant::now();
    let mut n = 0;
    while start.elapsed() < window {
        ws.send(msg.clone()).await.expect("send");
        let back = tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .expect("no echo in 10 s")
            .expect("closed")
            .expect("read");
        assert_eq!(back.len(), len, "echo of another length");
        n += 1;
    }
    n
}

struct Figures {
    mib_s: f64,
    /// Server CPU milliseconds per MiB echoed.
    ms_mib: f64,
    rtt_s: f64,
    /// Server CPU microseconds per 100 B round trip.
    us_rt: f64,
    idle_kib: f64,
}

async fn measure(which: &str, window: Duration, idle: usize) -> Figures {
    let mut server = child::spawn_self(&["serve", which]).await;
    let (pid, port) = (server.pid, server.port);

    let mut ws = connect(port).await;
    let big = Message::Binary(vec![0xa5u8; BIG].into());
    echo_for(&mut ws, big.clone(), Duration::from_millis(300)).await; // warm-up
    let (start, cpu) = (Instant::now(), child::cpu_s(Some(pid)));
    let n = echo_for(&mut ws, big, window).await;
    let mib = (n as f64 * BIG as f64) / (1 << 20) as f64;
    let mib_s = mib / start.elapsed().as_secs_f64();
    let ms_mib = (child::cpu_s(Some(pid)) - cpu) * 1e3 / mib;

    let small = Message::Text("x".repeat(SMALL).into());
    echo_for(&mut ws, small.clone(), Duration::from_millis(300)).await;
    let (start, cpu) = (Instant::now(), child::cpu_s(Some(pid)));
    let n = echo_for(&mut ws, small, window).await;
    let rtt_s = n as f64 / start.elapsed().as_secs_f64();
    let us_rt = (child::cpu_s(Some(pid)) - cpu) * 1e6 / n as f64;
    ws.close(None).await.ok();
    drop(ws);

    tokio::time::sleep(Duration::from_millis(300)).await;
    let before = child::rss_kib(pid);
    let mut held = Vec::with_capacity(idle);
    for _ in 0..idle {
        held.push(connect(port).await);
    }
    // Every socket has said hello: one small echo each, then idle.
    for ws in &mut held {
        echo_for(ws, Message::Text("hi".into()), Duration::ZERO).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let after = child::rss_kib(pid);
    drop(held);
    server.child.kill().await.ok();
    Figures {
        mib_s,
        ms_mib,
        rtt_s,
        us_rt,
        idle_kib: after.saturating_sub(before) as f64,
    }
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

async fn bench(window: Duration, rounds: u64, idle: usize) {
    println!(
        "# wsframe: echo servers over loopback, one client (tokio-tungstenite), {} s windows, {rounds} rounds, order flipped each round",
        window.as_secs()
    );
    println!(
        "# tungstenite: tokio-tungstenite 0.30, read_buffer_size 4 KiB, write_buffer_size 0 (as httpout-core)"
    );
    println!(
        "# fastwebsockets: 0.10, FragmentCollector, auto close/pong, defaults otherwise (8 KiB read buffer)"
    );
    println!(
        "# tung-default: tokio-tungstenite 0.30 with its default buffers (128 KiB read, 128 KiB write)"
    );
    let head = [
        "64K MiB/s",
        "ms CPU/MiB",
        "100B rt/s",
        "us CPU/rt",
        "idle KiB/sock",
    ];
    let row = |name: &str, cells: &[String]| {
        let mut line = format!("{name:<19}");
        for c in cells {
            line.push_str(&format!(" {c:>13}"));
        }
        println!("{line}");
    };
    let cells = |f: &Figures| {
        vec![
            format!("{:.1}", f.mib_s),
            format!("{:.2}", f.ms_mib),
            format!("{:.0}", f.rtt_s),
            format!("{:.2}", f.us_rt),
            format!("{:.1}", f.idle_kib / idle as f64),
        ]
    };
    row("server round", &head.map(String::from));
    let mut all: Vec<Vec<Figures>> = SERVERS.iter().map(|_| Vec::new()).collect();
    for round in 0..rounds {
        let mut order: Vec<usize> = (0..SERVERS.len()).collect();
        if round % 2 == 1 {
            order.reverse();
        }
        for i in order {
            let f = measure(SERVERS[i], window, idle).await;
            row(&format!("{} {}", SERVERS[i], round + 1), &cells(&f));
            all[i].push(f);
        }
    }
    println!();
    println!(
        "# medians; CPU = the server's utime+stime in the window (10 ms ticks) per MiB echoed or per round trip;"
    );
    println!("# idle = server VmRSS growth with {idle} idle open sockets, KiB per socket");
    row("server", &head.map(String::from));
    let meds: Vec<Figures> = all
        .iter()
        .map(|v| {
            let med = |get: fn(&Figures) -> f64| median(v.iter().map(get).collect());
            Figures {
                mib_s: med(|f| f.mib_s),
                ms_mib: med(|f| f.ms_mib),
                rtt_s: med(|f| f.rtt_s),
                us_rt: med(|f| f.us_rt),
                idle_kib: med(|f| f.idle_kib),
            }
        })
        .collect();
    for (i, m) in meds.iter().enumerate() {
        row(SERVERS[i], &cells(m));
    }
    // Ratios to tungstenite as httpout configures it.
    let as_vec = |f: &Figures| [f.mib_s, f.ms_mib, f.rtt_s, f.us_rt, f.idle_kib];
    let base = as_vec(&meds[0]);
    for (i, name) in [(1, "fws/tung"), (2, "tung-def/tung")] {
        let ratios: Vec<String> = as_vec(&meds[i])
            .iter()
            .zip(base)
            .map(|(a, b)| {
                if b > 0.0 {
                    format!("{:.2}", a / b)
                } else {
                    "n/a".into()
                }
            })
            .collect();
        row(&format!("ratio {name}"), &ratios);
    }
}

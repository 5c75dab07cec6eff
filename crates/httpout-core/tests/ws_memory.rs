//! WebSockets and the server's memory (its RSS, read from /proc; the
//! clients are Python processes, `tests/ws/client.py`): 1 000 sockets open
//! at once stay within a bound that per-socket buffers of even 64 KiB
//! would break, and a client that reads nothing while the server floods it
//! from a thread is closed with 1008 once its send queue is full, the
//! server's memory bounded meanwhile. One test, in its own binary, so that
//! nothing else runs in the process while RSS is measured.

#[path = "support/ws.rs"]
mod ws_support;

use std::process::Stdio;
use std::time::Duration;

use http::Request;
use httpout_core::ws::{Message, SendError, Upgrade};
use httpout_core::{Body, Ctx, Error};
use httpout_test::start_with;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdout, Command};
use tokio::sync::mpsc;

use ws_support::{python, script};

const SOCKETS: usize = 1000;
const MIB: u64 = 1024 * 1024;
/// 1 000 sockets may add this much: about 40 KiB each, where the tungstenite
/// default read buffer alone would be 128 KiB.
const SOCKETS_RSS: u64 = 40 * MIB;
/// The flooded socket may add this much: its 1 MiB send queue, one
/// message in the writer, the allocator's slack.
const FLOOD_RSS: u64 = 16 * MIB;
const FLOOD_MESSAGE: usize = 64 * 1024;

fn rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .expect("VmRSS");
    kib * 1024
}

/// `/echo` echoes; `/flood` sends 64 KiB messages from a plain thread
/// until the socket refuses one, and reports how many bytes went in and
/// why it stopped.
fn handler(flooded: mpsc::UnboundedSender<(u64, SendError)>) -> impl httpout_core::Handler {
    move |mut req: Request<Body>, ctx: Ctx| {
        let flooded = flooded.clone();
        async move {
            let upgrade = Upgrade::new(&mut req)?;
            let flood = ctx.path.to_string() == "/flood";
            Ok::<_, Error>(upgrade.on_socket(move |mut socket| async move {
                if flood {
                    let sender = socket.sender();
                    std::thread::spawn(move || {
                        let chunk = bytes::Bytes::from(vec![7u8; FLOOD_MESSAGE]);
                        let mut sent = 0u64;
                        // At most 64 MiB/s, which a reading client takes
                        // at once: what fills the queue is the client not
                        // reading. Bounded: the queue is 1 MiB, the
                        // kernel's buffers a few MiB; 1.2 GiB would mean no
                        // bound at all.
                        for _ in 0..20_000 {
                            match sender.send(Message::binary(chunk.clone())) {
                                Ok(()) => sent += FLOOD_MESSAGE as u64,
                                Err(e) => {
                                    let _ = flooded.send((sent, e));
                                    return;
                                }
                            }
                            std::thread::sleep(Duration::from_millis(1));
                        }
                    });
                }
                while let Some(msg) = socket.recv().await {
                    if socket.send(msg).await.is_err() {
                        break;
                    }
                }
            }))
        }
    }
}

async fn spawn_client(args: &[&str]) -> (Child, tokio::io::Lines<BufReader<ChildStdout>>) {
    let mut child = Command::new(python())
        .arg(script())
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("python runs");
    let lines = BufReader::new(child.stdout.take().unwrap()).lines();
    (child, lines)
}

async fn line(lines: &mut tokio::io::Lines<BufReader<ChildStdout>>, limit: Duration) -> String {
    tokio::time::timeout(limit, lines.next_line())
        .await
        .expect("the client answered in time")
        .unwrap()
        .expect("the client printed a line")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousand_sockets_and_a_flooded_slow_client_keep_rss_bounded() {
    let (tx, mut flooded) = mpsc::unbounded_channel();
    let mut config = httpout_test::config();
    // Every client is on 127.0.0.1.
    config.maxc = 2 * SOCKETS as u32;
    config.maxp = 2 * SOCKETS as u32;
    let (running, addr) = start_with(config, handler(tx)).await;
    let base = format!("ws://{addr}");

    // Warm up the runtime and the allocator with a few sockets first.
    let (mut warm, mut warm_out) = spawn_client(&["many", &base, "20"]).await;
    assert_eq!(
        line(&mut warm_out, Duration::from_secs(60)).await,
        "open 20"
    );
    warm.stdin
        .take()
        .unwrap()
        .write_all(b"close\n")
        .await
        .unwrap();
    assert_eq!(line(&mut warm_out, Duration::from_secs(30)).await, "closed");
    let before = rss();

    let (mut many, mut many_out) = spawn_client(&["many", &base, &SOCKETS.to_string()]).await;
    let open = line(&mut many_out, Duration::from_secs(180)).await;
    assert_eq!(open, format!("open {SOCKETS}"));
    let with_sockets = rss();
    let grown = with_sockets.saturating_sub(before);
    println!(
        "RSS {} MiB before, {} MiB with {SOCKETS} sockets: {} KiB a socket",
        before / MIB,
        with_sockets / MIB,
        grown / 1024 / SOCKETS as u64
    );
    assert!(
        grown < SOCKETS_RSS,
        "{SOCKETS} sockets grew RSS by {} MiB (bound {} MiB)",
        grown / MIB,
        SOCKETS_RSS / MIB
    );

    // A client that reads nothing while a thread floods it.
    let (mut slow, mut slow_out) = spawn_client(&["slow", &base]).await;
    assert_eq!(
        line(&mut slow_out, Duration::from_secs(30)).await,
        "connected"
    );
    let (sent, why) = tokio::time::timeout(Duration::from_secs(60), flooded.recv())
        .await
        .expect("the flood stopped in time")
        .unwrap();
    assert_eq!(why, SendError::Overflow, "after {sent} bytes");
    // The socket took more than its queue holds before it filled: the
    // kernel's buffers, until the client stopped taking.
    assert!(sent > 2 * MIB, "overflowed after {sent} bytes");
    let flooded_rss = rss();
    println!(
        "flood stopped after {} MiB queued; RSS {} MiB",
        sent / MIB,
        flooded_rss / MIB
    );
    assert!(
        flooded_rss.saturating_sub(with_sockets) < FLOOD_RSS,
        "the slow client grew RSS by {} MiB",
        flooded_rss.saturating_sub(with_sockets) / MIB
    );
    slow.stdin
        .take()
        .unwrap()
        .write_all(b"drain\n")
        .await
        .unwrap();
    let closed = line(&mut slow_out, Duration::from_secs(60)).await;
    assert!(closed.starts_with("closed 1008 "), "{closed}");

    many.stdin
        .take()
        .unwrap()
        .write_all(b"close\n")
        .await
        .unwrap();
    assert_eq!(line(&mut many_out, Duration::from_secs(60)).await, "closed");
    running.handle().shutdown(Duration::from_secs(5)).await;
}

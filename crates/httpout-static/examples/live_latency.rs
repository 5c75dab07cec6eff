//! Live-edge latency: how long a chunk takes from the uploader to 100
//! readers of the same growing file. The client side of bench/live.sh,
//! which starts the server.
//!
//! ```sh
//! cargo run --release -p httpout-static --example live_latency -- http://127.0.0.1:PORT [READERS] [CHUNKS]
//! ```
//!
//! One chunked PUT sends CHUNKS chunks of 1 KiB, 5 ms apart; each chunk
//! starts with its send time. READERS GETs of the same path, opened before
//! the upload starts (the server runs with --wait_new), note when each chunk
//! has fully arrived. Prints p50/p99/max of (arrival - send) over all
//! readers and chunks. Client and server share the machine: the figure is an
//! upper bound of what the server adds.

use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::stream;
use http::Request;
use http_body::Frame;
use http_body_util::{BodyExt, Empty, StreamBody};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::sync::mpsc;

const CHUNK: usize = 1024;

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let base = args
        .get(1)
        .expect("usage: live_latency http://127.0.0.1:PORT [READERS] [CHUNKS]")
        .clone();
    let readers: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(100);
    let chunks: usize = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(400);
    let addr = base
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_owned();
    let epoch = Instant::now();
    let path = format!("/latency-{}.m4s", std::process::id());

    let mut tasks = Vec::new();
    for _ in 0..readers {
        let (addr, path) = (addr.clone(), path.clone());
        tasks.push(tokio::spawn(async move {
            let io = TokioIo::new(connect(&addr).await);
            let (mut send, conn) = hyper::client::conn::http1::handshake(io)
                .await
                .expect("handshake");
            tokio::spawn(conn);
            let req = Request::get(path.as_str())
                .header("host", "x")
                .body(Empty::<Bytes>::new())
                .unwrap();
            let mut body = send.send_request(req).await.expect("GET").into_body();
            let mut pending = Vec::with_capacity(CHUNK);
            let mut latencies = Vec::new();
            while let Some(frame) = body.frame().await {
                let Ok(data) = frame.expect("body").into_data() else {
                    continue;
                };
                let now = epoch.elapsed().as_nanos() as u64;
                for byte in data.iter() {
                    pending.push(*byte);
                    if pending.len() == CHUNK {
                        let sent = u64::from_be_bytes(pending[..8].try_into().unwrap());
                        latencies.push(now.saturating_sub(sent));
                        pending.clear();
                    }
                }
            }
            latencies
        }));
    }
    // Let every reader reach the server and wait for the upload.
    tokio::time::sleep(Duration::from_millis(500)).await;

    let (tx, rx) = mpsc::channel::<Result<Frame<Bytes>, std::io::Error>>(4);
    let body = StreamBody::new(stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|f| (f, rx))
    }));
    let io = TokioIo::new(connect(&addr).await);
    let (mut send, conn) = hyper::client::conn::http1::handshake(io)
        .await
        .expect("handshake");
    tokio::spawn(conn);
    let put = tokio::spawn(async move {
        send.send_request(
            Request::put(path.as_str())
                .header("host", "x")
                .body(body)
                .unwrap(),
        )
        .await
        .map(|r| r.status())
    });
    let mut tick = tokio::time::interval(Duration::from_millis(5));
    for _ in 0..chunks {
        tick.tick().await;
        let mut chunk = vec![0u8; CHUNK];
        chunk[..8].copy_from_slice(&(epoch.elapsed().as_nanos() as u64).to_be_bytes());
        tx.send(Ok(Frame::data(Bytes::from(chunk))))
            .await
            .expect("send");
    }
    drop(tx);
    let status = put.await.expect("join").expect("PUT");
    let mut all: Vec<u64> = Vec::new();
    for t in tasks {
        all.extend(t.await.expect("reader"));
    }
    all.sort_unstable();
    let pct = |p: f64| all[((all.len() as f64 * p) as usize).min(all.len() - 1)] as f64 / 1e6;
    println!(
        "PUT {status}; {readers} readers x {chunks} chunks of 1 KiB ({} deliveries): latency p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms",
        all.len(),
        pct(0.50),
        pct(0.99),
        *all.last().unwrap() as f64 / 1e6
    );
    assert_eq!(all.len(), readers * chunks, "every reader got every chunk");
}

/// A client socket without Nagle's delay, as a live packager would use.
async fn connect(addr: &str) -> TcpStream {
    let s = TcpStream::connect(addr).await.expect("connect");
    s.set_nodelay(true).expect("nodelay");
    s
}

//! Issue 12 against the live sink, over real sockets on 127.0.0.1: what a
//! listener that stops reading may cost. Part of the `attack` test group
//! (`cargo test --workspace --test 'attack*'`).

mod common;

use std::time::Duration;

use common::{AUTH, config, frames, send_chunk, serve_with, source, wait_mount};
use http_body_util::BodyExt as _;
use httpout_core::ServerConfig;
use httpout_live::Amount;
use httpout_test::{bounded, h1, request};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

/// Issue 12 item 6, through a real mount: a listener of a 128 kbit/s stream
/// fed in real time that stops reading is dropped within
/// [budget, 3 x budget + 5 s] of its request, `budget` being the lag limit
/// in time (3 s). The live sink bounds the listener socket's send buffer
/// from that budget; before, the kernel grew it to megabytes (4 MiB here:
/// over four minutes of this stream) before a write was refused. The
/// listener that reads keeps every byte. The client's receive buffer is
/// kept small, as a player's that stopped would be once full.
#[tokio::test]
async fn a_stalled_listener_of_a_real_time_stream_is_dropped_within_its_budget() {
    let budget = Duration::from_secs(3);
    let mut cfg = config();
    cfg.burst = Amount::Bytes(0);
    cfg.max_lag = Amount::Time(budget);
    let server = ServerConfig {
        timeout: Some(Duration::from_secs(600)),
        ..ServerConfig::default()
    };
    let (_server, addr, hub) = serve_with(cfg, server).await;
    let mut src = source(addr, "/live.mp3", AUTH).await;
    send_chunk(&mut src, &frames(0, 4)).await;
    wait_mount(&hub, "/live.mp3").await;

    // 128 kbit/s in real time: 4 frames (1 668 bytes) every 104 ms.
    let feeding = tokio::spawn(async move {
        for i in 1..600 {
            send_chunk(&mut src, &frames(i * 4, 4)).await;
            tokio::time::sleep(Duration::from_millis(104)).await;
        }
    });
    let mut reader = h1(bounded(TcpStream::connect(addr)).await.unwrap()).await;
    let res = bounded(reader.send_request(request("GET", "/live.mp3", &[])))
        .await
        .unwrap();
    let mut body = res.into_body();
    let reading = tokio::spawn(async move {
        let mut got = 0usize;
        while let Ok(Some(Ok(f))) = tokio::time::timeout(Duration::from_secs(5), body.frame()).await
        {
            got += f.into_data().map_or(0, |d| d.len());
        }
        got
    });

    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut stalled = bounded(socket.connect(addr)).await.unwrap();
    let asked = std::time::Instant::now();
    stalled
        .write_all(b"GET /live.mp3 HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let stream = hub.get("/live.mp3").unwrap();
    let limit = 3 * budget + Duration::from_secs(5);
    tokio::time::timeout(limit + Duration::from_secs(5), async {
        while stream.listeners() < 2 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        while stream.listeners() > 1 {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("the stalled listener was dropped");
    let cut = asked.elapsed();
    eprintln!("stalled listener of a 128 kbit/s mount dropped after {cut:?} (budget {budget:?})");
    assert!(
        cut >= budget && cut <= limit,
        "dropped {cut:?} after its request; budget {budget:?}"
    );
    // The reader stays, fed all along (half the media rate is a bound a
    // loaded machine's feeder keeps).
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(stream.listeners(), 1);
    feeding.abort();
    let got = bounded(reading).await.unwrap();
    assert!(
        got as f64 >= 16_000.0 * cut.as_secs_f64() * 0.5,
        "the reading listener got {got} bytes in {cut:?}"
    );
}

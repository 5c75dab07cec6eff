//! The live sink over real sockets: a source client (raw HTTP/1.1 chunked
//! PUT, as Icecast source clients send) and listeners (hyper's client and
//! raw TCP) on 127.0.0.1. Every wait is bounded.

mod common;

use std::time::Duration;

use bytes::Bytes;
use common::{
    AUTH, FRAME_LEN, Via, config, end_source, frames, listen, read_n, send_chunk, serve, serve_via,
    serve_with, source, wait_mount, wait_published,
};
use http_body_util::BodyExt as _;
use httpout_core::ServerConfig;
use httpout_live::Amount;
use httpout_live::{Hub, LiveHandler};
use httpout_test::{bounded, h1, read_until, request, start_with};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

#[tokio::test]
async fn listeners_get_the_burst_from_a_frame_boundary_then_live() {
    burst_then_live(Via::H1).await;
}

#[tokio::test]
async fn listeners_get_the_burst_then_live_over_h2c() {
    burst_then_live(Via::H2c).await;
}

#[tokio::test]
async fn listeners_get_the_burst_then_live_over_tls() {
    burst_then_live(Via::Tls).await;
}

/// Listeners `via` one transport: HTTP/1.1 on plain TCP is written outside
/// hyper, h2c and TLS through hyper; the bytes are the same.
async fn burst_then_live(via: Via) {
    let relay = serve_via(config(), via).await;
    let (addr, hub) = (relay.addr, &relay.hub);
    let mut src = source(addr, "/live.mp3", AUTH).await;
    // Four batches of five frames, each sent once the previous one is out,
    // so that the ring holds four chunks.
    for i in 0..4 {
        send_chunk(&mut src, &frames(i * 5, 5)).await;
        wait_published(hub, "/live.mp3", (i + 1) * 5 * FRAME_LEN).await;
    }

    let res = listen(&relay, via, "/live.mp3", &[]).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "audio/mpeg");
    assert_eq!(res.headers()["icy-name"], "Test Radio");
    assert_eq!(res.headers()["icy-pub"], "0");
    assert_eq!(res.headers()["icy-genre"], "Test");
    assert_eq!(res.headers()["cache-control"], "no-cache, no-store");
    assert!(res.headers().get("icy-metaint").is_none(), "not asked for");
    let mut body = res.into_body();
    // The burst: the last whole frames covering 4096 bytes (10 × 417).
    let burst = read_n(&mut body, 10 * FRAME_LEN).await;
    assert!(burst == frames(10, 10), "the burst is frames 10 to 19");

    // Then live: the next frames, in order, nothing lost.
    send_chunk(&mut src, &frames(20, 30)).await;
    let live = read_n(&mut body, 30 * FRAME_LEN).await;
    assert!(live == frames(20, 30), "live frames in order");

    // A second listener joining later starts on a frame too, and sees the
    // same live bytes as the first.
    let res = listen(&relay, via, "/live.mp3", &[]).await;
    let mut body2 = res.into_body();
    // Its burst: the 30-frame chunk just sent (whole chunks, from a frame).
    let burst2 = read_n(&mut body2, 30 * FRAME_LEN).await;
    assert!(
        burst2 == frames(20, 30),
        "the second burst is the last chunk"
    );
    send_chunk(&mut src, &frames(50, 5)).await;
    let tail = frames(50, 5);
    assert!(read_n(&mut body, tail.len()).await == tail);

    // The source ends: listeners' bodies end cleanly, the mount is gone.
    assert!(end_source(src).await.contains("200"));
    let mut rest = Vec::new();
    while let Some(frame) = bounded(body2.frame()).await {
        rest.extend_from_slice(&frame.expect("clean end").into_data().unwrap_or_default());
    }
    assert!(
        rest == tail,
        "the second listener got the tail, then the end"
    );
    let res = listen(&relay, via, "/live.mp3", &[]).await;
    assert_eq!(res.status(), 404);
    let text = res.into_body().collect().await.unwrap().to_bytes();
    assert!(String::from_utf8_lossy(&text).contains("no longer available"));
}

#[tokio::test]
async fn a_listener_that_stops_reading_is_dropped_and_others_keep_up() {
    let mut cfg = config();
    cfg.burst = Amount::Bytes(0);
    cfg.max_lag = Amount::Bytes(1 << 20);
    // The source sends far faster than the 128 kbit/s its frames say, so
    // 1 MiB of lag stands for a minute of media: the connection timeout
    // (3 s here) cuts the stalled listener first.
    let server = ServerConfig {
        timeout: Some(Duration::from_secs(3)),
        ..ServerConfig::default()
    };
    let (_server, addr, hub) = serve_with(cfg, server).await;
    let mut src = source(addr, "/live.mp3", AUTH).await;
    send_chunk(&mut src, &frames(0, 1)).await;
    wait_mount(&hub, "/live.mp3").await;

    // The stalled listener: a request, then never a read.
    let mut stalled = bounded(TcpStream::connect(addr)).await.unwrap();
    stalled
        .write_all(b"GET /live.mp3 HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut reader = h1(bounded(TcpStream::connect(addr)).await.unwrap()).await;
    let res = bounded(reader.send_request(request("GET", "/live.mp3", &[])))
        .await
        .unwrap();
    let mut body = res.into_body();
    tokio::time::sleep(Duration::from_millis(100)).await;

    // 20 MB through the relay at about 10 MB/s: far more than the stalled
    // socket's buffers and the 1 MiB lag limit. The reading listener gets
    // every byte.
    let total_frames = 48_000;
    let reading = tokio::spawn(async move {
        let mut got = 0usize;
        // Frame 0 may or may not come first (the framer holds a first
        // frame until the next one confirms it): start where it starts.
        let mut frame_no = None;
        let mut pending = Vec::new();
        while got < (total_frames - 1) * FRAME_LEN {
            let Some(Ok(f)) = tokio::time::timeout(Duration::from_secs(20), body.frame())
                .await
                .expect("reader starved")
            else {
                panic!("reader ended after {got} bytes");
            };
            let data = f.into_data().unwrap_or_default();
            got += data.len();
            pending.extend_from_slice(&data);
            while pending.len() >= FRAME_LEN {
                let frame: Vec<u8> = pending.drain(..FRAME_LEN).collect();
                let no = frame_no.get_or_insert(usize::from(frame[4]));
                assert_eq!(frame[4], (*no % 200) as u8, "frame {no} in order");
                *no += 1;
            }
        }
        got
    });
    for batch in 0..(total_frames / 100) {
        send_chunk(&mut src, &frames(1 + batch * 100, 100)).await;
        tokio::time::sleep(Duration::from_millis(4)).await;
    }
    let got = tokio::time::timeout(Duration::from_secs(60), reading)
        .await
        .expect("reader finished")
        .unwrap();
    assert!(got >= (total_frames - 1) * FRAME_LEN);

    // The stalled one was dropped and counted (by lag or by its stall limit).
    let stream = hub.get("/live.mp3").unwrap();
    let status = bounded(async {
        for _ in 0..45 {
            let mut c = h1(TcpStream::connect(addr).await.unwrap()).await;
            let res = c
                .send_request(request("GET", "/status-json.xsl", &[]))
                .await
                .unwrap();
            let json: serde_json::Value =
                serde_json::from_slice(&res.into_body().collect().await.unwrap().to_bytes())
                    .unwrap();
            if json["icestats"]["source"][0]["listeners_dropped"] == 1 {
                return json;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        panic!("the stalled listener was not dropped");
    })
    .await;
    assert_eq!(stream.listeners(), 1, "{status}");
    let src0 = &status["icestats"]["source"][0];
    assert_eq!(src0["mount"], "/live.mp3");
    assert_eq!(src0["server_name"], "Test Radio");
    assert!(src0["bytes_out"].as_u64().unwrap() >= (total_frames * FRAME_LEN) as u64);
    let mut buf = [0u8; 1024];
    // Its connection is closed: what it reads ends (after the buffered bytes).
    let end = bounded(async {
        loop {
            match stalled.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    });
    end.await;
    drop(src);
}

#[tokio::test]
async fn icy_metadata_blocks_follow_the_title_updates() {
    icy_titles(Via::H1).await;
}

#[tokio::test]
async fn icy_metadata_blocks_follow_the_title_updates_over_h2c() {
    icy_titles(Via::H2c).await;
}

#[tokio::test]
async fn icy_metadata_blocks_follow_the_title_updates_over_tls() {
    icy_titles(Via::Tls).await;
}

async fn icy_titles(via: Via) {
    let mut cfg = config();
    cfg.title = Some("First".into());
    let relay = serve_via(cfg, via).await;
    let addr = relay.addr;
    let mut src = source(addr, "/radio.mp3", AUTH).await;
    send_chunk(&mut src, &frames(0, 10)).await;
    wait_mount(&relay.hub, "/radio.mp3").await;

    let res = listen(&relay, via, "/radio.mp3", &[("icy-metadata", "1")]).await;
    assert_eq!(res.headers()["icy-metaint"], "1000");
    let mut body = res.into_body();
    // Burst (10 frames = 4170 bytes) → blocks after bytes 1000, 2000, ...
    let got = read_n(&mut body, 1000 + 1 + 48).await;
    assert_eq!(&got[..2], &[0xFF, 0xFB]);
    let len = got[1000] as usize * 16;
    let text = String::from_utf8_lossy(&got[1001..1001 + len]);
    assert!(text.starts_with("StreamTitle='First';"), "{text:?}");

    // A wrong password may not change the title; the right one may.
    let update = "/admin/metadata?mount=/radio.mp3&mode=updinfo&song=Artist%20-%20Second";
    let mut a = h1(bounded(TcpStream::connect(addr)).await.unwrap()).await;
    let res = bounded(a.send_request(request(
        "GET",
        update,
        &[("authorization", "Basic c291cmNlOm5vcGU=")],
    )))
    .await
    .unwrap();
    assert_eq!(res.status(), 401);
    let res = bounded(a.send_request(request("GET", update, &[("authorization", AUTH)])))
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let xml = res.into_body().collect().await.unwrap().to_bytes();
    assert!(String::from_utf8_lossy(&xml).contains("<return>1</return>"));

    // Keep reading: an unchanged title is one zero byte, then the new one.
    send_chunk(&mut src, &frames(10, 20)).await;
    let mut stream_bytes = got;
    let more = read_n(&mut body, 6000).await;
    stream_bytes.extend_from_slice(&more);
    let mut titles = Vec::new();
    let mut at = 1001 + len;
    while at + 1000 < stream_bytes.len() {
        at += 1000;
        let l = stream_bytes[at] as usize * 16;
        if l > 0 && at + 1 + l <= stream_bytes.len() {
            titles.push(String::from_utf8_lossy(&stream_bytes[at + 1..at + 1 + l]).into_owned());
        }
        at += 1 + l;
    }
    assert!(
        titles
            .iter()
            .any(|t| t.starts_with("StreamTitle='Artist - Second';")),
        "{titles:?}"
    );
    drop(src);
}

#[tokio::test]
async fn sources_need_the_password_and_a_free_mount() {
    let (_server, addr, hub) = serve(config()).await;
    // Wrong password: 401 with a Basic challenge, before any body byte.
    let mut bad = source(addr, "/a.mp3", "Basic c291cmNlOm5vcGU=").await;
    let head = bounded(read_until(&mut bad, "\r\n\r\n")).await;
    assert!(head.starts_with("HTTP/1.1 401"), "{head}");
    assert!(
        head.to_ascii_lowercase()
            .contains("www-authenticate: basic"),
        "{head}"
    );

    // The mount is taken while a source sends: a second one gets 403.
    let mut first = source(addr, "/a.mp3", AUTH).await;
    send_chunk(&mut first, &frames(0, 2)).await;
    wait_mount(&hub, "/a.mp3").await;
    let mut second = source(addr, "/a.mp3", AUTH).await;
    let head = bounded(read_until(&mut second, "\r\n\r\n")).await;
    assert!(head.starts_with("HTTP/1.1 403"), "{head}");
    assert!(end_source(first).await.contains("200"));

    // Without a password configured, sources are refused.
    let mut cfg = config();
    cfg.source_password = None;
    let (_server2, addr2, _hub2) = serve(cfg).await;
    let mut none = source(addr2, "/a.mp3", AUTH).await;
    let answer = bounded(read_until(&mut none, "--source_password")).await;
    assert!(answer.starts_with("HTTP/1.1 403"), "{answer}");
}

#[tokio::test]
async fn with_reopen_listeners_stay_through_a_source_change() {
    let mut cfg = config();
    cfg.reopen = true;
    cfg.burst = Amount::Bytes(0);
    let (_server, addr, hub) = serve(cfg).await;
    let mut src = source(addr, "/live.mp3", AUTH).await;
    send_chunk(&mut src, &frames(0, 2)).await;
    // Those frames are out before we join.
    wait_published(&hub, "/live.mp3", 2 * FRAME_LEN).await;
    let mut c = h1(bounded(TcpStream::connect(addr)).await.unwrap()).await;
    let res = bounded(c.send_request(request("GET", "/live.mp3", &[])))
        .await
        .unwrap();
    let mut body = res.into_body();
    send_chunk(&mut src, &frames(2, 3)).await;
    assert!(read_n(&mut body, 3 * FRAME_LEN).await == frames(2, 3));
    assert!(end_source(src).await.contains("200"));

    // The next source continues the same stream for the same listener.
    let mut next = source(addr, "/live.mp3", AUTH).await;
    send_chunk(&mut next, &frames(7, 4)).await;
    assert_eq!(read_n(&mut body, 4 * FRAME_LEN).await, frames(7, 4));
    let head = Bytes::from(frames(11, 1));
    send_chunk(&mut next, &head).await;
    assert_eq!(read_n(&mut body, FRAME_LEN).await, head);
}

#[tokio::test]
async fn an_icecast_source_without_a_length_streams_until_it_closes() {
    let server = ServerConfig {
        conn_hook: Some(httpout_live::SourceClients::hook()),
        ..ServerConfig::default()
    };
    let (_server, addr, hub) = serve_with(config(), server).await;
    // As ffmpeg's icecast:// and libshout send it: no length, no chunks.
    let mut src = bounded(TcpStream::connect(addr)).await.unwrap();
    let head = format!(
        "PUT /ice.mp3 HTTP/1.1\r\nHost: x\r\nAuthorization: {AUTH}\r\n\
         Content-Type: audio/mpeg\r\nIce-Public: 1\r\n\r\n"
    );
    src.write_all(head.as_bytes()).await.unwrap();
    src.write_all(&frames(0, 3)).await.unwrap();
    wait_mount(&hub, "/ice.mp3").await;
    let mut c = h1(bounded(TcpStream::connect(addr)).await.unwrap()).await;
    let res = bounded(c.send_request(request("GET", "/ice.mp3", &[])))
        .await
        .unwrap();
    assert_eq!(res.headers()["icy-pub"], "1");
    let mut body = res.into_body();
    assert!(read_n(&mut body, 3 * FRAME_LEN).await == frames(0, 3));
    src.write_all(&frames(3, 2)).await.unwrap();
    assert!(read_n(&mut body, 2 * FRAME_LEN).await == frames(3, 2));
    // Closing its side ends the stream; the source still gets its answer.
    src.shutdown().await.unwrap();
    let answer = bounded(read_until(&mut src, "\r\n\r\n")).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(
        bounded(body.frame()).await.is_none(),
        "the listener's body ends"
    );
}

#[tokio::test]
async fn a_fifo_input_with_reopen_keeps_listeners_across_writers() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("in.mp3");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    let mut cfg = config();
    cfg.reopen = true;
    cfg.burst = Amount::Bytes(0);
    let hub = Hub::new();
    let input = httpout_live::input::Input::declare(&hub, &cfg, fifo.to_str().unwrap(), "/in.mp3");
    let relay = tokio::spawn(input.run());
    let (_server, addr) =
        start_with(ServerConfig::default(), LiveHandler::new(hub.clone(), cfg)).await;

    // A listener may connect before any writer: it waits.
    let mut c = h1(bounded(TcpStream::connect(addr)).await.unwrap()).await;
    let res = bounded(c.send_request(request("GET", "/in.mp3", &[])))
        .await
        .unwrap();
    assert_eq!(res.headers()["content-type"], "audio/mpeg");
    let mut body = res.into_body();
    for (writer, first) in [(1, 0), (2, 100)] {
        let path = fifo.clone();
        let data = frames(first, 5);
        tokio::task::spawn_blocking(move || {
            use std::io::Write;
            let mut f = std::fs::OpenOptions::new().write(true).open(path).unwrap();
            f.write_all(&data).unwrap();
        })
        .await
        .unwrap();
        let got = read_n(&mut body, 5 * FRAME_LEN).await;
        assert!(got == frames(first, 5), "writer {writer}'s frames");
    }
    relay.abort();
}

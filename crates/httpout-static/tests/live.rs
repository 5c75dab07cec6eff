//! The file sink's live edge over real sockets: files served while they are
//! uploaded (HTTP/1.1 and h2), aborted writers, ranges on growing files,
//! waiting for the next segment, many readers. Every wait is bounded.

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::serve;
use futures_util::stream;
use http::{Request, StatusCode};
use http_body::Frame;
use http_body_util::{BodyExt, Empty, StreamBody};
use httpout_test::*;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpStream;
use tokio::sync::mpsc;

type Chunks = mpsc::Sender<Result<Frame<Bytes>, std::io::Error>>;

/// Starts a chunked PUT whose body is fed through the returned sender;
/// the task resolves to the response status.
async fn start_put(addr: SocketAddr, path: &str) -> (Chunks, tokio::task::JoinHandle<StatusCode>) {
    let (tx, rx) = mpsc::channel::<Result<Frame<Bytes>, std::io::Error>>(8);
    let body = StreamBody::new(stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|f| (f, rx))
    }));
    let (mut send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(
        TcpStream::connect(addr).await.unwrap(),
    ))
    .await
    .unwrap();
    tokio::spawn(conn);
    let req = Request::put(path).header("host", "x").body(body).unwrap();
    let task = tokio::spawn(async move {
        match send.send_request(req).await {
            Ok(res) => res.status(),
            Err(_) => StatusCode::from_u16(599).unwrap(),
        }
    });
    (tx, task)
}

async fn chunk(tx: &Chunks, data: &'static [u8]) {
    tx.send(Ok(Frame::data(Bytes::from_static(data))))
        .await
        .unwrap();
}

/// A GET response whose body is read frame by frame, with arrival times.
async fn get_frames(
    res: http::Response<hyper::body::Incoming>,
) -> (
    StatusCode,
    http::HeaderMap,
    Vec<(Instant, Bytes)>,
    Result<(), String>,
) {
    let (parts, mut body) = res.into_parts();
    let mut frames = Vec::new();
    let outcome = bounded(async {
        loop {
            match body.frame().await {
                None => return Ok(()),
                Some(Ok(f)) => {
                    if let Ok(d) = f.into_data() {
                        frames.push((Instant::now(), d));
                    }
                }
                Some(Err(e)) => return Err(e.to_string()),
            }
        }
    })
    .await;
    (parts.status, parts.headers, frames, outcome)
}

fn joined(frames: &[(Instant, Bytes)]) -> Vec<u8> {
    frames.iter().flat_map(|(_, b)| b.to_vec()).collect()
}

/// Waits (at most 500 tries of 10 ms, and [`bounded`]) until a HEAD of
/// `path` is 200, i.e. its upload is visible; returns that HEAD's headers.
async fn until_growing(addr: SocketAddr, path: &str) -> http::HeaderMap {
    bounded(async {
        for _ in 0..500 {
            let mut c = h1(TcpStream::connect(addr).await.unwrap()).await;
            let res = c.send_request(request("HEAD", path, &[])).await.unwrap();
            if res.status() == 200 {
                return res.headers().clone();
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("{path} never became visible");
    })
    .await
}

#[tokio::test]
async fn readers_get_each_chunk_before_the_upload_ends_h1_and_h2() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display().to_string();
    let (_s, addr) = serve(&[&format!("--rdirs={d}"), &format!("--wdir={d}")]).await;
    let (tx, put) = start_put(addr, "/live/seg_1.m4s").await;
    chunk(&tx, b"first ").await;
    // Wait until the upload is visible, then read over h1 and h2.
    let head = until_growing(addr, "/live/seg_1.m4s").await;
    assert!(
        !head.contains_key("content-length"),
        "no length while growing"
    );
    assert!(
        !head.contains_key("etag"),
        "no strong validator while growing"
    );
    let mut c1 = h1(TcpStream::connect(addr).await.unwrap()).await;
    let mut c2 = h2(TcpStream::connect(addr).await.unwrap()).await;
    let r1 = tokio::spawn(async move {
        get_frames(c1.send_request(get("/live/seg_1.m4s")).await.unwrap()).await
    });
    let r2 = tokio::spawn(async move {
        get_frames(c2.send_request(get("/live/seg_1.m4s")).await.unwrap()).await
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    chunk(&tx, b"second ").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    chunk(&tx, b"third").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let put_ended = Instant::now();
    drop(tx);
    assert_eq!(bounded(put).await.unwrap(), 201);
    for reader in [r1, r2] {
        let (status, headers, frames, outcome) = bounded(reader).await.unwrap();
        assert_eq!(status, 200);
        assert!(!headers.contains_key("content-length"));
        outcome.expect("a clean end once the upload completed");
        assert_eq!(joined(&frames), b"first second third");
        assert!(
            frames[0].0 < put_ended,
            "the first bytes came before the upload ended"
        );
        assert!(
            frames.len() >= 3,
            "each chunk was sent as it came: {} frames",
            frames.len()
        );
    }
    // Once complete: an ordinary response with a length.
    let (s, h, body) = {
        let mut c = h1(TcpStream::connect(addr).await.unwrap()).await;
        read_bytes(c.send_request(get("/live/seg_1.m4s")).await.unwrap()).await
    };
    assert_eq!((s.as_u16(), &body[..]), (200, &b"first second third"[..]));
    assert_eq!(h["content-length"], "18");
}

#[tokio::test]
async fn an_aborted_upload_ends_readers_in_an_error_and_keeps_the_old_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("seg.m4s"), "previous complete version").unwrap();
    let d = dir.path().display().to_string();
    let (_s, addr) = serve(&[&format!("--rdirs={d}"), &format!("--wdir={d}")]).await;
    let (tx, put) = start_put(addr, "/seg.m4s").await;
    chunk(&tx, b"partial").await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut c1 = h1(TcpStream::connect(addr).await.unwrap()).await;
    let mut c2 = h2(TcpStream::connect(addr).await.unwrap()).await;
    let r1 =
        tokio::spawn(
            async move { get_frames(c1.send_request(get("/seg.m4s")).await.unwrap()).await },
        );
    let r2 =
        tokio::spawn(
            async move { get_frames(c2.send_request(get("/seg.m4s")).await.unwrap()).await },
        );
    tokio::time::sleep(Duration::from_millis(200)).await;
    // The writer fails mid-body.
    tx.send(Err(std::io::Error::other("encoder crashed")))
        .await
        .unwrap();
    let _ = bounded(put).await;
    for reader in [r1, r2] {
        let (status, _, frames, outcome) = bounded(reader).await.unwrap();
        assert_eq!(status, 200);
        assert_eq!(joined(&frames), b"partial");
        assert!(outcome.is_err(), "a truncated segment must not end cleanly");
    }
    let mut c = h1(TcpStream::connect(addr).await.unwrap()).await;
    let (_, _, body) = read_bytes(c.send_request(get("/seg.m4s")).await.unwrap()).await;
    assert_eq!(&body[..], b"previous complete version");
}

#[tokio::test]
async fn ranges_on_a_growing_file_wait_at_the_edge() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display().to_string();
    let (_s, addr) = serve(&[&format!("--rdirs={d}"), &format!("--wdir={d}")]).await;
    let (tx, put) = start_put(addr, "/part.mp4").await;
    chunk(&tx, b"0123456789").await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let ask = |range: &'static str| async move {
        let mut c = h1(TcpStream::connect(addr).await.unwrap()).await;
        get_frames(
            c.send_request(request("GET", "/part.mp4", &[("range", range)]))
                .await
                .unwrap(),
        )
        .await
    };
    let open = tokio::spawn(ask("bytes=15-"));
    let closed = tokio::spawn(ask("bytes=12-17"));
    let written = tokio::spawn(ask("bytes=2-4"));
    let (s, h, frames, _) = bounded(written).await.unwrap();
    assert_eq!((s.as_u16(), joined(&frames)), (206, b"234".to_vec()));
    assert_eq!(h["content-range"], "bytes 2-4/*");
    tokio::time::sleep(Duration::from_millis(100)).await;
    chunk(&tx, b"abcdefghij").await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    drop(tx);
    assert_eq!(bounded(put).await.unwrap(), 201);
    let (s, h, frames, outcome) = bounded(open).await.unwrap();
    assert_eq!((s.as_u16(), joined(&frames)), (206, b"fghij".to_vec()));
    assert_eq!(
        h["content-range"], "bytes 15-9007199254740991/*",
        "RFC 8673"
    );
    outcome.unwrap();
    let (s, h, frames, outcome) = bounded(closed).await.unwrap();
    assert_eq!((s.as_u16(), joined(&frames)), (206, b"cdefgh".to_vec()));
    assert_eq!(h["content-range"], "bytes 12-17/*");
    outcome.unwrap();
    // Finished: past the end is 416.
    let mut c = h1(TcpStream::connect(addr).await.unwrap()).await;
    let (s, h, _) = read_bytes(
        c.send_request(request("GET", "/part.mp4", &[("range", "bytes=40-")]))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (s.as_u16(), h["content-range"].to_str().unwrap()),
        (416, "bytes */20")
    );
}

#[tokio::test]
async fn wait_new_holds_a_request_for_the_next_segment() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display().to_string();
    let (_s, addr) = serve(&[
        &format!("--rdirs={d}"),
        &format!("--wdir={d}"),
        "--wait_new=3000",
    ])
    .await;
    let early = tokio::spawn(async move {
        let mut c = h1(TcpStream::connect(addr).await.unwrap()).await;
        get_frames(c.send_request(get("/seg_2.m4s")).await.unwrap()).await
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (tx, put) = start_put(addr, "/seg_2.m4s").await;
    chunk(&tx, b"next segment").await;
    drop(tx);
    assert_eq!(bounded(put).await.unwrap(), 201);
    let (s, _, frames, outcome) = bounded(early).await.unwrap();
    assert_eq!(
        (s.as_u16(), joined(&frames)),
        (200, b"next segment".to_vec())
    );
    outcome.unwrap();
    // Nothing comes: 404 after the wait; without wait_new, 404 at once.
    let started = Instant::now();
    let (_s2, addr2) = serve(&[&format!("--rdirs={d}"), "--wait_new=200"]).await;
    let mut c = h1(TcpStream::connect(addr2).await.unwrap()).await;
    let (s, _, _) = read_bytes(c.send_request(get("/never.m4s")).await.unwrap()).await;
    assert_eq!(s, 404);
    assert!(started.elapsed() >= Duration::from_millis(200));
}

#[tokio::test]
async fn two_hundred_readers_of_one_growing_segment() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display().to_string();
    let (_s, addr) = serve(&[&format!("--rdirs={d}"), &format!("--wdir={d}"), "--maxc=0"]).await;
    let (tx, put) = start_put(addr, "/hot.m4s").await;
    chunk(&tx, b"[start]").await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    // Half over HTTP/1.1 connections, half as streams of one h2 connection.
    let mut readers = Vec::new();
    let (mut h2c, conn) = hyper::client::conn::http2::handshake(
        TokioExecutor::new(),
        TokioIo::new(TcpStream::connect(addr).await.unwrap()),
    )
    .await
    .unwrap();
    tokio::spawn(conn);
    for i in 0..200 {
        if i % 2 == 0 {
            let mut c = h1(TcpStream::connect(addr).await.unwrap()).await;
            readers.push(tokio::spawn(async move {
                get_frames(c.send_request(get("/hot.m4s")).await.unwrap()).await
            }));
        } else {
            let req = Request::get("/hot.m4s")
                .body(Empty::<Bytes>::new())
                .unwrap();
            let fut = h2c.send_request(req);
            readers.push(tokio::spawn(
                async move { get_frames(fut.await.unwrap()).await },
            ));
            h2c.ready().await.unwrap();
        }
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut expected = b"[start]".to_vec();
    for part in [&b"[middle]"[..], &b"[end]"[..]] {
        tx.send(Ok(Frame::data(Bytes::from_static(part))))
            .await
            .unwrap();
        expected.extend_from_slice(part);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    drop(tx);
    assert_eq!(bounded(put).await.unwrap(), 201);
    for r in readers {
        let (s, _, frames, outcome) = bounded(r).await.unwrap();
        assert_eq!(s, 200);
        outcome.unwrap();
        assert_eq!(joined(&frames), expected);
    }
}

/// Issue 11 item 16: a file served from the live edge carries the same
/// `Cache-Control` (`--cache_control`) as a complete file, on HEAD, GET and
/// ranges — an LL-DASH origin needs it there most.
#[tokio::test]
async fn growing_files_get_the_cache_control_of_complete_files() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display().to_string();
    let (_s, addr) = serve(&[
        &format!("--rdirs={d}"),
        &format!("--wdir={d}"),
        "--cache_control=max-age=1, public",
    ])
    .await;
    let (tx, put) = start_put(addr, "/live/seg_7.m4s").await;
    chunk(&tx, b"growing").await;
    let head = until_growing(addr, "/live/seg_7.m4s").await;
    assert!(!head.contains_key("content-length"), "still growing");
    assert_eq!(head["cache-control"], "max-age=1, public");
    let mut c1 = h1(TcpStream::connect(addr).await.unwrap()).await;
    let mut c2 = h2(TcpStream::connect(addr).await.unwrap()).await;
    let whole = bounded(c1.send_request(get("/live/seg_7.m4s")))
        .await
        .unwrap();
    let ranged =
        bounded(c2.send_request(request("GET", "/live/seg_7.m4s", &[("range", "bytes=2-")])))
            .await
            .unwrap();
    assert_eq!(
        (whole.status().as_u16(), ranged.status().as_u16()),
        (200, 206)
    );
    for res in [&whole, &ranged] {
        assert_eq!(res.headers()["cache-control"], "max-age=1, public");
        // Issue 13: the one response builder gives them the other headers
        // of a complete file too.
        assert_eq!(res.headers()["accept-ranges"], "bytes");
        assert_eq!(res.headers()["content-type"], "video/mp4");
    }
    chunk(&tx, b" done").await;
    drop(tx);
    assert_eq!(bounded(put).await.unwrap(), 201);
    let (_, _, frames, outcome) = get_frames(whole).await;
    outcome.expect("complete");
    assert_eq!(joined(&frames), b"growing done");
    // Complete now: the same header from disk.
    let (s, h, _) = {
        let mut c = h1(TcpStream::connect(addr).await.unwrap()).await;
        read_bytes(c.send_request(get("/live/seg_7.m4s")).await.unwrap()).await
    };
    assert_eq!(s, 200);
    assert_eq!(h["content-length"], "12");
    assert_eq!(h["cache-control"], "max-age=1, public");
    assert_eq!(h["accept-ranges"], "bytes");
}

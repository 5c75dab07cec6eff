//! The static server's write side over real sockets on 127.0.0.1: status
//! codes, atomicity under abort, timeout and size limit, partial uploads,
//! forms, traversal attempts. Every wait is bounded.

mod common;

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use bytes::Bytes;
use common::serve;
use http::{HeaderMap, StatusCode};
use http_body_util::Full;
use httpout_test::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn arg(name: &str, dir: &Path) -> String {
    format!("--{name}={}", dir.display())
}

/// Sends a request with a body in one go.
async fn send(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (StatusCode, HeaderMap, Bytes) {
    let (mut c, conn) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(
        TcpStream::connect(addr).await.unwrap(),
    ))
    .await
    .unwrap();
    tokio::spawn(conn);
    let mut req = http::Request::builder()
        .method(method)
        .uri(path)
        .header("host", "x");
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let req = req.body(Full::new(Bytes::copy_from_slice(body))).unwrap();
    read_bytes(bounded(c.send_request(req)).await.unwrap()).await
}

/// Files in `dir` whose name marks an upload in progress.
fn temporaries(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for entry in walk(dir) {
        let name = entry.file_name().unwrap().to_string_lossy().into_owned();
        if name.starts_with(".httpout-upload-") {
            out.push(name);
        }
    }
    out
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if e.file_type().unwrap().is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// Waits (bounded) until no temporary upload file is left in `dir`.
async fn no_temporaries(dir: &Path) {
    bounded(async {
        while !temporaries(dir).is_empty() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
}

#[tokio::test]
async fn create_replace_delete_and_their_status_codes() {
    let r = tempfile::tempdir().unwrap();
    let w = tempfile::tempdir().unwrap();
    let (_s, addr) = serve(&[&arg("rdirs", w.path()), &arg("wdir", w.path())]).await;
    let (s, h, _) = send(addr, "PUT", "/live/v1/seg%201.m4s", &[], b"first").await;
    assert_eq!(s, 201);
    assert_eq!(h["location"], "/live/v1/seg%201.m4s");
    assert_eq!(
        std::fs::read(w.path().join("live/v1/seg 1.m4s")).unwrap(),
        b"first"
    );
    let (s, _, _) = send(addr, "POST", "/live/v1/seg%201.m4s", &[], b"second").await;
    assert_eq!(s, 204);
    let (s, _, body) = send(addr, "GET", "/live/v1/seg%201.m4s", &[], b"").await;
    assert_eq!((s.as_u16(), &body[..]), (200, &b"second"[..]));
    let (s, _, _) = send(addr, "DELETE", "/live/v1/seg%201.m4s", &[], b"").await;
    assert_eq!(s, 204);
    assert!(!w.path().join("live/v1/seg 1.m4s").exists());
    let (s, _, _) = send(addr, "DELETE", "/live/v1/seg%201.m4s", &[], b"").await;
    assert_eq!(s, 404, "GPAC says 204 here; clients need the truth");
    let (s, _, _) = send(addr, "DELETE", "/nowhere/x", &[], b"").await;
    assert_eq!(s, 404);

    // Directories: writing over one, or through a file, is a conflict.
    let (s, _, _) = send(addr, "PUT", "/live", &[], b"x").await;
    assert_eq!(s, 409);
    let (s, _, _) = send(addr, "PUT", "/live/", &[], b"x").await;
    assert_eq!(s, 409);
    send(addr, "PUT", "/file", &[], b"x").await;
    let (s, _, _) = send(addr, "PUT", "/file/below", &[], b"x").await;
    assert_eq!(s, 409);
    let (s, _, _) = send(addr, "DELETE", "/live", &[], b"").await;
    assert_eq!(s, 409);
    let (s, h, _) = send(addr, "OPTIONS", "/x", &[], b"").await;
    assert_eq!(
        (s.as_u16(), h["allow"].to_str().unwrap()),
        (204, "GET, HEAD, PUT, POST, PATCH, DELETE, OPTIONS")
    );

    // No write directory: 405 with Allow.
    let (_s2, ro) = serve(&[&arg("rdirs", r.path())]).await;
    for method in ["PUT", "POST", "DELETE"] {
        let (s, h, _) = send(ro, method, "/x", &[], b"x").await;
        assert_eq!(
            (s.as_u16(), h["allow"].to_str().unwrap()),
            (405, "GET, HEAD, OPTIONS"),
            "{method}"
        );
    }
    // A write-only server.
    let (_s3, wo) = serve(&[&arg("wdir", w.path())]).await;
    let (s, h, _) = send(wo, "GET", "/file", &[], b"").await;
    assert_eq!(
        (s.as_u16(), h["allow"].to_str().unwrap()),
        (405, "PUT, POST, PATCH, DELETE, OPTIONS")
    );
    let (s, _, _) = send(wo, "PUT", "/new", &[], b"y").await;
    assert_eq!(s, 201);
}

#[tokio::test]
async fn an_aborted_upload_never_replaces_the_file() {
    let w = tempfile::tempdir().unwrap();
    std::fs::write(w.path().join("seg.m4s"), "good version").unwrap();
    let (_s, addr) = serve(&[&arg("rdirs", w.path()), &arg("wdir", w.path())]).await;
    // Declared 1000 bytes, 100 sent, then the client goes away.
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(b"PUT /seg.m4s HTTP/1.1\r\nhost: x\r\ncontent-length: 1000\r\n\r\n")
        .await
        .unwrap();
    s.write_all(&[b'x'; 100]).await.unwrap();
    bounded(async {
        while temporaries(w.path()).is_empty() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
    // A reader meanwhile follows the upload (live edge) and, when it is
    // aborted, gets an error rather than a short body that looks complete.
    let mut reader = TcpStream::connect(addr).await.unwrap();
    reader
        .write_all(b"GET /seg.m4s HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .unwrap();
    let head = read_until(&mut reader, "\r\n\r\n").await;
    assert!(
        head.starts_with("HTTP/1.1 200")
            && head.to_lowercase().contains("transfer-encoding: chunked"),
        "{head}"
    );
    drop(s);
    let mut rest = Vec::new();
    bounded(reader.read_to_end(&mut rest)).await.unwrap();
    assert!(
        !String::from_utf8_lossy(&rest).contains("\r\n0\r\n\r\n"),
        "no last chunk: the body is incomplete"
    );
    no_temporaries(w.path()).await;
    assert_eq!(
        std::fs::read(w.path().join("seg.m4s")).unwrap(),
        b"good version"
    );
    let (_, _, body) = send(addr, "GET", "/seg.m4s", &[], b"").await;
    assert_eq!(&body[..], b"good version");

    // The same with chunked transfer cut in the middle.
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(
        b"PUT /seg.m4s HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n",
    )
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    drop(s);
    no_temporaries(w.path()).await;
    assert_eq!(
        std::fs::read(w.path().join("seg.m4s")).unwrap(),
        b"good version"
    );
}

#[tokio::test]
async fn a_stalled_upload_times_out_and_changes_nothing() {
    let w = tempfile::tempdir().unwrap();
    std::fs::write(w.path().join("a.bin"), "good").unwrap();
    let (_s, addr) = serve(&[&arg("wdir", w.path()), "--timeout=1"]).await;
    let timeout = Duration::from_secs(1);
    let mut s = TcpStream::connect(addr).await.unwrap();
    let started = std::time::Instant::now();
    s.write_all(b"PUT /a.bin HTTP/1.1\r\nhost: x\r\ncontent-length: 10\r\n\r\nabc")
        .await
        .unwrap();
    let (head, _) = read_response(&mut s).await;
    assert!(head.starts_with("HTTP/1.1 408"), "{head}");
    // After the timeout, and not much later.
    let waited = started.elapsed();
    assert!(
        waited >= timeout && waited <= 2 * timeout + Duration::from_secs(2),
        "408 after {waited:?}, timeout {timeout:?}"
    );
    no_temporaries(w.path()).await;
    assert_eq!(std::fs::read(w.path().join("a.bin")).unwrap(), b"good");
}

#[tokio::test]
async fn maxs_is_enforced_before_and_during_the_body() {
    let w = tempfile::tempdir().unwrap();
    std::fs::write(w.path().join("a.bin"), "good").unwrap();
    let (_s, addr) = serve(&[&arg("wdir", w.path()), "--maxs=1K"]).await;
    // Declared too large: 413 at once, and no 100 Continue before it.
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(
        b"PUT /a.bin HTTP/1.1\r\nhost: x\r\ncontent-length: 5000\r\nexpect: 100-continue\r\n\r\n",
    )
    .await
    .unwrap();
    let mut first = [0u8; 12];
    bounded(s.read_exact(&mut first)).await.unwrap();
    assert_eq!(&first, b"HTTP/1.1 413");
    // Chunked and crossing the limit: 413, temporary removed, file intact.
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(b"PUT /a.bin HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n")
        .await
        .unwrap();
    let chunk = format!("400\r\n{}\r\n", "y".repeat(0x400));
    let mut reply = Vec::new();
    for _ in 0..4 {
        if s.write_all(chunk.as_bytes()).await.is_err() {
            break;
        }
    }
    let _ = bounded(s.read_to_end(&mut reply)).await;
    assert!(
        String::from_utf8_lossy(&reply).starts_with("HTTP/1.1 413"),
        "{}",
        String::from_utf8_lossy(&reply)
    );
    no_temporaries(w.path()).await;
    assert_eq!(std::fs::read(w.path().join("a.bin")).unwrap(), b"good");
    // At the limit is fine.
    let (s, _, _) = send(addr, "PUT", "/a.bin", &[], &[b'z'; 1024]).await;
    assert_eq!(s, 204);
}

#[tokio::test]
async fn range_uploads_assemble_the_original() {
    let w = tempfile::tempdir().unwrap();
    let (_s, addr) = serve(&[&arg("rdirs", w.path()), &arg("wdir", w.path())]).await;
    let original: Vec<u8> = (0..30_000u32).map(|i| (i % 251) as u8).collect();
    // Out of order, with Content-Range.
    for (start, end) in [(20_000, 29_999), (0, 9_999), (10_000, 19_999)] {
        let cr = format!("bytes {start}-{end}/30000");
        let (s, _, _) = send(
            addr,
            "PUT",
            "/up.bin",
            &[("content-range", &cr)],
            &original[start..=end],
        )
        .await;
        assert!(s == 201 || s == 204, "{cr}: {s}");
    }
    assert_eq!(std::fs::read(w.path().join("up.bin")).unwrap(), original);
    // GPAC's form: Range with scattered ranges, body = the ranges back to back.
    std::fs::write(w.path().join("g.bin"), vec![b'.'; 20]).unwrap();
    let (s, _, _) = send(
        addr,
        "PUT",
        "/g.bin",
        &[("range", "bytes=2-4,10-11")],
        b"abcXY",
    )
    .await;
    assert_eq!(s, 204);
    assert_eq!(
        std::fs::read(w.path().join("g.bin")).unwrap(),
        b"..abc.....XY........"
    );
    // Bad and inconsistent ranges.
    for (headers, body, want) in [
        (vec![("content-range", "bytes 5-1/10")], &b"x"[..], 400),
        (
            vec![("content-range", "bytes 0-9/5")],
            &b"0123456789"[..],
            416,
        ),
        (vec![("content-range", "bytes 0-9/*")], &b"short"[..], 400),
        (vec![("range", "bytes=0-")], &b"x"[..], 400),
        (
            vec![("range", "bytes=0-1"), ("content-range", "bytes 0-1/2")],
            &b"xy"[..],
            400,
        ),
    ] {
        let (s, _, _) = send(addr, "PUT", "/up.bin", &headers, body).await;
        assert_eq!(s, want, "{headers:?}");
    }
    assert_eq!(
        std::fs::read(w.path().join("up.bin")).unwrap(),
        original,
        "failed partial uploads change nothing"
    );
    no_temporaries(w.path()).await;
}

#[tokio::test]
async fn multipart_form_uploads_several_files() {
    let w = tempfile::tempdir().unwrap();
    let (_s, addr) = serve(&[&arg("rdirs", w.path()), &arg("wdir", w.path()), "--dlist"]).await;
    let body = "--XyZ\r\n\
        Content-Disposition: form-data; name=\"note\"\r\n\r\nnot a file\r\n\
        --XyZ\r\n\
        Content-Disposition: form-data; name=\"file\"; filename=\"a.txt\"\r\nContent-Type: text/plain\r\n\r\nAAA\r\n\
        --XyZ\r\n\
        Content-Disposition: form-data; name=\"file\"; filename=\"../../escape.txt\"\r\n\r\nBBB\r\n\
        --XyZ--\r\n";
    let (s, h, text) = send(
        addr,
        "POST",
        "/inbox/",
        &[("content-type", "multipart/form-data; boundary=XyZ")],
        body.as_bytes(),
    )
    .await;
    assert_eq!(s, 201, "{}", String::from_utf8_lossy(&text));
    assert_eq!(h["location"], "/inbox/");
    assert_eq!(std::fs::read(w.path().join("inbox/a.txt")).unwrap(), b"AAA");
    assert_eq!(
        std::fs::read(w.path().join("inbox/escape.txt")).unwrap(),
        b"BBB",
        "stored under its base name"
    );
    assert!(!w.path().parent().unwrap().join("escape.txt").exists());
    let (_, _, page) = send(addr, "GET", "/inbox/", &[], b"").await;
    let page = String::from_utf8_lossy(&page);
    assert!(
        page.contains("enctype=\"multipart/form-data\"") && page.contains("a.txt"),
        "{page}"
    );
    let (s, _, _) = send(
        addr,
        "POST",
        "/inbox/",
        &[("content-type", "multipart/form-data; boundary=XyZ")],
        b"--XyZ--\r\n",
    )
    .await;
    assert_eq!(s, 400, "no file in the form");
}

#[tokio::test]
async fn writes_never_leave_the_write_directory() {
    let outside = tempfile::tempdir().unwrap();
    let w = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(outside.path(), w.path().join("link")).unwrap();
    let (_s, addr) = serve(&[&arg("wdir", w.path())]).await;
    let name = outside
        .path()
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    for target in [
        format!("/../{name}/x"),
        format!("/%2e%2e/{name}/x"),
        format!("/..%2f{name}%2fx"),
        format!("/a/..%5c..%5c{name}/x"),
        "/link/x".to_owned(),
        "/link/deeper/x".to_owned(),
    ] {
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(format!("PUT {target} HTTP/1.1\r\nhost: x\r\ncontent-length: 3\r\nconnection: close\r\n\r\nbad").as_bytes())
            .await
            .unwrap();
        let mut reply = Vec::new();
        bounded(s.read_to_end(&mut reply)).await.unwrap();
        let status: u16 = String::from_utf8_lossy(&reply[9..12]).parse().unwrap();
        assert!(matches!(status, 400 | 403 | 404), "{target}: {status}");
    }
    assert_eq!(
        std::fs::read_dir(outside.path()).unwrap().count(),
        0,
        "nothing written outside"
    );
    let (s, _, _) = send(addr, "DELETE", "/link", &[], b"").await;
    assert!(s == 204 || s == 409 || s == 403, "{s}");
    assert!(outside.path().exists());
}

#[tokio::test]
async fn concurrent_writers_last_complete_upload_wins() {
    let w = tempfile::tempdir().unwrap();
    let (_s, addr) = serve(&[&arg("wdir", w.path())]).await;
    // A slow writer starts first and finishes last; a fast one in between.
    let mut slow = TcpStream::connect(addr).await.unwrap();
    slow.write_all(b"PUT /x.bin HTTP/1.1\r\nhost: x\r\ncontent-length: 8000\r\n\r\n")
        .await
        .unwrap();
    slow.write_all(&[b'S'; 4000]).await.unwrap();
    let (s, _, _) = send(addr, "PUT", "/x.bin", &[], &[b'F'; 6000]).await;
    assert_eq!(s, 201);
    assert_eq!(
        std::fs::read(w.path().join("x.bin")).unwrap(),
        vec![b'F'; 6000]
    );
    slow.write_all(&[b'S'; 4000]).await.unwrap();
    let (head, _) = read_response(&mut slow).await;
    assert!(head.starts_with("HTTP/1.1 204"), "{head}");
    assert_eq!(
        std::fs::read(w.path().join("x.bin")).unwrap(),
        vec![b'S'; 8000],
        "whole, never mixed"
    );
}

#[tokio::test]
async fn concurrent_range_uploads_of_one_file_take_turns() {
    let w = tempfile::tempdir().unwrap();
    let (_s, addr) = serve(&[&arg("wdir", w.path())]).await;
    // A: first half, slowly; B: second half, while A is still sending.
    let mut a = TcpStream::connect(addr).await.unwrap();
    a.write_all(b"PUT /f.bin HTTP/1.1\r\nhost: x\r\ncontent-range: bytes 0-9999/20000\r\ncontent-length: 10000\r\n\r\n")
        .await
        .unwrap();
    a.write_all(&[b'A'; 5000]).await.unwrap();
    let b = tokio::spawn(async move {
        send(
            addr,
            "PUT",
            "/f.bin",
            &[("content-range", "bytes 10000-19999/20000")],
            &[b'B'; 10000],
        )
        .await
        .0
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    a.write_all(&[b'A'; 5000]).await.unwrap();
    let (head, _) = read_response(&mut a).await;
    assert!(head.starts_with("HTTP/1.1 201"), "{head}");
    assert!(bounded(b).await.unwrap().is_success());
    let data = std::fs::read(w.path().join("f.bin")).unwrap();
    assert_eq!(data.len(), 20000);
    assert!(
        data[..10000].iter().all(|&c| c == b'A') && data[10000..].iter().all(|&c| c == b'B'),
        "both halves kept"
    );
}

/// Issue 11 item 8, over a socket: in memory, `max_cache_segs=0` keeps
/// one segment of a stream, not all; a manifest's time-shift depth (an MPD
/// uploaded beside the segments) bounds it further: MIN(N, depth).
#[tokio::test]
async fn memory_retention_keeps_at_least_one_and_at_most_the_time_shift() {
    let mpd = r#"<?xml version="1.0"?>
<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" type="dynamic" timeShiftBufferDepth="PT4S">
  <Period><AdaptationSet><SegmentTemplate timescale="90000" duration="180000" media="v_$Number$.m4s"/></AdaptationSet></Period>
</MPD>"#;
    for (max_cache_segs, manifest, want) in [(0, None, vec![4]), (5, Some(mpd), vec![5, 6])] {
        let dir = tempfile::tempdir().unwrap();
        let config = httpout_static::StaticConfig {
            retention: httpout_static::Retention {
                max_cache_segs,
                in_memory: true,
            },
            ..Default::default()
        };
        let handler = httpout_static::StaticHandler::new(dir.path(), config)
            .unwrap()
            .with_write_dir(dir.path(), 1 << 20, None)
            .unwrap();
        let (_s, addr) = start_with(httpout_test::config(), handler).await;
        if let Some(text) = manifest {
            let (s, _, _) = send(addr, "PUT", "/live/live.mpd", &[], text.as_bytes()).await;
            assert_eq!(s, 201);
        }
        let last = want[want.len() - 1];
        for i in 1..=last {
            let path = format!("/live/v_{i}.m4s");
            let (s, _, _) = send(addr, "PUT", &path, &[], b"segment").await;
            assert_eq!(s, 201);
        }
        let mut kept = Vec::new();
        for i in 1..=last {
            let (s, _, _) = send(addr, "GET", &format!("/live/v_{i}.m4s"), &[], b"").await;
            if s == 200 {
                kept.push(i);
            }
        }
        assert_eq!(
            kept,
            want,
            "max_cache_segs={max_cache_segs} manifest: {}",
            manifest.is_some()
        );
        assert_eq!(
            send(addr, "GET", "/live/live.mpd", &[], b"").await.0,
            if manifest.is_some() { 200 } else { 404 },
            "manifests are never evicted"
        );
    }
}

//! LL-HLS delivery directives and CDN caching headers over real sockets:
//! blocking playlist reloads woken by the playlist's upload, 400 and 503,
//! delta updates, preload hints held until their upload starts, the
//! `Cache-Control` of each kind of file. Every wait is bounded; timing
//! bounds are relative to the playlist's target duration.

mod common;

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::serve;
use http::{HeaderMap, StatusCode};
use http_body_util::Full;
use httpout_test::*;
use tokio::net::TcpStream;

/// Sends a request with a body in one go (HTTP/1.1 unless `version`).
async fn send(
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: &[u8],
) -> (StatusCode, HeaderMap, Bytes) {
    let (mut c, conn) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(
        TcpStream::connect(addr).await.unwrap(),
    ))
    .await
    .unwrap();
    tokio::spawn(conn);
    let req = http::Request::builder()
        .method(method)
        .uri(path)
        .header("host", "x")
        .body(Full::new(Bytes::copy_from_slice(body)))
        .unwrap();
    read_bytes(c.send_request(req).await.unwrap()).await
}

async fn get_text(addr: SocketAddr, path: &str) -> (StatusCode, HeaderMap, String) {
    let (s, h, b) = bounded(send(addr, "GET", path, b"")).await;
    (s, h, String::from_utf8_lossy(&b).into_owned())
}

async fn put(addr: SocketAddr, path: &str, body: &[u8]) {
    let (s, _, _) = bounded(send(addr, "PUT", path, body)).await;
    assert!(s.is_success(), "PUT {path}: {s}");
}

/// An LL-HLS media playlist as the specification's example shows it:
/// `complete` segments of 4 parts from `first`, the last two with their
/// parts listed, then `parts` parts of the segment in progress and a
/// preload hint for the next.
fn playlist(target: u64, first: u64, complete: u64, parts: u64) -> String {
    let part = target as f64 / 4.0;
    let mut p = format!(
        "#EXTM3U\n#EXT-X-TARGETDURATION:{target}\n#EXT-X-VERSION:9\n\
         #EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK={:.3},CAN-SKIP-UNTIL={}\n\
         #EXT-X-PART-INF:PART-TARGET={part:.3}\n#EXT-X-MEDIA-SEQUENCE:{first}\n\
         #EXT-X-MAP:URI=\"init.mp4\"\n",
        part * 3.0,
        target * 6
    );
    let last = first + complete;
    for msn in first..last {
        if msn + 2 >= last {
            for i in 0..4 {
                writeln!(p, "#EXT-X-PART:DURATION={part:.3},URI=\"seg{msn}.{i}.m4s\"").unwrap();
            }
        }
        writeln!(p, "#EXTINF:{target}.0,\nseg{msn}.m4s").unwrap();
    }
    for i in 0..parts {
        writeln!(
            p,
            "#EXT-X-PART:DURATION={part:.3},URI=\"seg{last}.{i}.m4s\""
        )
        .unwrap();
    }
    writeln!(
        p,
        "#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"seg{last}.{parts}.m4s\""
    )
    .unwrap();
    writeln!(
        p,
        "#EXT-X-RENDITION-REPORT:URI=\"../low/live.m3u8\",LAST-MSN={last},LAST-PART={parts}"
    )
    .unwrap();
    p
}

async fn origin() -> (tempfile::TempDir, httpout_core::Running, SocketAddr) {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display().to_string();
    let (s, addr) = serve(&[&format!("--rdirs={d}"), &format!("--wdir={d}")]).await;
    (dir, s, addr)
}

#[tokio::test]
async fn a_blocking_reload_is_answered_when_the_playlist_holds_the_part() {
    let (_d, _s, addr) = origin().await;
    // Ten-second segments: a 30 s hold limit, far beyond this test's steps.
    put(addr, "/live.m3u8", playlist(10, 100, 4, 1).as_bytes()).await;
    // Already there: answered at once, the stored playlist as it is.
    let (s, h, body) = get_text(addr, "/live.m3u8?_HLS_msn=103&_HLS_part=3").await;
    assert_eq!(s, 200);
    assert_eq!(body, playlist(10, 100, 4, 1));
    assert_eq!(h["content-type"], "application/vnd.apple.mpegurl");
    assert_eq!(
        h["cache-control"], "public, max-age=60",
        "six target durations"
    );
    // Part 1 of segment 104 is not: the request waits for the upload of
    // the playlist that lists it, and gets that one.
    let held = tokio::spawn(get_text(addr, "/live.m3u8?_HLS_msn=104&_HLS_part=1"));
    // An upload that does not hold it yet does not answer it.
    put(addr, "/live.m3u8", playlist(10, 100, 4, 1).as_bytes()).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!held.is_finished(), "answered before the part was listed");
    put(addr, "/live.m3u8", playlist(10, 100, 4, 2).as_bytes()).await;
    let (s, _, body) = bounded(held).await.unwrap();
    assert_eq!(s, 200);
    assert_eq!(body, playlist(10, 100, 4, 2));
    // A whole segment: `_HLS_msn` alone waits for its URI line.
    let held = tokio::spawn(get_text(addr, "/live.m3u8?_HLS_msn=104"));
    put(addr, "/live.m3u8", playlist(10, 100, 4, 3).as_bytes()).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!held.is_finished(), "segment 104 is not complete yet");
    put(addr, "/live.m3u8", playlist(10, 100, 5, 0).as_bytes()).await;
    let (s, _, body) = bounded(held).await.unwrap();
    assert_eq!(s, 200);
    assert!(body.contains("\nseg104.m4s\n"), "{body}");
}

#[tokio::test]
async fn too_far_ahead_is_400_and_a_part_that_never_comes_is_503() {
    let (_d, _s, addr) = origin().await;
    put(addr, "/live.m3u8", playlist(1, 10, 4, 1).as_bytes()).await;
    // The last segment is 13: 15 may be waited for, 16 may not; nor a part
    // more than three past the last part (14.0).
    let (s, _, body) = get_text(addr, "/live.m3u8?_HLS_msn=16").await;
    assert_eq!(s, 400, "{body}");
    let (s, _, _) = get_text(addr, "/live.m3u8?_HLS_msn=14&_HLS_part=4").await;
    assert_eq!(s, 400);
    for bad in ["_HLS_msn=x", "_HLS_part=1", "_HLS_skip=maybe"] {
        let (s, _, _) = get_text(addr, &format!("/live.m3u8?{bad}")).await;
        assert_eq!(s, 400, "{bad}");
    }
    // Held three target durations (3 s), then 503.
    let start = Instant::now();
    let (s, _, _) = get_text(addr, "/live.m3u8?_HLS_msn=15").await;
    assert_eq!(s, 503);
    assert!(
        start.elapsed() >= Duration::from_secs(3),
        "held the full limit"
    );
    // A playlist that ended answers whatever is asked.
    let ended = format!("{}#EXT-X-ENDLIST\n", playlist(1, 10, 4, 0));
    put(addr, "/vod.m3u8", ended.as_bytes()).await;
    let (s, h, _) = get_text(addr, "/vod.m3u8?_HLS_msn=15").await;
    assert_eq!(s, 200);
    assert_eq!(h["cache-control"], "public, max-age=6");
    // No playlist at all: 404.
    let (s, _, _) = get_text(addr, "/none.m3u8?_HLS_msn=1").await;
    assert_eq!(s, 404);
}

#[tokio::test]
async fn delta_updates_skip_old_segments_only_where_the_playlist_allows() {
    let (_d, _s, addr) = origin().await;
    // 20 segments of 1 s, skip boundary 6 s: the 14 oldest are skipped.
    let full = playlist(1, 50, 20, 2);
    put(addr, "/live.m3u8", full.as_bytes()).await;
    let (s, _, delta) = get_text(addr, "/live.m3u8?_HLS_skip=YES").await;
    assert_eq!(s, 200);
    assert!(
        delta.contains("#EXT-X-SKIP:SKIPPED-SEGMENTS=14\n"),
        "{delta}"
    );
    assert!(!delta.contains("\nseg63.m4s\n") && delta.contains("\nseg64.m4s\n"));
    assert!(delta.contains("#EXT-X-MAP:URI=\"init.mp4\""));
    assert!(delta.contains("#EXT-X-RENDITION-REPORT"), "passed through");
    assert!(delta.contains("#EXT-X-MEDIA-SEQUENCE:50\n"));
    // With a blocking reload too.
    let (s, _, d2) = get_text(addr, "/live.m3u8?_HLS_msn=70&_HLS_part=1&_HLS_skip=YES").await;
    assert_eq!((s, d2.as_str()), (StatusCode::OK, delta.as_str()));
    // A playlist without CAN-SKIP-UNTIL is sent whole.
    let plain = full.replace(",CAN-SKIP-UNTIL=6", "");
    put(addr, "/plain.m3u8", plain.as_bytes()).await;
    let (_, _, body) = get_text(addr, "/plain.m3u8?_HLS_skip=YES").await;
    assert_eq!(body, plain);
    // Other query parameters change nothing.
    let (_, _, body) = get_text(addr, "/live.m3u8?token=abc&_HLSX=1").await;
    assert_eq!(body, full);
}

#[tokio::test]
async fn a_hinted_part_is_held_until_its_upload_starts_then_streamed() {
    let (_d, _s, addr) = origin().await;
    put(addr, "/v/live.m3u8", playlist(4, 1, 3, 1).as_bytes()).await;
    // seg4.1.m4s is hinted: a GET waits for it (up to 12 s); seg4.2.m4s is
    // not: 404 at once.
    let (s, _, _) = get_text(addr, "/v/seg4.2.m4s").await;
    assert_eq!(s, 404);
    let held = tokio::spawn(get_text(addr, "/v/seg4.1.m4s"));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!held.is_finished(), "a hinted part is waited for");
    put(addr, "/v/seg4.1.m4s", b"part bytes").await;
    let (s, h, body) = bounded(held).await.unwrap();
    assert_eq!((s, body.as_str()), (StatusCode::OK, "part bytes"));
    assert_eq!(h["cache-control"], "public, max-age=86400, immutable");
    // A query on a media file serves the same file.
    let (_, _, body) = get_text(addr, "/v/seg4.1.m4s?session=9").await;
    assert_eq!(body, "part bytes");
}

#[tokio::test]
async fn each_kind_of_file_gets_its_cache_control_and_expires_follows_date() {
    let (dir, _s, addr) = origin().await;
    put(addr, "/live.m3u8", playlist(2, 1, 3, 0).as_bytes()).await;
    let vod = format!("{}#EXT-X-ENDLIST\n", playlist(2, 1, 3, 0));
    put(addr, "/vod.m3u8", vod.as_bytes()).await;
    put(
        addr,
        "/live.mpd",
        br#"<?xml version="1.0"?><MPD type="dynamic"></MPD>"#,
    )
    .await;
    put(addr, "/chunk-stream0-00007.m4s", b"seg").await;
    put(addr, "/init-stream0.m4s", b"init").await;
    put(addr, "/movie.mp4", b"vod").await;
    let cc = |h: &HeaderMap| {
        h.get("cache-control")
            .map(|v| v.to_str().unwrap().to_owned())
    };
    for (path, want, etag) in [
        ("/live.m3u8", Some("public, max-age=1"), true),
        ("/live.mpd", Some("public, max-age=1"), true),
        ("/vod.m3u8", None, true),
        (
            "/chunk-stream0-00007.m4s",
            Some("public, max-age=86400, immutable"),
            true,
        ),
        (
            "/init-stream0.m4s",
            Some("public, max-age=86400, immutable"),
            true,
        ),
        ("/movie.mp4", None, true),
    ] {
        let (s, h, _) = get_text(addr, path).await;
        assert_eq!(s, 200, "{path}");
        assert_eq!(cc(&h).as_deref(), want, "{path}");
        assert_eq!(
            h.contains_key("etag"),
            etag,
            "{path}: complete files keep validators"
        );
        assert!(!h.contains_key("age"), "an origin holds no cached copy");
        if let Some(want) = want {
            let age: u64 = want
                .split("max-age=")
                .nth(1)
                .and_then(|v| v.split(',').next())
                .unwrap()
                .parse()
                .unwrap();
            let date = httpdate::parse_http_date(h["date"].to_str().unwrap()).unwrap();
            let expires = httpdate::parse_http_date(h["expires"].to_str().unwrap()).unwrap();
            let delta = expires.duration_since(date).unwrap().as_secs();
            assert_eq!(delta, age, "{path}: Expires is Date plus max-age");
        }
    }
    drop(dir);
}

#[tokio::test]
async fn rules_and_the_global_value_override_the_defaults() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display().to_string();
    std::fs::write(dir.path().join("a.m4s"), "x").unwrap();
    std::fs::write(dir.path().join("b.ts"), "x").unwrap();
    std::fs::write(dir.path().join("page.html"), "x").unwrap();
    let (_s, addr) = serve(&[
        &format!("--rdirs={d}"),
        "--cache_rule=*.m4s=max-age=60",
        "--cache_control=no-cache",
    ])
    .await;
    let cc = |h: &HeaderMap| h["cache-control"].to_str().unwrap().to_owned();
    assert_eq!(cc(&get_text(addr, "/a.m4s").await.1), "max-age=60");
    assert_eq!(cc(&get_text(addr, "/b.ts").await.1), "no-cache");
    assert_eq!(cc(&get_text(addr, "/page.html").await.1), "no-cache");
    // `none`: no Cache-Control at all, no ETag, as GPAC's option says.
    let (_s2, addr2) = serve(&[&format!("--rdirs={d}"), "--cache_control=none"]).await;
    let (_, h, _) = get_text(addr2, "/a.m4s").await;
    assert!(!h.contains_key("cache-control") && !h.contains_key("etag"));
}

#[tokio::test]
async fn a_growing_segment_is_no_store_to_http_1_0_only() {
    let (_d, _s, addr) = origin().await;
    // An upload that stays open: its file is on the live edge.
    let mut up = TcpStream::connect(addr).await.unwrap();
    use tokio::io::AsyncWriteExt as _;
    up.write_all(
        b"PUT /seg9.m4s HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n4\r\nabcd\r\n",
    )
    .await
    .unwrap();
    let mut growing = false;
    for _ in 0..50 {
        let answer = raw(
            addr,
            b"HEAD /seg9.m4s HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n",
        )
        .await;
        if answer.starts_with("HTTP/1.1 200")
            && !answer.to_ascii_lowercase().contains("content-length")
        {
            assert!(
                answer.contains("public, max-age=86400, immutable"),
                "{answer}"
            );
            assert!(!answer.to_ascii_lowercase().contains("etag"), "{answer}");
            growing = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(growing, "the upload never reached the live edge");
    let old = raw(addr, b"HEAD /seg9.m4s HTTP/1.0\r\n\r\n").await;
    assert!(old.contains("no-store"), "{old}");
    up.write_all(b"0\r\n\r\n").await.unwrap();
}

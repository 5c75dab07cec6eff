//! The static server's read side over real sockets on 127.0.0.1, with
//! hyper's client (HTTP/1.1, h2c, HTTPS/h2) and raw bytes where the wire
//! matters. Every wait is bounded.

mod common;

use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, SystemTime};

use async_compression::tokio::bufread::{BrotliDecoder, DeflateDecoder, GzipDecoder, ZstdDecoder};
use bytes::Bytes;
use common::serve;
use http::{HeaderMap, StatusCode, Version};
use httpout_test::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Deterministic bytes, so that ranges can be checked against the source.
fn pattern(len: usize) -> Vec<u8> {
    let mut x = 0x1234_5678u32;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}

const BIG: usize = 1 << 20; // larger than a block: the streaming path
const TEXT: &str = "The quick brown fox jumps over the lazy dog.\n";

fn fixture() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    std::fs::write(p.join("a.txt"), "hello world\n").unwrap();
    std::fs::write(p.join("big.bin"), pattern(BIG)).unwrap();
    std::fs::write(p.join("empty.bin"), "").unwrap();
    std::fs::write(p.join("name with space.txt"), "space").unwrap();
    std::fs::write(p.join("café.txt"), "unicode").unwrap();
    std::fs::write(p.join("live.mpd"), "<MPD/>").unwrap();
    std::fs::write(p.join("seg_1.m4s"), pattern(3000)).unwrap();
    std::fs::write(p.join("style.css"), TEXT.repeat(2000)).unwrap(); // 90 kB: over zmax
    std::fs::write(p.join("small.css"), TEXT.repeat(100)).unwrap();
    std::fs::create_dir(p.join("sub")).unwrap();
    std::fs::write(p.join("sub/index.html"), "<h1>sub index</h1>").unwrap();
    std::fs::create_dir(p.join("plain")).unwrap();
    std::fs::write(p.join("plain/<b>&x.txt"), "x").unwrap();
    std::fs::create_dir(p.join("plain/inner")).unwrap();
    // A precompressed sibling (content differs so the test can tell) and a stale one.
    std::fs::write(p.join("app.js"), "console.log('identity');\n").unwrap();
    std::fs::write(
        p.join("app.js.gz"),
        gzip(b"console.log('precompressed');\n"),
    )
    .unwrap();
    std::fs::write(p.join("old.js"), "fresh\n").unwrap();
    std::fs::write(p.join("old.js.gz"), gzip(b"stale\n")).unwrap();
    let past = SystemTime::now() - Duration::from_secs(3600);
    std::fs::File::options()
        .write(true)
        .open(p.join("old.js.gz"))
        .unwrap()
        .set_modified(past)
        .unwrap();
    dir
}

/// Gzip with the same library the server uses, on a thread of its own
/// (fixtures are built inside the tests' runtime).
fn gzip(data: &'static [u8]) -> Vec<u8> {
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(async {
            let mut enc = async_compression::tokio::bufread::GzipEncoder::new(data);
            let mut out = Vec::new();
            enc.read_to_end(&mut out).await.unwrap();
            out
        })
    })
    .join()
    .unwrap()
}

fn rdirs(dir: &Path) -> String {
    format!("--rdirs={}", dir.display())
}

async fn fetch(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> (StatusCode, HeaderMap, Bytes) {
    let mut c = h1(TcpStream::connect(addr).await.unwrap()).await;
    read_bytes(
        bounded(c.send_request(request(method, path, headers)))
            .await
            .unwrap(),
    )
    .await
}

#[tokio::test]
async fn get_serves_files_with_validators_over_h1_h2c_and_https() {
    let dir = fixture();
    let (_s, addr) = serve(&[&rdirs(dir.path())]).await;
    let (status, h, body) = fetch(addr, "GET", "/big.bin", &[]).await;
    assert_eq!(status, 200);
    assert_eq!(body.len(), BIG);
    assert_eq!(&body[..], &pattern(BIG)[..]);
    assert_eq!(h["content-length"], BIG.to_string().as_str());
    assert_eq!(h["content-type"], "application/octet-stream");
    assert_eq!(h["accept-ranges"], "bytes");
    let etag = h["etag"].to_str().unwrap();
    assert!(
        etag.starts_with('"') && etag.ends_with('"') && !etag.starts_with("W/"),
        "{etag}"
    );
    assert!(httpdate::parse_http_date(h["last-modified"].to_str().unwrap()).is_ok());

    for (path, ct) in [
        ("/live.mpd", "application/dash+xml"),
        ("/seg_1.m4s", "video/mp4"),
        ("/a.txt", "text/plain; charset=utf-8"),
    ] {
        let (status, h, _) = fetch(addr, "GET", path, &[]).await;
        assert_eq!(
            (status.as_u16(), h["content-type"].to_str().unwrap()),
            (200, ct),
            "{path}"
        );
    }
    let (_, _, body) = fetch(addr, "GET", "/name%20with%20space.txt", &[]).await;
    assert_eq!(body, "space");
    let (_, _, body) = fetch(addr, "GET", "/caf%C3%A9.txt", &[]).await;
    assert_eq!(body, "unicode");
    let (status, _, _) = fetch(addr, "GET", "/nope", &[]).await;
    assert_eq!(status, 404);
    let (status, _, _) = fetch(addr, "GET", "/a.txt/", &[]).await;
    assert_eq!(status, 404, "a file is not a directory");

    let mut c = h2(TcpStream::connect(addr).await.unwrap()).await;
    let res = bounded(c.send_request(get("/big.bin"))).await.unwrap();
    assert_eq!(res.version(), Version::HTTP_2);
    let (status, h, body) = read_bytes(res).await;
    assert_eq!((status.as_u16(), body.len()), (200, BIG));
    assert_eq!(h["content-length"], BIG.to_string().as_str());

    // HTTPS with ALPN h2.
    let (_tls_server, tls_addr, der) = common::serve_tls(&[&rdirs(dir.path())]).await;
    let mut c = h2(tls_connect(tls_addr, &der, &[b"h2"]).await).await;
    let (status, _, body) =
        read_bytes(bounded(c.send_request(get("/big.bin"))).await.unwrap()).await;
    assert_eq!((status.as_u16(), &body[..]), (200, &pattern(BIG)[..]));
    let req = request("GET", "/big.bin", &[("range", "bytes=0-9,1000-1009")]);
    let (status, h, body) = read_bytes(bounded(c.send_request(req)).await.unwrap()).await;
    assert_eq!(status, 206);
    let ct = h["content-type"].to_str().unwrap();
    let parts = parse_multipart(&body, ct.split("boundary=").nth(1).unwrap());
    assert_eq!(parts.len(), 2);
    assert_eq!(parts[1].body, pattern(BIG)[1000..1010]);
}

#[tokio::test]
async fn head_has_the_headers_and_no_body() {
    let dir = fixture();
    let (_s, addr) = serve(&[&rdirs(dir.path())]).await;
    for path in ["/big.bin", "/a.txt"] {
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(format!("HEAD {path} HTTP/1.1\r\nhost: x\r\n\r\nGET /a.txt HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n").as_bytes())
            .await
            .unwrap();
        let mut out = Vec::new();
        bounded(s.read_to_end(&mut out)).await.unwrap();
        let text = String::from_utf8_lossy(&out);
        let (head, rest) = text.split_once("\r\n\r\n").unwrap();
        let len = std::fs::metadata(dir.path().join(&path[1..]))
            .unwrap()
            .len();
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
        assert!(
            head.to_lowercase()
                .contains(&format!("content-length: {len}")),
            "{head}"
        );
        assert!(head.to_lowercase().contains("etag: \""), "{head}");
        // The next bytes are the next response: the HEAD sent no body.
        assert!(
            rest.starts_with("HTTP/1.1 200"),
            "{path}: body after HEAD: {rest:.40}"
        );
    }
}

#[tokio::test]
async fn head_over_h2_has_no_body_either() {
    let dir = fixture();
    let (_s, addr) = serve(&[&rdirs(dir.path())]).await;
    let mut c = h2(TcpStream::connect(addr).await.unwrap()).await;
    for (path, status, len) in [
        ("/big.bin", 200, Some("1048576")),
        ("/a.txt", 200, Some("12")),
        ("/missing", 404, None),
    ] {
        let res = bounded(c.send_request(request("HEAD", path, &[])))
            .await
            .unwrap();
        let (s, h, body) = read_bytes(res).await;
        assert_eq!(s, status, "{path}");
        assert!(body.is_empty(), "{path}: HEAD body over h2");
        if let Some(len) = len {
            assert_eq!(h["content-length"], len, "{path}");
        }
    }
    // The connection is still fine (no stream error).
    let (s, _, body) = read_bytes(bounded(c.send_request(get("/a.txt"))).await.unwrap()).await;
    assert_eq!((s.as_u16(), body.len()), (200, 12));
}

/// The same semantics over h2c and over TLS with ALPN h2.
#[tokio::test]
async fn ranges_conditionals_and_errors_over_h2_and_tls() {
    let dir = fixture();
    let (_s, addr) = serve(&[&rdirs(dir.path())]).await;
    let (_tls, tls_addr, der) = common::serve_tls(&[&rdirs(dir.path())]).await;
    let clients = [
        h2(TcpStream::connect(addr).await.unwrap()).await,
        h2(tls_connect(tls_addr, &der, &[b"h2"]).await).await,
    ];
    let src = pattern(BIG);
    for mut c in clients {
        let mut ask = async |method: &str, path: &str, headers: &[(&str, &str)]| {
            read_bytes(
                bounded(c.send_request(request(method, path, headers)))
                    .await
                    .unwrap(),
            )
            .await
        };
        let (s, h, body) = ask("GET", "/big.bin", &[("range", "bytes=10-19")]).await;
        assert_eq!((s.as_u16(), &body[..]), (206, &src[10..20]));
        assert_eq!(h["content-range"], "bytes 10-19/1048576");
        let (s, h, body) = ask("GET", "/big.bin", &[("range", "bytes=0-4,-5")]).await;
        assert_eq!(s, 206);
        let parts = parse_multipart(
            &body,
            h["content-type"]
                .to_str()
                .unwrap()
                .split("boundary=")
                .nth(1)
                .unwrap(),
        );
        assert_eq!(
            (parts[0].body.as_slice(), parts[1].body.as_slice()),
            (&src[..5], &src[BIG - 5..])
        );
        let etag = h["etag"].to_str().unwrap().to_owned();
        let (s, _, body) = ask("GET", "/big.bin", &[("if-none-match", &etag)]).await;
        assert_eq!((s.as_u16(), body.len()), (304, 0));
        let (s, h, _) = ask("GET", "/big.bin", &[("range", "bytes=5000000-")]).await;
        assert_eq!(
            (s.as_u16(), h["content-range"].to_str().unwrap()),
            (416, "bytes */1048576")
        );
        let (s, _, _) = ask("GET", "/big.bin", &[("if-match", "\"other\"")]).await;
        assert_eq!(s, 412);
        let (s, _, _) = ask("GET", "/%2e%2e/etc/passwd", &[]).await;
        assert_eq!(s, 400);
        let (s, h, _) = ask(
            "OPTIONS",
            "/a.txt",
            &[
                ("origin", "https://o"),
                ("access-control-request-method", "GET"),
            ],
        )
        .await;
        assert_eq!(
            (
                s.as_u16(),
                h["access-control-allow-origin"].to_str().unwrap()
            ),
            (204, "*")
        );
        let (s, h, body) = ask("GET", "/small.css", &[("accept-encoding", "br")]).await;
        assert_eq!(
            (s.as_u16(), h["content-encoding"].to_str().unwrap()),
            (200, "br")
        );
        assert_eq!(decode("br", &body).await, TEXT.repeat(100).as_bytes());
    }
}

#[tokio::test]
async fn conditional_requests() {
    let dir = fixture();
    let (_s, addr) = serve(&[&rdirs(dir.path())]).await;
    let (_, h, _) = fetch(addr, "GET", "/big.bin", &[]).await;
    let etag = h["etag"].to_str().unwrap().to_owned();
    let lm = h["last-modified"].to_str().unwrap().to_owned();
    let old = httpdate::fmt_http_date(SystemTime::now() - Duration::from_secs(86_400 * 365));

    let (s, h, body) = fetch(addr, "GET", "/big.bin", &[("if-none-match", &etag)]).await;
    assert_eq!((s.as_u16(), body.len()), (304, 0));
    assert_eq!(h["etag"], etag.as_str());
    let (s, _, _) = fetch(
        addr,
        "HEAD",
        "/big.bin",
        &[("if-none-match", &format!("\"other\", {etag}"))],
    )
    .await;
    assert_eq!(s, 304);
    let (s, _, _) = fetch(addr, "GET", "/big.bin", &[("if-modified-since", &lm)]).await;
    assert_eq!(s, 304);
    let (s, _, _) = fetch(addr, "GET", "/big.bin", &[("if-modified-since", &old)]).await;
    assert_eq!(s, 200);
    let (s, _, _) = fetch(addr, "GET", "/big.bin", &[("if-match", "\"nope\"")]).await;
    assert_eq!(s, 412);
    let (s, _, _) = fetch(addr, "GET", "/big.bin", &[("if-match", &etag)]).await;
    assert_eq!(s, 200);
    let (s, _, _) = fetch(addr, "GET", "/big.bin", &[("if-unmodified-since", &old)]).await;
    assert_eq!(s, 412);
    // If-Range: a matching validator gets the range, a stale one the whole file.
    let (s, _, body) = fetch(
        addr,
        "GET",
        "/big.bin",
        &[("range", "bytes=0-9"), ("if-range", &etag)],
    )
    .await;
    assert_eq!((s.as_u16(), body.len()), (206, 10));
    let (s, _, body) = fetch(
        addr,
        "GET",
        "/big.bin",
        &[("range", "bytes=0-9"), ("if-range", "\"stale\"")],
    )
    .await;
    assert_eq!((s.as_u16(), body.len()), (200, BIG));
    let (s, _, _) = fetch(
        addr,
        "GET",
        "/big.bin",
        &[("range", "bytes=0-9"), ("if-range", &lm)],
    )
    .await;
    assert_eq!(s, 206);
}

#[tokio::test]
async fn byte_ranges() {
    let dir = fixture();
    let (_s, addr) = serve(&[&rdirs(dir.path())]).await;
    let src = pattern(BIG);
    for (spec, range, cr) in [
        ("bytes=0-99", 0..100, "bytes 0-99/1048576"),
        (
            "bytes=1048000-",
            1_048_000..BIG,
            "bytes 1048000-1048575/1048576",
        ),
        (
            "bytes=-500",
            BIG - 500..BIG,
            "bytes 1048076-1048575/1048576",
        ),
        (
            "bytes=100000-299999",
            100_000..300_000,
            "bytes 100000-299999/1048576",
        ),
    ] {
        let (s, h, body) = fetch(addr, "GET", "/big.bin", &[("range", spec)]).await;
        assert_eq!(s, 206, "{spec}");
        assert_eq!(h["content-range"], cr);
        assert_eq!(h["content-length"], range.len().to_string().as_str());
        assert_eq!(&body[..], &src[range], "{spec}");
    }
    // Small file (read at open time): ranges are cut from memory.
    let (s, h, body) = fetch(addr, "GET", "/a.txt", &[("range", "bytes=6-10")]).await;
    assert_eq!((s.as_u16(), &body[..]), (206, &b"world"[..]));
    assert_eq!(h["content-range"], "bytes 6-10/12");

    // Several ranges: multipart/byteranges, parts in request order.
    let (s, h, body) = fetch(
        addr,
        "GET",
        "/big.bin",
        &[("range", "bytes=500000-500099, 0-9, -20")],
    )
    .await;
    assert_eq!(s, 206);
    let ct = h["content-type"].to_str().unwrap();
    assert!(ct.starts_with("multipart/byteranges; boundary="), "{ct}");
    assert_eq!(h["content-length"], body.len().to_string().as_str());
    let parts = parse_multipart(&body, ct.split("boundary=").nth(1).unwrap());
    let expect = [
        (500_000..500_100, "bytes 500000-500099/1048576"),
        (0..10, "bytes 0-9/1048576"),
        (BIG - 20..BIG, "bytes 1048556-1048575/1048576"),
    ];
    assert_eq!(parts.len(), expect.len());
    for (part, (range, cr)) in parts.iter().zip(expect) {
        assert_eq!(
            part.header("content-type"),
            Some("application/octet-stream")
        );
        assert_eq!(part.header("content-range"), Some(cr));
        assert_eq!(part.body, src[range]);
    }
    // The same from a small file, from memory.
    let (_, h, body) = fetch(
        addr,
        "GET",
        "/seg_1.m4s",
        &[("range", "bytes=0-1,2000-2001")],
    )
    .await;
    let parts = parse_multipart(
        &body,
        h["content-type"]
            .to_str()
            .unwrap()
            .split("boundary=")
            .nth(1)
            .unwrap(),
    );
    assert_eq!(parts[1].body, pattern(3000)[2000..2002]);
    assert_eq!(parts[0].header("content-type"), Some("video/mp4"));

    // Unsatisfiable: 416 with the size.
    let (s, h, _) = fetch(addr, "GET", "/big.bin", &[("range", "bytes=2000000-")]).await;
    assert_eq!(s, 416);
    assert_eq!(h["content-range"], "bytes */1048576");
    let (s, h, _) = fetch(addr, "GET", "/empty.bin", &[("range", "bytes=0-")]).await;
    assert_eq!(
        (s.as_u16(), h["content-range"].to_str().unwrap()),
        (416, "bytes */0")
    );
    // Abuse: 300 ranges or heavy overlap get the plain file, no amplification.
    let many: Vec<String> = (0..300)
        .map(|i| format!("{}-{}", i * 1000, i * 1000 + 1))
        .collect();
    let (s, _, body) = fetch(
        addr,
        "GET",
        "/big.bin",
        &[("range", &format!("bytes={}", many.join(",")))],
    )
    .await;
    assert_eq!((s.as_u16(), body.len()), (200, BIG));
    let overlap = vec!["0-1048575"; 20].join(",");
    let (s, _, body) = fetch(
        addr,
        "GET",
        "/big.bin",
        &[("range", &format!("bytes={overlap}"))],
    )
    .await;
    assert_eq!((s.as_u16(), body.len()), (200, BIG));
    // Malformed ranges are ignored.
    let (s, _, _) = fetch(addr, "GET", "/big.bin", &[("range", "bytes=9-1")]).await;
    assert_eq!(s, 200);

    // norange: Range ignored, and said so.
    let (_s2, addr2) = serve(&[&rdirs(dir.path()), "--norange"]).await;
    let (s, h, body) = fetch(addr2, "GET", "/big.bin", &[("range", "bytes=0-9")]).await;
    assert_eq!((s.as_u16(), body.len()), (200, BIG));
    assert_eq!(h["accept-ranges"], "none");
}

/// Issue 11 item 9: players probe range support with `bytes=0-`; a range
/// that covers the whole file is answered 206 with `Content-Range`, like
/// any satisfiable range (nginx does the same), over HTTP/1.1 and h2c.
#[tokio::test]
async fn a_range_covering_the_whole_file_is_206_over_h1_and_h2() {
    let dir = fixture();
    let (_s, addr) = serve(&[&rdirs(dir.path())]).await;
    let big = pattern(BIG);
    let cases: [(&str, &str, &[u8]); 5] = [
        ("/big.bin", "bytes=0-", &big),
        ("/big.bin", "bytes=0-1048575", &big),
        ("/big.bin", "bytes=-2000000", &big),
        // Two ranges coalesced into the whole file: one plain 206 part.
        ("/big.bin", "bytes=0-524287,524288-", &big),
        // A small file, answered from memory.
        ("/a.txt", "bytes=0-", b"hello world\n"),
    ];
    let mut h1c = h1(TcpStream::connect(addr).await.unwrap()).await;
    let mut h2c = h2(TcpStream::connect(addr).await.unwrap()).await;
    for (path, spec, want) in cases {
        for version in [Version::HTTP_11, Version::HTTP_2] {
            let req = request("GET", path, &[("range", spec)]);
            let res = if version == Version::HTTP_11 {
                bounded(h1c.send_request(req)).await
            } else {
                bounded(h2c.send_request(req)).await
            }
            .unwrap();
            assert_eq!(res.version(), version);
            let (s, h, body) = read_bytes(res).await;
            let len = want.len();
            assert_eq!(s, 206, "{path} {spec} {version:?}");
            assert_eq!(
                h["content-range"],
                format!("bytes 0-{}/{len}", len - 1).as_str(),
                "{path} {spec}"
            );
            assert_eq!(h["content-length"], len.to_string().as_str());
            assert_eq!(&body[..], want, "{path} {spec} {version:?}");
        }
    }
}

#[tokio::test]
async fn directories_redirect_index_and_listing() {
    let dir = fixture();
    let (_s, addr) = serve(&[&rdirs(dir.path())]).await;
    let (s, h, _) = fetch(addr, "GET", "/sub?x=1", &[]).await;
    assert_eq!(s, 301);
    assert_eq!(h["location"], "/sub/?x=1");
    let (s, h, _) = fetch(addr, "GET", "//evil.example", &[]).await;
    assert_eq!(s, 404, "{h:?}");
    let (s, _, body) = fetch(addr, "GET", "/sub/", &[]).await;
    assert_eq!((s.as_u16(), &body[..]), (200, &b"<h1>sub index</h1>"[..]));
    let (s, _, body) = fetch(addr, "GET", "/plain/", &[]).await;
    assert_eq!(s, 403);
    assert!(String::from_utf8_lossy(&body).contains("listing"));

    let (_s2, addr) = serve(&[&rdirs(dir.path()), "--dlist"]).await;
    let (s, h, body) = fetch(addr, "GET", "/plain/", &[]).await;
    assert_eq!(s, 200);
    assert_eq!(h["content-type"], "text/html; charset=utf-8");
    let page = String::from_utf8_lossy(&body);
    assert!(page.contains("href=\"../\""), "parent link");
    assert!(page.contains("href=\"./inner/\""));
    assert!(
        page.contains("&lt;b&gt;&amp;x.txt") && !page.contains("<b>&x"),
        "escaped: {page}"
    );
    assert!(
        page.find("inner/").unwrap() < page.find("x.txt").unwrap(),
        "directories first"
    );
    let (_, h, body) = fetch(addr, "GET", "/plain/", &[("accept", "application/json")]).await;
    assert_eq!(h["content-type"], "application/json");
    let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(json["entries"][0]["name"], "inner");
    assert_eq!(json["entries"][1]["name"], "<b>&x.txt");
    assert_eq!(json["entries"][1]["size"], 1);
    let (_, _, body) = fetch(addr, "GET", "/", &[]).await;
    assert!(
        !String::from_utf8_lossy(&body).contains("href=\"../\""),
        "no parent at the root"
    );
}

async fn decode(coding: &str, data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    match coding {
        "gzip" => GzipDecoder::new(data).read_to_end(&mut out).await,
        "deflate" => DeflateDecoder::new(data).read_to_end(&mut out).await,
        "br" => BrotliDecoder::new(data).read_to_end(&mut out).await,
        "zstd" => ZstdDecoder::new(data).read_to_end(&mut out).await,
        other => panic!("{other}"),
    }
    .unwrap();
    out
}

#[tokio::test]
async fn compression_on_the_fly_and_precompressed() {
    let dir = fixture();
    let (_s, addr) = serve(&[&rdirs(dir.path())]).await;
    let small = TEXT.repeat(100);
    for coding in ["gzip", "deflate", "br", "zstd"] {
        let (s, h, body) = fetch(addr, "GET", "/small.css", &[("accept-encoding", coding)]).await;
        assert_eq!(s, 200);
        assert_eq!(h["content-encoding"], coding);
        assert_eq!(h["vary"], "Accept-Encoding");
        assert!(
            h["etag"].to_str().unwrap().starts_with("W/"),
            "on-the-fly tags are weak"
        );
        assert!(body.len() < small.len() / 5, "{coding}: {}", body.len());
        assert_eq!(decode(coding, &body).await, small.as_bytes(), "{coding}");
    }
    // q-values choose.
    let (_, h, _) = fetch(
        addr,
        "GET",
        "/small.css",
        &[("accept-encoding", "gzip;q=1, br;q=0.5")],
    )
    .await;
    assert_eq!(h["content-encoding"], "gzip");
    let (_, h, body) = fetch(
        addr,
        "GET",
        "/small.css",
        &[("accept-encoding", "gzip;q=0")],
    )
    .await;
    assert!(!h.contains_key("content-encoding"));
    assert_eq!(body.len(), small.len());
    // Over zmax, binary types and range requests: identity.
    let (_, h, _) = fetch(addr, "GET", "/style.css", &[("accept-encoding", "gzip")]).await;
    assert!(!h.contains_key("content-encoding"), "over zmax");
    assert_eq!(h["vary"], "Accept-Encoding");
    let (_, h, _) = fetch(addr, "GET", "/big.bin", &[("accept-encoding", "gzip")]).await;
    assert!(!h.contains_key("content-encoding") && !h.contains_key("vary"));
    let (s, h, _) = fetch(
        addr,
        "GET",
        "/small.css",
        &[("accept-encoding", "gzip"), ("range", "bytes=0-9")],
    )
    .await;
    assert_eq!(s, 206);
    assert!(!h.contains_key("content-encoding"), "never on ranges");
    // A precompressed sibling is served as is; a stale one is not.
    let (_, h, body) = fetch(addr, "GET", "/app.js", &[("accept-encoding", "gzip, br")]).await;
    assert_eq!(h["content-encoding"], "gzip");
    assert!(
        !h["etag"].to_str().unwrap().starts_with("W/"),
        "a file's tag is strong"
    );
    assert_eq!(
        decode("gzip", &body).await,
        b"console.log('precompressed');\n"
    );
    let (_, h, body) = fetch(addr, "GET", "/old.js", &[("accept-encoding", "gzip")]).await;
    assert_eq!(h["content-encoding"], "gzip");
    assert_eq!(
        decode("gzip", &body).await,
        b"fresh\n",
        "compressed on the fly, not the stale sibling"
    );
    // zmax=0: no on-the-fly compression.
    let (_s2, addr2) = serve(&[&rdirs(dir.path()), "--zmax=0"]).await;
    let (_, h, _) = fetch(addr2, "GET", "/small.css", &[("accept-encoding", "gzip")]).await;
    assert!(!h.contains_key("content-encoding"));
}

#[tokio::test]
async fn cache_control_option() {
    let dir = fixture();
    let (_s, addr) = serve(&[&rdirs(dir.path()), "--cache_control=max-age=2"]).await;
    let (_, h, _) = fetch(addr, "GET", "/a.txt", &[]).await;
    assert_eq!(h["cache-control"], "max-age=2");
    assert!(h.contains_key("etag"));
    let (_s2, addr) = serve(&[&rdirs(dir.path()), "--cache_control=none"]).await;
    let (_, h, _) = fetch(addr, "GET", "/a.txt", &[]).await;
    assert!(!h.contains_key("cache-control") && !h.contains_key("etag"));
}

#[tokio::test]
async fn options_methods_and_cors_preflight() {
    let dir = fixture();
    let (_s, addr) = serve(&[&rdirs(dir.path())]).await;
    let (s, h, _) = fetch(addr, "OPTIONS", "/a.txt", &[]).await;
    assert_eq!(s, 204);
    assert_eq!(h["allow"], "GET, HEAD, OPTIONS");
    let (s, h, _) = fetch(addr, "OPTIONS", "*", &[]).await;
    assert_eq!(
        (s.as_u16(), h["allow"].to_str().unwrap()),
        (204, "GET, HEAD, OPTIONS")
    );
    let (s, h, _) = fetch(
        addr,
        "OPTIONS",
        "/big.bin",
        &[
            ("origin", "https://player.example"),
            ("access-control-request-method", "GET"),
            ("access-control-request-headers", "range"),
        ],
    )
    .await;
    assert_eq!(s, 204);
    assert_eq!(h["access-control-allow-origin"], "*");
    assert_eq!(h["access-control-allow-methods"], "GET, HEAD, OPTIONS");
    assert_eq!(h["access-control-allow-headers"], "range");
    assert!(
        h["access-control-expose-headers"]
            .to_str()
            .unwrap()
            .contains("Content-Range")
    );
    assert!(h.contains_key("access-control-max-age"));
    let (s, h, _) = fetch(addr, "PUT", "/a.txt", &[]).await;
    assert_eq!(
        (s.as_u16(), h["allow"].to_str().unwrap()),
        (405, "GET, HEAD, OPTIONS")
    );
    let (s, _, _) = fetch(addr, "BREW", "/a.txt", &[]).await;
    assert_eq!(s, 501);
}

#[tokio::test]
async fn several_read_directories_are_mounted_by_name() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    std::fs::write(a.path().join("x.txt"), "from a").unwrap();
    std::fs::write(b.path().join("x.txt"), "from b").unwrap();
    let (na, nb) = (
        a.path().file_name().unwrap().to_string_lossy().into_owned(),
        b.path().file_name().unwrap().to_string_lossy().into_owned(),
    );
    let arg = format!("--rdirs={},{}", a.path().display(), b.path().display());
    let (_s, addr) = serve(&[&arg]).await;
    let (_, _, body) = fetch(addr, "GET", &format!("/{na}/x.txt"), &[]).await;
    assert_eq!(body, "from a");
    let (_, _, body) = fetch(addr, "GET", &format!("/{nb}/x.txt"), &[]).await;
    assert_eq!(body, "from b");
    let (s, _, body) = fetch(addr, "GET", "/", &[]).await;
    let page = String::from_utf8_lossy(&body);
    assert_eq!(s, 200);
    assert!(
        page.contains(&format!("href=\"./{na}/\"")) && page.contains(&format!("href=\"./{nb}/\"")),
        "{page}"
    );
    let (s, h, _) = fetch(addr, "GET", &format!("/{na}"), &[]).await;
    assert_eq!(
        (s.as_u16(), h["location"].to_str().unwrap()),
        (301, format!("/{na}/").as_str())
    );
    let (s, _, _) = fetch(addr, "GET", "/elsewhere", &[]).await;
    assert_eq!(s, 404);

    let dup = format!("--rdirs={},{}", a.path().display(), a.path().display());
    let err = common::mounts_of(&["httpout", &dup])
        .err()
        .unwrap()
        .to_string();
    assert!(
        err.contains("--rdirs") && err.contains("two read directories"),
        "{err}"
    );
}

#[tokio::test]
async fn directory_names_with_percent_and_spaces_mount_cleanly() {
    let base = tempfile::tempdir().unwrap();
    let a = base.path().join("media 100%");
    let b = base.path().join("b");
    std::fs::create_dir(&a).unwrap();
    std::fs::create_dir(&b).unwrap();
    std::fs::write(a.join("x.txt"), "odd name").unwrap();
    let (_s, addr) = serve(&[&format!("--rdirs={},{}", a.display(), b.display())]).await;
    let (s, _, body) = fetch(addr, "GET", "/media%20100%25/x.txt", &[]).await;
    assert_eq!((s.as_u16(), &body[..]), (200, &b"odd name"[..]));
    let (_, _, page) = fetch(addr, "GET", "/", &[]).await;
    assert!(String::from_utf8_lossy(&page).contains("href=\"./media%20100%25/\""));
    let bad = base.path().join("back\\slash");
    std::fs::create_dir(&bad).unwrap();
    let err = common::mounts_of(&[
        "httpout",
        &format!("--rdirs={},{}", bad.display(), b.display()),
    ])
    .err()
    .expect("refused, not a panic")
    .to_string();
    assert!(err.contains("--rdirs"), "{err}");
}

/// Attempts to leave the root, over a real socket: none may reach the
/// secret, each gets a 4xx.
#[tokio::test]
async fn traversal_attempts_never_leave_the_root() {
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("secret.txt"), "TOP-SECRET").unwrap();
    let dir = fixture();
    std::os::unix::fs::symlink(outside.path(), dir.path().join("escape")).unwrap();
    std::os::unix::fs::symlink(
        outside.path().join("secret.txt"),
        dir.path().join("link.txt"),
    )
    .unwrap();
    let secret_name = outside
        .path()
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    let (_s, addr) = serve(&[&rdirs(dir.path()), "--dlist"]).await;
    let attempts = [
        "/../secret.txt".to_owned(),
        format!("/../{secret_name}/secret.txt"),
        format!("/%2e%2e/{secret_name}/secret.txt"),
        format!("/%2E%2e%2f{secret_name}%2fsecret.txt"),
        format!("/..%2f{secret_name}%2fsecret.txt"),
        format!("/sub/..%5c..%5c{secret_name}/secret.txt"),
        format!("/sub\\..\\..\\{secret_name}\\secret.txt"),
        "/%c0%ae%c0%ae/secret.txt".to_owned(),
        "/%e0%80%ae%e0%80%ae/secret.txt".to_owned(),
        "/a.txt%00.html".to_owned(),
        "/escape/secret.txt".to_owned(),
        "/link.txt".to_owned(),
        format!("http://127.0.0.1/../{secret_name}/secret.txt"),
        format!("{}/secret.txt", outside.path().display()),
        "/..".to_owned(),
        "/%2e%2e".to_owned(),
        "/sub/../../".to_owned(),
    ];
    for target in &attempts {
        let reply = raw(
            addr,
            format!("GET {target} HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n").as_bytes(),
        )
        .await;
        let status: u16 = reply.get(9..12).and_then(|s| s.parse().ok()).unwrap_or(0);
        assert!(matches!(status, 400 | 403 | 404), "{target}: {reply:.60}");
        assert!(!reply.contains("TOP-SECRET"), "{target} leaked the secret");
    }
    // The listing does not show the escaping symlinks either.
    let (_, _, body) = fetch(addr, "GET", "/", &[]).await;
    let page = String::from_utf8_lossy(&body);
    assert!(!page.contains("escape") && !page.contains("link.txt"));
}

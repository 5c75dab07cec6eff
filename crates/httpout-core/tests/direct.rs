//! Long bodies served outside hyper (`conn/lean.rs`, `conn/write.rs`): a
//! [`LongLived`] stream and a [`FileRegion`] leave hyper on plain-TCP
//! HTTP/1.1 (counted in `httpout_direct_responses_total`) and give the same
//! bytes as on h2c and TLS, where hyper keeps them; the connection serves
//! the next request after them, pipelined requests included; a file that
//! shrinks under `sendfile` ends the connection, never a short body passed
//! off as whole. Real sockets on 127.0.0.1, hyper's client and raw bytes.

use std::io::Write as _;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body::Frame;
use http_body_util::StreamBody;
use httpout_core::{Body, Ctx, FileRegion, ListenSpec, LongLived, ServerConfig, TlsFiles};
use httpout_test::{bounded, get, h1, h2, read_bytes, self_signed, start_with, tls_connect};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The file the file routes serve: 1 MiB of a pattern.
fn contents() -> Vec<u8> {
    (0..1024 * 1024u32).map(|i| (i % 251) as u8).collect()
}

/// `/live`: three chunks with pauses, then the end, as a [`LongLived`]
/// body; `/endless`: one byte every 20 ms, forever; `/file`: the whole file as a [`FileRegion`]; `/range`: bytes
/// 1000..301000 of it; `/shrunk`: a region and a length of 1 MiB over a
/// file that holds 600 KiB.
fn handler(dir: &std::path::Path) -> impl httpout_core::Handler {
    let whole = dir.join("whole.bin");
    std::fs::write(&whole, contents()).unwrap();
    let shrunk = dir.join("shrunk.bin");
    std::fs::File::create(&shrunk)
        .unwrap()
        .write_all(&contents()[..600 * 1024])
        .unwrap();
    move |_req: Request<Body>, ctx: Ctx| {
        let (whole, shrunk) = (whole.clone(), shrunk.clone());
        async move {
            let region = |path: &std::path::Path, offset: u64, len: u64| {
                let file = Arc::new(std::fs::File::open(path).unwrap());
                let data = contents()[offset as usize..(offset + len) as usize].to_vec();
                let mut res = Response::new(Body::full(data));
                res.extensions_mut()
                    .insert(FileRegion { file, offset, len });
                res
            };
            Ok(match ctx.path.to_string().as_str() {
                "/live" => {
                    let frames = futures_util::stream::unfold(0, |i| async move {
                        if i == 3 {
                            return None;
                        }
                        tokio::time::sleep(Duration::from_millis(20)).await;
                        let data = Bytes::from("x".repeat(i + 1));
                        Some((Ok::<_, std::io::Error>(Frame::data(data)), i + 1))
                    });
                    let mut res = Response::new(Body::new(StreamBody::new(frames)));
                    res.extensions_mut().insert(LongLived);
                    res
                }
                "/endless" => {
                    let frames = futures_util::stream::unfold((), |()| async move {
                        tokio::time::sleep(Duration::from_millis(20)).await;
                        Some((Ok::<_, std::io::Error>(Frame::data(Bytes::from("y"))), ()))
                    });
                    let mut res = Response::new(Body::new(StreamBody::new(frames)));
                    res.extensions_mut().insert(LongLived);
                    res
                }
                "/file" => region(&whole, 0, 1024 * 1024),
                "/range" => region(&whole, 1000, 300_000),
                "/shrunk" => {
                    let file = Arc::new(std::fs::File::open(&shrunk).unwrap());
                    let mut res = Response::new(Body::full(contents()));
                    res.extensions_mut().insert(FileRegion {
                        file,
                        offset: 0,
                        len: 1024 * 1024,
                    });
                    res
                }
                _ => Response::new(Body::full("small")),
            })
        }
    }
}

/// A server on plain TCP (or TLS with `tls`), and its metrics.
async fn server(
    dir: &std::path::Path,
    tls: Option<TlsFiles>,
) -> (
    httpout_core::Running,
    SocketAddr,
    Arc<httpout_core::Metrics>,
) {
    server_with(dir, tls, |_| {}).await
}

/// [`server`], its configuration changed by `tweak` first.
async fn server_with(
    dir: &std::path::Path,
    tls: Option<TlsFiles>,
    tweak: impl FnOnce(&mut ServerConfig),
) -> (
    httpout_core::Running,
    SocketAddr,
    Arc<httpout_core::Metrics>,
) {
    let listener = if tls.is_some() {
        ListenSpec::Https("127.0.0.1:0".parse().unwrap())
    } else {
        ListenSpec::Http("127.0.0.1:0".parse().unwrap())
    };
    let mut config = ServerConfig {
        listeners: vec![listener],
        tls,
        maxp: 0,
        ..ServerConfig::default()
    };
    tweak(&mut config);
    let metrics = Arc::clone(&config.metrics);
    let (running, addr) = start_with(config, handler(dir)).await;
    (running, addr, metrics)
}

/// `httpout_direct_responses_total{how}`.
fn direct(metrics: &httpout_core::Metrics, how: &str) -> u64 {
    let needle = format!("httpout_direct_responses_total{{how=\"{how}\"}} ");
    let text = metrics.encode();
    let line = text
        .lines()
        .find(|l| l.starts_with(&needle))
        .expect(&needle);
    line[needle.len()..].trim().parse().unwrap()
}

#[tokio::test]
async fn long_bodies_leave_hyper_on_plain_http11_and_the_connection_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let (_server, addr, metrics) = server(dir.path(), None).await;
    let mut client = h1(TcpStream::connect(addr).await.unwrap()).await;

    let res = bounded(client.send_request(get("/live"))).await.unwrap();
    assert_eq!(res.headers()["transfer-encoding"], "chunked");
    assert!(res.headers().contains_key("date") && res.headers().contains_key("server"));
    let (status, _, body) = read_bytes(res).await;
    assert_eq!((status, &body[..]), (StatusCode::OK, &b"xxxxxx"[..]));

    let res = bounded(client.send_request(get("/file"))).await.unwrap();
    assert_eq!(res.headers()["content-length"], "1048576");
    let (status, _, body) = read_bytes(res).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body[..] == contents()[..], "the file, byte for byte");

    let res = bounded(client.send_request(get("/range"))).await.unwrap();
    let (_, _, body) = read_bytes(res).await;
    assert!(
        body[..] == contents()[1000..301_000],
        "the region, byte for byte"
    );

    // The same connection still answers a small request through hyper.
    let res = bounded(client.send_request(get("/small"))).await.unwrap();
    assert_eq!(&read_bytes(res).await.2[..], b"small");
    assert_eq!(direct(&metrics, "writev"), 1);
    assert_eq!(direct(&metrics, "sendfile"), 2);
}

#[tokio::test]
async fn pipelined_requests_behind_a_direct_body_are_answered_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let (_server, addr, metrics) = server(dir.path(), None).await;
    let mut s = TcpStream::connect(addr).await.unwrap();
    // Three requests in one write: hyper has read the last two before the
    // first leaves it, and must get them back.
    s.write_all(
        b"GET /file HTTP/1.1\r\nhost: x\r\n\r\n\
          GET /live HTTP/1.1\r\nhost: x\r\n\r\n\
          GET /small HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n",
    )
    .await
    .unwrap();
    let mut out = Vec::new();
    bounded(s.read_to_end(&mut out)).await.unwrap();
    let text = String::from_utf8_lossy(&out);
    assert_eq!(
        text.matches("HTTP/1.1 200 OK\r\n").count(),
        3,
        "three answers"
    );
    assert!(
        text.ends_with("small"),
        "the last one last: {:?}",
        &text[text.len() - 40..]
    );
    let file_at = out.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    assert!(out[file_at..file_at + 1024 * 1024] == contents()[..]);
    assert!(
        text.contains("1\r\nx\r\n2\r\nxx\r\n3\r\nxxx\r\n0\r\n\r\n"),
        "the chunks"
    );
    assert_eq!(direct(&metrics, "sendfile"), 1);
    assert_eq!(direct(&metrics, "writev"), 1);
}

#[tokio::test]
async fn a_server_that_closes_after_each_response_closes_after_a_direct_one() {
    let dir = tempfile::tempdir().unwrap();
    let (_server, addr, metrics) = server_with(dir.path(), None, |c| c.close = true).await;
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(b"GET /file HTTP/1.1\r\nhost: x\r\n\r\nGET /small HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .unwrap();
    let mut out = Vec::new();
    bounded(s.read_to_end(&mut out)).await.unwrap();
    let head_end = out.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    let head = String::from_utf8_lossy(&out[..head_end]).to_lowercase();
    assert!(head.contains("\r\nconnection: close\r\n"), "{head}");
    assert!(
        out[head_end..] == contents()[..],
        "the whole file and nothing after it: {} bytes",
        out.len() - head_end
    );
    assert_eq!(direct(&metrics, "sendfile"), 1);
}

#[tokio::test]
async fn a_file_that_shrinks_under_sendfile_ends_the_connection_short() {
    let dir = tempfile::tempdir().unwrap();
    let (_server, addr, _metrics) = server(dir.path(), None).await;
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(b"GET /shrunk HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .unwrap();
    let mut out = Vec::new();
    bounded(s.read_to_end(&mut out)).await.unwrap();
    let head_end = out.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    let head = String::from_utf8_lossy(&out[..head_end]);
    assert!(head.contains("content-length: 1048576"), "{head}");
    // Closed after what the file had: the client knows the body is short.
    assert_eq!(out.len() - head_end, 600 * 1024);
}

#[tokio::test]
async fn h2c_and_tls_keep_hyper_and_give_the_same_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let (_plain, addr, metrics) = server(dir.path(), None).await;
    let mut client = h2(TcpStream::connect(addr).await.unwrap()).await;
    for (path, want) in [("/live", b"xxxxxx".to_vec()), ("/file", contents())] {
        let res = bounded(client.send_request(get(path))).await.unwrap();
        assert_eq!(res.version(), http::Version::HTTP_2);
        assert!(read_bytes(res).await.2[..] == want[..], "{path} over h2c");
    }
    assert_eq!(direct(&metrics, "writev") + direct(&metrics, "sendfile"), 0);

    let (cert, key, der) = self_signed(dir.path(), "direct");
    let (_tls, addr, metrics) = server(
        dir.path(),
        Some(TlsFiles {
            cert,
            key,
            ca: None,
        }),
    )
    .await;
    let tls = tls_connect(addr, &der, &[b"http/1.1"]).await;
    let mut client = h1(tls).await;
    for (path, want) in [("/live", b"xxxxxx".to_vec()), ("/file", contents())] {
        let res = bounded(client.send_request(get(path))).await.unwrap();
        assert!(read_bytes(res).await.2[..] == want[..], "{path} over TLS");
    }
    assert_eq!(direct(&metrics, "writev") + direct(&metrics, "sendfile"), 0);
}

#[tokio::test]
async fn head_and_http10_keep_hyper() {
    let dir = tempfile::tempdir().unwrap();
    let (_server, addr, metrics) = server(dir.path(), None).await;
    let head = httpout_test::raw(
        addr,
        b"HEAD /file HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n",
    )
    .await;
    assert!(
        head.contains("content-length: 1048576") && head.ends_with("\r\n\r\n"),
        "{head}"
    );
    let old = httpout_test::raw(addr, b"GET /live HTTP/1.0\r\n\r\n").await;
    assert!(
        old.starts_with("HTTP/1.0 200") && old.ends_with("xxxxxx"),
        "{old}"
    );
    assert_eq!(direct(&metrics, "writev") + direct(&metrics, "sendfile"), 0);
}

#[tokio::test]
async fn shutdown_lets_a_direct_body_finish_and_cuts_an_endless_one_at_the_grace() {
    use httpout_core::Shutdown;
    let dir = tempfile::tempdir().unwrap();
    let (running, addr, _metrics) = server(dir.path(), None).await;
    let mut client = h1(TcpStream::connect(addr).await.unwrap()).await;
    let res = bounded(client.send_request(get("/live"))).await.unwrap();
    let reading = tokio::spawn(read_bytes(res));
    // Graceful: the stream in flight ends whole, then the connection closes.
    let done = running.handle().shutdown(Duration::from_secs(10)).await;
    assert_eq!(done, Shutdown::Graceful);
    assert_eq!(&bounded(reading).await.unwrap().2[..], b"xxxxxx");

    let (running, addr, _metrics) = server(dir.path(), None).await;
    let mut client = h1(TcpStream::connect(addr).await.unwrap()).await;
    let res = bounded(client.send_request(get("/endless"))).await.unwrap();
    let (_parts, mut body) = res.into_parts();
    use http_body_util::BodyExt as _;
    let first = bounded(body.frame()).await.unwrap().unwrap();
    assert_eq!(first.into_data().unwrap(), "y");
    let started = std::time::Instant::now();
    let done = running.handle().shutdown(Duration::from_millis(300)).await;
    assert_eq!(done, Shutdown::Forced);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    // The stream was cut: the body ends in an error, not a clean end.
    let rest = bounded(body.collect()).await;
    assert!(rest.is_err(), "an endless body cannot end cleanly");
}

//! The engine over real sockets on 127.0.0.1: protocols, limits, timeouts,
//! common headers, shutdown. Every wait is bounded.

use std::time::{Duration, Instant};

use http::Version;
use httpout_core::{Cors, ListenSpec, Server, ServerConfig, Shutdown};
use httpout_test::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UnixStream};

/// Whole milliseconds: the engine's clock may round a limit down by less
/// than this, so a cut "no earlier than the timeout" allows it.
const ROUNDING: Duration = Duration::from_millis(5);

/// The latest a cut due after `timeout` may come on a loaded machine.
fn late_bound(timeout: Duration) -> Duration {
    2 * timeout + Duration::from_secs(2)
}

#[tokio::test]
async fn http1_keep_alive_serves_several_requests_on_one_connection() {
    let (_server, addr) = start(config()).await;
    let mut client = h1(TcpStream::connect(addr).await.unwrap()).await;
    for path in ["/a", "/b/c", "/x%20y"] {
        let res = bounded(client.send_request(get(path))).await.unwrap();
        assert_eq!(res.version(), Version::HTTP_11);
        let (status, headers, body) = read(res).await;
        assert_eq!(status, 200);
        assert!(headers["server"].to_str().unwrap().starts_with("httpout/"));
        assert!(headers.contains_key("date"));
        assert_eq!(body, format!("path={}", path.replace("%20", " ")));
    }
}

#[tokio::test]
async fn h2c_prior_knowledge() {
    let (_server, addr) = start(config()).await;
    let mut client = h2(TcpStream::connect(addr).await.unwrap()).await;
    let res = bounded(client.send_request(get("/h2"))).await.unwrap();
    assert_eq!(res.version(), Version::HTTP_2);
    let (status, headers, body) = read(res).await;
    assert_eq!((status.as_u16(), body.as_str()), (200, "path=/h2"));
    assert!(headers.contains_key("date") && headers.contains_key("server"));
}

#[tokio::test]
async fn https_negotiates_h2_and_http11_by_alpn() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key, der) = self_signed(dir.path(), "a");
    let config = ServerConfig {
        listeners: vec![ListenSpec::Https("127.0.0.1:0".parse().unwrap())],
        tls: Some(httpout_core::TlsFiles {
            cert,
            key,
            ca: None,
        }),
        ..config()
    };
    let (_server, addr) = start(config).await;

    let tls = tls_connect(addr, &der, &[b"h2", b"http/1.1"]).await;
    assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
    let mut client = h2(tls).await;
    let res = bounded(client.send_request(get("/secure"))).await.unwrap();
    assert_eq!(res.version(), Version::HTTP_2);
    assert_eq!(read(res).await.2, "path=/secure");

    let tls = tls_connect(addr, &der, &[b"http/1.1"]).await;
    assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"http/1.1"[..]));
    let mut client = h1(tls).await;
    let res = bounded(client.send_request(get("/one"))).await.unwrap();
    assert_eq!(res.version(), Version::HTTP_11);
    assert_eq!(read(res).await.2, "path=/one");
}

#[tokio::test]
async fn tls_reload_swaps_the_certificate_for_new_handshakes() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key, old_der) = self_signed(dir.path(), "live");
    let config = ServerConfig {
        listeners: vec![ListenSpec::Https("127.0.0.1:0".parse().unwrap())],
        tls: Some(httpout_core::TlsFiles {
            cert: cert.clone(),
            key: key.clone(),
            ca: None,
        }),
        ..config()
    };
    let (server, addr) = start(config).await;
    let mut before = h1(tls_connect(addr, &old_der, &[b"http/1.1"]).await).await;

    let (new_cert, new_key, new_der) = self_signed(dir.path(), "next");
    std::fs::rename(new_cert, &cert).unwrap();
    std::fs::rename(new_key, &key).unwrap();
    assert!(server.reload_tls().unwrap());

    let mut after = h1(tls_connect(addr, &new_der, &[b"http/1.1"]).await).await;
    assert_eq!(
        read(bounded(after.send_request(get("/new"))).await.unwrap())
            .await
            .0,
        200
    );
    // The connection made before the reload is still served.
    assert_eq!(
        read(bounded(before.send_request(get("/old"))).await.unwrap())
            .await
            .0,
        200
    );

    // A broken file is refused and the current certificate stays.
    std::fs::write(&key, "not a key").unwrap();
    let err = server.reload_tls().unwrap_err().to_string();
    assert!(err.contains("--pkey"), "{err}");
    let mut again = h1(tls_connect(addr, &new_der, &[b"http/1.1"]).await).await;
    assert_eq!(
        read(bounded(again.send_request(get("/x"))).await.unwrap())
            .await
            .0,
        200
    );
}

#[tokio::test]
async fn unix_socket_and_tcp_in_one_server() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("httpout.sock");
    let config = ServerConfig {
        listeners: vec![
            ListenSpec::Http("127.0.0.1:0".parse().unwrap()),
            ListenSpec::Unix(sock.clone()),
        ],
        ..config()
    };
    let (server, addr) = start(config).await;
    assert_eq!(server.local_addrs()[1], ListenSpec::Unix(sock.clone()));
    let mut unix = h1(UnixStream::connect(&sock).await.unwrap()).await;
    assert_eq!(
        read(bounded(unix.send_request(get("/u"))).await.unwrap())
            .await
            .2,
        "path=/u"
    );
    let mut tcp = h1(TcpStream::connect(addr).await.unwrap()).await;
    assert_eq!(
        read(bounded(tcp.send_request(get("/t"))).await.unwrap())
            .await
            .2,
        "path=/t"
    );
    server.handle().shutdown(Duration::from_secs(2)).await;
    assert!(!sock.exists(), "socket file removed at shutdown");
}

#[tokio::test]
async fn over_maxc_gets_503_with_retry_after() {
    let (_server, addr) = start(ServerConfig {
        maxc: 2,
        maxp: 0,
        ..config()
    })
    .await;
    let mut held = Vec::new();
    for _ in 0..2 {
        let mut c = h1(TcpStream::connect(addr).await.unwrap()).await;
        assert_eq!(
            read(bounded(c.send_request(get("/"))).await.unwrap())
                .await
                .0,
            200
        );
        held.push(c);
    }
    let reply = raw(addr, b"GET / HTTP/1.1\r\nhost: x\r\n\r\n").await;
    assert!(reply.starts_with("HTTP/1.1 503"), "{reply}");
    assert!(reply.to_lowercase().contains("retry-after: 1"), "{reply}");
    // The body says which limit, with its value.
    assert!(reply.ends_with("\r\n\r\nserver full (maxc=2)\n"), "{reply}");
    drop(held);
    // Places are freed when connections close.
    let ok = bounded(async {
        loop {
            let reply = raw(
                addr,
                b"GET / HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n",
            )
            .await;
            if reply.starts_with("HTTP/1.1 200") {
                break true;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    assert!(ok);
}

#[tokio::test]
async fn over_maxp_gets_503() {
    let (_server, addr) = start(ServerConfig {
        maxp: 1,
        ..config()
    })
    .await;
    let mut first = h1(TcpStream::connect(addr).await.unwrap()).await;
    assert_eq!(
        read(bounded(first.send_request(get("/"))).await.unwrap())
            .await
            .0,
        200
    );
    let reply = raw(addr, b"GET / HTTP/1.1\r\nhost: x\r\n\r\n").await;
    assert!(reply.starts_with("HTTP/1.1 503"), "{reply}");
    assert!(reply.to_lowercase().contains("retry-after: 1"), "{reply}");
    assert!(
        reply.ends_with("\r\n\r\ntoo many connections from your address (maxp=1)\n"),
        "{reply}"
    );
    // Over h2c (prior knowledge) too.
    let mut c = h2(TcpStream::connect(addr).await.unwrap()).await;
    let (status, headers, body) = read(bounded(c.send_request(get("/"))).await.unwrap()).await;
    assert_eq!(status, 503);
    assert_eq!(headers["retry-after"], "1");
    assert_eq!(body, "too many connections from your address (maxp=1)\n");
}

#[tokio::test]
async fn slowloris_is_cut_off() {
    let timeout = Duration::from_secs(1);
    let (_server, addr) = start(ServerConfig {
        timeout: Some(timeout),
        ..config()
    })
    .await;
    let mut s = TcpStream::connect(addr).await.unwrap();
    let started = Instant::now();
    let request = b"GET / HTTP/1.1\r\nhost: 127.0.0.1\r\nx-slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n";
    let mut cut = false;
    for byte in request {
        if s.write_all(&[*byte]).await.is_err() {
            cut = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        let mut probe = [0u8; 1];
        if let Ok(Ok(0)) = tokio::time::timeout(Duration::from_millis(1), s.read(&mut probe)).await
        {
            cut = true;
            break;
        }
    }
    assert!(cut, "a client trickling its headers must be cut off");
    assert!(
        started.elapsed() <= late_bound(timeout),
        "cut after {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn slow_headers_after_a_first_request_are_cut_off_too() {
    let timeout = Duration::from_secs(1);
    let (_server, addr) = start(ServerConfig {
        timeout: Some(timeout),
        ..config()
    })
    .await;
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(b"GET /first HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .unwrap();
    read_until(&mut s, "path=/first").await;
    let started = Instant::now();
    let mut cut = false;
    for byte in b"GET /second HTTP/1.1\r\nhost: x\r\nx-slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n"
    {
        if s.write_all(&[*byte]).await.is_err() {
            cut = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        let mut probe = [0u8; 512];
        match tokio::time::timeout(Duration::from_millis(1), s.read(&mut probe)).await {
            Ok(Ok(0)) | Ok(Err(_)) => {
                cut = true;
                break;
            }
            Ok(Ok(n)) => assert!(!String::from_utf8_lossy(&probe[..n]).contains("200 OK")),
            Err(_) => {}
        }
    }
    assert!(cut && started.elapsed() <= late_bound(timeout));
}

#[tokio::test]
async fn idle_keep_alive_connection_is_closed_after_timeout() {
    let timeout = Duration::from_secs(1);
    let (_server, addr) = start(ServerConfig {
        timeout: Some(timeout),
        ..config()
    })
    .await;
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(b"GET / HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .unwrap();
    read_until(&mut s, "path=/").await;
    let started = Instant::now();
    let mut rest = Vec::new();
    bounded(s.read_to_end(&mut rest)).await.unwrap();
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(800) && waited <= late_bound(timeout),
        "{waited:?}"
    );
}

#[tokio::test]
async fn silent_connection_is_closed_after_timeout() {
    let timeout = Duration::from_secs(1);
    let (_server, addr) = start(ServerConfig {
        timeout: Some(timeout),
        ..config()
    })
    .await;
    let started = Instant::now();
    let mut s = TcpStream::connect(addr).await.unwrap();
    let mut rest = Vec::new();
    bounded(s.read_to_end(&mut rest)).await.unwrap();
    let waited = started.elapsed();
    assert!(rest.is_empty());
    assert!(
        waited + ROUNDING >= timeout && waited <= late_bound(timeout),
        "closed after {waited:?}, timeout {timeout:?}"
    );
}

#[tokio::test]
async fn graceful_shutdown_finishes_in_flight_requests() {
    let (server, addr) = start(config()).await;
    let mut h1c = h1(TcpStream::connect(addr).await.unwrap()).await;
    let mut h2c = h2(TcpStream::connect(addr).await.unwrap()).await;
    let slow1 = tokio::spawn(h1c.send_request(get("/slow")));
    let slow2 = tokio::spawn(h2c.send_request(get("/slow")));
    tokio::time::sleep(Duration::from_millis(100)).await;
    let handle = server.handle();
    let shutdown = tokio::spawn(async move { handle.shutdown(Duration::from_secs(5)).await });
    let r1 = bounded(slow1).await.unwrap().unwrap();
    let r2 = bounded(slow2).await.unwrap().unwrap();
    assert_eq!(read(r1).await.2, "slow done");
    assert_eq!(read(r2).await.2, "slow done");
    assert_eq!(bounded(shutdown).await.unwrap(), Shutdown::Graceful);
    assert!(
        TcpStream::connect(addr).await.is_err(),
        "no longer accepting"
    );
}

#[tokio::test]
async fn shutdown_is_forced_after_the_grace_period() {
    let (server, addr) = start(config()).await;
    let mut c = h1(TcpStream::connect(addr).await.unwrap()).await;
    let slow = tokio::spawn(c.send_request(get("/slow")));
    tokio::time::sleep(Duration::from_millis(50)).await;
    let started = Instant::now();
    assert_eq!(
        server.handle().shutdown(Duration::from_millis(100)).await,
        Shutdown::Forced
    );
    assert!(started.elapsed() < Duration::from_secs(2));
    assert!(bounded(slow).await.unwrap().is_err(), "the request was cut");
}

#[tokio::test]
async fn common_headers_sutc_cors_hdrs() {
    let cfg = ServerConfig {
        sutc: true,
        headers: vec![("x-origin-id".parse().unwrap(), "edge-1".parse().unwrap())],
        ..config()
    };
    let (_server, addr) = start(cfg).await;
    let mut c = h1(TcpStream::connect(addr).await.unwrap()).await;
    let (_, headers, _) = read(bounded(c.send_request(get("/"))).await.unwrap()).await;
    let utc: u128 = headers["server-utc"].to_str().unwrap().parse().unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis();
    assert!(now.abs_diff(utc) < 5_000);
    assert_eq!(headers["x-origin-id"], "edge-1");
    assert!(
        !headers.contains_key("access-control-allow-origin"),
        "auto: no Origin, no CORS"
    );
    let req = http::Request::get("/missing")
        .header("host", "x")
        .header("origin", "https://player.example")
        .body(http_body_util::Empty::new())
        .unwrap();
    let (status, headers, _) = read(bounded(c.send_request(req)).await.unwrap()).await;
    assert_eq!(status, 404);
    assert_eq!(
        headers["access-control-allow-origin"], "*",
        "CORS on errors too"
    );
    assert!(
        headers["access-control-expose-headers"]
            .to_str()
            .unwrap()
            .contains("Date")
    );

    for (cors, with_origin, expect) in [(Cors::On, false, true), (Cors::Off, true, false)] {
        let (_s, addr) = start(ServerConfig { cors, ..config() }).await;
        let mut c = h1(TcpStream::connect(addr).await.unwrap()).await;
        let mut req = get("/");
        if with_origin {
            req.headers_mut()
                .insert("origin", "https://o".parse().unwrap());
        }
        let (_, headers, _) = read(bounded(c.send_request(req)).await.unwrap()).await;
        assert_eq!(
            headers.contains_key("access-control-allow-origin"),
            expect,
            "{cors:?}"
        );
    }
}

#[tokio::test]
async fn close_option_closes_after_each_response() {
    let (_server, addr) = start(ServerConfig {
        close: true,
        ..config()
    })
    .await;
    let reply = raw(
        addr,
        b"GET /a HTTP/1.1\r\nhost: x\r\n\r\nGET /b HTTP/1.1\r\nhost: x\r\n\r\n",
    )
    .await;
    assert!(
        reply.to_lowercase().contains("connection: close"),
        "{reply}"
    );
    assert_eq!(reply.matches("HTTP/1.1 200").count(), 1, "{reply}");
}

#[tokio::test]
async fn max_client_errors_closes_after_consecutive_errors() {
    let (_server, addr) = start(ServerConfig {
        max_client_errors: 3,
        ..config()
    })
    .await;
    let mut pipeline = Vec::new();
    for path in [
        "/missing", "/ok", "/missing", "/missing", "/missing", "/after",
    ] {
        pipeline.extend_from_slice(format!("GET {path} HTTP/1.1\r\nhost: x\r\n\r\n").as_bytes());
    }
    let reply = raw(addr, &pipeline).await;
    // The success in between resets the count: the connection closes on the
    // third error in a row, and /after is never answered.
    assert_eq!(reply.matches("HTTP/1.1 404").count(), 4, "{reply}");
    assert_eq!(reply.matches("HTTP/1.1 200").count(), 1, "{reply}");
    assert!(!reply.contains("path=/after"));
}

#[tokio::test]
async fn bad_paths_get_400_and_the_connection_stays_usable() {
    let (_server, addr) = start(config()).await;
    let mut s = TcpStream::connect(addr).await.unwrap();
    for bad in ["/%zz", "/..%2fetc", "/a%00b", "/%c0%ae%c0%ae/x"] {
        s.write_all(format!("GET {bad} HTTP/1.1\r\nhost: x\r\n\r\n").as_bytes())
            .await
            .unwrap();
        let (head, body) = read_response(&mut s).await;
        assert!(head.starts_with("HTTP/1.1 400"), "{bad}: {head}");
        assert!(!body.is_empty(), "a short reason");
    }
    s.write_all(b"GET /fine HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .unwrap();
    read_until(&mut s, "path=/fine").await;
}

#[tokio::test]
async fn garbage_gets_400() {
    let (_server, addr) = start(config()).await;
    let reply = raw(addr, b"THIS IS NOT HTTP\r\n\r\n").await;
    assert!(reply.starts_with("HTTP/1.1 400"), "{reply}");
}

#[tokio::test]
async fn port_in_use_is_a_bind_error_naming_the_listener() {
    let (_server, addr) = start(config()).await;
    let err = Server::bind(ServerConfig {
        listeners: vec![ListenSpec::Http(addr)],
        ..config()
    })
    .await
    .unwrap_err();
    assert!(!err.is_config());
    assert!(
        err.to_string()
            .contains(&format!("cannot listen on http://{addr}")),
        "{err}"
    );
}

#[tokio::test]
async fn bad_tls_files_are_config_errors_naming_the_option() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key, _) = self_signed(dir.path(), "ok");
    let garbage = dir.path().join("garbage.pem");
    std::fs::write(&garbage, "-----BEGIN CERTIFICATE-----\nnot base64!\n").unwrap();
    let (other_cert, _, _) = self_signed(dir.path(), "other");
    let cases = [
        (dir.path().join("missing.crt"), key.clone(), "--cert"),
        (garbage.clone(), key.clone(), "--cert"),
        (cert.clone(), dir.path().join("missing.key"), "--pkey"),
        (cert.clone(), cert.clone(), "--pkey"),
        (other_cert, key.clone(), "--pkey"),
    ];
    for (cert, key, option) in cases {
        let err = Server::bind(ServerConfig {
            listeners: vec![ListenSpec::Https("127.0.0.1:0".parse().unwrap())],
            tls: Some(httpout_core::TlsFiles {
                cert: cert.clone(),
                key,
                ca: None,
            }),
            ..config()
        })
        .await
        .unwrap_err();
        assert!(err.is_config(), "{err}");
        let msg = err.to_string();
        assert!(
            msg.contains(option) && !msg.contains('\n'),
            "{}: {msg}",
            cert.display()
        );
    }
}

/// An endless body of 64 KiB chunks that says when it is dropped (the
/// connection serving it was cut).
struct Endless(Option<tokio::sync::oneshot::Sender<Instant>>);

impl http_body::Body for Endless {
    type Data = bytes::Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<bytes::Bytes>, Self::Error>>> {
        static CHUNK: [u8; 64 * 1024] = [0; 64 * 1024];
        std::task::Poll::Ready(Some(Ok(http_body::Frame::data(bytes::Bytes::from_static(
            &CHUNK,
        )))))
    }
}

impl Drop for Endless {
    fn drop(&mut self) {
        if let Some(tx) = self.0.take() {
            let _ = tx.send(Instant::now());
        }
    }
}

#[tokio::test]
async fn a_reader_that_never_reads_is_cut_off() {
    let timeout = Duration::from_secs(1);
    let (tx, dropped) = tokio::sync::oneshot::channel();
    let tx = std::sync::Mutex::new(Some(tx));
    let handler = move |_req: http::Request<httpout_core::Body>, _ctx: httpout_core::Ctx| {
        let body = Endless(tx.lock().unwrap().take());
        async move { Ok(http::Response::new(httpout_core::Body::new(body))) }
    };
    let (_server, addr) = start_with(
        ServerConfig {
            timeout: Some(timeout),
            ..config()
        },
        handler,
    )
    .await;
    let asked = Instant::now();
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(b"GET /endless HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .unwrap();
    // Do not read: the server's writes stall once the socket buffers fill,
    // and the connection is cut `timeout` after the stall began.
    let cut = bounded(dropped).await.expect("the body was dropped") - asked;
    assert!(
        cut + ROUNDING >= timeout && cut <= late_bound(timeout),
        "cut {cut:?} after the request, timeout {timeout:?}"
    );
    // What was buffered still arrives, then the connection ends.
    let mut sink = vec![0u8; 1 << 16];
    bounded(async {
        loop {
            match s.read(&mut sink).await {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
    })
    .await;
}

#[tokio::test]
async fn h2_pings_do_not_keep_an_idle_connection_open() {
    let timeout = Duration::from_secs(1);
    let (_server, addr) = start(ServerConfig {
        timeout: Some(timeout),
        ..config()
    })
    .await;
    let io = hyper_util::rt::TokioIo::new(TcpStream::connect(addr).await.unwrap());
    let (mut send, conn) =
        hyper::client::conn::http2::Builder::new(hyper_util::rt::TokioExecutor::new())
            .timer(hyper_util::rt::TokioTimer::new())
            .keep_alive_interval(Duration::from_millis(200))
            .keep_alive_while_idle(true)
            .handshake(io)
            .await
            .unwrap();
    let closed = tokio::spawn(conn);
    let res = bounded(send.send_request(get("/x"))).await.unwrap();
    assert_eq!(read(res).await.0, 200);
    let started = Instant::now();
    let _ = bounded(closed).await;
    assert!(
        started.elapsed() <= late_bound(timeout),
        "closed after {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_unix_socket_in_use_is_not_taken_over() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("s.sock");
    let unix = |p: &std::path::Path| ServerConfig {
        listeners: vec![ListenSpec::Unix(p.to_owned())],
        ..config()
    };
    let (first, _) = start(unix(&sock)).await;
    let err = Server::bind(unix(&sock)).await.unwrap_err();
    assert!(
        !err.is_config() && err.to_string().contains("cannot listen on unix:"),
        "{err}"
    );
    let mut c = h1(UnixStream::connect(&sock).await.unwrap()).await;
    assert_eq!(
        read(bounded(c.send_request(get("/still"))).await.unwrap())
            .await
            .2,
        "path=/still"
    );
    // A socket file nobody listens on (a crash) is reused.
    drop(c);
    first.handle().shutdown(Duration::from_secs(2)).await;
    let _stale = std::os::unix::net::UnixListener::bind(&sock).unwrap();
    drop(_stale);
    let (_second, _) = start(unix(&sock)).await;
    assert!(UnixStream::connect(&sock).await.is_ok());
}

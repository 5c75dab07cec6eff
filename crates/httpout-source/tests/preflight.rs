//! A browser's upload to source mode sends a CORS preflight first when it
//! carries custom headers: the engine answers it from the methods the
//! source handler declares. hyper's client over a real socket on 127.0.0.1;
//! every wait is bounded.

use std::time::Duration;

use httpout_core::ServerConfig;
use httpout_source::{Sink, SourceHandler};
use httpout_test::{bounded, h1, read, read_response, request, start_with};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

#[tokio::test]
async fn a_browser_upload_with_custom_headers_passes_its_preflight() {
    let handler = SourceHandler::new(
        Sink::Exec("cat >/dev/null".into()),
        Some(Duration::from_secs(10)),
    );
    let (_s, addr) = start_with(ServerConfig::default(), handler).await;
    let mut c = h1(bounded(TcpStream::connect(addr)).await.unwrap()).await;
    let preflight = request(
        "OPTIONS",
        "/in/a.mp3",
        &[
            ("origin", "https://app.example"),
            ("access-control-request-method", "PUT"),
            ("access-control-request-headers", "content-type,x-custom"),
        ],
    );
    let (status, h, body) = read(bounded(c.send_request(preflight)).await.unwrap()).await;
    assert_eq!(status, 204);
    assert!(body.is_empty());
    assert_eq!(h["access-control-allow-origin"], "*");
    assert_eq!(h["access-control-allow-methods"], "PUT, POST, OPTIONS");
    assert_eq!(h["access-control-allow-headers"], "content-type,x-custom");
    assert!(h.contains_key("access-control-max-age"));
    assert_eq!(h["allow"], "PUT, POST, OPTIONS");

    // A method source mode does not take: 405 with the same Allow.
    let (status, h, _) = read(
        bounded(c.send_request(request("GET", "/in/a.mp3", &[])))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status.as_u16(), h["allow"].to_str().unwrap()),
        (405, "PUT, POST, OPTIONS")
    );

    // The upload the preflight announced then goes through, with CORS.
    let mut s = bounded(TcpStream::connect(addr)).await.unwrap();
    s.write_all(
        b"PUT /in/a.mp3 HTTP/1.1\r\nHost: x\r\nOrigin: https://app.example\r\n\
          Content-Type: audio/mpeg\r\nX-Custom: 1\r\nContent-Length: 5\r\n\
          Connection: close\r\n\r\nhello",
    )
    .await
    .unwrap();
    let (head, _) = bounded(read_response(&mut s)).await;
    assert!(head.starts_with("HTTP/1.1 201"), "{head}");
    assert!(
        head.to_ascii_lowercase()
            .contains("access-control-allow-origin: *"),
        "{head}"
    );
}

//! Source mode over real sockets: uploads into a command and into an
//! embedding program's stream, with backpressure. Every wait is bounded.

use std::net::SocketAddr;
use std::time::Duration;

use http::StatusCode;
use http_body_util::BodyExt as _;
use httpout_core::ServerConfig;
use httpout_source::{Sink, SourceHandler};
use httpout_test::{bounded, read_response, start_with};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

async fn serve(sink: Sink) -> (httpout_core::Running, SocketAddr) {
    let handler = SourceHandler::new(sink, Some(Duration::from_secs(10)));
    start_with(ServerConfig::default(), handler).await
}

/// PUTs `body` with a Content-Length; returns (status line, body).
async fn put(addr: SocketAddr, path: &str, body: &[u8]) -> (String, String) {
    let mut s = bounded(TcpStream::connect(addr)).await.unwrap();
    let head = format!(
        "PUT {path} HTTP/1.1\r\nHost: x\r\nContent-Type: audio/mpeg\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).await.unwrap();
    // The server may answer before reading all (a command that exits early).
    let _ = s.write_all(body).await;
    bounded(read_response(&mut s)).await
}

#[tokio::test]
async fn a_command_gets_the_body_and_the_request_facts() {
    let (_s, addr) = serve(Sink::Exec(
        "wc -c; printf '%s %s %s' \"$HTTPOUT_METHOD\" \"$HTTPOUT_PATH\" \"$HTTPOUT_CONTENT_TYPE\""
            .into(),
    ))
    .await;
    let body = vec![7u8; 3_000_000];
    let (head, text) = put(addr, "/in/a.mp3", &body).await;
    assert!(head.starts_with("HTTP/1.1 201"), "{head}");
    assert!(text.starts_with("3000000\n"), "{text}");
    assert!(text.ends_with("PUT /in/a.mp3 audio/mpeg"), "{text}");
}

#[tokio::test]
async fn a_failing_command_gives_502_with_its_stderr() {
    let (_s, addr) = serve(Sink::Exec(
        "cat >/dev/null; echo 'bad input' >&2; exit 3".into(),
    ))
    .await;
    let (head, text) = put(addr, "/x", b"hello").await;
    assert!(head.starts_with("HTTP/1.1 502"), "{head}");
    assert!(text.contains("bad input") && text.contains('3'), "{text}");
    // A command that stops reading early and succeeds is a success.
    let (_s, addr) = serve(Sink::Exec("head -c 10 >/dev/null".into())).await;
    let (head, _) = put(addr, "/y", &vec![1u8; 8_000_000]).await;
    assert!(head.starts_with("HTTP/1.1 201"), "{head}");
}

#[tokio::test]
async fn an_embedder_reads_uploads_with_backpressure() {
    let (sink, mut uploads) = Sink::channel(1);
    let (_s, addr) = serve(sink).await;
    const TOTAL: usize = 64 << 20;
    let uploader = tokio::spawn(async move {
        let mut s = TcpStream::connect(addr).await.unwrap();
        let head = format!("POST /feed HTTP/1.1\r\nHost: x\r\nContent-Length: {TOTAL}\r\n\r\n");
        s.write_all(head.as_bytes()).await.unwrap();
        let block = vec![3u8; 1 << 20];
        let mut sent = 0;
        while sent < TOTAL {
            s.write_all(&block).await.unwrap();
            sent += block.len();
        }
        read_response(&mut s).await
    });
    let mut upload = bounded(uploads.recv()).await.unwrap();
    assert_eq!(upload.head.uri.path(), "/feed");
    // Nothing read yet: the uploader is held back by TCP flow control,
    // not buffered by the server.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!uploader.is_finished());
    let mut got = 0usize;
    while let Some(frame) = bounded(upload.body.frame()).await {
        got += frame.unwrap().into_data().map_or(0, |d| d.len());
    }
    assert_eq!(got, TOTAL);
    upload.done.send(StatusCode::NO_CONTENT);
    let (head, _) = bounded(uploader).await.unwrap();
    assert!(head.starts_with("HTTP/1.1 204"), "{head}");
}

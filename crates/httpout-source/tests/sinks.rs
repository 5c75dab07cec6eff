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

/// An upload whose head is sent at once and whose 5-byte body waits for
/// `release`; an answer that comes before (a refusal) is returned as is.
async fn held_upload(
    addr: SocketAddr,
    mut release: tokio::sync::watch::Receiver<bool>,
) -> (String, String) {
    let mut s = bounded(TcpStream::connect(addr)).await.unwrap();
    let head = "PUT /held HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nConnection: close\r\n\r\n";
    s.write_all(head.as_bytes()).await.unwrap();
    let mut probe = [0u8; 1];
    // The server answered before the body: a refusal (nothing else
    // answers before the body has been read).
    let early = tokio::select! {
        _ = s.peek(&mut probe) => true,
        released = release.wait_for(|r| *r) => {
            drop(released);
            false
        }
    };
    if early {
        return read_response(&mut s).await;
    }
    let _ = s.write_all(b"hello").await;
    read_response(&mut s).await
}

/// Files named `run.*` in `dir`: commands running now.
fn running(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .is_ok_and(|e| e.file_name().to_string_lossy().starts_with("run."))
        })
        .count()
}

/// A command that marks itself running in `dir` while it reads its input.
fn marking(dir: &std::path::Path) -> Sink {
    let d = dir.display();
    Sink::Exec(format!(
        "touch '{d}/run.'$$; cat >/dev/null; rm '{d}/run.'$$"
    ))
}

/// Waits (bounded) until `n` commands run in `dir`.
async fn until_running(dir: &std::path::Path, n: usize) {
    bounded(async {
        while running(dir) < n {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
}

/// Held uploads against a server running [`marking`] commands, at most
/// `exec_max` at once.
struct Held {
    dir: tempfile::TempDir,
    _server: httpout_core::Running,
    release: tokio::sync::watch::Sender<bool>,
    uploads: Vec<tokio::task::JoinHandle<(String, String)>>,
}

/// Starts `n` [`held_upload`]s.
async fn held(exec_max: usize, n: usize) -> Held {
    let dir = tempfile::tempdir().unwrap();
    let timeout = Some(Duration::from_secs(10));
    let handler = SourceHandler::with_exec_max(marking(dir.path()), timeout, exec_max);
    let (server, addr) = start_with(ServerConfig::default(), handler).await;
    let (release, rx) = tokio::sync::watch::channel(false);
    let uploads = (0..n)
        .map(|_| tokio::spawn(held_upload(addr, rx.clone())))
        .collect();
    Held {
        dir,
        _server: server,
        release,
        uploads,
    }
}

#[tokio::test]
async fn commands_run_at_most_exec_max_at_once_and_later_uploads_wait() {
    let h = held(2, 6).await;
    until_running(h.dir.path(), 2).await;
    // Six uploads in, two commands: the others wait (before the cap, all
    // six started at once).
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(running(h.dir.path()), 2);
    h.release.send(true).unwrap();
    for u in h.uploads {
        let (head, _) = bounded(u).await.unwrap();
        assert!(head.starts_with("HTTP/1.1 201"), "{head}");
    }
    assert_eq!(running(h.dir.path()), 0);
}

#[tokio::test]
async fn a_full_queue_is_refused_with_503() {
    // One running, QUEUED_PER_SLOT waiting, one too many.
    let mut h = held(1, 2 + httpout_source::QUEUED_PER_SLOT).await;
    let uploads = &mut h.uploads;
    // The refusal comes before any body is sent.
    let refused = bounded(async {
        loop {
            if let Some(i) = uploads.iter().position(|u| u.is_finished()) {
                break uploads.remove(i).await.unwrap();
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    assert!(refused.0.starts_with("HTTP/1.1 503"), "{}", refused.0);
    assert!(refused.0.to_ascii_lowercase().contains("retry-after"));
    h.release.send(true).unwrap();
    for u in h.uploads {
        let (head, _) = bounded(u).await.unwrap();
        assert!(head.starts_with("HTTP/1.1 201"), "{head}");
    }
}

#[tokio::test]
async fn a_background_process_holding_stdout_does_not_hold_the_answer() {
    let dir = tempfile::tempdir().unwrap();
    let pid = dir.path().join("pid");
    // The background sleep inherits standard output and keeps it open for
    // 60 s: before, the answer waited for it (past the 10 s test bound).
    let (_s, addr) = serve(Sink::Exec(format!(
        "cat >/dev/null; sleep 60 & echo $! > '{}'; echo done",
        pid.display()
    )))
    .await;
    let (head, text) = put(addr, "/x", b"hello").await;
    assert!(head.starts_with("HTTP/1.1 201"), "{head}");
    assert_eq!(text, "done\n");
    let pid = std::fs::read_to_string(&pid).unwrap();
    let _ = std::process::Command::new("kill").arg(pid.trim()).status();
}

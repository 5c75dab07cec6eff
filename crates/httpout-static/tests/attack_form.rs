//! Issue 12 item 4: hostile form uploads (no boundary, an endless part
//! header, a long preamble) are refused promptly and cost the server a
//! constant amount of memory each. Alone in its test binary: the figure is
//! the process's peak RSS, which no other test may share.

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::serve;
use httpout_test::bounded;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Concurrent hostile uploads, and the size of each body.
const UPLOADS: usize = 20;
const BODY: usize = 20 << 20;

/// A field of `/proc/self/status` in KiB (`VmRSS`, `VmHWM`).
fn status_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("{field} in /proc/self/status"))
}

/// The status of the response head read from `r`.
async fn read_status(r: &mut (impl AsyncRead + Unpin)) -> u16 {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        let n = r.read(&mut byte).await.unwrap();
        assert!(n > 0, "closed before an answer");
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head).into_owned();
    head.split(' ').nth(1).unwrap().parse().unwrap()
}

/// POSTs a form of [`BODY`] bytes, `head` then `fill` repeated, writing
/// while no answer has come: the status and the time it took.
async fn hostile(
    addr: SocketAddr,
    content_type: &'static str,
    head: &'static [u8],
    fill: u8,
) -> (u16, Duration) {
    let start = Instant::now();
    let (mut r, mut w) = TcpStream::connect(addr).await.unwrap().into_split();
    let writer = tokio::spawn(async move {
        let request = format!(
            "POST / HTTP/1.1\r\nHost: x\r\nContent-Type: {content_type}\r\nContent-Length: {BODY}\r\n\r\n"
        );
        w.write_all(request.as_bytes()).await?;
        w.write_all(head).await?;
        let chunk = vec![fill; 64 << 10];
        let mut sent = head.len();
        while sent < BODY {
            let n = chunk.len().min(BODY - sent);
            w.write_all(&chunk[..n]).await?;
            sent += n;
        }
        std::io::Result::Ok(w)
    });
    let status = bounded(read_status(&mut r)).await;
    writer.abort();
    (status, start.elapsed())
}

/// 20 concurrent 20 MB hostile forms: each answered 400 within the step
/// bound, and the server's peak RSS grows by less than 64 MiB (before:
/// every body was buffered whole, 40 × 50 MB reached 1.56 GB).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_forms_are_refused_in_constant_memory() {
    let w = tempfile::tempdir().unwrap();
    let wdir = format!("--wdir={}", w.path().display());
    let (_server, addr) = serve(&[&wdir]).await;
    // Peak RSS from now on (Linux 4.0+: writing 5 resets VmHWM).
    std::fs::write("/proc/self/clear_refs", "5").unwrap();
    let before = status_kib("VmHWM");
    let kinds: [(&'static str, &'static [u8], u8); 3] = [
        ("multipart/form-data", b"", b'a'),
        (
            "multipart/form-data; boundary=XX",
            b"--XX\r\nContent-Disposition: form-data; name=f; filename=a\r\nX-Pad: ",
            b'a',
        ),
        ("multipart/form-data; boundary=XX", b"", b'-'),
    ];
    let mut tasks = Vec::new();
    for i in 0..UPLOADS {
        let (ct, head, fill) = kinds[i % kinds.len()];
        tasks.push(tokio::spawn(hostile(addr, ct, head, fill)));
    }
    let mut slowest = Duration::ZERO;
    for t in tasks {
        let (status, took) = t.await.unwrap();
        assert_eq!(status, 400);
        slowest = slowest.max(took);
    }
    let growth = status_kib("VmHWM").saturating_sub(before);
    eprintln!(
        "{UPLOADS} hostile forms of {} MiB: peak RSS +{} KiB, slowest answer {slowest:?}",
        BODY >> 20,
        growth
    );
    assert!(growth < 64 << 10, "peak RSS grew by {growth} KiB");

    // A real form still goes through, whatever its size.
    let data = vec![b'z'; 8 << 20];
    let mut body = b"--XX\r\nContent-Disposition: form-data; name=t\r\n\r\ntext\r\n--XX\r\nContent-Disposition: form-data; name=f; filename=big.bin\r\n\r\n".to_vec();
    body.extend_from_slice(&data);
    body.extend_from_slice(b"\r\n--XX--\r\n");
    let mut s = TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST / HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=XX\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).await.unwrap();
    s.write_all(&body).await.unwrap();
    assert_eq!(bounded(read_status(&mut s)).await, 201);
    assert_eq!(std::fs::read(w.path().join("big.bin")).unwrap(), data);
}

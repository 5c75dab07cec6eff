//! Live sink helpers: listeners over raw HTTP/1.0, the status page.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use super::curl;

/// `host:port` of a listener URL.
pub(crate) fn host(url: &str) -> &str {
    url.trim_start_matches("http://")
}

/// Polls `/status-json.xsl` until `ready` says yes (bounded: 30 s, over
/// five times the longest wait for a source at its media rate).
pub(crate) fn wait_status(
    url: &str,
    ready: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let out = curl(&[&format!("{url}/status-json.xsl")]);
        if let Ok(v) = serde_json::from_slice::<serde_json::Value>(&out.stdout) {
            if ready(&v) {
                return v;
            }
        }
        assert!(Instant::now() < deadline, "status never ready");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The bytes a live mount has taken from its source so far (0 when it is
/// not live).
pub(crate) fn bytes_in(v: &serde_json::Value, mount: &str) -> usize {
    let sources = v["icestats"]["source"].as_array();
    sources
        .and_then(|a| {
            a.iter()
                .find(|s| s["mount"] == mount && s["state"] == "live")
        })
        .and_then(|s| s["bytes_in"].as_u64())
        .map_or(0, |n| n as usize)
}

/// An HTTP/1.0 listener (close-delimited body) reading for `secs`:
/// (response head, body bytes).
pub(crate) fn listen(addr: &str, path: &str, extra: &str, secs: f64) -> (String, Vec<u8>) {
    listen_counting(addr, path, extra, secs, &AtomicUsize::new(0))
}

/// [`listen`], adding every byte it receives (head included) to `got` as
/// it goes.
pub(crate) fn listen_counting(
    addr: &str,
    path: &str,
    extra: &str,
    secs: f64,
    got: &AtomicUsize,
) -> (String, Vec<u8>) {
    listen_while(addr, path, extra, secs, got, &AtomicBool::new(false))
}

/// [`listen_counting`], ending early once `stop` is set.
pub(crate) fn listen_while(
    addr: &str,
    path: &str,
    extra: &str,
    secs: f64,
    got: &AtomicUsize,
    stop: &AtomicBool,
) -> (String, Vec<u8>) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    write!(s, "GET {path} HTTP/1.0\r\nHost: x\r\n{extra}\r\n").unwrap();
    let deadline = Instant::now() + Duration::from_secs_f64(secs);
    let mut all = Vec::new();
    let mut buf = [0u8; 16384];
    while Instant::now() < deadline && !stop.load(Ordering::Acquire) {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                all.extend_from_slice(&buf[..n]);
                got.fetch_add(n, Ordering::Release);
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {}
            Err(e) => panic!("listener read: {e}"),
        }
    }
    let split = all
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a response head");
    let head = String::from_utf8_lossy(&all[..split]).into_owned();
    (head, all[split + 4..].to_vec())
}

/// Walks MPEG-1 Layer III frames (44.1 kHz) from the first byte: the bit
/// rate of each frame, in kbit/s. Panics at the first byte that is not a
/// frame header where one should start, saying where: a move between
/// streams that is not on a frame boundary. A truncated last frame (the
/// listener stopped reading) is allowed, and so are ID3v2 tags (ffmpeg
/// writes one at the start of each MP3 it makes; a looped file repeats it).
pub(crate) fn frame_bitrates(audio: &[u8]) -> Vec<u32> {
    const KBPS: [u32; 15] = [
        0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320,
    ];
    let mut at = 0;
    let mut rates = Vec::new();
    while at + 10 <= audio.len() {
        let h = &audio[at..at + 10];
        if &h[..3] == b"ID3" {
            let size = h[6..10]
                .iter()
                .fold(0, |n, &b| n << 7 | usize::from(b & 0x7F));
            at += 10 + size;
            continue;
        }
        assert!(
            h[0] == 0xFF && h[1] & 0xFE == 0xFA,
            "no MPEG-1 Layer III frame at byte {at} of {} (after {} frames)",
            audio.len(),
            rates.len()
        );
        let kbps = KBPS[usize::from(h[2] >> 4)];
        assert!(kbps > 0 && h[2] >> 2 & 3 == 0, "44.1 kHz, a bit rate");
        let len = 144_000 * kbps as usize / 44_100 + usize::from(h[2] >> 1 & 1);
        rates.push(kbps);
        at += len;
    }
    rates
}

/// The runs of a sequence: `[64, 64, 128, 64]` → `[64, 128, 64]`.
pub(crate) fn runs(v: &[u32]) -> Vec<u32> {
    let mut out: Vec<u32> = Vec::new();
    for &x in v {
        if out.last() != Some(&x) {
            out.push(x);
        }
    }
    out
}

/// A listener reading in a thread of its own (as [`listen_while`]) until
/// [`Background::finish`], or `secs` at most.
pub(crate) struct Background {
    got: std::sync::Arc<AtomicUsize>,
    stop: std::sync::Arc<AtomicBool>,
    thread: std::thread::JoinHandle<(String, Vec<u8>)>,
}

impl Background {
    /// Starts listening to `path` on `addr`, with `extra` request headers.
    pub(crate) fn start(addr: &str, path: &str, extra: &str, secs: f64) -> Self {
        let got = std::sync::Arc::new(AtomicUsize::new(0));
        let stop = std::sync::Arc::new(AtomicBool::new(false));
        let (addr, path, extra) = (addr.to_owned(), path.to_owned(), extra.to_owned());
        let thread = {
            let (got, stop) = (std::sync::Arc::clone(&got), std::sync::Arc::clone(&stop));
            std::thread::spawn(move || listen_while(&addr, &path, &extra, secs, &got, &stop))
        };
        Self { got, stop, thread }
    }

    /// Bytes received so far, head included.
    pub(crate) fn got(&self) -> usize {
        self.got.load(Ordering::Acquire)
    }

    /// Waits (at most 60 s) until more than `n` bytes came.
    pub(crate) fn wait_past(&self, n: usize, what: &str) {
        eventually(60, &format!("{what}: got {} bytes", self.got()), || {
            self.got() > n
        });
    }

    /// Stops listening: the response head and body.
    pub(crate) fn finish(self) -> (String, Vec<u8>) {
        self.stop.store(true, Ordering::Release);
        self.thread.join().expect("the listener thread")
    }
}

/// Polls `ready` every 100 ms for at most `secs`; panics with `what`.
pub(crate) fn eventually(secs: u64, what: &str, ready: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !ready() {
        assert!(Instant::now() < deadline, "{what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The status page's entry for `mount`, if it lists it.
fn status_of(url: &str, mount: &str) -> Option<serde_json::Value> {
    let out = curl(&[&format!("{url}/status-json.xsl")]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
    v["icestats"]["source"]
        .as_array()?
        .iter()
        .find(|s| s["mount"] == mount)
        .cloned()
}

/// Listeners of `mount` on the status page (0 when it is not listed).
pub(crate) fn listeners(url: &str, mount: &str) -> u64 {
    status_of(url, mount)
        .and_then(|s| s["listeners"].as_u64())
        .unwrap_or(0)
}

/// The state of `mount` on the status page (`live`, `waiting`), if listed.
pub(crate) fn state(url: &str, mount: &str) -> Option<String> {
    status_of(url, mount).and_then(|s| s["state"].as_str().map(str::to_owned))
}

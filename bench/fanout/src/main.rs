//! fanout: N listeners of one live HTTP stream (Icecast-style), on loopback.
//!
//!     fanout URL N SECONDS BITRATE_BPS [--stall K] [--pid PID] [--threads T]
//!            [--conc C] [--rate R] [--settle S] [--sync DIR --id I] [--dump FILE]
//!     fanout merge DUMP...
//!
//! Opens N HTTP/1.1 GET connections to URL (raw TCP, loopback only), at most
//! C (200) connecting at a time and R (1000) starting per second, waits for
//! the ramp to end and S (2) seconds more (so that every listener's
//! burst-on-connect is behind it), then measures for SECONDS how many bytes
//! each listener receives. Reports:
//!
//! - connected / failed to connect / no 200 (another status, or no response
//!   header in time) / dropped by the server (body ended, EOF or reset,
//!   after a 200);
//! - "fell behind": listeners still connected at the end that received less
//!   than 90% of BITRATE_BPS/8 * window bytes during the window;
//! - min / p1 / median / p99 / max of the per-listener rate over the window
//!   (a median well above BITRATE_BPS means the server was behind at the
//!   start of the window and catching up);
//! - how long connect-to-response-header took, and the listen queue
//!   overflows of the machine during the ramp.
//!
//! Bytes counted are the body's payload: a close-delimited body (Icecast) is
//! counted as it comes; a chunked one (httpout on HTTP/1.1) goes through a
//! minimal chunk decoder that counts the chunk data and skips the framing
//! (size lines and CRLFs; their share of the raw bytes is printed: with one
//! chunk per 418-byte MP3 frame it is about 1.7%, not negligible against the
//! 90% threshold). The output also gives reads per listener per second and
//! bytes per read, i.e. how finely the server cuts its writes.
//!
//! `--stall K`: K more listeners connect first, send the same request and
//! never read. At the end we look (without blocking) whether the server
//! closed them. They are not in the figures above: the point is that they
//! must not hurt the others. Do not expect a server to drop them within a
//! run: the kernel takes up to tcp_wmem's maximum (4 MiB here) into the
//! server's send buffer of a socket whose peer reads nothing, so the server
//! sees its writes succeed for minutes (4 MiB at 16 KB/s is 4 min 22 s) before
//! its own queue limit starts to count.
//!
//! `--pid PID`: the server's process; its CPU time (utime+stime from
//! /proc/PID/stat) is taken at both ends of the window, and its peak RSS
//! (VmHWM) and current RSS (VmRSS) at the end, before any listener goes.
//!
//! `--threads T`: worker threads of the client (default 1: a current-thread
//! runtime, so the client never takes more than one core from the server).
//!
//! `--rate R`: a burst of simultaneous SYNs would overflow Icecast's listen
//! backlog, which is 5 and not configurable, and measure TCP's retransmission
//! timers rather than the servers; bench/fanout.sh uses 300/s.
//!
//! Several processes (one process has at most `ulimit -n` sockets, and one
//! thread may not keep up with tens of thousands of listeners): each one
//! takes its share of N, of the rate and of the concurrency, and gets
//! `--sync DIR --id I` and `--dump FILE`. After its ramp and settle, a client
//! creates DIR/ready.I and waits for DIR/go, which bench/fanout.sh creates
//! once all are ready: the windows of all clients start within a few ms of
//! each other. Only one of them gets `--pid` (it measures the server over
//! that common window). Each writes its figures and per-listener lists to
//! FILE, and `fanout merge FILE...` prints them as one run (same output and
//! RESULT line; see `summary.rs` for what is summed and what is not).
//!
//! The server's CPU per listener-second (`cpu_us_per_listener_s`, in µs) is
//! its CPU time in the window over listeners streaming through the window x
//! the window's length; it includes the server's fixed costs (the source's
//! ingest, timers), which weigh at small N.
//!
//! Everything is bounded: connects and response headers have 20 s timeouts,
//! the ramp 20 s (or 2 * N / R + 10 s if longer), and a watchdog thread ends
//! the process 8 s after ramp limit + settle + SECONDS (SECONDS + 30 s with the
//! defaults and a 20 s ramp limit) whatever happens. The last line of the
//! output is `RESULT key=value ...` for scripts.

mod summary;

use std::cell::RefCell;
use std::io;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicU32, AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::sync::Semaphore;
use tokio::time::timeout;

use summary::{BEHIND_SHARE, Summary};

/// Connects (and response headers) in flight at once, unless --conc says otherwise.
const CONNECT_CONCURRENCY: usize = 200;
/// Connects started per second, unless --rate says otherwise.
const CONNECT_RATE: u64 = 1000;
/// Long enough for several SYN (and SYN-ACK) retransmissions (1 s, 3 s, 7 s,
/// 15 s): Icecast listens with a backlog of 5, so even a paced ramp sees some
/// connections dropped at a full accept queue and retried by TCP; a player
/// would wait for them too.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(20);
const HEADER_TIMEOUT: Duration = Duration::from_secs(20);
const MAX_HEADER: usize = 16 * 1024;
/// The ramp (all N listeners through connect + headers) may take this long at
/// least; more when N / rate is long: see `ramp_limit`.
const RAMP_LIMIT: Duration = Duration::from_secs(20);
/// Quiet time between the end of the ramp and the window: bursts get delivered.
/// (Seconds; --settle S.)
const SETTLE: u64 = 2;
/// The whole run ends this long after ramp + settle + SECONDS, whatever happens.
const HARD_EXTRA: Duration = Duration::from_secs(8);

// Listener states.
const PENDING: u8 = 0; // not through connect + headers yet
const CONNECT_FAILED: u8 = 1; // refused, timed out, any connect error
const BAD_STATUS: u8 = 2; // connected, but no "200" response (other status, closed, timeout)
const STREAMING: u8 = 3; // 200 received, body being read
const DROPPED: u8 = 4; // the body ended (EOF or error) after a 200

/// One listener, shared between its task and the main task (which snapshots it).
#[derive(Default)]
struct Slot {
    state: AtomicU8,
    /// Body payload bytes received so far (chunk framing not counted).
    bytes: AtomicU64,
    /// Raw bytes received after the response header (framing included).
    raw: AtomicU64,
    /// Successful reads so far.
    reads: AtomicU64,
    /// From the start of the connect to the complete response header, in ms.
    header_ms: AtomicU32,
}

/// Counters over all listeners, filled by their tasks.
#[derive(Default)]
struct Shared {
    through_ramp: AtomicU32, // listeners whose connect + headers phase is over (any outcome)
    tcp_connected: AtomicU32,
    chunked: AtomicU32,         // 200 responses with Transfer-Encoding: chunked
    last_bad_status: AtomicU32, // a status != 200 seen (0 = none)
    no_response: AtomicU32,     // connected, but no complete response header in time (or closed)
    chunk_errors: AtomicU32,    // chunked bodies that did not parse (then counted raw)
    dropped_eof: AtomicU32,
    dropped_error: AtomicU32,
}

struct Args {
    addr: SocketAddr,
    host: String,
    path: String,
    n: usize,
    seconds: u64,
    bitrate_bps: u64,
    stall: usize,
    pid: Option<u32>,
    threads: usize,
    conc: usize,
    rate: u64,
    settle: u64,
    sync: Option<PathBuf>,
    id: u32,
    dump: Option<PathBuf>,
}

/// How long the ramp may take: 20 s, or twice the paced ramp (N / rate) plus
/// 10 s when that is longer (room for SYN retransmissions).
fn ramp_limit(args: &Args) -> Duration {
    let paced = Duration::from_secs_f64(args.n as f64 / args.rate as f64);
    RAMP_LIMIT.max(paced * 2 + Duration::from_secs(10))
}

/// System-wide count of connections dropped at a full listen queue
/// (TcpExt ListenDrops in /proc/net/netstat).
fn listen_drops() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/net/netstat").ok()?;
    let mut lines = text.lines().filter(|l| l.starts_with("TcpExt:"));
    let (names, values) = (lines.next()?, lines.next()?);
    let i = names.split_whitespace().position(|n| n == "ListenDrops")?;
    values.split_whitespace().nth(i)?.parse().ok()
}

fn usage() -> ! {
    eprintln!("usage: fanout URL N SECONDS BITRATE_BPS [--stall K] [--pid PID] [--threads T]");
    eprintln!("              [--conc C] [--rate R] [--settle S] [--sync DIR --id I] [--dump FILE]");
    eprintln!("       fanout merge DUMP...");
    eprintln!("  URL: http://127.0.0.1:PORT/path (loopback only)");
    std::process::exit(2);
}

fn parse_args() -> Args {
    let mut pos = Vec::new();
    let (mut stall, mut pid, mut threads) = (0usize, None, 1usize);
    let (mut conc, mut rate, mut settle) = (CONNECT_CONCURRENCY, CONNECT_RATE, SETTLE);
    let (mut sync, mut id, mut dump) = (None, 0u32, None);
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut value = |name: &str| -> String {
            it.next().unwrap_or_else(|| {
                eprintln!("fanout: {name} needs a value");
                usage()
            })
        };
        match a.as_str() {
            "--stall" => stall = value("--stall").parse().unwrap_or_else(|_| usage()),
            "--pid" => pid = Some(value("--pid").parse().unwrap_or_else(|_| usage())),
            "--threads" => threads = value("--threads").parse().unwrap_or_else(|_| usage()),
            "--conc" => conc = value("--conc").parse().unwrap_or_else(|_| usage()),
            "--rate" => rate = value("--rate").parse().unwrap_or_else(|_| usage()),
            "--settle" => settle = value("--settle").parse().unwrap_or_else(|_| usage()),
            "--sync" => sync = Some(PathBuf::from(value("--sync"))),
            "--id" => id = value("--id").parse().unwrap_or_else(|_| usage()),
            "--dump" => dump = Some(PathBuf::from(value("--dump"))),
            "-h" | "--help" => usage(),
            _ => pos.push(a),
        }
    }
    if pos.len() != 4 {
        usage();
    }
    let num = |s: &str| -> u64 { s.parse().unwrap_or_else(|_| usage()) };
    let (n, seconds, bitrate_bps) = (num(&pos[1]) as usize, num(&pos[2]), num(&pos[3]));
    if n == 0 || seconds == 0 || bitrate_bps == 0 || threads == 0 || conc == 0 || rate == 0 {
        usage();
    }

    // http://HOST:PORT/path -> (HOST:PORT, /path)
    let rest = pos[0].strip_prefix("http://").unwrap_or_else(|| usage());
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], rest[i..].to_string()),
        None => (rest, "/".to_string()),
    };
    let with_port = if authority
        .rsplit_once(':')
        .is_some_and(|(_, p)| p.parse::<u16>().is_ok())
    {
        authority.to_string()
    } else {
        format!("{authority}:80")
    };
    let addr = with_port
        .to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next())
        .unwrap_or_else(|| {
            eprintln!("fanout: cannot resolve {authority}");
            std::process::exit(2)
        });
    // This tool loads a server; it only ever targets this machine.
    let loopback = match addr.ip() {
        IpAddr::V4(ip) => ip.is_loopback(),
        IpAddr::V6(ip) => ip.is_loopback(),
    };
    if !loopback {
        eprintln!("fanout: {addr} is not a loopback address; refusing");
        std::process::exit(2);
    }
    Args {
        addr,
        host: authority.to_string(),
        path,
        n,
        seconds,
        bitrate_bps,
        stall,
        pid,
        threads,
        conc,
        rate,
        settle,
        sync,
        id,
        dump,
    }
}

/// utime + stime of a process, in seconds (fields 14 and 15 of /proc/PID/stat, in clock ticks).
fn cpu_seconds(pid: &str) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may hold spaces: start after the last ')'.
    let fields: Vec<&str> = stat[stat.rfind(')')? + 2..].split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(ticks as f64 / 100.0) // USER_HZ is 100 on Linux
}

/// A "VmXXX:   1234 kB" line of /proc/PID/status, in KiB.
fn status_kib(pid: u32, key: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with(key))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

thread_local! {
    /// One read buffer per worker thread, shared by all its listeners (the data is
    /// counted and thrown away), instead of one buffer per listener.
    static BUF: RefCell<Vec<u8>> = RefCell::new(vec![0u8; 64 * 1024]);
}

/// Connects (errors are connect failures).
async fn connect(args: &Args) -> io::Result<TcpStream> {
    let stream = timeout(CONNECT_TIMEOUT, TcpStream::connect(args.addr))
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "connect timeout"))??;
    // Close with a reset at exit: no TIME_WAIT, so runs can follow each other
    // without running out of ephemeral ports.
    stream.set_zero_linger()?;
    Ok(stream)
}

/// Sends the GET and reads the response header. Returns (status, chunked, body bytes
/// already read with the header), or None if no complete header came in time.
async fn request(stream: &mut TcpStream, args: &Args) -> Option<(u32, bool, Vec<u8>)> {
    let req = format!(
        "GET {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: fanout-bench\r\nIcy-MetaData: 0\r\n\r\n",
        args.path, args.host
    );
    let work = async {
        stream.write_all(req.as_bytes()).await.ok()?;
        let mut head = Vec::with_capacity(1024);
        // Bounded: at most MAX_HEADER bytes, each iteration reads at least one.
        loop {
            stream.readable().await.ok()?;
            let mut chunk = [0u8; 4096];
            match stream.try_read(&mut chunk) {
                Ok(0) => return None, // closed before a full header
                Ok(n) => head.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                Err(_) => return None,
            }
            if let Some(end) = head.windows(4).position(|w| w == b"\r\n\r\n") {
                let text = String::from_utf8_lossy(&head[..end]).to_ascii_lowercase();
                // "HTTP/1.1 200 OK" (or Icecast 1's "ICY 200 OK"): the second word.
                let status = text.split_whitespace().nth(1)?.parse().ok()?;
                let chunked = text
                    .lines()
                    .any(|l| l.starts_with("transfer-encoding:") && l.contains("chunked"));
                return Some((status, chunked, head[end + 4..].to_vec()));
            }
            if head.len() > MAX_HEADER {
                return None;
            }
        }
    };
    timeout(HEADER_TIMEOUT, work).await.ok().flatten()
}

/// One listener: connect, request, then count body bytes until the server ends the
/// body. Runs until the process exits (the main task decides when that is).
async fn listener(
    args: Arc<Args>,
    slot: Arc<Slot>,
    shared: Arc<Shared>,
    sem: Arc<Semaphore>,
    start_at: tokio::time::Instant,
) {
    tokio::time::sleep_until(start_at).await; // the ramp's pacing
    let mut dechunk: Option<Dechunk> = None; // Some for a chunked body
    let mut stream = {
        let _permit = sem.acquire().await.expect("semaphore never closed");
        let started = Instant::now();
        let mut stream = match connect(&args).await {
            Ok(s) => s,
            Err(_) => {
                slot.state.store(CONNECT_FAILED, Relaxed);
                shared.through_ramp.fetch_add(1, Relaxed);
                return;
            }
        };
        shared.tcp_connected.fetch_add(1, Relaxed);
        match request(&mut stream, &args).await {
            Some((200, chunked, early)) => {
                slot.header_ms
                    .store(started.elapsed().as_millis() as u32, Relaxed);
                if chunked {
                    shared.chunked.fetch_add(1, Relaxed);
                    dechunk = Some(Dechunk::default());
                }
                count(&slot, &shared, &mut dechunk, &early);
                slot.state.store(STREAMING, Relaxed);
            }
            other => {
                match other {
                    Some((status, _, _)) => shared.last_bad_status.store(status, Relaxed),
                    None => {
                        shared.no_response.fetch_add(1, Relaxed);
                    }
                }
                slot.state.store(BAD_STATUS, Relaxed);
                shared.through_ramp.fetch_add(1, Relaxed);
                return;
            }
        }
        shared.through_ramp.fetch_add(1, Relaxed);
        stream
    };
    // Read and count. Each readiness event gets one try_read of up to 64 KiB into
    // the thread's buffer. Ends when the server ends the body; otherwise the
    // process exit (bounded by the watchdog) ends it.
    loop {
        if stream.readable().await.is_err() {
            shared.dropped_error.fetch_add(1, Relaxed);
            break;
        }
        let read = BUF.with(|b| {
            let mut buf = b.borrow_mut();
            let r = stream.try_read(&mut buf[..]);
            if let Ok(n) = r {
                count(&slot, &shared, &mut dechunk, &buf[..n]);
            }
            r
        });
        match read {
            Ok(0) => {
                shared.dropped_eof.fetch_add(1, Relaxed);
                break;
            }
            Ok(_) => {
                slot.reads.fetch_add(1, Relaxed);
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(_) => {
                shared.dropped_error.fetch_add(1, Relaxed);
                break;
            }
        }
    }
    slot.state.store(DROPPED, Relaxed);
    let _ = stream.shutdown().await;
}

/// Adds body bytes to a listener's counts: all of them as raw, the payload
/// (through the chunk decoder for a chunked body) as bytes.
fn count(slot: &Slot, shared: &Shared, dechunk: &mut Option<Dechunk>, data: &[u8]) {
    slot.raw.fetch_add(data.len() as u64, Relaxed);
    let payload = match dechunk {
        Some(d) => {
            let was_bad = d.bad;
            let p = d.feed(data);
            if d.bad && !was_bad {
                shared.chunk_errors.fetch_add(1, Relaxed);
            }
            p
        }
        None => data.len() as u64,
    };
    slot.bytes.fetch_add(payload, Relaxed);
}

/// A minimal decoder of a chunked body (RFC 9112 section 7.1) that only counts
/// the chunk data: `SIZE[;ext]\r\n DATA \r\n ... 0\r\n`. Trailers after the
/// last chunk are ignored. If the framing does not parse, it gives up and
/// counts everything from there on as payload (`bad`, reported).
#[derive(Default)]
struct Dechunk {
    state: ChunkState,
    size: u64,
    bad: bool,
}

#[derive(Default, Clone, Copy, PartialEq)]
enum ChunkState {
    #[default]
    Size, // hex digits of the size
    Ext,       // a chunk extension, up to the CR
    SizeLf,    // the LF after the size line
    Data(u64), // payload bytes left in this chunk
    DataCr,    // the CR after the data
    DataLf,    // the LF after the data
    Done,      // last chunk seen
}

impl Dechunk {
    /// Feeds bytes; returns how many of them are payload. Bounded by data.len().
    fn feed(&mut self, data: &[u8]) -> u64 {
        use ChunkState::*;
        if self.bad {
            return data.len() as u64;
        }
        let (mut i, mut payload) = (0usize, 0u64);
        while i < data.len() {
            if let Data(left) = self.state {
                let take = left.min((data.len() - i) as u64);
                payload += take;
                i += take as usize;
                self.state = if take == left {
                    DataCr
                } else {
                    Data(left - take)
                };
                continue;
            }
            let c = data[i];
            i += 1;
            self.state = match (self.state, c) {
                (Size, b'0'..=b'9' | b'a'..=b'f' | b'A'..=b'F') if self.size < (1 << 40) => {
                    self.size = self.size * 16 + (c as char).to_digit(16).unwrap() as u64;
                    Size
                }
                (Size, b';') | (Ext, _) if c != b'\r' => Ext,
                (Size | Ext, b'\r') => SizeLf,
                (SizeLf, b'\n') if self.size == 0 => Done,
                (SizeLf, b'\n') => Data(std::mem::take(&mut self.size)),
                (DataCr, b'\r') => DataLf,
                (DataLf, b'\n') => Size,
                (Done, _) => Done,
                _ => {
                    self.bad = true;
                    return payload + (data.len() - i + 1) as u64;
                }
            };
        }
        payload
    }
}

/// A stalled listener: connects, sends the request, never reads. Returns the stream
/// (kept open until the end) or None if it could not connect.
async fn stalled(args: &Args) -> Option<TcpStream> {
    let stream = connect(args).await.ok()?;
    let req = format!(
        "GET {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: fanout-bench-stalled\r\nIcy-MetaData: 0\r\n\r\n",
        args.path, args.host
    );
    timeout(HEADER_TIMEOUT, async {
        let mut s = stream;
        s.write_all(req.as_bytes()).await.ok().map(|_| s)
    })
    .await
    .ok()
    .flatten()
}

/// At the end: has the server closed this stalled connection? Reads (without
/// waiting) what is queued, up to 64 MiB: EOF or an error means closed.
fn stalled_is_closed(s: &TcpStream) -> bool {
    let mut buf = vec![0u8; 64 * 1024];
    for _ in 0..1024 {
        match s.try_read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return false,
            Err(_) => return true,
        }
    }
    false // still more than 64 MiB queued: certainly open
}

async fn run(args: Arc<Args>) {
    let t_start = Instant::now();
    let shared = Arc::new(Shared::default());
    let sem = Arc::new(Semaphore::new(args.conc));
    let slots: Vec<Arc<Slot>> = (0..args.n).map(|_| Arc::new(Slot::default())).collect();
    let pid_s = args.pid.map(|p| p.to_string());

    // Stalled listeners first, so their sockets are full well before the window.
    let mut stalled_streams = Vec::new();
    for _ in 0..args.stall {
        if let Some(s) = stalled(&args).await {
            stalled_streams.push(s);
        }
    }

    // The ramp: N tasks, CONNECT_CONCURRENCY of them in connect + headers at a time.
    let server_cpu_ramp0 = pid_s.as_deref().and_then(cpu_seconds);
    let drops0 = listen_drops();
    let ramp_start = tokio::time::Instant::now();
    for (i, slot) in slots.iter().enumerate() {
        let start_at = ramp_start + Duration::from_micros(i as u64 * 1_000_000 / args.rate);
        tokio::spawn(listener(
            args.clone(),
            slot.clone(),
            shared.clone(),
            sem.clone(),
            start_at,
        ));
    }
    let ramp_deadline = Instant::now() + ramp_limit(&args);
    // Bounded: at most ramp_limit / 50 ms iterations.
    while (shared.through_ramp.load(Relaxed) as usize) < args.n && Instant::now() < ramp_deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let ramp = t_start.elapsed();
    let ramp_complete = shared.through_ramp.load(Relaxed) as usize >= args.n;
    let ramp_listen_drops = listen_drops().zip(drops0).map(|(b, a)| b.saturating_sub(a));
    tokio::time::sleep(Duration::from_secs(args.settle)).await;
    let synced = match &args.sync {
        // Leaves the window and 4 s of the watchdog's bound (see main).
        Some(dir) => {
            let deadline = t_start + ramp_limit(&args) + Duration::from_secs(args.settle + 4);
            wait_for_go(dir, args.id, deadline).await
        }
        None => false,
    };

    // The window.
    let self_pid = std::process::id().to_string();
    // (state, payload bytes, raw bytes, reads) of every listener.
    let snapshot = |slots: &[Arc<Slot>]| -> Vec<(u8, u64, u64, u64)> {
        let load = |s: &Slot| {
            (
                s.state.load(Relaxed),
                s.bytes.load(Relaxed),
                s.raw.load(Relaxed),
                s.reads.load(Relaxed),
            )
        };
        slots.iter().map(|s| load(s)).collect()
    };
    let t0 = Instant::now();
    let server_cpu0 = pid_s.as_deref().and_then(cpu_seconds);
    let client_cpu0 = cpu_seconds(&self_pid);
    let snap0 = snapshot(&slots);
    tokio::time::sleep(Duration::from_secs(args.seconds)).await;
    let snap1 = snapshot(&slots);
    let window = t0.elapsed().as_secs_f64();
    let server_cpu1 = pid_s.as_deref().and_then(cpu_seconds);
    let client_cpu1 = cpu_seconds(&self_pid);
    let (hwm, rss) = match args.pid {
        Some(p) => (status_kib(p, "VmHWM:"), status_kib(p, "VmRSS:")),
        None => (None, None),
    };
    let stalled_closed = stalled_streams
        .iter()
        .filter(|s| stalled_is_closed(s))
        .count();

    // Figures.
    let count =
        |snap: &[(u8, u64, u64, u64)], st: u8| snap.iter().filter(|x| x.0 == st).count() as u64;
    let expected = args.bitrate_bps as f64 / 8.0 * window;
    let mut rates = Vec::new(); // payload bit/s, of listeners streaming through the whole window
    let (mut payload_b, mut raw_b, mut reads) = (0u64, 0u64, 0u64); // their sums over the window
    for (a, b) in snap0.iter().zip(&snap1) {
        if a.0 == STREAMING && b.0 == STREAMING {
            rates.push((b.1 - a.1) as f64 * 8.0 / window);
            payload_b += b.1 - a.1;
            raw_b += b.2 - a.2;
            reads += b.3 - a.3;
        }
    }
    let behind = rates
        .iter()
        .filter(|r| **r / 8.0 * window < BEHIND_SHARE * expected)
        .count() as u64;
    let header_ms: Vec<f64> = slots
        .iter()
        .filter(|s| matches!(s.state.load(Relaxed), STREAMING | DROPPED))
        .map(|s| s.header_ms.load(Relaxed) as f64)
        .collect();
    let cpu_delta = |a: Option<f64>, b: Option<f64>| a.zip(b).map(|(a, b)| b - a);
    let mut summary = Summary {
        url: format!("http://{}{}", args.host, args.path),
        bitrate_bps: args.bitrate_bps,
        clients: 1,
        n: args.n as u64,
        stall: args.stall as u64,
        conc: args.conc as u64,
        rate: args.rate,
        settle: args.settle,
        threads: args.threads as u64,
        header_timeout_s: HEADER_TIMEOUT.as_secs(),
        ramp_s: ramp.as_secs_f64(),
        ramp_complete,
        listen_drops: ramp_listen_drops,
        connected: shared.tcp_connected.load(Relaxed) as u64,
        ok: count(&snap1, STREAMING) + count(&snap1, DROPPED),
        failed: count(&snap1, CONNECT_FAILED),
        pending: count(&snap1, PENDING),
        bad_status: count(&snap1, BAD_STATUS),
        no_response: shared.no_response.load(Relaxed) as u64,
        last_bad_status: shared.last_bad_status.load(Relaxed) as u64,
        dropped: count(&snap1, DROPPED),
        dropped_before: count(&snap0, DROPPED),
        dropped_eof: shared.dropped_eof.load(Relaxed) as u64,
        dropped_error: shared.dropped_error.load(Relaxed) as u64,
        behind,
        payload_b,
        raw_b,
        reads,
        chunked: shared.chunked.load(Relaxed) as u64,
        chunk_errors: shared.chunk_errors.load(Relaxed) as u64,
        stalled: stalled_streams.len() as u64,
        stalled_closed: stalled_closed as u64,
        synced,
        window_s: window,
        server_pid: args.pid,
        server_cpu_s: cpu_delta(server_cpu0, server_cpu1),
        server_cpu_ramp_s: cpu_delta(server_cpu_ramp0, server_cpu0),
        hwm_kib: hwm,
        rss_kib: rss,
        client_cpu_s: cpu_delta(client_cpu0, client_cpu1),
        rates,
        header_ms,
    };
    if let Some(path) = &args.dump
        && let Err(e) = std::fs::write(path, summary.dump())
    {
        eprintln!("fanout: cannot write {}: {e}", path.display());
    }
    let _ = summary.print(&mut io::stdout().lock());
}

/// --sync: says "ready" (creates DIR/ready.ID) and waits for DIR/go, which the
/// script creates once every client is ready, so that the windows of several
/// client processes are one window (within a few ms). Bounded: past
/// `deadline` the client goes on alone (and says so). Returns whether it got
/// the go.
async fn wait_for_go(dir: &Path, id: u32, deadline: Instant) -> bool {
    if let Err(e) = std::fs::write(dir.join(format!("ready.{id}")), b"") {
        eprintln!("fanout: cannot write {}: {e}", dir.display());
        return false;
    }
    let go = dir.join("go");
    // Bounded by the deadline: at most (deadline - now) / 5 ms iterations.
    while !go.exists() {
        if Instant::now() >= deadline {
            eprintln!(
                "fanout: client {id}: no go from {} in time, measuring alone",
                dir.display()
            );
            return false;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    true
}

/// `fanout merge FILE...`: the dumps of several clients (--dump) as one run.
fn merge_main(files: &[String]) -> ! {
    if files.is_empty() {
        usage();
    }
    let mut parts = Vec::new();
    for f in files {
        let parsed = std::fs::read_to_string(f)
            .map_err(|e| e.to_string())
            .and_then(|t| Summary::parse_dump(&t));
        match parsed {
            Ok(s) => parts.push(s),
            Err(e) => eprintln!("fanout merge: {f}: {e} (left out)"),
        }
    }
    match Summary::merge(parts) {
        Some(mut m) => {
            let _ = m.print(&mut io::stdout().lock());
            std::process::exit(0)
        }
        None => {
            eprintln!("fanout merge: no readable dump");
            std::process::exit(1)
        }
    }
}

fn main() {
    let argv: Vec<String> = std::env::args().collect();
    if argv.get(1).is_some_and(|a| a == "merge") {
        merge_main(&argv[2..]);
    }
    let args = Arc::new(parse_args());

    // Watchdog: whatever happens, the process ends ramp limit + settle + SECONDS
    // + 8 s from now (SECONDS + 30 s when the ramp limit is 20 s).
    let hard = ramp_limit(&args) + Duration::from_secs(args.settle + args.seconds) + HARD_EXTRA;
    std::thread::spawn(move || {
        std::thread::sleep(hard);
        eprintln!(
            "fanout: hard deadline ({} s) reached, exiting",
            hard.as_secs()
        );
        std::process::exit(3);
    });

    let rt = if args.threads == 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(args.threads)
            .enable_all()
            .build()
    }
    .expect("tokio runtime");
    rt.block_on(run(args));
    // Do not wait for the listener tasks: exit closes every socket (with a reset).
    std::process::exit(0);
}

#[cfg(test)]
mod tests {
    use super::Dechunk;

    #[test]
    fn dechunk_counts_payload_across_any_split() {
        let body = b"1a1\r\n"
            .iter()
            .chain(&[7u8; 0x1a1])
            .chain(b"\r\n3;x=y\r\nabc\r\n0\r\n\r\n");
        let body: Vec<u8> = body.copied().collect();
        for step in [1, 2, 3, 7, 100, body.len()] {
            let mut d = Dechunk::default();
            let payload: u64 = body.chunks(step).map(|c| d.feed(c)).sum();
            assert_eq!(payload, 0x1a1 + 3, "split every {step}");
            assert!(!d.bad);
        }
    }

    #[test]
    fn dechunk_gives_up_on_garbage() {
        let mut d = Dechunk::default();
        assert_eq!(d.feed(b"zz\r\n"), 4);
        assert!(d.bad);
        assert_eq!(d.feed(b"more"), 4);
    }
}

//! The live sink with real clients: ffmpeg as an Icecast source client
//! (`icecast://`) and as a PUT source, listeners joining at different
//! times whose bytes ffprobe/ffmpeg decode, `--rt` pacing measured over
//! 5 s, a FIFO input with `hold` and `quit`, and a listener that never
//! reads while another reads 100 MB (memory bounded, drop counted).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

mod support;

use support::{Httpout, curl, mkfifo, run_to_exit};

/// A 128 kbit/s MP3 of `secs` seconds of a sine, made by ffmpeg in `dir`.
fn tone(dir: &Path, secs: u32) -> PathBuf {
    let path = dir.join(format!("tone{secs}.mp3"));
    let status = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i"])
        .arg(format!("sine=frequency=440:duration={secs}"))
        .args(["-c:a", "libmp3lame", "-b:a", "128k", "-ar", "44100"])
        .arg(&path)
        .status()
        .expect("ffmpeg is installed (see scripts/test.sh)");
    assert!(status.success());
    path
}

/// `host:port` of a listener URL.
fn host(url: &str) -> &str {
    url.trim_start_matches("http://")
}

/// Kills a child process when dropped.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Polls `/status-json.xsl` until `ready` says yes (bounded: 15 s).
fn wait_status(url: &str, ready: impl Fn(&serde_json::Value) -> bool) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(15);
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

fn has_mount(v: &serde_json::Value, mount: &str) -> bool {
    v["icestats"]["source"].as_array().is_some_and(|a| {
        a.iter()
            .any(|s| s["mount"] == mount && s["state"] == "live")
    })
}

/// An HTTP/1.0 listener (close-delimited body) reading for `secs`:
/// (response head, body bytes).
fn listen(addr: &str, path: &str, extra: &str, secs: f64) -> (String, Vec<u8>) {
    listen_counting(addr, path, extra, secs, &AtomicUsize::new(0))
}

/// [`listen`], adding every byte it receives (head included) to `got` as
/// it goes.
fn listen_counting(
    addr: &str,
    path: &str,
    extra: &str,
    secs: f64,
    got: &AtomicUsize,
) -> (String, Vec<u8>) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    write!(s, "GET {path} HTTP/1.0\r\nHost: x\r\n{extra}\r\n").unwrap();
    let deadline = Instant::now() + Duration::from_secs_f64(secs);
    let mut all = Vec::new();
    let mut buf = [0u8; 16384];
    while Instant::now() < deadline {
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

/// Decodes an MP3 file with ffmpeg: its duration in seconds, or the errors.
fn decode(path: &Path) -> Result<f64, String> {
    let out = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-show_entries",
            "stream=codec_name:format=duration",
        ])
        .args(["-of", "default=nw=1"])
        .arg(path)
        .output()
        .expect("ffprobe is installed (see scripts/test.sh)");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    if !text.contains("codec_name=mp3") || !err.trim().is_empty() {
        return Err(format!("ffprobe: {text} {err}"));
    }
    let full = Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(path)
        .args(["-f", "null", "-"])
        .output()
        .expect("ffmpeg is installed (see scripts/test.sh)");
    let err = String::from_utf8_lossy(&full.stderr);
    if !full.status.success() || !err.trim().is_empty() {
        return Err(format!("ffmpeg decode: {err}"));
    }
    text.lines()
        .find_map(|l| l.strip_prefix("duration="))
        .and_then(|d| d.parse().ok())
        .ok_or_else(|| format!("no duration in {text}"))
}

/// httpout taking source clients with the password `hackme`, and `extra`
/// options: the server and its `host:port`.
fn source_server(extra: &[&str]) -> (Httpout, String) {
    let mut args = vec!["--ifce=127.0.0.1", "--port=0", "--source_password=hackme"];
    args.extend_from_slice(extra);
    let server = Httpout::start(&args, 1);
    let addr = host(server.url()).to_owned();
    (server, addr)
}

/// Writes what a listener got into `dir/name` and decodes it: seconds.
fn decoded(dir: &Path, name: &str, body: &[u8]) -> f64 {
    let path = dir.join(name);
    std::fs::write(&path, body).unwrap();
    decode(&path).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn ffmpeg_source(input: &Path, output: &[&str]) -> Killed {
    Killed(
        Command::new("ffmpeg")
            .args(["-hide_banner", "-loglevel", "error", "-re", "-i"])
            .arg(input)
            .args(["-c", "copy", "-f", "mp3", "-content_type", "audio/mpeg"])
            .args(output)
            .stdin(Stdio::null())
            .spawn()
            .expect("ffmpeg is installed (see scripts/test.sh)"),
    )
}

#[test]
fn ffmpeg_icecast_source_and_listeners_joining_at_different_times() {
    let dir = tempfile::tempdir().unwrap();
    let input = tone(dir.path(), 20);
    let (server, addr) = source_server(&["--ice"]);
    let _src = ffmpeg_source(
        &input,
        &[
            "-ice_name",
            "Test FM",
            "-ice_genre",
            "Sine",
            &format!("icecast://source:hackme@{addr}/live.mp3"),
        ],
    );
    wait_status(server.url(), |v| has_mount(v, "/live.mp3"));
    std::thread::sleep(Duration::from_millis(1500));

    // Two listeners, the second joining 1.5 s after the first.
    let a_addr = addr.clone();
    let first = std::thread::spawn(move || listen(&a_addr, "/live.mp3", "", 4.0));
    std::thread::sleep(Duration::from_millis(1500));
    let (head_b, body_b) = listen(&addr, "/live.mp3", "", 2.5);
    let (head_a, body_a) = first.join().unwrap();
    for (name, head, body) in [("a", &head_a, &body_a), ("b", &head_b, &body_b)] {
        let lower = head.to_ascii_lowercase();
        assert!(head.starts_with("HTTP/1.0 200"), "{head}");
        assert!(lower.contains("content-type: audio/mpeg"), "{head}");
        assert!(lower.contains("icy-name: test fm"), "{head}");
        assert!(lower.contains("icy-genre: sine"), "{head}");
        assert!(lower.contains("ice-audio-info: samplerate=44100"), "{head}");
        // It starts on a frame header: an MPEG audio sync word.
        assert_eq!(body[0], 0xFF, "{name} starts on a frame");
        assert_eq!(body[1] & 0xE0, 0xE0, "{name} starts on a frame");
        let secs = decoded(dir.path(), &format!("{name}.mp3"), body);
        assert!(secs > 2.0, "listener {name} got {secs} s");
    }
    // Each got at least what played while it listened (128 kbit/s), plus a
    // burst of what had played before (the whole stream so far, up to 64 KiB:
    // over 2 s of it when the second one joined).
    assert!(
        body_a.len() as f64 > 4.0 * 16_000.0 * 0.9,
        "{}",
        body_a.len()
    );
    assert!(
        body_b.len() as f64 > (2.5 + 2.0) * 16_000.0 * 0.9,
        "{}",
        body_b.len()
    );
}

#[test]
fn ffmpeg_put_source_with_basic_auth() {
    let dir = tempfile::tempdir().unwrap();
    let input = tone(dir.path(), 10);
    let (server, addr) = source_server(&[]);
    // A wrong password is refused: ffmpeg fails, no mount appears.
    let mut bad = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-i"])
        .arg(&input)
        .args([
            "-c",
            "copy",
            "-f",
            "mp3",
            "-method",
            "PUT",
            "-auth_type",
            "basic",
        ])
        .args(["-send_expect_100", "1"])
        .arg(format!("http://source:wrong@{addr}/put.mp3"))
        .stderr(Stdio::null())
        .spawn()
        .expect("ffmpeg is installed (see scripts/test.sh)");
    let deadline = Instant::now() + Duration::from_secs(15);
    let status = loop {
        if let Some(s) = bad.try_wait().unwrap() {
            break s;
        }
        assert!(
            Instant::now() < deadline,
            "ffmpeg with a wrong password did not stop"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(!status.success());

    let _src = ffmpeg_source(
        &input,
        &[
            "-method",
            "PUT",
            "-auth_type",
            "basic",
            &format!("http://source:hackme@{addr}/put.mp3"),
        ],
    );
    wait_status(server.url(), |v| has_mount(v, "/put.mp3"));
    let (head, body) = listen(&addr, "/put.mp3", "", 3.0);
    assert!(head.starts_with("HTTP/1.0 200"), "{head}");
    let secs = decoded(dir.path(), "put.mp3", &body);
    assert!(secs > 2.0, "{secs}");
    assert!(server.stderr().contains("started /put.mp3"));
}

#[test]
fn ffmpeg_legacy_source_method() {
    let dir = tempfile::tempdir().unwrap();
    let input = tone(dir.path(), 10);
    let (server, addr) = source_server(&["--reqlog=SOURCE"]);
    let _src = ffmpeg_source(
        &input,
        &[
            "-legacy_icecast",
            "1",
            &format!("icecast://source:hackme@{addr}/old.mp3"),
        ],
    );
    wait_status(server.url(), |v| has_mount(v, "/old.mp3"));
    let (head, body) = listen(&addr, "/old.mp3", "", 2.5);
    assert!(head.starts_with("HTTP/1.0 200"), "{head}");
    assert!(decoded(dir.path(), "old.mp3", &body) > 1.5);
    assert!(server.stderr().contains("SOURCE /old.mp3"));
}

#[test]
fn rt_file_inputs_are_sent_at_their_bitrate() {
    let dir = tempfile::tempdir().unwrap();
    let input = tone(dir.path(), 30);
    // Two -i/-o pairs share one server, each mount with its own input.
    let aac = dir.path().join("tone.aac");
    let made = Command::new("ffmpeg")
        .args(["-v", "error", "-f", "lavfi", "-i", "sine=duration=30"])
        .args(["-c:a", "aac", "-b:a", "64k", "-f", "adts"])
        .arg(&aac)
        .status()
        .expect("ffmpeg is installed (see scripts/test.sh)");
    assert!(made.success());
    let server = Httpout::start(
        &[
            "--ifce=127.0.0.1",
            "--port=0",
            "-i",
            input.to_str().unwrap(),
            "-o",
            "http://127.0.0.1/live.mp3",
            "-i",
            aac.to_str().unwrap(),
            "-o",
            "http://127.0.0.1/live.aac",
            "--rt",
            "--burst=0",
        ],
        1,
    );
    let addr = host(server.url()).to_owned();
    std::thread::sleep(Duration::from_millis(500));
    let aac_addr = addr.clone();
    let aac_listener = std::thread::spawn(move || listen(&aac_addr, "/live.aac", "", 5.0));
    let (head, body) = listen(&addr, "/live.mp3", "", 5.0);
    assert!(head.starts_with("HTTP/1.0 200"), "{head}");
    // 128 kbit/s for 5 s = 80 000 bytes; within 10 %.
    let expected = 128_000.0 / 8.0 * 5.0;
    let ratio = body.len() as f64 / expected;
    assert!(
        (0.9..=1.1).contains(&ratio),
        "{} bytes in 5 s, {ratio:.3} of the bitrate",
        body.len()
    );
    // The ADTS mount, paced by its frame headers: 5 s of AAC, whatever its
    // exact bit rate, decodes to about 5 s.
    let (head, body) = aac_listener.join().unwrap();
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: audio/aac"),
        "{head}"
    );
    let path = dir.path().join("got.aac");
    std::fs::write(&path, &body).unwrap();
    let out = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-show_entries",
            "format=duration",
            "-of",
            "csv=p=0",
        ])
        .arg(&path)
        .output()
        .expect("ffprobe is installed (see scripts/test.sh)");
    let secs: f64 = String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .unwrap_or(0.0);
    assert!((4.5..=5.5).contains(&secs), "{secs} s of AAC in 5 s");
}

#[test]
fn live_mounts_beside_static_serving() {
    let dir = tempfile::tempdir().unwrap();
    let site = dir.path().join("site");
    std::fs::create_dir(&site).unwrap();
    std::fs::write(site.join("index.txt"), "static\n").unwrap();
    let input = tone(dir.path(), 10);
    let rdirs = format!("--rdirs={}", site.display());
    let wdir = format!("--wdir={}", site.display());
    let server = Httpout::start(
        &[
            "--ifce=127.0.0.1",
            "--port=0",
            &rdirs,
            &wdir,
            "--sink=live",
            "-i",
            input.to_str().unwrap(),
            "-o",
            "http://127.0.0.1/file.mp3",
            "--rt",
            "--source_password=hackme",
        ],
        1,
    );
    let url = server.url().to_owned();
    let addr = host(&url).to_owned();
    // An Icecast source client (ice-* headers) goes to the live sink...
    let _src = ffmpeg_source(
        &input,
        &[&format!("icecast://source:hackme@{addr}/ice.mp3")],
    );
    wait_status(&url, |v| {
        has_mount(v, "/ice.mp3") && has_mount(v, "/file.mp3")
    });
    // ...a plain upload to the write directory, and reads to the static files.
    let note = dir.path().join("note.txt");
    std::fs::write(&note, "uploaded\n").unwrap();
    let put = curl(&[
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        "-T",
        note.to_str().unwrap(),
        &format!("{url}/note.txt"),
    ]);
    assert_eq!(String::from_utf8_lossy(&put.stdout), "201");
    let get = curl(&[&format!("{url}/note.txt")]);
    assert_eq!(String::from_utf8_lossy(&get.stdout), "uploaded\n");
    let get = curl(&[&format!("{url}/index.txt")]);
    assert_eq!(String::from_utf8_lossy(&get.stdout), "static\n");
    // Both live mounts play, each with its own bytes.
    for mount in ["/file.mp3", "/ice.mp3"] {
        let (head, body) = listen(&addr, mount, "", 2.0);
        assert!(head.starts_with("HTTP/1.0 200"), "{mount}: {head}");
        let name = format!("got{}", mount.replace('/', "_"));
        assert!(decoded(dir.path(), &name, &body) > 1.0, "{mount}");
    }
}

/// What ffprobe, reading the live URL as a player does (it asks for ICY
/// metadata), reports in the format tags.
fn probe_tags(url: &str) -> serde_json::Value {
    let out = Command::new("timeout")
        .args([
            "15",
            "ffprobe",
            "-v",
            "error",
            "-show_entries",
            "format_tags",
            "-of",
            "json",
        ])
        .arg(url)
        .output()
        .unwrap();
    let json: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|_| panic!("ffprobe: {}", String::from_utf8_lossy(&out.stderr)));
    json["format"]["tags"].clone()
}

#[test]
fn players_get_ice_headers_and_icy_titles() {
    let dir = tempfile::tempdir().unwrap();
    let input = tone(dir.path(), 30);
    let (server, _addr) = source_server(&[
        "-i",
        input.to_str().unwrap(),
        "-o",
        "http://127.0.0.1/live.mp3",
        "--rt",
        "--ice",
        "--ice-name=Test FM",
        "--title=First Song",
        "--metaint=4000",
    ]);
    let url = format!("{}/live.mp3", server.url());
    let tags = probe_tags(&url);
    assert_eq!(tags["icy-name"], "Test FM", "{tags}");
    assert_eq!(tags["icy-br"], "128", "{tags}");
    assert_eq!(tags["StreamTitle"], "First Song", "{tags}");
    // Icecast's metadata update, with the source credentials.
    let update = format!(
        "{}/admin/metadata?mount=/live.mp3&mode=updinfo&song=Artist%20-%20Second",
        server.url()
    );
    let refused = curl(&[
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        "-u",
        "source:nope",
        &update,
    ]);
    assert_eq!(String::from_utf8_lossy(&refused.stdout), "401");
    let done = curl(&["-u", "source:hackme", &update]);
    assert!(String::from_utf8_lossy(&done.stdout).contains("<return>1</return>"));
    assert_eq!(probe_tags(&url)["StreamTitle"], "Artist - Second");
}

#[test]
fn fifo_input_with_hold_and_quit() {
    let dir = tempfile::tempdir().unwrap();
    let input = tone(dir.path(), 3);
    let fifo = dir.path().join("in.fifo");
    mkfifo(&fifo);
    let server = Httpout::start(
        &[
            "--ifce=127.0.0.1",
            "--port=0",
            "-i",
            fifo.to_str().unwrap(),
            "-o",
            "http://127.0.0.1/fifo.mp3:hold:quit",
        ],
        1,
    );
    let addr = host(server.url()).to_owned();
    // The writer: the whole file at once (hold keeps it in the pipe).
    let data = std::fs::read(&input).unwrap();
    let writer = std::thread::spawn(move || {
        let mut f = std::fs::OpenOptions::new().write(true).open(fifo).unwrap();
        f.write_all(&data).unwrap();
    });
    std::thread::sleep(Duration::from_millis(300));
    // One listener gets the whole stream: the body ends when the input does.
    let (head, body) = listen(&addr, "/fifo.mp3", "", 10.0);
    writer.join().unwrap();
    assert!(head.starts_with("HTTP/1.0 200"), "{head}");
    let secs = decoded(dir.path(), "got.mp3", &body);
    assert!((2.5..3.5).contains(&secs), "{secs}");
    // quit: the input is over and the listener gone, so httpout exits.
    let (code, stderr) = server.wait_exit(Duration::from_secs(10));
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stderr.contains("ended"), "{stderr}");
}

/// Peak resident memory of a process, in KiB.
fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

#[test]
fn a_listener_that_never_reads_costs_bounded_memory() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("in.fifo");
    mkfifo(&fifo);
    let server = Httpout::start(
        &[
            "--ifce=127.0.0.1",
            "--port=0",
            "-i",
            fifo.to_str().unwrap(),
            "-o",
            "http://127.0.0.1/big.ts",
            "--max_async_buf=1M",
            "--burst=0",
            // The stalled listener's stall limit (10 s: the stream's rate is
            // unknown when it connects) and the engine's own, so the drop
            // below comes at the same time whichever cuts first.
            "--timeout=10",
        ],
        1,
    );
    let addr = host(server.url()).to_owned();
    let (go_tx, go_rx) = std::sync::mpsc::channel::<()>();
    // What the reading listener has received so far.
    let received = Arc::new(AtomicUsize::new(0));
    // 100 MB of TS packets, written as fast as the reading listener takes
    // them: at most AHEAD bytes (plus one block) ahead of what it received,
    // so it can never fall 1 MiB (max_async_buf) behind the live point,
    // however loaded the machine. The stalled listener falls behind all the
    // same: 100 MB pass it by.
    const TOTAL: usize = 100 << 20;
    const AHEAD: usize = 256 << 10;
    let progress = Arc::clone(&received);
    let writer = std::thread::spawn(move || {
        let mut f = std::fs::OpenOptions::new().write(true).open(fifo).unwrap();
        go_rx.recv().unwrap();
        let mut packet = [0x11u8; 188];
        packet[0] = 0x47;
        let block: Vec<u8> = packet.iter().copied().cycle().take(188 * 348).collect();
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut sent = 0;
        while sent < TOTAL {
            while sent > progress.load(Ordering::Acquire) + AHEAD {
                assert!(
                    Instant::now() < deadline,
                    "the reading listener stopped at {} of {sent} bytes",
                    progress.load(Ordering::Acquire)
                );
                std::thread::sleep(Duration::from_millis(1));
            }
            f.write_all(&block).unwrap();
            sent += block.len();
        }
        sent
    });
    // The stalled listener asks and never reads.
    let mut stalled = TcpStream::connect(&addr).unwrap();
    write!(stalled, "GET /big.ts HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    // The reading listener reads everything until the input ends.
    let reader = std::thread::spawn(move || listen_counting(&addr, "/big.ts", "", 60.0, &received));
    // Both listen before the first byte is written (with --burst=0, a
    // listener gets what comes after it joined).
    wait_status(server.url(), |v| {
        v["icestats"]["source"].as_array().is_some_and(|a| {
            a.iter()
                .any(|s| s["mount"] == "/big.ts" && s["listeners"] == 2)
        })
    });
    let started = Instant::now();
    go_tx.send(()).unwrap();
    let sent = writer.join().unwrap();
    let (head, body) = reader.join().unwrap();
    assert!(head.starts_with("HTTP/1.0 200"), "{head}");
    assert_eq!(body.len(), sent, "the reading listener got every byte");
    let peak = peak_rss_kib(server.pid());
    assert!(peak < 64 * 1024, "peak RSS {peak} KiB for 100 MB relayed");
    // It is dropped once its socket has refused bytes for the time its lag
    // limit stands for (10 s while the stream's rate was unknown when it
    // connected, the --timeout above), and logged: not before that (its
    // socket refuses bytes only once they flow, after `started`), and
    // within twice that and 2 s more.
    let timeout = Duration::from_secs(10);
    while !server.stderr().contains("behind the live point, dropped") {
        assert!(
            started.elapsed() < 2 * timeout + Duration::from_secs(2),
            "not dropped: {}",
            server.stderr()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let dropped = started.elapsed();
    assert!(
        dropped + Duration::from_millis(5) >= timeout,
        "dropped {dropped:?} after the bytes began to flow"
    );
    drop(stalled);
}

#[test]
fn live_options_are_checked() {
    let (code, _, err) = run_to_exit(&["--port=0", "--source_password=x", "--burst=1M"]);
    assert_eq!(code, Some(2));
    assert!(
        err.contains("--burst") && err.contains("--max_async_buf"),
        "{err}"
    );
    let (code, _, err) = run_to_exit(&[
        "--port=0",
        "--rdirs=.",
        "-i",
        "a.mp3",
        "-o",
        "http://127.0.0.1/a.mp3",
        "--rt",
    ]);
    assert_eq!(code, Some(2));
    assert!(err.contains("--rt") && err.contains("--sink=live"), "{err}");
    let (code, _, err) = run_to_exit(&["--port=0", "--rdirs=.", "--burst=2s"]);
    assert_eq!(code, Some(2));
    assert!(
        err.contains("--burst") && err.contains("not in use"),
        "{err}"
    );
    let (code, _, err) = run_to_exit(&["--port=0", "--source_password=x", "--burst=12parsecs"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("--burst"), "{err}");
}

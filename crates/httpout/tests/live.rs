//! The live sink with real clients: ffmpeg as an Icecast source client
//! (`icecast://`) and as a PUT source, listeners joining at different
//! times whose bytes ffprobe/ffmpeg decode, `--rt` pacing measured over
//! 5 s, a FIFO input with `hold` and `quit`, and a listener that never
//! reads while another reads 100 MB (memory bounded, drop counted).

use std::io::Write;
use std::net::TcpStream;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

mod support;

use httpout_test::media::{self, mp3_tone};
use support::live::{bytes_in, host, listen, listen_counting, wait_status};
use support::{Httpout, curl, mkfifo, run_to_exit};

/// Bytes a second of the 128 kbit/s tones.
const RATE: usize = 16_000;

/// What a listener gets at once from before the live point (`--burst`'s
/// default), cut on a frame boundary: up to one frame (418 bytes at
/// 128 kbit/s) less.
const BURST: usize = 64 << 10;
const FRAME: usize = 418;

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
    media::decode_seconds(&path, "mp3").unwrap_or_else(|e| panic!("{name}: {e}"))
}

#[test]
fn ffmpeg_icecast_source_and_listeners_joining_at_different_times() {
    let dir = tempfile::tempdir().unwrap();
    let input = mp3_tone(dir.path(), "tone20.mp3", 20, 128);
    let (server, addr) = source_server(&["--ice"]);
    let _src = media::mp3_source(
        &input,
        &[
            "-ice_name",
            "Test FM",
            "-ice_genre",
            "Sine",
            &format!("icecast://source:hackme@{addr}/live.mp3"),
        ],
    );
    // Once the mount has taken more than a burst, a listener gets a whole
    // one when it joins, whatever the time it took to get there.
    wait_status(server.url(), |v| bytes_in(v, "/live.mp3") > BURST + RATE);
    // Two listeners, the second joining once the first has had its burst
    // and a second of the stream played after it: at a later point.
    let got_a = Arc::new(AtomicUsize::new(0));
    let first = {
        let (addr, got) = (addr.clone(), Arc::clone(&got_a));
        std::thread::spawn(move || listen_counting(&addr, "/live.mp3", "", 5.0, &got))
    };
    let deadline = Instant::now() + Duration::from_secs(15);
    while got_a.load(Ordering::Acquire) < BURST + RATE {
        assert!(
            Instant::now() < deadline,
            "the first listener got {} bytes",
            got_a.load(Ordering::Acquire)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let (head_b, body_b) = listen(&addr, "/live.mp3", "", 3.0);
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
        // The burst alone is over 4 s of it.
        let secs = decoded(dir.path(), &format!("{name}.mp3"), body);
        assert!(secs > 4.0, "listener {name} got {secs} s");
    }
    // Each got the burst (what had played before it joined), then the
    // stream as it played (128 kbit/s): a second of it at least in the 5 s
    // the first listened (the second joined after that), half a second in
    // the 3 s the second listened.
    assert!(body_a.len() > BURST - FRAME + RATE, "{}", body_a.len());
    assert!(body_b.len() > BURST - FRAME + RATE / 2, "{}", body_b.len());
}

#[test]
fn ffmpeg_put_source_with_basic_auth() {
    let dir = tempfile::tempdir().unwrap();
    let input = mp3_tone(dir.path(), "tone10.mp3", 10, 128);
    let (server, addr) = source_server(&[]);
    // A wrong password is refused: ffmpeg fails, no mount appears.
    let (status, _, _) = media::mp3_source(
        &input,
        &[
            "-method",
            "PUT",
            "-auth_type",
            "basic",
            "-send_expect_100",
            "1",
            &format!("http://source:wrong@{addr}/put.mp3"),
        ],
    )
    .wait(Duration::from_secs(15));
    assert!(!status.success());

    let _src = media::mp3_source(
        &input,
        &[
            "-method",
            "PUT",
            "-auth_type",
            "basic",
            &format!("http://source:hackme@{addr}/put.mp3"),
        ],
    );
    // The burst a listener gets at once holds over 2 s of it by then.
    wait_status(server.url(), |v| bytes_in(v, "/put.mp3") > 3 * RATE);
    let (head, body) = listen(&addr, "/put.mp3", "", 3.0);
    assert!(head.starts_with("HTTP/1.0 200"), "{head}");
    let secs = decoded(dir.path(), "put.mp3", &body);
    assert!(secs > 2.0, "{secs}");
    assert!(server.stderr().contains("started /put.mp3"));
}

#[test]
fn ffmpeg_legacy_source_method() {
    let dir = tempfile::tempdir().unwrap();
    let input = mp3_tone(dir.path(), "tone10.mp3", 10, 128);
    let (server, addr) = source_server(&["--reqlog=SOURCE"]);
    let _src = media::mp3_source(
        &input,
        &[
            "-legacy_icecast",
            "1",
            &format!("icecast://source:hackme@{addr}/old.mp3"),
        ],
    );
    // The burst a listener gets at once holds over 1.5 s of it by then.
    wait_status(server.url(), |v| bytes_in(v, "/old.mp3") > 2 * RATE);
    let (head, body) = listen(&addr, "/old.mp3", "", 2.5);
    assert!(head.starts_with("HTTP/1.0 200"), "{head}");
    assert!(decoded(dir.path(), "old.mp3", &body) > 1.5);
    assert!(server.stderr().contains("SOURCE /old.mp3"));
}

#[test]
fn rt_file_inputs_are_sent_at_their_bitrate() {
    let dir = tempfile::tempdir().unwrap();
    let input = mp3_tone(dir.path(), "tone30.mp3", 30, 128);
    // Two -i/-o pairs share one server, each mount with its own input.
    let aac = media::aac_tone(dir.path(), "tone.aac", 30, 64);
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
    // 128 kbit/s for 5 s = 80 000 bytes. The bounds leave room for a
    // loaded machine (a late connect, a slow reader) yet are far from the
    // 480 000 bytes of the whole file read at disk speed; the schedule
    // itself is checked exactly in virtual time (ingest.rs tests).
    let expected = 128_000.0 / 8.0 * 5.0;
    let ratio = body.len() as f64 / expected;
    assert!(
        (0.6..=1.3).contains(&ratio),
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
    let probed = media::probe(&path, "format=duration").unwrap_or_else(|e| panic!("{e}"));
    let secs: f64 = media::field(&probed, "duration")
        .and_then(|d| d.parse().ok())
        .unwrap_or(0.0);
    assert!((3.0..=6.5).contains(&secs), "{secs} s of AAC in 5 s");
}

#[test]
fn live_mounts_beside_static_serving() {
    let dir = tempfile::tempdir().unwrap();
    let site = dir.path().join("site");
    std::fs::create_dir(&site).unwrap();
    std::fs::write(site.join("index.txt"), "static\n").unwrap();
    let input = mp3_tone(dir.path(), "tone10.mp3", 10, 128);
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
    let _src = media::mp3_source(
        &input,
        &[&format!("icecast://source:hackme@{addr}/ice.mp3")],
    );
    // Each holds over 1 s of stream for a listener's burst.
    wait_status(&url, |v| {
        bytes_in(v, "/ice.mp3") > 2 * RATE && bytes_in(v, "/file.mp3") > 2 * RATE
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

#[test]
fn players_get_ice_headers_and_icy_titles() {
    let dir = tempfile::tempdir().unwrap();
    let input = mp3_tone(dir.path(), "tone30.mp3", 30, 128);
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
    let tags = media::probe_tags(&url);
    let tag = |name: &str| tags.get(name).map(String::as_str);
    assert_eq!(tag("icy-name"), Some("Test FM"), "{tags:?}");
    assert_eq!(tag("icy-br"), Some("128"), "{tags:?}");
    assert_eq!(tag("StreamTitle"), Some("First Song"), "{tags:?}");
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
    let tags = media::probe_tags(&url);
    assert_eq!(
        tags.get("StreamTitle").map(String::as_str),
        Some("Artist - Second"),
        "{tags:?}"
    );
}

#[test]
fn fifo_input_with_hold_and_quit() {
    let dir = tempfile::tempdir().unwrap();
    let input = mp3_tone(dir.path(), "tone3.mp3", 3, 128);
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

//! Logs and the access log with real clients (curl, raw sockets, a live
//! listener): `--access_log` in each `--log_format`, hostile fields
//! escaped, SIGUSR1 reopening a rotated file, live listeners and uploads
//! logged when they end, `--log` zones (TLS handshake failures, rustls
//! through the `log` bridge), and a standard error nobody reads that does
//! not hold requests back.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

mod support;

use support::{Httpout, curl, run_to_exit, self_signed};

/// An empty directory to serve.
fn root(dir: &Path) -> String {
    let r = dir.join("root");
    std::fs::create_dir_all(&r).unwrap();
    format!("--rdirs={}", r.display())
}

/// The lines of `path` once `ready` holds for them (bounded: 15 s).
fn lines_once(path: &Path, ready: impl Fn(&[String]) -> bool) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let lines: Vec<String> = std::fs::read_to_string(path)
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect();
        if ready(&lines) {
            return lines;
        }
        assert!(Instant::now() < deadline, "{}: {lines:?}", path.display());
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The JSON access lines of `path` once one has `path` as its path.
fn json_once(file: &Path, path: &str) -> Vec<serde_json::Value> {
    let has =
        |l: &String| serde_json::from_str::<serde_json::Value>(l).is_ok_and(|v| v["path"] == path);
    lines_once(file, |lines| lines.iter().any(has))
        .iter()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect()
}

#[test]
fn combined_access_log_file_is_reopened_on_sigusr1() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("access.log");
    let server = Httpout::start(
        &[
            "--ifce=127.0.0.1",
            "--port=0",
            &root(dir.path()),
            &format!("--access_log={}", log.display()),
            "--log_format=combined",
        ],
        1,
    );
    let url = server.url().to_owned();
    curl(&[
        "-o",
        "/dev/null",
        "-e",
        "http://ref/",
        "-A",
        "agent/1",
        &format!("{url}/first?q=1"),
    ]);
    let first = lines_once(&log, |l| !l.is_empty());
    assert_eq!(first.len(), 1, "{first:?}");
    let line = &first[0];
    assert!(line.starts_with("127.0.0.1 - - ["), "{line}");
    assert!(
        line.ends_with("] \"GET /first?q=1 HTTP/1.1\" 404 10 \"http://ref/\" \"agent/1\""),
        "{line}"
    );
    // logrotate: move the file, tell httpout, and the next line goes to a
    // new file at the old name.
    let rotated = dir.path().join("access.log.1");
    std::fs::rename(&log, &rotated).unwrap();
    server.signal("USR1");
    // The signal is handled asynchronously: ask until a line lands in the
    // new file (bounded), every line in one of the two.
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut asked = 1;
    while !log.exists() || std::fs::read_to_string(&log).unwrap().is_empty() {
        assert!(Instant::now() < deadline, "no new access.log");
        curl(&["-o", "/dev/null", &format!("{url}/second")]);
        asked += 1;
        std::thread::sleep(Duration::from_millis(50));
    }
    let (code, stderr) = server.terminate();
    assert_eq!(code, Some(0), "{stderr}");
    let old = std::fs::read_to_string(&rotated).unwrap();
    let new = std::fs::read_to_string(&log).unwrap();
    assert!(
        new.lines()
            .all(|l| l.contains("\"GET /second HTTP/1.1\" 404")),
        "{new}"
    );
    assert_eq!(
        old.lines().count() + new.lines().count(),
        asked,
        "{old}{new}"
    );
    assert!(
        !stderr.contains("GET /"),
        "access lines stay out of stderr: {stderr}"
    );
}

#[test]
fn hostile_request_fields_are_escaped() {
    let dir = tempfile::tempdir().unwrap();
    let server = Httpout::start(
        &[
            "--ifce=127.0.0.1",
            "--port=0",
            &root(dir.path()),
            "--log_format=combined",
        ],
        1,
    );
    // HTTP forbids ASCII controls in a header, but not quotes, backslashes
    // or bytes above 0x7F: C1 controls (U+009B is a terminal's CSI) in
    // UTF-8. The path may carry a quote.
    let mut s = TcpStream::connect(server.url().trim_start_matches("http://")).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(
        b"GET /a\"b HTTP/1.1\r\nHost: x\r\nReferer: r\\\" \"x\r\n\
          User-Agent: evil\" \"\xc2\x9b31m\xc2\x85\\ end\r\nConnection: close\r\n\r\n",
    )
    .unwrap();
    let mut answer = Vec::new();
    let _ = s.read_to_end(&mut answer);
    assert!(
        answer.starts_with(b"HTTP/1.1 404"),
        "{}",
        String::from_utf8_lossy(&answer)
    );
    let stderr = server.stderr_once("end\"");
    let line = stderr
        .lines()
        .find(|l| l.contains("GET /a"))
        .unwrap_or_else(|| panic!("{stderr}"));
    assert!(
        !line.contains('\u{9b}') && !line.contains('\u{85}'),
        "{line}"
    );
    assert!(
        line.ends_with(
            "\"GET /a\\\"b HTTP/1.1\" 404 10 \"r\\\\\\\" \\\"x\" \"evil\\\" \\\"\\u{009B}31m\\u{0085}\\\\ end\""
        ),
        "{line}"
    );
}

#[test]
fn json_access_log_has_the_signed_in_user() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("access.json");
    let p = dir.path();
    std::fs::create_dir_all(p.join("media")).unwrap();
    std::fs::write(p.join("media/f.txt"), "hello").unwrap();
    std::fs::write(p.join("rules.ini"), "[media]\nname=video\nru=alice\n").unwrap();
    let users = p.join("users.txt");
    let mut add = Command::new(support::binary())
        .arg("users")
        .arg(format!("--users={}", users.display()))
        .args(["add", "alice"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let _ = add.stdin.take().unwrap().write_all(b"secret\n");
    assert!(add.wait().unwrap().success());
    let server = Httpout::start(
        &[
            "--ifce=127.0.0.1",
            "--port=0",
            &format!("--rdirs={}", p.join("rules.ini").display()),
            &format!("--users={}", users.display()),
            &format!("--access_log={}", log.display()),
            "--log_format=json",
        ],
        1,
    );
    curl(&[
        "-o",
        "/dev/null",
        "-u",
        "alice:secret",
        &format!("{}/video/f.txt", server.url()),
    ]);
    let lines = json_once(&log, "/video/f.txt");
    let v = &lines[lines.len() - 1];
    assert_eq!(v["client"], "127.0.0.1");
    assert_eq!(v["user"], "alice");
    assert_eq!(v["method"], "GET");
    assert_eq!(v["protocol"], "HTTP/1.1");
    assert_eq!(v["status"], 200);
    assert_eq!(v["bytes"], 5);
    assert_eq!(v["complete"], true);
    assert!(v["duration_ms"].as_f64().is_some_and(|d| d >= 0.0), "{v}");
    assert!(
        v["user_agent"]
            .as_str()
            .is_some_and(|a| a.starts_with("curl/")),
        "{v}"
    );
    assert!(v["referer"].is_null(), "{v}");
    assert!(v["time"].as_str().is_some_and(|t| t.ends_with('Z')), "{v}");
}

/// A standard error nobody reads: the pipe fills, then the log's queue;
/// requests are still served (within curl's limit, where a blocking
/// writer would hold every worker forever), and once the pipe is read
/// httpout says how many lines it dropped.
#[test]
fn an_unread_stderr_does_not_hold_requests() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(support::binary())
        .args([
            "--ifce=127.0.0.1",
            "--port=0",
            &root(dir.path()),
            "--reqlog=*",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    out.read_line(&mut first).unwrap();
    let url = first
        .trim()
        .strip_prefix("listening on ")
        .unwrap()
        .to_owned();
    // 2 lines a request: 8 000 lines, over the 64 KiB pipe and the
    // queue's 4 096 lines. One curl, one connection.
    let start = Instant::now();
    let batch = Command::new("curl")
        .args(["-sS", "--max-time", "120", "-o", "/dev/null"])
        .arg(format!("{url}/[1-4000]"))
        .stdout(Stdio::null())
        .status()
        .expect("curl is installed");
    assert!(batch.success(), "the batch stalled");
    let took = start.elapsed();
    // Served while the pipe is still full.
    let one = curl(&[
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        &format!("{url}/again"),
    ]);
    assert_eq!(String::from_utf8_lossy(&one.stdout), "404");
    // Now read it: the drop count comes once the writer catches up.
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        while err.read_line(&mut line).is_ok_and(|n| n > 0) {
            if line.contains("log lines dropped") {
                let _ = tx.send(line.clone());
                break;
            }
            line.clear();
        }
    });
    let report = rx.recv_timeout(Duration::from_secs(30));
    let _ = child.kill();
    let _ = child.wait();
    let report = report.unwrap_or_else(|_| panic!("no drop report (batch took {took:?})"));
    let n: u64 = report
        .trim()
        .strip_prefix("httpout: ")
        .and_then(|r| r.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{report}"));
    assert!((1..=8_002).contains(&n), "{report}");
}

/// A live listener's access line comes when it leaves, with the bytes it
/// was sent and how long it listened.
#[test]
fn a_live_listener_is_logged_when_it_leaves() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("access.json");
    // 20 s at its bitrate (`--rt`): still going when the listener leaves.
    let input = httpout_test::media::mp3_tone(dir.path(), "tone.mp3", 20, 128);
    let server = Httpout::start(
        &[
            "--ifce=127.0.0.1",
            "--port=0",
            "-i",
            input.to_str().unwrap(),
            "-o",
            "http://127.0.0.1/live.mp3",
            "--rt",
            &format!("--access_log={}", log.display()),
            "--log_format=json",
        ],
        1,
    );
    let addr = server.url().trim_start_matches("http://").to_owned();
    let mut s = TcpStream::connect(&addr).unwrap();
    s.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    s.write_all(b"GET /live.mp3 HTTP/1.0\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 16384];
    let deadline = Instant::now() + Duration::from_millis(1500);
    while Instant::now() < deadline {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(e) => panic!("listener read: {e}"),
        }
    }
    let head_end = got
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a head")
        + 4;
    let body = got.len() - head_end;
    assert!(body > 0, "the listener got nothing");
    let listening = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(
        !listening.contains("/live.mp3"),
        "logged before it left: {listening}"
    );
    drop(s);
    let lines = json_once(&log, "/live.mp3");
    let v = lines.iter().find(|v| v["path"] == "/live.mp3").unwrap();
    assert_eq!(v["status"], 200, "{v}");
    assert_eq!(v["complete"], false, "{v}");
    // What it read, and what was in flight when it left (at 16 KB/s).
    let sent = v["bytes"].as_u64().unwrap();
    assert!(
        (body as u64..=body as u64 + (128 << 10)).contains(&sent),
        "{v}, read {body}"
    );
    assert!(
        v["duration_ms"].as_f64().is_some_and(|d| d >= 1000.0),
        "{v}"
    );
}

/// An upload's access line comes when it is committed, and one cut short
/// when it is aborted (the body ended early: 400; or the client gone
/// before any answer: 499), with the time it took.
#[test]
fn uploads_are_logged_when_committed_or_cut_short() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("access.json");
    let w = dir.path().join("w");
    std::fs::create_dir_all(&w).unwrap();
    let server = Httpout::start(
        &[
            "--ifce=127.0.0.1",
            "--port=0",
            &format!("--wdir={}", w.display()),
            &format!("--access_log={}", log.display()),
            "--log_format=json",
        ],
        1,
    );
    let put = curl(&[
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        "-T",
        "-",
        &format!("{}/done.bin", server.url()),
    ]);
    let code = String::from_utf8_lossy(&put.stdout).into_owned();
    assert!(code.starts_with('2'), "{code}");
    let v = json_once(&log, "/done.bin").pop().unwrap();
    assert_eq!(v["method"], "PUT");
    assert_eq!(v["status"].as_u64(), code.parse::<u64>().ok(), "{v}");
    // Half a body, then the client leaves.
    let addr = server.url().trim_start_matches("http://").to_owned();
    let mut s = TcpStream::connect(&addr).unwrap();
    s.write_all(b"PUT /cut.bin HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n")
        .unwrap();
    s.write_all(&[7u8; 50_000]).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        !std::fs::read_to_string(&log).unwrap().contains("/cut.bin"),
        "logged before it ended"
    );
    drop(s);
    let lines = json_once(&log, "/cut.bin");
    let v = lines.iter().find(|v| v["path"] == "/cut.bin").unwrap();
    assert_eq!(v["method"], "PUT");
    assert!(matches!(v["status"].as_u64(), Some(400 | 499)), "{v}");
    assert!(v["duration_ms"].as_f64().is_some_and(|d| d >= 300.0), "{v}");
    assert!(
        !w.join("cut.bin").exists(),
        "an aborted upload is not committed"
    );
}

/// `--log=tls=debug` shows a failed TLS handshake (invisible by default),
/// and `rustls=debug` brings rustls' own lines (through the `log` bridge)
/// into the same log, with timestamp, level and target.
#[test]
fn tls_zone_shows_handshake_failures_and_rustls() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = self_signed(dir.path());
    let args = |extra: &'static str| {
        let mut a = vec![
            "--listen=https://127.0.0.1:0".to_owned(),
            format!("--cert={}", cert.display()),
            format!("--pkey={}", key.display()),
            root(dir.path()),
        ];
        if !extra.is_empty() {
            a.push(extra.to_owned());
        }
        a
    };
    let quiet_args = args("");
    let quiet = Httpout::start(
        &quiet_args.iter().map(String::as_str).collect::<Vec<_>>(),
        1,
    );
    // curl refuses the self-signed certificate: the handshake fails.
    assert!(!curl(&[quiet.url()]).status.success());
    let (_, stderr) = quiet.terminate();
    assert!(!stderr.contains("handshake"), "{stderr}");
    let loud_args = args("--log=tls=debug,rustls=debug");
    let loud = Httpout::start(&loud_args.iter().map(String::as_str).collect::<Vec<_>>(), 1);
    assert!(!curl(&[loud.url()]).status.success());
    let stderr = loud.stderr_once("TLS handshake with 127.0.0.1:");
    let failed = stderr
        .lines()
        .find(|l| l.contains("TLS handshake with 127.0.0.1:") && l.contains("failed"))
        .unwrap_or_else(|| panic!("{stderr}"));
    assert!(failed.contains("DEBUG httpout::tls:"), "{failed}");
    assert!(
        stderr.lines().any(|l| l.contains(" rustls::")),
        "no rustls line: {stderr}"
    );
}

#[test]
fn a_bad_log_filter_is_one_line_and_exit_2() {
    let (code, _, err) = run_to_exit(&["--log=auth=loud"]);
    assert_eq!(code, Some(2), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("--log") && err.contains("auth=loud"), "{err}");
}

/// hyper's diagnostics reach the log: a malformed request is shown in the
/// `conn` zone at debug, and not by default.
#[test]
fn malformed_requests_show_in_the_conn_zone() {
    use std::io::{Read, Write};
    let dir = tempfile::tempdir().unwrap();
    let root = root(dir.path());
    for (filter, shown) in [(None, false), (Some("--log=conn=debug"), true)] {
        let mut args = vec!["--ifce=127.0.0.1", "--port=0", root.as_str()];
        args.extend(filter);
        let server = Httpout::start(&args, 1);
        let mut s =
            std::net::TcpStream::connect(server.url().trim_start_matches("http://")).unwrap();
        s.set_read_timeout(Some(std::time::Duration::from_secs(10)))
            .unwrap();
        s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n")
            .unwrap();
        let mut answer = Vec::new();
        let _ = s.read_to_end(&mut answer);
        assert!(
            answer.starts_with(b"HTTP/1.1 400"),
            "{}",
            String::from_utf8_lossy(&answer)
        );
        let seen = "ended: ";
        let stderr = if shown {
            server.stderr_once(seen)
        } else {
            server.terminate().1
        };
        let line = stderr.lines().find(|l| l.contains(seen));
        assert_eq!(line.is_some(), shown, "{stderr}");
        if let Some(line) = line {
            assert!(line.contains("DEBUG httpout::conn:"), "{line}");
        }
    }
}

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

use support::{Httpout, curl, mkfifo, run_to_exit, self_signed};

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
    let has = |l: &String| {
        serde_json::from_str::<serde_json::Value>(l).is_ok_and(|v| v["path"] == path)
    };
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
    curl(&["-o", "/dev/null", "-e", "http://ref/", "-A", "agent/1", &format!("{url}/first?q=1")]);
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
    assert!(new.lines().all(|l| l.contains("\"GET /second HTTP/1.1\" 404")), "{new}");
    assert_eq!(old.lines().count() + new.lines().count(), asked, "{old}{new}");
    assert!(!stderr.contains("GET /"), "access lines stay out of stderr: {stderr}");
}

#[test]
fn hostile_request_fields_are_escaped() {
    let dir = tempfile::tempdir().unwrap();
    let server = Httpout::start(
        &["--ifce=127.0.0.1", "--port=0", &root(dir.path()), "--log_format=combined"],
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
    assert!(answer.starts_with(b"HTTP/1.1 404"), "{}", String::from_utf8_lossy(&answer));
    let stderr = server.stderr_once("end\"");
    let line = stderr
        .lines()
        .find(|l| l.contains("GET /a"))
        .unwrap_or_else(|| panic!("{stderr}"));
    assert!(!line.contains('\u{9b}') && !line.contains('\u{85}'), "{line}");
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
    curl(&["-o", "/dev/null", "-u", "alice:secret", &format!("{}/video/f.txt", server.url())]);
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
    assert!(v["user_agent"].as_str().is_some_and(|a| a.starts_with("curl/")), "{v}");
    assert!(v["referer"].is_null(), "{v}");
    assert!(v["time"].as_str().is_some_and(|t| t.ends_with('Z')), "{v}");
}

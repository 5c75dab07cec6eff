//! The built binary: start-up contract, options, bad input, signals.

mod support;

use support::{Httpout, curl, run_to_exit, self_signed};

/// `--rdirs=` an empty directory: a server with something to serve (a bare
/// `httpout` refuses to start) that answers 404 to every file.
fn empty_root() -> String {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("cli-empty-root");
    std::fs::create_dir_all(&dir).unwrap();
    format!("--rdirs={}", dir.display())
}

#[test]
fn prints_one_listening_line_with_the_real_port() {
    let server = Httpout::start(&["--ifce=127.0.0.1", "--port=0", &empty_root()], 1);
    let url = server.url();
    assert!(
        url.starts_with("http://127.0.0.1:") && !url.ends_with(":0"),
        "{url}"
    );
}

#[test]
fn serves_http11_and_h2c_with_common_headers() {
    let server = Httpout::start(
        &[
            "--ifce=127.0.0.1",
            "--port=0",
            &empty_root(),
            "--sutc",
            "--hdrs=X-Edge,e1",
        ],
        1,
    );
    let out = curl(&["-D", "-", "-o", "/dev/null", &format!("{}/x", server.url())]);
    let head = String::from_utf8_lossy(&out.stdout).to_lowercase();
    assert!(head.starts_with("http/1.1 404"), "{head}");
    assert!(
        head.contains("server: httpout/") && head.contains("date: "),
        "{head}"
    );
    assert!(
        head.contains("server-utc: ") && head.contains("x-edge: e1"),
        "{head}"
    );

    let out = curl(&[
        "--http2-prior-knowledge",
        "-D",
        "-",
        "-o",
        "/dev/null",
        &format!("{}/x", server.url()),
    ]);
    let head = String::from_utf8_lossy(&out.stdout).to_lowercase();
    assert!(head.starts_with("http/2 404"), "{head}");
}

#[test]
fn gpac_filter_string_and_flags_start_the_same_server() {
    let server = Httpout::start(
        &["httpout:ifce=127.0.0.1:port=0:sutc:cors=on", &empty_root()],
        1,
    );
    let out = curl(&["-D", "-", "-o", "/dev/null", server.url()]);
    let head = String::from_utf8_lossy(&out.stdout).to_lowercase();
    assert!(
        head.contains("server-utc: ") && head.contains("access-control-allow-origin: *"),
        "{head}"
    );
}

#[test]
fn https_with_h2_and_every_listener_kind_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = self_signed(dir.path());
    let sock = dir.path().join("s.sock");
    let listen = format!(
        "--listen=http://127.0.0.1:0,https://127.0.0.1:0,unix:{}",
        sock.display()
    );
    let server = Httpout::start(
        &[
            &listen,
            &empty_root(),
            &format!("--cert={}", cert.display()),
            &format!("--pkey={}", key.display()),
        ],
        3,
    );
    assert!(server.listeners[0].starts_with("http://127.0.0.1:"));
    assert!(server.listeners[1].starts_with("https://127.0.0.1:"));
    assert_eq!(server.listeners[2], format!("unix:{}", sock.display()));

    let https = format!("{}/secure", server.listeners[1]);
    let cacert = cert.display().to_string();
    let out = curl(&[
        "--cacert",
        &cacert,
        "--http2",
        "-D",
        "-",
        "-o",
        "/dev/null",
        &https,
    ]);
    let head = String::from_utf8_lossy(&out.stdout).to_lowercase();
    assert!(
        head.starts_with("http/2 404"),
        "{head} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = curl(&[
        "--cacert",
        &cacert,
        "--http1.1",
        "-D",
        "-",
        "-o",
        "/dev/null",
        &https,
    ]);
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("HTTP/1.1 404"));

    let out = curl(&[
        "--unix-socket",
        &sock.display().to_string(),
        "-D",
        "-",
        "-o",
        "/dev/null",
        "http://x/u",
    ]);
    let head = String::from_utf8_lossy(&out.stdout).to_lowercase();
    assert!(
        head.starts_with("http/1.1 404") && head.contains("server: httpout/"),
        "{head}"
    );
}

#[test]
fn reqlog_writes_start_and_end_lines() {
    let server = Httpout::start(
        &["--ifce=127.0.0.1", "--port=0", &empty_root(), "--reqlog=*"],
        1,
    );
    curl(&["-o", "/dev/null", &format!("{}/logged", server.url())]);
    let (code, stderr) = server.terminate();
    assert_eq!(code, Some(0));
    assert!(stderr.contains("GET /logged HTTP/1.1"), "{stderr}");
    assert!(stderr.contains("GET /logged 404 "), "{stderr}");
}

#[test]
fn sigterm_shuts_down_cleanly() {
    let server = Httpout::start(&["--ifce=127.0.0.1", "--port=0", &empty_root()], 1);
    let url = server.url().to_owned();
    let (code, stderr) = server.terminate();
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stderr.contains("shutting down"));
    let out = curl(&[&url]);
    assert!(!out.status.success(), "nothing listens after exit");
}

#[test]
fn help_lists_every_option() {
    let (code, out, _) = run_to_exit(&["--help"]);
    assert_eq!(code, Some(0));
    for opt in [
        "--rdirs",
        "--wdir",
        "--maxc",
        "--maxp",
        "--max_client_errors",
        "--cors",
        "--listen",
        "--zmax",
    ] {
        assert!(out.contains(opt), "{opt} missing from --help");
    }
}

#[test]
fn bad_input_is_one_line_and_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, _) = self_signed(dir.path());
    let bad_key = dir.path().join("bad.key");
    std::fs::write(&bad_key, "garbage").unwrap();
    let cert_arg = format!("--cert={}", cert.display());
    let missing_cert = format!("--cert={}", dir.path().join("nope.pem").display());
    let key_arg = format!("--pkey={}", bad_key.display());
    let root = empty_root();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["--port=abc"], "--port"),
        (vec!["--maxc=-1"], "--maxc"),
        (vec!["--cors=maybe"], "--cors"),
        (vec!["--nonsense"], "--nonsense"),
        (vec!["httpout:maxp=x"], "--maxp"),
        (vec![&cert_arg], "--pkey"),
        (vec!["--port=0", &root, &cert_arg, &key_arg], "--pkey"),
        (vec!["--port=0", &root, &missing_cert, &key_arg], "--cert"),
        (vec!["--rdirs=/nonexistent-dir"], "--rdirs"),
        (vec!["--hmode=push"], "push"),
        (vec!["--js=x.js"], "--js"),
    ];
    for (args, names) in cases {
        let (code, _, err) = run_to_exit(&args);
        assert_eq!(code, Some(2), "{args:?}: {err}");
        assert_eq!(
            err.trim_end().lines().count(),
            1,
            "{args:?}: not one line: {err}"
        );
        assert!(err.contains(names), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
    }
}

#[test]
fn port_in_use_is_exit_1() {
    let server = Httpout::start(&["--ifce=127.0.0.1", "--port=0", &empty_root()], 1);
    let port = server.url().rsplit(':').next().unwrap().to_owned();
    let (code, _, err) =
        run_to_exit(&["--ifce=127.0.0.1", &format!("--port={port}"), &empty_root()]);
    assert_eq!(code, Some(1), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(err.contains("cannot listen on http://127.0.0.1:"), "{err}");
}

#[test]
fn sighup_reloads_the_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = self_signed(dir.path());
    let server = Httpout::start(
        &[
            "--listen=https://127.0.0.1:0",
            &empty_root(),
            &format!("--cert={}", cert.display()),
            &format!("--pkey={}", key.display()),
        ],
        1,
    );
    let old = dir.path().join("old.pem");
    std::fs::copy(&cert, &old).unwrap();
    let next = tempfile::tempdir().unwrap();
    let (new_cert, new_key) = self_signed(next.path());
    std::fs::rename(&new_cert, &cert).unwrap();
    std::fs::rename(&new_key, &key).unwrap();
    server.signal("HUP");
    let cacert = cert.display().to_string();
    let ok = (0..100).any(|_| {
        std::thread::sleep(std::time::Duration::from_millis(50));
        curl(&["--cacert", &cacert, "-o", "/dev/null", server.url()])
            .status
            .success()
    });
    assert!(
        ok,
        "the new certificate is served after SIGHUP: {}",
        server.stderr()
    );
    let out = curl(&[
        "--cacert",
        &old.display().to_string(),
        "-o",
        "/dev/null",
        server.url(),
    ]);
    assert!(
        !out.status.success(),
        "the old certificate is no longer served"
    );
    assert!(server.stderr().contains("configuration reloaded"));
}

#[test]
fn a_refused_connection_gets_and_logs_the_limit_it_hit() {
    use std::io::{Read, Write};
    let dir = tempfile::tempdir().unwrap();
    let rdirs = format!("--rdirs={}", dir.path().display());
    for (limit, body, logged) in [
        (
            "--maxp=1",
            "too many connections from your address (maxp=1)\n",
            "too many connections from 127.0.0.1 (maxp=1)",
        ),
        ("--maxc=1", "server full (maxc=1)\n", "server full (maxc=1)"),
    ] {
        let server = Httpout::start(&["--ifce=127.0.0.1", "--port=0", &rdirs, limit], 1);
        // One connection holds the only place: once it has an answer, it
        // was admitted.
        let mut held =
            std::net::TcpStream::connect(server.url().trim_start_matches("http://")).unwrap();
        held.set_read_timeout(Some(std::time::Duration::from_secs(10)))
            .unwrap();
        held.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        let mut head = [0u8; 12];
        held.read_exact(&mut head).unwrap();
        assert!(head.starts_with(b"HTTP/1.1 "), "{head:?}");

        let out = curl(&["-w", "%{http_code}", server.url()]);
        let got = String::from_utf8_lossy(&out.stdout);
        assert_eq!(got, format!("{body}503"), "{limit}");
        // The log line names the peer and the limit (bounded wait: it is
        // written before the answer, but read from a pipe by a thread).
        let logged_in_time = (0..200)
            .find_map(|_| {
                let stderr = server.stderr();
                let found = stderr
                    .lines()
                    .find(|l| l.starts_with("httpout: 503 to 127.0.0.1:") && l.ends_with(logged))
                    .map(str::to_owned);
                if found.is_none() {
                    std::thread::sleep(std::time::Duration::from_millis(50));
                }
                found
            })
            .is_some();
        assert!(logged_in_time, "{limit}: no log line: {}", server.stderr());
        drop(held);
    }
}

//! The built binary: start-up contract, options, bad input, signals.

use httpout_e2e::{Httpout, curl, run_to_exit, self_signed};

#[test]
fn prints_one_listening_line_with_the_real_port() {
    let server = Httpout::start(&["--ifce=127.0.0.1", "--port=0"], 1);
    let url = server.url();
    assert!(
        url.starts_with("http://127.0.0.1:") && !url.ends_with(":0"),
        "{url}"
    );
}

#[test]
fn serves_http11_and_h2c_with_common_headers() {
    let server = Httpout::start(
        &["--ifce=127.0.0.1", "--port=0", "--sutc", "--hdrs=X-Edge,e1"],
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
        server.url(),
    ]);
    let head = String::from_utf8_lossy(&out.stdout).to_lowercase();
    assert!(head.starts_with("http/2 404"), "{head}");
}

#[test]
fn gpac_filter_string_and_flags_start_the_same_server() {
    let server = Httpout::start(&["httpout:ifce=127.0.0.1:port=0:sutc:cors=on"], 1);
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
    let server = Httpout::start(&["--ifce=127.0.0.1", "--port=0", "--reqlog=*"], 1);
    curl(&["-o", "/dev/null", &format!("{}/logged", server.url())]);
    let (code, stderr) = server.terminate();
    assert_eq!(code, Some(0));
    assert!(stderr.contains("GET /logged HTTP/1.1"), "{stderr}");
    assert!(stderr.contains("GET /logged 404 "), "{stderr}");
}

#[test]
fn sigterm_shuts_down_cleanly() {
    let server = Httpout::start(&["--ifce=127.0.0.1", "--port=0"], 1);
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
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["--port=abc"], "--port"),
        (vec!["--maxc=-1"], "--maxc"),
        (vec!["--cors=maybe"], "--cors"),
        (vec!["--nonsense"], "--nonsense"),
        (vec!["httpout:maxp=x"], "--maxp"),
        (vec![&cert_arg], "--pkey"),
        (vec!["--port=0", &cert_arg, &key_arg], "--pkey"),
        (vec!["--port=0", &missing_cert, &key_arg], "--cert"),
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
    let server = Httpout::start(&["--ifce=127.0.0.1", "--port=0"], 1);
    let port = server.url().rsplit(':').next().unwrap().to_owned();
    let (code, _, err) = run_to_exit(&["--ifce=127.0.0.1", &format!("--port={port}")]);
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
    assert!(server.stderr().contains("TLS certificate reloaded"));
}

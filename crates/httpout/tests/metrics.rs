//! `--metrics` and `--health` as an operator uses them: the built binary,
//! curl for the traffic, and Prometheus's own Python client
//! (`prometheus_client.parser`, Debian's python3-prometheus-client) to
//! read the scrape.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

mod support;

use support::{Httpout, curl, run_to_exit};

/// Debian's interpreter, where python3-prometheus-client installs (a
/// `python3` earlier in PATH may be another one).
const PYTHON: &str = "/usr/bin/python3";

/// Parses the exposition with the Prometheus client's text parser; the
/// samples by `name{label="value",...}` (labels sorted).
fn parse(text: &str) -> BTreeMap<String, f64> {
    const SCRIPT: &str = r#"
import json, sys
from prometheus_client.parser import text_string_to_metric_families
out = {}
for family in text_string_to_metric_families(sys.stdin.read()):
    for s in family.samples:
        labels = ",".join(f'{k}="{v}"' for k, v in sorted(s.labels.items()))
        out[f"{s.name}{{{labels}}}"] = s.value
print(json.dumps(out))
"#;
    let mut child = Command::new(PYTHON)
        .args(["-c", SCRIPT])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("/usr/bin/python3 (apt-get install python3-prometheus-client)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "the Prometheus parser refused the scrape: {}\n{text}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// One scrape, parsed.
fn scrape(base: &str) -> BTreeMap<String, f64> {
    let out = curl(&["-f", &format!("{base}/metrics")]);
    assert!(out.status.success(), "{out:?}");
    parse(&String::from_utf8(out.stdout).unwrap())
}

fn get(m: &BTreeMap<String, f64>, key: &str) -> f64 {
    *m.get(key)
        .unwrap_or_else(|| panic!("no sample {key} in {m:#?}"))
}

/// The status code and body bytes of one curl request.
fn request(args: &[&str]) -> (String, u64) {
    let out = curl(
        &[
            &["-o", "/dev/null", "-w", "%{http_code} %{size_download}"],
            args,
        ]
        .concat(),
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let (code, size) = text.split_once(' ').unwrap();
    (code.to_owned(), size.parse().unwrap())
}

#[test]
fn the_scrape_parses_and_counts_what_was_served() {
    let dir = tempfile::tempdir().unwrap();
    let www = dir.path().join("www");
    std::fs::create_dir(&www).unwrap();
    std::fs::write(www.join("a.bin"), vec![1u8; 1000]).unwrap();
    let upload = dir.path().join("up.bin");
    std::fs::write(&upload, vec![2u8; 5000]).unwrap();
    let server = Httpout::start(
        &[
            "--ifce=127.0.0.1",
            "--port=0",
            &format!("--rdirs={}", www.display()),
            &format!("--wdir={}", www.display()),
            "--metrics=/metrics",
            "--health=/healthz",
            "--reqlog=*",
        ],
        1,
    );
    let base = server.url().to_owned();
    let before_out = curl(&[&format!("{base}/metrics")]);
    let before_text = String::from_utf8(before_out.stdout).unwrap();
    let before = parse(&before_text);
    assert_eq!(get(&before, "httpout_connections_open{}"), 1.0);

    let mut sent = before_text.len() as u64;
    for _ in 0..3 {
        let (code, n) = request(&[&format!("{base}/a.bin")]);
        assert_eq!((code.as_str(), n), ("200", 1000));
        sent += n;
    }
    for _ in 0..2 {
        let (code, n) = request(&[&format!("{base}/missing")]);
        assert_eq!(code, "404");
        sent += n;
    }
    let (code, n) = request(&[&format!("{base}/healthz")]);
    assert_eq!((code.as_str(), n), ("200", 3));
    sent += n;
    let (code, n) = request(&["-T", upload.to_str().unwrap(), &format!("{base}/up.bin")]);
    assert_eq!(code, "201");
    sent += n;

    let after = scrape(&base);
    let delta = |key: &str| get(&after, key) - get(&before, key);
    // The three files, the health check and the first scrape.
    assert_eq!(
        delta(r#"httpout_requests_total{code="2xx",method="GET"}"#),
        5.0
    );
    assert_eq!(
        delta(r#"httpout_requests_total{code="4xx",method="GET"}"#),
        2.0
    );
    assert_eq!(
        delta(r#"httpout_requests_total{code="2xx",method="PUT"}"#),
        1.0
    );
    assert_eq!(delta("httpout_sent_bytes_total{}"), sent as f64);
    assert_eq!(delta("httpout_received_bytes_total{}"), 5000.0);
    assert_eq!(delta(r#"httpout_uploads_total{outcome="committed"}"#), 1.0);
    assert_eq!(get(&after, "httpout_uploads_in_flight{}"), 0.0);
    // Every curl is a connection of its own (this scrape's is open).
    assert_eq!(delta("httpout_connections_accepted_total{}"), 8.0);
    assert_eq!(get(&after, "httpout_connections_open{}"), 1.0);
    assert_eq!(delta("httpout_request_duration_seconds_count{}"), 8.0);
    assert_eq!(
        get(
            &after,
            r#"httpout_connections_rejected_total{reason="maxp"}"#
        ),
        0.0
    );

    // An upload whose client goes away mid-body is counted aborted.
    let addr = base.trim_start_matches("http://");
    let mut sock = std::net::TcpStream::connect(addr).unwrap();
    sock.write_all(b"PUT /cut.bin HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n0123456789")
        .unwrap();
    // The upload is under way once its bytes are counted.
    let deadline = Instant::now() + Duration::from_secs(10);
    while get(&scrape(&base), "httpout_uploads_in_flight{}") != 1.0 {
        assert!(Instant::now() < deadline, "the upload never started");
        std::thread::sleep(Duration::from_millis(50));
    }
    drop(sock);
    let deadline = Instant::now() + Duration::from_secs(10);
    let ended = loop {
        let m = scrape(&base);
        if get(&m, "httpout_uploads_in_flight{}") == 0.0 {
            break m;
        }
        assert!(Instant::now() < deadline, "the cut upload was never ended");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(
        get(&ended, r#"httpout_uploads_total{outcome="aborted"}"#),
        1.0
    );
    assert_eq!(
        get(&ended, r#"httpout_uploads_total{outcome="committed"}"#),
        1.0
    );
    assert!(!www.join("cut.bin").exists());

    // Health checks are not logged; other requests are.
    let log = server.stderr_once("/missing");
    assert!(log.contains("/missing"), "{log}");
    assert!(!log.contains("/healthz"), "{log}");
}

#[test]
fn metrics_answer_only_the_allowed_addresses() {
    let dir = tempfile::tempdir().unwrap();
    let server = Httpout::start(
        &[
            "--ifce=127.0.0.1",
            "--port=0",
            &format!("--rdirs={}", dir.path().display()),
            "--metrics=/metrics",
            "--metrics_allow=127.0.0.1/32",
            "--health=/healthz",
        ],
        1,
    );
    let url = format!("{}/metrics", server.url());
    let health = format!("{}/healthz", server.url());
    let from = |source: &str, url: &str| request(&["--interface", source, url]).0;
    assert_eq!(from("127.0.0.2", &url), "403");
    assert_eq!(from("127.0.0.1", &url), "200");
    // The health check is open to everyone.
    assert_eq!(from("127.0.0.2", &health), "200");
    // The scrape of 127.0.0.1 counted the 403.
    let m = scrape(server.url());
    assert_eq!(
        get(&m, r#"httpout_requests_total{code="4xx",method="GET"}"#),
        1.0
    );
    let (code, _) = request(&["-X", "POST", &url]);
    assert_eq!(code, "405");
}

#[test]
fn a_bad_address_block_is_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let (code, _, err) = run_to_exit(&[
        &format!("--rdirs={}", dir.path().display()),
        "--metrics=/metrics",
        "--metrics_allow=127.0.0.1/8,10.0.0.0/33",
    ]);
    assert_eq!(code, Some(2), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("--metrics_allow"), "{err}");
    assert!(err.contains("10.0.0.0/33"), "{err}");
    let (code, _, err) = run_to_exit(&[
        &format!("--rdirs={}", dir.path().display()),
        "--metrics=metrics",
    ]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("--metrics"), "{err}");
}

/// Polls the scrape (bounded) until `ready` says so; the last scrape.
fn scrape_until(
    base: &str,
    ready: impl Fn(&BTreeMap<String, f64>) -> bool,
) -> BTreeMap<String, f64> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let m = scrape(base);
        if ready(&m) || Instant::now() > deadline {
            return m;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The counters of what goes wrong, and of the live sink, move with real
/// clients: a wrong password, a failed TLS handshake, a connection over
/// `maxp`, and a listener of a mount fed by an Icecast source client.
#[test]
fn sign_in_tls_rejections_and_live_listeners_are_counted() {
    use std::io::Read as _;
    use std::net::TcpStream;
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("media")).unwrap();
    std::fs::write(dir.path().join("media/a.txt"), "a\n").unwrap();
    let users = dir.path().join("users.txt");
    let mut add = Command::new(support::binary())
        .args([
            "users",
            &format!("--users={}", users.display()),
            "add",
            "alice",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    add.stdin.take().unwrap().write_all(b"pw\n").unwrap();
    assert!(add.wait().unwrap().success());
    let rules = dir.path().join("rules.ini");
    std::fs::write(&rules, "[media]\nname=media\nru=alice\n").unwrap();
    let (cert, key) = support::self_signed(dir.path());
    let server = Httpout::start(
        &[
            "--listen=http://127.0.0.1:0,https://127.0.0.1:0",
            &format!("--cert={}", cert.display()),
            &format!("--pkey={}", key.display()),
            &format!("--rdirs={}", rules.display()),
            &format!("--users={}", users.display()),
            "--source_password=hackme",
            "--maxp=3",
            "--metrics=/metrics",
        ],
        2,
    );
    let base = server.listeners[0].clone();
    let tls = server.listeners[1].clone();
    let before = scrape(&base);
    let failures = "httpout_sign_in_failures_total{}";
    let handshakes = "httpout_tls_handshake_failures_total{}";
    let maxp = "httpout_connections_rejected_total{reason=\"maxp\"}";

    assert_eq!(
        request(&["-u", "alice:wrong", &format!("{base}/media/a.txt")]).0,
        "401"
    );
    assert_eq!(
        request(&["-u", "alice:pw", &format!("{base}/media/a.txt")]).0,
        "200"
    );
    // curl does not trust the self-signed certificate: the handshake fails.
    assert!(!curl(&[&tls]).status.success());
    let addr = base.trim_start_matches("http://");
    // A source and one listener.
    let mut source = TcpStream::connect(addr).unwrap();
    source
        .write_all(
            b"SOURCE /live.mp3 HTTP/1.0\r\nAuthorization: Basic c291cmNlOmhhY2ttZQ==\r\n\
              Content-Type: audio/mpeg\r\n\r\n",
        )
        .unwrap();
    let frames: Vec<u8> = (0..40)
        .flat_map(|i: u8| {
            let mut f = vec![0xFF, 0xFB, 0x90, 0x00];
            f.extend(std::iter::repeat_n(i % 200, 413));
            f
        })
        .collect();
    source.write_all(&frames).unwrap();
    let listeners = "httpout_live_listeners{mount=\"/live.mp3\"}";
    let mut listener = None;
    for _ in 0..100 {
        let mut l = TcpStream::connect(addr).unwrap();
        l.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        l.write_all(b"GET /live.mp3 HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        let mut head = [0u8; 12];
        if l.read_exact(&mut head).is_ok() && head.starts_with(b"HTTP/1.1 200") {
            listener = Some(l);
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let listener = listener.unwrap_or_else(|| panic!("the mount is up: {}", server.stderr()));
    source.write_all(&frames).unwrap();
    let during = scrape_until(&base, |m| m.get(listeners) == Some(&1.0));
    assert_eq!(get(&during, listeners), 1.0, "{during:#?}");
    assert!(
        get(
            &during,
            "httpout_live_sent_bytes_total{mount=\"/live.mp3\"}"
        ) > 0.0
    );
    // A listener that left is seen at the next write to it.
    drop(listener);
    let mut gone = None;
    for _ in 0..100 {
        source.write_all(&frames).unwrap();
        let m = scrape(&base);
        if m.get(listeners) == Some(&0.0) {
            gone = Some(m);
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(gone.is_some(), "the listener that left is counted out");
    drop(source);

    // Only the scrape's own connection left open.
    let open = "httpout_connections_open{}";
    let quiet = scrape_until(&base, |m| m.get(open) == Some(&1.0));
    assert_eq!(get(&quiet, open), 1.0, "{quiet:#?}");
    // Three connections held open, the fourth over maxp.
    let held: Vec<TcpStream> = (0..3).map(|_| TcpStream::connect(addr).unwrap()).collect();
    let mut over = TcpStream::connect(addr).unwrap();
    over.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    over.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut answer = String::new();
    let _ = over.read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    drop(held);

    let after = scrape(&base);
    assert_eq!(get(&after, failures) - get(&before, failures), 1.0);
    assert_eq!(get(&after, handshakes) - get(&before, handshakes), 1.0);
    assert_eq!(get(&after, maxp) - get(&before, maxp), 1.0);
}

/// Behind a trusted proxy the metrics answer the client it names, not the
/// proxy: a proxy on loopback does not open them to everyone.
#[test]
fn behind_a_trusted_proxy_metrics_allow_checks_the_real_client() {
    let dir = tempfile::tempdir().unwrap();
    let rdirs = format!("--rdirs={}", dir.path().display());
    let server = Httpout::start(
        &[
            "--ifce=127.0.0.1",
            "--port=0",
            &rdirs,
            "--metrics=/metrics",
            "--trusted_proxies=127.0.0.1/32",
        ],
        1,
    );
    let url = format!("{}/metrics", server.url());
    assert_eq!(request(&[&url]).0, "200", "the proxy's own request");
    let outside = ["-H", "X-Forwarded-For: 203.0.113.9", url.as_str()];
    assert_eq!(request(&outside).0, "403", "a client on the internet");
    let local = ["-H", "X-Forwarded-For: 127.0.0.5", url.as_str()];
    assert_eq!(request(&local).0, "200", "a client on loopback");
}

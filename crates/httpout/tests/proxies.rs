//! httpout behind real proxies: nginx as a reverse proxy (connecting from
//! 127.0.0.2, `proxy_bind`) with `--trusted_proxies`, and without it.
//! The request log shows the real client; a forged `X-Forwarded-For` from
//! an untrusted peer is ignored; live listeners through nginx, 9 and then
//! 100, are all served with the default `maxp=6` (without the option 3 of
//! 9 get 503, nginx being one client), while `maxp` still bounds each real
//! client.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

mod support;

use httpout_test::media::mp3_tone;
use support::{Httpout, Nginx, curl, free_port, mkfifo};

/// nginx as a reverse proxy in front of `upstream` (`HOST:PORT`),
/// connecting from 127.0.0.2 and adding `X-Forwarded-For`/`-Proto`.
fn proxy_to(dir: &Path, upstream: &str) -> Nginx {
    Nginx::start(
        dir,
        &format!(
            "  location / {{\n   proxy_pass http://{upstream};\n   proxy_bind 127.0.0.2;\n\
               proxy_buffering off;\n\
               proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;\n\
               proxy_set_header X-Forwarded-Proto $scheme;\n  }}"
        ),
    )
}

/// `host:port` of a listener URL.
fn host(url: &str) -> &str {
    url.trim_start_matches("http://")
}

/// A site with one file, served by httpout with the request log on and
/// `extra` options (on 127.0.0.1, or the `--listen` among them).
fn site_server(dir: &Path, extra: &[&str]) -> Httpout {
    let www = dir.join("www");
    std::fs::create_dir_all(&www).unwrap();
    std::fs::write(www.join("hello.txt"), "hello\n").unwrap();
    let www = format!("--rdirs={}", www.display());
    let listen = extra.iter().find(|a| a.starts_with("--listen="));
    let mut args = match listen {
        Some(_) => vec!["--reqlog=*", &www],
        None => vec!["--ifce=127.0.0.1", "--port=0", "--reqlog=*", &www],
    };
    args.extend_from_slice(extra);
    Httpout::start(&args, listen.map_or(1, |l| l.split(',').count()))
}

#[test]
fn the_log_shows_the_real_client_only_when_the_proxy_is_trusted() {
    let dir = tempfile::tempdir().unwrap();
    // Trusted: the log shows curl's address (127.0.0.1), not nginx's.
    let server = site_server(dir.path(), &["--trusted_proxies=127.0.0.2/32"]);
    let nginx = proxy_to(&dir.path().join("nginx"), host(server.url()));
    let out = curl(&[&format!("{}/hello.txt", nginx.url())]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "hello\n");
    let log = server.stderr_once("/hello.txt 200");
    let line = log
        .lines()
        .find(|l| l.contains("GET /hello.txt 200"))
        .unwrap_or_else(|| panic!("no end line: {log}"));
    assert!(line.contains(" 127.0.0.1 GET"), "{line}");
    assert!(!log.contains("127.0.0.2"), "{log}");
    // A direct client (not a trusted proxy) forging the header: ignored.
    let out = curl(&[
        "-H",
        "X-Forwarded-For: 203.0.113.9",
        "-H",
        "Forwarded: for=203.0.113.10",
        &format!("{}/hello.txt", server.url()),
    ]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "hello\n");
    let log = server.stderr_once("203.0.113");
    assert!(!log.contains("203.0.113"), "{log}");
    drop(nginx);

    // Not trusted (no --trusted_proxies): nginx is the client, and what a
    // client puts in X-Forwarded-For is ignored too.
    let plain = site_server(dir.path(), &[]);
    let nginx = proxy_to(&dir.path().join("nginx2"), host(plain.url()));
    let out = curl(&[
        "-H",
        "X-Forwarded-For: 203.0.113.9",
        &format!("{}/hello.txt", nginx.url()),
    ]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "hello\n");
    let log = plain.stderr_once("/hello.txt 200");
    let line = log
        .lines()
        .find(|l| l.contains("GET /hello.txt 200"))
        .unwrap_or_else(|| panic!("no end line: {log}"));
    assert!(line.contains(" 127.0.0.2:"), "{line}");
    assert!(!log.contains("203.0.113"), "{log}");
}

/// A live mount `/live.mp3` fed by a FIFO that stays open (listeners stay
/// connected), with `extra` options: the server and the FIFO's writer.
fn live_server(dir: &Path, extra: &[&str]) -> (Httpout, std::fs::File) {
    std::fs::create_dir_all(dir).unwrap();
    let input = mp3_tone(dir, "tone.mp3", 2, 128);
    let fifo = dir.join("in.fifo");
    mkfifo(&fifo);
    let mut args = vec![
        "--ifce=127.0.0.1",
        "--port=0",
        "--reqlog=GET",
        "-i",
        fifo.to_str().unwrap(),
        "-o",
        "http://127.0.0.1/live.mp3",
    ];
    args.extend_from_slice(extra);
    let server = Httpout::start(&args, 1);
    let mut writer = std::fs::OpenOptions::new().write(true).open(&fifo).unwrap();
    writer.write_all(&std::fs::read(input).unwrap()).unwrap();
    // Bounded: the mount goes live as soon as the input is read.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let out = curl(
            &["-o", "/dev/null", "-w", "%{http_code}", "-m", "1"]
                .into_iter()
                .chain([format!("{}/live.mp3", server.url()).as_str()])
                .collect::<Vec<_>>(),
        );
        // A listener that gets the head and is cut by `-m 1` is live.
        if String::from_utf8_lossy(&out.stdout) == "200" {
            break;
        }
        assert!(Instant::now() < deadline, "the mount never went live");
        std::thread::sleep(Duration::from_millis(100));
    }
    (server, writer)
}

/// Opens `n` live listeners through `proxy` (`host:port`), listener `i`
/// sending `X-Forwarded-For: client(i)` (none when empty), and returns the
/// status of each, the connections held open meanwhile.
fn listeners(
    proxy: &str,
    n: usize,
    client: impl Fn(usize) -> String,
) -> (Vec<u16>, Vec<TcpStream>) {
    let mut conns: Vec<TcpStream> = (0..n)
        .map(|i| {
            let mut s = TcpStream::connect(proxy).unwrap();
            s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
            let who = client(i);
            let xff = if who.is_empty() {
                String::new()
            } else {
                format!("X-Forwarded-For: {who}\r\n")
            };
            write!(s, "GET /live.mp3 HTTP/1.1\r\nHost: x\r\n{xff}\r\n").unwrap();
            s
        })
        .collect();
    let statuses = conns.iter_mut().map(status).collect();
    (statuses, conns)
}

/// The status of the response arriving on `s` (its head read, bounded).
fn status(s: &mut TcpStream) -> u16 {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") && head.len() < 16 * 1024 {
        match s.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            other => panic!(
                "response head cut ({other:?}): {}",
                String::from_utf8_lossy(&head)
            ),
        }
    }
    let text = String::from_utf8_lossy(&head);
    text.split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("no status: {text}"))
}

fn count(statuses: &[u16], code: u16) -> usize {
    statuses.iter().filter(|s| **s == code).count()
}

#[test]
fn live_listeners_through_nginx_count_per_real_client() {
    let dir = tempfile::tempdir().unwrap();
    // Without --trusted_proxies (before): nginx is one client, maxp=6 lets
    // 6 of 9 in.
    let (plain, _w) = live_server(&dir.path().join("plain"), &[]);
    let nginx = proxy_to(&dir.path().join("nginx1"), host(plain.url()));
    let proxy = host(&nginx.url()).to_owned();
    let (statuses, held) = listeners(&proxy, 9, |i| format!("192.0.2.{}", i + 1));
    assert_eq!(
        (count(&statuses, 200), count(&statuses, 503)),
        (6, 3),
        "{statuses:?}"
    );
    drop((held, nginx, plain));

    // Trusted: each listener is its own client. The test plays a CDN edge
    // on 127.0.0.1 in front of nginx (127.0.0.2), both trusted.
    let (server, _w) = live_server(
        &dir.path().join("trusted"),
        &[
            "--trusted_proxies=127.0.0.0/8",
            "--maxc=300",
            "--metrics=/metrics",
        ],
    );
    let nginx = proxy_to(&dir.path().join("nginx2"), host(server.url()));
    let proxy = host(&nginx.url()).to_owned();
    let (statuses, held) = listeners(&proxy, 9, |i| format!("192.0.2.{}", i + 1));
    assert_eq!(count(&statuses, 200), 9, "{statuses:?}");
    let log = server.stderr_once("192.0.2.9 GET /live.mp3");
    assert!(log.contains("192.0.2.9 GET /live.mp3"), "{log}");
    assert!(!log.contains("127.0.0.2"), "{log}");
    drop(held);
    let (statuses, held) = listeners(&proxy, 100, |i| {
        format!("198.51.100.{}, 203.0.113.{}", i + 1, i + 1)
    });
    assert_eq!(count(&statuses, 200), 100, "{statuses:?}");
    // The rightmost untrusted hop is the client, not what it claims.
    let log = server.stderr_once("203.0.113.100 GET");
    assert!(log.contains("203.0.113.100 GET /live.mp3"), "{log}");
    assert!(!log.contains("198.51.100."), "{log}");
    drop(held);

    // maxp still bounds each real client: 7 listeners of one client, 6 in.
    let (statuses, _held) = listeners(&proxy, 7, |_| "192.0.2.200".to_owned());
    assert_eq!(
        (count(&statuses, 200), count(&statuses, 503)),
        (6, 1),
        "{statuses:?}"
    );
    let log = server.stderr_once("(maxp=6)");
    assert!(
        log.contains("too many requests at once from 192.0.2.200 (maxp=6)"),
        "{log}"
    );
    // And counted, as a refusal over maxp.
    let scrape = curl(&[&format!("{}/metrics", server.url())]);
    let text = String::from_utf8_lossy(&scrape.stdout);
    assert!(
        text.lines()
            .any(|l| l == "httpout_connections_rejected_total{reason=\"maxp\"} 1"),
        "{text}"
    );
}

/// HAProxy in TCP mode on free ports of 127.0.0.1, one frontend for each
/// of `upstreams` (`host:port`), connecting to it from 127.0.0.2 and
/// sending a PROXY protocol v2 header first.
struct Haproxy {
    child: Child,
    ports: Vec<u16>,
}

impl Haproxy {
    fn start(dir: &Path, upstreams: &[&str]) -> Self {
        std::fs::create_dir_all(dir).unwrap();
        let ports: Vec<u16> = upstreams.iter().map(|_| free_port()).collect();
        let mut conf = String::from(
            "global\n  maxconn 200\ndefaults\n  mode tcp\n  timeout connect 5s\n  \
             timeout client 30s\n  timeout server 30s\n",
        );
        for (i, (port, upstream)) in ports.iter().zip(upstreams).enumerate() {
            conf.push_str(&format!(
                "frontend f{i}\n  bind 127.0.0.1:{port}\n  default_backend b{i}\n\
                 backend b{i}\n  server s{i} {upstream} send-proxy-v2 source 127.0.0.2\n"
            ));
        }
        let path = dir.join("haproxy.cfg");
        std::fs::write(&path, conf).unwrap();
        let child = Command::new("haproxy")
            .args(["-db", "-f"])
            .arg(&path)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("haproxy is installed (see scripts/test.sh)");
        let deadline = Instant::now() + Duration::from_secs(10);
        for port in &ports {
            while TcpStream::connect(("127.0.0.1", *port)).is_err() {
                assert!(Instant::now() < deadline, "haproxy did not start");
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        Self { child, ports }
    }
}

impl Drop for Haproxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A raw HTTP/1.1 GET of `/hello.txt` on `addr` from 127.0.0.1, kept
/// open: its status and the connection.
fn get_held(addr: &str) -> (u16, TcpStream) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    write!(s, "GET /hello.txt HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    (status(&mut s), s)
}

#[test]
fn haproxy_proxy_protocol_v2_gives_the_client() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = support::self_signed(dir.path());
    let (cert, key) = (
        format!("--cert={}", cert.display()),
        format!("--pkey={}", key.display()),
    );
    let server = site_server(
        dir.path(),
        &[
            "--listen=proxy+http://127.0.0.1:0,proxy+https://127.0.0.1:0",
            &cert,
            &key,
            "--maxp=1",
        ],
    );
    let plain = server.listeners[0]
        .trim_start_matches("proxy+http://")
        .to_owned();
    let tls = server.listeners[1]
        .trim_start_matches("proxy+https://")
        .to_owned();
    let haproxy = Haproxy::start(&dir.path().join("haproxy"), &[&plain, &tls]);

    // curl through HAProxy: httpout sees curl's address and port.
    for (scheme, port) in [("http", haproxy.ports[0]), ("https", haproxy.ports[1])] {
        let out = curl(&[
            "-k",
            "-w",
            "\n%{local_ip}:%{local_port}",
            &format!("{scheme}://127.0.0.1:{port}/hello.txt"),
        ]);
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let (body, client) = text
            .split_once('\n')
            .map(|(b, c)| (b, c.trim().to_owned()))
            .unwrap();
        assert_eq!(
            body,
            "hello",
            "{text} {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let log = server.stderr_once(&format!("{client} GET /hello.txt 200"));
        assert!(
            log.contains(&format!("{client} GET /hello.txt 200")),
            "{client}: {log}"
        );
        assert!(!log.contains("127.0.0.2"), "{log}");
    }

    // maxp=1 counts the header's address: a second client on 127.0.0.1 is
    // refused while the first holds its connection, a client on another
    // address is not, though HAProxy's own address is the same for all.
    let through = format!("127.0.0.1:{}", haproxy.ports[0]);
    let (first, _held) = get_held(&through);
    assert_eq!(first, 200);
    let (second, _) = get_held(&through);
    assert_eq!(second, 503);
    let other = curl(&[
        "--interface",
        "127.0.0.2",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        &format!("http://{through}/hello.txt"),
    ]);
    assert_eq!(String::from_utf8_lossy(&other.stdout), "200");

    // Straight to the listener, without a header: closed, unanswered.
    let mut raw = TcpStream::connect(&plain).unwrap();
    raw.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    write!(raw, "GET /hello.txt HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let mut got = Vec::new();
    let read = raw.read_to_end(&mut got);
    assert!(got.is_empty(), "{}", String::from_utf8_lossy(&got));
    // Closed with the request unread: an end of stream or a reset.
    assert!(
        read.as_ref().map_or_else(
            |e| e.kind() == std::io::ErrorKind::ConnectionReset,
            |_| true
        ),
        "{read:?}"
    );
    let log = server.stderr_once("no valid PROXY protocol header");
    assert!(log.contains("no valid PROXY protocol header"), "{log}");
}

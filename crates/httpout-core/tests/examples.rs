//! The examples, run as their users would run them: the binaries `cargo
//! test` builds beside the test binaries (`target/<profile>/examples/`),
//! started as processes and driven over real sockets on 127.0.0.1. Every
//! wait is bounded; children are killed on drop.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use httpout_test::{bounded, get, h1, read};
use tokio::net::TcpStream;

/// The example `name` Cargo built for this test run.
fn example(name: &str) -> PathBuf {
    // target/<profile>/deps/examples-HASH → target/<profile>/examples/NAME
    let exe = std::env::current_exe().unwrap();
    let path = exe
        .parent()
        .and_then(|deps| deps.parent())
        .map(|profile| profile.join("examples").join(name))
        .unwrap();
    assert!(
        path.is_file(),
        "{} is missing: `cargo test -p httpout-core` builds the examples \
         (a `--test` filter alone does not: add `--examples`)",
        path.display()
    );
    path
}

/// A child process, killed when dropped.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Running {
    /// Waits, at most `limit`, for the exit; its success.
    fn exit_within(&mut self, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.0.try_wait().unwrap() {
                return status.success();
            }
            assert!(Instant::now() < deadline, "no exit within {limit:?}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// GET `path` over a new HTTP/1.1 connection: status, `Server`, body.
async fn fetch(addr: std::net::SocketAddr, path: &str) -> (u16, String, String) {
    let mut client = h1(bounded(TcpStream::connect(addr)).await.unwrap()).await;
    let (status, headers, body) =
        read(bounded(client.send_request(get(path))).await.unwrap()).await;
    let server = headers["server"].to_str().unwrap().to_owned();
    (status.as_u16(), server, body)
}

#[tokio::test]
async fn hello_serves_until_sigterm_and_exits_0() {
    let hello = example("hello");
    // A port free a moment ago; another process may take it meanwhile,
    // so the example is tried on three.
    for _ in 0..3 {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let addr: std::net::SocketAddr = ([127, 0, 0, 1], port).into();
        let mut child = Running(
            Command::new(&hello)
                .arg(addr.to_string())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap(),
        );
        // It says nothing when ready: connect until it answers (or exits).
        let deadline = Instant::now() + Duration::from_secs(20);
        let connected = loop {
            if TcpStream::connect(addr).await.is_ok() {
                break true;
            }
            if child.0.try_wait().unwrap().is_some() || Instant::now() > deadline {
                break false;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        if !connected {
            continue;
        }
        let (status, server, body) = fetch(addr, "/anything").await;
        assert_eq!((status, body.as_str()), (200, "Hello!\n"));
        assert_eq!(server, format!("httpout/{}", env!("CARGO_PKG_VERSION")));
        let pid = rustix::process::Pid::from_raw(child.0.id() as i32).unwrap();
        rustix::process::kill_process(pid, rustix::process::Signal::TERM).unwrap();
        assert!(child.exit_within(Duration::from_secs(15)), "exit status 0");
        return;
    }
    panic!("the hello example did not serve on any of three free ports");
}

#[tokio::test]
async fn for_a_while_scans_past_a_taken_port_and_finishes_a_slow_request() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let start = taken.local_addr().unwrap().port();
    // Long enough for both requests to be in before the time is up, on a
    // loaded machine too, and short of `bounded`'s 10 s for `/slow`.
    let seconds = 6;
    let begin = Instant::now();
    let mut child = Running(
        Command::new(example("for_a_while"))
            .args([start.to_string(), seconds.to_string()])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let (tx, rx) = mpsc::channel();
    let out = child.0.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let line = rx.recv_timeout(Duration::from_secs(20)).unwrap();
    let url = line.strip_prefix("listening on http://").expect(&line);
    let addr: std::net::SocketAddr = url.parse().unwrap();
    assert!(addr.port() > start, "{addr} above the taken {start}");
    // `/slow` takes as long as the example runs: it is in flight when
    // the time is up, and answered all the same.
    let slow = tokio::spawn(fetch(addr, "/slow"));
    let (status, server, body) = fetch(addr, "/x").await;
    assert_eq!((status, body.as_str()), (200, "/x\n"));
    assert_eq!(
        server,
        format!("httpout/{} for_a_while/1", env!("CARGO_PKG_VERSION"))
    );
    let (status, _, body) = slow.await.unwrap();
    assert_eq!((status, body.as_str()), (200, "/slow\n"));
    let stopped = rx.recv_timeout(Duration::from_secs(30)).unwrap();
    assert_eq!(stopped, "stopped: Graceful");
    assert!(child.exit_within(Duration::from_secs(15)));
    assert!(begin.elapsed() >= Duration::from_secs(seconds));
    drop(taken);
}

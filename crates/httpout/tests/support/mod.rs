//! Helpers for the end-to-end tests: run the real `httpout` binary (built
//! by Cargo for this crate's tests), wait for its `listening on` lines,
//! drive it with curl. Every wait is bounded; children are killed on drop.
//! Each test file includes this module (`mod support;`) and uses a part.
#![allow(dead_code, reason = "each test file uses a part of the support")]

pub(crate) mod browser;
pub(crate) mod edge;
pub(crate) mod live;
pub(crate) mod llhls;

use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How long the binary may take to print its listeners.
pub(crate) const START_LIMIT: Duration = Duration::from_secs(20);

/// The path of the `httpout` binary Cargo built for these tests.
pub(crate) fn binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_httpout"))
}

/// Starts `httpout ARGS` with stdout and stderr piped.
fn spawn(args: &[&str]) -> Child {
    Command::new(binary())
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn httpout")
}

/// A running `httpout` process.
#[derive(Debug)]
pub(crate) struct Httpout {
    child: Child,
    /// What it printed after `listening on `, one entry per listener.
    pub(crate) listeners: Vec<String>,
    stderr: Arc<Mutex<String>>,
}

impl Httpout {
    /// Starts `httpout ARGS` and waits for `expected` listener lines.
    pub(crate) fn start(args: &[&str], expected: usize) -> Self {
        let mut child = spawn(args);
        let stderr = Arc::new(Mutex::new(String::new()));
        let mut err_pipe = child.stderr.take().expect("stderr");
        let sink = Arc::clone(&stderr);
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = err_pipe.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        let (tx, rx) = mpsc::channel();
        let out = child.stdout.take().expect("stdout");
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut listeners = Vec::new();
        while listeners.len() < expected {
            match rx.recv_timeout(START_LIMIT) {
                Ok(line) => match line.strip_prefix("listening on ") {
                    Some(addr) => listeners.push(addr.to_owned()),
                    None => panic!("unexpected stdout line: {line}"),
                },
                Err(_) => {
                    let _ = child.kill();
                    panic!(
                        "httpout {args:?} printed {} of {expected} listeners; stderr: {}",
                        listeners.len(),
                        stderr.lock().unwrap()
                    );
                }
            }
        }
        Self {
            child,
            listeners,
            stderr,
        }
    }

    /// The first listener's URL (`http://127.0.0.1:PORT`).
    pub(crate) fn url(&self) -> &str {
        &self.listeners[0]
    }

    /// What the process wrote on stderr so far.
    pub(crate) fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// What the process wrote on stderr, once `seen` is in it or after
    /// 10 s (stderr is read by a thread: what was written before the
    /// listening lines may not be in yet when [`Self::start`] returns).
    pub(crate) fn stderr_once(&self, seen: &str) -> String {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            let err = self.stderr();
            if err.contains(seen) || std::time::Instant::now() > deadline {
                return err;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Sends a signal (`"HUP"`, `"TERM"`...) to the process.
    pub(crate) fn signal(&self, name: &str) {
        let pid = self.child.id().to_string();
        let status = Command::new("kill")
            .args([&format!("-{name}"), &pid])
            .status();
        assert!(status.is_ok_and(|s| s.success()), "kill -{name} failed");
    }

    /// The process id.
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits (bounded) for the process to exit on its own: its exit
    /// status and stderr.
    pub(crate) fn wait_exit(mut self, limit: Duration) -> (Option<i32>, String) {
        let code = wait_bounded(&mut self.child, limit);
        std::thread::sleep(Duration::from_millis(50));
        (code, self.stderr())
    }

    /// Kills the process at once (SIGKILL), as a crash would, and waits.
    pub(crate) fn crash(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Sends SIGTERM and waits (bounded) for the exit status.
    pub(crate) fn terminate(mut self) -> (Option<i32>, String) {
        self.signal("TERM");
        let code = wait_bounded(&mut self.child, Duration::from_secs(15));
        std::thread::sleep(Duration::from_millis(50));
        (code, self.stderr())
    }
}

impl Drop for Httpout {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn wait_bounded(child: &mut Child, limit: Duration) -> Option<i32> {
    let deadline = std::time::Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            return status.code();
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("httpout did not exit within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Runs `httpout ARGS` expecting it to exit on its own (bad options...):
/// returns its exit code, stdout and stderr.
pub(crate) fn run_to_exit(args: &[&str]) -> (Option<i32>, String, String) {
    let (status, out, err) = output_bounded(spawn(args), Duration::from_secs(15), "httpout");
    (status.code(), out, err)
}

/// Waits for `child`, spawned with piped stdout and stderr, for at most
/// `limit` (then it is killed and the test fails, naming `what`): its exit
/// status, stdout and stderr. Both are read while it runs, so a full pipe
/// cannot stall it.
pub(crate) fn output_bounded(
    mut child: Child,
    limit: Duration,
    what: &str,
) -> (std::process::ExitStatus, String, String) {
    let read_all = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut text = String::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_string(&mut text);
            }
            text
        })
    };
    let out = read_all(child.stdout.take().map(|p| Box::new(p) as _));
    let err = read_all(child.stderr.take().map(|p| Box::new(p) as _));
    let deadline = std::time::Instant::now() + limit;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what} did not exit within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let (out, err) = (out.join().unwrap(), err.join().unwrap());
    (status, out, err)
}

/// `echo PASSWORD | httpout users --users=FILE add NAME`
pub(crate) fn add_user(file: &std::path::Path, name: &str, password: &str) {
    use std::io::Write as _;
    let mut child = Command::new(binary())
        .args(["users", &format!("--users={}", file.display()), "add", name])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(format!("{password}\n").as_bytes())
        .unwrap();
    assert!(child.wait().unwrap().success());
}

/// Runs curl with a 10 s limit; `-sS` is added.
pub(crate) fn curl(args: &[&str]) -> Output {
    Command::new("curl")
        .args(["-sS", "--max-time", "10"])
        .args(args)
        .output()
        .expect("curl is installed (see .ci/run)")
}

/// A self-signed certificate for 127.0.0.1 and localhost written as PEM
/// files in `dir`: (cert path, key path).
pub(crate) fn self_signed(dir: &std::path::Path) -> (PathBuf, PathBuf) {
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()])
        .expect("rcgen");
    let cert_path = dir.join("cert.pem");
    let key_path = dir.join("key.pem");
    std::fs::write(&cert_path, cert.cert.pem()).unwrap();
    std::fs::write(&key_path, cert.key_pair.serialize_pem()).unwrap();
    (cert_path, key_path)
}

/// Makes a FIFO at `path` (with `mkfifo`).
pub(crate) fn mkfifo(path: &std::path::Path) {
    let made = Command::new("mkfifo").arg(path).status();
    assert!(made.is_ok_and(|s| s.success()), "mkfifo {}", path.display());
}

/// A port that was free a moment ago.
pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Whether the tests run as root.
pub(crate) fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0"))
}

/// A real nginx (Debian's nginx-light, one worker) on 127.0.0.1, its files
/// in a directory of the test's; stopped on drop.
#[derive(Debug)]
pub(crate) struct Nginx {
    child: Child,
    port: u16,
}

impl Nginx {
    /// Starts nginx with `server` as the body of its one `server { }`
    /// block (after its `listen`), and waits (bounded) until it answers.
    pub(crate) fn start(dir: &std::path::Path, server: &str) -> Self {
        let port = free_port();
        std::fs::create_dir_all(dir.join("logs")).unwrap();
        std::fs::create_dir_all(dir.join("tmp")).unwrap();
        let conf = dir.join("nginx.conf");
        std::fs::write(
            &conf,
            format!(
                "worker_processes 1;\npid {d}/nginx.pid;\nerror_log {d}/logs/error.log;\n\
                 events {{ worker_connections 1024; }}\n\
                 http {{\n access_log off;\n client_body_temp_path {d}/tmp;\n\
                 proxy_temp_path {d}/tmp;\n\
                 server {{\n  listen 127.0.0.1:{port};\n{server}\n }}\n}}\n",
                d = dir.display(),
            ),
        )
        .unwrap();
        // As root, workers would run as nobody and could not write here.
        let user = if is_root() { "user root; " } else { "" };
        let child = Command::new("nginx")
            .args(["-p", &dir.display().to_string(), "-c"])
            .arg(&conf)
            .args(["-g", &format!("{user}daemon off;")])
            .stderr(Stdio::null())
            .spawn()
            .expect("nginx is installed (see scripts/test.sh)");
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(std::time::Instant::now() < deadline, "nginx did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        Self { child, port }
    }

    /// `http://127.0.0.1:PORT`.
    pub(crate) fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        // SIGTERM: the master stops its workers too (SIGKILL would orphan them).
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        let _ = self.child.wait();
    }
}

/// A real icecast2 (Debian's, 2.4) on 127.0.0.1 with the source and admin
/// password `hackme`, its log in a directory of the test's; stopped on
/// drop.
#[derive(Debug)]
pub(crate) struct Icecast {
    child: Child,
    port: u16,
}

impl Icecast {
    /// Starts icecast2 with `mounts` (`<mount>` elements) in its
    /// configuration and waits (bounded) until it answers.
    pub(crate) fn start(dir: &std::path::Path, mounts: &str) -> Self {
        let port = free_port();
        let logs = dir.join("icecast-log");
        std::fs::create_dir_all(&logs).unwrap();
        // As root, icecast2 refuses to run unless it changes its owner.
        let owner = if is_root() {
            let _ = Command::new("chown").arg("nobody").arg(&logs).status();
            "<changeowner><user>nobody</user><group>nogroup</group></changeowner>"
        } else {
            ""
        };
        let conf = dir.join("icecast.xml");
        // `source-timeout` 60 s (icecast2's default is 10): on a loaded
        // 2-core machine a paced ffmpeg source can stall for seconds, and
        // icecast2 dropping it fails the comparison (seen in a full run).
        std::fs::write(
            &conf,
            format!(
                "<icecast><limits><clients>500</clients><sources>8</sources>\
                 <source-timeout>60</source-timeout></limits>\
                 <authentication><source-password>hackme</source-password>\
                 <admin-user>admin</admin-user><admin-password>hackme</admin-password>\
                 </authentication><hostname>127.0.0.1</hostname>\
                 <listen-socket><port>{port}</port><bind-address>127.0.0.1</bind-address></listen-socket>\
                 {mounts}<paths><logdir>{logs}</logdir><webroot>/usr/share/icecast2/web</webroot>\
                 <adminroot>/usr/share/icecast2/admin</adminroot></paths>\
                 <logging><accesslog>access.log</accesslog><errorlog>error.log</errorlog>\
                 <loglevel>2</loglevel></logging>\
                 <security><chroot>0</chroot>{owner}</security></icecast>",
                logs = logs.display(),
            ),
        )
        .unwrap();
        let child = Command::new("icecast2")
            .arg("-c")
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("icecast2 is installed (see scripts/test.sh)");
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                std::time::Instant::now() < deadline,
                "icecast2 did not start"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Self { child, port }
    }

    /// `http://127.0.0.1:PORT`.
    pub(crate) fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for Icecast {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

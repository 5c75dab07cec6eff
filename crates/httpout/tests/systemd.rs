//! systemd integration, with the protocols' real sockets: the notify
//! socket is a Unix datagram socket the test binds (as systemd does), and
//! socket activation gets a TCP socket the test bound, as fd 3 with
//! `LISTEN_FDS=1` and `LISTEN_PID` set to httpout's own pid.

use std::io::{BufRead, BufReader};
use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

mod support;

use support::{START_LIMIT, binary, curl};

/// A site with one file: its `--rdirs` option.
fn site(dir: &Path) -> String {
    let www = dir.join("www");
    std::fs::create_dir_all(&www).unwrap();
    std::fs::write(www.join("hello.txt"), "hello\n").unwrap();
    format!("--rdirs={}", www.display())
}

/// The first `listening on` URL `child` prints on stdout (bounded).
fn listening(child: &mut Child) -> String {
    let out = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let line = rx.recv_timeout(START_LIMIT).expect("a listening line");
    line.strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected stdout line: {line}"))
        .to_owned()
}

/// The next notification on `socket` (bounded by its read timeout).
fn next(socket: &UnixDatagram) -> String {
    let mut buf = [0u8; 256];
    let n = socket.recv(&mut buf).expect("a notification in time");
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

fn kill(child: &Child, signal: &str) {
    let sent = Command::new("kill")
        .args([&format!("-{signal}"), &child.id().to_string()])
        .status();
    assert!(sent.is_ok_and(|s| s.success()), "kill -{signal}");
}

fn get(url: &str) -> String {
    let out = curl(&[&format!("{url}/hello.txt")]);
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn notifies_ready_reloading_and_stopping() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notify.sock");
    let notify = UnixDatagram::bind(&path).unwrap();
    notify
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let mut child = Command::new(binary())
        .args(["--ifce=127.0.0.1", "--port=0", &site(dir.path())])
        .env("NOTIFY_SOCKET", &path)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let url = listening(&mut child);
    // READY=1 once serving: the port answers when it arrives.
    assert_eq!(next(&notify), "READY=1");
    assert_eq!(get(&url), "hello\n");
    kill(&child, "HUP");
    let reloading = next(&notify);
    assert!(
        reloading.starts_with("RELOADING=1\nMONOTONIC_USEC="),
        "{reloading}"
    );
    assert_eq!(next(&notify), "READY=1");
    assert_eq!(get(&url), "hello\n");
    kill(&child, "TERM");
    assert_eq!(next(&notify), "STOPPING=1");
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    while child.try_wait().unwrap().is_none() {
        assert!(std::time::Instant::now() < deadline, "did not exit");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn socket_activation_serves_the_inherited_socket() {
    let dir = tempfile::tempdir().unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    // The socket goes in as stdin; the shell moves it to fd 3 and execs
    // httpout with its own pid (`$$` stays across exec) in LISTEN_PID.
    let mut child = Command::new("sh")
        .args([
            "-c",
            "exec 3<&0 0</dev/null; LISTEN_PID=$$ LISTEN_FDS=1 exec \"$0\" \"$@\"",
        ])
        .arg(binary())
        .args([&site(dir.path()), "--reqlog=*"])
        .stdin(Stdio::from(std::os::fd::OwnedFd::from(listener)))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let url = listening(&mut child);
    assert_eq!(url, format!("http://127.0.0.1:{port}"));
    assert_eq!(get(&url), "hello\n");
    kill(&child, "TERM");
    let _ = child.wait();
}

#[test]
fn an_inherited_fd_that_is_no_listening_socket_is_refused() {
    let (code, _, err) = {
        // stdin (a file) moved to fd 3: not a socket.
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("not-a-socket");
        std::fs::write(&file, "x").unwrap();
        let out = Command::new("sh")
            .args([
                "-c",
                "exec 3<&0 0</dev/null; LISTEN_PID=$$ LISTEN_FDS=1 exec \"$0\" \"$@\"",
            ])
            .arg(binary())
            .arg(site(dir.path()))
            .stdin(std::fs::File::open(&file).unwrap())
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("LISTEN_FDS: fd 3"), "{err}");
}

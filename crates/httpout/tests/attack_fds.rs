//! The binary raises its soft limit of open files to the hard limit at
//! start (issue 12, item 2): started by a shell that lowered the soft limit
//! to 256, its /proc/PID/limits says the hard limit for both.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// The soft and hard "Max open files" of a process.
fn open_files(pid: u32) -> (String, String) {
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).unwrap();
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .unwrap();
    let mut fields = line["Max open files".len()..].split_whitespace();
    (
        fields.next().unwrap().to_owned(),
        fields.next().unwrap().to_owned(),
    )
}

#[test]
fn the_soft_open_files_limit_is_raised_to_the_hard_limit() {
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(r#"ulimit -Sn 256 && exec "$0" --listen=http://127.0.0.1:0 --rdirs=."#)
        .arg(env!("CARGO_BIN_EXE_httpout"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("sh");
    let out = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let started = rx.recv_timeout(Duration::from_secs(20));
    // `exec`: the shell's pid is httpout's.
    let limits = started.as_ref().ok().map(|_| open_files(child.id()));
    let _ = child.kill();
    let _ = child.wait();
    let line = started.expect("httpout printed its listener");
    assert!(line.starts_with("listening on "), "{line}");
    let (soft, hard) = limits.unwrap();
    assert_eq!(soft, hard, "soft limit {soft}, hard {hard}");
    assert_ne!(soft, "256");
}

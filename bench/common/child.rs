//! What the standalone benches share (included with `#[path]`): the server
//! under test as a child process of the bench's own binary, and its CPU
//! time and memory read from `/proc`.

use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// A server child: killed when dropped.
pub struct Spawned {
    pub child: Child,
    pub pid: u32,
    pub port: u16,
}

/// Runs this binary again with `args` (its server mode), which prints the
/// port it listens on as its first line.
pub async fn spawn_self(args: &[&str]) -> Spawned {
    let exe = std::env::current_exe().expect("current_exe");
    let mut child = Command::new(exe)
        .args(args)
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn server");
    let mut out = BufReader::new(child.stdout.take().expect("stdout"));
    let mut line = String::new();
    tokio::time::timeout(Duration::from_secs(10), out.read_line(&mut line))
        .await
        .expect("server did not print its port in 10 s")
        .expect("read port");
    let port = line.trim().parse().expect("port");
    let pid = child.id().expect("pid");
    Spawned { child, pid, port }
}

/// The resident set of process `pid` in KiB (`VmRSS`).
pub fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// utime + stime of a process in seconds (/proc/PID/stat, 100 ticks/s);
/// `None` reads this process.
pub fn cpu_s(pid: Option<u32>) -> f64 {
    let path = pid.map_or_else(|| "/proc/self/stat".into(), |p| format!("/proc/{p}/stat"));
    let stat = std::fs::read_to_string(path).unwrap_or_default();
    // Fields after the command name, which ends at the last ')': state is
    // field 3, utime 14, stime 15.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<u64> = rest
        .split_whitespace()
        .map(|x| x.parse().unwrap_or(0))
        .collect();
    (f.get(11).unwrap_or(&0) + f.get(12).unwrap_or(&0)) as f64 / 100.0
}

//! The edge tier of `docs/deploy/`: a real Varnish and a real nginx run
//! with the committed configuration files, their placeholders replaced
//! (so the tested file is the documented one). Both on 127.0.0.1, their
//! files in a directory of the test's, stopped on drop. A missing tool
//! fails the test with a message saying what to install.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::{free_port, is_root};

/// How long an edge may take to answer after its start (Varnish compiles
/// its VCL with cc first).
const EDGE_START: Duration = Duration::from_secs(30);

/// A file of `docs/deploy/`.
fn deploy_file(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../docs/deploy")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// `template` with each `(placeholder, value)` replaced; panics if a
/// placeholder is missing from it or one is left over.
fn fill(template: &str, values: &[(&str, String)]) -> String {
    let mut out = template.to_owned();
    for (key, value) in values {
        assert!(out.contains(key), "{key} is not in the template");
        out = out.replace(key, value);
    }
    let body: String = out
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .collect();
    assert!(!body.contains("@"), "a placeholder is left: {body}");
    out
}

/// The path of a tool: `name` in PATH or in /usr/sbin (where Debian puts
/// varnishd and nginx, not in a non-root PATH); panics naming the package.
pub(crate) fn tool(name: &str, package: &str) -> PathBuf {
    let found = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .chain([PathBuf::from("/usr/sbin")])
        .map(|d| d.join(name))
        .find(|p| p.is_file());
    found.unwrap_or_else(|| {
        panic!(
            "{name} is not installed: install the Debian package {package} (scripts/test.sh does)"
        )
    })
}

/// Waits (bounded) until something accepts on `port`; panics with `what`
/// and its log otherwise.
fn wait_port(port: u16, what: &str, child: &mut Child, log: &Path) {
    let deadline = Instant::now() + EDGE_START;
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        let exited = child.try_wait().ok().flatten();
        if exited.is_some() || Instant::now() > deadline {
            let _ = child.kill();
            panic!(
                "{what} did not start ({exited:?}): {}",
                std::fs::read_to_string(log).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Stops a child with SIGTERM (its workers with it) and reaps it, bounded.
fn stop(child: &mut Child) {
    let _ = Command::new("kill").arg(child.id().to_string()).status();
    let deadline = Instant::now() + Duration::from_secs(10);
    while child.try_wait().ok().flatten().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `docs/deploy/varnish.vcl` run by `varnishd -F` (not a daemon) on
/// 127.0.0.1, 64 MiB of malloc storage.
#[derive(Debug)]
pub(crate) struct Varnish {
    child: Child,
    port: u16,
}

impl Varnish {
    /// Starts Varnish in front of `origin` (`127.0.0.1:PORT`), its work
    /// directory in `dir`, and waits (bounded) until it listens.
    pub(crate) fn start(dir: &Path, origin: &str) -> Self {
        let varnishd = tool("varnishd", "varnish");
        let (host, origin_port) = origin.rsplit_once(':').expect("HOST:PORT");
        std::fs::create_dir_all(dir).unwrap();
        let vcl = dir.join("edge.vcl");
        let text = fill(
            &deploy_file("varnish.vcl"),
            &[
                ("@ORIGIN_HOST@", host.to_owned()),
                ("@ORIGIN_PORT@", origin_port.to_owned()),
            ],
        );
        std::fs::write(&vcl, text).unwrap();
        let port = free_port();
        let log = dir.join("varnishd.log");
        let out = std::fs::File::create(&log).unwrap();
        let mut cmd = Command::new(varnishd);
        cmd.arg("-F")
            .arg("-n")
            .arg(dir.join("work"))
            .args(["-a", &format!("127.0.0.1:{port}")])
            .arg("-f")
            .arg(&vcl)
            .args(["-s", "malloc,64m"])
            // No CLI port: nothing listens but the edge itself.
            .args(["-T", "none"]);
        // As root, varnishd wants to switch to its `varnish` user; the
        // work directory is the test's: keep the one user (no jail).
        if is_root() {
            cmd.args(["-j", "none"]);
        }
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .expect("varnishd runs");
        wait_port(port, "varnishd", &mut child, &log);
        Self { child, port }
    }

    /// `http://127.0.0.1:PORT`.
    pub(crate) fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for Varnish {
    fn drop(&mut self) {
        stop(&mut self.child);
    }
}

/// `docs/deploy/nginx-edge.conf` run by `nginx -g 'daemon off;'` on
/// 127.0.0.1.
#[derive(Debug)]
pub(crate) struct NginxEdge {
    child: Child,
    port: u16,
}

impl NginxEdge {
    /// Starts nginx in front of `origin` (`127.0.0.1:PORT`), its files in
    /// `dir`, and waits (bounded) until it listens.
    pub(crate) fn start(dir: &Path, origin: &str) -> Self {
        let nginx = tool("nginx", "nginx-light");
        let run = dir.join("run");
        let cache = dir.join("cache");
        std::fs::create_dir_all(&run).unwrap();
        std::fs::create_dir_all(&cache).unwrap();
        let port = free_port();
        let conf = dir.join("nginx-edge.conf");
        let text = fill(
            &deploy_file("nginx-edge.conf"),
            &[
                ("@ORIGIN@", origin.to_owned()),
                ("@LISTEN@", format!("127.0.0.1:{port}")),
                ("@RUN_DIR@", run.display().to_string()),
                ("@CACHE_DIR@", cache.display().to_string()),
            ],
        );
        std::fs::write(&conf, text).unwrap();
        // As root, workers would run as nobody and could not write here.
        let user = if is_root() { "user root; " } else { "" };
        let log = run.join("error.log");
        let mut child = Command::new(nginx)
            .arg("-p")
            .arg(dir)
            .arg("-c")
            .arg(&conf)
            .args(["-g", &format!("{user}daemon off;")])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("nginx runs");
        wait_port(port, "nginx", &mut child, &log);
        Self { child, port }
    }

    /// `http://127.0.0.1:PORT`.
    pub(crate) fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for NginxEdge {
    fn drop(&mut self) {
        stop(&mut self.child);
    }
}

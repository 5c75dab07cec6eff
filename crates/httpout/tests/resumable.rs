//! Resumable uploads (issue 18) as clients make them: the protocols' rules
//! checked with curl, real clients (tuspy, a Python IETF client) killed
//! and resumed, the server SIGKILLed and restarted mid-upload, expiry.
//!
//! The Python clients run with the interpreter of the venv that
//! `scripts/test.sh` makes (`target/pyenv`, tuspy pinned there; or
//! `TEST_PYTHON`): a missing one fails the test.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

mod support;

use support::{Httpout, curl};

/// The upload of the big tests.
const BIG: u64 = 200 << 20;

/// An answer, as curl saw it.
#[derive(Debug)]
struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// `METHOD url` with `headers` and `body`, by curl.
fn http(method: &str, url: &str, headers: &[&str], body: Option<&str>) -> Answer {
    let mut args = vec!["-i", "-X", method];
    if method == "HEAD" {
        args = vec!["-I"];
    }
    for h in headers {
        args.extend(["-H", h]);
    }
    if let Some(b) = body {
        args.extend(["--data-binary", b]);
    }
    args.push(url);
    let out = curl(&args);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no answer to {method} {url}: {text} {:?}", out.stderr));
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    Answer {
        status,
        headers,
        body: body.to_owned(),
    }
}

fn start(dir: &Path, extra: &[&str]) -> Httpout {
    let w = dir.join("w");
    let mut args = vec![
        "--ifce=127.0.0.1".to_owned(),
        "--port=0".to_owned(),
        format!("--wdir={}", w.display()),
        format!("--rdirs={}", w.display()),
    ];
    if !extra.iter().any(|a| a.starts_with("--maxs")) {
        args.push("--maxs=300M".to_owned());
    }
    args.extend(extra.iter().map(|s| (*s).to_owned()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    std::fs::create_dir_all(&w).unwrap();
    Httpout::start(&args, 1)
}

/// The resumable uploads' files below `dir` (temporary files and states).
fn resume_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                stack.push(e.path());
            } else if e
                .file_name()
                .to_string_lossy()
                .starts_with(".httpout-upload-resume-")
            {
                out.push(e.path());
            }
        }
    }
    out
}

/// Bytes in the resumable uploads' temporary files below `dir`.
fn part_bytes(dir: &Path) -> u64 {
    resume_files(dir)
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "part"))
        .filter_map(|p| std::fs::metadata(p).ok())
        .map(|m| m.len())
        .sum()
}

/// Waits (bounded by `limit`) until `done`; false if it never was.
fn wait_until(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + limit;
    while Instant::now() < end {
        if done() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    done()
}

/// `size` bytes from a seeded xorshift generator, written to `path`.
fn make_data(path: &Path, size: u64, seed: u64) {
    let mut f = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    let mut x = seed | 1;
    let mut block = vec![0u8; 1 << 20];
    let mut left = size;
    while left > 0 {
        for word in block.chunks_exact_mut(8) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            word.copy_from_slice(&x.to_le_bytes());
        }
        let n = left.min(block.len() as u64) as usize;
        f.write_all(&block[..n]).unwrap();
        left -= n as u64;
    }
    f.flush().unwrap();
}

fn sha256(path: &Path) -> String {
    let out = Command::new("sha256sum")
        .arg(path)
        .output()
        .expect("sha256sum");
    String::from_utf8_lossy(&out.stdout)
        .split(' ')
        .next()
        .unwrap()
        .to_owned()
}

/// The venv's interpreter with tuspy (`scripts/test.sh` makes it).
fn python() -> PathBuf {
    let python = std::env::var_os("TEST_PYTHON").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/pyenv/bin/python"),
        PathBuf::from,
    );
    let ok = Command::new(&python)
        .args(["-c", "import tusclient"])
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        ok,
        "{} with tuspy is needed: run scripts/test.sh (it makes target/pyenv and installs tuspy) or set TEST_PYTHON",
        python.display()
    );
    python
}

fn script(name: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/resumable")
        .join(name)
        .display()
        .to_string()
}

/// A Python client's process and its output lines.
struct Client {
    child: Child,
    lines: std::sync::mpsc::Receiver<String>,
}

impl Client {
    fn spawn(script_name: &str, args: &[&str], slow_after: Option<u64>) -> Self {
        let mut cmd = Command::new(python());
        cmd.arg(script(script_name))
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        if let Some(at) = slow_after {
            cmd.env("SLOW_AFTER", at.to_string());
        }
        let mut child = cmd.spawn().expect("python");
        let out = child.stdout.take().unwrap();
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        Self { child, lines }
    }

    /// The next line starting with `prefix` (within `limit`).
    fn line(&self, prefix: &str, limit: Duration) -> String {
        let end = Instant::now() + limit;
        loop {
            let left = end.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(l) if l.starts_with(prefix) => return l,
                Ok(_) => {}
                Err(_) => panic!("the client did not print {prefix:?} within {limit:?}"),
            }
        }
    }

    fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    fn wait(mut self, limit: Duration) -> bool {
        let end = Instant::now() + limit;
        while Instant::now() < end {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status.success();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        false
    }
}

#[test]
fn tus_rules() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), &["--maxs=1000", "--cors=on"]);
    let base = server.url();
    let tus = "Tus-Resumable: 1.0.0";
    // Discovery.
    let a = http("OPTIONS", &format!("{base}/.uploads/"), &[], None);
    assert_eq!(a.status, 204, "{a:?}");
    assert_eq!(a.header("Tus-Version"), Some("1.0.0"));
    assert_eq!(
        a.header("Tus-Extension"),
        Some("creation,termination,checksum")
    );
    assert_eq!(a.header("Tus-Max-Size"), Some("1000"));
    assert_eq!(a.header("Tus-Checksum-Algorithm"), Some("sha1,sha256"));
    // Creation's refusals.
    let create = |headers: &[&str]| http("POST", &format!("{base}/v/"), headers, None);
    let name = "Upload-Metadata: filename YS5iaW4="; // a.bin
    assert_eq!(create(&[tus, name]).status, 400, "no Upload-Length");
    let a = create(&[tus, name, "Upload-Length: 1001"]);
    assert_eq!(a.status, 413);
    assert_eq!(a.header("Tus-Resumable"), Some("1.0.0"));
    let a = create(&["Tus-Resumable: 0.2.2", name, "Upload-Length: 10"]);
    assert_eq!(a.status, 412);
    assert_eq!(a.header("Tus-Version"), Some("1.0.0"));
    assert_eq!(
        create(&[tus, "Upload-Length: 10"]).status,
        400,
        "no filename"
    );
    // .env, a/b, .httpout-upload-x
    for bad in ["LmVudg==", "YS9i", "Lmh0dHBvdXQtdXBsb2FkLXg="] {
        let h = format!("Upload-Metadata: filename {bad}");
        let a = create(&[tus, &h, "Upload-Length: 10"]);
        assert!(matches!(a.status, 400 | 403), "{bad}: {a:?}");
    }
    // A good one.
    let a = create(&[tus, name, "Upload-Length: 10", "Origin: http://example.org"]);
    assert_eq!(a.status, 201, "{a:?}");
    let location = a.header("Location").unwrap().to_owned();
    assert!(location.starts_with("/.uploads/"), "{location}");
    let exposed = a
        .header("Access-Control-Expose-Headers")
        .unwrap_or_default();
    for h in [
        "Location",
        "Upload-Offset",
        "Tus-Resumable",
        "Upload-Length",
    ] {
        assert!(exposed.contains(h), "{h} not exposed: {exposed}");
    }
    let url = format!("{base}{location}");
    let octets = "Content-Type: application/offset+octet-stream";
    let patch = |headers: &[&str], body: &str| http("PATCH", &url, headers, Some(body));
    assert_eq!(
        patch(
            &[tus, "Upload-Offset: 0", "Content-Type: text/plain"],
            "abc"
        )
        .status,
        415
    );
    let a = patch(&[tus, "Upload-Offset: 3", octets], "abc");
    assert_eq!(a.status, 409);
    assert_eq!(a.header("Upload-Offset"), Some("0"));
    // sha1("abc") is qZk+NkcGgWq6PiVxeFDCbJzQ2J0=
    let a = patch(
        &[
            tus,
            "Upload-Offset: 0",
            octets,
            "Upload-Checksum: sha1 AAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        ],
        "abc",
    );
    assert_eq!(a.status, 460, "{a:?}");
    assert_eq!(
        patch(
            &[
                tus,
                "Upload-Offset: 0",
                octets,
                "Upload-Checksum: crc32 AAAA"
            ],
            "abc"
        )
        .status,
        400
    );
    let a = patch(
        &[
            tus,
            "Upload-Offset: 0",
            octets,
            "Upload-Checksum: sha1 qZk+NkcGgWq6PiVxeFDCbJzQ2J0=",
        ],
        "abc",
    );
    assert_eq!(a.status, 204, "{a:?}");
    assert_eq!(a.header("Upload-Offset"), Some("3"));
    let a = http("HEAD", &url, &[tus], None);
    assert_eq!(a.status, 200);
    assert_eq!(a.header("Upload-Offset"), Some("3"));
    assert_eq!(a.header("Upload-Length"), Some("10"));
    assert_eq!(a.header("Cache-Control"), Some("no-store"));
    assert_eq!(a.header("Tus-Resumable"), Some("1.0.0"));
    let a = patch(&[tus, "Upload-Offset: 3", octets], "defghijk");
    assert_eq!(a.status, 400, "past Upload-Length: {a:?}");
    let a = patch(&[tus, "Upload-Offset: 3", octets], "defghij");
    assert_eq!(a.status, 204, "{a:?}");
    assert_eq!(
        std::fs::read(dir.path().join("w/v/a.bin")).unwrap(),
        b"abcdefghij"
    );
    assert!(resume_files(dir.path()).is_empty());
    // Termination.
    let a = create(&[tus, name, "Upload-Length: 10"]);
    let url = format!("{base}{}", a.header("Location").unwrap());
    assert_eq!(http("DELETE", &url, &[tus], None).status, 204);
    assert_eq!(http("HEAD", &url, &[tus], None).status, 404);
    assert!(resume_files(dir.path()).is_empty());
    assert_eq!(
        std::fs::read(dir.path().join("w/v/a.bin")).unwrap(),
        b"abcdefghij"
    );
    assert_eq!(
        http("HEAD", &format!("{base}/.uploads/nope"), &[tus], None).status,
        404
    );
}

/// The value of `key` in a structured dictionary such as `Upload-Limit`.
fn dict_item(value: &str, key: &str) -> Option<u64> {
    value
        .split(',')
        .filter_map(|m| m.trim().split_once('='))
        .find(|(k, _)| *k == key)
        .and_then(|(_, v)| v.trim().parse().ok())
}

/// A problem document (RFC 9457) as the draft's responses carry it.
fn problem(a: &Answer) -> serde_json::Value {
    assert_eq!(
        a.header("Content-Type"),
        Some("application/problem+json"),
        "{a:?}"
    );
    serde_json::from_str(&a.body).unwrap_or_else(|e| panic!("{e}: {}", a.body))
}

const PROBLEMS: &str = "https://iana.org/assignments/http-problem-types#";

/// A 409 of the draft: `Upload-Offset` where the upload stands, and the
/// `mismatching-upload-offset` problem naming both offsets.
fn assert_mismatch(a: &Answer, expected: u64, provided: u64) {
    assert_eq!(a.status, 409, "{a:?}");
    assert_eq!(
        a.header("Upload-Offset"),
        Some(expected.to_string().as_str())
    );
    let p = problem(a);
    assert_eq!(p["type"], format!("{PROBLEMS}mismatching-upload-offset"));
    assert_eq!(
        (p["expected-offset"].as_u64(), p["provided-offset"].as_u64()),
        (Some(expected), Some(provided))
    );
}

/// The draft's rules as its current text (interop version 9) states them:
/// `max-age` in `Upload-Limit` (what is left of the ttl), `Upload-Complete:
/// ?0` on the upload resource's refusals, `Upload-Limit` on a 413, a
/// malformed `Upload-Length` ignored, and an append to a completed upload
/// answered as the current text allows (the final answer again, a
/// mismatch, an inconsistent length), no `completed-upload`.
#[test]
fn ietf_current_rules() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), &["--maxs=1000", "--resume_ttl=600"]);
    let base = server.url();
    let v = "Upload-Draft-Interop-Version: 9";
    let a = http(
        "POST",
        &format!("{base}/d/f.txt"),
        &[v, "Upload-Complete: ?0", "Upload-Length: 9"],
        Some("abc"),
    );
    assert_eq!(a.status, 201, "{a:?}");
    assert_eq!(a.header("Upload-Complete"), Some("?0"));
    assert_eq!(a.header("Upload-Draft-Interop-Version"), Some("9"));
    let limit = a.header("Upload-Limit").unwrap();
    assert_eq!(dict_item(limit, "max-size"), Some(1000), "{limit}");
    assert_eq!(dict_item(limit, "max-age"), Some(600), "{limit}");
    assert_eq!(dict_item(limit, "expires"), None, "{limit}");
    let url = format!("{base}{}", a.header("Location").unwrap());
    // Offset retrieval: max-age is what is left of the ttl.
    std::thread::sleep(Duration::from_millis(2100));
    let a = http("HEAD", &url, &[v], None);
    assert_eq!(a.status, 204);
    assert_eq!(a.header("Upload-Offset"), Some("3"));
    assert_eq!(a.header("Upload-Complete"), Some("?0"));
    assert_eq!(a.header("Upload-Length"), Some("9"));
    assert_eq!(a.header("Cache-Control"), Some("no-store"));
    let limit = a.header("Upload-Limit").unwrap();
    assert_eq!(dict_item(limit, "max-size"), Some(1000), "{limit}");
    let age = dict_item(limit, "max-age").unwrap();
    assert!(age <= 598 && age > 500, "{limit}");
    // GET (the uploads registry's JSON) is an offset retrieval too.
    let a = http("GET", &url, &[v], None);
    assert_eq!(a.status, 200, "{a:?}");
    assert_eq!(
        (
            a.header("Upload-Offset"),
            a.header("Upload-Complete"),
            a.header("Upload-Length")
        ),
        (Some("3"), Some("?0"), Some("9"))
    );
    assert!(
        a.header("Upload-Limit")
            .is_some_and(|l| dict_item(l, "max-age").is_some_and(|m| m <= 598))
    );
    assert_eq!(a.header("Cache-Control"), Some("no-store"));
    let json: serde_json::Value = serde_json::from_str(&a.body).unwrap();
    assert_eq!(json["offset"], 3);
    let partial = "Content-Type: application/partial-upload";
    let patch = |headers: &[&str], body: &str| http("PATCH", &url, headers, Some(body));
    // Refusals of the upload resource: Upload-Complete: ?0.
    let a = patch(
        &[v, partial, "Upload-Offset: 1", "Upload-Complete: ?0"],
        "def",
    );
    assert_mismatch(&a, 3, 1);
    assert_eq!(a.header("Upload-Complete"), Some("?0"));
    let a = patch(
        &[
            v,
            "Content-Type: text/plain",
            "Upload-Offset: 3",
            "Upload-Complete: ?0",
        ],
        "def",
    );
    assert_eq!((a.status, a.header("Upload-Complete")), (415, Some("?0")));
    let a = patch(
        &[v, partial, "Upload-Offset: 3", "Upload-Complete: yes"],
        "def",
    );
    assert_eq!(
        (a.status, a.header("Upload-Complete")),
        (400, Some("?0")),
        "malformed boolean"
    );
    let a = patch(
        &[
            v,
            partial,
            "Upload-Offset: 3",
            "Upload-Complete: ?0",
            "Upload-Length: 8",
        ],
        "def",
    );
    assert_eq!((a.status, a.header("Upload-Complete")), (400, Some("?0")));
    let p = problem(&a);
    assert_eq!(p["type"], format!("{PROBLEMS}inconsistent-upload-length"));
    // An append: 204, Upload-Complete: ?0 and the offset.
    let a = patch(
        &[v, partial, "Upload-Offset: 3", "Upload-Complete: ?0"],
        "def",
    );
    assert_eq!(a.status, 204, "{a:?}");
    assert_eq!(
        (a.header("Upload-Complete"), a.header("Upload-Offset")),
        (Some("?0"), Some("6"))
    );
    // The last: Upload-Complete: ?1.
    let a = patch(
        &[v, partial, "Upload-Offset: 6", "Upload-Complete: ?1"],
        "ghi",
    );
    assert_eq!(
        (a.status, a.header("Upload-Complete")),
        (204, Some("?1")),
        "{a:?}"
    );
    assert_eq!(
        std::fs::read(dir.path().join("w/d/f.txt")).unwrap(),
        b"abcdefghi"
    );
    // After completion: HEAD says so; an empty completing append (the
    // final answer lost) gets it again; others are refused, not
    // completed-upload (gone from the draft).
    let a = http("HEAD", &url, &[v], None);
    assert_eq!(a.status, 204);
    assert_eq!(
        (a.header("Upload-Complete"), a.header("Upload-Offset")),
        (Some("?1"), Some("9"))
    );
    assert!(
        a.header("Upload-Limit")
            .is_some_and(|l| dict_item(l, "max-age").is_some())
    );
    let a = http("GET", &url, &[v], None);
    assert_eq!(
        (
            a.status,
            a.header("Upload-Complete"),
            a.header("Upload-Offset")
        ),
        (200, Some("?1"), Some("9"))
    );
    let a = patch(&[v, partial, "Upload-Offset: 9", "Upload-Complete: ?1"], "");
    assert_eq!(a.status, 204, "{a:?}");
    assert_eq!(
        (a.header("Upload-Complete"), a.header("Upload-Offset")),
        (Some("?1"), Some("9"))
    );
    let a = patch(&[v, partial, "Upload-Offset: 3", "Upload-Complete: ?1"], "");
    assert_mismatch(&a, 9, 3);
    assert_eq!(a.header("Upload-Complete"), Some("?0"));
    let a = patch(
        &[v, partial, "Upload-Offset: 9", "Upload-Complete: ?1"],
        "j",
    );
    assert_eq!((a.status, a.header("Upload-Complete")), (400, Some("?0")));
    assert_eq!(
        problem(&a)["type"],
        format!("{PROBLEMS}inconsistent-upload-length")
    );
    assert!(!a.body.contains("completed-upload"));
    assert_eq!(
        std::fs::read(dir.path().join("w/d/f.txt")).unwrap(),
        b"abcdefghi"
    );
    // Over maxs: 413 with the limit.
    let a = http(
        "PUT",
        &format!("{base}/d/big"),
        &[v, "Upload-Complete: ?0", "Upload-Length: 1001"],
        Some(""),
    );
    assert_eq!(a.status, 413);
    assert_eq!(a.header("Upload-Complete"), Some("?0"));
    assert_eq!(
        a.header("Upload-Limit")
            .and_then(|l| dict_item(l, "max-size")),
        Some(1000)
    );
    // A client of the final RFC sends no interop version: spoken to in the
    // current text, none named back. A malformed Upload-Length is ignored.
    let a = http(
        "PUT",
        &format!("{base}/d/g.txt"),
        &["Upload-Complete: ?0", "Upload-Length: nine"],
        Some("xy"),
    );
    assert_eq!(a.status, 201, "{a:?}");
    assert_eq!(a.header("Upload-Draft-Interop-Version"), None);
    assert!(
        a.header("Upload-Limit")
            .is_some_and(|l| dict_item(l, "max-age") == Some(600))
    );
    let url = format!("{base}{}", a.header("Location").unwrap());
    let a = http("HEAD", &url, &[], None);
    assert_eq!(
        (
            a.status,
            a.header("Upload-Offset"),
            a.header("Upload-Length")
        ),
        (204, Some("2"), None)
    );
    let a = http(
        "PATCH",
        &url,
        &[partial, "Upload-Offset: 2", "Upload-Complete: ?1"],
        Some("z"),
    );
    assert_eq!((a.status, a.header("Upload-Complete")), (204, Some("?1")));
    assert_eq!(std::fs::read(dir.path().join("w/d/g.txt")).unwrap(), b"xyz");
    // Discovery: OPTIONS of a target URL says the limits (the engine
    // answers it), and so does the uploads endpoint, by the text the
    // client speaks.
    let a = http("OPTIONS", &format!("{base}/d/new.bin"), &[], None);
    assert_eq!(a.status, 204, "{a:?}");
    let limit = a.header("Upload-Limit").unwrap();
    assert_eq!(
        (dict_item(limit, "max-size"), dict_item(limit, "max-age")),
        (Some(1000), Some(600)),
        "{limit}"
    );
    assert!(a.header("Allow").is_some_and(|m| m.contains("PUT")));
    let a = http("OPTIONS", &format!("{base}/.uploads/"), &[v], None);
    assert!(
        a.header("Upload-Limit")
            .is_some_and(|l| dict_item(l, "max-age") == Some(600)),
        "{a:?}"
    );
    let a = http(
        "OPTIONS",
        &format!("{base}/.uploads/"),
        &["Upload-Draft-Interop-Version: 6"],
        None,
    );
    assert!(
        a.header("Upload-Limit")
            .is_some_and(|l| dict_item(l, "expires") == Some(600)),
        "{a:?}"
    );
    assert!(resume_files(dir.path()).is_empty());
}

/// Draft -05 (interop version 6), still spoken to its clients.
#[test]
fn ietf_rules() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), &["--maxs=1000"]);
    let base = server.url();
    let v = "Upload-Draft-Interop-Version: 6";
    // Creation, incomplete: 201 and the upload resource.
    let a = http(
        "POST",
        &format!("{base}/d/f.txt"),
        &[v, "Upload-Complete: ?0"],
        Some("abc"),
    );
    assert_eq!(a.status, 201, "{a:?}");
    assert_eq!(a.header("Upload-Offset"), Some("3"));
    assert_eq!(a.header("Upload-Complete"), Some("?0"));
    assert!(
        a.header("Upload-Limit")
            .is_some_and(|l| l.contains("max-size=1000"))
    );
    let location = a.header("Location").unwrap().to_owned();
    assert!(location.starts_with("/.uploads/"));
    assert_eq!(a.header("Upload-Id"), location.strip_prefix("/.uploads/"));
    let url = format!("{base}{location}");
    let a = http("HEAD", &url, &[v], None);
    assert_eq!(a.status, 204);
    assert_eq!(a.header("Upload-Offset"), Some("3"));
    assert_eq!(a.header("Upload-Complete"), Some("?0"));
    assert_eq!(a.header("Cache-Control"), Some("no-store"));
    assert_eq!(a.header("Upload-Draft-Interop-Version"), Some("6"));
    let limit = a.header("Upload-Limit").unwrap();
    assert!(
        dict_item(limit, "expires").is_some_and(|e| e <= 3600),
        "{limit}"
    );
    assert_eq!(dict_item(limit, "max-age"), None, "{limit}");
    let partial = "Content-Type: application/partial-upload";
    let patch = |headers: &[&str], body: &str| http("PATCH", &url, headers, Some(body));
    let a = patch(
        &[v, partial, "Upload-Offset: 1", "Upload-Complete: ?1"],
        "def",
    );
    assert_mismatch(&a, 3, 1);
    assert_eq!(
        patch(
            &[
                v,
                "Content-Type: text/plain",
                "Upload-Offset: 3",
                "Upload-Complete: ?1"
            ],
            "x"
        )
        .status,
        415
    );
    assert_eq!(
        patch(&[v, partial, "Upload-Offset: 3"], "x").status,
        400,
        "no Upload-Complete"
    );
    let a = patch(
        &[v, partial, "Upload-Offset: 3", "Upload-Complete: ?0"],
        "def",
    );
    assert_eq!((a.status, a.header("Upload-Offset")), (204, Some("6")));
    let a = patch(
        &[v, partial, "Upload-Offset: 6", "Upload-Complete: ?1"],
        "ghi",
    );
    assert_eq!(a.status, 204, "{a:?}");
    assert_eq!(a.header("Upload-Complete"), Some("?1"));
    assert_eq!(
        std::fs::read(dir.path().join("w/d/f.txt")).unwrap(),
        b"abcdefghi"
    );
    let a = patch(
        &[v, partial, "Upload-Offset: 9", "Upload-Complete: ?1"],
        "j",
    );
    assert_eq!(a.status, 400);
    assert!(a.body.contains("completed-upload"), "{}", a.body);
    let a = http("HEAD", &url, &[v], None);
    assert_eq!((a.status, a.header("Upload-Complete")), (204, Some("?1")));
    // Creation, complete in one request: the file at once.
    let a = http(
        "PUT",
        &format!("{base}/d/g.txt"),
        &[v, "Upload-Complete: ?1"],
        Some("whole"),
    );
    assert_eq!(a.status, 201, "{a:?}");
    assert_eq!(a.header("Content-Location"), Some("/d/g.txt"));
    assert!(
        a.header("Location")
            .is_some_and(|l| l.starts_with("/.uploads/"))
    );
    assert_eq!(
        std::fs::read(dir.path().join("w/d/g.txt")).unwrap(),
        b"whole"
    );
    let a = http(
        "PUT",
        &format!("{base}/d/g.txt"),
        &[v, "Upload-Complete: ?1", "Upload-Length: 9"],
        Some("whole"),
    );
    assert_eq!(a.status, 400, "lengths differ");
    assert!(a.body.contains("inconsistent-upload-length"));
    // Cancellation: the previous file stays.
    let a = http(
        "PUT",
        &format!("{base}/d/g.txt"),
        &[v, "Upload-Complete: ?0"],
        Some("new"),
    );
    let url = format!("{base}{}", a.header("Location").unwrap());
    assert_eq!(http("DELETE", &url, &[], None).status, 204);
    assert_eq!(http("HEAD", &url, &[v], None).status, 404);
    assert_eq!(
        std::fs::read(dir.path().join("w/d/g.txt")).unwrap(),
        b"whole"
    );
    assert!(resume_files(dir.path()).is_empty());
}

#[test]
fn patch_with_content_range_updates_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), &[]);
    let url = format!("{}/p.bin", server.url());
    assert_eq!(http("PUT", &url, &[], Some("0123456789")).status, 201);
    let a = http(
        "PATCH",
        &url,
        &[
            "Content-Range: bytes 2-3/*",
            "Content-Type: application/octet-stream",
        ],
        Some("XY"),
    );
    assert_eq!(a.status, 204, "{a:?}");
    assert_eq!(
        std::fs::read(dir.path().join("w/p.bin")).unwrap(),
        b"01XY456789"
    );
    let a = http(
        "PATCH",
        &url,
        &["Content-Range: bytes 0-0/*", "Content-Type: text/plain"],
        Some("Z"),
    );
    assert_eq!(a.status, 415);
    assert_eq!(a.header("Accept-Patch"), Some("application/octet-stream"));
    assert_eq!(
        http(
            "PATCH",
            &url,
            &["Content-Type: application/octet-stream"],
            Some("Z")
        )
        .status,
        400
    );
    let missing = format!("{}/none.bin", server.url());
    assert_eq!(
        http(
            "PATCH",
            &missing,
            &[
                "Content-Range: bytes 0-0/*",
                "Content-Type: application/octet-stream"
            ],
            Some("Z")
        )
        .status,
        404
    );
    assert_eq!(
        std::fs::read(dir.path().join("w/p.bin")).unwrap(),
        b"01XY456789"
    );
}

/// A reader at the live edge follows the upload across requests: it waits
/// while the upload is suspended and ends with the complete file.
#[test]
fn live_readers_follow_across_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), &[]);
    let base = server.url().to_owned();
    let v = "Upload-Draft-Interop-Version: 6";
    let a = http(
        "PUT",
        &format!("{base}/live.txt"),
        &[v, "Upload-Complete: ?0"],
        Some("first-"),
    );
    let url = format!("{base}{}", a.header("Location").unwrap());
    let reader = std::thread::spawn({
        let target = format!("{base}/live.txt");
        move || curl(&["--max-time", "20", &target])
    });
    std::thread::sleep(Duration::from_millis(1500));
    let partial = "Content-Type: application/partial-upload";
    let a = http(
        "PATCH",
        &url,
        &[v, partial, "Upload-Offset: 6", "Upload-Complete: ?0"],
        Some("second-"),
    );
    assert_eq!(a.status, 204);
    std::thread::sleep(Duration::from_millis(1500));
    let a = http(
        "PATCH",
        &url,
        &[v, partial, "Upload-Offset: 13", "Upload-Complete: ?1"],
        Some("third"),
    );
    assert_eq!(a.status, 204);
    let out = reader.join().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "first-second-third");
}

#[test]
fn expired_uploads_are_cleaned() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), &["--resume_ttl=2"]);
    let base = server.url();
    let tus = "Tus-Resumable: 1.0.0";
    let a = http(
        "POST",
        &format!("{base}/e/"),
        &[
            tus,
            "Upload-Length: 100",
            "Upload-Metadata: filename YS5iaW4=",
        ],
        None,
    );
    assert_eq!(a.status, 201);
    let url = format!("{base}{}", a.header("Location").unwrap());
    // Before the upload's last activity (this PATCH): its removal comes a
    // whole ttl after this, however long the PATCH and the checks take.
    let started = Instant::now();
    let a = http(
        "PATCH",
        &url,
        &[
            tus,
            "Upload-Offset: 0",
            "Content-Type: application/offset+octet-stream",
        ],
        Some("abc"),
    );
    assert_eq!(a.status, 204);
    assert_eq!(
        resume_files(dir.path()).len(),
        2,
        "temporary file and state"
    );
    assert!(
        wait_until(Duration::from_secs(20), || resume_files(dir.path())
            .is_empty()),
        "still there after 20 s: {:?}",
        resume_files(dir.path())
    );
    assert!(
        started.elapsed() >= Duration::from_secs(2),
        "removed before its ttl (2 s)"
    );
    assert_eq!(http("HEAD", &url, &[tus], None).status, 404);
    assert!(!dir.path().join("w/e/a.bin").exists());
}

/// tuspy uploads 200 MB; killed at about 40 %, a new tuspy process resumes
/// from the server's offset; the stored file is the source.
#[test]
fn tuspy_killed_at_40_percent_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("big.bin");
    make_data(&src, BIG, 40);
    let server = start(dir.path(), &[]);
    let began = Instant::now();
    let src_arg = src.display().to_string();
    let client = Client::spawn(
        "tus_client.py",
        &["start", server.url(), "/up/", &src_arg],
        Some(BIG * 38 / 100),
    );
    let url = client.line("url ", Duration::from_secs(20))[4..].to_owned();
    let w = dir.path().join("w");
    assert!(
        wait_until(Duration::from_secs(30), || part_bytes(&w) >= BIG * 40 / 100),
        "40 % never reached: {} bytes",
        part_bytes(&w)
    );
    client.kill();
    let killed_at = part_bytes(&w);
    let resumed = Client::spawn("tus_client.py", &["resume", &url, &src_arg], None);
    let line = resumed.line("resumed at ", Duration::from_secs(20));
    let offset: u64 = line[11..].trim().parse().unwrap();
    assert!(
        offset > 0 && offset <= killed_at,
        "resumed at {offset}, killed at {killed_at}"
    );
    assert_eq!(
        offset % (4 << 20),
        0,
        "checksummed chunks are kept whole: {offset}"
    );
    resumed.line("done ", Duration::from_secs(60));
    assert!(resumed.wait(Duration::from_secs(10)));
    let stored = w.join("up/big.bin.stored");
    assert_eq!(sha256(&stored), sha256(&src));
    assert!(resume_files(&w).is_empty());
    eprintln!(
        "200 MB tus upload, killed at {} MB, resumed at {} MB: {:.1} s",
        killed_at >> 20,
        offset >> 20,
        began.elapsed().as_secs_f64()
    );
}

/// An IETF upload of 200 MB; the server SIGKILLed at about 60 %, started
/// again on the same directories; the client resumes from the offset the
/// server kept (synced); the stored file is the source.
#[test]
fn server_killed_at_60_percent_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("big.bin");
    make_data(&src, BIG, 60);
    let server = start(dir.path(), &[]);
    let began = Instant::now();
    let src_arg = src.display().to_string();
    let client = Client::spawn(
        "ietf_client.py",
        &["start", server.url(), "/up/big.bin", &src_arg],
        Some(BIG * 58 / 100),
    );
    let url = client.line("url ", Duration::from_secs(20))[4..].to_owned();
    let path = url
        .split_once("/.uploads/")
        .map(|(_, id)| format!("/.uploads/{id}"))
        .unwrap();
    let w = dir.path().join("w");
    assert!(
        wait_until(Duration::from_secs(30), || part_bytes(&w) >= BIG * 60 / 100),
        "60 % never reached: {} bytes",
        part_bytes(&w)
    );
    server.crash();
    let killed_at = part_bytes(&w);
    assert!(
        !client.wait(Duration::from_secs(20)),
        "the client saw its upload fail"
    );
    let server = start(dir.path(), &[]);
    assert!(
        w.join("up").read_dir().unwrap().count() == 2,
        "no file but the upload's"
    );
    let url = format!("{}{path}", server.url());
    let resumed = Client::spawn("ietf_client.py", &["resume", &url, &src_arg], None);
    let line = resumed.line("resumed at ", Duration::from_secs(20));
    let offset: u64 = line[11..].trim().parse().unwrap();
    assert!(
        offset > BIG / 4 && offset <= killed_at,
        "resumed at {offset}, killed at {killed_at}"
    );
    let done = resumed.line("done ", Duration::from_secs(60));
    assert_eq!(done, format!("done 204 {BIG} ?1"));
    assert!(resumed.wait(Duration::from_secs(10)));
    assert_eq!(sha256(&w.join("up/big.bin")), sha256(&src));
    assert!(resume_files(&w).is_empty());
    eprintln!(
        "200 MB IETF upload, server killed at {} MB, resumed at {} MB: {:.1} s",
        killed_at >> 20,
        offset >> 20,
        began.elapsed().as_secs_f64()
    );
}

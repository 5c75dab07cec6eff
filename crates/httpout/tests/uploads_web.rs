//! Uploads from a real browser (issue 18): Debian's headless Chromium,
//! driven by `tests/web/uploads.mjs` through puppeteer-core, uploads with
//! the directory listing's form (a progress bar per file, screenshotted
//! mid-upload, then the server's verdict for each) and with tus-js-client
//! (aborted at 40 %, resumed from its stored fingerprint). `scripts/test.sh`
//! installs Chromium, Node.js and the npm packages; a missing one fails
//! the test, saying how to install it.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::Value;

mod support;

use support::Httpout;

/// The longest a driver run may take (it bounds itself a little earlier).
const RUN_LIMIT: Duration = Duration::from_secs(150);

fn web_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/web")
}

/// Runs `node uploads.mjs ARGS` and returns its JSON report; panics with
/// its stderr when it fails or outlasts [`RUN_LIMIT`].
fn drive(args: &[&str]) -> Value {
    let web = web_dir();
    assert!(
        web.join("node_modules/puppeteer-core").is_dir()
            && web.join("node_modules/tus-js-client").is_dir(),
        "{}/node_modules lacks puppeteer-core or tus-js-client: run scripts/test.sh (npm ci there)",
        web.display()
    );
    let child = Command::new("node")
        .arg("uploads.mjs")
        .args(args)
        .current_dir(&web)
        .env(
            "UPLOADS_WEB_LIMIT_MS",
            (RUN_LIMIT.as_millis() - 10_000).to_string(),
        )
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("node cannot run ({e}): install nodejs (scripts/test.sh does)"));
    let what = format!("uploads.mjs {args:?}");
    let (status, out, err) = support::output_bounded(child, RUN_LIMIT, &what);
    assert!(status.success(), "uploads.mjs {args:?}: {status}\n{err}");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out:?}\n{err}"))
}

/// A readable and writable directory with listings, `extra` options added.
fn server(dir: &Path, extra: &[&str]) -> Httpout {
    let mut args = vec![
        "--ifce=127.0.0.1".to_owned(),
        "--port=0".to_owned(),
        format!("--rdirs={}", dir.display()),
        format!("--wdir={}", dir.display()),
        "--dlist".to_owned(),
    ];
    args.extend(extra.iter().map(|s| (*s).to_owned()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    Httpout::start(&args, 1)
}

/// `len` pseudo-random bytes: nothing compresses, each file different.
fn random_file(path: &Path, len: usize, seed: u64) {
    let mut x = seed | 1;
    let bytes: Vec<u8> = (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    std::fs::write(path, bytes).unwrap();
}

fn rows(report: &Value, key: &str) -> Vec<Value> {
    report[key].as_array().cloned().unwrap_or_default()
}

/// The width and height of a PNG, from its header.
fn png_size(path: &Path) -> (u32, u32) {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert!(
        bytes.len() > 24 && bytes.starts_with(b"\x89PNG\r\n\x1a\n") && &bytes[12..16] == b"IHDR",
        "{} is no PNG",
        path.display()
    );
    let be = |i: usize| u32::from_be_bytes(bytes[i..i + 4].try_into().unwrap());
    (be(16), be(20))
}

#[test]
fn the_listing_form_shows_a_progress_bar_per_file_then_the_servers_state() {
    let files = tempfile::tempdir().unwrap();
    let (a, b) = (files.path().join("a.bin"), files.path().join("b.bin"));
    random_file(&a, 6_000_000, 1);
    random_file(&b, 5_000_000, 2);
    let site = tempfile::tempdir().unwrap();
    let server = server(site.path(), &[]);
    // Kept for people to look at: target/tmp/upload-progress.png.
    let shot = Path::new(env!("CARGO_TARGET_TMPDIR")).join("upload-progress.png");
    let _ = std::fs::remove_file(&shot);
    let report = drive(&[
        "form",
        &format!("{}/", server.url()),
        shot.to_str().unwrap(),
        a.to_str().unwrap(),
        b.to_str().unwrap(),
    ]);

    // Mid-upload: one bar per file, each partly filled, its percent shown.
    let during = rows(&report, "during");
    assert_eq!(during.len(), 2, "{report}");
    for (row, name) in during.iter().zip(["a.bin", "b.bin"]) {
        assert_eq!(row["name"], name, "{report}");
        assert_eq!(row["state"], "receiving", "{report}");
        let fraction = row["fraction"].as_f64().unwrap();
        assert!((0.2..=0.9).contains(&fraction), "{report}");
        let text = row["text"].as_str().unwrap();
        let percent: f64 = text.trim_end_matches(" %").parse().unwrap();
        assert!((percent - 100.0 * fraction).abs() <= 1.0, "{report}");
    }
    assert_eq!(png_size(&shot), (800, 420));

    // Done: the state read back from /.uploads/ID, the files stored whole.
    let after = rows(&report, "after");
    for (row, (name, len)) in after
        .iter()
        .zip([("a.bin", 6_000_000), ("b.bin", 5_000_000)])
    {
        assert_eq!(row["state"], "complete", "{report}");
        assert_eq!(row["fraction"], 1.0, "{report}");
        assert_eq!(row["text"], format!("complete, {len} bytes"), "{report}");
        let stored = std::fs::read(site.path().join(name)).unwrap();
        assert_eq!(stored, std::fs::read(files.path().join(name)).unwrap());
    }
}

#[test]
fn a_refused_file_fails_on_its_own_row_and_the_others_are_stored() {
    let files = tempfile::tempdir().unwrap();
    let (big, small) = (files.path().join("big.bin"), files.path().join("small.bin"));
    random_file(&big, 3 << 20, 3);
    random_file(&small, 1 << 20, 4);
    let site = tempfile::tempdir().unwrap();
    let server = server(site.path(), &["--maxs=2M"]);
    let report = drive(&[
        "form",
        &format!("{}/", server.url()),
        "-",
        big.to_str().unwrap(),
        small.to_str().unwrap(),
    ]);
    let after = rows(&report, "after");
    assert_eq!(after.len(), 2, "{report}");
    assert_eq!(after[0]["state"], "failed", "{report}");
    let reason = after[0]["text"].as_str().unwrap();
    assert!(reason.starts_with("failed: 413 "), "{report}");
    assert_eq!(after[1]["state"], "complete", "{report}");
    assert!(!site.path().join("big.bin").exists());
    assert_eq!(
        std::fs::metadata(site.path().join("small.bin"))
            .unwrap()
            .len(),
        1 << 20
    );
}

#[test]
fn tus_js_client_resumes_an_aborted_upload() {
    let site = tempfile::tempdir().unwrap();
    let server = server(site.path(), &[]);
    let size: u64 = 20_000_000;
    let report = drive(&[
        "tus",
        &format!("{}/", server.url()),
        &format!("{}/", server.url()),
        &size.to_string(),
    ]);
    // The second Upload found the first by its fingerprint and went on from
    // the offset the server kept, past 0 and short of the end.
    assert_eq!(report["first"], report["second"], "{report}");
    let offset = report["offset"].as_u64().unwrap();
    assert!(offset > 0 && offset < size, "{report}");
    let stored = site.path().join("tus.bin");
    assert_eq!(std::fs::metadata(&stored).unwrap().len(), size);
    let out = Command::new("sha256sum")
        .arg(&stored)
        .output()
        .expect("sha256sum");
    let sum = String::from_utf8_lossy(&out.stdout);
    assert_eq!(sum.split(' ').next(), report["sha256"].as_str(), "{report}");
    // Its id's state, as the uploads endpoint tells it.
    let upload = report["second"].as_str().unwrap();
    let out = support::curl(&["-s", upload, "-H", "Accept: application/json"]);
    let state: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(state["state"], "complete", "{state}");
    assert_eq!(state["received"], size, "{state}");
}

//! Uploads as users make them: the built binary, curl, and a crash.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

mod support;

use support::{Httpout, curl};

fn temporaries(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with(".httpout-upload-")
        })
        .count()
}

#[test]
fn curl_put_post_form_and_delete() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src.bin");
    std::fs::write(&src, vec![7u8; 100_000]).unwrap();
    let w = dir.path().join("w");
    let server = Httpout::start(
        &[
            "--ifce=127.0.0.1",
            "--port=0",
            &format!("--wdir={}", w.display()),
            &format!("--rdirs={}", w.display()),
        ],
        1,
    );
    let url = format!("{}/media/a.bin", server.url());
    let code = |out: std::process::Output| String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(
        code(curl(&[
            "-T",
            &src.display().to_string(),
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            &url
        ])),
        "201"
    );
    assert_eq!(
        code(curl(&[
            "-T",
            &src.display().to_string(),
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            &url
        ])),
        "204"
    );
    assert_eq!(
        std::fs::read(w.join("media/a.bin")).unwrap(),
        vec![7u8; 100_000]
    );
    // Chunked upload from a pipe.
    let out = curl(&[
        "-T",
        "-",
        "-H",
        "Transfer-Encoding: chunked",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        &format!("{}/media/piped.txt", server.url()),
    ]);
    assert_eq!(code(out), "201");
    // A browser-style form.
    let form = format!("file=@{}", src.display());
    let out = curl(&[
        "-F",
        &form,
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        &format!("{}/inbox/", server.url()),
    ]);
    assert_eq!(code(out), "201");
    assert_eq!(
        std::fs::read(w.join("inbox/src.bin")).unwrap().len(),
        100_000
    );
    assert_eq!(
        code(curl(&[
            "-X",
            "DELETE",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            &url
        ])),
        "204"
    );
    assert_eq!(
        code(curl(&[
            "-X",
            "DELETE",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            &url
        ])),
        "404"
    );
}

#[test]
fn a_crash_mid_upload_leaves_the_good_file() {
    let dir = tempfile::tempdir().unwrap();
    let w = dir.path().join("w");
    std::fs::create_dir(&w).unwrap();
    std::fs::write(w.join("seg.m4s"), "good version").unwrap();
    let big = dir.path().join("big.bin");
    std::fs::write(&big, vec![1u8; 4 << 20]).unwrap();
    let args = [
        "--ifce=127.0.0.1".to_owned(),
        "--port=0".to_owned(),
        format!("--wdir={}", w.display()),
        format!("--rdirs={}", w.display()),
    ];
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let server = Httpout::start(&args, 1);
    let url = format!("{}/seg.m4s", server.url());
    // A slow upload (about 10 s at 400 KB/s) that the crash interrupts.
    let mut upload = Command::new("curl")
        .args([
            "-sS",
            "--max-time",
            "30",
            "--limit-rate",
            "400K",
            "-T",
            &big.display().to_string(),
            &url,
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while temporaries(&w) == 0 {
        assert!(Instant::now() < deadline, "the upload never started");
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(500));
    server.crash();
    let _ = upload.kill();
    let _ = upload.wait();
    assert_eq!(
        std::fs::read(w.join("seg.m4s")).unwrap(),
        b"good version",
        "never a half file under the final name"
    );
    assert_eq!(temporaries(&w), 1, "the crash left its temporary file");
    // The next start removes it, and serves the good version.
    let server = Httpout::start(&args, 1);
    assert_eq!(temporaries(&w), 0);
    let out = curl(&[&format!("{}/seg.m4s", server.url())]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "good version");
}

/// `curl ARGS -o /dev/null -w %{http_code}`: the status alone.
fn status(args: &[&str]) -> String {
    let mut all = vec!["-o", "/dev/null", "-w", "%{http_code}"];
    all.extend_from_slice(args);
    String::from_utf8_lossy(&curl(&all).stdout).into_owned()
}

/// A write directory served back (`served`) or write-only, with `extra`
/// options.
fn write_server(w: &std::path::Path, served: bool, extra: &[&str]) -> Httpout {
    let (wdir, rdirs) = (
        format!("--wdir={}", w.display()),
        format!("--rdirs={}", w.display()),
    );
    let mut args = vec!["--ifce=127.0.0.1", "--port=0", wdir.as_str()];
    if served {
        args.push(rdirs.as_str());
    }
    args.extend_from_slice(extra);
    Httpout::start(&args, 1)
}

/// A write directory served back, with `extra` options.
fn writable(w: &std::path::Path, extra: &[&str]) -> Httpout {
    write_server(w, true, extra)
}

/// Issue 11 item 5: without `--hidden` no write names a dotfile: PUT,
/// POST, DELETE, range uploads and form parts are 403 and change nothing;
/// `--hidden` accepts them.
#[test]
fn dotfiles_are_not_upload_targets_without_hidden() {
    let dir = tempfile::tempdir().unwrap();
    let w = dir.path().join("w");
    std::fs::create_dir(&w).unwrap();
    std::fs::write(w.join(".htpasswd"), "alice:x").unwrap();
    let evil = dir.path().join(".htaccess");
    std::fs::write(&evil, "Allow from all").unwrap();
    let evil = evil.display().to_string();
    let server = writable(&w, &[]);
    let url = |p: &str| format!("{}{p}", server.url());
    for (args, what) in [
        (vec!["-T", evil.as_str(), url("/.env").leak()], "PUT"),
        (
            vec!["-T", evil.as_str(), url("/a/.git/config").leak()],
            "PUT below",
        ),
        (
            vec!["--data-binary", "SECRET=1", url("/.env").leak()],
            "POST",
        ),
        (vec!["-X", "DELETE", url("/.htpasswd").leak()], "DELETE"),
        (
            vec![
                "-T",
                evil.as_str(),
                "-H",
                "Content-Range: bytes 0-13/14",
                url("/.env").leak(),
            ],
            "range upload",
        ),
        (
            vec![
                "-T",
                evil.as_str(),
                "-H",
                "Range: bytes=0-13",
                url("/.env").leak(),
            ],
            "GPAC range upload",
        ),
        (
            vec!["-F", format!("file=@{evil}").leak(), url("/inbox/").leak()],
            "form part",
        ),
        (
            vec![
                "-F",
                format!("file=@{evil};filename=ok.txt").leak(),
                url("/.inbox/").leak(),
            ],
            "form into a dot dir",
        ),
    ] {
        assert_eq!(status(&args), "403", "{what}");
    }
    let mut left: Vec<String> = Vec::new();
    for entry in std::fs::read_dir(&w).unwrap().flatten() {
        left.push(entry.file_name().to_string_lossy().into_owned());
    }
    left.sort();
    assert_eq!(
        left,
        [".htpasswd", "inbox"],
        "nothing written but the form's directory"
    );
    assert_eq!(std::fs::read_dir(w.join("inbox")).unwrap().count(), 0);
    assert_eq!(std::fs::read(w.join(".htpasswd")).unwrap(), b"alice:x");

    let open = writable(&w, &["--hidden"]);
    let url = |p: &str| format!("{}{p}", open.url());
    assert_eq!(status(&["-T", evil.as_str(), &url("/.env")]), "201");
    assert_eq!(
        status(&["-F", &format!("file=@{evil}"), &url("/inbox/")]),
        "201"
    );
    assert_eq!(status(&["-X", "DELETE", &url("/.htpasswd")]), "204");
    assert!(w.join(".env").exists() && w.join("inbox/.htaccess").exists());
}

/// Issue 11 item 19: `--reqlog=REC` logs a line when a file starts being
/// written and one when it ends (path, bytes, duration); without it, none.
#[test]
fn reqlog_rec_logs_each_upload_start_and_end() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src.bin");
    std::fs::write(&src, vec![7u8; 100_000]).unwrap();
    let src = src.display().to_string();
    let w = dir.path().join("w");
    std::fs::create_dir(&w).unwrap();
    let w = std::fs::canonicalize(&w).unwrap();
    let upload = |server: &Httpout| {
        let url = format!("{}/media/a.bin", server.url());
        assert_eq!(status(&["-T", &src, &url]), "201");
        let form = format!("{}/inbox/", server.url());
        assert_eq!(status(&["-F", &format!("file=@{src}"), &form]), "201");
    };
    // Write-only: a read directory's local writers would be logged too
    // (inotify), and this test counts the lines of uploads.
    let server = write_server(&w, false, &["--reqlog=REC"]);
    upload(&server);
    let (_, stderr) = server.terminate();
    let rec: Vec<&str> = stderr.lines().filter(|l| l.contains(" REC ")).collect();
    for name in ["media/a.bin", "inbox/src.bin"] {
        let path = w.join(name).display().to_string();
        let start = format!("httpout: REC start {path}");
        let end = format!("httpout: REC end {path} 100000B ");
        let i = rec
            .iter()
            .position(|l| *l == start)
            .unwrap_or_else(|| panic!("{start}: {stderr}"));
        let j = rec
            .iter()
            .position(|l| l.starts_with(&end))
            .unwrap_or_else(|| panic!("{end}: {stderr}"));
        assert!(i < j && rec[j].ends_with("ms"), "{stderr}");
    }
    assert_eq!(rec.len(), 4, "{stderr}");
    assert!(
        !stderr.contains(" PUT "),
        "REC alone logs no request: {stderr}"
    );

    std::fs::remove_dir_all(w.join("media")).unwrap();
    let server = write_server(&w, false, &[]);
    upload(&server);
    let (_, stderr) = server.terminate();
    assert!(!stderr.contains("REC"), "{stderr}");
}

/// `httpout ARGS` under `strace -f -y -e trace=fsync,fdatasync`: runs
/// `uploads` against it, stops it with SIGTERM, and returns strace's log.
/// Fails (never passes silently) when strace is missing.
fn sync_calls(args: &[&str], uploads: impl FnOnce(&str)) -> String {
    use std::io::{BufRead, BufReader};
    let log = tempfile::NamedTempFile::new().unwrap();
    let mut strace = Command::new("strace")
        .args(["-f", "-y", "-e", "trace=fsync,fdatasync", "-o"])
        .arg(log.path())
        .arg(support::binary())
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("strace is installed (scripts/test.sh installs it)");
    let (tx, rx) = std::sync::mpsc::channel();
    let out = strace.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let Ok(line) = rx.recv_timeout(support::START_LIMIT) else {
        let _ = strace.kill();
        panic!("httpout under strace did not start");
    };
    let url = line
        .strip_prefix("listening on ")
        .expect("a listening line");
    uploads(url);
    // strace's only child is httpout: a graceful stop ends both.
    let children = format!("/proc/{0}/task/{0}/children", strace.id());
    let pid = std::fs::read_to_string(children).unwrap();
    let pid = pid.split_whitespace().next().expect("httpout runs");
    assert!(
        Command::new("kill")
            .args(["-TERM", pid])
            .status()
            .unwrap()
            .success()
    );
    let deadline = Instant::now() + Duration::from_secs(15);
    while strace.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "httpout did not stop");
        std::thread::sleep(Duration::from_millis(20));
    }
    std::fs::read_to_string(log.path()).unwrap()
}

/// Issue 11 item 15: with `--fsync`, PUT, form and range uploads sync the
/// temporary file's data (before the rename: strace shows its temporary
/// name) and then the directory; without it, nothing is synced.
#[test]
fn fsync_syncs_data_then_directory_for_each_kind_of_upload() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src.bin");
    std::fs::write(&src, vec![3u8; 10_000]).unwrap();
    let src = src.display().to_string();
    for fsync in [true, false] {
        let w = dir.path().join(format!("w-{fsync}"));
        std::fs::create_dir(&w).unwrap();
        let w = std::fs::canonicalize(&w).unwrap();
        let wdir = format!("--wdir={}", w.display());
        let mut args = vec!["--ifce=127.0.0.1", "--port=0", wdir.as_str()];
        if fsync {
            args.push("--fsync");
        }
        let log = sync_calls(&args, |url| {
            assert_eq!(status(&["-T", &src, &format!("{url}/put/a.bin")]), "201");
            let form = format!("file=@{src}");
            assert_eq!(status(&["-F", &form, &format!("{url}/form/")]), "201");
            let range = ["-H", "Content-Range: bytes 0-9999/10000", "-T", &src];
            let target = format!("{url}/range/r.bin");
            assert_eq!(status(&[&range[..], &[target.as_str()]].concat()), "201");
        });
        let ours: Vec<&str> = log
            .lines()
            .filter(|l| l.contains(&*w.to_string_lossy()))
            .collect();
        if !fsync {
            assert!(ours.is_empty(), "no sync without --fsync: {log}");
            continue;
        }
        for sub in ["put", "form", "range"] {
            let d = w.join(sub).display().to_string();
            let data = ours
                .iter()
                .position(|l| {
                    l.contains("fdatasync(") && l.contains(&format!("<{d}/.httpout-upload-"))
                })
                .unwrap_or_else(|| panic!("{sub}: no data sync of its temporary file: {log}"));
            let dir_sync = ours
                .iter()
                .position(|l| l.contains("fsync(") && l.contains(&format!("<{d}>")))
                .unwrap_or_else(|| panic!("{sub}: no sync of its directory: {log}"));
            assert!(
                data < dir_sync,
                "{sub}: data first, then the directory: {log}"
            );
        }
    }
}

//! Uploads as users make them: the built binary, curl, and a crash.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use httpout_e2e::{Httpout, curl};

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

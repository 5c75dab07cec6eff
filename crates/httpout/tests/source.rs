//! Source mode with real clients: curl uploads 100 MiB into
//! `--exec='sha256sum'`, ffmpeg pushes MP3 into `--exec='ffprobe -'`,
//! uploads to standard output come out whole and in order.

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

mod support;

use httpout_test::media;
use support::{Httpout, START_LIMIT, binary, run_to_exit};

#[test]
fn curl_uploads_100_mib_into_sha256sum() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("big.bin");
    {
        use std::io::Write;
        let mut f = std::fs::File::create(&file).unwrap();
        let mut block = vec![0u8; 1 << 20];
        for i in 0..100u32 {
            block
                .iter_mut()
                .enumerate()
                .for_each(|(j, b)| *b = (i as usize * 7 + j) as u8);
            f.write_all(&block).unwrap();
        }
    }
    let expected = Command::new("sha256sum").arg(&file).output().unwrap();
    let expected = String::from_utf8_lossy(&expected.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned();
    let server = Httpout::start(
        &[
            "--ifce=127.0.0.1",
            "--port=0",
            "--hmode=source",
            "--exec=sha256sum",
        ],
        1,
    );
    let out = Command::new("curl")
        .args(["-sS", "--max-time", "60", "-w", "\n%{http_code}", "-T"])
        .arg(&file)
        .arg(format!("{}/upload.bin", server.url()))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.ends_with("\n201"), "{text}");
    assert!(
        text.starts_with(&format!("{expected}  -")),
        "{text} vs {expected}"
    );
}

#[test]
fn ffmpeg_pushes_mp3_into_ffprobe() {
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("probe.txt");
    let exec = format!(
        "--exec=ffprobe -v error -show_entries stream=codec_name,sample_rate -of default=nw=1 - > {}",
        report.display()
    );
    let server = Httpout::start(
        &["--ifce=127.0.0.1", "--port=0", "--hmode=source", &exec],
        1,
    );
    media::put_mp3_tone(&format!("{}/in.mp3", server.url()), 3, 128);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let text = std::fs::read_to_string(&report).unwrap_or_default();
        if text.contains("codec_name=mp3") {
            assert!(text.contains("sample_rate=44100"), "{text}");
            break;
        }
        assert!(Instant::now() < deadline, "ffprobe said: {text:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn uploads_to_stdout_come_out_whole_and_in_order() {
    let mut child = Command::new(binary())
        .args(["--ifce=127.0.0.1", "--port=0", "--hmode=source", "-o", "-"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The listening line goes to stderr, after the banner: stdout is the
    // uploads'. What follows on stderr is read (and dropped) to its end.
    let err = child.stderr.take().unwrap();
    let (lines, line) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for l in BufReader::new(err).lines().map_while(Result::ok) {
            let _ = lines.send(l);
        }
    });
    let deadline = Instant::now() + START_LIMIT;
    let url = loop {
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(!left.is_zero(), "no listening line on stderr");
        let l = line.recv_timeout(left).expect("a listening line on stderr");
        if let Some(url) = l.strip_prefix("listening on ") {
            break url.to_owned();
        }
    };
    // Read stdout meanwhile, as a consumer would (a full pipe holds uploads back).
    let mut stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut out = String::new();
        stdout.read_to_string(&mut out).unwrap();
        out
    });
    // Two uploads at once: each comes out whole, one after the other.
    let dir = tempfile::tempdir().unwrap();
    let a = "A".repeat(3_000_000);
    let b = "B".repeat(2_000_000);
    let curls: Vec<_> = [("a", &a), ("b", &b)]
        .into_iter()
        .map(|(name, body)| {
            let file = dir.path().join(name);
            std::fs::write(&file, body).unwrap();
            Command::new("curl")
                .args([
                    "-sS",
                    "--max-time",
                    "20",
                    "-o",
                    "/dev/null",
                    "-w",
                    "%{http_code}",
                ])
                .arg("--data-binary")
                .arg(format!("@{}", file.display()))
                .arg(format!("{url}/{name}"))
                .stdout(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for c in curls {
        let out = c.wait_with_output().unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stdout), "201");
    }
    let _ = Command::new("kill").arg(child.id().to_string()).status();
    let out = reader.join().unwrap();
    let _ = child.wait();
    assert!(
        out == format!("{a}{b}") || out == format!("{b}{a}"),
        "stdout holds both bodies, whole, one after the other"
    );
}

#[test]
fn source_mode_options_are_checked() {
    let (code, _, err) = run_to_exit(&["--port=0", "--hmode=source"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("-o -") && err.contains("--exec"), "{err}");
    let (code, _, err) = run_to_exit(&["--port=0", "--hmode=source", "--exec=cat", "--rdirs=."]);
    assert_eq!(code, Some(2));
    assert!(err.contains("--rdirs"), "{err}");
    let (code, _, err) = run_to_exit(&["--port=0", "--exec=cat"]);
    assert_eq!(code, Some(2));
    assert!(
        err.contains("--exec") && err.contains("--hmode=source"),
        "{err}"
    );
}

//! The push client against real origins: httpout's own write directory and
//! nginx with WebDAV. Files, directories and stdin arrive byte for byte; a
//! directory being written is pushed chunk by chunk and read live from the
//! origin meanwhile; an origin that starts late is retried; a 403 is
//! reported with its status and message.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use httpout_e2e::{Httpout, binary};

/// Runs `httpout ARGS` to its end (bounded): (exit code, stderr).
fn push(args: &[&str], stdin: Option<&[u8]>) -> (Option<i32>, String) {
    let mut child = Command::new(binary())
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    if let Some(data) = stdin {
        let mut pipe = child.stdin.take().unwrap();
        pipe.write_all(data).unwrap();
    }
    let mut err = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let deadline = Instant::now() + Duration::from_secs(40);
    let code = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status.code();
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("push did not finish");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    (code, reader.join().unwrap())
}

/// A file of `len` pseudo-random bytes.
fn make_file(path: &Path, len: usize, seed: u8) {
    let data: Vec<u8> = (0..len)
        .map(|i| {
            (i as u32)
                .wrapping_mul(2_654_435_761)
                .wrapping_add(u32::from(seed)) as u8
        })
        .collect();
    std::fs::write(path, data).unwrap();
}

/// httpout taking uploads into `dir` and serving it, on `port` (0: any).
fn origin(dir: &Path, port: u16, extra: &[&str]) -> Httpout {
    let rdirs = format!("--rdirs={}", dir.display());
    let wdir = format!("--wdir={}", dir.display());
    let port = format!("--port={port}");
    let mut args = vec![&rdirs[..], &wdir, "--maxp=0"];
    // `--listen` replaces the interface and port.
    if !extra.iter().any(|a| a.starts_with("--listen=")) {
        args.extend(["--ifce=127.0.0.1", &port[..]]);
    }
    args.extend_from_slice(extra);
    Httpout::start(&args, 1)
}

fn same(a: &Path, b: &Path) {
    let (x, y) = (std::fs::read(a).unwrap(), std::fs::read(b).unwrap());
    assert!(x == y, "{} and {} differ", a.display(), b.display());
}

#[test]
fn files_directories_and_stdin_arrive_byte_for_byte() {
    let dir = tempfile::tempdir().unwrap();
    let (src, dst) = (dir.path().join("src"), dir.path().join("dst"));
    std::fs::create_dir_all(src.join("video/720p")).unwrap();
    std::fs::create_dir_all(&dst).unwrap();
    make_file(&src.join("big.bin"), 5_000_000, 1);
    make_file(&src.join("video/720p/seg 1.m4s"), 300_000, 2);
    make_file(&src.join("video/live.mpd"), 2_000, 3);
    let server = origin(&dst, 0, &[]);
    let url = server.url().to_owned();

    let big = src.join("big.bin");
    let (code, err) = push(
        &[
            "--hmode=push",
            "-i",
            big.to_str().unwrap(),
            &format!("--dst={url}/one/big.bin"),
        ],
        None,
    );
    assert_eq!(code, Some(0), "{err}");
    same(&big, &dst.join("one/big.bin"));

    // GPAC's spelling: the destination as an -o URL with :hmode=push.
    let (code, err) = push(
        &[
            "-i",
            src.to_str().unwrap(),
            "-o",
            &format!("{url}/tree/:hmode=push"),
        ],
        None,
    );
    assert_eq!(code, Some(0), "{err}");
    for rel in ["big.bin", "video/720p/seg 1.m4s", "video/live.mpd"] {
        same(&src.join(rel), &dst.join("tree").join(rel));
    }
    assert!(err.contains("pushed 3 file(s)"), "{err}");

    // --post: the same bytes by POST.
    let (code, err) = push(
        &[
            "--hmode=push",
            "--post",
            "-i",
            big.to_str().unwrap(),
            &format!("--dst={url}/post.bin"),
        ],
        None,
    );
    assert_eq!(code, Some(0), "{err}");
    same(&big, &dst.join("post.bin"));

    // A FIFO: streamed as its writer writes.
    let fifo = dir.path().join("in.fifo");
    httpout_e2e::mkfifo(&fifo);
    let writer = {
        let (fifo, big) = (fifo.clone(), big.clone());
        std::thread::spawn(move || {
            let data = std::fs::read(big).unwrap();
            let mut f = std::fs::OpenOptions::new().write(true).open(fifo).unwrap();
            for piece in data.chunks(500_000) {
                f.write_all(piece).unwrap();
                std::thread::sleep(Duration::from_millis(20));
            }
        })
    };
    let (code, err) = push(
        &[
            "--hmode=push",
            "-i",
            fifo.to_str().unwrap(),
            &format!("--dst={url}/fifo.bin"),
        ],
        None,
    );
    writer.join().unwrap();
    assert_eq!(code, Some(0), "{err}");
    same(&big, &dst.join("fifo.bin"));

    // stdin: one chunked upload; with --cte=false, spooled and sent with a length.
    let data = std::fs::read(&big).unwrap();
    for cte in ["true", "false"] {
        let (code, err) = push(
            &[
                "--hmode=push",
                "-i",
                "-",
                &format!("--cte={cte}"),
                &format!("--dst={url}/stdin-{cte}.bin"),
            ],
            Some(&data),
        );
        assert_eq!(code, Some(0), "{err}");
        same(&big, &dst.join(format!("stdin-{cte}.bin")));
    }
}

/// nginx with WebDAV on a free port, serving `root`; `/forbidden/` answers
/// 403 with a message.
struct Nginx {
    child: Child,
    port: u16,
}

impl Nginx {
    fn start(dir: &Path, root: &Path) -> Self {
        let port = free_port();
        std::fs::create_dir_all(dir.join("logs")).unwrap();
        std::fs::create_dir_all(dir.join("body")).unwrap();
        let conf = dir.join("nginx.conf");
        std::fs::write(
            &conf,
            format!(
                "worker_processes 1;\npid {d}/nginx.pid;\nerror_log {d}/logs/error.log;\n\
                 events {{ worker_connections 64; }}\n\
                 http {{\n access_log off;\n client_body_temp_path {d}/body;\n\
                 server {{\n  listen 127.0.0.1:{port};\n  root {r};\n\
                 location /forbidden/ {{ return 403 \"no uploads here\\n\"; }}\n\
                 location / {{ dav_methods PUT DELETE; create_full_put_path on; client_max_body_size 0; }}\n\
                 }}\n}}\n",
                d = dir.display(),
                r = root.display()
            ),
        )
        .unwrap();
        let mut args = vec!["-p".to_owned(), dir.display().to_string(), "-c".to_owned()];
        args.push(conf.display().to_string());
        args.push("-g".to_owned());
        // As root, workers would run as nobody and could not write here.
        let user = if is_root() { "user root; " } else { "" };
        args.push(format!("{user}daemon off;"));
        let child = Command::new("nginx")
            .args(&args)
            .stderr(Stdio::null())
            .spawn()
            .expect("nginx is installed (see scripts/test.sh)");
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "nginx did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        Self { child, port }
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

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0"))
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn nginx_dav_takes_the_same_bytes_and_a_403_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let (src, root) = (dir.path().join("src"), dir.path().join("www"));
    std::fs::create_dir_all(src.join("a/b")).unwrap();
    std::fs::create_dir_all(&root).unwrap();
    make_file(&src.join("a/b/seg.m4s"), 1_000_000, 4);
    make_file(&src.join("top.mp4"), 200_000, 5);
    let nginx = Nginx::start(&dir.path().join("nginx"), &root);
    let base = format!("http://127.0.0.1:{}", nginx.port);
    let (code, err) = push(
        &[
            "--hmode=push",
            "-i",
            src.to_str().unwrap(),
            &format!("--dst={base}/up/"),
        ],
        None,
    );
    assert_eq!(code, Some(0), "{err}");
    same(&src.join("a/b/seg.m4s"), &root.join("up/a/b/seg.m4s"));
    same(&src.join("top.mp4"), &root.join("up/top.mp4"));
    // A chunked stream into nginx too.
    let data = std::fs::read(src.join("top.mp4")).unwrap();
    let (code, err) = push(
        &[
            "--hmode=push",
            "-i",
            "-",
            &format!("--dst={base}/stdin.mp4"),
        ],
        Some(&data),
    );
    assert_eq!(code, Some(0), "{err}");
    same(&src.join("top.mp4"), &root.join("stdin.mp4"));

    // A 403 is not retried, and is reported with the URL, status and message.
    let top = src.join("top.mp4");
    let started = Instant::now();
    let (code, err) = push(
        &[
            "--hmode=push",
            "-i",
            top.to_str().unwrap(),
            &format!("--dst={base}/forbidden/x.mp4"),
        ],
        None,
    );
    assert_eq!(code, Some(1), "{err}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "no retries for a 403"
    );
    assert!(
        err.contains(&format!(
            "{base}/forbidden/x.mp4: 403 Forbidden: no uploads here"
        )),
        "{err}"
    );
}

#[test]
fn an_origin_that_starts_late_is_retried() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("late.bin");
    make_file(&file, 100_000, 6);
    let dst = dir.path().join("dst");
    std::fs::create_dir_all(&dst).unwrap();
    let port = free_port();
    let url = format!("--dst=http://127.0.0.1:{port}/late.bin");
    let args = ["--hmode=push", "-i", file.to_str().unwrap(), &url];
    binary(); // built before the clock starts
    let pusher = std::thread::scope(|s| {
        let pusher = s.spawn(|| push(&args, None));
        std::thread::sleep(Duration::from_millis(1200));
        let _server = origin(&dst, port, &[]);
        pusher.join().unwrap()
    });
    let (code, err) = pusher;
    assert_eq!(code, Some(0), "{err}");
    assert!(err.contains("retrying in"), "{err}");
    same(&file, &dst.join("late.bin"));
}

/// Writes `path` in `parts` pieces, `gap` apart, then closes it.
fn write_slowly(path: &Path, data: &[u8], parts: usize, gap: Duration) {
    let mut f = std::fs::File::create(path).unwrap();
    for piece in data.chunks(data.len().div_ceil(parts)) {
        f.write_all(piece).unwrap();
        f.flush().unwrap();
        std::thread::sleep(gap);
    }
}

#[test]
fn a_directory_being_written_is_pushed_as_it_grows_and_read_live() {
    let dir = tempfile::tempdir().unwrap();
    let (src, dst) = (dir.path().join("src"), dir.path().join("dst"));
    std::fs::create_dir_all(&src).unwrap();
    std::fs::create_dir_all(&dst).unwrap();
    make_file(&src.join("init.mp4"), 5_000, 7);
    let server = origin(&dst, 0, &["--reqlog=PUT"]);
    let url = server.url().to_owned();
    let mut pusher = Command::new(binary())
        .args(["--hmode=push", "--watch", "--delete", "-i"])
        .arg(&src)
        .arg(format!("--dst={url}/live/"))
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The existing file is pushed first.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !dst.join("live/init.mp4").exists() {
        assert!(Instant::now() < deadline, "init.mp4 not pushed");
        std::thread::sleep(Duration::from_millis(50));
    }
    // A segment written in 6 pieces, 300 ms apart.
    let mut data = vec![0u8; 600_000];
    data.iter_mut()
        .enumerate()
        .for_each(|(i, b)| *b = (i % 251) as u8);
    let seg = src.join("seg1.m4s");
    let writer = {
        let data = data.clone();
        std::thread::spawn(move || write_slowly(&seg, &data, 6, Duration::from_millis(300)))
    };
    // Read it live from the origin while it is pushed: the first bytes
    // come long before the writer is done.
    std::thread::sleep(Duration::from_millis(400));
    let started = Instant::now();
    let mut s = TcpStream::connect(url.trim_start_matches("http://")).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(s, "GET /live/seg1.m4s HTTP/1.0\r\n\r\n").unwrap();
    let mut first = [0u8; 4096];
    let n = s.read(&mut first).unwrap();
    assert!(n > 0);
    let first_at = started.elapsed();
    let mut rest = Vec::new();
    s.read_to_end(&mut rest).unwrap();
    writer.join().unwrap();
    assert!(
        first_at < Duration::from_millis(1200),
        "first bytes after {first_at:?}: not live"
    );
    let mut got = first[..n].to_vec();
    got.extend_from_slice(&rest);
    let body = &got[got.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4..];
    assert!(
        body == data.as_slice(),
        "the live reader got the whole segment"
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::fs::read(dst.join("live/seg1.m4s")).ok().as_deref() != Some(data.as_slice()) {
        assert!(
            Instant::now() < deadline,
            "seg1.m4s not complete at the origin"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // A manifest published by rename is pushed once, whole.
    std::fs::write(src.join("live.mpd.tmp"), "<MPD/>").unwrap();
    std::fs::rename(src.join("live.mpd.tmp"), src.join("live.mpd")).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::fs::read_to_string(dst.join("live/live.mpd"))
        .ok()
        .as_deref()
        != Some("<MPD/>")
    {
        assert!(Instant::now() < deadline, "live.mpd not pushed");
        std::thread::sleep(Duration::from_millis(50));
    }
    // --delete: a pushed file removed locally is deleted at the origin.
    std::fs::remove_file(src.join("init.mp4")).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while dst.join("live/init.mp4").exists() {
        assert!(
            Instant::now() < deadline,
            "init.mp4 not deleted at the origin"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(300));
    let _ = Command::new("kill").arg(pusher.id().to_string()).status();
    let _ = pusher.wait();
    let log = server.stderr();
    // Each file was PUT once: no second upload of the same content, and
    // the .tmp file was not pushed.
    for path in ["/live/init.mp4", "/live/seg1.m4s", "/live/live.mpd"] {
        let puts = log
            .lines()
            .filter(|l| l.contains(&format!("PUT {path} ")) && l.contains(" 20"))
            .count();
        assert_eq!(puts, 1, "{path} PUT {puts} times:\n{log}");
    }
    assert!(!log.contains("live.mpd.tmp"), "{log}");
}

#[test]
fn pushes_over_tls_and_http2_trusting_the_cafile() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = httpout_e2e::self_signed(dir.path());
    let (src, dst) = (dir.path().join("a.bin"), dir.path().join("dst"));
    std::fs::create_dir_all(&dst).unwrap();
    make_file(&src, 1_000_000, 8);
    let server = origin(
        &dst,
        0,
        &[
            "--listen=https://127.0.0.1:0",
            &format!("--cert={}", cert.display()),
            &format!("--pkey={}", key.display()),
            "--reqlog=PUT",
        ],
    );
    let url = server.url().replace("127.0.0.1", "localhost");
    // Without the CA the certificate is refused, and not retried as if the
    // network had failed for ever: reported.
    let (code, err) = push(
        &[
            "--hmode=push",
            "-i",
            src.to_str().unwrap(),
            &format!("--dst={url}/a.bin"),
        ],
        None,
    );
    assert_eq!(code, Some(1), "{err}");
    assert!(err.to_lowercase().contains("certificate"), "{err}");
    // With it: over HTTP/2 (ALPN), byte for byte.
    let (code, err) = push(
        &[
            "--hmode=push",
            "-i",
            src.to_str().unwrap(),
            &format!("--cafile={}", cert.display()),
            &format!("--dst={url}/a.bin"),
        ],
        None,
    );
    assert_eq!(code, Some(0), "{err}");
    same(&src, &dst.join("a.bin"));
    assert!(
        server.stderr().contains("PUT /a.bin HTTP/2"),
        "{}",
        server.stderr()
    );
}

#[test]
fn a_progress_line_on_a_terminal_only() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("z.bin");
    make_file(&file, 20_000_000, 9);
    // A consumer that waits a second before reading: the upload takes a while.
    let server = Httpout::start(
        &[
            "--ifce=127.0.0.1",
            "--port=0",
            "--hmode=source",
            "--exec=sleep 1; cat >/dev/null",
        ],
        1,
    );
    let dst = format!("--dst={}/z.bin", server.url());
    let cmd = format!(
        "{} --hmode=push -i {} {dst}",
        binary().display(),
        file.display()
    );
    // `script` gives the pusher a terminal.
    let out = Command::new("timeout")
        .args(["30", "script", "-qec", &cmd, "/dev/null"])
        .output()
        .unwrap();
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(shown.contains("MiB/s") && shown.contains("ETA"), "{shown}");
    assert!(
        shown.contains("pushed 1 file(s), 20000000 bytes"),
        "{shown}"
    );
    // Without a terminal: the summary only.
    let (code, err) = push(&["--hmode=push", "-i", file.to_str().unwrap(), &dst], None);
    assert_eq!(code, Some(0), "{err}");
    assert!(!err.contains("ETA"), "{err}");
}

#[test]
fn ffmpeg_dash_written_locally_is_pushed_and_plays_from_the_origin() {
    let dir = tempfile::tempdir().unwrap();
    let (out, dst) = (dir.path().join("out"), dir.path().join("origin"));
    std::fs::create_dir_all(&out).unwrap();
    std::fs::create_dir_all(&dst).unwrap();
    let server = origin(&dst, 0, &[]);
    let url = server.url().to_owned();
    let mut pusher = Command::new(binary())
        .args(["--hmode=push", "--watch", "-i"])
        .arg(&out)
        .arg(format!("--dst={url}/live/"))
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    // The packager writes low-latency DASH locally, as it would for a CDN.
    let status = Command::new("timeout")
        .args(["30", "ffmpeg", "-hide_banner", "-loglevel", "error", "-re"])
        .args([
            "-f",
            "lavfi",
            "-i",
            "testsrc=size=320x240:rate=25",
            "-t",
            "4",
        ])
        .args([
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-tune",
            "zerolatency",
            "-g",
            "25",
        ])
        .args([
            "-f",
            "dash",
            "-seg_duration",
            "1",
            "-streaming",
            "1",
            "-ldash",
            "1",
        ])
        .arg(out.join("live.mpd"))
        .status()
        .unwrap();
    assert!(status.success());
    // Every file the packager wrote reaches the origin, byte for byte.
    let mut names: Vec<_> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    names.sort();
    assert!(names.len() >= 4, "{names:?}");
    let deadline = Instant::now() + Duration::from_secs(10);
    for name in &names {
        let (local, remote) = (out.join(name), dst.join("live").join(name));
        while std::fs::read(&remote).ok() != std::fs::read(&local).ok() {
            assert!(Instant::now() < deadline, "{name:?} differs at the origin");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    // And a player reads the stream from the origin.
    let probe = Command::new("timeout")
        .args([
            "15",
            "ffprobe",
            "-v",
            "error",
            "-show_entries",
            "stream=codec_name,width",
        ])
        .args(["-of", "csv=p=0"])
        .arg(format!("{url}/live/live.mpd"))
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&probe.stdout).contains("h264,320"),
        "{}",
        String::from_utf8_lossy(&probe.stderr)
    );
    let _ = Command::new("kill").arg(pusher.id().to_string()).status();
    let _ = pusher.wait();
}

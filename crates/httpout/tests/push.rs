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

mod support;

use httpout_test::media;
use support::{Httpout, Nginx, binary, curl, free_port};

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
    support::mkfifo(&fifo);
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

#[test]
fn nginx_dav_takes_the_same_bytes_and_a_403_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let (src, root) = (dir.path().join("src"), dir.path().join("www"));
    std::fs::create_dir_all(src.join("a/b")).unwrap();
    std::fs::create_dir_all(&root).unwrap();
    make_file(&src.join("a/b/seg.m4s"), 1_000_000, 4);
    make_file(&src.join("top.mp4"), 200_000, 5);
    let nginx = Nginx::start(
        &dir.path().join("nginx"),
        &format!(
            "  root {};\n  location /forbidden/ {{ return 403 \"no uploads here\\n\"; }}\n  \
             location / {{ dav_methods PUT DELETE; create_full_put_path on; client_max_body_size 0; }}",
            root.display()
        ),
    );
    let base = nginx.url();
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
    assert!(!err.contains("retrying"), "no retries for a 403: {err}");
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
    // The origin starts once the pusher has failed to reach it and said
    // it will retry, however long that took.
    let pusher = Httpout::start(&args, 0);
    wait_until("a first failed attempt", Duration::from_secs(20), || {
        pusher.stderr().contains("retrying in")
    });
    let _server = origin(&dst, port, &[]);
    let (code, err) = pusher.wait_exit(Duration::from_secs(40));
    assert_eq!(code, Some(0), "{err}");
    same(&file, &dst.join("late.bin"));
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
    // A segment whose writer stops after its first piece until told to go on.
    let mut data = vec![0u8; 600_000];
    data.iter_mut()
        .enumerate()
        .for_each(|(i, b)| *b = (i % 251) as u8);
    let seg = src.join("seg1.m4s");
    let (go_on, held) = std::sync::mpsc::channel::<()>();
    let writer = {
        let data = data.clone();
        std::thread::spawn(move || {
            let mut f = std::fs::File::create(&seg).unwrap();
            let (head, rest) = data.split_at(100_000);
            f.write_all(head).unwrap();
            held.recv_timeout(Duration::from_secs(20)).unwrap();
            for piece in rest.chunks(100_000) {
                f.write_all(piece).unwrap();
                std::thread::sleep(Duration::from_millis(50));
            }
        })
    };
    // Read it live from the origin while it is pushed: the first bytes
    // come while the writer is held in the middle of the file.
    let (first, mut s) = first_body_bytes(url.trim_start_matches("http://"), "/live/seg1.m4s");
    assert!(data.starts_with(&first), "the segment's first bytes");
    go_on.send(()).unwrap();
    let mut rest = Vec::new();
    s.read_to_end(&mut rest).unwrap();
    writer.join().unwrap();
    let mut body = first;
    body.extend_from_slice(&rest);
    assert!(body == data, "the live reader got the whole segment");
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
    // The request log's last line in (stderr is read by a thread).
    let log = server.stderr_once("PUT /live/live.mpd ");
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
    let (cert, key) = support::self_signed(dir.path());
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
    let (code, err) = push_file(&src, &format!("{url}/a.bin"), &[]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.to_lowercase().contains("certificate"), "{err}");
    // With it: over HTTP/2 (ALPN), byte for byte.
    let cafile = format!("--cafile={}", cert.display());
    let (code, err) = push_file(&src, &format!("{url}/a.bin"), &[&cafile]);
    assert_eq!(code, Some(0), "{err}");
    same(&src, &dst.join("a.bin"));
    let log = server.stderr_once("PUT /a.bin HTTP/2");
    assert!(log.contains("PUT /a.bin HTTP/2"), "{log}");
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
    let _pusher = watching_pusher(&out, &dst, &url);
    // The packager writes low-latency DASH locally, as it would for a CDN.
    media::ll_dash(4, 1, &[], out.join("live.mpd"))
        .finish(Duration::from_secs(30))
        .unwrap_or_else(|e| panic!("{e}"));
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
    let probed = media::probe(format!("{url}/live/live.mpd"), "stream=codec_name,width")
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        media::field(&probed, "codec_name") == Some("h264")
            && media::field(&probed, "width") == Some("320"),
        "{probed}"
    );
}

/// A child process killed (and reaped) when dropped.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Waits (bounded: 30 s) for `child` to exit.
fn wait_child(child: &mut Child, what: &str) -> std::process::ExitStatus {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(Instant::now() < deadline, "{what} did not finish");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Pushes the file `src` to `dst` with `extra` options: (exit code, stderr).
fn push_file(src: &Path, dst: &str, extra: &[&str]) -> (Option<i32>, String) {
    let dst = format!("--dst={dst}");
    let mut args = vec!["--hmode=push", "-i", src.to_str().unwrap(), &dst];
    args.extend_from_slice(extra);
    push(&args, None)
}

/// Sends `kill -NAME` to `pid`.
fn kill(name: &str, pid: u32) {
    let status = Command::new("kill")
        .args([&format!("-{name}"), &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success(), "kill -{name} {pid}");
}

/// Waits (bounded) until `done` holds, polling.
fn wait_until(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !done() {
        assert!(Instant::now() < deadline, "{what}: not within {limit:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A pusher following `src` into `url/live/`; returns once its watch is in
/// place (a file written after its start has reached the origin).
fn watching_pusher(src: &Path, dst: &Path, url: &str) -> Httpout {
    let src_arg = src.to_str().unwrap();
    let pusher = Httpout::start(
        &[
            "--hmode=push",
            "--watch",
            "-i",
            src_arg,
            &format!("--dst={url}/live/"),
        ],
        0,
    );
    // The watch is set before the first pass: once this file is at the
    // origin (by either), every later write is seen.
    std::fs::write(src.join("ready"), b"ready").unwrap();
    wait_until("the pusher's start", Duration::from_secs(10), || {
        dst.join("live/ready").exists()
    });
    pusher
}

/// The first `.m4s.tmp` segment ffmpeg is writing in `out`, with bytes in it.
fn segment_being_written(out: &Path) -> Option<String> {
    let mut names: Vec<String> = std::fs::read_dir(out)
        .ok()?
        .filter_map(|e| e.ok())
        .filter(|e| e.metadata().is_ok_and(|m| m.len() > 0))
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("chunk-") && n.ends_with(".m4s.tmp"))
        .collect();
    names.sort();
    names.into_iter().next()
}

/// GETs `path` from the origin until it answers 200 with body bytes (a
/// growing file: the answer goes on): the first body bytes, and the
/// connection for the rest.
fn first_body_bytes(addr: &str, path: &str) -> (Vec<u8>, TcpStream) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        assert!(Instant::now() < deadline, "{path} never served");
        let mut s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        write!(s, "GET {path} HTTP/1.0\r\n\r\n").unwrap();
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            let n = s.read(&mut buf).unwrap_or(0);
            got.extend_from_slice(&buf[..n]);
            let body_at = got.windows(4).position(|w| w == b"\r\n\r\n").map(|p| p + 4);
            match body_at {
                Some(at) if got.get(8..13) == Some(b" 200 ") && got.len() > at => {
                    return (got[at..].to_vec(), s);
                }
                _ if n == 0 => break,
                _ => {}
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn ffmpeg_segments_reach_the_origin_while_written_before_their_rename() {
    let dir = tempfile::tempdir().unwrap();
    let (out, dst) = (dir.path().join("out"), dir.path().join("origin"));
    std::fs::create_dir_all(&out).unwrap();
    std::fs::create_dir_all(&dst).unwrap();
    let server = origin(&dst, 0, &["--reqlog=PUT"]);
    let url = server.url().to_owned();
    let _pusher = watching_pusher(&out, &dst, &url);
    // ffmpeg's own low-latency DASH: each segment is written as
    // NAME.m4s.tmp, fragment by fragment, and renamed when complete.
    let mut ffmpeg = media::ll_dash(6, 2, &[], out.join("live.mpd"));
    let pid = ffmpeg.id();
    // Freeze ffmpeg in the middle of a segment: it cannot rename it until
    // it is let go.
    let mut frozen = None;
    let deadline = Instant::now() + Duration::from_secs(20);
    while frozen.is_none() {
        assert!(Instant::now() < deadline, "no segment being written seen");
        if let Some(tmp) = segment_being_written(&out) {
            kill("STOP", pid);
            if out.join(&tmp).exists() {
                frozen = Some(tmp);
            } else {
                kill("CONT", pid);
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let tmp = frozen.unwrap();
    let name = tmp.trim_end_matches(".tmp").to_owned();
    // The origin serves the segment's first bytes while it is still
    // NAME.tmp here.
    let (first, _) = first_body_bytes(url.trim_start_matches("http://"), &format!("/live/{name}"));
    let local = std::fs::read(out.join(&tmp)).unwrap();
    assert!(
        local.starts_with(&first),
        "the origin's first bytes are the segment's"
    );
    assert!(!out.join(&name).exists(), "{name} renamed before the check");
    kill("CONT", pid);
    ffmpeg
        .finish(Duration::from_secs(30))
        .unwrap_or_else(|e| panic!("{e}"));
    // Every file ffmpeg left reaches the origin byte for byte, each
    // segment in one PUT, and no .tmp name is ever pushed.
    let mut names: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert!(names.len() >= 4, "{names:?}");
    for file in &names {
        wait_until(
            &format!("{file} byte for byte at the origin"),
            Duration::from_secs(10),
            || {
                std::fs::read(dst.join("live").join(file)).ok()
                    == std::fs::read(out.join(file)).ok()
            },
        );
    }
    let log = server.stderr_once(&format!("PUT /live/{name} 20"));
    let puts = log
        .lines()
        .filter(|l| l.contains(&format!("PUT /live/{name} 20")))
        .count();
    assert_eq!(puts, 1, "{name} PUT {puts} times:\n{log}");
    assert!(
        !log.contains(".m4s.tmp") && !log.contains(".mpd.tmp"),
        "{log}"
    );
}

#[test]
fn a_signal_stops_a_push_retrying_a_down_origin() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    std::fs::create_dir_all(&src).unwrap();
    let file = src.join("a.bin");
    make_file(&file, 10_000, 10);
    // Nobody listens there: every attempt is refused, and the back-off
    // would go on for 15 s.
    let port = free_port();
    for (input, dst, watch) in [
        (&file, format!("--dst=http://127.0.0.1:{port}/a.bin"), None),
        (
            &src,
            format!("--dst=http://127.0.0.1:{port}/dir/"),
            Some("--watch"),
        ),
    ] {
        let mut args = vec!["--hmode=push", "-i", input.to_str().unwrap(), &dst];
        args.extend(watch);
        let pusher = Httpout::start(&args, 0);
        wait_until("a retry", Duration::from_secs(10), || {
            pusher.stderr().contains("retrying in")
        });
        pusher.signal("TERM");
        // Far less than the back-off left: the stop does not wait for it.
        let (code, err) = pusher.wait_exit(Duration::from_secs(5));
        assert_eq!(code, Some(1), "{err}");
        assert!(err.contains("not pushed: stopped by a signal"), "{err}");
        assert!(err.contains("pushed 0 file(s), 0 bytes; 1 failed"), "{err}");
    }
}

#[test]
fn the_cte_false_spool_has_no_name_in_tmpdir() {
    let dir = tempfile::tempdir().unwrap();
    let (spool_dir, dst) = (dir.path().join("tmp"), dir.path().join("dst"));
    std::fs::create_dir_all(&spool_dir).unwrap();
    std::fs::create_dir_all(&dst).unwrap();
    let spool_dir = spool_dir.canonicalize().unwrap();
    let server = origin(&dst, 0, &[]);
    let data: Vec<u8> = (0..2_000_000u32).map(|i| (i % 253) as u8).collect();
    let child = Command::new(binary())
        .args(["--hmode=push", "-i", "-", "--cte=false"])
        .arg(format!("--dst={}/spooled.bin", server.url()))
        .env("TMPDIR", &spool_dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut child = Killed(child);
    let mut stdin = child.0.stdin.take().unwrap();
    stdin.write_all(&data[..1_000_000]).unwrap();
    // The spool is open in $TMPDIR...
    let fds = format!("/proc/{}/fd", child.0.id());
    wait_until("the spool file", Duration::from_secs(10), || {
        std::fs::read_dir(&fds).unwrap().any(|fd| {
            std::fs::read_link(fd.unwrap().path()).is_ok_and(|to| to.starts_with(&spool_dir))
        })
    });
    // ... and has no name there that anyone could guess or plant a link at.
    let names: Vec<_> = std::fs::read_dir(&spool_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(names.is_empty(), "named spool files: {names:?}");
    stdin.write_all(&data[1_000_000..]).unwrap();
    drop(stdin);
    assert!(wait_child(&mut child.0, "the push").success());
    assert!(std::fs::read(dst.join("spooled.bin")).unwrap() == data);
}

/// A self-signed certificate made as people make them, with `openssl req
/// -x509` (a CA certificate, which WebPKI refuses as a server's own).
fn openssl_self_signed(dir: &Path, name: &str) -> (std::path::PathBuf, std::path::PathBuf) {
    let (cert, key) = (
        dir.join(format!("{name}.pem")),
        dir.join(format!("{name}.key")),
    );
    let status = Command::new("openssl")
        .args(["req", "-x509", "-newkey", "ec"])
        .args(["-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"])
        .args(["-subj", "/CN=localhost", "-days", "2"])
        .args(["-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stderr(Stdio::null())
        .status()
        .expect("the openssl command is installed");
    assert!(status.success(), "openssl req -x509 failed");
    (cert, key)
}

#[test]
fn a_self_signed_openssl_certificate_given_as_cafile_is_pinned() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = openssl_self_signed(dir.path(), "origin");
    let (other, _) = openssl_self_signed(dir.path(), "other");
    let (src, dst) = (dir.path().join("a.bin"), dir.path().join("dst"));
    std::fs::create_dir_all(&dst).unwrap();
    make_file(&src, 300_000, 11);
    let server = origin(
        &dst,
        0,
        &[
            "--listen=https://127.0.0.1:0",
            &format!("--cert={}", cert.display()),
            &format!("--pkey={}", key.display()),
        ],
    );
    let by_ip = server.url().to_owned();
    let by_name = by_ip.replace("127.0.0.1", "localhost");
    let cafile = format!("--cafile={}", cert.display());
    for (base, name) in [(&by_name, "name.bin"), (&by_ip, "ip.bin")] {
        let (code, err) = push_file(&src, &format!("{base}/{name}"), &[&cafile]);
        assert_eq!(code, Some(0), "{err}");
        same(&src, &dst.join(name));
    }
    // Another self-signed certificate is no key to this server.
    let other = format!("--cafile={}", other.display());
    let (code, err) = push_file(&src, &format!("{by_name}/other.bin"), &[&other]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.to_lowercase().contains("certificate"), "{err}");
    assert!(!dst.join("other.bin").exists());
}

/// `--metrics` in push mode: a pusher that follows a directory serves its
/// counters, and they count what it pushed; the signals an operator sends
/// a server do not end it.
#[test]
fn a_watching_pusher_serves_its_metrics() {
    let src = tempfile::tempdir().unwrap();
    let dst = tempfile::tempdir().unwrap();
    let server = origin(dst.path(), 0, &[]);
    let pusher = Httpout::start(
        &[
            "--hmode=push",
            "--watch",
            "-i",
            src.path().to_str().unwrap(),
            &format!("--dst={}/live/", server.url()),
            "--ifce=127.0.0.1",
            "--port=0",
            "--metrics=/metrics",
        ],
        1,
    );
    for name in ["a.bin", "b.bin"] {
        make_file(&src.path().join(name), 10_000, 3);
    }
    wait_until("both files at the origin", Duration::from_secs(10), || {
        ["a.bin", "b.bin"].iter().all(|n| {
            dst.path()
                .join("live")
                .join(n)
                .metadata()
                .is_ok_and(|m| m.len() == 10_000)
        })
    });
    let success = "httpout_push_attempts_total{outcome=\"success\"}";
    let mut count = 0.0;
    wait_until("the successes counted", Duration::from_secs(10), || {
        let out = curl(&[&format!("{}/metrics", pusher.url())]);
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        count = text
            .lines()
            .find_map(|l| l.strip_prefix(success))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0.0);
        count >= 2.0
    });
    assert!(count >= 2.0, "{count}");
    // SIGHUP and SIGUSR1 (systemctl reload, logrotate) do not kill it.
    pusher.signal("HUP");
    pusher.signal("USR1");
    let log = pusher.stderr_once("SIGHUP: the push client");
    assert!(log.contains("has no settings to reload"), "{log}");
    let out = curl(&[
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        &format!("{}/x", pusher.url()),
    ]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "404");
}

// ----- redundant ingest: --dst=URL1,URL2 -----

/// An origin that accepts connections and never reads a byte of them
/// (nor answers): an upload to it stalls. Holds at most 64 connections,
/// for at most 120 s; gone when dropped.
struct Stalled {
    port: u16,
    done: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl Stalled {
    fn start() -> Self {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let stop = std::sync::Arc::clone(&done);
        std::thread::spawn(move || {
            let mut held = Vec::new();
            let deadline = Instant::now() + Duration::from_secs(120);
            while !stop.load(std::sync::atomic::Ordering::Relaxed) && Instant::now() < deadline {
                if held.len() < 64 {
                    if let Ok((s, _)) = listener.accept() {
                        held.push(s);
                    }
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        });
        Self { port, done }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for Stalled {
    fn drop(&mut self) {
        self.done.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

/// Whether `dir/rel` holds exactly the bytes of `src/rel` for every `rel`.
fn all_there(src: &Path, dir: &Path, rels: &[&str]) -> bool {
    rels.iter()
        .all(|rel| std::fs::read(dir.join(rel)).ok() == Some(std::fs::read(src.join(rel)).unwrap()))
}

#[test]
fn a_directory_pushed_to_two_origins_arrives_whole_at_both() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    let (one, two) = (dir.path().join("one"), dir.path().join("two"));
    for d in [&src.join("video"), &one, &two] {
        std::fs::create_dir_all(d).unwrap();
    }
    let rels = ["big.bin", "video/seg 1.m4s", "video/live.mpd"];
    for (i, rel) in rels.iter().enumerate() {
        make_file(&src.join(rel), [3_000_000, 200_000, 1_000][i], i as u8);
    }
    let (a, b) = (origin(&one, 0, &[]), origin(&two, 0, &[]));
    let dst = format!("--dst={}/tree/,{}/tree/", a.url(), b.url());
    let (code, err) = push(&["--hmode=push", "-i", src.to_str().unwrap(), &dst], None);
    assert_eq!(code, Some(0), "{err}");
    assert!(
        all_there(&src, &one.join("tree"), &rels),
        "origin one: {err}"
    );
    assert!(
        all_there(&src, &two.join("tree"), &rels),
        "origin two: {err}"
    );
    // One summary line per destination, each named.
    for url in [a.url(), b.url()] {
        let line = format!("httpout: {url}/tree/: pushed 3 file(s), 3201000 bytes; 0 failed");
        assert!(err.contains(&line), "{line} in:\n{err}");
    }
}

#[test]
fn origins_down_or_stalled_do_not_delay_the_healthy_one() {
    let dir = tempfile::tempdir().unwrap();
    let (src, dst) = (dir.path().join("src"), dir.path().join("dst"));
    std::fs::create_dir_all(&src).unwrap();
    std::fs::create_dir_all(&dst).unwrap();
    // A big file, more than a stalled socket's buffers take in, and two
    // small ones.
    let rels = ["big.bin", "a.m4s", "b.m4s"];
    for (i, rel) in rels.iter().enumerate() {
        make_file(&src.join(rel), [12_000_000, 50_000, 50_000][i], i as u8);
    }
    let healthy = origin(&dst, 0, &[]);
    let stalled = Stalled::start();
    // Nothing listens there: every attempt is refused, and retried for
    // 15.5 s of back-off.
    let refused = format!("http://127.0.0.1:{}", free_port());
    let timeout = 3;
    let urls = [
        format!("{}/in/", stalled.url()),
        format!("{refused}/in/"),
        format!("{}/in/", healthy.url()),
    ];
    let pusher = Httpout::start(
        &[
            "--hmode=push",
            "--watch",
            "-i",
            src.to_str().unwrap(),
            &format!("--dst={}", urls.join(",")),
            &format!("--timeout={timeout}"),
            "--ifce=127.0.0.1",
            "--port=0",
            "--metrics=/metrics",
        ],
        1,
    );
    // The healthy origin gets every file within a few --timeout,
    // while the others are still failing (the refused one's back-off alone
    // is 15.5 s; the stalled one is cut after --timeout and retried).
    let bound = Duration::from_secs(3 * timeout);
    wait_until("every file at the healthy origin", bound, || {
        all_there(&src, &dst.join("in"), &rels)
    });
    // Both failing destinations were tried and failed, named by URL.
    wait_until(
        "retries of both failing destinations",
        Duration::from_secs(10 * timeout),
        || {
            let err = pusher.stderr();
            err.lines()
                .any(|l| l.contains(&urls[0]) && l.contains("retrying in"))
                && err
                    .lines()
                    .any(|l| l.contains(&urls[1]) && l.contains("retrying in"))
        },
    );
    // Counted by destination too, beside the totals.
    let out = curl(&[&format!("{}/metrics", pusher.url())]);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let healthy_ok = format!(
        "httpout_push_destination_attempts_total{{destination=\"{}\",outcome=\"success\"}} 3",
        urls[2]
    );
    assert!(text.contains(&healthy_ok), "{healthy_ok} in:\n{text}");
    for url in &urls[..2] {
        let retried = format!(
            "httpout_push_destination_attempts_total{{destination=\"{url}\",outcome=\"retry\"}}"
        );
        assert!(text.contains(&retried), "{retried} in:\n{text}");
    }
    let (code, err) = pusher.terminate();
    assert_eq!(code, Some(1), "{err}");
    // The report: every file at the healthy one, none at the others.
    let ok = format!(
        "httpout: {}: pushed 3 file(s), 12100000 bytes; 0 failed",
        urls[2]
    );
    assert!(err.contains(&ok), "{ok} in:\n{err}");
    for url in &urls[..2] {
        let line = format!("httpout: {url}: pushed 0 file(s), 0 bytes; 3 failed");
        assert!(err.contains(&line), "{line} in:\n{err}");
    }
}

#[test]
fn a_growing_stream_reaches_the_healthy_origin_while_the_other_stalls() {
    let dir = tempfile::tempdir().unwrap();
    let dst = dir.path().join("dst");
    std::fs::create_dir_all(&dst).unwrap();
    let fifo = dir.path().join("live.fifo");
    support::mkfifo(&fifo);
    let healthy = origin(&dst, 0, &[]);
    let stalled = Stalled::start();
    let timeout = 2;
    let urls = [
        format!("{}/live.ts", stalled.url()),
        format!("{}/live.ts", healthy.url()),
    ];
    let pusher = Httpout::start(
        &[
            "--hmode=push",
            "-i",
            fifo.to_str().unwrap(),
            &format!("--dst={}", urls.join(",")),
            &format!("--timeout={timeout}"),
        ],
        0,
    );
    // 24 MB written in pieces over a few seconds: more than the stalled
    // destination's queue (16 MiB) and socket buffers hold.
    let data: Vec<u8> = (0..24_000_000u32)
        .map(|i| i.wrapping_mul(2_654_435_761) as u8)
        .collect();
    // The writer's open blocks until the pusher opens the FIFO: waited
    // for with a bound, so that a pusher that never reads fails the test.
    let (written, done) = std::sync::mpsc::channel();
    {
        let data = data.clone();
        std::thread::spawn(move || {
            let mut f = std::fs::OpenOptions::new().write(true).open(fifo).unwrap();
            for piece in data.chunks(2_000_000) {
                f.write_all(piece).unwrap();
                std::thread::sleep(Duration::from_millis(100));
            }
            let _ = written.send(());
        });
    }
    done.recv_timeout(Duration::from_secs(60))
        .expect("the stream was not read to its end");
    // The input closed: the push ends within a few --timeout, the stalled
    // destination cut (behind by more than its queue, or silent for
    // --timeout), the healthy one whole.
    let (code, err) = pusher.wait_exit(Duration::from_secs(5 * timeout + 10));
    assert_eq!(code, Some(1), "{err}");
    assert!(
        std::fs::read(dst.join("live.ts")).ok().as_deref() == Some(data.as_slice()),
        "the healthy origin has the whole stream: {err}"
    );
    let ok = format!(
        "httpout: {}: pushed 1 file(s), 24000000 bytes; 0 failed",
        urls[1]
    );
    assert!(err.contains(&ok), "{ok} in:\n{err}");
    let failed = format!("httpout: {}: pushed 0 file(s), 0 bytes; 1 failed", urls[0]);
    assert!(err.contains(&failed), "{failed} in:\n{err}");
    assert!(
        err.lines()
            .any(|l| l.contains("push failed") && l.contains(&urls[0])),
        "{err}"
    );
}

#[test]
fn bad_dst_lists_are_refused_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a.bin");
    make_file(&file, 10, 1);
    for (value, expected) in [
        ("http://a/x,", "entry 2 is empty"),
        (",http://a/x", "entry 1 is empty"),
        ("http://a/x,ftp://b/x", "'ftp://b/x' is not"),
        ("http://a/x,b/x", "'b/x' is not"),
        (
            "http://a/x/,http://A:80/x",
            "'http://A:80/x' is given twice",
        ),
    ] {
        let dst = format!("--dst={value}");
        let (code, out, err) =
            support::run_to_exit(&["--hmode=push", "-i", file.to_str().unwrap(), &dst]);
        assert_eq!(code, Some(2), "{value}: {err}");
        assert!(out.is_empty(), "{out}");
        assert_eq!(err.lines().count(), 1, "{value}: {err}");
        let start = format!("httpout: invalid value '{value}' for --dst: expected ");
        assert!(err.starts_with(&start), "{value}: {err}");
        assert!(err.contains(expected), "{value}: {err}");
    }
}

#[test]
fn a_file_growing_in_a_watched_directory_reaches_the_healthy_origin_while_the_other_stalls() {
    let dir = tempfile::tempdir().unwrap();
    let (src, dst) = (dir.path().join("src"), dir.path().join("dst"));
    std::fs::create_dir_all(&src).unwrap();
    std::fs::create_dir_all(&dst).unwrap();
    let healthy = origin(&dst, 0, &[]);
    let stalled = Stalled::start();
    let timeout = 3;
    let urls = [
        format!("{}/live/", stalled.url()),
        format!("{}/live/", healthy.url()),
    ];
    let pusher = Httpout::start(
        &[
            "--hmode=push",
            "--watch",
            "-i",
            src.to_str().unwrap(),
            &format!("--dst={}", urls.join(",")),
            &format!("--timeout={timeout}"),
        ],
        0,
    );
    // The watch is set before the first pass: once this file is at the
    // healthy origin, every later write is seen.
    std::fs::write(src.join("ready"), b"ready").unwrap();
    wait_until("the pusher's start", Duration::from_secs(10), || {
        dst.join("live/ready").exists()
    });
    // A segment of 8 MB (more than the stalled socket's buffers), its
    // writer held after the first piece until told to go on.
    let data: Vec<u8> = (0..8_000_000u32).map(|i| (i % 251) as u8).collect();
    let seg = src.join("seg1.m4s");
    let (go_on, held) = std::sync::mpsc::channel::<()>();
    let (written, done) = std::sync::mpsc::channel::<()>();
    {
        let data = data.clone();
        std::thread::spawn(move || {
            let mut f = std::fs::File::create(&seg).unwrap();
            let (head, rest) = data.split_at(100_000);
            f.write_all(head).unwrap();
            if held.recv_timeout(Duration::from_secs(30)).is_err() {
                return;
            }
            for piece in rest.chunks(1_000_000) {
                f.write_all(piece).unwrap();
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = written.send(());
        });
    }
    // The healthy origin serves the segment's first bytes while its writer
    // is held: sent as written, not after the stalled destination.
    let addr = healthy.url().trim_start_matches("http://").to_owned();
    let (first, _reader) = first_body_bytes(&addr, "/live/seg1.m4s");
    assert!(data.starts_with(&first), "the segment's first bytes");
    go_on.send(()).unwrap();
    done.recv_timeout(Duration::from_secs(30))
        .expect("the writer finished");
    wait_until(
        "the whole segment at the healthy origin",
        Duration::from_secs(3 * timeout),
        || std::fs::read(dst.join("live/seg1.m4s")).ok().as_deref() == Some(data.as_slice()),
    );
    // The stalled destination is cut after --timeout and retried, named.
    wait_until(
        "a retry of the stalled destination",
        Duration::from_secs(10 * timeout),
        || {
            pusher
                .stderr()
                .lines()
                .any(|l| l.contains(&urls[0]) && l.contains("retrying in"))
        },
    );
    let (code, err) = pusher.terminate();
    assert_eq!(code, Some(1), "{err}");
    let ok = format!(
        "httpout: {}: pushed 2 file(s), 8000005 bytes; 0 failed",
        urls[1]
    );
    assert!(err.contains(&ok), "{ok} in:\n{err}");
    let failed = format!("httpout: {}: pushed 0 file(s), 0 bytes; 2 failed", urls[0]);
    assert!(err.contains(&failed), "{failed} in:\n{err}");
}

#[test]
fn stdin_pushed_to_two_origins_arrives_whole_at_both_chunked_or_spooled() {
    let dir = tempfile::tempdir().unwrap();
    let (one, two) = (dir.path().join("one"), dir.path().join("two"));
    std::fs::create_dir_all(&one).unwrap();
    std::fs::create_dir_all(&two).unwrap();
    let (a, b) = (origin(&one, 0, &[]), origin(&two, 0, &[]));
    let data: Vec<u8> = (0..3_000_000u32)
        .map(|i| i.wrapping_mul(2_654_435_761) as u8)
        .collect();
    for cte in ["--cte=true", "--cte=false"] {
        let name = format!("{}.ts", &cte[6..]);
        let dst = format!("--dst={}/{name},{}/{name}", a.url(), b.url());
        let (code, err) = push(&["--hmode=push", "-i", "-", &dst, cte], Some(&data));
        assert_eq!(code, Some(0), "{cte}: {err}");
        for d in [&one, &two] {
            assert!(
                std::fs::read(d.join(&name)).ok().as_deref() == Some(data.as_slice()),
                "{cte}: {} differs: {err}",
                d.display()
            );
        }
    }
}

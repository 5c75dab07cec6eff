//! SIGHUP reloads the settings without dropping anyone (issue 14): a live
//! listener and an upload in progress survive a reload that adds a user,
//! changes a rule and a header; the new user signs in after it; the
//! listener gets every byte. The real binary, a raw HTTP/1.1 source client
//! and listener, curl; every wait bounded.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use support::{Httpout, add_user, curl};

/// MPEG-1 Layer III, 128 kbit/s, 44.1 kHz: 417-byte frames; frame `i`'s
/// payload bytes are `i % 200`.
const FRAME: usize = 417;

fn frame(i: usize) -> Vec<u8> {
    let mut f = vec![0xFF, 0xFB, 0x90, 0x00];
    f.extend(std::iter::repeat_n((i % 200) as u8, FRAME - 4));
    f
}

fn connect(url: &str) -> TcpStream {
    let s = TcpStream::connect(url.trim_start_matches("http://")).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.set_write_timeout(Some(Duration::from_secs(10))).unwrap();
    s
}

/// The status line and headers of `curl -i`, lower-cased, and the status.
fn get(url: &str, user: Option<&str>) -> (u16, String) {
    let mut args = vec!["-i".to_owned(), url.to_owned()];
    if let Some(u) = user {
        args.extend(["-u".to_owned(), u.to_owned()]);
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = curl(&args);
    let text = String::from_utf8_lossy(&out.stdout).to_lowercase();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, text)
}

#[test]
fn a_reload_keeps_listeners_and_uploads_and_applies_users_rules_and_headers() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::create_dir_all(root.join("media")).unwrap();
    std::fs::write(root.join("media/song.txt"), "la la la\n").unwrap();
    std::fs::create_dir_all(root.join("up")).unwrap();
    let users = root.join("users.txt");
    add_user(&users, "alice", "alice-pw");
    let rules = root.join("rules.ini");
    std::fs::write(&rules, "[media]\nname=media\nru=alice\n").unwrap();
    let config = root.join("httpout.toml");
    let settings = |rev: u32| {
        format!(
            "ifce = \"127.0.0.1\"\nport = 0\nrdirs = [{:?}]\nwdir = {:?}\nusers = {:?}\n\
             source_password = \"hackme\"\nhdrs = \"X-Rev,{rev}\"\n",
            rules.display().to_string(),
            root.join("up").display().to_string(),
            users.display().to_string()
        )
    };
    std::fs::write(&config, settings(1)).unwrap();
    let server = Httpout::start(&[&format!("--config={}", config.display())], 1);
    let url = server.url().to_owned();

    // A source client (Icecast's SOURCE method: with --wdir, a PUT is an
    // upload), and a listener reading in a thread.
    let mut source = connect(&url);
    source
        .write_all(
            b"SOURCE /live.mp3 HTTP/1.0\r\nAuthorization: Basic c291cmNlOmhhY2ttZQ==\r\n\
              Content-Type: audio/mpeg\r\n\r\n",
        )
        .unwrap();
    let mut sent = 0;
    let mut send = |source: &mut TcpStream, n: usize| {
        let mut data = Vec::new();
        for i in sent..sent + n {
            data.extend(frame(i));
        }
        sent += n;
        source.write_all(&data).unwrap();
    };
    send(&mut source, 20);
    let mut listener = connect(&url);
    let listening = (0..100).any(|_| {
        std::thread::sleep(Duration::from_millis(50));
        let mut l = connect(&url);
        l.write_all(b"GET /live.mp3 HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        let mut head = [0u8; 12];
        l.read_exact(&mut head).is_ok() && head.starts_with(b"HTTP/1.1 200")
    });
    assert!(listening, "the mount is up: {}", server.stderr());
    // `Connection: close`: its stream's end is the connection's.
    listener
        .write_all(b"GET /live.mp3 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let reader = std::thread::spawn(move || {
        let mut all = Vec::new();
        let ended = listener.read_to_end(&mut all);
        (ended.map_err(|e| e.to_string()), all)
    });

    // An upload in progress: half of its body.
    let body: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    let mut upload = connect(&url);
    upload
        .write_all(
            format!(
                "PUT /upload.bin HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n",
                body.len()
            )
            .as_bytes(),
        )
        .unwrap();
    upload.write_all(&body[..100_000]).unwrap();

    // Before: bob is nobody, /media is alice's, X-Rev is 1.
    let song = format!("{url}/media/song.txt");
    assert_eq!(get(&song, Some("alice:alice-pw")).0, 200);
    let (status, head) = get(&song, Some("bob:bob-pw"));
    assert!(status == 401 || status == 403, "{head}");
    assert!(head.contains("x-rev: 1"), "{head}");

    // The reload: a new user, a rule that lets him read, a new header.
    add_user(&users, "bob", "bob-pw");
    std::fs::write(&rules, "[media]\nname=media\nru=alice,bob\n").unwrap();
    std::fs::write(&config, settings(2)).unwrap();
    for _ in 0..10 {
        send(&mut source, 10);
        std::thread::sleep(Duration::from_millis(20));
    }
    server.signal("HUP");
    let log = server.stderr_once("configuration reloaded");
    assert!(log.contains("configuration reloaded"), "{log}");
    for _ in 0..10 {
        send(&mut source, 10);
        std::thread::sleep(Duration::from_millis(20));
    }

    let (status, head) = get(&song, Some("bob:bob-pw"));
    assert_eq!(status, 200, "{head}");
    assert!(head.contains("x-rev: 2"), "{head}");
    assert!(head.ends_with("la la la\n"), "{head}");

    // The upload ends after the reload, whole.
    upload.write_all(&body[100_000..]).unwrap();
    let mut answer = [0u8; 12];
    upload.read_exact(&mut answer).unwrap();
    assert_eq!(&answer, b"HTTP/1.1 201", "{}", server.stderr());
    assert!(std::fs::read(root.join("up/upload.bin")).unwrap() == body);

    // The source ends: the listener's stream ends, with every frame from
    // where it joined to the last.
    source.shutdown(std::net::Shutdown::Write).unwrap();
    let (ended, all) = reader.join().unwrap();
    assert!(ended.is_ok(), "the stream ends with its source: {ended:?}");
    let text = String::from_utf8_lossy(&all);
    let start = text.find("\r\n\r\n").expect("a response head") + 4;
    assert!(text.starts_with("HTTP/1.1 200"), "{}", &text[..start]);
    let stream = dechunk(&all[start..]);
    assert_eq!(stream.len() % FRAME, 0, "whole frames");
    let frames: Vec<u8> = stream.chunks(FRAME).map(|f| f[4]).collect();
    assert!(frames.len() >= 200, "{} frames", frames.len());
    for pair in frames.windows(2) {
        assert_eq!(
            pair[1],
            ((usize::from(pair[0]) + 1) % 200) as u8,
            "no frame lost"
        );
    }
    assert_eq!(usize::from(*frames.last().unwrap()), (sent - 1) % 200);
}

/// The data of a chunked body.
fn dechunk(mut body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let Some(eol) = body.windows(2).position(|w| w == b"\r\n") else {
            return out;
        };
        let size = usize::from_str_radix(std::str::from_utf8(&body[..eol]).unwrap().trim(), 16)
            .unwrap_or(0);
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&body[eol + 2..eol + 2 + size]);
        body = &body[eol + 2 + size + 2..];
    }
}

#[test]
fn a_reload_that_fails_or_needs_a_restart_keeps_the_old_settings() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.txt"), "a\n").unwrap();
    let config = dir.path().join("httpout.toml");
    let settings = |port: u16, rev: u32, extra: &str| {
        format!(
            "ifce = \"127.0.0.1\"\nport = {port}\nrdirs = [{:?}]\nhdrs = \"X-Rev,{rev}\"\n{extra}",
            dir.path().display().to_string()
        )
    };
    std::fs::write(&config, settings(0, 1, "")).unwrap();
    let server = Httpout::start(&[&format!("--config={}", config.display())], 1);
    let file = format!("{}/a.txt", server.url());
    let cases = [
        (
            settings(0, 2, "maxc = \"lots\"\n"),
            "`maxc`: invalid value 'lots' for --maxc",
        ),
        (settings(1, 2, ""), "cannot change without a restart"),
        (
            settings(
                0,
                2,
                &format!("wdir = {:?}\n", dir.path().join("up").display().to_string()),
            ),
            "cannot change without a restart",
        ),
    ];
    let failed = "reload failed, keeping the old settings";
    for (n, (text, why)) in cases.into_iter().enumerate() {
        std::fs::write(&config, text).unwrap();
        server.signal("HUP");
        let mut log = String::new();
        for _ in 0..200 {
            log = server.stderr();
            if log.matches(failed).count() > n {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let last = log
            .lines()
            .rfind(|l| l.contains(failed))
            .unwrap_or_default();
        assert!(
            log.matches(failed).count() > n && last.contains(why),
            "{log}"
        );
        let (status, head) = get(&file, None);
        assert_eq!(status, 200, "{head}");
        assert!(head.contains("x-rev: 1"), "{head}");
    }
}

#[test]
fn a_reload_applies_a_new_log_filter() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.txt"), "a\n").unwrap();
    let config = dir.path().join("httpout.toml");
    let settings = |extra: &str| {
        format!(
            "ifce = \"127.0.0.1\"\nport = 0\nrdirs = [{:?}]\n{extra}",
            dir.path().display().to_string()
        )
    };
    std::fs::write(&config, settings("")).unwrap();
    let server = Httpout::start(&[&format!("--config={}", config.display())], 1);
    let file = format!("{}/a.txt", server.url());
    assert_eq!(get(&file, None).0, 200);
    std::fs::write(&config, settings("log = \"static=debug\"\n")).unwrap();
    server.signal("HUP");
    let log = server.stderr_once("configuration reloaded");
    assert!(!log.contains("a.txt"), "no file event before: {log}");
    assert_eq!(get(&file, None).0, 200);
    let log = server.stderr_once("a.txt");
    let line = log.lines().find(|l| l.contains("a.txt"));
    assert!(
        line.is_some(),
        "the static zone at debug after the reload: {log}"
    );
}

/// An `-i` input read to its end and removed does not make later reloads
/// fail: inputs are checked at start only.
#[test]
fn a_reload_after_an_input_is_gone_still_applies() {
    let dir = tempfile::tempdir().unwrap();
    let (root, input) = (dir.path().join("www"), dir.path().join("in.txt"));
    std::fs::create_dir(&root).unwrap();
    std::fs::write(&input, "from the input\n").unwrap();
    let rdirs = format!("--rdirs={}", root.display());
    let server = Httpout::start(
        &[
            "--ifce=127.0.0.1",
            "--port=0",
            &rdirs,
            "-i",
            input.to_str().unwrap(),
            "-o",
            "http://127.0.0.1/out.txt",
        ],
        1,
    );
    for _ in 0..200 {
        if std::fs::read(root.join("out.txt")).is_ok_and(|b| b == b"from the input\n") {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(get(&format!("{}/out.txt", server.url()), None).0, 200);
    std::fs::remove_file(&input).unwrap();
    server.signal("HUP");
    let log = server.stderr_once("configuration reloaded");
    assert!(log.contains("configuration reloaded"), "{log}");
}

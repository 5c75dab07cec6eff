//! Icecast's URL authentication (`auth_url`) with a real ffmpeg source, raw
//! listeners and curl, against an operator's auth service: a few lines of
//! this test answering on a real socket as Icecast's auth scripts do.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

mod support;

use httpout_test::media::{self, mp3_tone};
use support::live::{Background, bytes_in, eventually, host, listen_while, wait_status};
use support::{Httpout, curl, free_port};

type Forms = Arc<Mutex<Vec<HashMap<String, String>>>>;

/// A form value, `+` and `%XX` decoded.
fn decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => {
                let hex = std::str::from_utf8(&b[i + 1..i + 3]).unwrap_or("");
                out.push(u8::from_str_radix(hex, 16).unwrap_or(b'?'));
                i += 2;
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The auth service: admits `good:secret` (and `timed:secret` for 2 s),
/// refuses anyone else with `wrong password`; keeps every form it got.
/// Serves until the test process ends (each accept waits 100 ms at most
/// while `stop` is unset, for at most 5 minutes).
fn auth_service(stop: Arc<AtomicBool>) -> (String, Forms) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let url = format!("http://{}/icecast-auth", listener.local_addr().unwrap());
    let forms: Forms = Arc::default();
    let kept = Arc::clone(&forms);
    std::thread::spawn(move || {
        let deadline = Instant::now() + Duration::from_secs(300);
        while !stop.load(Ordering::Acquire) && Instant::now() < deadline {
            let Ok((mut s, _)) = listener.accept() else {
                std::thread::sleep(Duration::from_millis(100));
                continue;
            };
            s.set_nonblocking(false).unwrap();
            s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            let mut req = Vec::new();
            let mut buf = [0u8; 4096];
            let body = loop {
                let Ok(n) = s.read(&mut buf) else { break None };
                if n == 0 {
                    break None;
                }
                req.extend_from_slice(&buf[..n]);
                let text = String::from_utf8_lossy(&req).into_owned();
                if let Some((head, body)) = text.split_once("\r\n\r\n") {
                    let len = head
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase()
                                .strip_prefix("content-length:")
                                .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                        })
                        .unwrap_or(0);
                    if body.len() >= len {
                        break Some(body.to_owned());
                    }
                }
            };
            let Some(body) = body else { continue };
            let form: HashMap<String, String> = body
                .split('&')
                .filter_map(|kv| kv.split_once('='))
                .map(|(k, v)| (decode(k), decode(v)))
                .collect();
            let who = (
                form.get("user").cloned().unwrap_or_default(),
                form.get("pass").cloned().unwrap_or_default(),
            );
            let headers = match (who.0.as_str(), who.1.as_str()) {
                ("good", "secret") => "icecast-auth-user: 1\r\n",
                ("timed", "secret") => "icecast-auth-user: 1\r\nicecast-auth-timelimit: 2\r\n",
                // A limit past any clock: taken as a year, not a crash.
                ("forever", "secret") => {
                    "icecast-auth-user: 1\r\nicecast-auth-timelimit: 18446744073709551615\r\n"
                }
                _ => "icecast-auth-message: wrong password\r\n",
            };
            kept.lock().unwrap().push(form);
            let _ = write!(
                s,
                "HTTP/1.1 200 OK\r\n{headers}content-length: 0\r\nconnection: close\r\n\r\n"
            );
        }
    });
    (url, forms)
}

/// The forms the service got with `action`.
fn with_action(forms: &Forms, action: &str) -> Vec<HashMap<String, String>> {
    forms
        .lock()
        .unwrap()
        .iter()
        .filter(|f| f.get("action").map(String::as_str) == Some(action))
        .cloned()
        .collect()
}

#[test]
fn listeners_and_sources_are_admitted_by_the_operators_url() {
    let dir = tempfile::tempdir().unwrap();
    let tone = mp3_tone(dir.path(), "tone.mp3", 60, 128);
    let stop = Arc::new(AtomicBool::new(false));
    let (auth, forms) = auth_service(Arc::clone(&stop));
    let server = Httpout::start(
        &[
            "--ifce=127.0.0.1",
            "--port=0",
            "--source_password=hackme",
            "-i",
            tone.to_str().unwrap(),
            "-o",
            "http://127.0.0.1/auth.mp3",
            "--rt",
            &format!("--mount=/auth.mp3:auth_url={auth}"),
            &format!("--mount=/src.mp3:auth_url={auth}"),
        ],
        1,
    );
    let url = server.url().to_owned();
    let addr = host(&url).to_owned();
    wait_status(&url, |v| bytes_in(v, "/auth.mp3") > 8000);
    eventually(30, "mount_add", || {
        !with_action(&forms, "mount_add").is_empty()
    });
    let code = |extra: &[&str], path: &str| {
        let mut args = vec![
            "-s",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "--max-time",
            "2",
        ];
        args.extend_from_slice(extra);
        let target = format!("{url}{path}");
        args.push(&target);
        String::from_utf8_lossy(&curl(&args).stdout).into_owned()
    };
    // No credentials: asked for them; wrong ones: refused with the reason.
    assert_eq!(code(&[], "/auth.mp3"), "401");
    assert_eq!(code(&["-u", "good:nope"], "/auth.mp3"), "403");
    let refused = curl(&["-s", "-u", "good:nope", &format!("{url}/auth.mp3")]);
    assert!(String::from_utf8_lossy(&refused.stdout).contains("wrong password"));
    // Right ones: streamed.
    let listener = Background::start(
        &addr,
        "/auth.mp3",
        "Authorization: Basic Z29vZDpzZWNyZXQ=\r\nUser-Agent: Player/2\r\n",
        60.0,
    );
    listener.wait_past(16_000, "the admitted listener is fed");
    let (head, _) = listener.finish();
    assert!(head.starts_with("HTTP/1.0 200"), "{head}");
    let added = with_action(&forms, "listener_add");
    let good = added
        .iter()
        .find(|f| f["user"] == "good" && f["pass"] == "secret")
        .expect("listener_add");
    assert_eq!(good["mount"], "/auth.mp3");
    assert_eq!(good["agent"], "Player/2");
    assert_eq!(good["ip"], "127.0.0.1");
    eventually(30, "listener_remove", || {
        with_action(&forms, "listener_remove")
            .iter()
            .any(|f| f["client"] == good["client"] && f.contains_key("duration"))
    });
    // A time limit from the service ends the listener after it.
    let started = Instant::now();
    let (head, _) = listen_while(
        &addr,
        "/auth.mp3",
        "Authorization: Basic dGltZWQ6c2VjcmV0\r\n",
        60.0,
        &AtomicUsize::new(0),
        &AtomicBool::new(false),
    );
    assert!(head.starts_with("HTTP/1.0 200"), "{head}");
    let lasted = started.elapsed();
    assert!(
        lasted >= Duration::from_secs(2) && lasted < Duration::from_secs(30),
        "{lasted:?}"
    );
    // A limit too large for a clock: admitted and fed (`forever:secret`).
    let forever = Background::start(
        &addr,
        "/auth.mp3",
        "Authorization: Basic Zm9yZXZlcjpzZWNyZXQ=\r\n",
        60.0,
    );
    forever.wait_past(16_000, "a listener with a huge time limit is fed");
    let (head, _) = forever.finish();
    assert!(head.starts_with("HTTP/1.0 200"), "{head}");
    // Sources: credentials the service admits (stream_auth), and not.
    let mut wrong = media::mp3_source(&tone, &[&format!("icecast://good:nope@{addr}/src.mp3")]);
    let (status, _, _) = wrong.wait(Duration::from_secs(30));
    assert!(!status.success(), "a source the service refuses is refused");
    let _source = media::mp3_source(&tone, &[&format!("icecast://good:secret@{addr}/src.mp3")]);
    wait_status(&url, |v| bytes_in(v, "/src.mp3") > 8000);
    let asked = with_action(&forms, "stream_auth");
    assert!(
        asked
            .iter()
            .any(|f| f["mount"] == "/src.mp3" && f["user"] == "good"),
        "{asked:?}"
    );
    stop.store(true, Ordering::Release);
}

#[test]
fn an_auth_url_that_does_not_answer_fails_closed() {
    let dir = tempfile::tempdir().unwrap();
    let tone = mp3_tone(dir.path(), "tone.mp3", 30, 128);
    let nobody = format!("http://127.0.0.1:{}/auth", free_port());
    let server = Httpout::start(
        &[
            "--ifce=127.0.0.1",
            "--port=0",
            "-i",
            tone.to_str().unwrap(),
            "-o",
            "http://127.0.0.1/down.mp3",
            "--rt",
            &format!("--mount=/down.mp3:auth_url={nobody}"),
        ],
        1,
    );
    wait_status(server.url(), |v| bytes_in(v, "/down.mp3") > 4000);
    let out = curl(&[
        "-s",
        "-u",
        "good:secret",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        &format!("{}/down.mp3", server.url()),
    ]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "503");
    let log = server.stderr();
    assert!(
        log.contains("auth_url for /down.mp3") && log.contains("listener refused"),
        "{log}"
    );
}

//! Per-mount settings of the live sink (`--mount=PATH:KEY=VALUE`, the
//! config file's `[mount."/path"]`), with real clients: ffmpeg as the
//! source, raw HTTP/1.0 listeners whose bytes are walked frame by frame and
//! decoded with ffmpeg, curl for the rest.

use std::time::{Duration, Instant};

mod support;

use httpout_test::media::{self, mp3_tone};
use support::live::{Background, bytes_in, frame_bitrates, host, listen, runs, wait_status};
use support::{Httpout, curl, run_to_exit};

/// Audio bytes between ICY blocks in these tests.
const METAINT: usize = 4000;

/// httpout with the source password `hackme` and `extra` options.
fn server(extra: &[&str]) -> (Httpout, String) {
    let mut args = vec!["--ifce=127.0.0.1", "--port=0", "--source_password=hackme"];
    args.extend_from_slice(extra);
    let server = Httpout::start(&args, 1);
    let addr = host(server.url()).to_owned();
    (server, addr)
}

/// The audio of an interleaved ICY stream, and the titles in its blocks.
fn strip_icy(mut data: &[u8]) -> (Vec<u8>, Vec<String>) {
    let (mut audio, mut titles) = (Vec::new(), Vec::new());
    while data.len() > METAINT {
        audio.extend_from_slice(&data[..METAINT]);
        let len = data[METAINT] as usize * 16;
        let end = (METAINT + 1 + len).min(data.len());
        if len > 0 {
            let text = String::from_utf8_lossy(&data[METAINT + 1..end]);
            titles.push(text.trim_end_matches('\0').to_owned());
        }
        data = &data[end..];
    }
    audio.extend_from_slice(data);
    (audio, titles)
}

#[test]
fn listeners_move_to_the_fallback_and_back_on_frame_boundaries() {
    let dir = tempfile::tempdir().unwrap();
    // Two bit rates tell the streams apart in the frames a listener gets.
    let backup = mp3_tone(dir.path(), "backup.mp3", 20, 64);
    let live = mp3_tone(dir.path(), "live.mp3", 30, 128);
    let (server, addr) = server(&[
        "-i",
        backup.to_str().unwrap(),
        "-o",
        "http://127.0.0.1/backup.mp3",
        "--rt",
        "--reopen",
        "--metaint=4000",
        "--title=Backup loop",
        "--mount=/live.mp3:fallback=/backup.mp3:fallback_override=1",
    ]);
    wait_status(server.url(), |v| bytes_in(v, "/backup.mp3") > 8000);
    // Before /live.mp3 has a source, its listener gets the fallback.
    let listener = Background::start(&addr, "/live.mp3", "Icy-MetaData: 1\r\n", 90.0);
    // A second listener over HTTP/1.1 (chunked, served outside hyper).
    let heard_11 = dir.path().join("heard-1.1.bin");
    let mut curl_listener = std::process::Command::new("curl")
        .args(["-s", "-N", "--http1.1", "-H", "Icy-MetaData: 1", "-o"])
        .arg(&heard_11)
        .arg(format!("{}/live.mp3", server.url()))
        .spawn()
        .expect("curl runs");
    listener.wait_past(8000, "on the fallback");
    // The source arrives: the listener moves to it (fallback_override).
    let source = media::mp3_source(
        &live,
        &[&format!("icecast://source:hackme@{addr}/live.mp3")],
    );
    let v = wait_status(server.url(), |v| bytes_in(v, "/live.mp3") > 3 * 16_000);
    let on_live = v["icestats"]["source"]
        .as_array()
        .and_then(|a| a.iter().find(|s| s["mount"] == "/live.mp3"))
        .map(|s| s["listeners"].clone());
    assert_eq!(on_live, Some(serde_json::json!(2)), "{v:#}");
    // The source leaves: back to the fallback, the connection kept.
    let before = listener.got();
    drop(source);
    listener.wait_past(before + 24_000, "back on the fallback");
    let _ = curl_listener.kill();
    let _ = curl_listener.wait();
    let (head, body) = listener.finish();
    assert!(head.starts_with("HTTP/1.0 200"), "{head}");
    let (audio_11, _) = strip_icy(&std::fs::read(&heard_11).unwrap());
    assert_eq!(runs(&frame_bitrates(&audio_11)), [64, 128, 64], "HTTP/1.1");
    assert!(
        head.to_ascii_lowercase().contains("icy-metaint: 4000"),
        "{head}"
    );
    let (audio, titles) = strip_icy(&body);
    assert!(
        titles.iter().any(|t| t.contains("Backup loop")),
        "{titles:?}"
    );
    // Fallback, live, fallback: every move on a frame boundary, and the ICY
    // blocks where they belong (else the walk would fail on one).
    assert_eq!(runs(&frame_bitrates(&audio)), [64, 128, 64]);
    let path = dir.path().join("heard.mp3");
    std::fs::write(&path, &audio).unwrap();
    let secs = media::decode_seconds(&path, "mp3").unwrap();
    assert!(secs > 4.0, "decoded {secs} s");
    let log = server.stderr();
    assert!(log.contains("moved from /backup.mp3 to /live.mp3"), "{log}");
    assert!(log.contains("moved from /live.mp3 to /backup.mp3"), "{log}");
}

#[test]
fn max_listeners_refuses_as_icecast_does_and_an_intro_comes_first() {
    let dir = tempfile::tempdir().unwrap();
    let input = mp3_tone(dir.path(), "tone.mp3", 30, 128);
    let intro = mp3_tone(dir.path(), "intro.mp3", 2, 32);
    let config = dir.path().join("httpout.toml");
    std::fs::write(
        &config,
        format!(
            "[mount.\"/cap.mp3\"]\nmax_listeners = 1\nintro = \"{}\"\n",
            intro.display()
        ),
    )
    .unwrap();
    let (server, addr) = server(&[
        &format!("--config={}", config.display()),
        "-i",
        input.to_str().unwrap(),
        "-o",
        "http://127.0.0.1/cap.mp3",
        "--rt",
    ]);
    wait_status(server.url(), |v| bytes_in(v, "/cap.mp3") > 8000);
    let first = Background::start(&addr, "/cap.mp3", "", 60.0);
    let intro_len = std::fs::metadata(&intro).unwrap().len() as usize;
    first.wait_past(intro_len + 8000, "the first listener");
    // The mount is full: icecast2 answers 403 "max listeners reached".
    let url = format!("{}/cap.mp3", server.url());
    let out = curl(&["-s", "-w", "\n%{http_code}", "--max-time", "10", &url]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.ends_with("\n403"), "{text}");
    assert!(text.contains("max listeners reached"), "{text}");
    let (_, body) = first.finish();
    // The intro (32 kbit/s; LAME's info frame first) whole, then the
    // stream (128 kbit/s).
    let rates = runs(&frame_bitrates(&body));
    assert!(rates.ends_with(&[32, 128]), "{rates:?}");
    assert_eq!(body[..intro_len], std::fs::read(&intro).unwrap()[..]);
    // Its place is free again once it has gone.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (head, _) = listen(&addr, "/cap.mp3", "", 0.5);
        if head.starts_with("HTTP/1.0 200") {
            break;
        }
        assert!(Instant::now() < deadline, "{head}");
    }
}

#[test]
fn a_mount_has_its_own_source_credentials_identity_and_visibility() {
    let dir = tempfile::tempdir().unwrap();
    let input = mp3_tone(dir.path(), "tone.mp3", 30, 128);
    let (server, addr) = server(&[
        "--mount=/studio.mp3:user=dj:password=studio:name=Studio One:url=http://radio.example:8000/:public=1",
        "--mount=/hidden.mp3:hidden=1:charset=ISO-8859-1",
        "--metaint=4000",
    ]);
    // The server's source password is not this mount's.
    let mut refused = media::mp3_source(
        &input,
        &[&format!("icecast://source:hackme@{addr}/studio.mp3")],
    );
    let (status, _, _) = refused.wait(Duration::from_secs(30));
    assert!(
        !status.success(),
        "a source with the wrong credentials is refused"
    );
    let _studio = media::mp3_source(&input, &[&format!("icecast://dj:studio@{addr}/studio.mp3")]);
    let _hidden = media::mp3_source(
        &input,
        &[&format!("icecast://source:hackme@{addr}/hidden.mp3")],
    );
    wait_status(server.url(), |v| bytes_in(v, "/studio.mp3") > 4000);
    // Hidden from the status pages, but served.
    let status = curl(&[&format!("{}/status-json.xsl", server.url())]);
    let text = String::from_utf8_lossy(&status.stdout);
    assert!(!text.contains("/hidden.mp3"), "{text}");
    let html = curl(&[&format!("{}/status.xsl", server.url())]);
    assert!(!String::from_utf8_lossy(&html.stdout).contains("/hidden.mp3"));
    let (head, _) = listen(&addr, "/hidden.mp3", "", 1.0);
    assert!(head.starts_with("HTTP/1.0 200"), "{head}");
    // The mount's identity, over what the source said (ffmpeg says
    // `ice-public: 0`).
    let (head, _) = listen(&addr, "/studio.mp3", "", 0.5);
    let lower = head.to_ascii_lowercase();
    assert!(lower.contains("icy-name: studio one"), "{head}");
    assert!(
        lower.contains("icy-url: http://radio.example:8000/"),
        "{head}"
    );
    assert!(lower.contains("icy-pub: 1"), "{head}");
    // Titles of the ISO-8859-1 mount are decoded as such.
    let update = format!(
        "{}/admin/metadata?mount=/hidden.mp3&mode=updinfo&song=Caf%E9",
        server.url()
    );
    let done = curl(&["-u", "source:hackme", &update]);
    assert!(String::from_utf8_lossy(&done.stdout).contains("<return>1</return>"));
    let tags = media::probe_tags(&format!("{}/hidden.mp3", server.url()));
    assert_eq!(
        tags.get("StreamTitle").map(String::as_str),
        Some("Café"),
        "{tags:?}"
    );
    // The studio's title needs the studio's credentials.
    let update = format!(
        "{}/admin/metadata?mount=/studio.mp3&mode=updinfo&song=x",
        server.url()
    );
    let code = |user: &str| {
        let out = curl(&[
            "-s",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "-u",
            user,
            &update,
        ]);
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    assert_eq!(code("source:hackme"), "401");
    assert_eq!(code("dj:studio"), "200");
}

#[test]
fn mount_options_are_checked() {
    let cases: &[(&[&str], &[&str])] = &[
        (
            &["--mount=/a.mp3:colour=red"],
            &["--mount", "unknown key 'colour'", "max_listeners"],
        ),
        (
            &[
                "--mount=/a.mp3:fallback=/b.mp3",
                "--mount=/b.mp3:fallback=/a.mp3",
            ],
            &["--mount", "loop"],
        ),
        (
            &["--mount=a.mp3:hidden=1"],
            &["--mount", "not a mount path"],
        ),
        (
            &["--mount=/a.mp3:burst=1M"],
            &["--mount=/a.mp3:burst", "max_async_buf"],
        ),
        (
            &["--mount=/a.mp3:auth_url=https://x/"],
            &["auth_url", "http://"],
        ),
    ];
    for (args, expected) in cases {
        let mut all = vec!["--port=0", "--source_password=x"];
        all.extend_from_slice(args);
        let (code, _, err) = run_to_exit(&all);
        assert_eq!(code, Some(2), "{args:?}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
        for e in *expected {
            assert!(err.contains(e), "{args:?}: {err}");
        }
    }
    // Where the live sink does not run, the option is refused by name.
    let (code, _, err) = run_to_exit(&["--port=0", "--rdirs=.", "--mount=/a.mp3:hidden=1"]);
    assert_eq!(code, Some(2));
    assert!(
        err.contains("--mount") && err.contains("not in use"),
        "{err}"
    );
}

#[test]
fn a_source_runs_its_mounts_programs_and_is_recorded_in_rotating_files() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = tempfile::tempdir().unwrap();
    let input = mp3_tone(dir.path(), "tone.mp3", 4, 128);
    let log = dir.path().join("events.log");
    let script = dir.path().join("hook.sh");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\necho \"$HTTPOUT_EVENT $1\" >> '{}'\n",
            log.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let rec = dir.path().join("rec");
    std::fs::create_dir(&rec).unwrap();
    let s = script.display();
    let (server, addr) = server(&[&format!(
        "--mount=/rec.mp3:on_connect={s}:on_disconnect={s}:dump_file={}/show-%Y%m%d.mp3,max=20K",
        rec.display()
    )]);
    let mut source = media::mp3_source(
        &input,
        &[&format!("icecast://source:hackme@{addr}/rec.mp3")],
    );
    let (status, _, err) = source.wait(Duration::from_secs(60));
    assert!(status.success(), "{err}");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        if text == "connect /rec.mp3\ndisconnect /rec.mp3\n" {
            break;
        }
        assert!(Instant::now() < deadline, "{text:?}\n{}", server.stderr());
        std::thread::sleep(Duration::from_millis(100));
    }
    // The record: every byte ffmpeg sent (4 s at 128 kbit/s, whole frames),
    // in files of about 20 KiB, each cut on a frame.
    let mut files: Vec<_> = std::fs::read_dir(&rec)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(files.len() >= 3, "{files:?}");
    let mut total = 0;
    for f in &files {
        let bytes = std::fs::read(f).unwrap();
        assert!(!frame_bitrates(&bytes).is_empty(), "{}", f.display());
        total += bytes.len();
    }
    let sent = std::fs::metadata(&input).unwrap().len() as usize;
    assert!(total + 418 >= sent && total <= sent, "{total} of {sent}");
    let name = files[0].file_name().unwrap().to_string_lossy().into_owned();
    assert!(
        name.starts_with("show-20") && name.ends_with(".mp3"),
        "{name}"
    );
}

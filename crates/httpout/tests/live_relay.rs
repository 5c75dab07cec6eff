//! Relays (`-i http://OTHER/MOUNT -o http://HOST/MOUNT`) with real peers: a
//! real icecast2 fed by ffmpeg, another httpout that is killed and started
//! again, a SHOUTcast-style server answering `ICY 200 OK` (a few lines of
//! this test over a real socket), and an on-demand relay.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::time::{Duration, Instant};

mod support;

use httpout_test::media::{self, mp3_tone};
use support::live::{
    Background, bytes_in, eventually, frame_bitrates, host, listen, listeners, runs, state,
    wait_status,
};
use support::{Httpout, Icecast, curl, free_port};

/// An httpout relaying `upstream` to its `/relay.mp3`, with `extra` options.
fn relay(upstream: &str, extra: &[&str]) -> Httpout {
    let mut args = vec![
        "--ifce=127.0.0.1",
        "--port=0",
        "-i",
        upstream,
        "-o",
        "http://127.0.0.1/relay.mp3",
    ];
    args.extend_from_slice(extra);
    Httpout::start(&args, 1)
}

#[test]
fn relay_of_an_icecast2_mount_carries_its_names_and_titles() {
    let dir = tempfile::tempdir().unwrap();
    let tone = mp3_tone(dir.path(), "tone.mp3", 60, 128);
    let ice = Icecast::start(dir.path(), "");
    let _source = media::mp3_source(
        &tone,
        &[
            "-ice_name",
            "Ice FM",
            &format!("icecast://source:hackme@{}/live.mp3", host(&ice.url())),
        ],
    );
    let update = format!(
        "{}/admin/metadata?mount=/live.mp3&mode=updinfo&song=Upstream%20Song",
        ice.url()
    );
    eventually(30, "icecast2 took the source and the title", || {
        let out = curl(&["-s", "-u", "admin:hackme", &update]);
        String::from_utf8_lossy(&out.stdout).contains("<return>1</return>")
    });
    let ours = relay(&format!("{}/live.mp3", ice.url()), &[]);
    wait_status(ours.url(), |v| bytes_in(v, "/relay.mp3") > 16_000);
    let url = format!("{}/relay.mp3", ours.url());
    let tags = media::probe_tags(&url);
    assert_eq!(
        tags.get("icy-name").map(String::as_str),
        Some("Ice FM"),
        "{tags:?}"
    );
    assert_eq!(
        tags.get("StreamTitle").map(String::as_str),
        Some("Upstream Song"),
        "{tags:?}"
    );
    // What a listener gets decodes, frame after frame (no ICY bytes left in).
    let (head, body) = listen(host(ours.url()), "/relay.mp3", "", 2.0);
    assert!(head.starts_with("HTTP/1.0 200"), "{head}");
    assert!(frame_bitrates(&body).iter().all(|&r| r == 128));
    let path = dir.path().join("heard.mp3");
    std::fs::write(&path, &body).unwrap();
    assert!(media::decode_seconds(&path, "mp3").unwrap() > 2.0);
}

#[test]
fn a_relay_reconnects_when_its_origin_restarts_and_keeps_its_listeners() {
    let dir = tempfile::tempdir().unwrap();
    let tone = mp3_tone(dir.path(), "tone.mp3", 60, 128);
    let port = free_port().to_string();
    let origin_args = [
        "--ifce=127.0.0.1",
        &format!("--port={port}"),
        "-i",
        tone.to_str().unwrap(),
        "-o",
        "http://127.0.0.1/live.mp3",
        "--rt",
        "--title=Origin",
    ];
    let origin = Httpout::start(&origin_args, 1);
    let ours = relay(&format!("{}/live.mp3", origin.url()), &[]);
    wait_status(ours.url(), |v| bytes_in(v, "/relay.mp3") > 8000);
    let listener = Background::start(host(ours.url()), "/relay.mp3", "", 90.0);
    eventually(30, "the listener has the burst", || listener.got() > 8000);
    origin.crash();
    eventually(30, "the relay noticed", || {
        state(ours.url(), "/relay.mp3").as_deref() == Some("waiting")
    });
    let before = listener.got();
    let _origin = Httpout::start(&origin_args, 1);
    // Back-off: 1 s, then 2 s, 4 s ... while the origin was down.
    eventually(60, "the relay is live again", || {
        state(ours.url(), "/relay.mp3").as_deref() == Some("live")
    });
    eventually(30, "the listener is fed again", || {
        listener.got() > before + 16_000
    });
    let (head, body) = listener.finish();
    assert!(head.starts_with("HTTP/1.0 200"), "{head}");
    // One connection throughout, and frames all along: the relay starts
    // the origin's new stream on a frame.
    assert!(frame_bitrates(&body).len() > 50);
    let log = ours.stderr();
    assert!(log.matches("connected").count() >= 2, "{log}");
}

/// A SHOUTcast v1 style server on a real socket: answers one listener
/// `ICY 200 OK` with `icy-metaint: 8192`, then `mp3` at about its rate with
/// the title `title` in the metadata blocks, until the listener leaves.
fn shoutcast(mp3: Vec<u8>, title: &'static str) -> (String, std::thread::JoinHandle<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/stream", listener.local_addr().unwrap());
    let serve = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") && head.len() < 8192 {
            if s.read(&mut byte).unwrap_or(0) == 0 {
                break;
            }
            head.push(byte[0]);
        }
        let _ = s.write_all(
            b"ICY 200 OK\r\nicy-name: Shout Radio\r\nicy-metaint: 8192\r\n\
              content-type: audio/mpeg\r\n\r\n",
        );
        let mut text = format!("StreamTitle='{title}';").into_bytes();
        text.resize(text.len().div_ceil(16) * 16, 0);
        let deadline = Instant::now() + Duration::from_secs(60);
        for block in mp3.chunks(8192) {
            let mut out = block.to_vec();
            if block.len() == 8192 {
                out.push((text.len() / 16) as u8);
                out.extend_from_slice(&text);
            }
            if s.write_all(&out).is_err() || Instant::now() > deadline {
                break;
            }
            // 8 KiB of a 128 kbit/s stream: half a second.
            std::thread::sleep(Duration::from_millis(250));
        }
        String::from_utf8_lossy(&head).into_owned()
    });
    (url, serve)
}

#[test]
fn an_icy_200_upstream_is_relayed_with_its_titles() {
    let dir = tempfile::tempdir().unwrap();
    let tone = mp3_tone(dir.path(), "tone.mp3", 60, 128);
    let (upstream, server) = shoutcast(std::fs::read(&tone).unwrap(), "Shout Song");
    let ours = relay(&upstream, &[]);
    wait_status(ours.url(), |v| bytes_in(v, "/relay.mp3") > 16_000);
    let tags = media::probe_tags(&format!("{}/relay.mp3", ours.url()));
    assert_eq!(
        tags.get("icy-name").map(String::as_str),
        Some("Shout Radio"),
        "{tags:?}"
    );
    assert_eq!(
        tags.get("StreamTitle").map(String::as_str),
        Some("Shout Song"),
        "{tags:?}"
    );
    let (_, body) = listen(host(ours.url()), "/relay.mp3", "", 1.0);
    assert!(
        frame_bitrates(&body).iter().all(|&r| r == 128),
        "no ICY bytes in the audio"
    );
    drop(ours);
    let request = server.join().unwrap().to_ascii_lowercase();
    assert!(request.contains("icy-metadata: 1"), "{request}");
}

#[test]
fn an_on_demand_relay_connects_only_while_someone_listens() {
    let dir = tempfile::tempdir().unwrap();
    let tone = mp3_tone(dir.path(), "tone.mp3", 60, 128);
    let origin = Httpout::start(
        &[
            "--ifce=127.0.0.1",
            "--port=0",
            "-i",
            tone.to_str().unwrap(),
            "-o",
            "http://127.0.0.1/live.mp3",
            "--rt",
            "--reopen",
        ],
        1,
    );
    let ours = relay(&format!("{}/live.mp3", origin.url()), &["--hold"]);
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(
        listeners(origin.url(), "/live.mp3"),
        0,
        "nobody listens: not connected"
    );
    let listener = Background::start(host(ours.url()), "/relay.mp3", "", 60.0);
    eventually(30, "connected for its listener", || {
        listeners(origin.url(), "/live.mp3") == 1
    });
    eventually(30, "the listener is fed", || listener.got() > 16_000);
    listener.finish();
    // Let go ON_DEMAND_LINGER (10 s) after the last listener left.
    eventually(40, "let go once nobody listens", || {
        listeners(origin.url(), "/live.mp3") == 0
    });
    assert!(ours.stderr().contains("on demand"), "{}", ours.stderr());
}

#[test]
fn a_slave_relays_every_mount_of_its_master_and_follows_new_ones() {
    let dir = tempfile::tempdir().unwrap();
    let tone = mp3_tone(dir.path(), "tone.mp3", 60, 128);
    let master = Httpout::start(
        &[
            "--ifce=127.0.0.1",
            "--port=0",
            "--source_password=hackme",
            "--admin_password=adminpw",
            "-i",
            tone.to_str().unwrap(),
            "-o",
            "http://127.0.0.1/one.mp3",
            "--rt",
            "--reopen",
        ],
        1,
    );
    let list = curl(&[
        "-s",
        "-u",
        "admin:adminpw",
        &format!("{}/admin/streamlist.txt", master.url()),
    ]);
    assert_eq!(String::from_utf8_lossy(&list.stdout), "/one.mp3\n");
    let slave = Httpout::start(
        &[
            "--ifce=127.0.0.1",
            "--port=0",
            &format!("--master=http://admin:adminpw@{}", host(master.url())),
            "--master_interval=1",
        ],
        1,
    );
    wait_status(slave.url(), |v| bytes_in(v, "/one.mp3") > 8000);
    // A mount that appears on the master appears on the slave.
    let _source = media::mp3_source(
        &tone,
        &[&format!(
            "icecast://source:hackme@{}/two.mp3",
            host(master.url())
        )],
    );
    wait_status(slave.url(), |v| bytes_in(v, "/two.mp3") > 8000);
    let (head, body) = listen(host(slave.url()), "/two.mp3", "", 1.0);
    assert!(head.starts_with("HTTP/1.0 200"), "{head}");
    assert!(frame_bitrates(&body).len() > 10);
    let log = slave.stderr();
    assert!(
        log.contains("master: relaying") && log.contains("/two.mp3"),
        "{log}"
    );
    // A wrong password is said, and retried.
    let lost = Httpout::start(
        &[
            "--ifce=127.0.0.1",
            "--port=0",
            &format!("--master=http://admin:wrong@{}", host(master.url())),
            "--master_interval=1",
        ],
        1,
    );
    eventually(30, "the refusal is logged", || {
        lost.stderr().contains("answered 401")
    });
}

#[test]
fn titles_propagate_down_a_tree_of_relays() {
    let dir = tempfile::tempdir().unwrap();
    let tone = mp3_tone(dir.path(), "tone.mp3", 60, 128);
    let origin = Httpout::start(
        &[
            "--ifce=127.0.0.1",
            "--port=0",
            "--admin_password=adminpw",
            "--metaint=2000",
            "-i",
            tone.to_str().unwrap(),
            "-o",
            "http://127.0.0.1/live.mp3",
            "--rt",
            "--reopen",
            "--title=First",
        ],
        1,
    );
    let upstream = format!("{}/live.mp3", origin.url());
    let edges = [
        relay(&upstream, &["--metaint=2000"]),
        relay(&upstream, &["--metaint=2000"]),
    ];
    for e in &edges {
        wait_status(e.url(), |v| bytes_in(v, "/relay.mp3") > 8000);
    }
    // A listener on the origin and one on each edge, reading ICY titles.
    let listeners = [
        (host(origin.url()), "/live.mp3"),
        (host(edges[0].url()), "/relay.mp3"),
        (host(edges[1].url()), "/relay.mp3"),
    ]
    .map(|(addr, path)| Background::start(addr, path, "Icy-MetaData: 1\r\n", 60.0));
    std::thread::sleep(Duration::from_secs(2));
    let update = format!(
        "{}/admin/metadata?mount=/live.mp3&mode=updinfo&song=Second",
        origin.url()
    );
    let out = curl(&["-s", "-u", "admin:adminpw", &update]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("<return>1</return>"));
    // Each edge's status shows the new title (carried over from the origin).
    for e in &edges {
        wait_status(e.url(), |v| v["icestats"]["source"][0]["title"] == "Second");
    }
    std::thread::sleep(Duration::from_secs(2));
    for (i, l) in listeners.into_iter().enumerate() {
        let (head, body) = l.finish();
        assert!(
            head.to_ascii_lowercase().contains("icy-metaint: 2000"),
            "{head}"
        );
        let text = String::from_utf8_lossy(&body);
        assert!(text.contains("StreamTitle='First';"), "listener {i}");
        assert!(text.contains("StreamTitle='Second';"), "listener {i}");
    }
}

#[test]
fn an_on_demand_relay_connects_for_a_listener_waiting_on_its_fallback() {
    let dir = tempfile::tempdir().unwrap();
    let tone = mp3_tone(dir.path(), "tone.mp3", 60, 128);
    let backup = mp3_tone(dir.path(), "backup.mp3", 60, 64);
    let origin = Httpout::start(
        &[
            "--ifce=127.0.0.1",
            "--port=0",
            "-i",
            tone.to_str().unwrap(),
            "-o",
            "http://127.0.0.1/live.mp3",
            "--rt",
            "--reopen",
        ],
        1,
    );
    let ours = Httpout::start(
        &[
            "--ifce=127.0.0.1",
            "--port=0",
            "-i",
            &format!("{}/live.mp3", origin.url()),
            "-o",
            "http://127.0.0.1/relay.mp3:hold",
            "-i",
            backup.to_str().unwrap(),
            "-o",
            "http://127.0.0.1/backup.mp3",
            "--rt",
            "--reopen",
            "--mount=/relay.mp3:fallback=/backup.mp3:fallback_override=1",
        ],
        1,
    );
    wait_status(ours.url(), |v| bytes_in(v, "/backup.mp3") > 4000);
    assert_eq!(listeners(origin.url(), "/live.mp3"), 0);
    // The listener starts on the fallback, and wants the relay: it
    // connects, and the listener moves to it.
    let listener = Background::start(host(ours.url()), "/relay.mp3", "", 60.0);
    eventually(30, "the relay connected", || {
        listeners(origin.url(), "/live.mp3") == 1
    });
    eventually(30, "the listener moved to it", || {
        listeners(ours.url(), "/relay.mp3") == 1
    });
    let moved = listener.got();
    eventually(30, "fed by the relay", || listener.got() > moved + 16_000);
    let (_, body) = listener.finish();
    let r = runs(&frame_bitrates(&body));
    assert!(r.ends_with(&[64, 128]), "fallback, then the relay: {r:?}");
}

#[test]
fn a_silent_upstream_is_let_go_after_the_timeout_even_on_demand() {
    // Answers one relay with a head and then nothing, holding the
    // connection open (a black hole), until the test ends.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let upstream = format!("http://{}/live.mp3", silent.local_addr().unwrap());
    std::thread::spawn(move || {
        let mut held = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(120);
        silent.set_nonblocking(true).unwrap();
        while Instant::now() < deadline {
            if let Ok((mut s, _)) = silent.accept() {
                let _ = s.write_all(b"HTTP/1.0 200 OK\r\ncontent-type: audio/mpeg\r\n\r\n");
                held.push(s);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    });
    // On demand (its 1 s ticks must not push the deadline), with a
    // listener to keep it connected.
    let ours = relay(&upstream, &["--hold", "--timeout=2"]);
    let listener = Background::start(host(ours.url()), "/relay.mp3", "", 60.0);
    eventually(30, "the silent upstream is let go", || {
        ours.stderr().contains("upstream sent nothing for 2 s")
    });
    listener.finish();
}

//! The live sink's admin API against a real icecast2 (Debian's 2.4): the
//! same requests to both servers, fed by the same ffmpeg sources, answer
//! with the same XML elements; and what the commands do, with real
//! listeners: 100 moved between mounts without a disconnect, each on a
//! frame boundary; one killed; a source killed; failed credentials limited.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

mod support;

use httpout_test::media::{self, mp3_tone};
use support::live::{Background, bytes_in, host, wait_status};
use support::{Httpout, Icecast, curl};

/// The element paths of an XML document (`icestats/source/listeners`),
/// attributes as `element@name`: its shape, without the text.
fn shape(xml: &str) -> BTreeSet<String> {
    let mut paths = BTreeSet::new();
    let mut stack: Vec<String> = Vec::new();
    let mut rest = xml;
    while let Some(open) = rest.find('<') {
        rest = &rest[open + 1..];
        let end = rest.find('>').expect("a tag ends");
        let tag = &rest[..end];
        rest = &rest[end + 1..];
        if tag.starts_with('?') || tag.starts_with('!') {
            continue;
        }
        if let Some(name) = tag.strip_prefix('/') {
            assert_eq!(stack.pop().as_deref(), Some(name), "{xml}");
            continue;
        }
        let mut words = tag.trim_end_matches('/').split_whitespace();
        let name = words.next().expect("a tag name").to_owned();
        stack.push(name);
        let path = stack.join("/");
        for attr in words {
            let attr = attr.split('=').next().unwrap_or_default();
            paths.insert(format!("{path}@{attr}"));
        }
        paths.insert(path);
        if tag.ends_with('/') {
            stack.pop();
        }
    }
    assert!(stack.is_empty(), "unclosed elements in {xml}");
    paths
}

/// GET `url` with the admin's credentials: (status, body).
fn admin(url: &str, user: &str) -> (String, String) {
    let out = curl(&[
        "-s",
        "-u",
        user,
        "-w",
        "\n%{http_code}",
        "--max-time",
        "10",
        url,
    ]);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, code) = text.rsplit_once('\n').expect("a status");
    (code.to_owned(), body.to_owned())
}

/// Polls `url` (admin credentials) until its body contains `what`
/// (bounded: 30 s).
fn wait_for(url: &str, what: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (_, body) = admin(url, "admin:hackme");
        if body.contains(what) {
            return body;
        }
        assert!(Instant::now() < deadline, "{url} never had {what}: {body}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// icecast2's `/admin/stats` once it shows both sources whole and the
/// listener: its stats thread builds that tree from events, and on a
/// loaded machine it lags behind `listmounts` (bounded: 30 s).
fn settled_stats(url: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (_, body) = admin(&format!("{url}/admin/stats"), "admin:hackme");
        let whole = body.matches("<server_name>Test FM</server_name>").count() == 2
            && body.matches("<total_bytes_read>").count() == 2
            && body.contains("<listeners>1</listeners>");
        if whole {
            return body;
        }
        assert!(
            Instant::now() < deadline,
            "{url}/admin/stats never settled: {body}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn admin_answers_have_icecast2s_shape() {
    let dir = tempfile::tempdir().unwrap();
    let tone = mp3_tone(dir.path(), "tone.mp3", 60, 128);
    let ice = Icecast::start(
        dir.path(),
        "<mount><mount-name>/a.mp3</mount-name><max-listeners>5</max-listeners></mount>",
    );
    let ours = Httpout::start(
        &[
            "--ifce=127.0.0.1",
            "--port=0",
            "--source_password=hackme",
            "--admin_password=hackme",
            "--mount=/a.mp3:max_listeners=5",
        ],
        1,
    );
    let servers = [("icecast2", ice.url()), ("httpout", ours.url().to_owned())];
    let mut sources = Vec::new();
    for (_, url) in &servers {
        for mount in ["a.mp3", "b.mp3"] {
            sources.push(media::mp3_source(
                &tone,
                &[
                    "-ice_name",
                    "Test FM",
                    &format!("icecast://source:hackme@{}/{mount}", host(url)),
                ],
            ));
        }
    }
    // One listener on /a.mp3 of each, with a user agent of its own.
    let mut listeners = Vec::new();
    for (_, url) in &servers {
        // Both sources are there (they connect in any order).
        wait_for(&format!("{url}/admin/listmounts"), "\"/a.mp3\"");
        wait_for(&format!("{url}/admin/listmounts"), "\"/b.mp3\"");
        listeners.push(Background::start(
            host(url),
            "/a.mp3",
            "User-Agent: TestAgent/1.0\r\n",
            60.0,
        ));
        wait_for(
            &format!("{url}/admin/listclients?mount=/a.mp3"),
            "TestAgent/1.0",
        );
    }
    let ask = |url: &str, what: &str| admin(&format!("{url}/admin/{what}"), "admin:hackme");
    let (ice_url, our_url) = (&servers[0].1, &servers[1].1);
    // Lists: the same elements, ours adding a listener's bytes.
    for what in ["listmounts", "streamlist", "listclients?mount=/a.mp3"] {
        let (ice_code, ice_body) = ask(ice_url, what);
        let (our_code, our_body) = ask(our_url, what);
        assert_eq!(
            (ice_code.as_str(), our_code.as_str()),
            ("200", "200"),
            "{what}"
        );
        let (theirs, mine) = (shape(&ice_body), shape(&our_body));
        let extra: BTreeSet<_> = mine.difference(&theirs).cloned().collect();
        let allowed: BTreeSet<String> = ["icestats/source/listener/BytesSent".to_owned()].into();
        assert!(extra.is_subset(&allowed), "{what}: ours adds {extra:?}");
        assert_eq!(
            theirs.difference(&mine).count(),
            0,
            "{what}: {ice_body}\n{our_body}"
        );
    }
    let (_, clients) = ask(our_url, "listclients?mount=/a.mp3");
    assert!(
        clients.contains("<UserAgent>TestAgent/1.0</UserAgent>"),
        "{clients}"
    );
    assert!(clients.contains("<IP>127.0.0.1</IP>"), "{clients}");
    // Stats: what we give is a part of what icecast2 gives, by the same names.
    let ice_stats = settled_stats(ice_url);
    let (_, our_stats) = ask(our_url, "stats");
    let (theirs, mine) = (shape(&ice_stats), shape(&our_stats));
    let extra: Vec<_> = mine.difference(&theirs).collect();
    assert!(
        extra.is_empty(),
        "ours adds {extra:?}:\n{our_stats}\n{ice_stats}"
    );
    for needed in [
        "icestats/source@mount",
        "icestats/source/listeners",
        "icestats/source/listener_peak",
        "icestats/source/max_listeners",
        "icestats/source/server_name",
        "icestats/source/total_bytes_read",
        "icestats/source/total_bytes_sent",
        "icestats/source/stream_start_iso8601",
        "icestats/listeners",
        "icestats/sources",
        "icestats/server_start_iso8601",
    ] {
        assert!(mine.contains(needed), "{needed} missing: {our_stats}");
    }
    assert!(
        our_stats.contains("<max_listeners>5</max_listeners>"),
        "{our_stats}"
    );
    assert!(
        our_stats.contains("<max_listeners>unlimited</max_listeners>"),
        "{our_stats}"
    );
    assert!(
        our_stats.contains("<server_name>Test FM</server_name>"),
        "{our_stats}"
    );
    // Commands: the same answers, word for word.
    for what in [
        "killclient?mount=/a.mp3&id=99999",
        "moveclients?mount=/a.mp3&destination=/b.mp3",
    ] {
        let (ice_code, ice_body) = ask(ice_url, what);
        let (our_code, our_body) = ask(our_url, what);
        assert_eq!(ice_code, our_code, "{what}");
        assert_eq!(ice_body.trim(), our_body.trim(), "{what}");
    }
    // Errors: the same statuses.
    for what in [
        "listclients?mount=/none.mp3",
        "listclients",
        "moveclients?mount=/a.mp3&destination=/none.mp3",
        "nosuchcommand",
    ] {
        let (ice_code, _) = ask(ice_url, what);
        let (our_code, _) = ask(our_url, what);
        assert_eq!(
            (ice_code.as_str(), our_code.as_str()),
            ("400", "400"),
            "{what}"
        );
    }
    for (name, url) in &servers {
        let (code, _) = admin(&format!("{url}/admin/stats"), "admin:wrong");
        assert_eq!(code, "401", "{name}");
        let (code, _) = admin(
            &format!("{url}/admin/killsource?mount=/b.mp3"),
            "admin:hackme",
        );
        assert_eq!(code, "200", "{name}");
    }
    // killsource ended each /b.mp3 source: ffmpeg was cut off.
    for (i, source) in sources.iter_mut().enumerate().filter(|(i, _)| i % 2 == 1) {
        let (status, _, _) = source.wait(Duration::from_secs(30));
        assert!(!status.success(), "source {i} was cut off");
    }
    for l in listeners {
        let (head, _) = l.finish();
        assert!(head.contains(" 200 "), "{head}");
    }
}

#[test]
fn moveclients_moves_100_listeners_on_frame_boundaries_and_killclient_ends_one() {
    const N: usize = 100;
    let dir = tempfile::tempdir().unwrap();
    let low = mp3_tone(dir.path(), "low.mp3", 30, 64);
    let high = mp3_tone(dir.path(), "high.mp3", 30, 128);
    let server = Httpout::start(
        &[
            "--ifce=127.0.0.1",
            "--port=0",
            "--maxc=0",
            "--maxp=0",
            "--admin_password=hackme",
            "--rt",
            "--reopen",
            "-i",
            low.to_str().unwrap(),
            "-o",
            "http://127.0.0.1/a.mp3",
            "-i",
            high.to_str().unwrap(),
            "-o",
            "http://127.0.0.1/b.mp3",
        ],
        1,
    );
    let url = server.url().to_owned();
    let addr = host(&url).to_owned();
    wait_status(&url, |v| {
        bytes_in(v, "/a.mp3") > 8000 && bytes_in(v, "/b.mp3") > 8000
    });
    let listeners: Vec<_> = (0..N)
        .map(|_| Background::start(&addr, "/a.mp3", "", 90.0))
        .collect();
    for l in &listeners {
        l.wait_past(4000, "every listener of /a.mp3 has bytes");
    }
    let before: Vec<usize> = listeners.iter().map(Background::got).collect();
    let (code, body) = admin(
        &format!("{url}/admin/moveclients?mount=/a.mp3&destination=/b.mp3"),
        "admin:hackme",
    );
    assert_eq!(code, "200", "{body}");
    let on_b = wait_for(
        &format!("{url}/admin/listclients?mount=/b.mp3"),
        "<Listeners>100</Listeners>",
    );
    // Each then gets two seconds of /b.mp3 (32 000 bytes at 128 kbit/s).
    for (l, b) in listeners.iter().zip(&before) {
        l.wait_past(b + 32_000, "listeners fed after the move");
    }
    // killclient: the first listener's connection ends.
    let id: String = on_b
        .split("<ID>")
        .nth(1)
        .and_then(|s| s.split("</ID>").next())
        .expect("a listener id")
        .to_owned();
    let (code, body) = admin(
        &format!("{url}/admin/killclient?mount=/b.mp3&id={id}"),
        "admin:hackme",
    );
    assert_eq!(code, "200");
    assert!(body.contains(&format!("Client {id} removed")), "{body}");
    wait_for(
        &format!("{url}/admin/listclients?mount=/b.mp3"),
        "<Listeners>99</Listeners>",
    );
    for (i, l) in listeners.into_iter().enumerate() {
        let (head, body) = l.finish();
        assert!(head.starts_with("HTTP/1.0 200"), "{head}");
        let rates = support::live::frame_bitrates(&body);
        let runs = support::live::runs(&rates);
        assert!(runs.ends_with(&[64, 128]), "listener {i}: {runs:?}");
        if i % 25 == 0 {
            let path = dir.path().join(format!("heard{i}.mp3"));
            std::fs::write(&path, &body).unwrap();
            let secs = media::decode_seconds(&path, "mp3").unwrap();
            assert!(secs > 2.0, "listener {i} decoded {secs} s");
        }
    }
    assert!(server.stderr().contains("killed by an admin"));
}

#[test]
fn failed_admin_credentials_are_limited_and_the_api_is_off_without_a_password() {
    let server = Httpout::start(
        &[
            "--ifce=127.0.0.1",
            "--port=0",
            "--source_password=hackme",
            "--admin_password=right",
        ],
        1,
    );
    let url = format!("{}/admin/stats", server.url());
    let mut codes = Vec::new();
    for _ in 0..12 {
        codes.push(admin(&url, "admin:wrong").0);
    }
    assert_eq!(codes[..10], ["401"; 10], "{codes:?}");
    assert_eq!(codes[10..], ["429"; 2], "{codes:?}");
    // Another name from the same address is still checked.
    assert_eq!(admin(&url, "other:wrong").0, "401");
    let off = Httpout::start(
        &["--ifce=127.0.0.1", "--port=0", "--source_password=hackme"],
        1,
    );
    let (code, body) = admin(&format!("{}/admin/stats", off.url()), "admin:x");
    assert_eq!(code, "403", "{body}");
    assert!(body.contains("--admin_password"), "{body}");
}

#[test]
fn the_status_page_shows_mounts_listeners_titles_and_bytes_in_chromium() {
    let dir = tempfile::tempdir().unwrap();
    let tone = mp3_tone(dir.path(), "tone.mp3", 30, 128);
    let server = Httpout::start(
        &[
            "--ifce=127.0.0.1",
            "--port=0",
            "-i",
            tone.to_str().unwrap(),
            "-o",
            "http://127.0.0.1/live.mp3",
            "--rt",
            "--ice-name=Radio Test",
            "--title=Now & Then",
        ],
        1,
    );
    let url = server.url().to_owned();
    wait_status(&url, |v| bytes_in(v, "/live.mp3") > 8000);
    let listener = Background::start(host(&url), "/live.mp3", "", 60.0);
    wait_status(&url, |v| v["icestats"]["source"][0]["listeners"] == 1);
    let page = format!("{url}/status.xsl");
    let chromium = |extra: &[&str]| {
        let out = std::process::Command::new("chromium")
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--hide-scrollbars",
            ])
            .args(["--window-size=1100,360", "--timeout=10000"])
            .args(extra)
            .arg(&page)
            .output()
            .expect("chromium is installed (see scripts/test.sh)");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    // The page as the browser built it.
    let dom = chromium(&["--dump-dom"]);
    for shown in [
        "/live.mp3",
        "Radio Test",
        "Now &amp; Then",
        "audio/mpeg",
        ">live<",
        ">1<",
        "KiB",
    ] {
        assert!(dom.contains(shown), "{shown} not in {dom}");
    }
    // And as a person sees it (kept beside the test's files).
    let shot = dir.path().join("status.png");
    chromium(&[&format!("--screenshot={}", shot.display())]);
    let png = std::fs::read(&shot).expect("a screenshot");
    assert!(
        png.starts_with(b"\x89PNG\r\n\x1a\n") && png.len() > 5000,
        "{} bytes",
        png.len()
    );
    let width = u32::from_be_bytes(png[16..20].try_into().unwrap());
    assert_eq!(width, 1100);
    listener.finish();
}

#[test]
fn listclients_shows_the_real_client_behind_a_trusted_proxy() {
    let dir = tempfile::tempdir().unwrap();
    let tone = mp3_tone(dir.path(), "tone.mp3", 30, 128);
    let server = Httpout::start(
        &[
            "--ifce=127.0.0.1",
            "--port=0",
            "--admin_password=hackme",
            "--trusted_proxies=127.0.0.1/32",
            "-i",
            tone.to_str().unwrap(),
            "-o",
            "http://127.0.0.1/live.mp3",
            "--rt",
        ],
        1,
    );
    let url = server.url().to_owned();
    wait_status(&url, |v| bytes_in(v, "/live.mp3") > 4000);
    // A proxy on 127.0.0.1 (trusted) says who the client is, as nginx does.
    let listener = Background::start(
        host(&url),
        "/live.mp3",
        "X-Forwarded-For: 198.51.100.7\r\nUser-Agent: Behind/1\r\n",
        60.0,
    );
    let clients = wait_for(
        &format!("{url}/admin/listclients?mount=/live.mp3"),
        "Behind/1",
    );
    assert!(clients.contains("<IP>198.51.100.7</IP>"), "{clients}");
    listener.finish();
}

#[test]
fn the_status_page_follows_the_streams_over_a_websocket_in_chromium() {
    let web = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/web");
    assert!(
        web.join("node_modules/puppeteer-core").is_dir(),
        "{}/node_modules lacks puppeteer-core: run scripts/test.sh (npm ci there)",
        web.display()
    );
    let dir = tempfile::tempdir().unwrap();
    let tone = mp3_tone(dir.path(), "tone.mp3", 60, 128);
    let server = Httpout::start(
        &[
            "--ifce=127.0.0.1",
            "--port=0",
            "--source_password=hackme",
            "-i",
            tone.to_str().unwrap(),
            "-o",
            "http://127.0.0.1/live.mp3",
            "--rt",
            "--ice-name=Radio Test",
            "--title=First",
        ],
        1,
    );
    let url = server.url().to_owned();
    wait_status(&url, |v| bytes_in(v, "/live.mp3") > 8000);
    let mut page = std::process::Command::new("node")
        .args([
            "live_status.mjs",
            &format!("{url}/status.xsl"),
            "Second & Last",
        ])
        .current_dir(&web)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("node is installed (see scripts/test.sh)");
    // Once the page follows the socket, the title changes on the server:
    // the page shows it without a reload.
    let mut err = std::io::BufReader::new(page.stderr.take().unwrap());
    let mut line = String::new();
    while std::io::BufRead::read_line(&mut err, &mut line).unwrap() > 0 && line.trim() != "ready" {
        line.clear();
    }
    assert_eq!(line.trim(), "ready", "the page never followed the socket");
    let update =
        format!("{url}/admin/metadata?mount=/live.mp3&mode=updinfo&song=Second%20%26%20Last");
    let done = curl(&["-u", "source:hackme", &update]);
    assert!(String::from_utf8_lossy(&done.stdout).contains("<return>1</return>"));
    let out = page.wait_with_output().unwrap();
    assert!(out.status.success(), "live_status.mjs failed");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["loads"], 1, "the page reloaded: {report}");
    let row = &report["rows"][0];
    assert_eq!(row[0], "/live.mp3", "{report}");
    assert_eq!(row[1], "Radio Test", "{report}");
    assert_eq!(row[2], "live", "{report}");
    assert_eq!(row[9], "Second & Last", "{report}");
}

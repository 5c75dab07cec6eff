//! The file sink as an LL-HLS origin, driven by the tests' packager
//! (`support/llhls.rs`) publishing 200 ms parts in real time, and read
//! with curl as an LL-HLS player reads it: the part a playlist hints at,
//! blocking playlist reloads (`_HLS_msn`/`_HLS_part`) and delta playlists
//! (`_HLS_skip=YES`). Browser players on the same packager: players_web.rs.

use std::path::Path;
use std::time::{Duration, Instant};

mod support;

use httpout_test::media;
use support::llhls::{Fmp4, Options, Publisher, Upload};
use support::{Httpout, curl};

/// The origin (no `--wait_new`: what it holds, it holds as an LL-HLS
/// origin) and the packager publishing 30 s of 200 ms parts with `upload`,
/// a full window (12 s) published at once.
fn origin_and_packager(dir: &Path, upload: Upload) -> (Httpout, Publisher) {
    let d = dir.display().to_string();
    let server = Httpout::start(
        &[
            "--ifce=127.0.0.1",
            "--port=0",
            &format!("--rdirs={d}"),
            &format!("--wdir={d}"),
            "--maxp=0",
        ],
        1,
    );
    let source = tempfile::tempdir().unwrap();
    let mp4 = media::fragmented_mp4(source.path(), "source.mp4", 30);
    let media = Fmp4::parse(&std::fs::read(&mp4).unwrap());
    let publisher = Publisher::start(
        media,
        Options {
            host: server.url().trim_start_matches("http://").to_owned(),
            dir: "/live".to_owned(),
            window: 12,
            part_segments: 3,
            backlog: Duration::from_secs(12),
            upload,
        },
    );
    // Once the backlog is out, the parts come in real time.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !dir.join("live/seg11.m4s").exists() {
        assert!(Instant::now() < deadline, "the backlog was not uploaded");
        std::thread::sleep(Duration::from_millis(50));
    }
    (server, publisher)
}

/// GETs `url` (curl, 10 s at most): its status, seconds taken, body.
fn get(url: &str) -> (u16, f64, Vec<u8>) {
    let out = tempfile::NamedTempFile::new().unwrap();
    let answer = curl(&[
        "-o",
        out.path().to_str().unwrap(),
        "-w",
        "%{http_code} %{time_total}",
        url,
    ]);
    let text = String::from_utf8_lossy(&answer.stdout).into_owned();
    let (status, secs) = text.split_once(' ').unwrap_or(("0", "0"));
    (
        status.parse().unwrap_or(0),
        secs.parse().unwrap_or(0.0),
        std::fs::read(out.path()).unwrap_or_default(),
    )
}

/// The URI of the playlist's `EXT-X-PRELOAD-HINT`.
fn hint(m3u8: &str) -> Option<String> {
    let line = m3u8
        .lines()
        .find(|l| l.starts_with("#EXT-X-PRELOAD-HINT:"))?;
    let uri = line.split_once("URI=\"")?.1;
    Some(uri.split_once('"')?.0.to_owned())
}

/// `(N, M)` of `segN.partM.m4s`.
fn part_numbers(name: &str) -> (u64, u64) {
    let rest = name.strip_prefix("seg").expect("segN.partM.m4s");
    let (n, rest) = rest.split_once(".part").expect("segN.partM.m4s");
    let m = rest.strip_suffix(".m4s").expect("segN.partM.m4s");
    (n.parse().unwrap(), m.parse().unwrap())
}

/// GETs the part `name` the playlist hints at, before or while it is
/// uploaded: `Err` unless it comes whole (as uploaded, compared with the
/// file once on disk) within a few seconds.
fn get_hinted_part(base: &str, dir: &Path, name: &str) -> Result<(), String> {
    let (status, secs, body) = get(&format!("{base}/live/{name}"));
    if status != 200 {
        return Err(format!("GET of the hinted {name}: {status} after {secs} s"));
    }
    let file = dir.join("live").join(name);
    let deadline = Instant::now() + Duration::from_secs(5);
    let uploaded = loop {
        if let Ok(bytes) = std::fs::read(&file) {
            break bytes;
        }
        if Instant::now() > deadline {
            return Err(format!("{name} was never uploaded"));
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    if body != uploaded {
        return Err(format!(
            "the hinted {name}: {} bytes served, {} uploaded",
            body.len(),
            uploaded.len()
        ));
    }
    if secs > 3.0 {
        return Err(format!("the hinted {name} took {secs} s"));
    }
    Ok(())
}

/// A packager streaming each part from its hint: a GET of the hinted part
/// gets it from the live edge while it is uploaded, whole.
#[test]
fn a_part_streamed_from_its_hint_is_served_from_the_live_edge() {
    let dir = tempfile::tempdir().unwrap();
    let (server, publisher) = origin_and_packager(dir.path(), Upload::Streamed);
    let base = server.url().to_owned();
    for _ in 0..5 {
        let (status, _, m3u8) = get(&format!("{base}/live/live.m3u8"));
        assert_eq!(status, 200);
        let m3u8 = String::from_utf8(m3u8).unwrap();
        let name = hint(&m3u8).unwrap_or_else(|| panic!("no preload hint: {m3u8}"));
        if let Err(e) = get_hinted_part(&base, dir.path(), &name) {
            panic!("{e}");
        }
    }
    let stats = publisher.finish();
    assert!(stats.errors.is_empty(), "{stats:?}");
}

/// A packager uploading each part whole once ready (the origin sees the
/// GET of the hinted part before the upload): the LL-HLS delivery
/// directives. A blocking reload is held until the playlist has the part
/// asked for; the hinted part's GET is held until its upload starts, then
/// streamed; `_HLS_skip=YES` gets a delta playlist. Every failure is
/// reported together.
#[test]
fn blocking_reloads_hinted_parts_and_deltas_are_served() {
    let dir = tempfile::tempdir().unwrap();
    let (server, publisher) = origin_and_packager(dir.path(), Upload::Whole);
    let base = server.url().to_owned();
    let mut problems = Vec::new();
    let (_, _, m3u8) = get(&format!("{base}/live/live.m3u8"));
    let mut m3u8 = String::from_utf8(m3u8).unwrap();
    for _ in 0..5 {
        let Some(name) = hint(&m3u8) else {
            problems.push(format!("no preload hint in {m3u8}"));
            break;
        };
        // The hinted part: asked for before its upload starts.
        if let Err(e) = get_hinted_part(&base, dir.path(), &name) {
            problems.push(e);
        }
        // The playlist that has the part after it: held until then.
        let (n, m) = part_numbers(&name);
        let next = if m == 4 { (n + 1, 0) } else { (n, m + 1) };
        let (status, secs, body) = get(&format!(
            "{base}/live/live.m3u8?_HLS_msn={}&_HLS_part={}",
            next.0, next.1
        ));
        m3u8 = String::from_utf8(body).unwrap();
        let wanted = format!("URI=\"seg{}.part{}.m4s\"", next.0, next.1);
        if status != 200 || !m3u8.contains(&wanted) || secs > 3.0 {
            problems.push(format!(
                "blocking reload for part {next:?}: {status} in {secs} s, \
                 with the part: {}",
                m3u8.contains(&wanted)
            ));
        }
    }
    // A delta playlist: the segments older than CAN-SKIP-UNTIL (6 s) from
    // the end are skipped.
    let (status, _, delta) = get(&format!("{base}/live/live.m3u8?_HLS_skip=YES"));
    let delta = String::from_utf8(delta).unwrap();
    if status != 200 || !delta.contains("#EXT-X-SKIP:SKIPPED-SEGMENTS=") {
        problems.push(format!("_HLS_skip=YES: {status}, no EXT-X-SKIP: {delta}"));
    }
    let stats = publisher.finish();
    assert!(stats.errors.is_empty(), "{stats:?}");
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

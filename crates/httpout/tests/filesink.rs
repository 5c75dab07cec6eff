//! The file sink with real packagers and players: ffmpeg pushes a live DASH
//! stream by PUT, ffprobe and ffmpeg read it back live from httpout; an
//! `-i FIFO` input is served while it is written.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

mod support;

use httpout_test::media;
use support::{Httpout, curl};

/// How long the packager may take to finish after the test has read the
/// stream (it runs at the media rate, for 10 s at most).
const PACKAGER_END: Duration = Duration::from_secs(30);

#[test]
fn ffmpeg_pushes_live_dash_and_ffprobe_reads_it_back() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display().to_string();
    let server = Httpout::start(
        &[
            "--ifce=127.0.0.1",
            "--port=0",
            &format!("--rdirs={d}"),
            &format!("--wdir={d}"),
            "--wait_new=3000",
            "--maxp=0",
        ],
        1,
    );
    let mpd = format!("{}/live/live.mpd", server.url());
    let mut packager = media::ll_dash(10, 1, &["-method", "PUT"], &mpd);
    std::thread::sleep(Duration::from_secs(3));
    // While the packager is still pushing: probe, then decode 3 s.
    if let Err(e) = media::probe(&mpd, "stream=codec_name") {
        panic!("live probe failed: {e}");
    }
    if let Err(e) = media::decode(&mpd, Some(3)) {
        panic!("live decode failed: {e}");
    }
    packager.wait(PACKAGER_END);
    let live = dir.path().join("live");
    assert!(live.join("init-stream0.m4s").exists());
    let segments = std::fs::read_dir(&live)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .starts_with("chunk-")
        })
        .count();
    assert!(segments >= 5, "{segments} segments");
}

#[test]
fn ffmpeg_writing_locally_is_served_live_through_inotify() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("live")).unwrap();
    let d = dir.path().display().to_string();
    let server = Httpout::start(
        &[
            "--ifce=127.0.0.1",
            "--port=0",
            &format!("--rdirs={d}"),
            "--maxp=0",
        ],
        1,
    );
    let local_mpd = dir.path().join("live/live.mpd").display().to_string();
    let mut packager = media::ll_dash(8, 1, &[], &local_mpd);
    // ffmpeg writes each segment as NAME.tmp and renames it when done: the
    // segment in progress is served under NAME (no 404, no wait).
    let live_dir = dir.path().join("live");
    let deadline = Instant::now() + Duration::from_secs(15);
    let in_progress = loop {
        assert!(Instant::now() < deadline, "no segment in progress seen");
        let tmp = std::fs::read_dir(&live_dir)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .find(|n| n.starts_with("chunk-") && n.ends_with(".m4s.tmp"));
        if let Some(tmp) = tmp {
            break tmp.trim_end_matches(".tmp").to_owned();
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let url = format!("{}/live/{in_progress}", server.url());
    let out = curl(&[
        "-D",
        "-",
        "-o",
        &dir.path().join("got.m4s").display().to_string(),
        &url,
    ]);
    let head = String::from_utf8_lossy(&out.stdout).to_lowercase();
    assert!(
        head.starts_with("http/1.1 200") && head.contains("transfer-encoding: chunked"),
        "{in_progress}: {head}"
    );
    let got = std::fs::read(dir.path().join("got.m4s")).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !live_dir.join(&in_progress).exists() {
        assert!(
            Instant::now() < deadline,
            "{in_progress} never renamed into place"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(
        got,
        std::fs::read(live_dir.join(&in_progress)).unwrap(),
        "the live copy equals the final segment"
    );
    let mpd = format!("{}/live/live.mpd", server.url());
    if let Err(e) = media::decode(&mpd, Some(3)) {
        panic!("live decode failed: {e}");
    }
    packager.wait(PACKAGER_END);
}

#[test]
fn an_input_fifo_is_served_while_it_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("in.fifo");
    support::mkfifo(&fifo);
    let out = dir.path().join("out");
    std::fs::create_dir(&out).unwrap();
    let server = Httpout::start(
        &[
            "--ifce=127.0.0.1",
            "--port=0",
            &format!("--rdirs={}", out.display()),
            "-i",
            &fifo.display().to_string(),
            "-o",
            "http://localhost/live/a.ts",
        ],
        1,
    );
    // The writer holds the rest of its input until the reader has had the
    // first bytes: they can only have come while the input was being
    // written (not once it ended).
    let (first_read, go_on) = std::sync::mpsc::channel::<()>();
    let writer = std::thread::spawn(move || {
        let mut f = std::fs::OpenOptions::new().write(true).open(&fifo).unwrap();
        f.write_all(b"first|").unwrap();
        let read = go_on.recv_timeout(Duration::from_secs(20));
        f.write_all(b"second").unwrap();
        read.expect("the reader got the first bytes while the input was open");
    });
    // The reader joins once the first bytes are in the sink's file (a
    // temporary name in live/, renamed when the input ends).
    let live = out.join("live");
    let holds_first = || {
        std::fs::read_dir(&live).is_ok_and(|entries| {
            entries
                .flatten()
                .any(|e| e.metadata().is_ok_and(|m| m.len() >= 6))
        })
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while !holds_first() {
        assert!(Instant::now() < deadline, "the input was not written");
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut reader = Command::new("curl")
        .args([
            "-sS",
            "-N",
            "--max-time",
            "20",
            &format!("{}/live/a.ts", server.url()),
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = reader.stdout.take().unwrap();
    let mut first = [0u8; 6];
    use std::io::Read;
    // Bounded: curl gives up after 20 s, and the writer after 20 s.
    stdout
        .read_exact(&mut first)
        .expect("the first bytes before the input ended");
    assert_eq!(&first, b"first|");
    first_read
        .send(())
        .expect("the writer gave up waiting: the first bytes came after 20 s");
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).unwrap();
    assert_eq!(rest, "second");
    assert!(reader.wait().unwrap().success());
    writer.join().unwrap();
    assert_eq!(
        std::fs::read(out.join("live/a.ts")).unwrap(),
        b"first|second"
    );
    assert_eq!(
        curl(&[&format!("{}/live/a.ts", server.url())]).stdout,
        b"first|second"
    );
}

/// `curl ARGS -o /dev/null -w %{http_code}`: the status alone.
fn curl_status(args: &[&str]) -> String {
    let mut all = vec!["-o", "/dev/null", "-w", "%{http_code}"];
    all.extend_from_slice(args);
    String::from_utf8_lossy(&curl(&all).stdout).into_owned()
}

/// PUT of `body` to `base` + `path` with curl: the status.
fn put_to(base: &str, path: &str, body: &[u8]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("b");
    std::fs::write(&f, body).unwrap();
    curl_status(&["-T", &f.display().to_string(), &format!("{base}{path}")])
}

/// GET of `base` + `path` with curl: the status.
fn status_of(base: &str, path: &str) -> String {
    curl_status(&[&format!("{base}{path}")])
}

#[test]
fn gmem_keeps_the_last_segments_in_memory_and_never_cuts_a_reader() {
    let server = Httpout::start(
        &[
            "--ifce=127.0.0.1",
            "--port=0",
            "--rdirs=gmem",
            "--wdir=gmem",
            "--max_cache_segs=2",
        ],
        1,
    );
    let base = server.url().to_owned();
    let put = |path: &str, body: &[u8]| put_to(&base, path, body);
    let status = |path: &str| status_of(&base, path);
    assert_eq!(put("/live/live.mpd", b"<MPD/>"), "201");
    assert_eq!(put("/live/init.mp4", b"init"), "201");
    // A big first segment, then a slow reader of it.
    let big = vec![7u8; 2 << 20];
    assert_eq!(put("/live/v_1.m4s", &big), "201");
    let mut slow = Command::new("curl")
        .args([
            "-sS",
            "--max-time",
            "20",
            "--limit-rate",
            "1M",
            "-o",
            "-",
            &format!("{base}/live/v_1.m4s"),
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    for i in 2..=4 {
        assert_eq!(
            put(
                &format!("/live/v_{i}.m4s"),
                format!("segment {i}").as_bytes()
            ),
            "201"
        );
    }
    // At most 2 segments of the stream are kept; the manifest and the
    // (single) init segment are never evicted.
    assert_eq!(status("/live/v_1.m4s"), "404");
    assert_eq!(status("/live/v_2.m4s"), "404");
    assert_eq!(status("/live/v_3.m4s"), "200");
    assert_eq!(status("/live/v_4.m4s"), "200");
    assert_eq!(status("/live/live.mpd"), "200");
    assert_eq!(status("/live/init.mp4"), "200");
    // The reader of the evicted segment still gets all of it.
    let mut got = Vec::new();
    use std::io::Read;
    slow.stdout.take().unwrap().read_to_end(&mut got).unwrap();
    assert!(slow.wait().unwrap().success());
    assert_eq!(
        got.len(),
        big.len(),
        "eviction never cuts a segment being read"
    );
    // The memory directory lives only as long as the server.
    let pid_dirs = || {
        std::fs::read_dir("/dev/shm")
            .unwrap()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().starts_with("httpout-gmem-"))
            .count()
    };
    let before = pid_dirs();
    assert!(before >= 1);
    let (code, _) = server.terminate();
    assert_eq!(code, Some(0));
    assert_eq!(pid_dirs(), before - 1, "removed at exit");
}

/// PUTs segments `v_N.m4s` for N in `range` under `/live/`.
fn put_segments(base: &str, range: std::ops::RangeInclusive<u32>) {
    for i in range {
        let body = format!("segment {i}");
        assert_eq!(
            put_to(base, &format!("/live/v_{i}.m4s"), body.as_bytes()),
            "201"
        );
    }
}

/// The numbers N in `range` whose `/live/v_N.m4s` is still served.
fn kept_segments(base: &str, range: std::ops::RangeInclusive<u32>) -> Vec<u32> {
    range
        .filter(|i| status_of(base, &format!("/live/v_{i}.m4s")) == "200")
        .collect()
}

/// A live MPD of 2 s segments (a `SegmentTemplate`) with `depth` of time shift.
fn mpd_with_time_shift(depth: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="utf-8"?>
<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" type="dynamic" minimumUpdatePeriod="PT2S"
     timeShiftBufferDepth="{depth}" availabilityStartTime="1970-01-01T00:00:00Z">
  <Period id="0"><AdaptationSet mimeType="video/mp4">
    <SegmentTemplate timescale="1000" duration="2000" media="v_$Number$.m4s" startNumber="1"/>
    <Representation id="v" bandwidth="100000"/>
  </AdaptationSet></Period>
</MPD>
"#
    )
}

/// Issue 11 item 8: in memory, `max_cache_segs=0` keeps one segment, not
/// all, and the time-shift depth of the manifest uploaded beside the
/// segments bounds the count: MIN(N, depth).
#[test]
fn gmem_retention_is_bounded_and_follows_the_manifest_time_shift() {
    let gmem = [
        "--ifce=127.0.0.1",
        "--port=0",
        "--rdirs=gmem",
        "--wdir=gmem",
    ];
    let server = Httpout::start(&[&gmem[..], &["--max_cache_segs=0"]].concat(), 1);
    put_segments(server.url(), 1..=4);
    assert_eq!(
        kept_segments(server.url(), 1..=4),
        [4],
        "max_cache_segs=0 in memory"
    );
    // 5, and 4 s of time shift in 2 s segments: MIN(5, 2).
    let server = Httpout::start(&[&gmem[..], &["--max_cache_segs=5"]].concat(), 1);
    let mpd = mpd_with_time_shift("PT4S");
    assert_eq!(
        put_to(server.url(), "/live/live.mpd", mpd.as_bytes()),
        "201"
    );
    put_segments(server.url(), 1..=6);
    assert_eq!(
        kept_segments(server.url(), 1..=6),
        [5, 6],
        "MIN(N, depth) in memory"
    );
}

/// Issue 11 item 8: on disk a positive `max_cache_segs` keeps everything
/// until a manifest gives a time-shift depth, then MAX(N, depth); an HLS
/// media playlist's window counts the segments it lists.
#[test]
fn disk_retention_follows_the_manifest_time_shift() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display().to_string();
    let (rdirs, wdir) = (format!("--rdirs={d}"), format!("--wdir={d}"));
    let disk = [
        "--ifce=127.0.0.1",
        "--port=0",
        &rdirs,
        &wdir,
        "--max_cache_segs=2",
    ];
    let server = Httpout::start(&disk, 1);
    put_segments(server.url(), 1..=3);
    assert_eq!(
        kept_segments(server.url(), 1..=3),
        [1, 2, 3],
        "no time shift: all"
    );
    // 10 s of time shift in 2 s segments: MAX(2, 5).
    let mpd = mpd_with_time_shift("PT10S");
    assert_eq!(
        put_to(server.url(), "/live/live.mpd", mpd.as_bytes()),
        "201"
    );
    put_segments(server.url(), 4..=8);
    assert_eq!(
        kept_segments(server.url(), 1..=8),
        [4, 5, 6, 7, 8],
        "MAX(N, depth) on disk"
    );

    std::fs::remove_file(dir.path().join("live/live.mpd")).unwrap();
    let server = Httpout::start(&disk, 1);
    let playlist = "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:8\n\
                    #EXTINF:2.0,\nv_8.m4s\n#EXTINF:2.0,\nv_9.m4s\n#EXTINF:2.0,\nv_10.m4s\n";
    assert_eq!(
        put_to(server.url(), "/live/index.m3u8", playlist.as_bytes()),
        "201"
    );
    put_segments(server.url(), 9..=10);
    assert_eq!(
        kept_segments(server.url(), 1..=10),
        [8, 9, 10],
        "the playlist window"
    );
}

//! The low-latency origin with real writers: LL-HLS blocking playlist
//! reloads of a playlist ffmpeg uploads by PUT, of one a local writer
//! renames into place, and of one an `-i` input writes; the
//! `--utc_timing` clock read by curl. Every wait is bounded; no timing
//! assertion is finer than a target duration.

use std::io::Write as _;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant, SystemTime};

mod support;

use httpout_test::media;
use support::{Httpout, curl};

/// The last complete segment's media sequence number in an HLS playlist.
fn last_msn(playlist: &str) -> Option<u64> {
    let first: u64 = playlist
        .lines()
        .find_map(|l| l.strip_prefix("#EXT-X-MEDIA-SEQUENCE:"))?
        .trim()
        .parse()
        .ok()?;
    let segments = playlist
        .lines()
        .filter(|l| l.starts_with("#EXTINF"))
        .count() as u64;
    (segments > 0).then(|| first + segments - 1)
}

/// curl in the background (its output read by [`finish`]).
fn curl_bg(args: &[&str]) -> Child {
    Command::new("curl")
        .args(["-sS", "--max-time", "20"])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("curl is installed (see scripts/test.sh)")
}

fn finish(child: Child) -> Output {
    child.wait_with_output().unwrap()
}

fn text(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn ffmpeg_hls_uploaded_by_put_answers_blocking_reloads() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display().to_string();
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
    let url = format!("{}/hls/live.m3u8", server.url());
    let mut packager = media::hls(20, &["-method", "PUT"], &url);
    // Until the playlist lists two segments (bounded: 15 s of 100 ms steps).
    let deadline = Instant::now() + Duration::from_secs(15);
    let last = loop {
        let out = curl(&[&url]);
        if let Some(last) = last_msn(&text(&out)).filter(|_| out.status.success()) {
            if last >= 1 {
                break last;
            }
        }
        assert!(Instant::now() < deadline, "no playlist from ffmpeg");
        std::thread::sleep(Duration::from_millis(100));
    };
    // The next segment is not listed yet: the request waits for the upload
    // of the playlist that lists it (one-second segments: it comes well
    // within the hold limit of three target durations).
    let next = last + 1;
    let out = curl(&["-i", &format!("{url}?_HLS_msn={next}")]);
    let answer = text(&out);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let body = answer.split("\r\n\r\n").nth(1).unwrap_or("");
    assert!(
        last_msn(body).is_some_and(|l| l >= next),
        "the answer lists segment {next}: {body}"
    );
    assert!(
        answer
            .to_ascii_lowercase()
            .contains("cache-control: public, max-age=")
    );
    // Too far ahead: 400 at once.
    let out = curl(&[
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        &format!("{url}?_HLS_msn={}", next + 5),
    ]);
    assert_eq!(text(&out), "400");
    packager.wait(Duration::from_secs(40));
}

#[test]
fn a_local_writer_renaming_its_playlist_wakes_blocking_reloads() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display().to_string();
    let server = Httpout::start(
        &["--ifce=127.0.0.1", "--port=0", &format!("--rdirs={d}")],
        1,
    );
    let playlist = |segments: u64| {
        let mut p = String::from("#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXT-X-MEDIA-SEQUENCE:0\n");
        for i in 0..segments {
            p.push_str(&format!("#EXTINF:4.0,\nseg{i}.ts\n"));
        }
        p
    };
    // As ffmpeg writes it: a temporary file renamed into place.
    let write = |segments| {
        let tmp = dir.path().join("live.m3u8.tmp");
        std::fs::write(&tmp, playlist(segments)).unwrap();
        std::fs::rename(&tmp, dir.path().join("live.m3u8")).unwrap();
    };
    write(2);
    let url = format!("{}/live.m3u8?_HLS_msn=2", server.url());
    let held = curl_bg(&["-i", &url]);
    // Not answered by the playlist as it is (segments 0 and 1): checked
    // by writing it again unchanged, then the one with segment 2.
    std::thread::sleep(Duration::from_millis(500));
    write(2);
    std::thread::sleep(Duration::from_millis(500));
    write(3);
    let answer = text(&finish(held));
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains("\nseg2.ts\n"), "{answer}");
}

#[test]
fn a_playlist_written_in_place_is_answered_whole() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display().to_string();
    let server = Httpout::start(
        &["--ifce=127.0.0.1", "--port=0", &format!("--rdirs={d}")],
        1,
    );
    let path = dir.path().join("live.m3u8");
    let head = "#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXT-X-MEDIA-SEQUENCE:0\n#EXTINF:4.0,\nseg0.ts\n";
    std::fs::write(&path, head).unwrap();
    // Segment 1 is on disk while the writer still has the file open: a
    // reload asking for it waits for the rest, never sends the playlist
    // cut (which an edge would cache).
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .unwrap();
    f.write_all(b"#EXTINF:4.0,\nseg1.ts\n").unwrap();
    f.flush().unwrap();
    // Until the server follows the writer (its answer has no length:
    // the file is growing), bounded.
    let url = format!("{}/live.m3u8", server.url());
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let head = text(&curl(&["-sI", &url])).to_ascii_lowercase();
        if head.starts_with("http/1.1 200") && !head.contains("content-length") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the writer was not followed: {head}\nhttpout's stderr:\n{}\ninotify instances in use: {}",
            server.stderr(),
            inotify_instances()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let held = curl_bg(&["-i", &format!("{}/live.m3u8?_HLS_msn=1", server.url())]);
    std::thread::sleep(Duration::from_millis(700));
    f.write_all(b"#EXT-X-RENDITION-REPORT:URI=\"b.m3u8\",LAST-MSN=1\n")
        .unwrap();
    drop(f);
    let answer = text(&finish(held));
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains("#EXT-X-RENDITION-REPORT"), "{answer}");
}

#[test]
fn an_input_writing_a_playlist_wakes_blocking_reloads() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("in.fifo");
    support::mkfifo(&fifo);
    let out = dir.path().join("out");
    std::fs::create_dir(&out).unwrap();
    let old = "#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXT-X-MEDIA-SEQUENCE:7\n#EXTINF:4.0,\na.ts\n";
    std::fs::write(out.join("live.m3u8"), old).unwrap();
    let server = Httpout::start(
        &[
            "--ifce=127.0.0.1",
            "--port=0",
            &format!("--rdirs={}", out.display()),
            "-i",
            &fifo.display().to_string(),
            "-o",
            "http://localhost/live.m3u8",
        ],
        1,
    );
    let held = curl_bg(&["-i", &format!("{}/live.m3u8?_HLS_msn=8", server.url())]);
    std::thread::sleep(Duration::from_millis(500));
    let mut f = std::fs::OpenOptions::new().write(true).open(&fifo).unwrap();
    f.write_all(format!("{old}#EXTINF:4.0,\nb.ts\n").as_bytes())
        .unwrap();
    drop(f);
    let answer = text(&finish(held));
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains("\nb.ts\n"), "{answer}");
}

#[test]
fn the_utc_timing_clock_answers_to_the_millisecond() {
    let dir = tempfile::tempdir().unwrap();
    let rdirs = format!("--rdirs={}", dir.path().display());
    let args = ["--ifce=127.0.0.1", "--port=0", &rdirs, "--utc_timing=/time"];
    let server = Httpout::start(&args, 1);
    let url = format!("{}/time", server.url());
    let before = SystemTime::now();
    let out = curl(&["-i", &url]);
    let answer = text(&out);
    let (head, body) = answer.split_once("\r\n\r\n").unwrap();
    let head = head.to_ascii_lowercase();
    assert!(head.starts_with("http/1.1 200"), "{answer}");
    assert!(head.contains("cache-control: no-store"), "{head}");
    assert!(head.contains("access-control-allow-origin: *"), "{head}");
    assert!(
        head.contains("access-control-expose-headers: date"),
        "{head}"
    );
    // 2026-12-05T13:40:00.123Z
    let b = body.as_bytes();
    assert_eq!(b.len(), 24, "{body}");
    assert!(
        body.ends_with('Z') && b[10] == b'T' && b[19] == b'.',
        "{body}"
    );
    assert!(
        b[20..23].iter().all(u8::is_ascii_digit),
        "milliseconds: {body}"
    );
    // The same instant as the Date of the answer, to the second.
    let date = answer
        .lines()
        .find_map(|l| {
            l.strip_prefix("date: ")
                .or_else(|| l.strip_prefix("Date: "))
        })
        .expect("a Date")
        .trim();
    let date = httpdate::parse_http_date(date).unwrap();
    let iso_secs = &body[..19];
    let rfc = httpdate::fmt_http_date(date);
    assert!(
        rfc.contains(&iso_secs[11..19]),
        "Date {rfc} and body {body} are one reading"
    );
    let off = date
        .duration_since(before - Duration::from_secs(1))
        .expect("not before the request");
    assert!(off < Duration::from_secs(10), "{off:?}");
    // HEAD: the Date alone (`http-head`).
    let head = text(&curl(&["-I", &url])).to_ascii_lowercase();
    assert!(head.contains("\r\ndate: "), "{head}");
    // Bad paths are refused at start with the option named.
    let (code, _, stderr) = support::run_to_exit(&["--utc_timing=time"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("--utc_timing"), "{stderr}");
}

/// inotify instances open on the machine (`fs.inotify.max_user_instances`
/// bounds them per user): what a failure to follow a writer may come from.
fn inotify_instances() -> usize {
    let Ok(procs) = std::fs::read_dir("/proc") else {
        return 0;
    };
    procs
        .flatten()
        .filter_map(|p| std::fs::read_dir(p.path().join("fd")).ok())
        .flat_map(|fds| fds.flatten())
        .filter(|fd| {
            std::fs::read_link(fd.path()).is_ok_and(|t| t.as_os_str() == "anon_inode:inotify")
        })
        .count()
}

//! Players through a source that comes, goes and comes back, on a mount
//! whose fallback is a looping file: mpv and VLC (Debian's) each connect
//! once and play on for the whole run, about 30 s. What each received is
//! recorded by the player itself (mpv's `--stream-record`, VLC's `std`
//! output) and walked frame by frame: fallback, live, fallback, live, every
//! switch on a frame. mpv's log shows the titles following; VLC 3's HTTP
//! module does not ask for ICY titles, so only its stream is checked.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

mod support;

use httpout_test::media::{self, mp3_tone};
use support::live::{bytes_in, frame_bitrates, host, listeners, runs, wait_status};
use support::{Httpout, curl, is_root};

/// Runs the fallback scenario with a player started by `start` (given the
/// stream's URL), then stopped with SIGTERM: the server's log.
fn through_a_source_coming_and_going(dir: &Path, start: impl FnOnce(&str) -> Child) -> String {
    let backup = mp3_tone(dir, "backup.mp3", 40, 64);
    let live = mp3_tone(dir, "live.mp3", 6, 128);
    let server = Httpout::start(
        &[
            "--ifce=127.0.0.1",
            "--port=0",
            "--source_password=hackme",
            "-i",
            backup.to_str().unwrap(),
            "-o",
            "http://127.0.0.1/backup.mp3",
            "--rt",
            "--reopen",
            "--title=Backup loop",
            // At the live point: a player paced by playback reads about as
            // the stream comes, so what it got covers the whole run.
            "--burst=0",
            "--mount=/live.mp3:fallback=/backup.mp3:fallback_override=1",
        ],
        1,
    );
    let url = server.url().to_owned();
    wait_status(&url, |v| bytes_in(v, "/backup.mp3") > 8000);
    let mut player = start(&format!("{url}/live.mp3"));
    let deadline = Instant::now() + Duration::from_secs(30);
    while listeners(&url, "/backup.mp3") == 0 {
        assert!(Instant::now() < deadline, "the player never connected");
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_secs(4));
    // Twice: a source comes (6 s of it at its rate), then leaves.
    for round in 1..=2 {
        let mut source = media::mp3_source(
            &live,
            &[&format!("icecast://source:hackme@{}/live.mp3", host(&url))],
        );
        let title =
            format!("{url}/admin/metadata?mount=/live.mp3&mode=updinfo&song=Live%20{round}");
        let deadline = Instant::now() + Duration::from_secs(30);
        while !String::from_utf8_lossy(&curl(&["-s", "-u", "source:hackme", &title]).stdout)
            .contains("<return>1</return>")
        {
            assert!(Instant::now() < deadline, "the source never came");
            std::thread::sleep(Duration::from_millis(100));
        }
        let (status, _, err) = source.wait(Duration::from_secs(60));
        assert!(status.success(), "{err}");
        std::thread::sleep(Duration::from_secs(4));
    }
    // The player is still there, on the fallback.
    assert_eq!(listeners(&url, "/backup.mp3"), 1, "{}", server.stderr());
    let _ = Command::new("kill").arg(player.id().to_string()).status();
    let deadline = Instant::now() + Duration::from_secs(20);
    while player.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "the player did not stop");
        std::thread::sleep(Duration::from_millis(100));
    }
    server.stderr()
}

/// What a player recorded: fallback, live, fallback, live, fallback.
fn check_recording(path: &Path) {
    let bytes = std::fs::read(path).unwrap();
    let r = runs(&frame_bitrates(&bytes));
    assert_eq!(r, [64, 128, 64, 128, 64], "{}", path.display());
    assert!(media::decode_seconds(path, "mp3").unwrap() > 10.0);
}

#[test]
fn mpv_plays_on_through_the_source_leaving_and_coming_back() {
    let dir = tempfile::tempdir().unwrap();
    let record = dir.path().join("mpv-record.mp3");
    let log = dir.path().join("mpv.log");
    let server_log = through_a_source_coming_and_going(dir.path(), |url| {
        Command::new("mpv")
            .args([
                "--no-config",
                "--no-video",
                "--ao=null",
                "--msg-level=all=v",
            ])
            .arg(format!("--stream-record={}", record.display()))
            .arg(format!("--log-file={}", log.display()))
            .arg(url)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("mpv is installed (see scripts/test.sh)")
    });
    let text = std::fs::read_to_string(&log).unwrap();
    // One connection, never a reconnect, never an end of file.
    assert_eq!(text.matches("[ffmpeg] Opening http").count(), 1, "{text}");
    assert!(!text.to_ascii_lowercase().contains("reconnect"), "{text}");
    assert!(!text.contains("EOF reached"), "{text}");
    // The titles followed the moves (as they arrived; mpv shows each when
    // playback reaches it, seconds later, past the end of the run).
    let titles: Vec<&str> = text
        .lines()
        .filter_map(|l| {
            l.split_once("Metadata update for StreamTitle: ")
                .map(|(_, t)| t.trim())
        })
        .collect();
    let mut seen: Vec<&str> = Vec::new();
    for t in titles {
        if seen.last() != Some(&t) {
            seen.push(t);
        }
    }
    assert_eq!(
        seen,
        [
            "Backup loop",
            "Live 1",
            "Backup loop",
            "Live 2",
            "Backup loop"
        ],
        "{server_log}"
    );
    check_recording(&record);
}

#[test]
fn vlc_plays_on_through_the_source_leaving_and_coming_back() {
    let dir = tempfile::tempdir().unwrap();
    // VLC refuses to run as root: as root, run it as nobody.
    let _ = Command::new("chmod").arg("777").arg(dir.path()).status();
    let record = dir.path().join("vlc-record.mp3");
    let log = dir.path().join("vlc.log");
    let log_file = std::fs::File::create(&log).unwrap();
    let _ = Command::new("chmod").arg("666").arg(&log).status();
    through_a_source_coming_and_going(dir.path(), |url| {
        let mut cmd = if is_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "nobody", "--", "cvlc"]);
            c
        } else {
            Command::new("cvlc")
        };
        cmd.args([
            "--intf",
            "dummy",
            "--aout",
            "dummy",
            "-vv",
            "--no-http-reconnect",
        ])
        .arg(format!(
            "--sout=#duplicate{{dst=display,dst=std{{access=file,mux=raw,dst={}}}}}",
            record.display()
        ))
        .arg(url)
        .stdout(Stdio::null())
        .stderr(log_file)
        .spawn()
        .expect("VLC is installed (see scripts/test.sh)")
    });
    let text = std::fs::read_to_string(&log).unwrap();
    assert_eq!(
        text.matches("outgoing request").count(),
        1,
        "one connection: {text}"
    );
    check_recording(&record);
}

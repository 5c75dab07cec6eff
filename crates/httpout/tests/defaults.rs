//! Safe defaults and start-up checks of the binary (issue 11): the host of
//! an `-o` URL is what is bound, each address gets its own server, suffix
//! options stay with their output, nothing starts with nothing to serve or
//! with an input that cannot work, every input kind lets SIGTERM through,
//! and the banner says what is served where.

use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

mod support;

use httpout_test::media::mp3_tone;
use support::{Httpout, curl, free_port, mkfifo, run_to_exit};

/// The response head of `HEAD url` (lower case).
fn head(url: &str) -> String {
    let out = curl(&["-I", url]);
    String::from_utf8_lossy(&out.stdout).to_lowercase()
}

/// The mounts `/status-json.xsl` lists.
fn mounts(base: &str) -> Vec<String> {
    let out = curl(&[&format!("{base}/status-json.xsl")]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("status JSON");
    let sources = &v["icestats"]["source"];
    let list = match sources {
        serde_json::Value::Array(a) => a.clone(),
        serde_json::Value::Null => Vec::new(),
        one => vec![one.clone()],
    };
    let mut names: Vec<String> = list
        .iter()
        .filter_map(|s| s["listenurl"].as_str())
        .map(|u| u.rsplit('/').next().unwrap_or(u).to_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn the_output_host_is_bound_not_every_interface() {
    let dir = tempfile::tempdir().unwrap();
    let mp3 = mp3_tone(dir.path(), "a.mp3", 20, 64);
    let mp3 = mp3.to_str().unwrap();
    let port = free_port();
    let server = Httpout::start(
        &[
            "-i",
            mp3,
            "--rt",
            "-o",
            &format!("http://127.0.0.1:{port}/live.mp3"),
        ],
        1,
    );
    assert_eq!(server.listeners, [format!("http://127.0.0.1:{port}")]);
    // The banner (the mount line) is all in before the check.
    let err = server.stderr_once(" <- -i ");
    assert!(!err.contains("every network interface"), "{err}");
    drop(server);
    // `localhost` means loopback only.
    let server = Httpout::start(&["-i", mp3, "--rt", "-o", "http://localhost:0/live.mp3"], 1);
    let url = &server.listeners[0];
    assert!(
        url.starts_with("http://127.0.0.1:") || url.starts_with("http://[::1]:"),
        "{url}"
    );
    drop(server);
    // No host anywhere: every interface, and a warning says so.
    let server = Httpout::start(
        &[&format!("--rdirs={}", dir.path().display()), "--port=0"],
        1,
    );
    assert!(
        server.listeners[0].starts_with("http://[::]:")
            || server.listeners[0].starts_with("http://0.0.0.0:")
    );
    let err = server.stderr_once("every network interface");
    assert!(err.contains("every network interface"), "{err}");
}

#[test]
fn each_address_gets_its_own_server_and_suffixes_stay_with_their_output() {
    let dir = tempfile::tempdir().unwrap();
    let a = mp3_tone(dir.path(), "a.mp3", 30, 64);
    let b = mp3_tone(dir.path(), "b.mp3", 30, 64);
    let c = mp3_tone(dir.path(), "c.mp3", 30, 64);
    let (pa, pb) = (free_port(), free_port());
    let server = Httpout::start(
        &[
            "-i",
            a.to_str().unwrap(),
            "-o",
            &format!("http://127.0.0.1:{pa}/a.mp3"),
            "-i",
            &format!("{}:#ice-Name=Radio C", c.display()),
            "-o",
            &format!("http://127.0.0.1:{pa}/c.mp3:ice-Genre=Rock"),
            "-i",
            b.to_str().unwrap(),
            "-o",
            &format!("http://127.0.0.1:{pb}/b.mp3:maxc=1:hdrs=X-Server,b"),
            "--rt",
        ],
        2,
    );
    let (base_a, base_b) = (
        format!("http://127.0.0.1:{pa}"),
        format!("http://127.0.0.1:{pb}"),
    );
    assert_eq!(server.listeners, [base_a.clone(), base_b.clone()]);
    // Each server serves its own outputs.
    assert_eq!(mounts(&base_a), ["a.mp3", "c.mp3"]);
    assert_eq!(mounts(&base_b), ["b.mp3"]);
    assert!(head(&format!("{base_a}/b.mp3")).starts_with("http/1.1 404"));
    assert!(head(&format!("{base_b}/a.mp3")).starts_with("http/1.1 404"));
    // An output's ICE values (its -o suffix, its -i property) are its own.
    let ha = head(&format!("{base_a}/a.mp3"));
    let hc = head(&format!("{base_a}/c.mp3"));
    assert!(
        ha.starts_with("http/1.1 200") && hc.starts_with("http/1.1 200"),
        "{ha}{hc}"
    );
    assert!(
        !ha.contains("icy-genre") && !ha.contains("icy-name"),
        "{ha}"
    );
    assert!(
        hc.contains("icy-genre: rock") && hc.contains("icy-name: radio c"),
        "{hc}"
    );
    // A server-wide suffix applies to its output's server only.
    let hb = head(&format!("{base_b}/b.mp3"));
    assert!(hb.contains("x-server: b"), "{hb}");
    assert!(!ha.contains("x-server"), "{ha}");
}

#[test]
fn a_sink_suffix_turns_only_its_own_pair_live() {
    let dir = tempfile::tempdir().unwrap();
    let www = dir.path().join("www");
    std::fs::create_dir(&www).unwrap();
    let a = mp3_tone(dir.path(), "a.mp3", 2, 64);
    let b = mp3_tone(dir.path(), "b.mp3", 30, 64);
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let server = Httpout::start(
        &[
            &format!("--rdirs={}", www.display()),
            "-i",
            a.to_str().unwrap(),
            "-o",
            &format!("{base}/a.mp3"),
            "-i",
            b.to_str().unwrap(),
            "-o",
            &format!("{base}/b.mp3:sink=live:rt"),
        ],
        1,
    );
    // a.mp3 goes to the file sink: written into www, whole.
    let written = www.join("a.mp3");
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::fs::read(&written).ok() != std::fs::read(&a).ok() {
        assert!(
            Instant::now() < deadline,
            "a.mp3 was not written to {}",
            www.display()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // b.mp3 alone is live.
    assert_eq!(mounts(&base), ["b.mp3"]);
    assert!(!www.join("b.mp3").exists());
    drop(server);
}

#[test]
fn nothing_to_serve_and_inputs_that_cannot_work_are_refused_before_listening() {
    let dir = tempfile::tempdir().unwrap();
    let mp3 = mp3_tone(dir.path(), "a.mp3", 1, 64);
    let bare = dir.path().join("noext");
    std::fs::copy(&mp3, &bare).unwrap();
    let rules = dir.path().join("rules.ini");
    std::fs::write(&rules, "[media]\n").unwrap();
    let out = "http://127.0.0.1:1/live.mp3";
    let missing = dir.path().join("missing.mp3");
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            vec![],
            "nothing to serve: give --rdirs, --wdir, -i/-o or --hmode",
        ),
        (
            vec![
                "-i".into(),
                missing.display().to_string(),
                "-o".into(),
                out.into(),
            ],
            "for -i: no such file",
        ),
        (
            vec![
                format!("--rdirs={}", dir.path().display()),
                "-i".into(),
                missing.display().to_string(),
                "-o".into(),
                out.into(),
            ],
            "for -i: no such file",
        ),
        (
            vec![
                "-i".into(),
                mp3.display().to_string(),
                "-o".into(),
                out.into(),
                "--reopen".into(),
            ],
            "--reopen plays the file",
        ),
        (
            vec![
                "-i".into(),
                bare.display().to_string(),
                "-o".into(),
                out.into(),
                "--rt".into(),
            ],
            "--rt cannot pace",
        ),
        (
            vec![format!("--wdir={}", rules.display())],
            "it is a file, and --wdir takes a directory",
        ),
        (
            vec!["httpout:port=18161:foo=bar".into()],
            "unknown option '--foo'",
        ),
        (
            vec![
                format!("--rdirs={}", dir.path().display()),
                "-i".into(),
                mp3.display().to_string(),
                "-o".into(),
                format!("{out}:hold"),
            ],
            "--hold (given with -o http://127.0.0.1:1/live.mp3) applies to the live sink",
        ),
    ];
    for (args, want) in cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let (code, stdout, err) = run_to_exit(&args);
        assert_eq!(code, Some(2), "{args:?}: {err}");
        assert!(stdout.is_empty(), "{args:?}: listened: {stdout}");
        assert!(err.contains(want), "{args:?}: {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{args:?}: {err}");
        assert!(!err.contains("  "), "{args:?}: a run of spaces: {err}");
    }
    let (code, out, _) = run_to_exit(&["users", "--help"]);
    assert_eq!(code, Some(0));
    assert!(out.contains("Usage: httpout users"), "{out}");
}

#[test]
fn mime_chooses_the_pacer_for_a_name_without_extension() {
    let dir = tempfile::tempdir().unwrap();
    let mp3 = mp3_tone(dir.path(), "a.mp3", 30, 64);
    let bare = dir.path().join("stream");
    std::fs::copy(&mp3, &bare).unwrap();
    let port = free_port();
    let server = Httpout::start(
        &[
            "-i",
            bare.to_str().unwrap(),
            "--rt",
            "--mime=audio/mpeg",
            "--burst=0",
            "-o",
            &format!("http://127.0.0.1:{port}/live"),
        ],
        1,
    );
    // Paced at 64 kbit/s: 3 s of listening get about 24 000 bytes, far
    // from the whole 240 000-byte file a disk-speed read would give.
    let out = curl(&[
        "--max-time",
        "3",
        &format!("http://127.0.0.1:{port}/live"),
        "-o",
        "-",
    ]);
    let got = out.stdout.len();
    assert!(got > 4_000 && got < 120_000, "{got} bytes in 3 s");
    let err = server.stderr_once("(live, paced)");
    assert!(
        err.contains("/live <- -i") && err.contains("(live, paced)"),
        "{err}"
    );
}

/// Starts httpout with a standard input that stays open and silent.
fn start_with_idle_stdin(args: &[&str]) -> (std::process::Child, std::process::ChildStdin) {
    let mut child = Command::new(support::binary())
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn httpout");
    let stdin = child.stdin.take().unwrap();
    let mut line = String::new();
    let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
    std::io::BufRead::read_line(&mut out, &mut line).unwrap();
    assert!(line.starts_with("listening on "), "{line}");
    (child, stdin)
}

#[test]
fn sigterm_ends_every_input_kind_within_the_grace_period() {
    const GRACE: u64 = 2;
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("in.fifo");
    mkfifo(&fifo);
    let www = dir.path().join("www");
    std::fs::create_dir(&www).unwrap();
    let fifo = fifo.to_str().unwrap();
    let rdirs = format!("--rdirs={}", www.display());
    let out = "http://127.0.0.1:0/live.mp3";
    let cases: Vec<Vec<&str>> = vec![
        vec!["-i", fifo, "-o", out],
        vec!["-i", fifo, "-o", out, "--reopen"],
        vec!["-i", "-", "-o", out],
        vec![&rdirs, "-i", fifo, "-o", out],
        vec![&rdirs, "-i", "-", "-o", out],
    ];
    for case in cases {
        let grace = format!("--grace={GRACE}");
        let mut args = case.clone();
        args.push(&grace);
        let (mut child, mut stdin) = start_with_idle_stdin(&args);
        // Nobody writes: the FIFO has no writer, stdin stays silent.
        let _ = stdin.flush();
        let asked = Instant::now();
        assert!(
            Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status()
                .unwrap()
                .success()
        );
        // The promise is --grace + 1 s (here it takes milliseconds: nothing
        // is in flight); 2 s more of margin for a loaded machine. Before
        // the fix it never exited.
        let limit = Duration::from_secs(GRACE + 3);
        let status = loop {
            if let Some(s) = child.try_wait().unwrap() {
                break s;
            }
            if asked.elapsed() > limit + Duration::from_secs(10) {
                let _ = child.kill();
                panic!(
                    "{case:?}: still running {:?} after SIGTERM",
                    asked.elapsed()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let took = asked.elapsed();
        assert!(
            took <= limit,
            "{case:?}: exit took {took:?}, more than --grace + 3 s"
        );
        assert_eq!(status.code(), Some(0), "{case:?}");
        drop(stdin);
    }
}

#[test]
fn the_banner_says_what_is_served_where_on_stderr() {
    let dir = tempfile::tempdir().unwrap();
    let www = dir.path().join("www");
    let inbox = dir.path().join("in");
    std::fs::create_dir(&www).unwrap();
    std::fs::create_dir(&inbox).unwrap();
    let server = Httpout::start(
        &[
            "--ifce=127.0.0.1",
            "--port=0",
            &format!("--rdirs={}", www.display()),
            &format!("--wdir={}", inbox.display()),
        ],
        1,
    );
    // Standard output had only the listening line (Httpout::start checks).
    let err = server.stderr_once(&format!("uploads -> {}", inbox.display()));
    assert!(
        err.contains(&format!("/ -> {} (read)", www.display())),
        "{err}"
    );
    assert!(
        err.contains(&format!("uploads -> {}", inbox.display())),
        "{err}"
    );
    assert!(!err.contains("every network interface"), "{err}");
}

#[test]
fn gmem_is_a_private_fresh_directory_and_dead_runs_leftovers_go() {
    use std::os::unix::fs::PermissionsExt;
    // A leftover of a crashed run whose process is gone (no such PID).
    let leftover = Path::new("/dev/shm/httpout-gmem-4194999-crashed");
    std::fs::create_dir_all(leftover).unwrap();
    // The name the old code used for this process's PID is no obstacle.
    let server = Httpout::start(&["--ifce=127.0.0.1", "--port=0", "--rdirs=gmem"], 1);
    assert!(
        !leftover.exists(),
        "the dead run's directory was not removed"
    );
    let err = server.stderr_once(" (read)");
    let dir = err
        .lines()
        .find_map(|l| l.split(": / -> ").nth(1))
        .and_then(|rest| rest.strip_suffix(" (read)"))
        .unwrap_or_else(|| panic!("no gmem mount in the banner: {err}"))
        .to_owned();
    let prefix = format!("/dev/shm/httpout-gmem-{}-", server.pid());
    assert!(
        dir.starts_with(&prefix) && dir.len() > prefix.len(),
        "{dir}"
    );
    let mode = std::fs::metadata(&dir).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o700, "{dir}");
    let (code, _) = server.terminate();
    assert_eq!(code, Some(0));
    assert!(!Path::new(&dir).exists(), "{dir} left after a clean exit");
}

/// `/status-json.xsl` as a WebSocket (Python's `websockets`, in the venv
/// `scripts/test.sh` makes): the status document pushed once a second.
#[test]
fn the_live_status_is_pushed_over_a_websocket() {
    let python =
        std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/pyenv/bin/python");
    let dir = tempfile::tempdir().unwrap();
    let mp3 = mp3_tone(dir.path(), "a.mp3", 20, 64);
    let server = Httpout::start(
        &[
            "-i",
            mp3.to_str().unwrap(),
            "--rt",
            "-o",
            "http://127.0.0.1:0/live.mp3",
        ],
        1,
    );
    let url = format!(
        "{}/status-json.xsl",
        server.listeners[0].replacen("http://", "ws://", 1)
    );
    let script = r#"
import asyncio, json, sys, time
from websockets.asyncio.client import connect
async def main():
    async with connect(sys.argv[1], proxy=None, compression=None) as ws:
        t0 = time.monotonic()
        for _ in range(3):
            doc = json.loads(await asyncio.wait_for(ws.recv(), 20))
            print(doc["icestats"]["uptime_seconds"], json.dumps(doc["icestats"]["source"]), flush=True)
        print(f"elapsed {time.monotonic() - t0:.1f}", flush=True)
asyncio.run(main())
"#;
    let out = std::process::Command::new(&python)
        .args(["-c", script, &url])
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "{} with websockets (scripts/test.sh): {e}",
                python.display()
            )
        });
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 4, "{text}");
    assert!(lines[..3].iter().all(|l| l.contains("live.mp3")), "{text}");
    // Three documents, a second apart: at least two seconds.
    let elapsed: f64 = lines[3].strip_prefix("elapsed ").unwrap().parse().unwrap();
    assert!(elapsed >= 1.9, "{text}");
    drop(server);
}

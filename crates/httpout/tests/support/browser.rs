//! Browser players for the tests: hls.js and dash.js (the npm package in
//! `tests/web/`, installed by `scripts/test.sh`) in Debian's headless
//! Chromium. The player page, its measurement script and the player
//! library are copied into a directory the server under test serves and
//! writes (`--rdirs=D --wdir=D`); Chromium opens the page, which plays the
//! stream for a given time, measures it each second and PUTs a JSON report
//! back into that directory (so no DevTools protocol is needed). Every run
//! is bounded in time, and Chromium (its whole process group) is killed at
//! the end. A missing Chromium or `node_modules` fails the test, saying how
//! to install them.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// How long past its playing time a page may take to load and to report.
const REPORT_GRACE: Duration = Duration::from_secs(40);

/// A player library and its page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Player {
    /// hls.js in low-latency mode (`hls.html`).
    HlsJs,
    /// dash.js with a low live delay and catch-up (`dash.html`; its query's
    /// `delay` sets the live delay, 0.6 s by default).
    DashJs,
}

impl Player {
    /// The page, and the library in `node_modules` it loads (copied beside
    /// it under its file name).
    fn files(self) -> (&'static str, &'static str) {
        match self {
            Self::HlsJs => ("hls.html", "hls.js/dist/hls.min.js"),
            Self::DashJs => ("dash.html", "dashjs/dist/modern/umd/dash.all.min.js"),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::HlsJs => "hlsjs",
            Self::DashJs => "dashjs",
        }
    }
}

/// `tests/web/`: the pages and the npm package.
fn web_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/web")
}

/// Copies the page of `player`, `report.js` and the player library into
/// `dir` (made if needed). Panics, saying how to install it, when the npm
/// package is not installed.
pub(crate) fn install(dir: &Path, player: Player) {
    let web = web_dir();
    let (page, library) = player.files();
    let lib = web.join("node_modules").join(library);
    assert!(
        lib.is_file(),
        "{} is missing: run `npm ci --no-audit --no-fund` in {} (scripts/test.sh does)",
        lib.display(),
        web.display()
    );
    std::fs::create_dir_all(dir).unwrap();
    for (from, to) in [
        (web.join(page), page),
        (web.join("report.js"), "report.js"),
        (
            lib,
            Path::new(library).file_name().unwrap().to_str().unwrap(),
        ),
    ] {
        std::fs::copy(&from, dir.join(to))
            .unwrap_or_else(|e| panic!("copying {}: {e}", from.display()));
    }
}

/// Where the page is served and its report lands.
#[derive(Debug, Clone)]
pub(crate) struct Site {
    /// The server's URL (`http://127.0.0.1:PORT`).
    pub(crate) url: String,
    /// The directory it serves at `/` and takes uploads into (its
    /// `--rdirs` and `--wdir`).
    pub(crate) dir: PathBuf,
}

/// A headless Chromium on a page; killed with its process group when
/// dropped.
#[derive(Debug)]
pub(crate) struct Chromium {
    child: Child,
    log: PathBuf,
    _profile: tempfile::TempDir,
}

impl Chromium {
    /// Starts Chromium on `url`, its output into `log`. Cross-origin checks
    /// are off, so a page can play a stream from another server (an edge)
    /// and still report to its own.
    pub(crate) fn start(url: &str, log: &Path) -> Self {
        let profile = tempfile::tempdir().unwrap();
        let out = std::fs::File::create(log).unwrap();
        let child = Command::new("chromium")
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--mute-audio",
                "--no-first-run",
                "--autoplay-policy=no-user-gesture-required",
                "--disable-web-security",
                "--disable-background-timer-throttling",
                "--disable-renderer-backgrounding",
                "--disable-backgrounding-occluded-windows",
                "--enable-logging=stderr",
                "--v=0",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg(url)
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            // Its own process group: its helpers are killed with it.
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| {
                panic!("chromium cannot run ({e}): install it (scripts/test.sh does)")
            });
        Self {
            child,
            log: log.to_owned(),
            _profile: profile,
        }
    }

    /// The last lines of its log.
    pub(crate) fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }
}

impl Drop for Chromium {
    fn drop(&mut self) {
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill")
            .args(["-KILL", "--", &group])
            .stderr(Stdio::null())
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Plays `src` with `player` for `secs` seconds in headless Chromium, the
/// page served by `site` under `/player/` (`query` is added to the page's
/// query, `&delay=1` for instance); returns the page's report. Panics
/// (with Chromium's last log lines) if no report comes within `secs` plus
/// a grace time.
pub(crate) fn play(site: &Site, player: Player, src: &str, secs: u32, query: &str) -> Report {
    let dir = site.dir.join("player");
    install(&dir, player);
    let name = format!("report-{}.json", player.name());
    let report_path = dir.join(&name);
    let _ = std::fs::remove_file(&report_path);
    let page = format!(
        "{}/player/{}?src={}&secs={secs}&report={}/player/{name}{query}",
        site.url,
        player.files().0,
        encode(src),
        encode(&site.url),
    );
    let mut chromium = Chromium::start(&page, &site.dir.join(format!("{}.log", player.name())));
    let deadline = Instant::now() + Duration::from_secs(secs.into()) + REPORT_GRACE;
    loop {
        if let Ok(text) = std::fs::read_to_string(&report_path) {
            let value: Value = serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("report {}: {e}: {text}", report_path.display()));
            return Report(value);
        }
        if let Ok(Some(status)) = chromium.child.try_wait() {
            panic!(
                "chromium exited ({status}) before the report; its log:\n{}",
                chromium.log_tail()
            );
        }
        assert!(
            Instant::now() < deadline,
            "no report from {page} within {secs} s + {REPORT_GRACE:?}; chromium's log:\n{}",
            chromium.log_tail()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// `s` percent-encoded for a query value.
fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// What a player page measured (see `tests/web/report.js`).
#[derive(Debug, Clone)]
pub(crate) struct Report(pub(crate) Value);

impl Report {
    /// When the video first played, in seconds since the page started.
    pub(crate) fn started(&self) -> Option<f64> {
        self.0["started"].as_f64()
    }

    /// The samples taken at or after `from` seconds: (time, value of
    /// `field`) for those that have one.
    pub(crate) fn series(&self, field: &str, from: f64) -> Vec<(f64, f64)> {
        self.0["samples"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|s| Some((s["t"].as_f64()?, s[field].as_f64()?)))
            .filter(|(t, _)| *t >= from)
            .collect()
    }

    /// The entries of the list `key` (`waiting`, `stalls`) at or after
    /// `from` seconds.
    pub(crate) fn events(&self, key: &str, from: f64) -> Vec<Value> {
        self.0[key]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|e| e["t"].as_f64().is_some_and(|t| t >= from))
            .cloned()
            .collect()
    }

    /// The largest `field` sampled at or after `from` seconds.
    pub(crate) fn max(&self, field: &str, from: f64) -> Option<f64> {
        self.series(field, from)
            .into_iter()
            .map(|(_, v)| v)
            .reduce(f64::max)
    }

    /// The mean of `field` sampled at or after `from` seconds.
    pub(crate) fn mean(&self, field: &str, from: f64) -> Option<f64> {
        let s = self.series(field, from);
        (!s.is_empty()).then(|| s.iter().map(|(_, v)| v).sum::<f64>() / s.len() as f64)
    }

    /// A short account for messages: start, latencies, stalls, errors,
    /// requests.
    pub(crate) fn summary(&self) -> String {
        let latencies: Vec<String> = self
            .series("latency", 0.0)
            .iter()
            .map(|(t, v)| format!("{t:.0}:{v:.2}"))
            .collect();
        let from = self.started().unwrap_or(0.0) + 10.0;
        let figures = |field: &str| match (self.mean(field, from), self.max(field, from)) {
            (Some(mean), Some(max)) => format!("mean {mean:.2} s, max {max:.2} s"),
            _ => "none".to_owned(),
        };
        format!(
            "{} {} started {:?}; 10 s after start: latency {}, wall-clock latency {}; \
             latency by second [{}]; waiting {}; stalls {}; errors {}; requests {}",
            self.0["player"],
            self.0["version"],
            self.started(),
            figures("latency"),
            figures("wallLatency"),
            latencies.join(" "),
            self.0["waiting"],
            self.0["stalls"],
            self.0["errors"],
            self.0["requests"],
        )
    }
}

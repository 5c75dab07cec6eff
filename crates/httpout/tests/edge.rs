//! The edge tier of `docs/deploy/`, end to end on 127.0.0.1: ffmpeg pushes
//! a low-latency DASH stream by PUT into one httpout origin; a Varnish edge
//! (`docs/deploy/varnish.vcl`) and an nginx edge
//! (`docs/deploy/nginx-edge.conf`) stand in front of it; simulated players
//! (`httpout_test::player`, what dash.js does at the live edge) split
//! across both edges fetch the MPD, the init segment and each segment as
//! soon as it is available, while it is being uploaded.
//!
//! Checked: every player gets every segment complete and byte-identical to
//! the origin's file; each edge sends about one request per segment to the
//! origin (request collapsing; counted in the origin's JSON access log, the
//! edge told by the players' `User-Agent`, which both edges pass on);
//! Varnish streams a growing segment (its first bytes reach players before
//! the origin's upload of it ended, same clock). The figures are printed
//! (`cargo test -p httpout --test edge -- --nocapture`).
//!
//! A real dash.js/hls.js through the edges is for the browser-test harness:
//! start the same three servers (this file's `Stack`) and point the player
//! page at `stack.varnish.url() + MPD` or `stack.nginx.url() + MPD`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

mod support;

use httpout_test::media;
use httpout_test::player::{self, Fetch, Fnv, PlayerConfig};
use support::Httpout;
use support::edge::{NginxEdge, Varnish};

/// The MPD's path on every server.
const MPD: &str = "/live/live.mpd";
/// Players per edge.
const PLAYERS_PER_EDGE: usize = 10;
/// Segments (1 s each) every player plays after the init segment.
const SEGMENTS: u64 = 12;
/// Seconds of media the packager makes: the players start about 2 s in and
/// play SEGMENTS seconds.
const MEDIA_SECS: u32 = 20;
/// Origin requests per segment per edge allowed (the goal is 1).
const COLLAPSE_BOUND: usize = 2;

/// The origin, the packager and the two edges.
struct Stack {
    dir: tempfile::TempDir,
    origin: Httpout,
    varnish: Varnish,
    nginx: NginxEdge,
    packager: media::Job,
}

impl Stack {
    fn start() -> Self {
        // Every tool first: a missing one fails here, naming its package.
        support::edge::tool("varnishd", "varnish");
        support::edge::tool("nginx", "nginx-light");
        support::edge::tool("ffmpeg", "ffmpeg");
        let dir = tempfile::tempdir().unwrap();
        let www = dir.path().join("www");
        std::fs::create_dir(&www).unwrap();
        let w = www.display().to_string();
        let origin = Httpout::start(
            &[
                "--ifce=127.0.0.1",
                "--port=0",
                &format!("--rdirs={w}"),
                &format!("--wdir={w}"),
                // A loaded machine may start an upload late: hold the
                // players' early requests long enough (the edges wait 10 s).
                "--wait_new=5000",
                "--maxp=0",
                // Keep every segment: the test compares them at the end.
                "--max_cache_segs=0",
                &format!("--access_log={}", dir.path().join("access.log").display()),
                "--log_format=json",
            ],
            1,
        );
        let origin_addr = origin.url().trim_start_matches("http://").to_owned();
        let varnish = Varnish::start(&dir.path().join("varnish"), &origin_addr);
        let nginx = NginxEdge::start(&dir.path().join("nginx"), &origin_addr);
        let packager = media::ll_dash(
            MEDIA_SECS,
            1,
            // ffmpeg's own window would DELETE old segments: keep them.
            &["-extra_window_size", "1000", "-method", "PUT"],
            format!("{}{MPD}", origin.url()),
        );
        Self {
            dir,
            origin,
            varnish,
            nginx,
            packager,
        }
    }

    fn www(&self) -> PathBuf {
        self.dir.path().join("www")
    }
}

/// One line of the origin's JSON access log.
#[derive(Debug)]
struct Logged {
    method: String,
    path: String,
    status: u64,
    agent: String,
    /// Unix seconds the request ended.
    end: f64,
}

fn access_log(path: &Path) -> Vec<Logged> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            let s = |k: &str| v[k].as_str().unwrap_or("").to_owned();
            Logged {
                method: s("method"),
                path: s("path"),
                status: v["status"].as_u64().unwrap_or(0),
                agent: s("user_agent"),
                end: player::parse_utc(&s("time")).expect("a log time"),
            }
        })
        .collect()
}

fn players(base: &str, agent: &str) -> PlayerConfig {
    PlayerConfig {
        base: base.to_owned(),
        mpd_path: MPD.to_owned(),
        user_agent: agent.to_owned(),
        segments: SEGMENTS,
        manifest_every: Duration::from_secs(2),
        request_limit: Duration::from_secs(15),
        deadline: player::now() + 45.0,
    }
}

/// CPU time (user + system) of process `pid` so far, in milliseconds,
/// from `/proc/PID/stat` (clock ticks of 10 ms).
fn cpu_ms(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name, which is in parentheses.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<u64> = rest
        .split_whitespace()
        .map(|x| x.parse().unwrap_or(0))
        .collect();
    // utime and stime are fields 14 and 15: 12th and 13th after the name.
    (f.get(11).unwrap_or(&0) + f.get(12).unwrap_or(&0)) * 10
}

/// Median of `v` (sorted in place); NaN when empty.
fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

#[test]
fn players_through_varnish_and_nginx_get_every_segment_with_one_origin_request_each() {
    let mut stack = Stack::start();
    // The MPD at the origin first (bounded): then every player starts at
    // the same live edge.
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    while !stack.www().join("live/live.mpd").exists() {
        assert!(
            std::time::Instant::now() < deadline,
            "the packager wrote no MPD: is ffmpeg working?"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let varnish_cfg = players(&stack.varnish.url(), "player-varnish");
    let nginx_cfg = players(&stack.nginx.url(), "player-nginx");
    let (via_varnish, via_nginx) = runtime.block_on(async {
        tokio::join!(
            player::play_many(&varnish_cfg, PLAYERS_PER_EDGE),
            player::play_many(&nginx_cfg, PLAYERS_PER_EDGE)
        )
    });
    let (status, _, err) = stack.packager.wait(Duration::from_secs(40));
    assert!(status.success(), "ffmpeg failed: {err}");
    // The origin's access log is written by its own thread: let it catch up.
    std::thread::sleep(Duration::from_millis(500));
    let log = access_log(&stack.dir.path().join("access.log"));
    let www = stack.www();

    // Upload end of each segment: the PUT's line is written when it ends.
    let upload_end: BTreeMap<String, f64> = log
        .iter()
        .filter(|l| l.method == "PUT" && l.path.contains("chunk-"))
        .map(|l| (l.path.clone(), l.end))
        .collect();

    let mut report = String::new();
    for (edge, fetched) in [("varnish", &via_varnish), ("nginx", &via_nginx)] {
        // 1. Every player got every segment, complete, identical.
        let mut numbers = std::collections::BTreeSet::new();
        for (i, fetches) in fetched.iter().enumerate() {
            let segments: Vec<&Fetch> = fetches.iter().filter(|f| f.number.is_some()).collect();
            assert_eq!(
                segments.len() as u64,
                SEGMENTS,
                "{edge} player {i} played {} segments: {fetches:#?}",
                segments.len()
            );
            let init = fetches
                .iter()
                .find(|f| f.path.contains("init-"))
                .expect("an init segment fetch");
            for f in segments.iter().copied().chain([init]) {
                assert!(
                    f.status == 200 && f.complete,
                    "{edge} player {i}: {} status {} complete {}",
                    f.path,
                    f.status,
                    f.complete
                );
                let file = www.join(f.path.trim_start_matches('/'));
                let want =
                    std::fs::read(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
                assert_eq!(
                    (f.bytes, f.hash),
                    (want.len() as u64, Fnv::of(&want)),
                    "{edge} player {i}: {} differs from the origin's file",
                    f.path
                );
                numbers.insert(f.path.clone());
            }
            let mut wanted: Vec<u64> = segments.iter().filter_map(|f| f.number).collect();
            wanted.dedup();
            assert_eq!(wanted.len() as u64, SEGMENTS, "{edge} player {i}: gaps");
        }

        // 2. Request collapsing: origin GETs per object from this edge.
        let agent = format!("player-{edge}/");
        let mut per_object: BTreeMap<&str, usize> = BTreeMap::new();
        for l in log
            .iter()
            .filter(|l| l.method == "GET" && l.agent.starts_with(&agent))
        {
            *per_object.entry(l.path.as_str()).or_default() += 1;
        }
        let mut spread: BTreeMap<usize, usize> = BTreeMap::new();
        for path in &numbers {
            let n = per_object.get(path.as_str()).copied().unwrap_or(0);
            *spread.entry(n).or_default() += 1;
            assert!(
                (1..=COLLAPSE_BOUND).contains(&n),
                "{edge}: {n} origin requests for {path} (players: {PLAYERS_PER_EDGE})"
            );
        }
        let mpd_origin = per_object.get(MPD).copied().unwrap_or(0);
        let mpd_players = fetched.iter().flatten().filter(|f| f.path == MPD).count();

        // 3. Streaming of a growing segment: for each segment, the first
        // byte any player got through this edge, against the end of the
        // segment's upload at the origin (same clock: Unix time).
        let mut streamed = 0;
        let mut segments_seen = 0;
        let mut first_vs_end = Vec::new();
        let mut first_by_segment: BTreeMap<&str, (f64, f64)> = BTreeMap::new();
        for f in fetched.iter().flatten().filter(|f| f.number.is_some()) {
            let e = first_by_segment
                .entry(f.path.as_str())
                .or_insert((f64::MAX, f64::MAX));
            e.0 = e.0.min(f.first_byte);
            e.1 = e.1.min(f.last_byte);
        }
        for (path, (first, _)) in &first_by_segment {
            if let Some(end) = upload_end.get(*path) {
                segments_seen += 1;
                first_vs_end.push((end - first) * 1000.0);
                if first < end {
                    streamed += 1;
                }
            }
        }
        // Per fetch: first byte before the upload's end (the waiters too).
        let all: Vec<&Fetch> = fetched
            .iter()
            .flatten()
            .filter(|f| f.number.is_some())
            .collect();
        let early = all
            .iter()
            .filter(|f| {
                upload_end
                    .get(&f.path)
                    .is_some_and(|end| f.first_byte < *end)
            })
            .count();
        let mut ttfb: Vec<f64> = all
            .iter()
            .map(|f| (f.first_byte - f.sent) * 1000.0)
            .collect();
        let mut ttlb_after_upload: Vec<f64> = all
            .iter()
            .filter_map(|f| Some((f.last_byte - upload_end.get(&f.path)?) * 1000.0))
            .collect();
        report.push_str(&format!(
            "{edge}: {} players x {SEGMENTS} segments, all complete and identical\n\
             {edge}: origin GETs per segment (count: segments) {spread:?}; MPD: {mpd_origin} \
             origin GETs for {mpd_players} player GETs\n\
             {edge}: segments whose first byte reached a player before their upload ended: \
             {streamed}/{segments_seen} (median lead {:.0} ms); player fetches so: {early}/{}\n\
             {edge}: median time to first byte {:.0} ms; median last byte after upload end {:.0} ms\n",
            fetched.len(),
            median(&mut first_vs_end),
            all.len(),
            median(&mut ttfb),
            median(&mut ttlb_after_upload),
        ));
        if edge == "varnish" {
            assert!(
                streamed * 2 > segments_seen,
                "varnish streamed only {streamed} of {segments_seen} segments while they were \
                 uploaded:\n{report}"
            );
            // Age is passed to players.
            assert!(
                all.iter().any(|f| f.age.is_some()),
                "varnish sent no Age header"
            );
        }
    }
    // Anything else reached the origin (HEAD, other agents)?
    let others = log
        .iter()
        .filter(|l| l.method != "PUT" && !l.agent.starts_with("player-"))
        .count();
    report.push_str(&format!("other origin requests: {others}\n"));
    report.push_str(&format!(
        "origin CPU (user + system): {} ms\n",
        cpu_ms(stack.origin.pid())
    ));
    println!("{report}");
    assert!(
        log.iter()
            .filter(|l| l.method == "GET")
            .all(|l| l.status == 200 || l.status == 304),
        "an origin GET failed: {:?}",
        log.iter()
            .filter(|l| l.method == "GET" && l.status != 200 && l.status != 304)
            .collect::<Vec<_>>()
    );
}

/// A segment whose upload is cut half-way is never cached by an edge: the
/// player streaming it through the edge sees a cut body (not a complete
/// one), and the next request for it goes to the origin again (which has
/// no such file: 404), through both edges.
#[test]
fn an_upload_cut_half_way_is_not_cached_by_either_edge() {
    use std::io::Write;

    support::edge::tool("varnishd", "varnish");
    support::edge::tool("nginx", "nginx-light");
    let dir = tempfile::tempdir().unwrap();
    let www = dir.path().join("www");
    std::fs::create_dir_all(www.join("live")).unwrap();
    let w = www.display().to_string();
    let log_path = dir.path().join("access.log");
    let origin = Httpout::start(
        &[
            "--ifce=127.0.0.1",
            "--port=0",
            &format!("--rdirs={w}"),
            &format!("--wdir={w}"),
            "--wait_new=3000",
            "--maxp=0",
            &format!("--access_log={}", log_path.display()),
            "--log_format=json",
        ],
        1,
    );
    let origin_addr = origin.url().trim_start_matches("http://").to_owned();
    let varnish = Varnish::start(&dir.path().join("varnish"), &origin_addr);
    let nginx = NginxEdge::start(&dir.path().join("nginx"), &origin_addr);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    for (edge, base) in [("varnish", varnish.url()), ("nginx", nginx.url())] {
        let path = format!("/live/cut-{edge}.m4s");
        // The packager: a chunked PUT, 20 KB sent, then gone.
        let mut put = std::net::TcpStream::connect(&origin_addr).unwrap();
        write!(
            put,
            "PUT {path} HTTP/1.1\r\nHost: o\r\nTransfer-Encoding: chunked\r\n\r\n"
        )
        .unwrap();
        let chunk = vec![b'x'; 20_000];
        write!(put, "{:x}\r\n", chunk.len()).unwrap();
        put.write_all(&chunk).unwrap();
        put.write_all(b"\r\n").unwrap();
        put.flush().unwrap();
        let cfg = players(&base, &format!("player-{edge}"));
        let handle = runtime.spawn({
            let cfg = cfg.clone();
            let path = path.clone();
            async move { player::fetch_once(&cfg, &path).await }
        });
        // Let the edge's request reach the origin and stream what exists.
        std::thread::sleep(Duration::from_millis(1500));
        drop(put);
        let cut = runtime.block_on(handle).unwrap();
        assert!(
            !cut.complete || cut.status != 200,
            "{edge}: a cut upload reached the player as a complete body: {cut:?}"
        );
        std::thread::sleep(Duration::from_millis(300));
        let again = runtime.block_on(player::fetch_once(&cfg, &path));
        assert!(
            again.status == 404 || !again.complete,
            "{edge}: the cut segment was served again as a whole: {again:?}"
        );
        println!(
            "{edge}: streaming player got {} bytes, complete {}; next request: {} ({:?})",
            cut.bytes, cut.complete, again.status, again.cache
        );
    }
    std::thread::sleep(Duration::from_millis(500));
    let log = access_log(&log_path);
    for edge in ["varnish", "nginx"] {
        let gets = log
            .iter()
            .filter(|l| l.method == "GET" && l.path == format!("/live/cut-{edge}.m4s"))
            .count();
        assert_eq!(gets, 2, "{edge}: the second request must reach the origin");
    }
}

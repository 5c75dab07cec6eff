//! A simulated low-latency DASH player, as dash.js behaves at the live edge:
//! it fetches the MPD (again every [`PlayerConfig::manifest_every`]), works
//! out the live-edge segment number from `availabilityStartTime` and the
//! segment duration, then GETs the init segment and each new segment as soon
//! as it becomes available, i.e. while the packager is still uploading it.
//! Every object fetched is recorded: status, bytes, a hash of the body, and
//! the wall-clock times (Unix seconds, the clock the server's access log
//! uses) of the request, of the first and of the last body byte.
//!
//! Used by `crates/httpout/tests/edge.rs` (players through a Varnish and an
//! nginx edge in front of one origin) and by `bench/edge.sh` through the
//! `bench/edge-player/` command. Every wait is bounded: one request by
//! [`PlayerConfig::request_limit`], a player by its segment count and
//! [`PlayerConfig::deadline`].

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

/// What a player needs from a live MPD written by ffmpeg's dash muxer
/// (`-use_template 1 -use_timeline 0`): one `SegmentTemplate` with
/// `$RepresentationID$` and `$Number%05d$`.
#[derive(Debug, Clone, PartialEq)]
pub struct Manifest {
    /// `availabilityStartTime`, Unix seconds.
    pub availability_start: f64,
    /// `availabilityTimeOffset` of the template (seconds a segment is
    /// announced before its end: LL-DASH), 0 when absent.
    pub availability_offset: f64,
    /// Segment duration in seconds (`duration` / `timescale`).
    pub segment_duration: f64,
    /// `startNumber` (1 when absent).
    pub start_number: u64,
    /// The init segment's name, relative to the MPD.
    pub init: String,
    /// The media template (`chunk-stream0-$Number%05d$.m4s` with the
    /// representation's id in place), relative to the MPD.
    pub media: String,
}

impl Manifest {
    /// Parses the few attributes above out of the MPD's text (no XML
    /// library: ffmpeg writes one attribute per name, quoted with `"`).
    pub fn parse(mpd: &str) -> Result<Self, String> {
        // `name="` after white space (ffmpeg puts tabs and new lines
        // between attributes).
        let attr = |name: &str| -> Option<&str> {
            let key = format!("{name}=\"");
            let at = mpd.match_indices(&key).find_map(|(i, _)| {
                mpd[..i]
                    .ends_with(char::is_whitespace)
                    .then_some(i + key.len())
            })?;
            mpd[at..].split('"').next()
        };
        let ast = attr("availabilityStartTime").ok_or("no availabilityStartTime")?;
        let availability_start = parse_utc(ast).ok_or_else(|| format!("bad time {ast}"))?;
        let num = |name: &str, default: f64| -> Result<f64, String> {
            attr(name).map_or(Ok(default), |v| {
                v.parse().map_err(|_| format!("bad {name}={v}"))
            })
        };
        let timescale = num("timescale", 1.0)?;
        let duration = num("duration", 0.0)?;
        if duration <= 0.0 || timescale <= 0.0 {
            return Err("no SegmentTemplate duration".into());
        }
        let id = attr("id").unwrap_or("0");
        // The Representation's id, not the Period's or AdaptationSet's:
        // the last `id` before the template.
        let template_at = mpd.find("<SegmentTemplate").ok_or("no SegmentTemplate")?;
        let rep_id = mpd[..template_at]
            .rsplit_once("id=\"")
            .and_then(|(_, s)| s.split('"').next())
            .unwrap_or(id);
        let fill = |t: &str| t.replace("$RepresentationID$", rep_id);
        Ok(Self {
            availability_start,
            availability_offset: num("availabilityTimeOffset", 0.0)?,
            segment_duration: duration / timescale,
            start_number: num("startNumber", 1.0)? as u64,
            init: fill(attr("initialization").ok_or("no initialization")?),
            media: fill(attr("media").ok_or("no media")?),
        })
    }

    /// The name of segment `number`.
    pub fn segment(&self, number: u64) -> String {
        let mut out = self.media.clone();
        if let Some(at) = out.find("$Number") {
            let end = at + 1 + out[at + 1..].find('$').unwrap_or(0);
            let spec = &out[at + 7..end];
            let width = spec
                .strip_prefix("%0")
                .and_then(|w| w.strip_suffix('d'))
                .and_then(|w| w.parse().ok())
                .unwrap_or(0);
            out.replace_range(at..=end, &format!("{number:0width$}"));
        }
        out
    }

    /// The segment whose media time contains `now` (Unix seconds): the one
    /// the packager is producing, the live edge of an LL-DASH player.
    pub fn live_edge(&self, now: f64) -> u64 {
        let elapsed = (now - self.availability_start).max(0.0);
        self.start_number + (elapsed / self.segment_duration) as u64
    }

    /// When segment `number` becomes available (Unix seconds): the start
    /// of its media time, less what `availabilityTimeOffset` allows, never
    /// before its media time starts (its upload begins then).
    pub fn available_at(&self, number: u64) -> f64 {
        let start =
            self.availability_start + (number - self.start_number) as f64 * self.segment_duration;
        let offset = self.availability_offset.min(self.segment_duration);
        (start + self.segment_duration - offset)
            .min(start + self.segment_duration)
            .max(start)
    }
}

/// Unix seconds of an ISO 8601 UTC time (`2026-12-05T13:07:37.123Z`, with
/// or without fraction or `Z`), as MPDs and httpout's JSON log write them.
pub fn parse_utc(s: &str) -> Option<f64> {
    let s = s.trim().trim_end_matches('Z');
    let (date, time) = s.split_once('T')?;
    let mut d = date.split('-').map(|p| p.parse::<i64>().ok());
    let (y, m, day) = (d.next()??, d.next()??, d.next()??);
    let mut t = time.split(':');
    let (hh, mm): (i64, i64) = (t.next()?.parse().ok()?, t.next()?.parse().ok()?);
    let ss: f64 = t.next()?.parse().ok()?;
    // Days from the civil date (Howard Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some((days * 86_400 + hh * 3600 + mm * 60) as f64 + ss)
}

/// Now, in Unix seconds.
pub fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// FNV-1a, 64 bits: the player keeps a hash of each body rather than the
/// body (200 players), and the test hashes the origin's files the same way.
#[derive(Debug, Clone, Copy)]
pub struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Self {
        Self(0xcbf2_9ce4_8422_2325)
    }
}

impl Fnv {
    /// Adds `bytes`.
    pub fn update(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3);
        }
    }

    /// The hash so far.
    pub fn value(self) -> u64 {
        self.0
    }

    /// The hash of `bytes`.
    pub fn of(bytes: &[u8]) -> u64 {
        let mut h = Self::default();
        h.update(bytes);
        h.value()
    }
}

/// One object a player fetched.
#[derive(Debug, Clone)]
pub struct Fetch {
    /// The path asked for (`/live/chunk-stream0-00007.m4s`).
    pub path: String,
    /// The segment number (`None` for the MPD and the init segment).
    pub number: Option<u64>,
    /// The status, 0 when no response came (connection refused, time out).
    pub status: u16,
    /// Body bytes received.
    pub bytes: u64,
    /// [`Fnv`] of the body.
    pub hash: u64,
    /// Whether the body ended cleanly (a truncated chunked body or a reset
    /// is `false`).
    pub complete: bool,
    /// Unix seconds: request sent, first body byte, last body byte.
    pub sent: f64,
    /// Unix seconds of the first body byte (of the response head when the
    /// body is empty).
    pub first_byte: f64,
    /// Unix seconds of the end of the body.
    pub last_byte: f64,
    /// The response's `Age` header, if any (seconds in an edge's cache).
    pub age: Option<u64>,
    /// The response's `X-Cache` header, if any (the edge configs add it).
    pub cache: Option<String>,
    /// Whether the body came chunked, without `Content-Length`.
    pub chunked: bool,
}

/// What a player does.
#[derive(Debug, Clone)]
pub struct PlayerConfig {
    /// `http://HOST:PORT` of the server it plays from (an edge or the
    /// origin).
    pub base: String,
    /// The MPD's path (`/live/live.mpd`).
    pub mpd_path: String,
    /// Its `User-Agent` (the origin's access log tells edges apart by it:
    /// both edges pass the client's).
    pub user_agent: String,
    /// How many media segments to play after the init segment.
    pub segments: u64,
    /// How often the MPD is fetched again.
    pub manifest_every: Duration,
    /// One request's limit (head and body).
    pub request_limit: Duration,
    /// Unix seconds after which the player stops, whatever is left.
    pub deadline: f64,
}

/// Plays `config`: the MPD (retried until it is there, bounded by the
/// deadline), the init segment, then `segments` segments from the live
/// edge on, each requested when it becomes available. Returns every fetch
/// in order.
pub async fn play(config: PlayerConfig) -> Vec<Fetch> {
    let client: Client<HttpConnector, Empty<Bytes>> =
        Client::builder(TokioExecutor::new()).build_http();
    let mut fetches = Vec::new();
    let dir = config
        .mpd_path
        .rsplit_once('/')
        .map_or("", |(d, _)| d)
        .to_owned();
    // The MPD, until there is one (the packager may not have written it).
    let manifest = loop {
        if now() > config.deadline {
            return fetches;
        }
        let (fetch, body) = get(&client, &config, &config.mpd_path, None, true).await;
        let parsed = (fetch.status == 200)
            .then(|| Manifest::parse(&String::from_utf8_lossy(&body)).ok())
            .flatten();
        fetches.push(fetch);
        match parsed {
            Some(m) => break m,
            None => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    };
    let mut last_manifest = now();
    let init = format!("{dir}/{}", manifest.init);
    fetches.push(get(&client, &config, &init, None, false).await.0);
    let first = manifest.live_edge(now());
    for number in first..first + config.segments {
        let at = manifest.available_at(number);
        let wait = at - now();
        if wait > 0.0 {
            tokio::time::sleep(Duration::from_secs_f64(wait)).await;
        }
        if now() > config.deadline {
            break;
        }
        if now() - last_manifest >= config.manifest_every.as_secs_f64() {
            last_manifest = now();
            fetches.push(get(&client, &config, &config.mpd_path, None, false).await.0);
        }
        let path = format!("{dir}/{}", manifest.segment(number));
        fetches.push(get(&client, &config, &path, Some(number), false).await.0);
    }
    fetches
}

/// One GET of `path` with `config`'s base, user agent and request limit,
/// on a connection of its own: its record.
pub async fn fetch_once(config: &PlayerConfig, path: &str) -> Fetch {
    let client: Client<HttpConnector, Empty<Bytes>> =
        Client::builder(TokioExecutor::new()).build_http();
    get(&client, config, path, None, false).await.0
}

/// GETs `path`, bounded by the request limit: the record, and the body
/// when `keep` (the MPD).
async fn get(
    client: &Client<HttpConnector, Empty<Bytes>>,
    config: &PlayerConfig,
    path: &str,
    number: Option<u64>,
    keep: bool,
) -> (Fetch, Vec<u8>) {
    let sent = now();
    let mut fetch = Fetch {
        path: path.to_owned(),
        number,
        status: 0,
        bytes: 0,
        hash: Fnv::default().value(),
        complete: false,
        sent,
        first_byte: sent,
        last_byte: sent,
        age: None,
        cache: None,
        chunked: false,
    };
    let mut kept = Vec::new();
    let Ok(uri) = format!("{}{path}", config.base).parse::<http::Uri>() else {
        return (fetch, kept);
    };
    let req = http::Request::get(uri)
        .header(http::header::USER_AGENT, &config.user_agent)
        .body(Empty::new())
        .expect("a request");
    let work = async {
        let Ok(res) = client.request(req).await else {
            return;
        };
        fetch.status = res.status().as_u16();
        let header = |name: &str| {
            res.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        fetch.age = header("age").and_then(|a| a.parse().ok());
        fetch.cache = header("x-cache");
        fetch.chunked = header("content-length").is_none();
        fetch.first_byte = now();
        let mut body = res.into_body();
        let mut hash = Fnv::default();
        let mut first = true;
        loop {
            match body.frame().await {
                None => {
                    fetch.complete = true;
                    break;
                }
                Some(Err(_)) => break,
                Some(Ok(frame)) => {
                    if let Some(data) = frame.data_ref() {
                        if first && !data.is_empty() {
                            fetch.first_byte = now();
                            first = false;
                        }
                        hash.update(data);
                        fetch.bytes += data.len() as u64;
                        if keep {
                            kept.extend_from_slice(data);
                        }
                    }
                }
            }
        }
        fetch.hash = hash.value();
    };
    let _ = tokio::time::timeout(config.request_limit, work).await;
    fetch.last_byte = now();
    (fetch, kept)
}

/// Plays `players` players of `config` at once (each its own connections,
/// as real players), each with its `User-Agent` suffixed `/N`: all their
/// fetches, player by player.
pub async fn play_many(config: &PlayerConfig, players: usize) -> Vec<Vec<Fetch>> {
    let tasks: Vec<_> = (0..players)
        .map(|i| {
            let mut c = config.clone();
            c.user_agent = format!("{}/{i}", c.user_agent);
            tokio::spawn(play(c))
        })
        .collect();
    let mut all = Vec::with_capacity(players);
    for t in tasks {
        all.push(t.await.unwrap_or_default());
    }
    all
}

/// One line per fetch, tab-separated: player, path, number (`-` when
/// none), status, bytes, hash (hex), complete (0/1), sent, first byte,
/// last byte (Unix seconds), age (`-`), x-cache (`-`), chunked (0/1). The
/// `bench/edge-player/` command prints these for `bench/edge.sh`.
pub fn tsv(player: &str, f: &Fetch) -> String {
    format!(
        "{player}\t{}\t{}\t{}\t{}\t{:016x}\t{}\t{:.6}\t{:.6}\t{:.6}\t{}\t{}\t{}",
        f.path,
        f.number.map_or("-".to_owned(), |n| n.to_string()),
        f.status,
        f.bytes,
        f.hash,
        u8::from(f.complete),
        f.sent,
        f.first_byte,
        f.last_byte,
        f.age.map_or("-".to_owned(), |a| a.to_string()),
        f.cache.as_deref().unwrap_or("-"),
        u8::from(f.chunked),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const MPD: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<MPD xmlns="urn:mpeg:dash:schema:mpd:2011"
	type="dynamic"
	minimumUpdatePeriod="PT500S"
	availabilityStartTime="2026-12-05T13:07:37.500Z"
	publishTime="2026-12-05T13:08:41.064Z">
 <Period id="0" start="PT0.0S">
  <AdaptationSet id="0" contentType="video">
   <Representation id="0" mimeType="video/mp4" codecs="avc1.42c00d" bandwidth="1000">
    <SegmentTemplate timescale="1000000" duration="1000000" availabilityTimeOffset="0.960" initialization="init-stream$RepresentationID$.m4s" media="chunk-stream$RepresentationID$-$Number%05d$.m4s" startNumber="1">
    </SegmentTemplate>
   </Representation>
  </AdaptationSet>
 </Period>
</MPD>"#;

    #[test]
    fn parses_ffmpeg_mpd() {
        let m = Manifest::parse(MPD).unwrap();
        assert_eq!(m.init, "init-stream0.m4s");
        assert_eq!(m.segment(7), "chunk-stream0-00007.m4s");
        assert!((m.segment_duration - 1.0).abs() < 1e-9);
        assert_eq!(m.start_number, 1);
        let ast = parse_utc("2026-12-05T13:07:37.500Z").unwrap();
        assert!((ast - 1_796_476_057.5).abs() < 1e-6, "{ast}");
        assert_eq!(m.live_edge(ast + 2.5), 3);
        // Announced 0.96 s before its end: 0.04 s after its start.
        assert!((m.available_at(3) - (ast + 2.04)).abs() < 1e-6);
    }

    #[test]
    fn hash_is_fnv1a() {
        assert_eq!(Fnv::of(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(Fnv::of(b"a"), 0xaf63_dc4c_8601_ec8c);
    }
}

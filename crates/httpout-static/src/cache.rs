//! `Cache-Control` a CDN can act on: a default by kind of file, the global
//! `--cache_control` over it, and `--cache_rule` patterns over both.
//!
//! | kind | default |
//! |---|---|
//! | live manifest: a dynamic MPD, a media playlist without `EXT-X-ENDLIST` | `public, max-age=1` |
//! | an answer to an LL-HLS blocking reload (`_HLS_msn`) | `public, max-age=` six target durations |
//! | media and init segments (`.m4s`, `.cmfv`, `.cmfa`, `.cmft`, `.ts`, and `init*` files of those or `.mp4`) | `public, max-age=86400, immutable` |
//! | anything else (VOD files, pages) | none: validators only |
//!
//! Whole seconds are all `max-age` can say, so a live manifest's lifetime
//! is one second, the shortest that is not zero. A blocking reload's answer
//! stays right for the request that got it (the playlist holds what was
//! asked for) while the sliding window keeps it. Segment names are used
//! once: a packager that starts again at segment 1 in the same directory
//! would meet yesterday's segments in the edges (use a directory per run).
//!
//! A file still being written gets its kind's value too (an edge caches
//! the whole body when the chunked response ends cleanly, and an aborted
//! upload ends it with an error, which edges do not cache), except to an
//! HTTP/1.0 client: there the end of the body is the close, aborted or not,
//! so it gets `no-store`.
//!
//! With a `max-age`, `Expires` is sent too, computed from the `Date` sent
//! with it (both set here, from one clock reading).

use std::time::{Duration, SystemTime};

use http::header::{CACHE_CONTROL, DATE, EXPIRES};
use http::{HeaderMap, HeaderValue};
use httpout_core::ConfigError;

/// What a file is, for caching.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A manifest that changes: a dynamic MPD, a live media playlist.
    LiveManifest,
    /// The answer to an LL-HLS blocking playlist reload, with the
    /// playlist's target duration.
    BlockedReload(Duration),
    /// A media or init segment: written once.
    Segment,
    /// Anything else.
    Other,
}

/// Extensions of media segments.
const SEGMENT_EXTENSIONS: [&str; 5] = ["m4s", "cmfv", "cmfa", "cmft", "ts"];

/// How long media segments are kept by default.
const SEGMENT_MAX_AGE: u64 = 86_400;

/// One `--cache_rule=GLOB=VALUE`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheRule {
    /// A pattern: `*` (not across `/`), `**` (across), `?`; with a `/` it
    /// is matched against the URL path, without against the file name.
    pub glob: String,
    /// The `Cache-Control` value for files that match.
    pub value: HeaderValue,
}

impl CacheRule {
    /// Parses `GLOB=VALUE` (`--cache_rule`); errors name the option.
    pub fn parse(text: &str) -> Result<Self, ConfigError> {
        let invalid = |why: &str| ConfigError::invalid("--cache_rule", text, why);
        let (glob, value) = text
            .split_once('=')
            .filter(|(g, v)| !g.is_empty() && !v.is_empty())
            .ok_or_else(|| invalid("expected GLOB=VALUE, as *.m4s=max-age=60"))?;
        let value = HeaderValue::from_str(value)
            .map_err(|_| invalid("expected a header value (visible ASCII) after the ="))?;
        Ok(Self {
            glob: glob.to_owned(),
            value,
        })
    }

    fn matches(&self, url_path: &str, name: &str) -> bool {
        if self.glob.contains('/') {
            glob(self.glob.as_bytes(), url_path.as_bytes())
        } else {
            glob(self.glob.as_bytes(), name.as_bytes())
        }
    }
}

/// The kind of a file by its name, and for manifests by their text
/// (`head`: their start, `tail`: their end; the same bytes for a small
/// file).
pub(crate) fn kind(name: &str, head: &[u8], tail: &[u8]) -> Kind {
    let lower = name.to_ascii_lowercase();
    let ext = lower.rsplit_once('.').map_or("", |(_, e)| e);
    match ext {
        "m3u8" | "m3u" => {
            let master = contains(head, b"#EXT-X-STREAM-INF");
            let ended = contains(tail, b"#EXT-X-ENDLIST");
            if master || ended {
                Kind::Other
            } else {
                Kind::LiveManifest
            }
        }
        "mpd" if contains(head, b"\"dynamic\"") || contains(head, b"'dynamic'") => {
            Kind::LiveManifest
        }
        _ if SEGMENT_EXTENSIONS.contains(&ext) => Kind::Segment,
        "mp4" | "m4a" | "m4v" if lower.starts_with("init") => Kind::Segment,
        _ => Kind::Other,
    }
}

/// Whether a manifest's kind depends on its text (the caller reads it).
pub(crate) fn needs_text(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    lower.ends_with(".m3u8") || lower.ends_with(".m3u") || lower.ends_with(".mpd")
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// The `Cache-Control` for a file: the first rule that matches, else the
/// global value (`--cache_control`), else the kind's default.
pub(crate) fn value(
    rules: &[CacheRule],
    global: Option<&HeaderValue>,
    url_path: &str,
    name: &str,
    kind: Kind,
) -> Option<HeaderValue> {
    if let Some(rule) = rules.iter().find(|r| r.matches(url_path, name)) {
        return Some(rule.value.clone());
    }
    if let Some(g) = global {
        return Some(g.clone());
    }
    match kind {
        Kind::LiveManifest => Some(HeaderValue::from_static("public, max-age=1")),
        Kind::BlockedReload(target) => {
            let secs = (target.as_secs() * 6).max(1);
            HeaderValue::from_str(&format!("public, max-age={secs}")).ok()
        }
        Kind::Segment => {
            HeaderValue::from_str(&format!("public, max-age={SEGMENT_MAX_AGE}, immutable")).ok()
        }
        Kind::Other => None,
    }
}

/// Sets `Cache-Control`, and with a `max-age` (not `no-store`) `Date` and
/// `Expires` from one reading of the clock.
pub(crate) fn set(headers: &mut HeaderMap, value: HeaderValue) {
    if let Some(age) = max_age(&value) {
        let now = SystemTime::now();
        let date = |t| HeaderValue::from_str(&httpdate::fmt_http_date(t)).expect("ASCII");
        headers.insert(DATE, date(now));
        headers.insert(EXPIRES, date(now + Duration::from_secs(age)));
    }
    headers.insert(CACHE_CONTROL, value);
}

/// The `max-age` of a `Cache-Control` value that lets caches store.
fn max_age(value: &HeaderValue) -> Option<u64> {
    let text = value.to_str().ok()?;
    let directives = text.split(',').map(str::trim);
    let mut age = None;
    for d in directives {
        let lower = d.to_ascii_lowercase();
        // By name: `no-cache="Set-Cookie"` is `no-cache` too.
        let name = lower.split('=').next().unwrap_or("").trim();
        if matches!(name, "no-store" | "no-cache" | "private") {
            return None;
        }
        if let Some(v) = lower.strip_prefix("max-age=") {
            age = v.trim_matches('"').parse().ok();
        }
    }
    // An Expires beyond a year is what RFC 9111 §5.3 calls far future.
    age.map(|a: u64| a.min(365 * 86_400))
}

/// A glob over bytes: `**` any run, `*` any run without `/`, `?` one byte
/// but `/`. Matched by dynamic programming over (pattern token, text
/// position): time in the product of their lengths, whatever the
/// wildcards (a backtracking matcher is exponential in them).
fn glob(pattern: &[u8], text: &[u8]) -> bool {
    #[derive(Clone, Copy)]
    enum Token {
        AnyRun,
        SegmentRun,
        One,
        Byte(u8),
    }
    let mut tokens = Vec::with_capacity(pattern.len());
    let mut i = 0;
    while i < pattern.len() {
        tokens.push(match pattern[i] {
            b'*' if pattern.get(i + 1) == Some(&b'*') => {
                i += 1;
                Token::AnyRun
            }
            b'*' => Token::SegmentRun,
            b'?' => Token::One,
            b => Token::Byte(b),
        });
        i += 1;
    }
    // `next[j]`: the tokens after the current one match `text[j..]`.
    let n = text.len();
    let mut next = vec![false; n + 1];
    next[n] = true;
    let mut cur = vec![false; n + 1];
    for token in tokens.iter().rev() {
        for j in (0..=n).rev() {
            let here = text.get(j).copied();
            cur[j] = match token {
                Token::AnyRun => next[j] || (j < n && cur[j + 1]),
                Token::SegmentRun => next[j] || (here.is_some_and(|b| b != b'/') && cur[j + 1]),
                Token::One => here.is_some_and(|b| b != b'/') && next[j + 1],
                Token::Byte(p) => here == Some(*p) && next[j + 1],
            };
        }
        std::mem::swap(&mut cur, &mut next);
    }
    next[0]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_by_name_and_text() {
        let live = b"#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXTINF:1,\na.m4s\n";
        assert_eq!(kind("live.m3u8", live, live), Kind::LiveManifest);
        let vod = b"#EXTM3U\n#EXTINF:1,\na.ts\n#EXT-X-ENDLIST\n";
        assert_eq!(kind("vod.m3u8", vod, vod), Kind::Other);
        let master = b"#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\nlow.m3u8\n";
        assert_eq!(kind("master.m3u8", master, master), Kind::Other);
        let mpd = br#"<MPD type="dynamic" profiles="x">"#;
        assert_eq!(kind("live.mpd", mpd, mpd), Kind::LiveManifest);
        assert_eq!(kind("vod.mpd", b"<MPD type=\"static\">", b""), Kind::Other);
        assert_eq!(kind("chunk-stream0-00012.m4s", b"", b""), Kind::Segment);
        assert_eq!(kind("seg12.TS", b"", b""), Kind::Segment);
        assert_eq!(kind("init.mp4", b"", b""), Kind::Segment);
        assert_eq!(kind("movie.mp4", b"", b""), Kind::Other);
        assert_eq!(kind("index.html", b"", b""), Kind::Other);
    }

    #[test]
    fn rules_then_the_global_value_then_the_kind() {
        let rules = vec![
            CacheRule::parse("*.m4s=max-age=60").unwrap(),
            CacheRule::parse("/live/**.m3u8=no-cache").unwrap(),
        ];
        let global = HeaderValue::from_static("max-age=5");
        let v = |path: &str, name: &str, kind, g| {
            value(&rules, g, path, name, kind).map(|v| v.to_str().unwrap().to_owned())
        };
        assert_eq!(
            v("/a/s1.m4s", "s1.m4s", Kind::Segment, None).as_deref(),
            Some("max-age=60")
        );
        assert_eq!(
            v("/live/x/a.m3u8", "a.m3u8", Kind::LiveManifest, None).as_deref(),
            Some("no-cache")
        );
        assert_eq!(
            v("/vod/a.m3u8", "a.m3u8", Kind::LiveManifest, Some(&global)).as_deref(),
            Some("max-age=5")
        );
        assert_eq!(
            v("/vod/a.m3u8", "a.m3u8", Kind::LiveManifest, None).as_deref(),
            Some("public, max-age=1")
        );
        assert_eq!(
            v("/a.ts", "a.ts", Kind::Segment, None).as_deref(),
            Some("public, max-age=86400, immutable")
        );
        assert_eq!(
            v(
                "/p.m3u8",
                "p.m3u8",
                Kind::BlockedReload(Duration::from_secs(2)),
                None
            )
            .as_deref(),
            Some("public, max-age=12")
        );
        assert_eq!(v("/movie.mp4", "movie.mp4", Kind::Other, None), None);
    }

    #[test]
    fn bad_rules_name_the_option() {
        for bad in ["", "*.m4s", "=max-age=1", "*.m4s=", "*.m4s=a\u{7f}"] {
            let e = CacheRule::parse(bad).unwrap_err().to_string();
            assert!(e.contains("--cache_rule"), "{e}");
        }
    }

    #[test]
    fn globs() {
        assert!(glob(b"*.m4s", b"a.m4s") && !glob(b"*.m4s", b"d/a.m4s"));
        assert!(glob(b"/live/**", b"/live/a/b.ts") && !glob(b"/live/*", b"/live/a/b.ts"));
        assert!(glob(b"seg?.ts", b"seg1.ts") && !glob(b"seg?.ts", b"seg10.ts"));
        assert!(glob(b"**", b"") && !glob(b"a", b""));
        assert!(glob(b"/a/**/*.ts", b"/a/b/c/x.ts") && !glob(b"/a/**/*.ts", b"/a/x.ts"));
        // Many wildcards against a long path: quick, whatever the answer.
        let long = vec![b'a'; 4000];
        assert!(!glob(b"**a**a**a**a**a**a**b", &long));
    }

    #[test]
    fn expires_follows_date_by_max_age() {
        let mut h = HeaderMap::new();
        set(&mut h, HeaderValue::from_static("public, max-age=60"));
        let date = httpdate::parse_http_date(h[DATE].to_str().unwrap()).unwrap();
        let expires = httpdate::parse_http_date(h[EXPIRES].to_str().unwrap()).unwrap();
        assert_eq!(
            expires.duration_since(date).unwrap(),
            Duration::from_secs(60)
        );
        let mut h = HeaderMap::new();
        set(&mut h, HeaderValue::from_static("no-store"));
        assert!(!h.contains_key(EXPIRES) && !h.contains_key(DATE));
        let field = HeaderValue::from_static("max-age=60, no-cache=\"Set-Cookie\"");
        assert_eq!(max_age(&field), None);
        assert_eq!(
            max_age(&HeaderValue::from_static("max-age=99999999999")),
            Some(365 * 86_400)
        );
    }
}

//! The time-shift depth of a manifest, in segments, for `max_cache_segs`.
//!
//! - DASH: the `MPD` element's `timeShiftBufferDepth` (an ISO 8601
//!   duration, `PT30S`), divided by the segment duration: the `MPD`'s
//!   `maxSegmentDuration`, else the first `SegmentTemplate`'s `duration` (or
//!   its `SegmentTimeline`'s first `S@d`) over its `timescale`. Rounded up.
//! - HLS: a media playlist's window, the number of segments it lists
//!   (`#EXTINF` lines); a master playlist lists none.
//!
//! No XML parser: only a few attributes of a few start tags are read, and
//! anything unexpected means "no time-shift information". Nothing here
//! panics, whatever the input (fuzzed in the tests).

use std::io::Read;
use std::path::Path;

/// Manifests larger than this are not read (their depth is unknown).
const MAX_MANIFEST: u64 = 1 << 20;

/// No depth beyond this many segments (a bound, whatever a manifest says).
const MAX_DEPTH: f64 = 1_000_000.0;

/// Whether `name` is a manifest (`.mpd`, `.m3u8`).
pub(crate) fn is_manifest(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    lower.ends_with(".mpd") || lower.ends_with(".m3u8")
}

/// The time-shift depth of the manifest file at `path`, in segments.
pub(crate) fn depth_of_file(path: &Path) -> Option<usize> {
    let mut text = String::new();
    std::fs::File::open(path)
        .ok()?
        .take(MAX_MANIFEST)
        .read_to_string(&mut text)
        .ok()?;
    depth(&text)
}

/// The time-shift depth of a manifest's text, in segments.
pub(crate) fn depth(text: &str) -> Option<usize> {
    if text.trim_start().starts_with("#EXTM3U") {
        hls_window(text)
    } else {
        mpd_depth(text)
    }
}

/// The number of segments an HLS media playlist lists.
fn hls_window(text: &str) -> Option<usize> {
    let n = text
        .lines()
        .filter(|l| l.trim_start().starts_with("#EXTINF"))
        .count();
    (n > 0).then_some(n)
}

/// `timeShiftBufferDepth` over the segment duration, rounded up.
fn mpd_depth(text: &str) -> Option<usize> {
    let mpd = start_tag(text, "MPD")?;
    let depth = duration(attr(mpd, "timeShiftBufferDepth")?)?;
    let segment = attr(mpd, "maxSegmentDuration")
        .and_then(duration)
        .or_else(|| template_duration(text))?;
    if segment <= 0.0 {
        return None;
    }
    let n = (depth / segment).ceil();
    (n.is_finite() && n >= 0.0).then(|| n.min(MAX_DEPTH) as usize)
}

/// The first `SegmentTemplate`'s segment duration in seconds: its
/// `duration`, or its timeline's first `S@d`, over its `timescale`.
fn template_duration(text: &str) -> Option<f64> {
    let at = find_start_tag(text, "SegmentTemplate")?;
    let template = tag_text(&text[at..]);
    let timescale = attr(template, "timescale").map_or(Some(1.0), number)?;
    let ticks = match attr(template, "duration") {
        Some(d) => number(d)?,
        None => attr(start_tag(&text[at..], "S")?, "d").and_then(number)?,
    };
    (timescale > 0.0).then(|| ticks / timescale)
}

/// A non-negative decimal number.
fn number(s: &str) -> Option<f64> {
    let s = s.trim();
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return None;
    }
    s.parse().ok().filter(|n: &f64| n.is_finite())
}

/// An ISO 8601 / xs:duration in seconds: `PnYnMnDTnHnMnS` (years as 365
/// days, months as 30: they do not occur in practice). Negative durations
/// and anything malformed are `None`.
pub(crate) fn duration(s: &str) -> Option<f64> {
    let rest = s.trim().strip_prefix('P')?;
    let (date, time) = match rest.split_once('T') {
        Some((d, t)) if !t.is_empty() => (d, Some(t)),
        Some(_) => return None,
        None => (rest, None),
    };
    let mut total = 0.0;
    let mut any = false;
    for (part, units) in [
        (date, &DATE_UNITS[..]),
        (time.unwrap_or(""), &TIME_UNITS[..]),
    ] {
        let mut units = units.iter();
        let mut digits = String::new();
        for c in part.chars() {
            if c.is_ascii_digit() || c == '.' {
                digits.push(c);
                continue;
            }
            // Units in their order, each at most once.
            let &(_, seconds) = units.find(|(u, _)| *u == c)?;
            total += number(&digits)? * seconds;
            digits.clear();
            any = true;
        }
        if !digits.is_empty() {
            return None;
        }
    }
    (any && total.is_finite()).then_some(total)
}

const DATE_UNITS: [(char, f64); 4] = [
    ('Y', 365.0 * 86_400.0),
    ('M', 30.0 * 86_400.0),
    ('W', 7.0 * 86_400.0),
    ('D', 86_400.0),
];
const TIME_UNITS: [(char, f64); 3] = [('H', 3600.0), ('M', 60.0), ('S', 1.0)];

/// Where the first start tag named `name` (any namespace prefix) begins.
fn find_start_tag(text: &str, name: &str) -> Option<usize> {
    let mut from = 0;
    while let Some(i) = text.get(from..)?.find('<') {
        let at = from + i;
        let rest = &text[at + 1..];
        let end = rest
            .find(|c: char| c.is_whitespace() || c == '>' || c == '/')
            .unwrap_or(rest.len());
        let qualified = &rest[..end];
        let local = qualified.rsplit(':').next().unwrap_or(qualified);
        if local == name && end > 0 {
            return Some(at);
        }
        from = at + 1;
    }
    None
}

/// The text of the first start tag named `name`, up to its `>`.
fn start_tag<'a>(text: &'a str, name: &str) -> Option<&'a str> {
    find_start_tag(text, name).map(|at| tag_text(&text[at..]))
}

/// A tag's text from its `<` to its `>` (or the end).
fn tag_text(from: &str) -> &str {
    from.find('>').map_or(from, |end| &from[..end])
}

/// The value of the attribute `name` in a start tag's text.
fn attr<'a>(tag: &'a str, name: &str) -> Option<&'a str> {
    let mut from = 0;
    while let Some(i) = tag.get(from..)?.find(name) {
        let at = from + i;
        from = at + name.len();
        let before = tag[..at].chars().next_back();
        if !before.is_some_and(char::is_whitespace) {
            continue;
        }
        let Some(rest) = tag[from..].trim_start().strip_prefix('=') else {
            continue;
        };
        let rest = rest.trim_start();
        let quote = rest.chars().next().filter(|q| *q == '"' || *q == '\'')?;
        let value = &rest[1..];
        return value.find(quote).map(|end| &value[..end]);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(duration("PT30S"), Some(30.0));
        assert_eq!(duration("PT1H2M3.5S"), Some(3723.5));
        assert_eq!(duration("P0Y0M0DT0H0M30.000S"), Some(30.0));
        assert_eq!(duration("P1D"), Some(86_400.0));
        assert_eq!(duration("PT0S"), Some(0.0));
        for bad in [
            "", "P", "PT", "30S", "-PT30S", "PT30", "PTS", "PT1S2M", "PT1..2S", "P1S", "PT1SS",
        ] {
            assert_eq!(duration(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn mpd_depth_from_its_attributes() {
        let mpd = |attrs: &str, body: &str| {
            format!(
                "<?xml version=\"1.0\"?>\n<!-- made by a packager -->\n<MPD xmlns=\"urn:mpeg:dash:schema:mpd:2011\" type=\"dynamic\" {attrs}>{body}</MPD>"
            )
        };
        let template = r#"<Period><AdaptationSet><SegmentTemplate timescale="1000" duration="2000" media="v_$Number$.m4s"/></AdaptationSet></Period>"#;
        let timeline = r#"<Period><SegmentTemplate timescale="90000"><SegmentTimeline><S t="0" d="180000" r="9"/></SegmentTimeline></SegmentTemplate></Period>"#;
        assert_eq!(
            depth(&mpd(
                r#"timeShiftBufferDepth="PT30S" maxSegmentDuration="PT2S""#,
                ""
            )),
            Some(15)
        );
        assert_eq!(
            depth(&mpd(r#"timeShiftBufferDepth='PT9S'"#, template)),
            Some(5),
            "rounded up"
        );
        assert_eq!(
            depth(&mpd(r#"timeShiftBufferDepth = "PT10S""#, timeline)),
            Some(5)
        );
        assert_eq!(
            depth(&mpd(r#"timeShiftBufferDepth="PT10S""#, "")),
            None,
            "no segment duration"
        );
        assert_eq!(
            depth(&mpd(r#"maxSegmentDuration="PT2S""#, template)),
            None,
            "no time shift"
        );
        assert_eq!(
            depth(&mpd(
                r#"xtimeShiftBufferDepth="PT10S" maxSegmentDuration="PT2S""#,
                ""
            )),
            None,
            "another attribute's name"
        );
        assert_eq!(
            depth(r#"<dash:MPD timeShiftBufferDepth="PT4S" maxSegmentDuration="PT1S">"#),
            Some(4)
        );
    }

    #[test]
    fn hls_window_is_the_segments_listed() {
        let media = "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:40\n\
                     #EXTINF:2.0,\nseg_40.ts\n#EXTINF:2.0,\nseg_41.ts\n#EXTINF:2.0,\nseg_42.ts\n";
        assert_eq!(depth(media), Some(3));
        let master = "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=800000\nlow.m3u8\n";
        assert_eq!(depth(master), None);
        assert!(is_manifest("Live.MPD") && is_manifest("a.m3u8") && !is_manifest("a.m4s"));
    }

    /// Bounded and deterministic: random and mutated manifests never make
    /// the parser panic.
    #[test]
    fn fuzzed_manifests_never_panic() {
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let seed = r#"<MPD timeShiftBufferDepth="PT30.5S" maxSegmentDuration="PT2S"><SegmentTemplate timescale="1000" duration="2000"><S d="1"/></SegmentTemplate></MPD>"#;
        let alphabet: Vec<char> =
            "<>/=\"' PTYMDHS.:0123456789MPDSegmentTemplatedurationtimescaleé#EXTINF\n"
                .chars()
                .collect();
        for round in 0..20_000 {
            let text: String = if round % 2 == 0 {
                let len = (next() % 200) as usize;
                (0..len)
                    .map(|_| alphabet[(next() % alphabet.len() as u64) as usize])
                    .collect()
            } else {
                let mut chars: Vec<char> = seed.chars().collect();
                for _ in 0..(next() % 8) {
                    let i = (next() % chars.len() as u64) as usize;
                    match next() % 3 {
                        0 => {
                            chars.remove(i);
                        }
                        1 => chars.insert(i, alphabet[(next() % alphabet.len() as u64) as usize]),
                        _ => chars[i] = alphabet[(next() % alphabet.len() as u64) as usize],
                    }
                }
                chars.into_iter().collect()
            };
            let _ = depth(&text);
            let _ = duration(&text);
            let _ = depth(&format!("#EXTM3U\n{text}"));
        }
    }
}

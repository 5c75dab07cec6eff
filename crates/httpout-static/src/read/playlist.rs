//! HLS media playlists, read as far as the LL-HLS delivery directives need
//! (the HLS specification, 2nd edition, §6.2.5): which segments and parts
//! a playlist holds, its target durations, what its server-control tag
//! allows, the parts its preload hints announce, and a delta update that
//! replaces its oldest segments with `EXT-X-SKIP`.
//!
//! Nothing here does I/O. Lines this module does not know pass through
//! untouched (rendition reports, date ranges, vendor tags), except that a
//! delta update drops the segment tags and URIs of the segments it skips.

use std::time::Duration;

/// The tags that belong to the media segment that follows them: a delta
/// update drops them with their segment.
const SEGMENT_TAGS: [&str; 10] = [
    "#EXTINF",
    "#EXT-X-BYTERANGE",
    "#EXT-X-DISCONTINUITY",
    "#EXT-X-KEY",
    "#EXT-X-MAP",
    "#EXT-X-PROGRAM-DATE-TIME",
    "#EXT-X-GAP",
    "#EXT-X-BITRATE",
    "#EXT-X-PART",
    "#EXT-X-DATERANGE",
];

/// Whether `line` is one of the [`SEGMENT_TAGS`] (by its whole name:
/// `#EXT-X-DISCONTINUITY-SEQUENCE` is not `#EXT-X-DISCONTINUITY`).
fn is_segment_tag(line: &str) -> bool {
    let name = line.split(':').next().unwrap_or(line);
    SEGMENT_TAGS.contains(&name)
}

/// The first protocol version with `EXT-X-SKIP`, and with its
/// `RECENTLY-REMOVED-DATERANGES`.
const SKIP_VERSION: u32 = 9;
const DATERANGE_SKIP_VERSION: u32 = 10;

/// Target duration assumed when a playlist gives none.
const DEFAULT_TARGET: Duration = Duration::from_secs(2);

/// A media segment of the playlist.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Segment {
    /// Index of its first line (its first tag, or its URI).
    first_line: usize,
    /// Its duration in seconds (`EXTINF`).
    duration: f64,
    /// How many `EXT-X-PART` lines it lists.
    parts: u64,
}

/// What a playlist says, by line index into its text.
#[derive(Debug)]
pub(crate) struct Playlist<'a> {
    lines: Vec<&'a str>,
    /// `EXT-X-TARGETDURATION`.
    pub(crate) target: Duration,
    /// `EXT-X-MEDIA-SEQUENCE` (0 when absent).
    pub(crate) media_sequence: u64,
    /// `EXT-X-ENDLIST`: nothing more will come.
    pub(crate) ended: bool,
    /// `EXT-X-VERSION` (1 when absent).
    version: u32,
    /// `CAN-SKIP-UNTIL` of `EXT-X-SERVER-CONTROL`, in seconds.
    skip_until: Option<f64>,
    /// `CAN-SKIP-DATERANGES=YES`.
    skip_dateranges: bool,
    /// The complete segments, oldest first.
    segments: Vec<Segment>,
    /// Parts listed after the last complete segment (the segment in
    /// progress).
    trailing_parts: u64,
    /// The URIs `EXT-X-PRELOAD-HINT` names.
    pub(crate) hints: Vec<&'a str>,
    /// The URIs of the parts listed.
    pub(crate) parts: Vec<&'a str>,
}

/// Why a blocking reload is refused at once (400).
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum TooFar {
    /// `_HLS_msn` beyond the last segment plus two.
    Segment,
    /// `_HLS_part` beyond the last part by more than the advance part
    /// limit (3).
    Part,
}

impl<'a> Playlist<'a> {
    /// Reads a media playlist; `None` for anything else (a multivariant
    /// playlist, not HLS at all).
    pub(crate) fn parse(text: &'a str) -> Option<Self> {
        let lines: Vec<&str> = text.lines().map(|l| l.trim_end_matches('\r')).collect();
        if !lines.first()?.starts_with("#EXTM3U") {
            return None;
        }
        let mut pl = Playlist {
            lines: Vec::new(),
            target: DEFAULT_TARGET,
            media_sequence: 0,
            ended: false,
            version: 1,
            skip_until: None,
            skip_dateranges: false,
            segments: Vec::new(),
            trailing_parts: 0,
            hints: Vec::new(),
            parts: Vec::new(),
        };
        let mut media = false;
        // The first line of the segment being read, its duration, its parts.
        let mut first: Option<usize> = None;
        let mut duration = 0.0;
        for (i, line) in lines.iter().enumerate() {
            if line.starts_with("#EXT-X-STREAM-INF") {
                return None;
            }
            if let Some(v) = line.strip_prefix("#EXT-X-TARGETDURATION:") {
                media = true;
                if let Ok(s) = v.trim().parse::<u64>() {
                    pl.target = Duration::from_secs(s.clamp(1, 3600));
                }
            } else if let Some(v) = line.strip_prefix("#EXT-X-MEDIA-SEQUENCE:") {
                pl.media_sequence = v.trim().parse().unwrap_or(0);
            } else if let Some(v) = line.strip_prefix("#EXT-X-VERSION:") {
                pl.version = v.trim().parse().unwrap_or(1);
            } else if line.starts_with("#EXT-X-ENDLIST") {
                pl.ended = true;
            } else if let Some(v) = line.strip_prefix("#EXT-X-SERVER-CONTROL:") {
                pl.skip_until = attribute(v, "CAN-SKIP-UNTIL").and_then(|s| s.parse().ok());
                pl.skip_dateranges = attribute(v, "CAN-SKIP-DATERANGES") == Some("YES");
            } else if let Some(v) = line.strip_prefix("#EXT-X-PRELOAD-HINT:") {
                pl.hints.extend(attribute(v, "URI"));
            } else if is_segment_tag(line) {
                media = true;
                first.get_or_insert(i);
                if let Some(v) = line.strip_prefix("#EXTINF:") {
                    let d = v.split(',').next().unwrap_or("").trim();
                    duration = d
                        .parse()
                        .ok()
                        .filter(|d: &f64| d.is_finite() && *d >= 0.0)
                        .unwrap_or(0.0);
                } else if let Some(v) = line.strip_prefix("#EXT-X-PART:") {
                    pl.trailing_parts += 1;
                    pl.parts.extend(attribute(v, "URI"));
                }
            } else if !line.is_empty() && !line.starts_with('#') {
                // A URI: the segment is complete.
                pl.segments.push(Segment {
                    first_line: first.take().unwrap_or(i),
                    duration,
                    parts: pl.trailing_parts,
                });
                pl.trailing_parts = 0;
                duration = 0.0;
            }
        }
        // Sequence numbers near the end of u64 leave no room to count on
        // from them: not a playlist this server answers directives for.
        if !media || pl.media_sequence > u64::MAX / 2 {
            return None;
        }
        // The skip boundary must be at least six target durations.
        let least = 6.0 * pl.target.as_secs_f64();
        pl.skip_until = pl.skip_until.filter(|b| b.is_finite() && *b >= least);
        pl.lines = lines;
        Some(pl)
    }

    /// The media sequence number of the last complete segment; `None`
    /// when there is none.
    fn last_segment(&self) -> Option<u64> {
        let n = self.segments.len() as u64;
        (n > 0).then(|| self.media_sequence + n - 1)
    }

    /// Whether the playlist holds segment `msn` (with `part`: that part of
    /// it, or anything later), as a blocking reload asks. A part past the
    /// last of its segment stands for the first part of the next one.
    pub(crate) fn holds(&self, msn: u64, part: Option<u64>) -> bool {
        if self.ended {
            return true;
        }
        let last = self.last_segment();
        let Some(part) = part else {
            return last.is_some_and(|l| l >= msn);
        };
        match last {
            Some(l) if l > msn => true,
            Some(l) if l == msn => {
                let listed = self.segments.last().map_or(0, |s| s.parts);
                listed == 0 || part < listed || self.trailing_parts > 0
            }
            // `msn` is the segment in progress.
            _ if last.map_or(self.media_sequence, |l| l + 1) == msn => part < self.trailing_parts,
            _ => false,
        }
    }

    /// Whether a blocking reload for `msn`/`part` is too far ahead to wait
    /// for (400, §6.2.5.2): a segment more than two past the last, or a
    /// part more than three past the last part.
    /// An ended playlist answers anything at once: never too far.
    pub(crate) fn too_far(&self, msn: u64, part: Option<u64>) -> Option<TooFar> {
        if self.ended {
            return None;
        }
        let last = self.last_segment()?;
        if msn > last + 2 {
            return Some(TooFar::Segment);
        }
        let p = part?;
        // Parts ahead of the last one listed: of the segment in progress,
        // or, for the one after it, counting the parts the segment in
        // progress still has to come (as many as the last segment had).
        let ahead = if msn == last + 1 {
            p.saturating_add(1).saturating_sub(self.trailing_parts)
        } else if msn == last + 2 {
            let per_segment = self.segments.last().map_or(0, |s| s.parts);
            if per_segment == 0 {
                return None;
            }
            per_segment
                .saturating_sub(self.trailing_parts)
                .saturating_add(p)
                .saturating_add(1)
        } else {
            0
        };
        (ahead > 3).then_some(TooFar::Part)
    }

    /// The longest a blocking reload is held: three target durations.
    pub(crate) fn hold_limit(&self) -> Duration {
        self.target * 3
    }

    /// The playlist as a delta update (`_HLS_skip=YES`, or `v2` to skip
    /// date ranges too): the oldest segments further than `CAN-SKIP-UNTIL`
    /// from the end replaced by `EXT-X-SKIP`; `None` when the playlist does
    /// not offer delta updates or there is nothing to skip.
    pub(crate) fn delta(&self, v2: bool) -> Option<String> {
        let boundary = self.skip_until?;
        if self.version < SKIP_VERSION {
            return None;
        }
        let total: f64 = self.segments.iter().map(|s| s.duration).sum();
        let mut end = 0.0;
        let mut skipped = 0;
        for s in &self.segments {
            end += s.duration;
            // A segment is skipped only when all of it lies beyond the
            // boundary; the last segment is always kept.
            if total - end < boundary || skipped + 1 == self.segments.len() {
                break;
            }
            skipped += 1;
        }
        if skipped == 0 {
            return None;
        }
        let v2 = v2 && self.skip_dateranges && self.version >= DATERANGE_SKIP_VERSION;
        let start = self.segments[0].first_line;
        let keep = self.segments[skipped].first_line;
        let mut out = String::with_capacity(self.lines.iter().map(|l| l.len() + 1).sum());
        for line in &self.lines[..start] {
            push_line(&mut out, line);
        }
        // Playlist tags among the skipped lines (after an early map or key)
        // stay; only segment tags and URIs go.
        let skipped_lines = &self.lines[start..keep];
        for line in skipped_lines
            .iter()
            .filter(|l| l.starts_with("#EXT") && !is_segment_tag(l))
        {
            push_line(&mut out, line);
        }
        if v2 {
            // Nothing is tracked of date ranges removed earlier: none listed.
            out.push_str(&format!(
                "#EXT-X-SKIP:SKIPPED-SEGMENTS={skipped},RECENTLY-REMOVED-DATERANGES=\"\"\n"
            ));
        } else {
            out.push_str(&format!("#EXT-X-SKIP:SKIPPED-SEGMENTS={skipped}\n"));
        }
        // What the skipped lines set for the segments kept: the last map
        // and key, and (without v2) the date ranges.
        for tag in ["#EXT-X-MAP:", "#EXT-X-KEY:"] {
            if let Some(line) = skipped_lines.iter().rev().find(|l| l.starts_with(tag)) {
                push_line(&mut out, line);
            }
        }
        if !v2 {
            for line in skipped_lines
                .iter()
                .filter(|l| l.starts_with("#EXT-X-DATERANGE:"))
            {
                push_line(&mut out, line);
            }
        }
        for line in &self.lines[keep..] {
            push_line(&mut out, line);
        }
        Some(out)
    }
}

fn push_line(out: &mut String, line: &str) {
    out.push_str(line);
    out.push('\n');
}

/// The value of attribute `name` in an attribute list (`A=1,B="x,y"`),
/// quotes removed.
fn attribute<'a>(list: &'a str, name: &str) -> Option<&'a str> {
    let mut rest = list;
    while !rest.is_empty() {
        let eq = rest.find('=')?;
        let key = rest[..eq].trim();
        let after = &rest[eq + 1..];
        let (value, next) = if let Some(q) = after.strip_prefix('"') {
            let end = q.find('"')?;
            (&q[..end], &q[end + 1..])
        } else {
            let end = after.find(',').unwrap_or(after.len());
            (after[..end].trim(), &after[end..])
        };
        if key == name {
            return Some(value);
        }
        rest = next.trim_start_matches(',');
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The shape of the specification's LL-HLS example: 4 s segments of
    /// 1 s parts, the last two segments with their parts, a segment in
    /// progress with two parts and a hint for the third.
    const LL: &str = "#EXTM3U
#EXT-X-TARGETDURATION:4
#EXT-X-VERSION:9
#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=3.0,CAN-SKIP-UNTIL=24.0
#EXT-X-PART-INF:PART-TARGET=1.0
#EXT-X-MEDIA-SEQUENCE:263
#EXT-X-MAP:URI=\"init.mp4\"
#EXT-X-PROGRAM-DATE-TIME:2026-12-05T14:00:00.000Z
#EXTINF:4.0,
seg263.mp4
#EXT-X-DATERANGE:ID=\"ad1\",START-DATE=\"2026-12-05T14:00:04.000Z\",DURATION=4.0
#EXTINF:4.0,
seg264.mp4
#EXTINF:4.0,
seg265.mp4
#EXTINF:4.0,
seg266.mp4
#EXTINF:4.0,
seg267.mp4
#EXTINF:4.0,
seg268.mp4
#EXTINF:4.0,
seg269.mp4
#EXT-X-PART:DURATION=1.0,URI=\"seg270.0.mp4\",INDEPENDENT=YES
#EXT-X-PART:DURATION=1.0,URI=\"seg270.1.mp4\"
#EXT-X-PART:DURATION=1.0,URI=\"seg270.2.mp4\"
#EXT-X-PART:DURATION=1.0,URI=\"seg270.3.mp4\"
#EXTINF:4.0,
seg270.mp4
#EXT-X-PART:DURATION=1.0,URI=\"seg271.0.mp4\",INDEPENDENT=YES
#EXT-X-PART:DURATION=1.0,URI=\"seg271.1.mp4\"
#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"seg271.2.mp4\"
#EXT-X-RENDITION-REPORT:URI=\"../low/live.m3u8\",LAST-MSN=271,LAST-PART=1
";

    #[test]
    fn segments_parts_and_hints_are_read() {
        let pl = Playlist::parse(LL).unwrap();
        assert_eq!(pl.target, Duration::from_secs(4));
        assert_eq!(pl.media_sequence, 263);
        assert_eq!(pl.last_segment(), Some(270));
        assert_eq!(pl.trailing_parts, 2);
        assert_eq!(pl.hints, ["seg271.2.mp4"]);
        assert_eq!(pl.parts.len(), 6);
        assert_eq!(pl.hold_limit(), Duration::from_secs(12));
        assert!(Playlist::parse("#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\na.m3u8\n").is_none());
        assert!(Playlist::parse("<MPD/>").is_none());
    }

    #[test]
    fn blocking_reload_asks_for_a_segment_or_a_part_or_later() {
        let pl = Playlist::parse(LL).unwrap();
        assert!(pl.holds(270, None) && pl.holds(266, None) && !pl.holds(271, None));
        // Parts of the segment in progress.
        assert!(pl.holds(271, Some(0)) && pl.holds(271, Some(1)));
        assert!(!pl.holds(271, Some(2)));
        // A complete segment holds its parts; one past its last part is
        // the next segment's first, which is there.
        assert!(pl.holds(270, Some(3)) && pl.holds(270, Some(4)));
        assert!(!pl.holds(272, Some(0)));
        // Too far: two segments past the last is the limit.
        assert_eq!(pl.too_far(272, None), None);
        assert_eq!(pl.too_far(273, None), Some(TooFar::Segment));
        assert_eq!(pl.too_far(271, Some(4)), None);
        assert_eq!(pl.too_far(271, Some(5)), Some(TooFar::Part));
        // The segment after next: its first part is three parts ahead of
        // the last listed (271.1), its second four.
        assert_eq!(pl.too_far(272, Some(0)), None);
        assert_eq!(pl.too_far(272, Some(1)), Some(TooFar::Part));
        let ended = format!("{LL}#EXT-X-ENDLIST\n");
        let ended = Playlist::parse(&ended).unwrap();
        assert!(ended.holds(900, Some(3)) && ended.too_far(900, None).is_none());
        // No room to count on from the sequence number: not answered.
        let huge = LL.replace("SEQUENCE:263", &format!("SEQUENCE:{}", u64::MAX - 1));
        assert!(Playlist::parse(&huge).is_none());
    }

    #[test]
    fn a_delta_update_skips_what_lies_beyond_the_boundary() {
        let pl = Playlist::parse(LL).unwrap();
        // 32 s of segments, 24 s boundary: 263 and 264 end 24 s or more
        // from the end; 265 does not.
        let delta = pl.delta(false).unwrap();
        assert!(
            delta.contains("#EXT-X-SKIP:SKIPPED-SEGMENTS=2\n"),
            "{delta}"
        );
        assert!(!delta.contains("seg263.mp4") && !delta.contains("seg264.mp4"));
        assert!(delta.contains("seg265.mp4\n") && delta.contains("#EXT-X-PRELOAD-HINT"));
        assert!(delta.contains("#EXT-X-RENDITION-REPORT:URI=\"../low/live.m3u8\""));
        // What the skipped lines set is carried over.
        assert!(delta.contains("#EXT-X-MAP:URI=\"init.mp4\""));
        assert!(delta.contains("#EXT-X-DATERANGE:ID=\"ad1\""));
        assert!(!delta.contains("PROGRAM-DATE-TIME"));
        let skip_at = delta.find("#EXT-X-SKIP").unwrap();
        assert!(delta.find("#EXT-X-MEDIA-SEQUENCE:263").unwrap() < skip_at);
        // The result is a playlist the parser reads again, segments counted
        // from the same media sequence.
        let again = Playlist::parse(&delta).unwrap();
        assert_eq!(again.segments.len(), 6);
    }

    #[test]
    fn a_delta_keeps_playlist_tags_wherever_they_are() {
        // Header tags after an early map, and the discontinuity sequence,
        // are not segment tags.
        let text = LL.replace(
            "#EXT-X-MEDIA-SEQUENCE:263\n#EXT-X-MAP:URI=\"init.mp4\"\n",
            "#EXT-X-MAP:URI=\"init.mp4\"\n#EXT-X-MEDIA-SEQUENCE:263\n#EXT-X-DISCONTINUITY-SEQUENCE:3\n",
        );
        let delta = Playlist::parse(&text).unwrap().delta(false).unwrap();
        let skip = delta.find("#EXT-X-SKIP").unwrap();
        for tag in [
            "#EXT-X-MEDIA-SEQUENCE:263",
            "#EXT-X-DISCONTINUITY-SEQUENCE:3",
        ] {
            assert!(
                delta.find(tag).is_some_and(|at| at < skip),
                "{tag}: {delta}"
            );
        }
        assert!(delta[skip..].contains("#EXT-X-MAP:URI=\"init.mp4\""));
    }

    #[test]
    fn delta_updates_need_a_sane_boundary_and_version() {
        for bad in [
            "CAN-SKIP-UNTIL=NaN",
            "CAN-SKIP-UNTIL=-1",
            "CAN-SKIP-UNTIL=20.0",
        ] {
            let text = LL.replace("CAN-SKIP-UNTIL=24.0", bad);
            assert!(
                Playlist::parse(&text).unwrap().delta(false).is_none(),
                "{bad}"
            );
        }
        let v8 = LL.replace("#EXT-X-VERSION:9", "#EXT-X-VERSION:8");
        assert!(Playlist::parse(&v8).unwrap().delta(false).is_none());
    }

    #[test]
    fn delta_updates_only_where_the_playlist_offers_them() {
        let no_skip = LL.replace(",CAN-SKIP-UNTIL=24.0", "");
        assert!(Playlist::parse(&no_skip).unwrap().delta(false).is_none());
        // v2 skips date ranges only where the playlist says it can.
        let pl = Playlist::parse(LL).unwrap();
        assert!(pl.delta(true).unwrap().contains("#EXT-X-DATERANGE"));
        let v2 = LL
            .replace(
                "CAN-SKIP-UNTIL=24.0",
                "CAN-SKIP-UNTIL=24.0,CAN-SKIP-DATERANGES=YES",
            )
            .replace("#EXT-X-VERSION:9", "#EXT-X-VERSION:10");
        let delta = Playlist::parse(&v2).unwrap().delta(true).unwrap();
        assert!(
            delta.contains("#EXT-X-SKIP:SKIPPED-SEGMENTS=2,RECENTLY-REMOVED-DATERANGES=\"\"\n")
        );
        assert!(!delta.contains("#EXT-X-DATERANGE"));
        // A short playlist has nothing to skip.
        let short = "#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXT-X-VERSION:9\n#EXT-X-SERVER-CONTROL:CAN-SKIP-UNTIL=24\n#EXTINF:4,\na.ts\n";
        assert!(Playlist::parse(short).unwrap().delta(false).is_none());
    }

    #[test]
    fn attributes_with_quotes_and_commas() {
        let list = "TYPE=PART,URI=\"a,b.mp4\",BYTERANGE-START=10";
        assert_eq!(attribute(list, "URI"), Some("a,b.mp4"));
        assert_eq!(attribute(list, "BYTERANGE-START"), Some("10"));
        assert_eq!(attribute(list, "TYPE"), Some("PART"));
        assert_eq!(attribute(list, "X"), None);
        assert_eq!(attribute("URI=\"unterminated", "URI"), None);
    }
}

//! Byte ranges of a GET, RFC 9110 §14.
//!
//! Syntax is parsed strictly by `http-range-header` (which refuses more than
//! 100 ranges); the decisions are ours:
//! - a malformed or over-long `Range` is ignored: 200 with the whole file
//!   (§14.2 lets a server ignore it);
//! - unsatisfiable ranges are dropped; when none is left: 416;
//! - several ranges whose lengths add up to more than the file are answered
//!   with the whole file (nginx's guard against amplification);
//! - overlapping ranges, or ones separated by less than a part header, are
//!   coalesced (§14.2 allows it); otherwise parts keep the request's order
//!   (§14.6);
//! - one range left: a plain 206, even when it covers the whole file
//!   (`bytes=0-` is how players probe for range support; nginx answers it
//!   206 too); several: `multipart/byteranges`.
//!
//! GPAC differs: it concatenates the ranges into one non-standard body.

use std::ops::Range;

use http::HeaderValue;
use http_range_header::SyntacticallyCorrectRange;

/// Ranges closer than this are merged: about the size of a part header.
const COALESCE_GAP: u64 = 80;

/// What to send for a request's `Range`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RangeDecision {
    /// The whole representation, 200.
    Full,
    /// One range, 206 with `Content-Range`.
    Single(Range<u64>),
    /// Several ranges, 206 `multipart/byteranges`.
    Multi(Vec<Range<u64>>),
    /// 416 with `Content-Range: bytes */SIZE`.
    Unsatisfiable,
}

/// Decides what a `Range` header asks of a representation of `size` bytes.
pub(crate) fn decide(header: Option<&HeaderValue>, size: u64) -> RangeDecision {
    let Some(text) = header.and_then(|h| h.to_str().ok()) else {
        return RangeDecision::Full;
    };
    let Ok(parsed) = http_range_header::parse_range_header(text) else {
        return RangeDecision::Full;
    };
    let requested = parsed.into_ranges();
    let mut ranges: Vec<Range<u64>> = requested.iter().filter_map(|r| resolve(*r, size)).collect();
    if ranges.is_empty() {
        let empty_suffix = size == 0
            && requested
                .iter()
                .any(|r| matches!(r, SyntacticallyCorrectRange::FromLast(n) if *n > 0));
        return if empty_suffix {
            RangeDecision::Full
        } else {
            RangeDecision::Unsatisfiable
        };
    }
    if ranges.len() > 1 {
        let total: u64 = ranges.iter().map(|r| r.end - r.start).sum();
        if total > size {
            return RangeDecision::Full;
        }
        if needs_coalescing(&ranges) {
            ranges = coalesce(ranges);
        }
    }
    match ranges.len() {
        1 => RangeDecision::Single(ranges.remove(0)),
        _ => RangeDecision::Multi(ranges),
    }
}

/// A syntactically correct range against the size; `None` when unsatisfiable.
fn resolve(r: SyntacticallyCorrectRange, size: u64) -> Option<Range<u64>> {
    match r {
        SyntacticallyCorrectRange::FromStart(start) => (start < size).then_some(start..size),
        SyntacticallyCorrectRange::FromLast(n) => {
            (n > 0 && size > 0).then(|| size - n.min(size)..size)
        }
        SyntacticallyCorrectRange::Indexed(start, end) => {
            (start < size).then(|| start..end.saturating_add(1).min(size))
        }
    }
}

fn needs_coalescing(ranges: &[Range<u64>]) -> bool {
    let mut sorted = ranges.to_vec();
    sorted.sort_by_key(|r| r.start);
    sorted
        .windows(2)
        .any(|w| w[1].start < w[0].end.saturating_add(COALESCE_GAP))
}

fn coalesce(mut ranges: Vec<Range<u64>>) -> Vec<Range<u64>> {
    ranges.sort_by_key(|r| r.start);
    let mut out: Vec<Range<u64>> = Vec::with_capacity(ranges.len());
    for r in ranges {
        match out.last_mut() {
            Some(last) if r.start < last.end.saturating_add(COALESCE_GAP) => {
                last.end = last.end.max(r.end);
            }
            _ => out.push(r),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use RangeDecision::*;

    fn d(h: &str, size: u64) -> RangeDecision {
        decide(Some(&HeaderValue::from_str(h).unwrap()), size)
    }

    #[test]
    fn single_forms() {
        assert_eq!(d("bytes=0-99", 1000), Single(0..100));
        assert_eq!(d("bytes=500-", 1000), Single(500..1000));
        assert_eq!(d("bytes=-500", 1000), Single(500..1000));
        assert_eq!(d("bytes=900-5000", 1000), Single(900..1000));
    }

    #[test]
    fn a_range_covering_the_whole_file_is_still_a_range() {
        assert_eq!(d("bytes=0-", 1000), Single(0..1000));
        assert_eq!(d("bytes=0-999", 1000), Single(0..1000));
        assert_eq!(d("bytes=-5000", 1000), Single(0..1000));
        assert_eq!(d("bytes=0-499,500-", 1000), Single(0..1000), "coalesced");
        // Ranges adding up to more than the file stay a plain 200.
        assert_eq!(d("bytes=0-,0-", 1000), Full);
    }

    #[test]
    fn unsatisfiable_and_ignored() {
        assert_eq!(d("bytes=1000-", 1000), Unsatisfiable);
        assert_eq!(d("bytes=-0", 1000), Unsatisfiable);
        assert_eq!(d("bytes=5-9", 0), Unsatisfiable);
        assert_eq!(d("bytes=-5", 0), Full);
        assert_eq!(d("bytes=9-5", 1000), Full, "reversed: ignored");
        assert_eq!(d("items=0-5", 1000), Full);
        assert_eq!(d("bytes=abc", 1000), Full);
        // Unsatisfiable parts are dropped, the rest is served.
        assert_eq!(d("bytes=2000-3000,0-9", 1000), Single(0..10));
    }

    #[test]
    fn multiple_ranges() {
        assert_eq!(d("bytes=0-9,500-509", 1000), Multi(vec![0..10, 500..510]));
        // Request order is kept when nothing needs merging (§14.6).
        assert_eq!(d("bytes=500-509,0-9", 1000), Multi(vec![500..510, 0..10]));
        // Overlaps and near neighbours are coalesced.
        assert_eq!(
            d("bytes=0-9,5-20,600-609", 1000),
            Multi(vec![0..21, 600..610])
        );
        assert_eq!(d("bytes=0-9,20-29", 1000), Single(0..30));
    }

    #[test]
    fn abuse_is_answered_with_the_whole_file() {
        // Heavy overlap adding up to more than the file.
        let many = format!("bytes={}", vec!["0-999"; 50].join(","));
        assert_eq!(d(&many, 1000), Full);
        // More than 100 ranges: refused by the parser, so ignored.
        let hundreds: Vec<String> = (0..300)
            .map(|i| format!("{}-{}", i * 200, i * 200))
            .collect();
        assert_eq!(d(&format!("bytes={}", hundreds.join(",")), 100_000), Full);
    }
}

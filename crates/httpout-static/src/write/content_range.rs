//! Where the bytes of a partial upload go.
//!
//! Two forms are accepted on PUT and POST:
//! - `Content-Range: bytes START-END/TOTAL` (or `/*`): the body is bytes
//!   START..=END of the resource. RFC 9110 §14.5 lets a server refuse a
//!   partial PUT; httpout applies it (as GPAC does, and as resumable-upload
//!   clients expect), atomically: the current file is copied, the range
//!   written into the copy, and the copy renamed into place.
//! - `Range: bytes=A-B,C-D` (GPAC's own push client): the body is those
//!   ranges' bytes one after the other, each written at its offset.
//!
//! Malformed values are 400, and so are offsets of 2^63 or more (no file
//! system takes them); END beyond TOTAL is 416. The caller refuses ranges
//! that end past `maxs` (413).

use http::HeaderMap;
use http::header::{CONTENT_RANGE, RANGE};
use http_range_header::SyntacticallyCorrectRange;
use httpout_core::Error;

/// A byte span of the resource: (offset, length).
pub(crate) type Span = (u64, u64);

/// Parses the partial-upload headers; `None` for a whole-resource upload.
pub(crate) fn parse(headers: &HeaderMap) -> Result<Option<Vec<Span>>, Error> {
    let spans = match (headers.get(CONTENT_RANGE), headers.get(RANGE)) {
        (None, None) => return Ok(None),
        (Some(_), Some(_)) => {
            return Err(Error::bad_request("give Content-Range or Range, not both"));
        }
        (Some(v), None) => vec![content_range(v.to_str().unwrap_or_default())?],
        (None, Some(v)) => gpac_range(v.to_str().unwrap_or_default())?,
    };
    // File offsets are signed 64-bit numbers.
    if spans
        .iter()
        .any(|&(at, len)| at.checked_add(len).is_none_or(|end| end > i64::MAX as u64))
    {
        return Err(Error::bad_request("range offsets must be below 2^63"));
    }
    Ok(Some(spans))
}

/// `bytes START-END/TOTAL` or `bytes START-END/*`.
fn content_range(text: &str) -> Result<Span, Error> {
    let bad = || {
        Error::bad_request("Content-Range must be `bytes START-END/TOTAL` or `bytes START-END/*`")
    };
    let rest = text.trim().strip_prefix("bytes ").ok_or_else(bad)?;
    let (span, total) = rest.split_once('/').ok_or_else(bad)?;
    let (start, end) = span.split_once('-').ok_or_else(bad)?;
    let start: u64 = digits(start).ok_or_else(bad)?;
    let end: u64 = digits(end).ok_or_else(bad)?;
    if start > end {
        return Err(bad());
    }
    if total.trim() != "*" {
        let total: u64 = digits(total).ok_or_else(bad)?;
        if end >= total {
            return Err(Error::RangeNotSatisfiable { size: total });
        }
    }
    let len = (end - start).checked_add(1).ok_or_else(bad)?;
    Ok((start, len))
}

/// GPAC's `Range: bytes=A-B[,C-D...]` on an upload: closed ranges only.
fn gpac_range(text: &str) -> Result<Vec<Span>, Error> {
    let bad = || Error::bad_request("Range on an upload must list closed ranges: bytes=A-B[,C-D]");
    let parsed = http_range_header::parse_range_header(text).map_err(|_| bad())?;
    parsed
        .into_ranges()
        .into_iter()
        .map(|r| match r {
            SyntacticallyCorrectRange::Indexed(start, end) if end < u64::MAX => {
                Ok((start, end - start + 1))
            }
            _ => Err(bad()),
        })
        .collect()
}

fn digits(s: &str) -> Option<u64> {
    let s = s.trim();
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(name: &'static str, value: &str) -> Result<Option<Vec<Span>>, u16> {
        let mut h = HeaderMap::new();
        h.insert(name, value.parse().unwrap());
        parse(&h).map_err(|e| e.status().as_u16())
    }

    #[test]
    fn forms() {
        assert_eq!(
            p("content-range", "bytes 0-99/1000"),
            Ok(Some(vec![(0, 100)]))
        );
        assert_eq!(
            p("content-range", "bytes 500-999/*"),
            Ok(Some(vec![(500, 500)]))
        );
        assert_eq!(p("content-range", "bytes 900-1000/1000"), Err(416));
        assert_eq!(p("content-range", "bytes 9-1/100"), Err(400));
        assert_eq!(p("content-range", "bytes */100"), Err(400));
        assert_eq!(p("content-range", "bytes -5-9/100"), Err(400));
        assert_eq!(p("content-range", "items 0-1/2"), Err(400));
        assert_eq!(
            p("range", "bytes=0-9,100-109"),
            Ok(Some(vec![(0, 10), (100, 10)]))
        );
        assert_eq!(p("range", "bytes=100-"), Err(400));
        assert_eq!(p("range", "bytes=-5"), Err(400));
        assert_eq!(
            p(
                "content-range",
                "bytes 9223372036854775808-9223372036854775808/*"
            ),
            Err(400)
        );
        assert_eq!(
            p("range", "bytes=9223372036854775800-9223372036854775810"),
            Err(400)
        );
        assert!(parse(&HeaderMap::new()).unwrap().is_none());
    }
}

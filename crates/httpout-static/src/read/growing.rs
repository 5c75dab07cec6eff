//! Files being uploaded, served from the live edge (the file sink).
//!
//! A GET for a file whose upload is in progress gets what is already written
//! at once, then every piece as it arrives, until the upload completes (the
//! response ends) or is aborted (the response ends in an error: an
//! incomplete chunked body on HTTP/1.1, RST_STREAM on HTTP/2 — never a clean
//! end that passes a truncated segment off as complete). Its length is not
//! known yet: no `Content-Length`, no `ETag`, no `Last-Modified`.
//!
//! Ranges follow RFC 8673 (random access to live content): `bytes=N-` (and
//! a very large last position, `bytes=N-9007199254740991`) is answered
//! `206` with `Content-Range: bytes N-LAST/*` and streams from N, waiting at
//! the edge for bytes not written yet; `bytes=A-B` is answered once those
//! bytes exist. GPAC's `X-Allow-Open-Partial-Range` request header asks for
//! the same and needs nothing more; its `Content-Range: N-/*` is not sent.
//! Suffix and multiple ranges are ignored (200) while the length is unknown.
//!
//! The headers are those of a complete file ([`super::respond`]: media
//! type, `Cache-Control`, `Accept-Ranges`, `Vary`), without validators.

use http::header::RANGE;
use http::request::Parts;
use http_range_header::SyntacticallyCorrectRange;

use crate::site::Site;

/// RFC 8673's "very large" last-byte-pos: 2^53 - 1.
pub(crate) const OPEN_END: u64 = 9_007_199_254_740_991;

/// The range to serve of a file being written: `(start, end)`, `end`
/// exclusive or `None` for "until the writer finishes"; `None` for the
/// whole file (no range, `norange`, or a suffix or several ranges).
pub(crate) fn range(site: &Site, req: &Parts) -> Option<(u64, Option<u64>)> {
    if site.config.norange {
        return None;
    }
    req.headers
        .get(RANGE)
        .and_then(|v| v.to_str().ok())
        .and_then(|t| http_range_header::parse_range_header(t).ok())
        .map(http_range_header::ParsedRanges::into_ranges)
        .filter(|r| r.len() == 1)
        .and_then(|r| match r[0] {
            SyntacticallyCorrectRange::FromStart(start) => Some((start, None)),
            SyntacticallyCorrectRange::Indexed(start, end) if end >= OPEN_END => {
                Some((start, None))
            }
            SyntacticallyCorrectRange::Indexed(start, end) => Some((start, Some(end + 1))),
            SyntacticallyCorrectRange::FromLast(_) => None,
        })
}

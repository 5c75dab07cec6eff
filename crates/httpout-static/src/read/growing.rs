//! Files being uploaded, served from the live edge (the file sink).
//!
//! A GET for a file whose upload is in progress gets what is already written
//! at once, then every piece as it arrives, until the upload completes (the
//! response ends) or is aborted (the response ends in an error: an
//! incomplete chunked body on HTTP/1.1, RST_STREAM on HTTP/2 — never a clean
//! end that passes a truncated segment off as complete). Its length is not
//! known yet: no `Content-Length`, no `ETag`, no `Last-Modified`; the
//! `Cache-Control` of complete files (`cache_control`) is sent all the same.
//!
//! Ranges follow RFC 8673 (random access to live content): `bytes=N-` (and
//! a very large last position, `bytes=N-9007199254740991`) is answered
//! `206` with `Content-Range: bytes N-LAST/*` and streams from N, waiting at
//! the edge for bytes not written yet; `bytes=A-B` is answered once those
//! bytes exist. GPAC's `X-Allow-Open-Partial-Range` request header asks for
//! the same and needs nothing more; its `Content-Range: N-/*` is not sent.
//! Suffix and multiple ranges are ignored (200) while the length is unknown.

use http::header::{CONTENT_LENGTH, CONTENT_RANGE, CONTENT_TYPE, RANGE};
use http::request::Parts;
use http::{HeaderValue, Method, Response, StatusCode};
use http_range_header::SyntacticallyCorrectRange;
use httpout_core::Body;
use httpout_store::LiveFile;

use super::body;
use crate::mime;
use crate::site::Site;

/// RFC 8673's "very large" last-byte-pos: 2^53 - 1.
const OPEN_END: u64 = 9_007_199_254_740_991;

/// The response for a file being written.
pub(crate) fn respond(site: &Site, req: &Parts, live: LiveFile, name: &str) -> Response<Body> {
    let range = if site.config.norange {
        None
    } else {
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
    };
    let mut res = Response::new(Body::empty());
    res.headers_mut()
        .insert(CONTENT_TYPE, mime::content_type(name));
    // An LL-DASH origin needs it most here: CDNs and players cache what
    // they get from the live edge.
    site.config.set_cache_control(res.headers_mut());
    let (start, end) = match range {
        Some((start, end)) => {
            *res.status_mut() = StatusCode::PARTIAL_CONTENT;
            let last = end.map_or(OPEN_END, |e| e - 1);
            let cr = HeaderValue::from_str(&format!("bytes {start}-{last}/*")).expect("digits");
            res.headers_mut().insert(CONTENT_RANGE, cr);
            if let Some(end) = end {
                res.headers_mut()
                    .insert(CONTENT_LENGTH, HeaderValue::from(end - start));
            }
            (start, end)
        }
        None => (0, None),
    };
    if req.method != Method::HEAD {
        *res.body_mut() = body::growing(live, start, end, site.block());
    }
    res
}

//! [`Outcome`] → response: the one place the read side sets a status and
//! builds headers and bodies.

use std::ops::Range;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use http::header::{
    ACCEPT_RANGES, CONTENT_ENCODING, CONTENT_LENGTH, CONTENT_RANGE, CONTENT_TYPE, ETAG,
    LAST_MODIFIED, LOCATION, VARY,
};
use http::{HeaderMap, HeaderValue, Response, StatusCode};
use httpout_core::{Body, Error, FileRegion};
use httpout_store::OpenFile;

use super::body::{self, Piece};
use super::growing::OPEN_END;
use super::listing;
use super::outcome::{Listing, Outcome, Part, Representation};
use crate::StaticConfig;

/// Builds the response for `outcome` (HEAD too: the engine drops the body,
/// which is lazy, and keeps its length). 412 and 416 are the engine's
/// error responses.
pub(crate) fn respond(config: &StaticConfig, outcome: Outcome) -> Result<Response<Body>, Error> {
    let mut res = Response::new(Body::empty());
    match outcome {
        Outcome::Redirect { location } => {
            *res.status_mut() = StatusCode::MOVED_PERMANENTLY;
            if let Some(location) = location {
                res.headers_mut().insert(LOCATION, location);
            }
        }
        Outcome::Listing(l) => listing(config, &mut res, &l),
        Outcome::PreconditionFailed => return Err(Error::PreconditionFailed),
        Outcome::RangeNotSatisfiable { size } => return Err(Error::RangeNotSatisfiable { size }),
        Outcome::NotModified(rep) => {
            *res.status_mut() = StatusCode::NOT_MODIFIED;
            validators(res.headers_mut(), &rep);
        }
        Outcome::File { rep, file, part } => {
            validators(res.headers_mut(), &rep);
            content(config, res.headers_mut(), &rep);
            file_part(config, &mut res, &rep, file, part);
        }
        Outcome::Growing { rep, live, range } => {
            validators(res.headers_mut(), &rep);
            content(config, res.headers_mut(), &rep);
            let (start, end) = range.unwrap_or((0, None));
            if range.is_some() {
                *res.status_mut() = StatusCode::PARTIAL_CONTENT;
                let last = end.map_or(OPEN_END, |e| e - 1);
                let cr = HeaderValue::from_str(&format!("bytes {start}-{last}/*")).expect("digits");
                res.headers_mut().insert(CONTENT_RANGE, cr);
                if let Some(end) = end {
                    res.headers_mut()
                        .insert(CONTENT_LENGTH, HeaderValue::from(end - start));
                }
            }
            *res.body_mut() = body::growing(live, start, end, config.block_size);
        }
    }
    Ok(res)
}

/// Headers that describe the representation, 304 included: validators,
/// `Cache-Control`, `Vary`.
fn validators(h: &mut HeaderMap, rep: &Representation) {
    if let Some(tag) = &rep.validators.etag {
        h.insert(ETAG, tag.header());
    }
    if let Some(lm) = rep.validators.last_modified {
        h.insert(LAST_MODIFIED, date(lm));
    }
    // An LL-DASH origin needs it at the live edge too: CDNs and players
    // cache what they get there.
    if let Some(cc) = &rep.cache {
        crate::cache::set(h, cc.clone());
    }
    if rep.varies {
        // RFC 9110 §12.5.5: the representation depends on Accept-Encoding.
        h.insert(VARY, HeaderValue::from_static("Accept-Encoding"));
    }
}

/// Headers of a response that carries content: `Accept-Ranges`,
/// `Content-Type`, `Content-Encoding`.
fn content(config: &StaticConfig, h: &mut HeaderMap, rep: &Representation) {
    h.insert(
        ACCEPT_RANGES,
        HeaderValue::from_static(if config.norange { "none" } else { "bytes" }),
    );
    h.insert(CONTENT_TYPE, rep.content_type.clone());
    if let Some(coding) = rep.coding {
        h.insert(CONTENT_ENCODING, HeaderValue::from_static(coding.token()));
    }
}

/// The status and body of a complete file's response.
fn file_part(
    config: &StaticConfig,
    res: &mut Response<Body>,
    rep: &Representation,
    file: Box<OpenFile>,
    part: Part,
) {
    let (file, block) = (*file, config.block_size);
    match part {
        Part::Whole { len } => match file.content {
            Some(bytes) => with_body(res, bytes),
            None => send_pieces(res, file, vec![Piece::File { offset: 0, len }], block),
        },
        Part::OnTheFly(coding) => {
            *res.body_mut() = match file.content {
                Some(bytes) => body::compressed_bytes(bytes, coding),
                None => body::compressed(file.file, coding, block),
            };
        }
        Part::Range { range, size } => {
            *res.status_mut() = StatusCode::PARTIAL_CONTENT;
            res.headers_mut()
                .insert(CONTENT_RANGE, content_range(&range, size));
            let piece = Piece::File {
                offset: range.start,
                len: range.end - range.start,
            };
            send_pieces(res, file, vec![piece], block);
        }
        Part::Ranges { ranges, size } => {
            *res.status_mut() = StatusCode::PARTIAL_CONTENT;
            let boundary = boundary();
            let ct = format!("multipart/byteranges; boundary={boundary}");
            res.headers_mut()
                .insert(CONTENT_TYPE, HeaderValue::from_str(&ct).expect("ascii"));
            let pieces = multipart_pieces(&ranges, size, &rep.content_type, &boundary);
            send_pieces(res, file, pieces, block);
        }
    }
}

/// A listing as HTML or JSON (by `Accept`), with `Vary: Accept`.
fn listing(config: &StaticConfig, res: &mut Response<Body>, l: &Listing) {
    let (text, content_type) = if l.json {
        (listing::json(&l.title, &l.entries), "application/json")
    } else {
        (
            listing::html(
                &l.title,
                &l.entries,
                l.parent,
                l.upload_form.then_some(config.uploads_path.as_str()),
            ),
            "text/html; charset=utf-8",
        )
    };
    let h = res.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(VARY, HeaderValue::from_static("Accept"));
    if l.cache_control {
        config.set_cache_control(h);
    }
    with_body(res, Bytes::from(text));
}

/// `pieces` of the file as the body, from memory when the file was read
/// whole at open time. A single file range is also marked as a
/// [`FileRegion`]: the engine may send it with `sendfile` on HTTP/1.1.
fn send_pieces(res: &mut Response<Body>, file: OpenFile, pieces: Vec<Piece>, block: usize) {
    let total: u64 = pieces.iter().map(Piece::len).sum();
    empty_length(res, total);
    *res.body_mut() = match &file.content {
        Some(bytes) => {
            let mut out = Vec::with_capacity(total as usize);
            for p in &pieces {
                match p {
                    Piece::Bytes(b) => out.extend_from_slice(b),
                    Piece::File { offset, len } => {
                        out.extend_from_slice(&bytes[*offset as usize..(*offset + *len) as usize]);
                    }
                }
            }
            Body::full(out)
        }
        None => {
            let file = Arc::new(file.file);
            if let [Piece::File { offset, len }] = pieces[..] {
                res.extensions_mut().insert(FileRegion {
                    file: Arc::clone(&file),
                    offset,
                    len,
                });
            }
            body::pieces(file, pieces, block)
        }
    };
}

/// Bytes already in memory as the body.
fn with_body(res: &mut Response<Body>, bytes: Bytes) {
    empty_length(res, bytes.len() as u64);
    *res.body_mut() = Body::full(bytes);
}

/// An empty representation says so: `Content-Length: 0` (for a HEAD too,
/// where the engine gives only non-zero lengths: an empty body there may
/// stand for one of unknown length).
fn empty_length(res: &mut Response<Body>, len: u64) {
    if len == 0 {
        res.headers_mut()
            .insert(CONTENT_LENGTH, HeaderValue::from(0u64));
    }
}

/// The parts of a `multipart/byteranges` body, RFC 9110 §14.6.
fn multipart_pieces(
    ranges: &[Range<u64>],
    size: u64,
    content_type: &HeaderValue,
    boundary: &str,
) -> Vec<Piece> {
    let ct = content_type.to_str().unwrap_or("application/octet-stream");
    let mut pieces = Vec::with_capacity(ranges.len() * 2 + 1);
    for r in ranges {
        let head = format!(
            "\r\n--{boundary}\r\nContent-Type: {ct}\r\nContent-Range: bytes {}-{}/{size}\r\n\r\n",
            r.start,
            r.end - 1
        );
        pieces.push(Piece::Bytes(Bytes::from(head)));
        pieces.push(Piece::File {
            offset: r.start,
            len: r.end - r.start,
        });
    }
    pieces.push(Piece::Bytes(Bytes::from(format!("\r\n--{boundary}--\r\n"))));
    pieces
}

fn content_range(r: &Range<u64>, size: u64) -> HeaderValue {
    HeaderValue::from_str(&format!("bytes {}-{}/{size}", r.start, r.end - 1)).expect("digits")
}

/// An HTTP date; a time in the future is sent as now (RFC 9110 §8.8.2.1).
fn date(t: std::time::SystemTime) -> HeaderValue {
    let t = t.min(std::time::SystemTime::now());
    HeaderValue::from_str(&httpdate::fmt_http_date(t)).expect("http dates are ASCII")
}

/// A multipart boundary unlikely to occur in any file: time and a counter.
fn boundary() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    format!("httpout-{t:016x}{n:08x}")
}

//! GET and HEAD over a read directory.
//!
//! The pipeline, top to bottom ([`get`]):
//! 0. a dotfile (without `hidden`) is 404 (`crate::hidden`);
//! 1. find the path in the root (one blocking trip: resolve, containment,
//!    stat, open, and the read itself for small files);
//! 2. a directory: `/dir` → 301 `/dir/`; an index file; a listing (`dlist`)
//!    or 403;
//! 3. a file: choose the representation — identity, a precompressed sibling
//!    (`file.br`, `.zst`, `.gz`, not older than the file), or compressed on
//!    the fly (text types up to `zmax` bytes) — never for range requests;
//! 4. preconditions (RFC 9110 §13.2.2) against that representation: 304/412;
//! 5. ranges for identity ([`range::decide`]): 200, 206, multipart 206, 416;
//! 6. build the one response ([`respond`]).

pub(crate) mod body;
pub(crate) mod conditional;
pub(crate) mod encoding;
pub(crate) mod growing;
pub(crate) mod listing;
pub(crate) mod range;

use std::ops::Range;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use http::header::{
    ACCEPT_RANGES, CONTENT_ENCODING, CONTENT_LENGTH, CONTENT_RANGE, CONTENT_TYPE, ETAG,
    LAST_MODIFIED, LOCATION, RANGE, VARY,
};
use http::request::Parts;
use http::{HeaderValue, Method, Response, StatusCode};
use httpout_core::{Body, Ctx, Error};
use httpout_store::{DiskRoot, Found, OpenFile};
use percent_encoding::utf8_percent_encode;

use crate::error::store_error;
use crate::mime;
use crate::site::Site;
use conditional::{ETag, Precondition, Validators};
use encoding::Coding;
use range::RangeDecision;

/// Index files served for a directory URL, in order.
const INDEX_FILES: [&str; 2] = ["index.html", "index.htm"];

/// Answers a GET or HEAD.
pub(crate) async fn get(site: &Site, req: &Parts, ctx: &Ctx) -> Result<Response<Body>, Error> {
    // Dotfiles are absent, also at the live edge and as directories.
    if !site.config.hidden && crate::hidden::hides(ctx.path.segments()) {
        return Err(Error::NotFound);
    }
    let name = ctx.path.segments().last().map_or("", String::as_str);
    let target = || {
        let rel: std::path::PathBuf = ctx.path.segments().iter().collect();
        site.root.path().join(rel)
    };
    // Most GETs find nothing being written: no path built, no lock taken.
    if !site.config.live.is_empty() {
        if let Some(live) = site.config.live.get(&target()) {
            return Ok(growing::respond(site, req, live, name));
        }
    }
    let found = match site.root.find(ctx.path.segments(), site.small_file()) {
        Err(httpout_store::StoreError::NotFound) if !site.config.wait_new.is_zero() => {
            // The next segment of a live stream may be asked for early.
            match site
                .config
                .live
                .wait_for(&target(), site.config.wait_new)
                .await
            {
                Some(live) => return Ok(growing::respond(site, req, live, name)),
                None => site.root.find(ctx.path.segments(), site.small_file()),
            }
        }
        other => other,
    }
    .map_err(store_error)?;
    match found {
        Found::Dir { rel, .. } => directory(site, req, ctx, &rel).await,
        Found::File(_) if req.uri.path().ends_with('/') => Err(Error::NotFound),
        Found::File(file) => serve_file(site, req, file),
    }
}

/// A directory: redirect to the slash form, an index file, or a listing.
async fn directory(
    site: &Site,
    req: &Parts,
    ctx: &Ctx,
    dir: &Path,
) -> Result<Response<Body>, Error> {
    let url_path = full_path(ctx);
    if !req.uri.path().ends_with('/') {
        return Ok(redirect_to_slash(&url_path, req.uri.query()));
    }
    for name in INDEX_FILES {
        if let Some(file) = site
            .root
            .find_file_in(dir, name, site.small_file())
            .map_err(store_error)?
        {
            return serve_file(site, req, file);
        }
    }
    if !site.config.dlist {
        return Err(Error::Forbidden("directory listing is disabled".into()));
    }
    let mut entries = site.root.list(dir).await.map_err(store_error)?;
    if !site.config.hidden {
        entries.retain(|e| !crate::hidden::is_hidden(&e.name));
    }
    listing::sort(&mut entries);
    let title = format!("{}/", url_path.trim_end_matches('/'));
    Ok(listing_response(
        req,
        &title,
        &entries,
        title != "/",
        site.upload_form,
    ))
}

/// A listing as HTML or JSON (by `Accept`), with `Vary: Accept`.
pub(crate) fn listing_response(
    req: &Parts,
    title: &str,
    entries: &[httpout_store::DirEntryInfo],
    parent: bool,
    upload_form: bool,
) -> Response<Body> {
    let (text, content_type) = if listing::wants_json(&req.headers) {
        (listing::json(title, entries), "application/json")
    } else {
        (
            listing::html(title, entries, parent, upload_form),
            "text/html; charset=utf-8",
        )
    };
    let mut res = Response::new(Body::empty());
    let h = res.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(VARY, HeaderValue::from_static("Accept"));
    with_body(&mut res, &req.method, Bytes::from(text));
    res
}

/// The request's decoded path including its mount, without trailing slash
/// (`/` for the root).
fn full_path(ctx: &Ctx) -> String {
    let mut s = String::new();
    for seg in ctx.mount.segments().iter().chain(ctx.path.segments()) {
        s.push('/');
        s.push_str(seg);
    }
    if s.is_empty() {
        s.push('/');
    }
    s
}

/// 301 to the same path with a trailing slash, re-encoded from the
/// normalised segments (never the raw target: `//evil.example` must not
/// become a protocol-relative `Location`).
fn redirect_to_slash(path: &str, query: Option<&str>) -> Response<Body> {
    let mut location = String::new();
    for seg in path.split('/').filter(|s| !s.is_empty()) {
        location.push('/');
        location.extend(utf8_percent_encode(seg, listing::SEGMENT));
    }
    location.push('/');
    if let Some(q) = query {
        location.push('?');
        location.push_str(q);
    }
    let mut res = Response::new(Body::empty());
    *res.status_mut() = StatusCode::MOVED_PERMANENTLY;
    if let Ok(v) = HeaderValue::from_str(&location) {
        res.headers_mut().insert(LOCATION, v);
    }
    res
}

/// Which bytes answer a file request.
enum Representation {
    /// The file as it is on disk.
    Identity,
    /// A precompressed sibling (`file.gz`...).
    Sibling(Coding, Box<OpenFile>),
    /// The file compressed while it is sent.
    OnTheFly(Coding),
}

/// A regular file: representation, preconditions, ranges, response.
fn serve_file(site: &Site, req: &Parts, file: OpenFile) -> Result<Response<Body>, Error> {
    let headers = &req.headers;
    // A file read at open time is what it was then, even if it was
    // truncated since the stat: its bytes decide the size.
    let size = file
        .content
        .as_ref()
        .map_or(file.meta.len(), |c| c.len() as u64);
    let name = file
        .rel
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let content_type = mime::content_type(&name);
    let compressible = mime::compressible(&content_type);
    let ranged = headers.contains_key(RANGE) && !site.config.norange;

    let rep = if compressible && !ranged {
        choose_coding(&site.root, site, req, &file, &name)?
    } else {
        Representation::Identity
    };
    let identity_tag = site.etags().then(|| ETag::from_meta(&file.meta));
    let validators = match &rep {
        Representation::Identity => Validators {
            etag: identity_tag,
            last_modified: file.meta.modified().ok(),
        },
        Representation::Sibling(coding, sib) => Validators {
            etag: site
                .etags()
                .then(|| ETag::from_meta(&sib.meta).for_coding(coding.token(), false)),
            last_modified: sib.meta.modified().ok(),
        },
        Representation::OnTheFly(coding) => Validators {
            etag: identity_tag.map(|t| t.for_coding(coding.token(), true)),
            last_modified: file.meta.modified().ok(),
        },
    };

    let mut res = Response::new(Body::empty());
    {
        let h = res.headers_mut();
        if let Some(tag) = &validators.etag {
            h.insert(ETAG, tag.header());
        }
        if let Some(lm) = validators.last_modified {
            h.insert(LAST_MODIFIED, date(lm));
        }
        site.config.set_cache_control(h);
        if compressible {
            // RFC 9110 §12.5.5: the representation depends on Accept-Encoding.
            h.insert(VARY, HeaderValue::from_static("Accept-Encoding"));
        }
    }
    match conditional::evaluate(&req.method, headers, &validators) {
        Precondition::Proceed => {}
        Precondition::NotModified => {
            *res.status_mut() = StatusCode::NOT_MODIFIED;
            return Ok(res);
        }
        Precondition::Failed => return Err(Error::PreconditionFailed),
    }
    res.headers_mut().insert(
        ACCEPT_RANGES,
        HeaderValue::from_static(if site.config.norange { "none" } else { "bytes" }),
    );

    match rep {
        Representation::Sibling(coding, sib) => {
            res.headers_mut().insert(CONTENT_TYPE, content_type);
            res.headers_mut()
                .insert(CONTENT_ENCODING, HeaderValue::from_static(coding.token()));
            let len = sib
                .content
                .as_ref()
                .map_or(sib.meta.len(), |c| c.len() as u64);
            send_whole(&mut res, &req.method, *sib, len, site.block());
            Ok(res)
        }
        Representation::OnTheFly(coding) => {
            res.headers_mut().insert(CONTENT_TYPE, content_type);
            res.headers_mut()
                .insert(CONTENT_ENCODING, HeaderValue::from_static(coding.token()));
            if req.method != Method::HEAD {
                *res.body_mut() = match file.content {
                    Some(bytes) => body::compressed_bytes(bytes, coding),
                    None => body::compressed(file.file, coding, site.block()),
                };
            }
            Ok(res)
        }
        Representation::Identity => {
            let decision = if ranged && conditional::if_range_allows(headers, &validators) {
                range::decide(headers.get(RANGE), size)
            } else {
                RangeDecision::Full
            };
            match decision {
                RangeDecision::Full => {
                    res.headers_mut().insert(CONTENT_TYPE, content_type);
                    send_whole(&mut res, &req.method, file, size, site.block());
                }
                RangeDecision::Single(r) => {
                    *res.status_mut() = StatusCode::PARTIAL_CONTENT;
                    res.headers_mut().insert(CONTENT_TYPE, content_type);
                    res.headers_mut()
                        .insert(CONTENT_RANGE, content_range(&r, size));
                    let len = r.end - r.start;
                    send_ranges(
                        &mut res,
                        &req.method,
                        file,
                        vec![body::Piece::File {
                            offset: r.start,
                            len,
                        }],
                        site.block(),
                    );
                }
                RangeDecision::Multi(ranges) => {
                    *res.status_mut() = StatusCode::PARTIAL_CONTENT;
                    let boundary = boundary();
                    let ct = format!("multipart/byteranges; boundary={boundary}");
                    res.headers_mut()
                        .insert(CONTENT_TYPE, HeaderValue::from_str(&ct).expect("ascii"));
                    let pieces = multipart_pieces(&ranges, size, &content_type, &boundary);
                    send_ranges(&mut res, &req.method, file, pieces, site.block());
                }
                RangeDecision::Unsatisfiable => return Err(Error::RangeNotSatisfiable { size }),
            }
            Ok(res)
        }
    }
}

/// Picks a precompressed sibling or on-the-fly coding the client accepts.
fn choose_coding(
    root: &DiskRoot,
    site: &Site,
    req: &Parts,
    file: &OpenFile,
    name: &str,
) -> Result<Representation, Error> {
    let accepted = encoding::accepted(&req.headers);
    let dir = file.rel.parent().unwrap_or(Path::new(""));
    let modified = file.meta.modified().ok();
    for coding in &accepted {
        let Some(suffix) = coding.sibling_suffix() else {
            continue;
        };
        let sibling = root
            .find_file_in(dir, &format!("{name}{suffix}"), site.small_file())
            .map_err(store_error)?;
        if let Some(sib) = sibling {
            if sib.meta.modified().ok() >= modified {
                return Ok(Representation::Sibling(*coding, Box::new(sib)));
            }
        }
    }
    let zmax = site.config.zmax;
    match accepted.first() {
        Some(coding) if zmax > 0 && file.meta.len() <= zmax => {
            Ok(Representation::OnTheFly(*coding))
        }
        _ => Ok(Representation::Identity),
    }
}

/// The whole file (`len` bytes) as the body; HEAD gets the length only.
fn send_whole(res: &mut Response<Body>, method: &Method, file: OpenFile, len: u64, block: usize) {
    match file.content {
        Some(bytes) => with_body(res, method, bytes),
        None => send_ranges(
            res,
            method,
            file,
            vec![body::Piece::File { offset: 0, len }],
            block,
        ),
    }
}

/// `pieces` of the file as the body, from memory when the file was read
/// whole at open time.
fn send_ranges(
    res: &mut Response<Body>,
    method: &Method,
    file: OpenFile,
    pieces: Vec<body::Piece>,
    block: usize,
) {
    let total: u64 = pieces.iter().map(body::Piece::len).sum();
    if method == Method::HEAD {
        res.headers_mut()
            .insert(CONTENT_LENGTH, HeaderValue::from(total));
        return;
    }
    *res.body_mut() = match &file.content {
        Some(bytes) => {
            let mut out = Vec::with_capacity(total as usize);
            for p in &pieces {
                match p {
                    body::Piece::Bytes(b) => out.extend_from_slice(b),
                    body::Piece::File { offset, len } => {
                        out.extend_from_slice(&bytes[*offset as usize..(*offset + *len) as usize]);
                    }
                }
            }
            Body::full(out)
        }
        None => body::pieces(file.file, pieces, block),
    };
}

/// Bytes already in memory as the body; HEAD gets the length only.
fn with_body(res: &mut Response<Body>, method: &Method, bytes: Bytes) {
    if method == Method::HEAD {
        res.headers_mut()
            .insert(CONTENT_LENGTH, HeaderValue::from(bytes.len()));
    } else {
        *res.body_mut() = Body::full(bytes);
    }
}

/// The parts of a `multipart/byteranges` body, RFC 9110 §14.6.
fn multipart_pieces(
    ranges: &[Range<u64>],
    size: u64,
    content_type: &HeaderValue,
    boundary: &str,
) -> Vec<body::Piece> {
    let ct = content_type.to_str().unwrap_or("application/octet-stream");
    let mut pieces = Vec::with_capacity(ranges.len() * 2 + 1);
    for r in ranges {
        let head = format!(
            "\r\n--{boundary}\r\nContent-Type: {ct}\r\nContent-Range: bytes {}-{}/{size}\r\n\r\n",
            r.start,
            r.end - 1
        );
        pieces.push(body::Piece::Bytes(Bytes::from(head)));
        pieces.push(body::Piece::File {
            offset: r.start,
            len: r.end - r.start,
        });
    }
    pieces.push(body::Piece::Bytes(Bytes::from(format!(
        "\r\n--{boundary}--\r\n"
    ))));
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

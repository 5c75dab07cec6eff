//! The IETF protocol: draft-ietf-httpbis-resumable-upload, as its text
//! stood at interop version 9 (the working group's copy of July 2026,
//! published as -12; see docs/modes/static.md for what of -13 to -15
//! could not be checked), and still interop version 6 (draft -05) for the
//! clients that send `Upload-Draft-Interop-Version: 6` ([`Dialect`]).
//!
//! - Creation: a PUT or POST to the target's URL (under the write
//!   directory) with `Upload-Complete` (a structured boolean, `?0`/`?1`).
//!   hyper's server cannot send the `104 Upload Resumption Supported`
//!   interim response (it sends no 1xx but `100 Continue`), so the upload
//!   resource (`Location`, and httpout's `Upload-Id`) is in the final
//!   response: `201` when the upload is not complete yet (`Upload-Complete:
//!   ?0`, `Upload-Limit`), `201`/`204` (new/replaced file,
//!   `Content-Location` its URL, `Upload-Complete: ?1`) when complete. A
//!   client that wants to survive an interruption of the first request
//!   creates with `Upload-Complete: ?0` and an empty body (or gets an id
//!   first with `POST /.uploads/`), then appends.
//! - Offset retrieval: HEAD on the upload resource: `204`, `Upload-Offset`,
//!   `Upload-Complete`, `Upload-Length` when known, `Upload-Limit`
//!   (`max-size`, and `max-age`: what is left of its `resume_ttl`),
//!   `Cache-Control: no-store`. GET (the uploads registry's progress JSON)
//!   carries the same headers, without waiting for an append to end.
//! - Append: PATCH with `Content-Type: application/partial-upload`,
//!   `Upload-Offset`, `Upload-Complete`: `204` with `Upload-Complete` and
//!   the new offset; a wrong offset is `409` with the problem type
//!   `mismatching-upload-offset` (and `Upload-Offset`), lengths that
//!   disagree `400` with `inconsistent-upload-length`, a body over
//!   `maxs` `413` with `Upload-Limit`; every such refusal says
//!   `Upload-Complete: ?0` (the upload resource answers, not the target).
//!   An append to an upload already complete: the final answer again
//!   (`204`, `Upload-Complete: ?1`) for an empty one that completes at
//!   its length, else `409`/`400` as above (interop 6: `400`
//!   `completed-upload`, the problem type -05 had).
//! - Cancellation: DELETE, `204`.
//! - Discovery: OPTIONS of a URL under the write directory (the engine
//!   answers, with [`limit_value`]) or of the uploads endpoint:
//!   `Upload-Limit`.
//!
//! The structured fields follow RFC 9651: a malformed `Upload-Length` is
//! ignored, a missing or malformed `Upload-Offset` or `Upload-Complete`
//! where one is required is `400`.

use std::time::Duration;

use http::header::{CACHE_CONTROL, CONTENT_LENGTH, CONTENT_LOCATION, CONTENT_TYPE, LOCATION};
use http::request::Parts;
use http::{HeaderMap, HeaderValue, Response, StatusCode};
use httpout_core::{Body, Error};

use super::headers::{
    INTEROP, UPLOAD_COMPLETE, UPLOAD_ID, UPLOAD_LENGTH, UPLOAD_LIMIT, UPLOAD_OFFSET,
};
use super::{Append, Appended, NewUpload, Protocol, ResumeError};
use crate::write::registry::Starting;
use crate::write::{Uploader, WriteSite};

/// The interop version of the newest draft text implemented.
pub(crate) const INTEROP_VERSION: &str = "9";

/// The interop version of draft -05, still answered in its own terms.
const INTEROP_05: &str = "6";

/// The media type of an append's body.
pub(crate) const PARTIAL_UPLOAD: &str = "application/partial-upload";

/// Which text of the draft a request follows, by its
/// `Upload-Draft-Interop-Version`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialect {
    /// Interop version 6 (draft -05): `Upload-Limit`'s lifetime is
    /// `expires`; an append to a complete upload is `400 completed-upload`.
    Draft05,
    /// Interop version 9, and any other version or none (the final RFC
    /// drops the header): `max-age`; no `completed-upload`.
    Current,
}

impl Dialect {
    /// The dialect of a request.
    pub(crate) fn of(headers: &HeaderMap) -> Self {
        match headers.get(INTEROP).and_then(|v| v.to_str().ok()) {
            Some(v) if v.trim() == INTEROP_05 => Self::Draft05,
            _ => Self::Current,
        }
    }

    /// Names the interop version answered, when the request named one.
    pub(crate) fn echo(self, req: &HeaderMap, res: &mut HeaderMap) {
        if req.contains_key(INTEROP) {
            let v = match self {
                Self::Draft05 => INTEROP_05,
                Self::Current => INTEROP_VERSION,
            };
            res.insert(INTEROP, HeaderValue::from_static(v));
        }
    }
}

/// Whether a PUT or POST asks to create a resumable upload.
pub(crate) fn is_creation(headers: &HeaderMap) -> bool {
    headers.contains_key(UPLOAD_COMPLETE) || headers.contains_key(INTEROP)
}

/// A structured-field boolean (`?0`, `?1`; parameters ignored).
fn boolean(headers: &HeaderMap, name: &http::HeaderName) -> Result<Option<bool>, ResumeError> {
    let Some(v) = headers.get(name) else {
        return Ok(None);
    };
    let bare = v
        .to_str()
        .unwrap_or_default()
        .split(';')
        .next()
        .unwrap_or_default()
        .trim();
    match bare {
        "?1" => Ok(Some(true)),
        "?0" => Ok(Some(false)),
        _ => Err(ResumeError::BadRequest(
            format!("{name} must be ?0 or ?1").into(),
        )),
    }
}

/// A structured-field integer (at most 15 digits, not negative here).
pub(crate) fn integer(
    headers: &HeaderMap,
    name: &http::HeaderName,
) -> Result<Option<u64>, ResumeError> {
    let Some(v) = headers.get(name) else {
        return Ok(None);
    };
    let t = v.to_str().unwrap_or_default().trim();
    if t.is_empty() || t.len() > 15 || !t.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ResumeError::BadRequest(
            format!("{name} must be a number of bytes").into(),
        ));
    }
    t.parse()
        .map(Some)
        .map_err(|_| ResumeError::BadRequest(format!("{name} must be a number of bytes").into()))
}

/// The media type of a request, without parameters, lower-cased.
pub(crate) fn media_type(headers: &HeaderMap) -> String {
    headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase()
}

/// `Upload-Length`; a malformed one is ignored (RFC 9651 and the draft).
fn upload_length(headers: &HeaderMap) -> Option<u64> {
    integer(headers, &UPLOAD_LENGTH).ok().flatten()
}

/// The body's declared length.
pub(crate) fn declared(headers: &HeaderMap) -> Result<Option<u64>, ResumeError> {
    integer(headers, &CONTENT_LENGTH)
        .map_err(|_| ResumeError::BadRequest("malformed Content-Length".into()))
}

/// A PATCH on the upload resource, read.
pub(crate) fn append(headers: &HeaderMap) -> Result<Append, ResumeError> {
    if media_type(headers) != PARTIAL_UPLOAD {
        return Err(ResumeError::MediaType {
            expected: PARTIAL_UPLOAD,
        });
    }
    Ok(Append {
        offset: integer(headers, &UPLOAD_OFFSET)?
            .ok_or(ResumeError::BadRequest("Upload-Offset is required".into()))?,
        complete: Some(
            boolean(headers, &UPLOAD_COMPLETE)?.ok_or(ResumeError::BadRequest(
                "Upload-Complete is required".into(),
            ))?,
        ),
        length: upload_length(headers),
        declared: declared(headers)?,
        checksum: None,
    })
}

/// `Upload-Limit`: the largest upload and how long the upload resource
/// is kept from now (`max-age`; `expires` for interop version 6).
pub(crate) fn limits(headers: &mut HeaderMap, max_size: u64, left: Duration, dialect: Dialect) {
    let age = match dialect {
        Dialect::Draft05 => "expires",
        Dialect::Current => "max-age",
    };
    let value = format!("max-size={max_size}, {age}={}", left.as_secs());
    if let Ok(v) = HeaderValue::from_str(&value) {
        headers.insert(UPLOAD_LIMIT, v);
    }
}

/// The current text's `Upload-Limit` value, for `OPTIONS` of a target URL.
pub(crate) fn limit_value(max_size: u64, ttl: Duration) -> HeaderValue {
    let mut h = HeaderMap::new();
    limits(&mut h, max_size, ttl, Dialect::Current);
    h.remove(UPLOAD_LIMIT)
        .unwrap_or(HeaderValue::from_static("min-size=0"))
}

fn complete_value(complete: bool) -> HeaderValue {
    HeaderValue::from_static(if complete { "?1" } else { "?0" })
}

/// Where an upload stands, as HEAD tells it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Standing {
    /// Bytes on disk.
    pub(crate) offset: u64,
    /// The final length, when known.
    pub(crate) length: Option<u64>,
    /// Whether it completed (its file is in place).
    pub(crate) complete: bool,
    /// How long the upload resource is kept from now.
    pub(crate) left: Duration,
}

/// The answer to HEAD on an upload resource.
pub(crate) fn head(at: Standing, max_size: u64, req: &HeaderMap) -> Response<Body> {
    let mut res = Response::new(Body::empty());
    *res.status_mut() = StatusCode::NO_CONTENT;
    standing(at, max_size, req, res.headers_mut());
    res
}

/// The headers of an offset retrieval (HEAD, or GET, which the uploads
/// registry answers with its JSON).
pub(crate) fn standing(at: Standing, max_size: u64, req: &HeaderMap, h: &mut HeaderMap) {
    let dialect = Dialect::of(req);
    h.insert(UPLOAD_OFFSET, HeaderValue::from(at.offset));
    h.insert(UPLOAD_COMPLETE, complete_value(at.complete));
    if let Some(l) = at.length {
        h.insert(UPLOAD_LENGTH, HeaderValue::from(l));
    }
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    limits(h, max_size, at.left, dialect);
    dialect.echo(req, h);
}

/// The answer to a PATCH that went well.
pub(crate) fn appended(done: Appended, req: &HeaderMap) -> Response<Body> {
    let mut res = Response::new(Body::empty());
    *res.status_mut() = StatusCode::NO_CONTENT;
    let h = res.headers_mut();
    h.insert(UPLOAD_OFFSET, HeaderValue::from(done.offset));
    h.insert(UPLOAD_COMPLETE, complete_value(done.done.is_some()));
    Dialect::of(req).echo(req, h);
    res
}

/// A PATCH (at `offset`, `Upload-Complete` `complete`, its body `empty`
/// or not) to an upload that completed (its file of `length` bytes is in
/// place). Interop 6: `completed-upload`. Else an empty append completing
/// at `length` (a client whose final answer was lost) gets it again; one
/// at another offset is a mismatch, one with bytes or `Upload-Complete:
/// ?0` an inconsistent length.
pub(crate) fn after_completion(
    offset: u64,
    complete: Option<bool>,
    empty: bool,
    length: u64,
    req: &HeaderMap,
) -> Result<Response<Body>, ResumeError> {
    if Dialect::of(req) == Dialect::Draft05 {
        return Err(ResumeError::Completed { length });
    }
    if offset != length {
        return Err(ResumeError::OffsetMismatch {
            expected: length,
            provided: offset,
        });
    }
    if !empty || complete != Some(true) {
        return Err(ResumeError::InconsistentLength(
            format!("the upload completed at {length} bytes").into(),
        ));
    }
    Ok(appended(
        Appended {
            offset: length,
            done: Some(true),
        },
        req,
    ))
}

/// A PUT or POST to `segments` (a file under the write directory) that
/// creates a resumable upload; its body is the first append.
pub(crate) async fn create(
    site: &WriteSite,
    req: &Parts,
    body: Body,
    segments: &[String],
    who: Uploader<'_>,
) -> Result<Response<Body>, Error> {
    match create_inner(site, req, body, segments, who).await {
        Ok(res) => Ok(res),
        Err((e, location)) => {
            let mut res = e.respond(Protocol::Ietf)?;
            if let Some((loc, id)) = location {
                add_location(res.headers_mut(), &loc, &id);
            }
            Ok(res)
        }
    }
}

type Located = Option<(String, String)>;

async fn create_inner(
    site: &WriteSite,
    req: &Parts,
    body: Body,
    segments: &[String],
    who: Uploader<'_>,
) -> Result<Response<Body>, (ResumeError, Located)> {
    let h = &req.headers;
    let complete = boolean(h, &UPLOAD_COMPLETE)
        .and_then(|c| {
            c.ok_or(ResumeError::BadRequest(
                "Upload-Complete is required".into(),
            ))
        })
        .map_err(|e| (e, None))?;
    if integer(h, &UPLOAD_OFFSET)
        .map_err(|e| (e, None))?
        .is_some_and(|o| o != 0)
    {
        return Err((
            ResumeError::BadRequest("a creation starts at Upload-Offset 0".into()),
            None,
        ));
    }
    let length = upload_length(h);
    let declared = declared(h).map_err(|e| (e, None))?;
    if let (true, Some(n), Some(l)) = (complete, declared, length) {
        if n != l {
            return Err((
                ResumeError::InconsistentLength("Upload-Length and Content-Length differ".into()),
                None,
            ));
        }
    }
    let length = length.or(if complete { declared } else { None });
    let (dirs, name) = segments.split_at(segments.len() - 1);
    // An expected upload: the id it names, checked against what is expected.
    let claim = site
        .uploads
        .start_resumable(
            site.root.path(),
            Starting {
                named: crate::write::registry::named_id(req).as_deref(),
                path: who.url_path,
                in_root: &crate::write::in_root(segments),
                user: who.user,
                length,
                content_type: h.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()),
            },
        )
        .map_err(|e| (e.into(), None))?;
    let registry = &site.resumable;
    let up = registry
        .create(
            site,
            NewUpload {
                dirs: dirs.to_vec(),
                name: name[0].clone(),
                url: crate::write::url_of(segments),
                length,
                protocol: Protocol::Ietf,
                metadata: None,
                user: who.user.map(str::to_owned),
                claim,
            },
        )
        .map_err(|e| (e, None))?;
    let id = up.record().id;
    let (loc, id) = (registry.location(id), id.to_string());
    let append = Append {
        offset: 0,
        complete: Some(complete),
        length,
        declared,
        checksum: None,
    };
    let done = registry
        .first_append(&up, append, body)
        .await
        .map_err(|e| (e, Some((loc.clone(), id.clone()))))?;
    let mut res = Response::new(Body::empty());
    let status = match done.done {
        None => StatusCode::CREATED,
        Some(false) => StatusCode::CREATED,
        Some(true) => StatusCode::NO_CONTENT,
    };
    *res.status_mut() = status;
    let h = res.headers_mut();
    add_location(h, &loc, &id);
    h.insert(UPLOAD_OFFSET, HeaderValue::from(done.offset));
    h.insert(UPLOAD_COMPLETE, complete_value(done.done.is_some()));
    let dialect = Dialect::of(&req.headers);
    dialect.echo(&req.headers, h);
    if done.done.is_some() {
        if let Ok(v) = HeaderValue::from_str(&up.record().url) {
            h.insert(CONTENT_LOCATION, v);
        }
    } else {
        limits(h, site.maxs, registry.ttl(), dialect);
    }
    Ok(res)
}

fn add_location(h: &mut HeaderMap, location: &str, id: &str) {
    if let Ok(v) = HeaderValue::from_str(location) {
        h.insert(LOCATION, v);
    }
    if let Ok(v) = HeaderValue::from_str(id) {
        h.insert(UPLOAD_ID, v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        pairs
            .iter()
            .map(|(k, v)| {
                (
                    http::HeaderName::from_static(k),
                    HeaderValue::from_static(v),
                )
            })
            .collect()
    }

    #[test]
    fn appends_need_the_media_type_offset_and_completeness() {
        let ok = headers(&[
            ("content-type", "application/partial-upload"),
            ("upload-offset", "5"),
            ("upload-complete", "?1"),
        ]);
        let a = append(&ok).unwrap();
        assert_eq!((a.offset, a.complete), (5, Some(true)));
        let status = |h: &HeaderMap| append(h).err().map(|e| e.status(Protocol::Ietf).as_u16());
        assert_eq!(
            status(&headers(&[
                ("upload-offset", "5"),
                ("upload-complete", "?1")
            ])),
            Some(415)
        );
        assert_eq!(
            status(&headers(&[
                ("content-type", "application/partial-upload"),
                ("upload-complete", "?1")
            ])),
            Some(400)
        );
        assert_eq!(
            status(&headers(&[
                ("content-type", "application/partial-upload"),
                ("upload-offset", "-1"),
                ("upload-complete", "?1")
            ])),
            Some(400)
        );
        assert_eq!(
            status(&headers(&[
                ("content-type", "application/partial-upload"),
                ("upload-offset", "1"),
                ("upload-complete", "true")
            ])),
            Some(400)
        );
    }

    #[test]
    fn the_interop_version_picks_the_text() {
        assert_eq!(Dialect::of(&headers(&[])), Dialect::Current);
        let six = headers(&[("upload-draft-interop-version", "6")]);
        assert_eq!(Dialect::of(&six), Dialect::Draft05);
        let nine = headers(&[("upload-draft-interop-version", "9")]);
        assert_eq!(Dialect::of(&nine), Dialect::Current);
        let mut res = HeaderMap::new();
        Dialect::Current.echo(&headers(&[]), &mut res);
        assert!(
            res.is_empty(),
            "no version named back to a client naming none"
        );
        Dialect::Current.echo(&nine, &mut res);
        assert_eq!(res[INTEROP], INTEROP_VERSION);
        let mut h = HeaderMap::new();
        limits(&mut h, 10, Duration::from_secs(5), Dialect::Current);
        assert_eq!(h[UPLOAD_LIMIT], "max-size=10, max-age=5");
        limits(&mut h, 10, Duration::from_secs(5), Dialect::Draft05);
        assert_eq!(h[UPLOAD_LIMIT], "max-size=10, expires=5");
    }

    #[test]
    fn appends_after_completion() {
        let current = headers(&[]);
        let status = |offset, complete, empty, req: &HeaderMap| match after_completion(
            offset, complete, empty, 9, req,
        ) {
            Ok(res) => res.status().as_u16(),
            Err(e) => e.status(Protocol::Ietf).as_u16(),
        };
        assert_eq!(
            status(9, Some(true), true, &current),
            204,
            "the final answer again"
        );
        assert_eq!(status(3, Some(true), true, &current), 409);
        assert_eq!(status(9, Some(true), false, &current), 400);
        assert_eq!(status(9, Some(false), true, &current), 400);
        let six = headers(&[("upload-draft-interop-version", "6")]);
        assert!(matches!(
            after_completion(9, Some(true), true, 9, &six),
            Err(ResumeError::Completed { length: 9 })
        ));
    }
}

//! The IETF protocol: draft-ietf-httpbis-resumable-upload-05, interop
//! version 6 (`Upload-Draft-Interop-Version: 6`; earlier interop versions
//! are not spoken).
//!
//! - Creation: a PUT or POST to the target's URL (under the write
//!   directory) with `Upload-Complete` (a structured boolean, `?0`/`?1`).
//!   hyper's server cannot send the `104 Upload Resumption Supported`
//!   interim response (it sends no 1xx but `100 Continue`), so the upload
//!   resource (`Location`, and httpout's `Upload-Id`) is in the final
//!   response: `201` when the upload is not complete yet (`Upload-Complete:
//!   ?0`), `201`/`204` (new/replaced file, `Content-Location` its URL) when
//!   complete. A client that wants to survive an interruption of the first
//!   request creates with `Upload-Complete: ?0` and a short or empty body,
//!   then appends.
//! - Offset retrieval: HEAD on the upload resource: `204`, `Upload-Offset`,
//!   `Upload-Complete`, `Upload-Length` when known, `Upload-Limit`,
//!   `Cache-Control: no-store`.
//! - Append: PATCH with `Content-Type: application/partial-upload`,
//!   `Upload-Offset`, `Upload-Complete`: `204` with the new offset; a wrong
//!   offset is `409` with the problem type `mismatching-upload-offset`
//!   (and `Upload-Offset`), an append to a complete upload `400` with
//!   `completed-upload`, lengths that disagree `400` with
//!   `inconsistent-upload-length`.
//! - Cancellation: DELETE, `204`.

use std::time::Duration;

use http::header::{CACHE_CONTROL, CONTENT_LENGTH, CONTENT_LOCATION, CONTENT_TYPE, LOCATION};
use http::request::Parts;
use http::{HeaderMap, HeaderValue, Response, StatusCode};
use httpout_core::{Body, Error};

use super::headers::{
    INTEROP, UPLOAD_COMPLETE, UPLOAD_ID, UPLOAD_LENGTH, UPLOAD_LIMIT, UPLOAD_OFFSET,
};
use super::{Append, Appended, NewUpload, Protocol, ResumeError};
use crate::write::{Uploader, WriteSite};

/// The interop version of the draft implemented (-05), sent on the
/// answers to IETF requests.
pub(crate) const INTEROP_VERSION: &str = "6";

/// The media type of an append's body.
pub(crate) const PARTIAL_UPLOAD: &str = "application/partial-upload";

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
        length: integer(headers, &UPLOAD_LENGTH)?,
        declared: declared(headers)?,
        checksum: None,
    })
}

/// `Upload-Limit`: the largest upload and how long an idle one is kept.
pub(crate) fn limits(headers: &mut HeaderMap, max_size: u64, ttl: Duration) {
    let value = format!("max-size={max_size}, expires={}", ttl.as_secs());
    if let Ok(v) = HeaderValue::from_str(&value) {
        headers.insert(UPLOAD_LIMIT, v);
    }
}

fn complete_value(complete: bool) -> HeaderValue {
    HeaderValue::from_static(if complete { "?1" } else { "?0" })
}

/// The answer to HEAD on an upload resource.
pub(crate) fn head(
    offset: u64,
    length: Option<u64>,
    complete: bool,
    max_size: u64,
    ttl: Duration,
) -> Response<Body> {
    let mut res = Response::new(Body::empty());
    *res.status_mut() = StatusCode::NO_CONTENT;
    let h = res.headers_mut();
    h.insert(UPLOAD_OFFSET, HeaderValue::from(offset));
    h.insert(UPLOAD_COMPLETE, complete_value(complete));
    if let Some(l) = length {
        h.insert(UPLOAD_LENGTH, HeaderValue::from(l));
    }
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    limits(h, max_size, ttl);
    h.insert(INTEROP, HeaderValue::from_static(INTEROP_VERSION));
    res
}

/// The answer to a PATCH that went well.
pub(crate) fn appended(done: Appended) -> Response<Body> {
    let mut res = Response::new(Body::empty());
    *res.status_mut() = StatusCode::NO_CONTENT;
    let h = res.headers_mut();
    h.insert(UPLOAD_OFFSET, HeaderValue::from(done.offset));
    h.insert(UPLOAD_COMPLETE, complete_value(done.done.is_some()));
    res
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
    let length = integer(h, &UPLOAD_LENGTH).map_err(|e| (e, None))?;
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
            crate::write::registry::named_id(req).as_deref(),
            who.url_path,
            &crate::write::in_root(segments),
            who.user,
            length,
            h.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()),
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
    h.insert(INTEROP, HeaderValue::from_static(INTEROP_VERSION));
    if done.done.is_some() {
        if let Ok(v) = HeaderValue::from_str(&up.record().url) {
            h.insert(CONTENT_LOCATION, v);
        }
    } else {
        limits(h, site.maxs, registry.ttl());
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
}

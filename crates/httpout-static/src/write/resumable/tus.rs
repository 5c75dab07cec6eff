//! The tus 1.0.0 protocol: core, creation, termination and checksum
//! (sha1, sha256).
//!
//! - Creation: `POST` with `Tus-Resumable: 1.0.0` to a directory URL under
//!   the write directory; `Upload-Length` required (`Upload-Defer-Length`
//!   is not supported: 400), over `maxs` 413; the file's name is the
//!   `filename` entry of `Upload-Metadata` (base64), checked as the write
//!   path checks names. `201` with `Location: {uploads_path}ID`.
//! - HEAD: `200` with `Upload-Offset`, `Upload-Length`, `Upload-Metadata`,
//!   `Cache-Control: no-store`.
//! - PATCH: `Content-Type: application/offset+octet-stream` (else 415),
//!   `Upload-Offset` (409 when wrong), optional `Upload-Checksum` (460 on a
//!   mismatch, the body dropped whole): `204` with the new offset.
//! - DELETE: `204`. OPTIONS: the versions, extensions, `Tus-Max-Size` and
//!   checksum algorithms.
//!
//! Every answer carries `Tus-Resumable: 1.0.0`; a request naming another
//! version is 412 with `Tus-Version`.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use http::header::{
    ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS, ACCESS_CONTROL_MAX_AGE,
    ACCESS_CONTROL_REQUEST_HEADERS, ACCESS_CONTROL_REQUEST_METHOD, ALLOW, CACHE_CONTROL, LOCATION,
};
use http::request::Parts;
use http::{HeaderMap, HeaderValue, Response, StatusCode};
use httpout_core::{Body, Error};
use sha1::Digest;

use super::headers::{
    TUS_CHECKSUM_ALGORITHM, TUS_EXTENSION, TUS_MAX_SIZE, TUS_RESUMABLE, TUS_VERSION,
    UPLOAD_CHECKSUM, UPLOAD_DEFER_LENGTH, UPLOAD_ID, UPLOAD_LENGTH, UPLOAD_METADATA, UPLOAD_OFFSET,
};
use super::ietf::{declared, integer, media_type};
use super::upload::Checksum;
use super::{Append, Appended, NewUpload, Protocol, ResumeError};
use crate::write::registry::Starting;
use crate::write::{Uploader, WriteSite};

/// The one version spoken.
pub(crate) const VERSION: &str = "1.0.0";

/// The extensions implemented.
pub(crate) const EXTENSIONS: &str = "creation,termination,checksum";

/// The checksum algorithms offered.
pub(crate) const ALGORITHMS: &str = "sha1,sha256";

/// The media type of a PATCH body.
pub(crate) const OFFSET_OCTET_STREAM: &str = "application/offset+octet-stream";

/// Longest `Upload-Metadata` kept (it is stored in the state file).
const MAX_METADATA: usize = 4096;

/// Whether a request speaks tus (`Tus-Resumable` present); a version other
/// than 1.0.0 is [`ResumeError::TusVersion`].
pub(crate) fn requested(headers: &HeaderMap) -> Result<bool, ResumeError> {
    match headers.get(TUS_RESUMABLE) {
        None => Ok(false),
        Some(v) if v.as_bytes() == VERSION.as_bytes() => Ok(true),
        Some(_) => Err(ResumeError::TusVersion),
    }
}

/// Adds `Tus-Resumable` to an answer (and `Tus-Version` to a 412).
pub(crate) fn finish(res: Result<Response<Body>, Error>) -> Result<Response<Body>, Error> {
    let mut res = res?;
    let h = res.headers_mut();
    h.insert(TUS_RESUMABLE, HeaderValue::from_static(VERSION));
    if res.status() == StatusCode::PRECONDITION_FAILED {
        res.headers_mut()
            .insert(TUS_VERSION, HeaderValue::from_static(VERSION));
    }
    Ok(res)
}

/// The answer to OPTIONS on the uploads endpoint (discovery), with the
/// CORS preflight's answers when it is one (`Access-Control-Allow-Origin`
/// comes from the server's CORS policy).
pub(crate) fn options(req: &Parts, max_size: u64) -> Response<Body> {
    let mut res = Response::new(Body::empty());
    *res.status_mut() = StatusCode::NO_CONTENT;
    let h = res.headers_mut();
    h.insert(TUS_RESUMABLE, HeaderValue::from_static(VERSION));
    h.insert(TUS_VERSION, HeaderValue::from_static(VERSION));
    h.insert(TUS_EXTENSION, HeaderValue::from_static(EXTENSIONS));
    h.insert(TUS_MAX_SIZE, HeaderValue::from(max_size));
    h.insert(TUS_CHECKSUM_ALGORITHM, HeaderValue::from_static(ALGORITHMS));
    let methods = HeaderValue::from_static("HEAD, PATCH, DELETE, OPTIONS");
    if req.headers.contains_key(ACCESS_CONTROL_REQUEST_METHOD) {
        h.insert(ACCESS_CONTROL_ALLOW_METHODS, methods.clone());
        if let Some(asked) = req.headers.get(ACCESS_CONTROL_REQUEST_HEADERS) {
            h.insert(ACCESS_CONTROL_ALLOW_HEADERS, asked.clone());
        }
        h.insert(ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static("86400"));
    }
    h.insert(ALLOW, methods);
    res
}

/// `Upload-Checksum: ALGORITHM BASE64`.
fn checksum(headers: &HeaderMap) -> Result<Option<Checksum>, ResumeError> {
    let Some(v) = headers.get(UPLOAD_CHECKSUM) else {
        return Ok(None);
    };
    let bad = || ResumeError::BadRequest("Upload-Checksum must be `ALGORITHM BASE64`".into());
    let (alg, digest) = v
        .to_str()
        .map_err(|_| bad())?
        .trim()
        .split_once(' ')
        .ok_or_else(bad)?;
    let digest = STANDARD.decode(digest.trim()).map_err(|_| bad())?;
    match alg.to_ascii_lowercase().as_str() {
        "sha1" => Ok(Some(Checksum::Sha1(sha1::Sha1::new(), digest))),
        "sha256" => Ok(Some(Checksum::Sha256(sha2::Sha256::new(), digest))),
        _ => Err(ResumeError::ChecksumAlgorithm),
    }
}

/// A PATCH, read.
pub(crate) fn append(headers: &HeaderMap) -> Result<Append, ResumeError> {
    if media_type(headers) != OFFSET_OCTET_STREAM {
        return Err(ResumeError::MediaType {
            expected: OFFSET_OCTET_STREAM,
        });
    }
    Ok(Append {
        offset: integer(headers, &UPLOAD_OFFSET)?
            .ok_or(ResumeError::BadRequest("Upload-Offset is required".into()))?,
        complete: None,
        length: None,
        declared: declared(headers)?,
        checksum: checksum(headers)?,
    })
}

/// The answer to HEAD.
pub(crate) fn head(offset: u64, length: Option<u64>, metadata: Option<&str>) -> Response<Body> {
    let mut res = Response::new(Body::empty());
    let h = res.headers_mut();
    h.insert(UPLOAD_OFFSET, HeaderValue::from(offset));
    if let Some(l) = length {
        h.insert(UPLOAD_LENGTH, HeaderValue::from(l));
    }
    if let Some(v) = metadata.and_then(|m| HeaderValue::from_str(m).ok()) {
        h.insert(UPLOAD_METADATA, v);
    }
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

/// The answer to a PATCH that went well.
pub(crate) fn appended(done: Appended) -> Response<Body> {
    let mut res = Response::new(Body::empty());
    *res.status_mut() = StatusCode::NO_CONTENT;
    res.headers_mut()
        .insert(UPLOAD_OFFSET, HeaderValue::from(done.offset));
    res
}

/// The `filename` entry of `Upload-Metadata` (`KEY BASE64` pairs, comma
/// separated; a key alone has an empty value).
pub(crate) fn filename(metadata: &str) -> Result<Option<String>, ResumeError> {
    metadata_value(metadata, "filename")
}

/// The UTF-8 value of `key` in `Upload-Metadata` (pairs of a key and a
/// base64 value, comma-separated).
fn metadata_value(metadata: &str, key: &str) -> Result<Option<String>, ResumeError> {
    for pair in metadata.split(',') {
        let mut it = pair.trim().splitn(2, ' ');
        if it.next().unwrap_or_default() != key {
            continue;
        }
        let value = STANDARD
            .decode(it.next().unwrap_or_default().trim())
            .ok()
            .and_then(|v| String::from_utf8(v).ok())
            .ok_or_else(|| {
                ResumeError::BadRequest(
                    format!("Upload-Metadata: {key} must be base64 of UTF-8").into(),
                )
            })?;
        return Ok(Some(value));
    }
    Ok(None)
}

/// A name the write path would write: one segment, not `.`/`..`, no
/// control character, at most 255 bytes (dotfiles and reserved names are
/// refused by the caller, as for any upload).
fn usable(name: &str) -> Result<(), ResumeError> {
    let ok = !name.is_empty()
        && name != "."
        && name != ".."
        && name.len() <= crate::write::NAME_MAX
        && !name.contains(['/', '\\'])
        && !name.chars().any(char::is_control);
    if ok {
        Ok(())
    } else {
        Err(ResumeError::BadRequest(
            format!("unusable file name {name:?}").into(),
        ))
    }
}

/// A tus creation: `POST` to the directory `dir` (segments below the
/// write root, as the URL names them).
pub(crate) async fn create(
    site: &WriteSite,
    req: &Parts,
    body: Body,
    dir: &[String],
    who: Uploader<'_>,
) -> Result<Response<Body>, Error> {
    let res = match create_inner(site, req, body, dir, who).await {
        Ok(res) => Ok(res),
        Err(Creation::Refused(e)) => e.respond(Protocol::Tus),
        Err(Creation::Write(e)) => crate::error::respond(Err(e)),
    };
    finish(res)
}

enum Creation {
    Refused(ResumeError),
    Write(Error),
}

impl From<ResumeError> for Creation {
    fn from(e: ResumeError) -> Self {
        Self::Refused(e)
    }
}

async fn create_inner(
    site: &WriteSite,
    req: &Parts,
    body: Body,
    dir: &[String],
    who: Uploader<'_>,
) -> Result<Response<Body>, Creation> {
    let h = &req.headers;
    requested(h)?;
    if h.contains_key(UPLOAD_DEFER_LENGTH) {
        return Err(ResumeError::BadRequest(
            "Upload-Defer-Length is not supported: give Upload-Length".into(),
        )
        .into());
    }
    let length = integer(h, &UPLOAD_LENGTH)?
        .ok_or(ResumeError::BadRequest("Upload-Length is required".into()))?;
    if length > site.maxs {
        return Err(ResumeError::TooLarge { limit: site.maxs }.into());
    }
    let metadata = h
        .get(UPLOAD_METADATA)
        .map(|v| v.to_str().map(str::to_owned))
        .transpose()
        .map_err(|_| ResumeError::BadRequest("Upload-Metadata must be ASCII".into()))?;
    if metadata.as_ref().is_some_and(|m| m.len() > MAX_METADATA) {
        return Err(ResumeError::BadRequest(
            format!("Upload-Metadata is limited to {MAX_METADATA} bytes").into(),
        )
        .into());
    }
    let name = filename(metadata.as_deref().unwrap_or_default())?.ok_or(
        ResumeError::BadRequest("Upload-Metadata must name the file (filename)".into()),
    )?;
    usable(&name)?;
    let mut segments = dir.to_vec();
    segments.push(name.clone());
    crate::write::reserved(site, &segments).map_err(Creation::Write)?;
    crate::write::check_path(site, &segments, dir.len()).map_err(Creation::Write)?;
    let with_body = media_type(h) == OFFSET_OCTET_STREAM;
    let declared = declared(h)?;
    if !with_body && declared.unwrap_or(0) > 0 {
        return Err(ResumeError::MediaType {
            expected: OFFSET_OCTET_STREAM,
        }
        .into());
    }
    // An expected upload: the id it names, checked against what is expected.
    let metadata_text = metadata.as_deref().unwrap_or_default();
    let claim = site
        .uploads
        .start_resumable(
            site.root.path(),
            Starting {
                named: crate::write::registry::named_id(req).as_deref(),
                path: &format!("{}/{}", who.url_path.trim_end_matches('/'), name),
                in_root: &crate::write::in_root(&segments),
                user: who.user,
                length: Some(length),
                content_type: metadata_value(metadata_text, "filetype")?.as_deref(),
            },
        )
        .map_err(Creation::Write)?;
    let registry = &site.resumable;
    let up = registry.create(
        site,
        NewUpload {
            dirs: dir.to_vec(),
            name,
            url: crate::write::url_of(&segments),
            length: Some(length),
            protocol: Protocol::Tus,
            metadata,
            user: who.user.map(str::to_owned),
            claim,
        },
    )?;
    let id = up.record().id;
    let mut offset = 0;
    // An empty upload is complete at once; a body given with the creation
    // (creation-with-upload) is the first append.
    if with_body || length == 0 {
        let append = Append {
            offset: 0,
            complete: None,
            length: None,
            declared,
            checksum: checksum(h)?,
        };
        offset = registry.first_append(&up, append, body).await?.offset;
    }
    let mut res = Response::new(Body::empty());
    *res.status_mut() = StatusCode::CREATED;
    let h = res.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&registry.location(id)) {
        h.insert(LOCATION, v);
    }
    if let Ok(v) = HeaderValue::from_str(&id.to_string()) {
        h.insert(UPLOAD_ID, v);
    }
    if with_body {
        h.insert(UPLOAD_OFFSET, HeaderValue::from(offset));
    }
    Ok(res)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_names_the_file() {
        assert_eq!(
            filename("relativePath null,filename bW92aWUubXA0,filetype dmlkZW8vbXA0").unwrap(),
            Some("movie.mp4".into())
        );
        assert_eq!(filename("filetype dmlkZW8vbXA0").unwrap(), None);
        assert!(filename("filename !!!").is_err());
        assert!(usable("a/b").is_err());
        assert!(usable("..").is_err());
        assert!(usable(&"x".repeat(256)).is_err());
        assert!(usable("ok.bin").is_ok());
    }

    #[test]
    fn checksums_name_an_offered_algorithm() {
        let mut h = HeaderMap::new();
        h.insert(UPLOAD_CHECKSUM, HeaderValue::from_static("md5 AAAA"));
        assert!(matches!(checksum(&h), Err(ResumeError::ChecksumAlgorithm)));
        h.insert(
            UPLOAD_CHECKSUM,
            HeaderValue::from_static("sha1 qZk+NkcGgWq6PiVxeFDCbJzQ2J0="),
        );
        assert!(matches!(checksum(&h), Ok(Some(Checksum::Sha1(..)))));
    }
}

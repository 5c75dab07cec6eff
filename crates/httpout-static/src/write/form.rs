//! `multipart/form-data` uploads: what a browser form sends. Each file part
//! is streamed into the directory of the URL under its sanitised file name,
//! each through its own temporary file (atomic, like any upload). A part
//! named like a dotfile is refused (403) without `hidden`.
//! Parsing is core's [`Multipart`].
//!
//! Memory per form is bounded by a constant (issue 12 item 4): the parser
//! takes in at most [`FORM_HEAD_LIMIT`] bytes without handing anything out
//! (a part or a piece of one), so the preamble, a part's headers and the
//! boundary between two parts must fit (400 otherwise); part data is
//! handed out as it comes, and written to its temporary file at once. A
//! missing or invalid boundary is refused before any byte is read.

use http::header::{ACCEPT, CONTENT_TYPE, LOCATION};
use http::request::Parts;
use http::{HeaderMap, HeaderValue, Response, StatusCode};
use httpout_core::form::{Multipart, MultipartLimits};
use httpout_core::{Body, Error, Metrics};
use httpout_store::{Kind, TEMP_PREFIX};
use percent_encoding::utf8_percent_encode;
use std::io::Write;

use super::{WriteSite, io_error, write_error};
use crate::read::listing::SEGMENT;

/// Whether the request body is `multipart/form-data`.
pub(crate) fn is_form(headers: &HeaderMap) -> bool {
    headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| {
            ct.trim_start()
                .to_ascii_lowercase()
                .starts_with("multipart/form-data")
        })
}

/// Stores every file part of the form in the directory `dir`.
pub(crate) async fn upload(
    site: &WriteSite,
    req: &Parts,
    body: Body,
    dir: &[String],
    who: super::Uploader<'_>,
    metrics: &Metrics,
) -> Result<Response<Body>, Error> {
    let limits = MultipartLimits {
        max_body: site.maxs,
        max_part: u64::MAX,
        max_head: FORM_HEAD_LIMIT,
    };
    let mut form = Multipart::new(&req.headers, body, limits)?;
    let parent = site.root.dir(dir, true).map_err(write_error)?;
    let dir_path = site
        .root
        .path()
        .join(dir.iter().collect::<std::path::PathBuf>());
    let mut stored = Vec::new();
    let mut ids = Vec::new();
    // An id the request names is the first file's; the others get their
    // own (refused when ids are required: one expected upload per id).
    let mut named = super::registry::named_id(req);
    while let Some(mut field) = timed(site, form.next_part()).await?? {
        let Some(raw) = field.file_name() else {
            // Not a file: read through here (it counts against `maxs`),
            // each piece within the timeout.
            while timed(site, field.chunk()).await??.is_some() {}
            continue;
        };
        let name = sanitize(raw)?;
        // Dotfiles (without `hidden`), temporaries, placeholders: as any write.
        super::reserved(site, std::slice::from_ref(&name))?;
        if parent.kind(&name).map_err(write_error)? == Some(Kind::Dir) {
            return Err(Error::conflict(format!("{name} is a directory")));
        }
        let url_path = format!("{}/{}", who.url_path.trim_end_matches('/'), name);
        let part_type = field.content_type().map(|t| essence(&t));
        let this_id = named.take();
        let in_root = super::in_root(&[dir, std::slice::from_ref(&name)].concat());
        let upload = super::registry::Starting {
            named: this_id.as_deref(),
            path: &url_path,
            in_root: &in_root,
            user: who.user,
            length: None,
            content_type: part_type.as_deref(),
        };
        let mut tracker = site.uploads.start(site.root.path(), upload)?;
        tracker.attach(
            site.root.path(),
            &dir_path,
            site.uploads.options().progress_files,
        );
        ids.push(tracker.id());
        let part = async {
            let mut temp = parent.create_temp(&name).map_err(write_error)?;
            let mut record = site.live.record(&dir_path.join(&name));
            let counted = metrics.upload();
            // Written on the worker as it arrives, like any upload (write/mod.rs).
            while let Some(chunk) = timed(site, field.chunk()).await?? {
                temp.file().write_all(&chunk).map_err(io_error)?;
                record.add(chunk.len() as u64);
                tracker.add(chunk.len() as u64);
            }
            temp.commit().map_err(write_error)?;
            counted.committed();
            record.end();
            Ok::<_, Error>(())
        }
        .await;
        match part {
            Ok(()) => tracker.complete(),
            Err(e) => {
                tracker.fail(&e);
                return Err(e);
            }
        }
        stored.push(name);
    }
    if stored.is_empty() {
        return Err(Error::bad_request("the form has no file"));
    }
    let mut res = respond(req, dir, &stored);
    for id in &ids {
        res.headers_mut()
            .append(super::registry::UPLOAD_ID, super::id_header(id));
    }
    Ok(res)
}

/// Bytes the parser may take in without handing anything out: enough for
/// a boundary and a part's headers (browsers send a few hundred bytes).
pub(crate) const FORM_HEAD_LIMIT: usize = 16 << 10;

/// A media type without its parameters, in lower case.
fn essence(media_type: &str) -> String {
    let essence = media_type.split(';').next().unwrap_or_default();
    essence.trim().to_ascii_lowercase()
}

async fn timed<T>(site: &WriteSite, fut: impl std::future::Future<Output = T>) -> Result<T, Error> {
    match site.timeout {
        Some(t) => tokio::time::timeout(t, fut)
            .await
            .map_err(|_| Error::RequestTimeout),
        None => Ok(fut.await),
    }
}

/// A file name from a form, made safe: the last path component only, no
/// control characters, not `.`/`..`, not a temporary upload name, at most
/// 255 bytes.
pub(crate) fn sanitize(raw: &str) -> Result<String, Error> {
    let base = raw.rsplit(['/', '\\']).next().unwrap_or_default().trim();
    let ok = !base.is_empty()
        && base != "."
        && base != ".."
        && base.len() <= 255
        && !base.chars().any(char::is_control)
        && !base.starts_with(TEMP_PREFIX);
    if ok {
        Ok(base.to_owned())
    } else {
        Err(Error::bad_request(format!("unusable file name {raw:?}")))
    }
}

/// 201 with the stored names; a small page with a link back for browsers.
fn respond(req: &Parts, dir: &[String], stored: &[String]) -> Response<Body> {
    let mut location: String = dir
        .iter()
        .map(|s| format!("/{}", utf8_percent_encode(s, SEGMENT)))
        .collect();
    location.push('/');
    let html = req
        .headers
        .get(ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("text/html"));
    let (text, ct) = if html {
        let items: String = stored
            .iter()
            .map(|n| format!("<li>{}</li>", httpout_core::html::escape(n)))
            .collect();
        (
            format!(
                "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Uploaded</title></head>\
                 <body><p>Stored:</p><ul>{items}</ul><p><a href=\"{location}\">Back to the folder</a></p></body></html>\n"
            ),
            "text/html; charset=utf-8",
        )
    } else {
        (
            stored.iter().map(|n| format!("stored {n}\n")).collect(),
            "text/plain; charset=utf-8",
        )
    };
    let mut res = Response::new(Body::full(text));
    *res.status_mut() = StatusCode::CREATED;
    res.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(ct));
    if let Ok(v) = HeaderValue::from_str(&location) {
        res.headers_mut().insert(LOCATION, v);
    }
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_sanitised() {
        assert_eq!(sanitize("a.txt").unwrap(), "a.txt");
        assert_eq!(sanitize("C:\\Users\\me\\photo.jpg").unwrap(), "photo.jpg");
        assert_eq!(sanitize("../../etc/passwd").unwrap(), "passwd");
        for bad in [
            "",
            "..",
            ".",
            "dir/",
            "a\u{0}b",
            "x\ny",
            ".httpout-upload-1-1.tmp",
        ] {
            assert!(sanitize(bad).is_err(), "{bad:?}");
        }
        assert!(sanitize(&"x".repeat(256)).is_err());
    }
}

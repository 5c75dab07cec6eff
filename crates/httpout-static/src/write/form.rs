//! `multipart/form-data` uploads: what a browser form sends. Each file part
//! is streamed into the directory of the URL under its sanitised file name,
//! each through its own temporary file (atomic, like any upload). A part
//! named like a dotfile is refused (403) without `hidden`.
//! Parsing is multer's.
//!
//! Memory per form is bounded by a constant (issue 12 item 4): multer
//! buffers what it has not handed out yet, so the body reaches it through
//! [`Budgeted`], which lets at most [`FORM_HEAD_LIMIT`] bytes in without
//! multer producing anything (a part or a piece of one). The preamble, a
//! part's headers and the boundary between two parts must fit (400
//! otherwise); part data is handed out as it comes, and written to its
//! temporary file at once. A missing or invalid boundary is refused before
//! any byte is read.

use http::header::{ACCEPT, CONTENT_TYPE, LOCATION};
use http::request::Parts;
use http::{HeaderMap, HeaderValue, Response, StatusCode};
use http_body_util::BodyDataStream;
use httpout_core::{Body, Error, Metrics};
use httpout_store::{Kind, TEMP_PREFIX};
use multer::{Constraints, Multipart, SizeLimit};
use percent_encoding::utf8_percent_encode;
use std::io::Write;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_util::Stream;

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
    let content_type = req
        .headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let boundary = multer::parse_boundary(content_type)
        .ok()
        .filter(|b| (1..=70).contains(&b.len()))
        .ok_or_else(|| Error::bad_request("multipart/form-data without a valid boundary"))?;
    let constraints = Constraints::new().size_limit(SizeLimit::new().whole_stream(site.maxs));
    let budget = Arc::new(Budget::default());
    let body = Budgeted {
        inner: BodyDataStream::new(body),
        budget: Arc::clone(&budget),
    };
    let mut form = Multipart::with_constraints(body, boundary, constraints);
    let form_error = |e| {
        if budget.over.load(Ordering::Relaxed) {
            Error::bad_request(format!(
                "form preamble or part headers longer than {FORM_HEAD_LIMIT} bytes"
            ))
        } else {
            form_error(site, e)
        }
    };
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
    while let Some(mut field) = timed(site, form.next_field()).await?.map_err(form_error)? {
        budget.progress();
        let Some(raw) = field.file_name() else {
            // Not a file: read through (it counts against `maxs`), so that
            // it is not held back as part of the next part's head.
            while timed(site, field.chunk())
                .await?
                .map_err(form_error)?
                .is_some()
            {
                budget.progress();
            }
            continue;
        };
        let name = sanitize(raw)?;
        // Dotfiles (without `hidden`), temporaries, placeholders: as any write.
        super::reserved(site, std::slice::from_ref(&name))?;
        if parent.kind(&name).map_err(write_error)? == Some(Kind::Dir) {
            return Err(Error::conflict(format!("{name} is a directory")));
        }
        let url_path = format!("{}/{}", who.url_path.trim_end_matches('/'), name);
        let part_type = field.content_type().map(|m| m.essence_str().to_owned());
        let mut tracker = site.uploads.start(
            site.root.path(),
            named.take().as_deref(),
            &url_path,
            &super::in_root(&[dir, std::slice::from_ref(&name)].concat()),
            who.user,
            None,
            part_type.as_deref(),
        )?;
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
            while let Some(chunk) = timed(site, field.chunk()).await?.map_err(form_error)? {
                budget.progress();
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

/// What the parser took in since it last handed something out.
#[derive(Debug, Default)]
struct Budget {
    /// Bytes taken in since the last [`Budget::progress`].
    since: AtomicUsize,
    /// Whether the parser was made to look at what it holds since then.
    paused: AtomicBool,
    /// Whether the limit was crossed (the stream failed for that).
    over: AtomicBool,
}

impl Budget {
    /// The parser handed out a part or a piece of one.
    fn progress(&self) {
        self.since.store(0, Ordering::Relaxed);
        self.paused.store(false, Ordering::Relaxed);
    }
}

/// The body as multer reads it: past [`FORM_HEAD_LIMIT`] bytes without
/// progress, it first pauses once (multer reads while data is ready, so
/// this makes it process what it holds), then fails.
struct Budgeted<S> {
    inner: S,
    budget: Arc<Budget>,
}

impl<S, E> Stream for Budgeted<S>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: Into<httpout_core::BoxError>,
{
    type Item = Result<Bytes, httpout_core::BoxError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let budget = Arc::clone(&self.budget);
        if budget.since.load(Ordering::Relaxed) >= FORM_HEAD_LIMIT {
            if !budget.paused.swap(true, Ordering::Relaxed) {
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
            budget.over.store(true, Ordering::Relaxed);
            return Poll::Ready(Some(Err("form head too long".into())));
        }
        match Pin::new(&mut self.inner).poll_next(cx) {
            Poll::Ready(Some(Ok(data))) => {
                budget.since.fetch_add(data.len(), Ordering::Relaxed);
                Poll::Ready(Some(Ok(data)))
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(e.into()))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    }
}

async fn timed<T>(site: &WriteSite, fut: impl std::future::Future<Output = T>) -> Result<T, Error> {
    match site.timeout {
        Some(t) => tokio::time::timeout(t, fut)
            .await
            .map_err(|_| Error::RequestTimeout),
        None => Ok(fut.await),
    }
}

fn form_error(site: &WriteSite, e: multer::Error) -> Error {
    match e {
        multer::Error::StreamSizeExceeded { .. } | multer::Error::FieldSizeExceeded { .. } => {
            Error::PayloadTooLarge { limit: site.maxs }
        }
        other => Error::bad_request(format!("malformed form: {other}")),
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

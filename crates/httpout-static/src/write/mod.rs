//! PUT, POST and DELETE into the write directory (`wdir`).
//!
//! The URL path names the file inside the write directory (the directory's
//! own name is not in the URL, as in the reference). In order:
//! 0. a path deeper than `max_depth` directories, or with a name over 255
//!    bytes, is 414 (one PUT must not make thousands of directories);
//! 1. a directory URL: a `multipart/form-data` POST stores each file part
//!    there ([`form`]); anything else is 409;
//! 2. a declared `Content-Length` over `maxs` is 413 before any byte is read
//!    (so no `100 Continue` is sent);
//! 3. partial uploads are parsed ([`content_range`]); a range ending past
//!    `maxs` is 413 (two 1-byte uploads must not make a 4 GiB file);
//! 4. the parent directories are opened (created when missing) below the
//!    write root, never through a symlink;
//! 5. the body streams into a temporary file beside the target — a copy of
//!    the current file for a partial upload, holes kept, stopped when the
//!    request goes away — and is renamed over the target only when
//!    complete. Abort, timeout or size limit: the temporary file is removed
//!    and the previous version stays; a full disk is 507;
//! 6. 201 Created with `Location` for a new file, 204 for a replaced one.
//!
//! Server errors of writes are answered here and logged at most once a
//! second per identical line (`crate::error::respond`).

pub(crate) mod cache;
pub(crate) mod content_range;
pub(crate) mod form;
pub(crate) mod manifest;
pub(crate) mod progress_file;
pub(crate) mod registry;
pub(crate) mod resumable;
pub(crate) mod upload_id;

use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http::header::{CONTENT_LENGTH, CONTENT_TYPE, LOCATION};
use http::request::Parts;
use http::{HeaderValue, Response, StatusCode};
use http_body_util::BodyExt;
use httpout_core::{Body, Error, Metrics};
use httpout_store::{AtomicFile, Kind, Live, LiveWriter, StoreError, WriteRoot};
use percent_encoding::utf8_percent_encode;

use crate::error::Refusal;
use crate::read::listing::SEGMENT;
use content_range::Span;

/// Why an upload whose body failed (the connection broke, the stream was
/// reset) is refused; the registry counts it as aborted by the client.
pub(crate) const INTERRUPTED: &str = "the upload was interrupted";

/// Why an upload whose request went away while it was copied is refused;
/// aborted by the client too.
pub(crate) const WENT_AWAY: &str = "the request went away";

/// Longest name of a file or directory written, in bytes (Linux's
/// `NAME_MAX`).
pub(crate) const NAME_MAX: usize = 255;

/// The write directory and its limits.
#[derive(Debug)]
pub(crate) struct WriteSite {
    pub(crate) root: WriteRoot,
    /// `maxs`: largest upload body in bytes.
    pub(crate) maxs: u64,
    /// Longest pause allowed between two pieces of an upload body.
    pub(crate) timeout: Option<Duration>,
    /// Whether URL paths are taken below the mount (a rules section's own
    /// directory) rather than whole (`--wdir`, whose name is not in URLs).
    pub(crate) under_mount: bool,
    /// Where uploads in progress are registered for readers.
    pub(crate) live: Arc<Live>,
    /// `max_cache_segs`: segments kept per stream.
    pub(crate) retention: cache::Retention,
    /// The time-shift depths of the manifests uploaded here.
    pub(crate) depths: Arc<cache::Depths>,
    /// Whether dotfiles may be written (`hidden`).
    pub(crate) hidden: bool,
    /// `max_depth`: most directories below the root a write may name.
    pub(crate) max_depth: usize,
    /// Every upload by id (shared with the uploads endpoint).
    pub(crate) uploads: Arc<registry::Uploads>,
    /// The resumable uploads of the server (shared by its write directories).
    pub(crate) resumable: Arc<resumable::Resumable>,
    /// One lock per file with range uploads in progress.
    pub(crate) partial:
        std::sync::Mutex<std::collections::HashMap<PathBuf, Arc<tokio::sync::Mutex<()>>>>,
    /// The resumable-upload draft's `Upload-Limit` for `OPTIONS` of a
    /// target URL (made once: `OPTIONS` is answered by the engine).
    pub(crate) upload_limit: http::HeaderValue,
}

impl WriteSite {
    /// A write directory with the configuration's options (`fsync`,
    /// `hidden`, retention, the live registry).
    pub(crate) fn new(
        root: WriteRoot,
        config: &crate::StaticConfig,
        maxs: u64,
        timeout: Option<Duration>,
        under_mount: bool,
    ) -> Self {
        Self {
            root: root.with_fsync(config.fsync),
            maxs,
            timeout,
            under_mount,
            live: Arc::clone(&config.live),
            retention: config.retention,
            depths: Arc::default(),
            hidden: config.hidden,
            max_depth: config.max_depth,
            upload_limit: resumable::ietf::limit_value(maxs, config.resumable.0.ttl()),
            resumable: Arc::clone(&config.resumable.0),
            partial: Default::default(),
            uploads: Arc::clone(&config.uploads),
        }
    }

    /// Makes the write directory's resumable uploads resume (those an
    /// earlier run left), and lets the uploads endpoint answer.
    pub(crate) fn attach_resumable(&self) {
        self.resumable.attach(self);
    }

    /// The lock that orders range uploads of `path`; entries nobody holds
    /// are dropped as new ones are made.
    fn partial_turn(&self, path: &std::path::Path) -> Arc<tokio::sync::Mutex<()>> {
        let mut map = self
            .partial
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        map.retain(|_, m| Arc::strong_count(m) > 1);
        Arc::clone(map.entry(path.to_owned()).or_default())
    }

    /// The segments naming the target of a write request.
    pub(crate) fn target(&self, ctx: &httpout_core::Ctx) -> Vec<String> {
        if self.under_mount {
            ctx.path.segments().to_vec()
        } else {
            ctx.mount
                .segments()
                .iter()
                .chain(ctx.path.segments())
                .cloned()
                .collect()
        }
    }
}

/// Store failures on the write path: a symlink in the way is 403 (the
/// client named it; it may know it is there), a file in the way 409, a
/// name too long 414, a file larger than the file system allows 413, a
/// full file system 507.
pub(crate) fn write_error(e: StoreError) -> Error {
    match e {
        StoreError::Conflict => Error::conflict("a file or directory is in the way"),
        StoreError::Escape => Error::Forbidden("the path leads through a symbolic link".into()),
        StoreError::NotFound => Error::NotFound,
        StoreError::PermissionDenied => Error::Forbidden("permission denied".into()),
        StoreError::NameTooLong => Refusal::uri_too_long("a name is too long for the file system"),
        StoreError::TooLarge => {
            Refusal::too_large("the file would be larger than the file system allows")
        }
        StoreError::NoSpace => Refusal::insufficient_storage(),
        StoreError::Cancelled => Error::bad_request(WENT_AWAY),
        StoreError::Io(io) => Error::Io(io),
        other => Error::Internal(Box::new(other)),
    }
}

/// An I/O failure while writing an upload, mapped as [`write_error`] does.
pub(crate) fn io_error(e: std::io::Error) -> Error {
    write_error(StoreError::from(e))
}

/// Refuses (414) a path that names a directory deeper than `max_depth`
/// below the root, or a name longer than [`NAME_MAX`] bytes. `dirs` is the
/// number of directories the write names (a form's target directory, or
/// the parents of a file).
pub(crate) fn check_path(site: &WriteSite, segments: &[String], dirs: usize) -> Result<(), Error> {
    if segments.iter().any(|s| s.len() > NAME_MAX) {
        return Err(Refusal::uri_too_long(format!(
            "a name is longer than {NAME_MAX} bytes"
        )));
    }
    if dirs > site.max_depth {
        return Err(Refusal::uri_too_long(format!(
            "the path is {dirs} directories deep; at most {} (max_depth) are written",
            site.max_depth
        )));
    }
    Ok(())
}

/// Who uploads, and where, as the client named it: what the upload
/// registry checks an id against.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Uploader<'a> {
    /// The signed-in user, if any.
    pub(crate) user: Option<&'a str>,
    /// The request's URL path (`/dir/name`).
    pub(crate) url_path: &'a str,
}

/// PUT, POST or PATCH of `segments` (the target below the write root);
/// `dir_url` when the URL ends with `/`; `who` the uploader. A tus
/// creation (`POST` to a directory with `Tus-Resumable`) or an IETF one
/// (`Upload-Complete`) starts a resumable upload ([`resumable`]); a PATCH
/// is a range update of an existing file ([`patch`]).
pub(crate) async fn upload(
    site: &WriteSite,
    req: &Parts,
    body: Body,
    segments: &[String],
    dir_url: bool,
    who: Uploader<'_>,
    metrics: &Metrics,
) -> Result<Response<Body>, Error> {
    crate::error::respond(upload_inner(site, req, body, segments, dir_url, who, metrics).await)
}

async fn upload_inner(
    site: &WriteSite,
    req: &Parts,
    body: Body,
    segments: &[String],
    dir_url: bool,
    who: Uploader<'_>,
    metrics: &Metrics,
) -> Result<Response<Body>, Error> {
    reserved(site, segments)?;
    let form_dir = dir_url || segments.is_empty();
    check_path(site, segments, segments.len() - usize::from(!form_dir))?;
    let tus = req.headers.contains_key(resumable::headers::TUS_RESUMABLE);
    let tus_creation = form_dir && tus && req.method == http::Method::POST;
    let ietf_creation = !form_dir
        && req.method != http::Method::PATCH
        && resumable::ietf::is_creation(&req.headers);
    if tus_creation {
        return resumable::tus::create(site, req, body, segments, who).await;
    }
    if ietf_creation {
        return resumable::ietf::create(site, req, body, segments, who).await;
    }
    if req.method == http::Method::PATCH {
        patch(site, req, segments, form_dir)?;
    }
    if let Some(declared) = declared_length(req)? {
        if declared > site.maxs {
            return Err(Error::PayloadTooLarge { limit: site.maxs });
        }
    }
    if form_dir {
        if form::is_form(&req.headers) && req.method == http::Method::POST {
            return form::upload(site, req, body, segments, who, metrics).await;
        }
        return Err(Error::conflict(
            "cannot write over a directory; name a file",
        ));
    }
    if let Some(declared) = declared_length(req)? {
        if declared > site.maxs {
            return Err(Error::PayloadTooLarge { limit: site.maxs });
        }
    }
    let spans = content_range::parse(&req.headers)?;
    // The offset counts against `maxs` too: else a 1-byte body at offset
    // 2^32 makes a 4 GiB file, and the next range upload copies it.
    if let Some(end) = spans.iter().flatten().map(|(at, len)| at + len).max() {
        if end > site.maxs {
            return Err(Error::PayloadTooLarge { limit: site.maxs });
        }
    }
    if let (Some(spans), Some(declared)) = (&spans, declared_length(req)?) {
        let total = spans
            .iter()
            .try_fold(0u64, |acc, (_, len)| acc.checked_add(*len))
            .ok_or_else(|| Error::bad_request("the ranges are too long"))?;
        if total != declared {
            return Err(Error::bad_request(format!(
                "the ranges add up to {total} bytes but the body has {declared}"
            )));
        }
    }
    let (dirs, name) = segments.split_at(segments.len() - 1);
    let name = name[0].clone();
    let parent = site.root.dir(dirs, true).map_err(write_error)?;
    if parent.kind(&name).map_err(write_error)? == Some(Kind::Dir) {
        return Err(Error::conflict("cannot write over a directory"));
    }
    let content_type = req.headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok());
    let named = registry::named_id(req);
    let upload = registry::Starting {
        named: named.as_deref(),
        path: who.url_path,
        in_root: &in_root(segments),
        user: who.user,
        length: declared_length(req)?,
        content_type,
    };
    let mut tracker = site.uploads.start(site.root.path(), upload)?;
    let dir_path = site.root.path().join(dirs.iter().collect::<PathBuf>());
    tracker.attach(
        site.root.path(),
        &dir_path,
        site.uploads.options().progress_files,
    );
    let id = tracker.id();
    let stored = store(site, parent, name, spans, segments, body, &tracker, metrics).await;
    match &stored {
        Ok(_) => tracker.complete(),
        Err(e) => tracker.fail(e),
    }
    let mut res = stored?;
    res.headers_mut()
        .insert(registry::UPLOAD_ID, id_header(&id));
    Ok(res)
}

/// `segments` (below the write directory) as a path: `/dir/name`.
pub(crate) fn in_root(segments: &[String]) -> String {
    segments.iter().map(|s| format!("/{s}")).collect()
}

/// An id as a header value.
pub(crate) fn id_header(id: &upload_id::UploadId) -> HeaderValue {
    HeaderValue::from_str(&id.to_string()).expect("hex digits")
}

/// The body of a PUT or POST of a file into `parent` under `name` (the
/// last of `segments`, the target below the write root), whole or by
/// `spans`; `tracker` counts its bytes.
#[allow(clippy::too_many_arguments)]
async fn store(
    site: &WriteSite,
    parent: httpout_store::ParentDir,
    name: String,
    spans: Option<Vec<Span>>,
    segments: &[String],
    mut body: Body,
    tracker: &registry::Tracker,
    metrics: &Metrics,
) -> Result<Response<Body>, Error> {
    let dirs = &segments[..segments.len() - 1];
    // Range uploads of one file take turns: each patches a copy of the
    // file as the previous one left it (else the last rename would win).
    let target_path: PathBuf = site.root.path().join(segments.iter().collect::<PathBuf>());
    let _turn = match &spans {
        Some(_) => Some(site.partial_turn(&target_path).lock_owned().await),
        None => None,
    };
    let (mut temp, first) = match &spans {
        None => (parent.create_temp(&name).map_err(write_error)?, None),
        Some(_) => copy_current(site.timeout, parent, name, &mut body).await?,
    };
    // A whole-file upload is readable while it arrives (file sink): readers
    // of the target follow the temporary file until it is renamed. A range
    // upload is only logged (`--reqlog=REC`).
    let (live, mut record) = match &spans {
        None => {
            let reader = temp.file().try_clone()?;
            (Some(site.live.begin(target_path.clone(), reader)), None)
        }
        Some(_) => (None, Some(site.live.record(&target_path))),
    };
    // In flight from here; aborted unless committed below.
    let counted = metrics.upload();
    let received = receive_into(
        site,
        body,
        first,
        &mut temp,
        spans.as_deref(),
        live.as_ref(),
        Some(tracker),
    )
    .await?;
    let replaced = temp.commit().map_err(write_error)?;
    counted.committed();
    if let Some(live) = live {
        live.done();
    }
    if let Some(mut record) = record.take() {
        record.add(received);
        record.end();
        // Not followed at the live edge, but complete all the same (a
        // playlist patched in place wakes blocking reloads too).
        site.live.arrived(&target_path);
    }
    if !site.retention.keeps_all() {
        let dir = site.root.path().join(dirs.iter().collect::<PathBuf>());
        let name = segments[segments.len() - 1].clone();
        let (retention, depths) = (site.retention, Arc::clone(&site.depths));
        let _ = tokio::task::spawn_blocking(move || {
            cache::after_upload(retention, &depths, &dir, &name);
        })
        .await;
    }
    Ok(written(segments, replaced))
}

/// Tells a copy in the blocking pool to stop when the request that started
/// it goes away: dropped with the request's future (the connection closed,
/// the HTTP/2 stream was reset) or when the body fails.
struct CancelCopy(Arc<AtomicBool>);

impl Drop for CancelCopy {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// The copy of the current file that a range upload patches, made in the
/// blocking pool (it may take a while) while the body is watched: if the
/// client goes away, before or after its body has arrived, the copy stops
/// at its next step ([`httpout_store::atomic::COPY_STEP`]) and the upload
/// ends with nothing written. Returns the temporary file and the body's
/// first piece when it came during the copy (`Some(None)`: the body ended).
async fn copy_current(
    timeout: Option<Duration>,
    parent: httpout_store::ParentDir,
    name: String,
    body: &mut Body,
) -> Result<(AtomicFile, Option<Option<Bytes>>), Error> {
    let gone = CancelCopy(Arc::new(AtomicBool::new(false)));
    let flag = Arc::clone(&gone.0);
    let copy = tokio::task::spawn_blocking(move || {
        parent.copy_to_temp(&name, &|| flag.load(Ordering::Relaxed))
    });
    tokio::pin!(copy);
    let mut first = None;
    let temp = loop {
        tokio::select! {
            done = &mut copy => break done,
            next = next_data(body, timeout), if first.is_none() => match next {
                Ok(piece) => first = Some(piece),
                Err(e) => {
                    drop(gone);
                    let _ = copy.await;
                    return Err(e);
                }
            },
        }
    };
    let temp = temp
        .map_err(|e| Error::Internal(Box::new(e)))?
        .map_err(write_error)?;
    Ok((temp, first))
}

/// Names of uploads in progress belong to the server, and dotfiles are
/// not written without `hidden`: refused (403, whether the file exists or
/// not, so nothing is learnt).
pub(crate) fn reserved(site: &WriteSite, segments: &[String]) -> Result<(), Error> {
    if segments
        .iter()
        .any(|s| s.starts_with(httpout_store::TEMP_PREFIX))
    {
        return Err(Error::Forbidden(
            "names starting with .httpout-upload- are reserved".into(),
        ));
    }
    if !site.hidden && crate::hidden::hides(segments) {
        return Err(crate::hidden::refused());
    }
    if site.uploads.options().require_placeholder
        && segments
            .last()
            .is_some_and(|n| n.ends_with(registry::PLACEHOLDER_SUFFIX))
    {
        return Err(Error::Forbidden(
            "names ending with .placeholder are the operator's".into(),
        ));
    }
    Ok(())
}

/// The declared body length, if any.
fn declared_length(req: &Parts) -> Result<Option<u64>, Error> {
    req.headers
        .get(CONTENT_LENGTH)
        .map(|v| {
            v.to_str()
                .ok()
                .and_then(|s| s.trim().parse().ok())
                .ok_or_else(|| Error::bad_request("malformed Content-Length"))
        })
        .transpose()
}

/// Streams `body` (after `first`, a piece already taken from it, if any)
/// into `temp`: appended, or at each span's offset. Each
/// piece is written with `pwrite` on the worker as it arrives (into the page
/// cache, as nginx writes request bodies), then announced to live readers:
/// no trip to the blocking pool between a chunk's arrival and its readers.
/// Returns the bytes received.
pub(crate) async fn receive_into(
    site: &WriteSite,
    mut body: Body,
    mut first: Option<Option<Bytes>>,
    temp: &mut AtomicFile,
    spans: Option<&[Span]>,
    live: Option<&LiveWriter>,
    progress: Option<&registry::Tracker>,
) -> Result<u64, Error> {
    let file = temp.file();
    let mut received: u64 = 0;
    let mut spans = spans.map(|s| {
        s.iter()
            .copied()
            .collect::<std::collections::VecDeque<Span>>()
    });
    // Where the next byte goes, and how many the current span still takes.
    let (mut at, mut left_in_span) = (0u64, 0u64);
    loop {
        let next = match first.take() {
            Some(piece) => piece,
            None => next_data(&mut body, site.timeout).await?,
        };
        let Some(mut data) = next else { break };
        received += data.len() as u64;
        if received > site.maxs {
            return Err(Error::PayloadTooLarge { limit: site.maxs });
        }
        if let Some(progress) = progress {
            progress.add(data.len() as u64);
        }
        let Some(spans) = spans.as_mut() else {
            file.write_all_at(&data, at).map_err(io_error)?;
            at += data.len() as u64;
            if let Some(live) = live {
                live.advance(data.len() as u64);
            }
            continue;
        };
        while !data.is_empty() {
            if left_in_span == 0 {
                let (offset, len) = spans
                    .pop_front()
                    .ok_or_else(|| Error::bad_request("the body is longer than its ranges"))?;
                (at, left_in_span) = (offset, len);
            }
            let n = (data.len() as u64).min(left_in_span) as usize;
            file.write_all_at(&data.split_to(n), at).map_err(io_error)?;
            at += n as u64;
            left_in_span -= n as u64;
        }
    }
    if left_in_span > 0 || spans.is_some_and(|s| !s.is_empty()) {
        return Err(Error::bad_request("the body is shorter than its ranges"));
    }
    Ok(received)
}

/// The next piece of data of an upload body, within the timeout.
pub(crate) async fn next_data(
    body: &mut Body,
    timeout: Option<Duration>,
) -> Result<Option<Bytes>, Error> {
    loop {
        let frame = match timeout {
            Some(t) => tokio::time::timeout(t, body.frame())
                .await
                .map_err(|_| Error::RequestTimeout)?,
            None => body.frame().await,
        };
        match frame {
            None => return Ok(None),
            Some(Err(_)) => return Err(Error::bad_request(INTERRUPTED)),
            Some(Ok(frame)) => {
                if let Ok(data) = frame.into_data() {
                    if !data.is_empty() {
                        return Ok(Some(data));
                    }
                }
            }
        }
    }
}

/// The media types a PATCH of a plain file accepts (`Accept-Patch`).
const ACCEPT_PATCH: &str = "application/octet-stream";

/// What a PATCH of a plain file (not an upload resource) must be: a
/// `Content-Range` update (the body's bytes at their offsets, as a ranged
/// PUT) of an existing file, its body `application/octet-stream` (or
/// untyped): else 415 with `Accept-Patch`, 400 without `Content-Range`,
/// 404 for a missing file.
fn patch(site: &WriteSite, req: &Parts, segments: &[String], dir_url: bool) -> Result<(), Error> {
    let media = resumable::ietf::media_type(&req.headers);
    if !(media.is_empty() || media == ACCEPT_PATCH) {
        return Err(Refusal::unsupported_media_type(
            format!(
                "a PATCH of a file takes {ACCEPT_PATCH} with Content-Range (or {} and {} on an upload resource)",
                resumable::ietf::PARTIAL_UPLOAD,
                resumable::tus::OFFSET_OCTET_STREAM
            ),
            ACCEPT_PATCH,
        ));
    }
    if !req.headers.contains_key(http::header::CONTENT_RANGE) {
        return Err(Error::bad_request(
            "a PATCH of a file needs Content-Range: bytes START-END/TOTAL",
        ));
    }
    let Some((name, dirs)) = segments.split_last().filter(|_| !dir_url) else {
        return Err(Error::conflict("cannot patch a directory"));
    };
    let parent = site.root.dir(dirs, false).map_err(write_error)?;
    match parent.kind(name).map_err(write_error)? {
        Some(Kind::File) => Ok(()),
        Some(_) => Err(Error::conflict("not a file")),
        None => Err(Error::NotFound),
    }
}

/// The URL path of `segments`, percent-encoded.
pub(crate) fn url_of(segments: &[String]) -> String {
    segments
        .iter()
        .map(|s| format!("/{}", utf8_percent_encode(s, SEGMENT)))
        .collect()
}

/// 201 with `Location` for a new file, 204 for a replaced one.
fn written(segments: &[String], replaced: bool) -> Response<Body> {
    if replaced {
        let mut res = Response::new(Body::empty());
        *res.status_mut() = StatusCode::NO_CONTENT;
        return res;
    }
    let location = url_of(segments);
    let mut res = Response::new(Body::full(format!("created {location}\n")));
    *res.status_mut() = StatusCode::CREATED;
    let h = res.headers_mut();
    h.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    if let Ok(v) = HeaderValue::from_str(&location) {
        h.insert(LOCATION, v);
    }
    res
}

/// DELETE of `segments`: 204, 404 when missing (GPAC says 204; clients need
/// the truth); an empty directory is removed too (a client can clean what
/// it made), one that is not empty is 409.
pub(crate) fn delete(site: &WriteSite, segments: &[String]) -> Result<Response<Body>, Error> {
    crate::error::respond(delete_inner(site, segments))
}

fn delete_inner(site: &WriteSite, segments: &[String]) -> Result<Response<Body>, Error> {
    reserved(site, segments)?;
    let Some((name, dirs)) = segments.split_last() else {
        return Err(Error::conflict("cannot delete the root directory"));
    };
    let parent = site.root.dir(dirs, false).map_err(write_error)?;
    parent.remove(name).map_err(write_error)?;
    let mut res = Response::new(Body::empty());
    *res.status_mut() = StatusCode::NO_CONTENT;
    Ok(res)
}

#[cfg(test)]
mod tests {
    use std::future::Future;
    use std::io::Write;
    use std::task::Poll;

    use super::*;

    /// Bytes this process has sent to the page cache for writing.
    fn written() -> u64 {
        let io = std::fs::read_to_string("/proc/self/io").unwrap();
        io.lines()
            .find_map(|l| l.strip_prefix("write_bytes: "))
            .and_then(|v| v.trim().parse().ok())
            .expect("write_bytes in /proc/self/io")
    }

    /// Issue 12 item 9: the copy a range upload makes stops when its request
    /// goes away even though its body has fully arrived (a 1-byte PUT over
    /// a 384 MiB file, its client gone as soon as the copy has started).
    /// Before, the copy ran to the end in the blocking pool: the whole file
    /// written for nothing.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_copy_stops_when_the_request_goes_away() {
        const SIZE: u64 = 384 << 20;
        let dir = tempfile::tempdir().unwrap();
        let start = written();
        let mut big = std::fs::File::create(dir.path().join("big")).unwrap();
        let block = vec![7u8; 1 << 20];
        for _ in 0..SIZE >> 20 {
            big.write_all(&block).unwrap();
        }
        drop(big);
        // The counter must see writes here (it does not on tmpfs), or the
        // bound below would hold whatever the copy does.
        assert!(
            written() - start >= SIZE / 2,
            "write_bytes does not count writes to {}",
            dir.path().display()
        );
        let entries = || std::fs::read_dir(dir.path()).unwrap().count();
        let root = httpout_store::WriteRoot::new(dir.path()).unwrap();
        let parent = root.dir(&[], false).unwrap();
        let mut body = Body::full("x");
        let before = written();
        {
            let mut copy = std::pin::pin!(copy_current(None, parent, "big".into(), &mut body));
            let first = std::future::poll_fn(|cx| Poll::Ready(copy.as_mut().poll(cx))).await;
            assert!(first.is_pending(), "a 384 MiB copy is not done at once");
            // The temporary file stays until the copy's result is dropped.
            httpout_test::bounded(async {
                while entries() < 2 {
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
            })
            .await;
        }
        // Gone: the copy notices at its next step and removes its file.
        httpout_test::bounded(async {
            while entries() > 1 {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
        .await;
        let copied = written() - before;
        assert!(
            copied < SIZE / 2,
            "{copied} bytes copied after the request went away"
        );
    }
}

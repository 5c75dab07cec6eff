//! Uploads by id: every upload (PUT, POST, form part) is tracked here
//! from its first byte to its end, so that an application can read its
//! progress (`GET /.uploads/ID`, the `endpoint` module) and so that only
//! expected uploads are taken (`require_id`, `require_placeholder`).
//!
//! An id is made in two ways: by a create call (`POST /.uploads/`, an
//! entry [`State::Expected`] until an upload names it, for at most
//! `placeholder_ttl`), or by the upload itself when it names none. An
//! upload that names an id ([`UPLOAD_ID`] header or `upload_id` query
//! parameter) claims it: once, with the name, size and type the create
//! call expected.
//!
//! Bounds: at most [`MAX_ENTRIES`] entries; an upload's entry stays
//! [`FINISHED_KEEP`] after its end (for clients that read the outcome),
//! and the oldest finished ones make room for new ones. Expected entries
//! past their time are dropped by the same sweep, which runs on each
//! create or claim (no timer task).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use http::StatusCode;
use httpout_core::Error;
use tokio::sync::watch;

use super::progress_file::ProgressFile;
use super::upload_id::UploadId;

/// The request header (and, in responses, the answer) that names an
/// upload's id.
pub(crate) const UPLOAD_ID: &str = "upload-id";

/// The query parameter that names an upload's id (for browser forms,
/// which cannot set headers).
pub(crate) const UPLOAD_ID_PARAM: &str = "upload_id";

/// Most entries kept at once (expected, in progress and finished).
pub(crate) const MAX_ENTRIES: usize = 10_000;

/// How long a finished upload's outcome stays readable.
pub(crate) const FINISHED_KEEP: Duration = Duration::from_secs(600);

/// The suffix of placeholder files in the write directory (`ID.placeholder`).
pub(crate) const PLACEHOLDER_SUFFIX: &str = ".placeholder";

/// Options of the registry (`require_id`, `require_placeholder`,
/// `placeholder_ttl`, `progress_files`, `uploads_admin`).
#[derive(Debug, Clone)]
pub struct UploadOptions {
    /// Uploads must name an id from a create call (`require_id`).
    pub require_id: bool,
    /// The id must be a placeholder: made by an admin's create call or a
    /// file `ID.placeholder` in the write directory (`require_placeholder`;
    /// implies `require_id`).
    pub require_placeholder: bool,
    /// How long an id made by a create call, or a placeholder file, waits
    /// for its upload (`placeholder_ttl`). Default one hour.
    pub placeholder_ttl: Duration,
    /// Write HTTP::Server::Upload's one-byte progress file beside each
    /// upload's temporary file (`progress_files`).
    pub progress_files: bool,
    /// Users who may create placeholders and read every upload's progress
    /// (`uploads_admin`).
    pub admins: Vec<String>,
}

impl Default for UploadOptions {
    fn default() -> Self {
        Self {
            require_id: false,
            require_placeholder: false,
            placeholder_ttl: Duration::from_secs(3600),
            progress_files: false,
            admins: Vec::new(),
        }
    }
}

/// Where an upload is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum State {
    /// Made by a create call; no upload has named it yet.
    Expected,
    /// Its body is arriving.
    Receiving,
    /// Stored under its name.
    Complete,
    /// The client went away or paused past the timeout; nothing stored.
    Aborted(String),
    /// Refused or failed on the server's side (too large, disk full...);
    /// nothing stored.
    Failed(u16, String),
}

impl State {
    /// The name in JSON answers.
    pub(crate) fn name(&self) -> &'static str {
        match self {
            Self::Expected => "expected",
            Self::Receiving => "receiving",
            Self::Complete => "complete",
            Self::Aborted(_) => "aborted",
            Self::Failed(..) => "failed",
        }
    }

    /// Whether the upload has ended.
    pub(crate) fn is_final(&self) -> bool {
        matches!(self, Self::Complete | Self::Aborted(_) | Self::Failed(..))
    }
}

/// What a create call expects of the upload.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Expected {
    /// The URL path the upload must write (`/dir/name`).
    pub(crate) path: Option<String>,
    /// `path` is below the write directory rather than a URL path (a
    /// placeholder file's line).
    pub(crate) in_root: bool,
    /// Its size in bytes.
    pub(crate) size: Option<u64>,
    /// Its `Content-Type`.
    pub(crate) content_type: Option<String>,
}

/// One upload's entry.
#[derive(Debug)]
pub(crate) struct Entry {
    pub(crate) id: UploadId,
    /// The signed-in user who made or started it: only they (and admins)
    /// read its progress. `None`: whoever holds the id.
    owner: Mutex<Option<String>>,
    expected: Expected,
    /// Made by an admin's create call or from a placeholder file.
    placeholder: bool,
    created: Instant,
    inner: Mutex<Progress>,
    received: AtomicU64,
    changed: watch::Sender<u64>,
    /// Given to the resumable engine ([`Uploads::hand_over`]): it reports
    /// the upload from then on, under the same id.
    handed_over: AtomicBool,
}

/// The parts of an entry that change together.
#[derive(Debug)]
struct Progress {
    state: State,
    /// The URL path written.
    path: Option<String>,
    /// Bytes the upload will have, when known.
    length: Option<u64>,
    started: Option<(SystemTime, Instant)>,
    ended: Option<Instant>,
    file: Option<ProgressFile>,
}

/// A reading of an entry, for the endpoint.
#[derive(Debug, Clone)]
pub(crate) struct Snapshot {
    pub(crate) id: UploadId,
    pub(crate) state: State,
    pub(crate) path: Option<String>,
    pub(crate) received: u64,
    pub(crate) expected: Option<u64>,
    pub(crate) started: Option<SystemTime>,
    /// Mean bytes per second since the start (until the end).
    pub(crate) rate: u64,
}

impl Snapshot {
    /// Percent received, when the length is known.
    pub(crate) fn percent(&self) -> Option<u8> {
        percent_of(self.received, self.expected, self.state == State::Complete)
    }

    /// HTTP::Server::Upload's one-byte code: 0 to 100 percent, 127
    /// complete, negative errors (see [`code_of`]).
    pub(crate) fn code(&self) -> i8 {
        code_of(&self.state, self.percent())
    }
}

/// Percent of `length` that `received` is: 100 only once `complete` (or
/// for an empty upload), `None` while the length is unknown.
pub(crate) fn percent_of(received: u64, length: Option<u64>, complete: bool) -> Option<u8> {
    match length {
        _ if complete => Some(100),
        Some(0) => Some(100),
        Some(len) => Some((received.saturating_mul(100) / len).min(99) as u8),
        None => None,
    }
}

/// Whether `user` may read an upload of `owner`: its owner, an admin, or
/// anyone when it has none.
pub(crate) fn may_read(owner: Option<&str>, user: Option<&str>, admins: &[String]) -> bool {
    match (owner, user) {
        (None, _) => true,
        (Some(o), Some(u)) => o == u || admins.iter().any(|a| a == u),
        (Some(_), None) => false,
    }
}

/// The compact code: 0–100 percent while receiving (0 while the length is
/// unknown), 127 complete, -1 aborted by the client, -2 too large (413),
/// -3 no space (507), -4 any other failure.
pub(crate) fn code_of(state: &State, percent: Option<u8>) -> i8 {
    match state {
        State::Expected => 0,
        State::Receiving => percent.unwrap_or(0) as i8,
        State::Complete => 127,
        State::Aborted(_) => -1,
        State::Failed(413, _) => -2,
        State::Failed(507, _) => -3,
        State::Failed(..) => -4,
    }
}

impl Entry {
    fn new(id: UploadId, owner: Option<String>, expected: Expected, placeholder: bool) -> Self {
        Self {
            id,
            owner: Mutex::new(owner),
            expected,
            placeholder,
            created: Instant::now(),
            inner: Mutex::new(Progress {
                state: State::Expected,
                path: None,
                length: None,
                started: None,
                ended: None,
                file: None,
            }),
            received: AtomicU64::new(0),
            changed: watch::Sender::new(0),
            handed_over: AtomicBool::new(false),
        }
    }

    /// Whether the resumable engine reports this upload now.
    pub(crate) fn handed_over(&self) -> bool {
        self.handed_over.load(Ordering::Acquire)
    }

    fn progress(&self) -> std::sync::MutexGuard<'_, Progress> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The current reading.
    pub(crate) fn snapshot(&self) -> Snapshot {
        let p = self.progress();
        let received = self.received.load(Ordering::Relaxed);
        let rate = p.started.map_or(0, |(_, at)| {
            let secs = p.ended.unwrap_or_else(Instant::now).duration_since(at);
            (received as f64 / secs.as_secs_f64().max(0.001)) as u64
        });
        Snapshot {
            id: self.id,
            state: p.state.clone(),
            path: p.path.clone().or_else(|| self.expected.path.clone()),
            received,
            expected: p.length.or(self.expected.size),
            started: p.started.map(|(t, _)| t),
            rate,
        }
    }

    /// Changes of this entry, for live progress.
    pub(crate) fn subscribe(&self) -> watch::Receiver<u64> {
        self.changed.subscribe()
    }

    /// Whether `user` may read this entry: its owner, an admin, or anyone
    /// when it has no owner.
    pub(crate) fn readable_by(&self, user: Option<&str>, admins: &[String]) -> bool {
        let owner = self.owner.lock().unwrap_or_else(PoisonError::into_inner);
        may_read(owner.as_deref(), user, admins)
    }

    fn finished_at(&self) -> Option<Instant> {
        let p = self.progress();
        p.state.is_final().then_some(p.ended).flatten()
    }

    fn notify(&self) {
        self.changed.send_modify(|v| *v = v.wrapping_add(1));
    }
}

/// Every upload's entry; see the module docs.
#[derive(Debug)]
pub struct Uploads {
    options: UploadOptions,
    entries: Mutex<HashMap<UploadId, Arc<Entry>>>,
}

impl Default for Uploads {
    fn default() -> Self {
        Self::new(UploadOptions::default())
    }
}

impl Uploads {
    /// A registry with these options.
    pub fn new(options: UploadOptions) -> Self {
        Self {
            options,
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// Its options.
    pub fn options(&self) -> &UploadOptions {
        &self.options
    }

    /// Whether uploads must name an id (`require_id` or
    /// `require_placeholder`).
    pub(crate) fn requires_id(&self) -> bool {
        self.options.require_id || self.options.require_placeholder
    }

    /// Whether `user` is an admin of uploads.
    pub(crate) fn is_admin(&self, user: Option<&str>) -> bool {
        user.is_some_and(|u| self.options.admins.iter().any(|a| a == u))
    }

    /// A reading of every entry kept, oldest first.
    pub(crate) fn all(&self) -> Vec<Snapshot> {
        let mut all: Vec<(Instant, Snapshot)> = self
            .lock()
            .values()
            .map(|e| (e.created, e.snapshot()))
            .collect();
        all.sort_by_key(|(t, _)| *t);
        all.into_iter().map(|(_, s)| s).collect()
    }

    /// The entry of `id`, if kept.
    pub(crate) fn get(&self, id: &UploadId) -> Option<Arc<Entry>> {
        self.lock().get(id).cloned()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<UploadId, Arc<Entry>>> {
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Drops expected entries past `placeholder_ttl` and finished ones
    /// past [`FINISHED_KEEP`]; then, when still full, the oldest finished.
    /// Returns whether there is room for one more.
    fn sweep(&self, map: &mut HashMap<UploadId, Arc<Entry>>, now: Instant) -> bool {
        let ttl = self.options.placeholder_ttl;
        map.retain(|_, e| {
            let expired = {
                let p = e.progress();
                match (&p.state, p.ended) {
                    (State::Expected, _) => now.duration_since(e.created) >= ttl,
                    (_, Some(end)) => now.duration_since(end) >= FINISHED_KEEP,
                    _ => false,
                }
            };
            !expired
        });
        if map.len() < MAX_ENTRIES {
            return true;
        }
        let oldest = map
            .values()
            .filter_map(|e| e.finished_at().map(|t| (t, e.id)))
            .min();
        match oldest {
            Some((_, id)) => {
                map.remove(&id);
                true
            }
            None => false,
        }
    }

    /// A create call: a new expected entry (a placeholder when `admin`),
    /// owned by `owner`. 503 when the registry is full of uploads that
    /// have not ended.
    pub(crate) fn create(
        &self,
        owner: Option<String>,
        expected: Expected,
        admin: bool,
    ) -> Result<Arc<Entry>, Error> {
        let mut map = self.lock();
        if !self.sweep(&mut map, Instant::now()) {
            return Err(Error::Unavailable(
                "too many uploads are expected or in progress".into(),
            ));
        }
        let entry = Arc::new(Entry::new(UploadId::random(), owner, expected, admin));
        map.insert(entry.id, Arc::clone(&entry));
        Ok(entry)
    }

    /// Starts tracking `upload` into `root` (the write directory, where
    /// placeholder files are). The refusals are 403 with the reason.
    pub(crate) fn start(&self, root: &Path, upload: Starting<'_>) -> Result<Tracker, Error> {
        let Starting {
            named,
            path,
            in_root,
            user,
            length,
            content_type,
        } = upload;
        let require_id = self.requires_id();
        let entry = match named {
            None if require_id => {
                return Err(Error::Forbidden(
                    "this server takes only expected uploads: POST to the uploads endpoint for an id first"
                        .into(),
                ));
            }
            None => {
                let mut map = self.lock();
                let entry = Arc::new(Entry::new(
                    UploadId::random(),
                    user.map(str::to_owned),
                    Expected::default(),
                    false,
                ));
                // Full of uploads in progress: this one goes on untracked
                // rather than refused (uploads are bounded by connections).
                if self.sweep(&mut map, Instant::now()) {
                    map.insert(entry.id, Arc::clone(&entry));
                }
                entry
            }
            Some(text) => {
                let id: UploadId = text
                    .parse()
                    .map_err(|_| Error::bad_request("an upload id is 32 hex digits"))?;
                self.claim(root, id, user)?
            }
        };
        let mut p = entry.progress();
        if p.state != State::Expected {
            return Err(Error::Forbidden("this upload id was used already".into()));
        }
        let compared = if entry.expected.in_root {
            in_root
        } else {
            path
        };
        check_expected(&entry.expected, compared, length, content_type)?;
        p.state = State::Receiving;
        p.path = Some(path.to_owned());
        p.length = length.or(entry.expected.size);
        p.started = Some((SystemTime::now(), Instant::now()));
        drop(p);
        // The uploader reads its progress (an admin's placeholder becomes
        // the uploader's; admins read every upload anyway).
        if let Some(user) = user {
            *entry.owner.lock().unwrap_or_else(PoisonError::into_inner) = Some(user.to_owned());
        }
        entry.notify();
        Ok(Tracker {
            entry,
            placeholder_file: None,
            ended: false,
        })
    }

    /// For the creation of a resumable upload (tus, IETF) `upload`, naming
    /// an id: that id's entry, checked and started as [`Uploads::start`]
    /// does it, to [`hand over`](Uploads::hand_over) once the upload
    /// exists. `None` when the creation names no id and none is required:
    /// the resumable engine makes its own.
    pub(crate) fn start_resumable(
        &self,
        root: &Path,
        upload: Starting<'_>,
    ) -> Result<Option<Tracker>, Error> {
        if upload.named.is_none() && !self.requires_id() {
            return Ok(None);
        }
        self.start(root, upload).map(Some)
    }

    /// The resumable engine holds the upload of `tracker` now, under the
    /// same id, and reports it from there on (across restarts too): its
    /// entry leaves the registry, its placeholder file (if any) is removed,
    /// and whoever follows the entry's events is woken to follow the
    /// engine's.
    pub(crate) fn hand_over(&self, mut tracker: Tracker, root: &Path) {
        let entry = Arc::clone(&tracker.entry);
        self.lock().remove(&entry.id);
        if entry.placeholder {
            let _ = std::fs::remove_file(placeholder_path(root, &entry.id));
        }
        tracker.ended = true;
        entry.handed_over.store(true, Ordering::Release);
        entry.notify();
    }

    /// The entry of an id an upload names: made by a create call (a
    /// placeholder one under `require_placeholder`), or from a placeholder
    /// file `ID.placeholder` in `root`.
    fn claim(&self, root: &Path, id: UploadId, user: Option<&str>) -> Result<Arc<Entry>, Error> {
        let known = {
            let mut map = self.lock();
            self.sweep(&mut map, Instant::now());
            map.get(&id).cloned()
        };
        if let Some(entry) = known {
            if self.options.require_placeholder && !entry.placeholder {
                return Err(Error::Forbidden(
                    "this upload id is not a placeholder an admin made".into(),
                ));
            }
            let owner = entry.owner.lock().unwrap_or_else(PoisonError::into_inner);
            if let (Some(o), Some(u)) = (owner.as_deref(), user) {
                if o != u && !entry.placeholder {
                    return Err(Error::Forbidden("this upload id is another user's".into()));
                }
            }
            drop(owner);
            return Ok(entry);
        }
        // The file is read outside the registry's lock.
        let expected_path =
            placeholder_file(&placeholder_path(root, &id), self.options.placeholder_ttl)
                .ok_or_else(|| {
                    Error::Forbidden(
                        "no upload is expected with this id (unknown or expired)".into(),
                    )
                })?;
        let mut map = self.lock();
        // Two uploads naming one placeholder file: the first entry made is
        // the one both claim (and `start` lets only one use it).
        if let Some(raced) = map.get(&id) {
            return Ok(Arc::clone(raced));
        }
        if !self.sweep(&mut map, Instant::now()) {
            return Err(Error::Unavailable(
                "too many uploads are expected or in progress".into(),
            ));
        }
        let expected = Expected {
            path: expected_path,
            in_root: true,
            ..Expected::default()
        };
        let entry = Arc::new(Entry::new(id, None, expected, true));
        map.insert(id, Arc::clone(&entry));
        Ok(entry)
    }
}

/// The id a request names: its [`UPLOAD_ID`] header, else its
/// `upload_id` query parameter.
pub(crate) fn named_id(req: &http::request::Parts) -> Option<String> {
    if let Some(v) = req.headers.get(UPLOAD_ID) {
        return Some(v.to_str().unwrap_or("").trim().to_owned());
    }
    query_value(req.uri.query()?, UPLOAD_ID_PARAM)
}

/// The value of `key` in a URL query or urlencoded form (`+` is a space,
/// `%XX` decoded); the first when repeated.
pub(crate) fn query_value(query: &str, key: &str) -> Option<String> {
    query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (decode(k) == key).then(|| decode(v))
    })
}

fn decode(s: &str) -> String {
    let s = s.replace('+', " ");
    percent_encoding::percent_decode_str(&s)
        .decode_utf8_lossy()
        .into_owned()
}

/// `root/ID.placeholder`.
pub(crate) fn placeholder_path(root: &Path, id: &UploadId) -> PathBuf {
    root.join(format!("{id}{PLACEHOLDER_SUFFIX}"))
}

/// A placeholder file younger than `ttl`: `Some(expected path)` (its first
/// line, when there is one; a path relative to the write directory).
fn placeholder_file(file: &Path, ttl: Duration) -> Option<Option<String>> {
    let meta = std::fs::symlink_metadata(file).ok()?;
    if !meta.is_file() {
        return None;
    }
    let age = meta.modified().ok()?.elapsed().unwrap_or_default();
    if age >= ttl {
        let _ = std::fs::remove_file(file);
        return None;
    }
    // A name, not a document: the first 4 KiB at most.
    let mut head = vec![0u8; 4096];
    let n = std::fs::File::open(file)
        .and_then(|mut f| std::io::Read::read(&mut f, &mut head))
        .unwrap_or(0);
    let text = String::from_utf8_lossy(&head[..n]);
    let line = text.lines().next().unwrap_or("").trim();
    Some((!line.is_empty()).then(|| {
        if line.starts_with('/') {
            line.to_owned()
        } else {
            format!("/{line}")
        }
    }))
}

/// What a create call expected, checked against the upload: 403 naming
/// the difference.
fn check_expected(
    expected: &Expected,
    path: &str,
    length: Option<u64>,
    content_type: Option<&str>,
) -> Result<(), Error> {
    if let Some(want) = &expected.path {
        if want != path {
            return Err(Error::Forbidden(
                format!("this upload id expects {want}, not {path}").into(),
            ));
        }
    }
    if let (Some(want), Some(got)) = (expected.size, length) {
        if want != got {
            return Err(Error::Forbidden(
                format!("this upload id expects {want} bytes, not {got}").into(),
            ));
        }
    }
    if let Some(want) = &expected.content_type {
        let got = content_type
            .and_then(|c| c.split(';').next())
            .map(str::trim)
            .unwrap_or("");
        if !want.eq_ignore_ascii_case(got) {
            return Err(Error::Forbidden(
                format!("this upload id expects a {want} body, not {got:?}").into(),
            ));
        }
    }
    Ok(())
}

/// An upload about to be received, as [`Uploads::start`] checks it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Starting<'a> {
    /// The id the request names, if any.
    pub(crate) named: Option<&'a str>,
    /// Its URL path.
    pub(crate) path: &'a str,
    /// The same below the write directory (what a placeholder may name).
    pub(crate) in_root: &'a str,
    /// The signed-in user uploading it.
    pub(crate) user: Option<&'a str>,
    /// The body's declared length.
    pub(crate) length: Option<u64>,
    /// The body's type.
    pub(crate) content_type: Option<&'a str>,
}

/// An upload in flight: counts its bytes and, dropped before
/// [`Tracker::complete`] or [`Tracker::fail`], marks it aborted.
#[derive(Debug)]
pub(crate) struct Tracker {
    entry: Arc<Entry>,
    /// The placeholder file the upload came for, removed once it is stored.
    placeholder_file: Option<PathBuf>,
    ended: bool,
}

impl Tracker {
    /// The upload's id.
    pub(crate) fn id(&self) -> UploadId {
        self.entry.id
    }

    /// Notes the placeholder file (in `root`, the write directory) to
    /// remove at completion, and makes the progress file in `dir` (the
    /// target's directory, beside the temporary file) when `progress_files`.
    pub(crate) fn attach(&mut self, root: &Path, dir: &Path, progress_files: bool) {
        if self.entry.placeholder {
            self.placeholder_file = Some(placeholder_path(root, &self.entry.id));
        }
        if progress_files {
            let mut p = self.entry.progress();
            p.file = ProgressFile::create(dir, &self.entry.id);
        }
    }

    /// `n` more bytes arrived.
    pub(crate) fn add(&self, n: u64) {
        let received = self.entry.received.fetch_add(n, Ordering::Relaxed) + n;
        let mut p = self.entry.progress();
        let percent = percent_of(received, p.length, false);
        if let Some(file) = &mut p.file {
            file.update(code_of(&State::Receiving, percent));
        }
        drop(p);
        self.entry.notify();
    }

    /// The upload is stored.
    pub(crate) fn complete(mut self) {
        self.end(State::Complete);
        if let Some(file) = self.placeholder_file.take() {
            let _ = std::fs::remove_file(file);
        }
    }

    /// The upload ended in `error`: aborted when the client went away or
    /// paused too long, failed otherwise.
    pub(crate) fn fail(mut self, error: &Error) {
        let status = error.status();
        let aborted = status == StatusCode::REQUEST_TIMEOUT
            || matches!(error, Error::BadRequest(why) if why == super::INTERRUPTED || why == super::WENT_AWAY);
        if aborted {
            self.end(State::Aborted(error.to_string()));
        } else {
            self.refused(status, error.to_string());
        }
    }

    /// The upload was refused with `status`, for `why`.
    pub(crate) fn refused(mut self, status: StatusCode, why: String) {
        self.end(State::Failed(status.as_u16(), why));
    }

    fn end(&mut self, state: State) {
        self.ended = true;
        let mut p = self.entry.progress();
        if let Some(file) = p.file.take() {
            file.finish();
        }
        p.state = state;
        p.ended = Some(Instant::now());
        drop(p);
        self.entry.notify();
    }
}

impl Drop for Tracker {
    fn drop(&mut self) {
        if !self.ended {
            self.end(State::Aborted(super::WENT_AWAY.into()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn start(u: &Uploads, named: Option<&str>, path: &str) -> Result<Tracker, Error> {
        let upload = Starting {
            named,
            path,
            in_root: path,
            user: None,
            length: Some(10),
            content_type: None,
        };
        u.start(Path::new("/nonexistent"), upload)
    }

    #[test]
    fn an_upload_without_an_id_gets_one_and_its_progress() {
        let u = Uploads::default();
        let t = start(&u, None, "/a.bin").unwrap();
        t.add(5);
        let s = u.get(&t.id()).unwrap().snapshot();
        assert_eq!(
            (s.state.clone(), s.received, s.percent(), s.code()),
            (State::Receiving, 5, Some(50), 50)
        );
        let id = t.id();
        t.complete();
        let s = u.get(&id).unwrap().snapshot();
        assert_eq!((s.percent(), s.code()), (Some(100), 127));
    }

    #[test]
    fn a_dropped_upload_is_aborted_and_a_refused_one_failed() {
        let u = Uploads::default();
        let t = start(&u, None, "/a").unwrap();
        let id = t.id();
        drop(t);
        assert_eq!(u.get(&id).unwrap().snapshot().code(), -1);
        let t = start(&u, None, "/b").unwrap();
        let id = t.id();
        t.fail(&Error::PayloadTooLarge { limit: 1 });
        assert_eq!(u.get(&id).unwrap().snapshot().code(), -2);
    }

    #[test]
    fn required_ids_are_claimed_once_with_what_was_expected() {
        let u = Uploads::new(UploadOptions {
            require_id: true,
            ..UploadOptions::default()
        });
        assert_eq!(start(&u, None, "/a").unwrap_err().status(), 403);
        let expected = Expected {
            path: Some("/a".into()),
            size: Some(10),
            ..Expected::default()
        };
        let id = u.create(None, expected, false).unwrap().id.to_string();
        assert_eq!(start(&u, Some(&id), "/b").unwrap_err().status(), 403);
        let t = start(&u, Some(&id), "/a").unwrap();
        assert_eq!(start(&u, Some(&id), "/a").unwrap_err().status(), 403);
        t.complete();
        let unknown = UploadId::random().to_string();
        assert_eq!(start(&u, Some(&unknown), "/a").unwrap_err().status(), 403);
        assert_eq!(start(&u, Some("nothex"), "/a").unwrap_err().status(), 400);
    }

    #[test]
    fn placeholders_come_from_admins_or_files() {
        let dir = tempfile::tempdir().unwrap();
        let u = Uploads::new(UploadOptions {
            require_placeholder: true,
            ..UploadOptions::default()
        });
        let plain = u
            .create(None, Expected::default(), false)
            .unwrap()
            .id
            .to_string();
        let at = |named: &str| {
            let upload = Starting {
                named: Some(named),
                path: "/in/x/a.mp4",
                in_root: "/x/a.mp4",
                user: None,
                length: None,
                content_type: None,
            };
            u.start(dir.path(), upload)
        };
        assert_eq!(at(&plain).unwrap_err().status(), 403);
        let admin = u
            .create(None, Expected::default(), true)
            .unwrap()
            .id
            .to_string();
        at(&admin).unwrap().complete();
        let id = UploadId::random();
        std::fs::write(placeholder_path(dir.path(), &id), "x/a.mp4\n").unwrap();
        let mut t = at(&id.to_string()).unwrap();
        t.attach(dir.path(), dir.path(), false);
        t.complete();
        assert!(!placeholder_path(dir.path(), &id).exists());
        let id = UploadId::random();
        std::fs::write(placeholder_path(dir.path(), &id), "other.mp4").unwrap();
        assert_eq!(at(&id.to_string()).unwrap_err().status(), 403);
    }

    #[test]
    fn expected_ids_expire_and_owners_alone_read() {
        let u = Uploads::new(UploadOptions {
            placeholder_ttl: Duration::ZERO,
            ..UploadOptions::default()
        });
        let e = u
            .create(Some("alice".into()), Expected::default(), false)
            .unwrap();
        assert!(e.readable_by(Some("alice"), &[]));
        assert!(!e.readable_by(Some("bob"), &[]));
        assert!(e.readable_by(Some("bob"), &["bob".into()]));
        assert!(!e.readable_by(None, &[]));
        let id = e.id.to_string();
        assert_eq!(start(&u, Some(&id), "/a").unwrap_err().status(), 403);
    }
}

//! Resumable uploads: an upload that survives a dropped connection, a
//! pause and a server restart, and goes on from where it stopped.
//!
//! Two protocols share one engine ([`upload::Upload`]), built on the write
//! path's temporary file and atomic rename:
//! - the IETF draft (`ietf`): a PUT or POST to the target's URL with
//!   `Upload-Complete` creates the upload; the upload resource answers HEAD
//!   (offset), PATCH (`application/partial-upload`, append), DELETE;
//! - tus 1.0 (`tus`): a POST with `Tus-Resumable: 1.0.0` to a directory
//!   URL creates it (the name from `Upload-Metadata`'s `filename`); HEAD,
//!   PATCH (`application/offset+octet-stream`), DELETE, OPTIONS.
//!
//! Every upload resource is `{uploads_path}ID` ([`Resumable::route`]), its
//! id an [`UploadId`]; its files and state live beside the target
//! (`state`), so it survives a restart. Incomplete uploads are bounded: by
//! `maxs` each, by `resume_budget` together, by [`MAX_UPLOADS`] in number;
//! one idle for `resume_ttl` is removed (at start and by a timer,
//! [`Resumable::sweep`]). Readers at the live edge follow the upload across
//! requests, until it completes, is cancelled or expires.
//!
//! For the uploads registry: [`Resumable::get`] and [`Resumable::list`]
//! give a [`Snapshot`] of each upload (also of those ended recently).

mod error;
pub(crate) mod ietf;
mod state;
pub(crate) mod tus;
mod upload;

use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use http::request::Parts;
use http::{HeaderMap, Method, Response};
use httpout_core::{Allow, Body, Error};
use httpout_store::Kind;
use tokio::time::Instant;

pub(crate) use error::ResumeError;
use state::Record;
pub(crate) use upload::{Append, Appended, UploadState};
use upload::{Meta, Upload};

use super::WriteSite;
use super::registry::Tracker;
use super::upload_id::UploadId;

/// Incomplete uploads kept at most (each holds an open file).
pub(crate) const MAX_UPLOADS: usize = 10_000;

/// Ended uploads remembered for reports (and to tell a client its upload
/// completed), at most; each for `resume_ttl`.
const MAX_ENDED: usize = 1024;

/// The header names of both protocols.
pub(crate) mod headers {
    use http::HeaderName;

    /// Both: the offset.
    pub(crate) const UPLOAD_OFFSET: HeaderName = HeaderName::from_static("upload-offset");
    /// Both: the final length.
    pub(crate) const UPLOAD_LENGTH: HeaderName = HeaderName::from_static("upload-length");
    /// IETF: whether the request ends the upload (`?0`, `?1`).
    pub(crate) const UPLOAD_COMPLETE: HeaderName = HeaderName::from_static("upload-complete");
    /// IETF: the server's limits.
    pub(crate) const UPLOAD_LIMIT: HeaderName = HeaderName::from_static("upload-limit");
    /// IETF: the draft version a client speaks.
    pub(crate) const INTEROP: HeaderName = HeaderName::from_static("upload-draft-interop-version");
    /// Both: the upload's id (httpout's own).
    pub(crate) const UPLOAD_ID: HeaderName = HeaderName::from_static("upload-id");
    /// tus: the protocol version of the request or answer.
    pub(crate) const TUS_RESUMABLE: HeaderName = HeaderName::from_static("tus-resumable");
    /// tus: the versions supported.
    pub(crate) const TUS_VERSION: HeaderName = HeaderName::from_static("tus-version");
    /// tus: the extensions supported.
    pub(crate) const TUS_EXTENSION: HeaderName = HeaderName::from_static("tus-extension");
    /// tus: the largest upload.
    pub(crate) const TUS_MAX_SIZE: HeaderName = HeaderName::from_static("tus-max-size");
    /// tus: the checksum algorithms.
    pub(crate) const TUS_CHECKSUM_ALGORITHM: HeaderName =
        HeaderName::from_static("tus-checksum-algorithm");
    /// tus: the creation's metadata.
    pub(crate) const UPLOAD_METADATA: HeaderName = HeaderName::from_static("upload-metadata");
    /// tus: the checksum of a PATCH body.
    pub(crate) const UPLOAD_CHECKSUM: HeaderName = HeaderName::from_static("upload-checksum");
    /// tus: a length given later (refused: not implemented).
    pub(crate) const UPLOAD_DEFER_LENGTH: HeaderName =
        HeaderName::from_static("upload-defer-length");
}

/// Which protocol created an upload, or speaks in a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Protocol {
    /// draft-ietf-httpbis-resumable-upload.
    Ietf,
    /// tus 1.0.
    Tus,
}

impl Protocol {
    /// Its name in the state file and reports.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Ietf => "ietf",
            Self::Tus => "tus",
        }
    }

    fn from_name(name: &str) -> Option<Self> {
        match name {
            "ietf" => Some(Self::Ietf),
            "tus" => Some(Self::Tus),
            _ => None,
        }
    }
}

/// One upload as the registry reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Snapshot {
    /// Its id.
    pub(crate) id: UploadId,
    /// The target's URL path.
    pub(crate) target: String,
    /// Bytes written so far (may be ahead of `offset` while receiving).
    pub(crate) received: u64,
    /// Bytes on disk: where a client resumes.
    pub(crate) offset: u64,
    /// The final length, when known.
    pub(crate) length: Option<u64>,
    /// Where it stands.
    pub(crate) state: UploadState,
    /// When it was created.
    pub(crate) started: SystemTime,
    /// Which protocol created it.
    pub(crate) protocol: Protocol,
    /// The signed-in user who created it: only they (and uploads admins)
    /// read its progress.
    pub(crate) owner: Option<String>,
}

/// What a creation asks for.
#[derive(Debug)]
pub(crate) struct NewUpload {
    /// The target's directories below the write root.
    pub(crate) dirs: Vec<String>,
    /// The target's name.
    pub(crate) name: String,
    /// The target's URL path.
    pub(crate) url: String,
    /// The final length, when known.
    pub(crate) length: Option<u64>,
    /// Who creates it.
    pub(crate) protocol: Protocol,
    /// tus `Upload-Metadata`.
    pub(crate) metadata: Option<String>,
    /// The signed-in user.
    pub(crate) user: Option<String>,
    /// The expected upload it is, when it names an id
    /// ([`Uploads::start_resumable`](crate::write::registry::Uploads::start_resumable)):
    /// the upload takes that id, and the registry hands the entry over
    /// once the upload exists.
    pub(crate) claim: Option<Tracker>,
}

/// The incomplete uploads of a server, by id.
#[derive(Debug)]
pub(crate) struct Resumable {
    /// `uploads_path`, e.g. `/.uploads/`.
    url: String,
    /// `resume_ttl`.
    ttl: Duration,
    /// `resume_budget`.
    budget: u64,
    /// The largest `maxs` of the write directories attached.
    max_size: AtomicU64,
    /// Whether the expiry timer runs.
    sweeping: AtomicBool,
    uploads: Mutex<Uploads>,
}

#[derive(Debug, Default)]
struct Uploads {
    active: HashMap<UploadId, Arc<Upload>>,
    /// Bytes reserved by the active ones.
    reserved: u64,
    /// Recently ended ones, oldest first.
    ended: VecDeque<(Instant, Snapshot)>,
}

impl Resumable {
    /// A registry for the endpoint at `uploads_path` (starts and ends with
    /// `/`); `Err` says why the path is refused.
    pub(crate) fn new(
        uploads_path: &str,
        ttl: Duration,
        budget: u64,
    ) -> Result<Arc<Self>, &'static str> {
        if !uploads_path.starts_with('/') || !uploads_path.ends_with('/') || uploads_path == "/" {
            return Err("expected a URL path that starts and ends with `/`, e.g. /.uploads/");
        }
        let segments: Vec<String> = uploads_path
            .split('/')
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect();
        if segments
            .iter()
            .any(|s| s == "." || s == ".." || s.contains(['?', '#', '%', '\\']))
            || uploads_path.contains("//")
        {
            return Err("expected plain path segments (no `.`, `..`, `%`, `?`, `#`, `//`)");
        }
        Ok(Arc::new(Self {
            url: uploads_path.to_owned(),
            ttl,
            budget,
            max_size: AtomicU64::new(0),
            sweeping: AtomicBool::new(false),
            uploads: Mutex::default(),
        }))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Uploads> {
        self.uploads.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The URL of upload `id`.
    pub(crate) fn location(&self, id: UploadId) -> String {
        format!("{}{id}", self.url)
    }

    /// `resume_ttl`.
    pub(crate) fn ttl(&self) -> Duration {
        self.ttl
    }

    /// The largest upload accepted.
    pub(crate) fn max_size(&self) -> u64 {
        self.max_size.load(Ordering::Relaxed)
    }

    /// Upload `id`, in progress or ended recently.
    pub(crate) fn get(&self, id: UploadId) -> Option<Snapshot> {
        let uploads = self.lock();
        if let Some(up) = uploads.active.get(&id) {
            return Some(snapshot(up));
        }
        uploads
            .ended
            .iter()
            .rev()
            .find(|(_, s)| s.id == id)
            .map(|(_, s)| s.clone())
    }

    /// Every upload in progress or ended recently.
    pub(crate) fn list(&self) -> Vec<Snapshot> {
        let uploads = self.lock();
        let mut out: Vec<Snapshot> = uploads.ended.iter().map(|(_, s)| s.clone()).collect();
        out.extend(uploads.active.values().map(|u| snapshot(u)));
        out
    }

    fn active(&self, id: UploadId) -> Option<Arc<Upload>> {
        self.lock().active.get(&id).cloned()
    }

    /// Starts an upload: reserves its bytes, writes its state, creates its
    /// temporary file and registers it for readers at the live edge.
    pub(crate) fn create(
        &self,
        site: &WriteSite,
        mut new: NewUpload,
    ) -> Result<Arc<Upload>, ResumeError> {
        let claim = new.claim.take();
        let id = claim.as_ref().map_or_else(UploadId::random, Tracker::id);
        let protocol = new.protocol;
        let made = self.reserve_and_make(site, new, id);
        if let Some(tracker) = claim {
            match &made {
                Ok(_) => site.uploads.hand_over(tracker, site.root.path()),
                Err(e) => tracker.refused(e.status(protocol), e.reason().into_owned()),
            }
        }
        made
    }

    fn reserve_and_make(
        &self,
        site: &WriteSite,
        new: NewUpload,
        id: UploadId,
    ) -> Result<Arc<Upload>, ResumeError> {
        let reserve = new.length.unwrap_or(site.maxs);
        if reserve > site.maxs {
            return Err(ResumeError::TooLarge { limit: site.maxs });
        }
        {
            let mut uploads = self.lock();
            if uploads.active.len() >= MAX_UPLOADS {
                return Err(ResumeError::TooMany);
            }
            if uploads.reserved.saturating_add(reserve) > self.budget {
                return Err(ResumeError::OverBudget {
                    budget: self.budget,
                });
            }
            uploads.reserved += reserve;
        }
        let made = self.make(site, new, id, reserve);
        let mut uploads = self.lock();
        match made {
            Ok(up) => {
                uploads.active.insert(up.record().id, Arc::clone(&up));
                Ok(up)
            }
            Err(e) => {
                uploads.reserved -= reserve;
                Err(e)
            }
        }
    }

    fn make(
        &self,
        site: &WriteSite,
        new: NewUpload,
        id: UploadId,
        reserve: u64,
    ) -> Result<Arc<Upload>, ResumeError> {
        use super::write_error;
        let dir = site.root.dir(&new.dirs, true).map_err(write_error)?;
        if dir.kind(&new.name).map_err(write_error)? == Some(Kind::Dir) {
            return Err(Error::conflict("cannot write over a directory").into());
        }
        let record = Record {
            id,
            name: new.name,
            url: new.url,
            length: new.length,
            offset: 0,
            protocol: new.protocol,
            metadata: new.metadata,
            user: new.user,
            started: SystemTime::now(),
        };
        // The state first: a temporary file is never without it.
        record.save(&dir).map_err(write_error)?;
        let temp = dir.resumable_temp(&state::part_name(record.id), &record.name, true);
        let mut temp = match temp {
            Ok(t) => t,
            Err(e) => {
                let _ = dir.remove_file(&state::state_name(record.id));
                return Err(write_error(e).into());
            }
        };
        let target_path = target_path(site, &new.dirs, &record.name);
        let reader = temp.file().try_clone().map_err(super::io_error)?;
        let live = site.live.begin(target_path.clone(), reader);
        tracing::debug!(target: "httpout::static", "upload {} of {} started ({})", record.id, record.url, record.protocol.name());
        Ok(Arc::new(Upload {
            meta: Mutex::new(Meta {
                length: record.length,
                received: 0,
                durable: 0,
                state: UploadState::Suspended,
                active: Instant::now(),
            }),
            record: Mutex::new(record),
            dir,
            target_path,
            maxs: site.maxs,
            timeout: site.timeout,
            reserved: reserve,
            turn: tokio::sync::Mutex::new(Some(temp)),
            live: Mutex::new(Some(live)),
        }))
    }

    /// Takes in a write directory: the uploads an earlier run left there
    /// resume (those idle past `resume_ttl` are removed), and the expiry
    /// timer starts.
    pub(crate) fn attach(self: &Arc<Self>, site: &WriteSite) {
        self.max_size.fetch_max(site.maxs, Ordering::Relaxed);
        for found in state::scan(site.root.path(), site.max_depth) {
            if self.lock().active.contains_key(&found.id) {
                continue;
            }
            match self.restore(site, &found) {
                Ok(Some(up)) => {
                    let mut uploads = self.lock();
                    uploads.reserved += up.reserved;
                    uploads.active.insert(found.id, up);
                }
                Ok(None) => {}
                Err(e) => tracing::warn!(
                    target: "httpout::static",
                    "upload {} in {}: not resumed: {e}",
                    found.id,
                    found.dirs.join("/")
                ),
            }
        }
        if tokio::runtime::Handle::try_current().is_ok()
            && !self.sweeping.swap(true, Ordering::Relaxed)
        {
            let weak = Arc::downgrade(self);
            let period = (self.ttl / 4).clamp(Duration::from_secs(1), Duration::from_secs(60));
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(period);
                tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                loop {
                    tick.tick().await;
                    let Some(this) = weak.upgrade() else { break };
                    this.sweep().await;
                }
            });
        }
    }

    /// One upload found on disk, back in service (`None`: expired, removed).
    fn restore(
        &self,
        site: &WriteSite,
        found: &state::Found,
    ) -> Result<Option<Arc<Upload>>, String> {
        let dir = site
            .root
            .dir(&found.dirs, false)
            .map_err(|e| e.to_string())?;
        let mut record = Record::load(&dir, found.id).ok_or("its state cannot be read")?;
        let mut temp = dir
            .resumable_temp(&state::part_name(found.id), &record.name, false)
            .map_err(|e| e.to_string())?;
        if found.idle >= self.ttl {
            temp.discard();
            let _ = dir.remove_file(&state::state_name(found.id));
            tracing::info!(target: "httpout::static", "upload {} of {} expired", found.id, record.url);
            return Ok(None);
        }
        // Bytes past the recorded offset were never synced: cut them.
        let len = temp.file().metadata().map_err(|e| e.to_string())?.len();
        record.offset = record.offset.min(len);
        if len > record.offset {
            temp.file()
                .set_len(record.offset)
                .map_err(|e| e.to_string())?;
        }
        let target_path = target_path(site, &found.dirs, &record.name);
        let reader = temp.file().try_clone().map_err(|e| e.to_string())?;
        let live = site.live.begin(target_path.clone(), reader);
        live.advance(record.offset);
        let now = Instant::now();
        tracing::info!(
            target: "httpout::static",
            "upload {} of {} resumes at {} bytes",
            found.id,
            record.url,
            record.offset
        );
        Ok(Some(Arc::new(Upload {
            meta: Mutex::new(Meta {
                length: record.length,
                received: record.offset,
                durable: record.offset,
                state: UploadState::Suspended,
                active: now.checked_sub(found.idle).unwrap_or(now),
            }),
            reserved: record.length.unwrap_or(site.maxs),
            record: Mutex::new(record),
            dir,
            target_path,
            maxs: site.maxs,
            timeout: site.timeout,
            turn: tokio::sync::Mutex::new(Some(temp)),
            live: Mutex::new(Some(live)),
        })))
    }

    /// Moves a finished upload (complete, cancelled, expired) out of the
    /// active ones, releasing its bytes.
    fn ended(&self, id: UploadId) {
        let mut uploads = self.lock();
        let Some(up) = uploads.active.remove(&id) else {
            return;
        };
        uploads.reserved -= up.reserved;
        let now = Instant::now();
        uploads.ended.push_back((now, snapshot(&up)));
        while uploads.ended.len() > MAX_ENDED
            || uploads
                .ended
                .front()
                .is_some_and(|(at, _)| now.duration_since(*at) > self.ttl)
        {
            uploads.ended.pop_front();
        }
    }

    /// Removes the uploads idle for `resume_ttl` or longer (not those
    /// receiving), and forgets ended ones older than that.
    pub(crate) async fn sweep(&self) {
        let now = Instant::now();
        let idle: Vec<(UploadId, Arc<Upload>)> = self
            .lock()
            .active
            .iter()
            .filter(|(_, up)| {
                up.meta(|m| {
                    m.state != UploadState::Receiving && now.duration_since(m.active) >= self.ttl
                })
            })
            .map(|(id, up)| (*id, Arc::clone(up)))
            .collect();
        for (id, up) in idle {
            if up.discard("expired", true).await {
                tracing::info!(target: "httpout::static", "upload {id} of {} expired", up.record().url);
                self.ended(id);
            }
        }
        let mut uploads = self.lock();
        while uploads
            .ended
            .front()
            .is_some_and(|(at, _)| now.duration_since(*at) > self.ttl)
        {
            uploads.ended.pop_front();
        }
    }

    /// Answers a request for `{uploads_path}ID`: one match on the method.
    /// `user` is the signed-in user; an upload created by one is only
    /// theirs.
    pub(crate) async fn route(
        &self,
        req: &Parts,
        body: Body,
        id: &str,
        user: Option<&str>,
    ) -> Result<Response<Body>, Error> {
        let protocol = match tus::requested(&req.headers) {
            Ok(true) => Protocol::Tus,
            Ok(false) => Protocol::Ietf,
            Err(e) => return tus::finish(e.respond(Protocol::Tus)),
        };
        let answer = match req.method {
            Method::OPTIONS => Ok(self.options(req)),
            Method::HEAD => self.head(req, id, user, protocol).await,
            Method::PATCH => self.patch(req, body, id, user, protocol).await,
            Method::DELETE => self.delete(id, user).await,
            _ => {
                return Err(Allow::only([
                    Method::HEAD,
                    Method::PATCH,
                    Method::DELETE,
                    Method::OPTIONS,
                ])
                .refuse(&req.method));
            }
        };
        let res = match answer {
            Ok(res) => Ok(res),
            Err(e) => e.respond(protocol),
        };
        match protocol {
            Protocol::Tus => tus::finish(res),
            Protocol::Ietf => res,
        }
    }

    /// The upload `id` names, if active and the user's.
    fn find(&self, id: &str, user: Option<&str>) -> Result<Arc<Upload>, ResumeError> {
        let id: UploadId = id.parse().map_err(|_| ResumeError::NotFound)?;
        let up = self.active(id).ok_or(ResumeError::NotFound)?;
        match up.record().user {
            Some(owner) if user != Some(owner.as_str()) => Err(ResumeError::NotYours),
            _ => Ok(up),
        }
    }

    /// A recently completed upload `id`: its length, and how long it is
    /// still remembered.
    fn completed(&self, id: &str) -> Option<(u64, Duration)> {
        let id: UploadId = id.parse().ok()?;
        let uploads = self.lock();
        let (at, snap) = uploads.ended.iter().rev().find(|(_, s)| s.id == id)?;
        (snap.state == UploadState::Complete)
            .then(|| (snap.offset, self.ttl.saturating_sub(at.elapsed())))
    }

    /// The draft's offset-retrieval headers for a GET of IETF upload `id`
    /// (in progress or completed recently), added to `res`: what the
    /// upload stands at now, without waiting for an append to end (HEAD
    /// waits).
    pub(crate) fn standing(&self, id: UploadId, req: &HeaderMap, res: &mut HeaderMap) {
        let at = match self.active(id) {
            Some(up) if up.record().protocol == Protocol::Ietf => up.meta(|m| ietf::Standing {
                offset: m.durable,
                length: m.length,
                complete: m.state == UploadState::Complete,
                left: self.ttl.saturating_sub(m.active.elapsed()),
            }),
            Some(_) => return,
            None => {
                let Some((len, left)) = self.completed(&id.to_string()) else {
                    return;
                };
                if self.get(id).is_none_or(|s| s.protocol != Protocol::Ietf) {
                    return;
                }
                ietf::Standing {
                    offset: len,
                    length: Some(len),
                    complete: true,
                    left,
                }
            }
        };
        ietf::standing(at, self.max_size(), req, res);
    }

    /// OPTIONS: tus discovery and the draft's limits.
    fn options(&self, req: &Parts) -> Response<Body> {
        let mut res = tus::options(req, self.max_size());
        ietf::limits(
            res.headers_mut(),
            self.max_size(),
            self.ttl,
            ietf::Dialect::of(&req.headers),
        );
        res
    }

    async fn head(
        &self,
        req: &Parts,
        id: &str,
        user: Option<&str>,
        protocol: Protocol,
    ) -> Result<Response<Body>, ResumeError> {
        let (at, metadata) = match self.find(id, user) {
            Ok(up) => {
                let (offset, length, complete) = up.offset().await?;
                let idle = up.meta(|m| m.active.elapsed());
                let at = ietf::Standing {
                    offset,
                    length,
                    complete,
                    left: self.ttl.saturating_sub(idle),
                };
                (at, up.record().metadata)
            }
            Err(ResumeError::NotFound) => match self.completed(id) {
                Some((len, left)) => {
                    let at = ietf::Standing {
                        offset: len,
                        length: Some(len),
                        complete: true,
                        left,
                    };
                    (at, None)
                }
                None => return Err(ResumeError::NotFound),
            },
            Err(e) => return Err(e),
        };
        Ok(match protocol {
            Protocol::Tus => tus::head(at.offset, at.length, metadata.as_deref()),
            Protocol::Ietf => ietf::head(at, self.max_size(), &req.headers),
        })
    }

    async fn patch(
        &self,
        req: &Parts,
        body: Body,
        id: &str,
        user: Option<&str>,
        protocol: Protocol,
    ) -> Result<Response<Body>, ResumeError> {
        let append = match protocol {
            Protocol::Tus => tus::append(&req.headers)?,
            Protocol::Ietf => ietf::append(&req.headers)?,
        };
        // What an append to a completed upload is answered with.
        let (offset, complete) = (append.offset, append.complete);
        let empty = http_body::Body::is_end_stream(&body) || append.declared == Some(0);
        let after = |length| match protocol {
            Protocol::Tus => Err(ResumeError::Completed { length }),
            Protocol::Ietf => ietf::after_completion(offset, complete, empty, length, &req.headers),
        };
        let up = match self.find(id, user) {
            Err(ResumeError::NotFound) => {
                return match self.completed(id) {
                    Some((length, _)) => after(length),
                    None => Err(ResumeError::NotFound),
                };
            }
            other => other?,
        };
        let done = up.append(append, body).await;
        if matches!(done, Ok(Appended { done: Some(_), .. })) {
            let record = up.record();
            tracing::info!(target: "httpout::static", "upload {} of {} complete", record.id, record.url);
            self.ended(record.id);
        }
        let done = match done {
            Err(ResumeError::Completed { length }) => return after(length),
            done => done?,
        };
        Ok(match protocol {
            Protocol::Tus => tus::appended(done),
            Protocol::Ietf => ietf::appended(done, &req.headers),
        })
    }

    async fn delete(&self, id: &str, user: Option<&str>) -> Result<Response<Body>, ResumeError> {
        let up = self.find(id, user)?;
        if !up.discard("cancelled", false).await {
            return Err(ResumeError::Busy);
        }
        self.ended(up.record().id);
        let mut res = Response::new(Body::empty());
        *res.status_mut() = http::StatusCode::NO_CONTENT;
        Ok(res)
    }

    /// Appends a creation request's body, then ends the upload if that
    /// completed it (for the creation requests of both protocols).
    pub(crate) async fn first_append(
        &self,
        up: &Arc<Upload>,
        append: Append,
        body: Body,
    ) -> Result<Appended, ResumeError> {
        let done = up.append(append, body).await;
        if matches!(done, Ok(Appended { done: Some(_), .. })) {
            self.ended(up.record().id);
        }
        done
    }
}

/// A report of `up`.
fn snapshot(up: &Upload) -> Snapshot {
    let record = up.record();
    up.meta(|m| Snapshot {
        id: record.id,
        target: record.url.clone(),
        received: m.received,
        offset: m.durable,
        length: m.length,
        state: m.state.clone(),
        started: record.started,
        protocol: record.protocol,
        owner: record.user.clone(),
    })
}

/// The path readers at the live edge ask for.
fn target_path(site: &WriteSite, dirs: &[String], name: &str) -> PathBuf {
    let mut p = site.root.path().join(dirs.iter().collect::<PathBuf>());
    p.push(name);
    p
}

#[cfg(test)]
mod tests;

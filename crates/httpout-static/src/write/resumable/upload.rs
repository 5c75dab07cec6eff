//! One resumable upload: its temporary file, appended to by one request at
//! a time, checkpointed to disk, renamed over its target when complete.
//!
//! The engine both protocols share: [`Upload::append`] takes a body at an
//! offset; [`Upload::finish`] commits; [`Upload::discard`] cancels.

use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use httpout_core::{Body, Error};
use httpout_store::{AtomicFile, LiveWriter, ParentDir};
use sha1::Digest;
use tokio::time::Instant;

use super::ResumeError;
use super::state::{Record, state_name};
use crate::write::{io_error, next_data, write_error};

/// Bytes received between two checkpoints (data synced, state saved)
/// within one request: what a crash may cost the client to send again.
pub(crate) const CHECKPOINT: u64 = 16 << 20;

/// How long a request waits for another one appending to the same upload
/// to end (a client that resumes before the server saw it go away).
const TURN_WAIT: Duration = Duration::from_secs(10);

/// Where an upload stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum UploadState {
    /// A request is appending to it.
    Receiving,
    /// Between requests: it waits for the client to resume.
    Suspended,
    /// Complete and renamed into place.
    Complete,
    /// Cancelled (DELETE) or expired (`resume_ttl`).
    Aborted(&'static str),
    /// A write failed; the reason.
    Failed(String),
}

/// A checksum of one request's body (tus `Upload-Checksum`).
pub(crate) enum Checksum {
    /// SHA-1 and the digest expected.
    Sha1(sha1::Sha1, Vec<u8>),
    /// SHA-256 and the digest expected.
    Sha256(sha2::Sha256, Vec<u8>),
}

impl Checksum {
    fn update(&mut self, data: &[u8]) {
        match self {
            Self::Sha1(h, _) => h.update(data),
            Self::Sha256(h, _) => h.update(data),
        }
    }

    fn matches(self) -> bool {
        match self {
            Self::Sha1(h, want) => h.finalize().as_slice() == want.as_slice(),
            Self::Sha256(h, want) => h.finalize().as_slice() == want.as_slice(),
        }
    }
}

/// One append request, as the protocols read it.
pub(crate) struct Append {
    /// Where the client says the body goes.
    pub(crate) offset: u64,
    /// IETF `Upload-Complete`: whether this body ends the upload (`None`
    /// for tus: complete when the length is reached).
    pub(crate) complete: Option<bool>,
    /// The final length, if the request says it (`Upload-Length`).
    pub(crate) length: Option<u64>,
    /// The body's declared length (`Content-Length`).
    pub(crate) declared: Option<u64>,
    /// The body's checksum to verify before keeping it.
    pub(crate) checksum: Option<Checksum>,
}

/// What an append did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Appended {
    /// Bytes on disk now.
    pub(crate) offset: u64,
    /// `Some(replaced)` when the upload completed and its file was renamed
    /// into place (`replaced`: an older file was there).
    pub(crate) done: Option<bool>,
}

/// What changes while the upload goes on, for reports.
#[derive(Debug)]
pub(crate) struct Meta {
    /// The final length, once known.
    pub(crate) length: Option<u64>,
    /// Bytes written so far (the live edge).
    pub(crate) received: u64,
    /// Bytes on disk, as the state records them.
    pub(crate) durable: u64,
    /// Where it stands.
    pub(crate) state: UploadState,
    /// Its last activity (creation, an append's end), for `resume_ttl`.
    pub(crate) active: Instant,
}

/// A resumable upload in progress.
pub(crate) struct Upload {
    /// What the state file records (the offset as of the last save).
    pub(crate) record: Mutex<Record>,
    /// The target's directory.
    pub(crate) dir: ParentDir,
    /// The target's path, as readers at the live edge ask for it.
    pub(crate) target_path: PathBuf,
    /// `maxs`.
    pub(crate) maxs: u64,
    /// Longest pause within a body.
    pub(crate) timeout: Option<Duration>,
    /// Bytes reserved against `resume_budget`.
    pub(crate) reserved: u64,
    /// The temporary file; `None` once committed or discarded. Held by the
    /// request appending: one at a time.
    pub(crate) turn: tokio::sync::Mutex<Option<AtomicFile>>,
    /// Readers at the live edge follow it across requests.
    pub(crate) live: Mutex<Option<LiveWriter>>,
    /// For reports.
    pub(crate) meta: Mutex<Meta>,
}

impl std::fmt::Debug for Upload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Upload")
            .field("target", &self.target_path)
            .finish_non_exhaustive()
    }
}

impl Upload {
    /// The record, locked briefly.
    pub(crate) fn record(&self) -> Record {
        self.record
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The report data, locked briefly.
    pub(crate) fn meta<T>(&self, f: impl FnOnce(&mut Meta) -> T) -> T {
        f(&mut self.meta.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// The durable offset, after waiting (a bounded while) for a request
    /// appending now to end: what HEAD reports.
    pub(crate) async fn offset(&self) -> Result<(u64, Option<u64>, bool), ResumeError> {
        let guard = tokio::time::timeout(TURN_WAIT, self.turn.lock()).await;
        // No temporary file: committed, or discarded (cancelled, expired)
        // and about to be forgotten, which is no upload any more.
        let taken = guard.as_ref().is_ok_and(|g| g.is_none());
        drop(guard);
        self.meta(|m| match m.state {
            UploadState::Aborted(_) => Err(ResumeError::NotFound),
            _ => Ok((
                m.durable,
                m.length,
                taken || m.state == UploadState::Complete,
            )),
        })
    }

    /// Appends `body` at `req.offset`; see the module docs. The bytes
    /// received stay when the body is cut short (but for a body with a
    /// checksum, kept whole or not at all).
    pub(crate) async fn append(&self, req: Append, body: Body) -> Result<Appended, ResumeError> {
        let mut turn = tokio::time::timeout(TURN_WAIT, self.turn.lock())
            .await
            .map_err(|_| ResumeError::Busy)?;
        let start = self.meta(|m| m.durable);
        let Some(temp) = turn.as_mut() else {
            return Err(self.meta(|m| match m.state {
                UploadState::Complete => ResumeError::Completed {
                    length: m.length.unwrap_or(start),
                },
                _ => ResumeError::NotFound,
            }));
        };
        let known = self.meta(|m| m.length);
        if req.offset != start {
            return Err(ResumeError::OffsetMismatch {
                expected: start,
                provided: req.offset,
            });
        }
        let length = match (known, req.length) {
            (Some(a), Some(b)) if a != b => {
                return Err(ResumeError::InconsistentLength(
                    format!("the upload's length is {a}, not {b}").into(),
                ));
            }
            (Some(l), _) | (None, Some(l)) => Some(l),
            (None, None) => match (req.complete, req.declared) {
                (Some(true), Some(n)) => start.checked_add(n),
                _ => None,
            },
        };
        if length.is_some_and(|l| l < start) {
            return Err(ResumeError::InconsistentLength(
                format!("{start} bytes were received already").into(),
            ));
        }
        let limit = length.unwrap_or(self.maxs);
        if limit > self.maxs {
            return Err(ResumeError::TooLarge { limit: self.maxs });
        }
        if let Some(n) = req.declared {
            if start.saturating_add(n) > limit {
                return Err(match length {
                    Some(l) => ResumeError::InconsistentLength(
                        format!("{n} bytes at offset {start} pass the length, {l}").into(),
                    ),
                    None => ResumeError::TooLarge { limit: self.maxs },
                });
            }
            if req.complete == Some(true) && length.is_some_and(|l| start + n != l) {
                return Err(ResumeError::InconsistentLength(
                    "Upload-Complete: ?1 but the body does not end the upload".into(),
                ));
            }
        }
        if length != known {
            self.meta(|m| m.length = length);
            self.record
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .length = length;
        }
        self.meta(|m| m.state = UploadState::Receiving);
        let checked = req.checksum.is_some();
        let (at, received) = self.receive(temp, body, start, limit, req.checksum).await;
        // Whatever happened, what is kept is on disk before it is reported.
        let kept = match &received {
            Err(_) if checked => start,
            _ => at,
        };
        let saved = self.checkpoint(temp, start, kept, checked);
        self.meta(|m| {
            m.state = match &saved {
                Ok(()) => UploadState::Suspended,
                Err(e) => UploadState::Failed(e.to_string()),
            };
            m.active = Instant::now();
        });
        saved.map_err(ResumeError::Write)?;
        received?;
        let complete = match (req.complete, length) {
            (Some(false), _) => false,
            (Some(true), Some(l)) if l != kept => {
                return Err(ResumeError::InconsistentLength(
                    format!("the upload is {l} bytes but {kept} were received").into(),
                ));
            }
            (Some(true), _) => true,
            (None, l) => l == Some(kept),
        };
        if !complete {
            return Ok(Appended {
                offset: kept,
                done: None,
            });
        }
        let temp = turn.take().expect("checked above");
        let replaced = self.finish(temp, kept);
        if replaced.is_err() {
            *turn = None;
        }
        Ok(Appended {
            offset: kept,
            done: Some(replaced.map_err(ResumeError::Write)?),
        })
    }

    /// Streams the body into the temporary file from `start`, at most up to
    /// `limit`. Returns where it got to, and whether the body ended well.
    async fn receive(
        &self,
        temp: &mut AtomicFile,
        mut body: Body,
        start: u64,
        limit: u64,
        mut checksum: Option<Checksum>,
    ) -> (u64, Result<(), ResumeError>) {
        let mut at = start;
        let mut synced = start;
        loop {
            let data = match next_data(&mut body, self.timeout).await {
                Ok(Some(d)) => d,
                Ok(None) => break,
                Err(e) => return (at, Err(ResumeError::Interrupted(e))),
            };
            let room = limit - at;
            let take = (data.len() as u64).min(room) as usize;
            if let Err(e) = temp.file().write_all_at(&data[..take], at) {
                return (at, Err(ResumeError::Write(io_error(e))));
            }
            at += take as u64;
            if let Some(c) = checksum.as_mut() {
                c.update(&data[..take]);
            } else {
                self.advance(take as u64);
            }
            self.meta(|m| m.received = at);
            if take < data.len() {
                return (
                    at,
                    Err(match self.meta(|m| m.length) {
                        Some(l) => ResumeError::InconsistentLength(
                            format!("the body passes the upload's length, {l}").into(),
                        ),
                        None => ResumeError::TooLarge { limit: self.maxs },
                    }),
                );
            }
            if checksum.is_none() && at - synced >= CHECKPOINT {
                if let Err(e) = self.checkpoint(temp, start, at, false) {
                    return (at, Err(ResumeError::Write(e)));
                }
                synced = at;
            }
        }
        if let Some(c) = checksum {
            if !c.matches() {
                return (at, Err(ResumeError::ChecksumMismatch));
            }
            self.advance(at - start);
        }
        (at, Ok(()))
    }

    /// Makes `kept` the durable offset: the file cut to it (when a
    /// checked body is dropped), its data synced, then the state saved.
    fn checkpoint(
        &self,
        temp: &mut AtomicFile,
        start: u64,
        kept: u64,
        checked: bool,
    ) -> Result<(), Error> {
        let file = temp.file();
        if checked && kept == start {
            file.set_len(start).map_err(io_error)?;
            self.meta(|m| m.received = start);
        }
        file.sync_data().map_err(io_error)?;
        let mut record = self.record.lock().unwrap_or_else(PoisonError::into_inner);
        record.offset = kept;
        record.save(&self.dir).map_err(write_error)?;
        drop(record);
        self.meta(|m| m.durable = kept);
        Ok(())
    }

    /// Readers at the live edge see `n` more bytes.
    fn advance(&self, n: u64) {
        if let Some(w) = self
            .live
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
        {
            w.advance(n);
        }
    }

    /// Renames the complete file over its target (atomically), removes
    /// the state, tells readers. Returns whether a file was replaced.
    fn finish(&self, temp: AtomicFile, length: u64) -> Result<bool, Error> {
        let replaced = temp.commit().map_err(write_error)?;
        let id = self.record().id;
        if let Err(e) = self.dir.remove_file(&state_name(id)) {
            tracing::warn!(target: "httpout::static", "upload {id}: its state stays: {e}");
        }
        if let Some(w) = self
            .live
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
        {
            w.done();
        }
        self.meta(|m| {
            m.state = UploadState::Complete;
            m.length = Some(length);
        });
        Ok(replaced)
    }

    /// Removes the temporary file and the state (cancel, expiry): readers
    /// at the live edge see an abort; the target is untouched. `idle_only`:
    /// do nothing if a request is appending now. Returns whether it was
    /// discarded.
    pub(crate) async fn discard(&self, why: &'static str, idle_only: bool) -> bool {
        let mut turn = if idle_only {
            match self.turn.try_lock() {
                Ok(t) => t,
                Err(_) => return false,
            }
        } else {
            match tokio::time::timeout(TURN_WAIT, self.turn.lock()).await {
                Ok(t) => t,
                Err(_) => return false,
            }
        };
        let Some(temp) = turn.take() else {
            return false;
        };
        temp.discard();
        let id = self.record().id;
        let _ = self.dir.remove_file(&state_name(id));
        drop(
            self.live
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take(),
        );
        self.meta(|m| m.state = UploadState::Aborted(why));
        true
    }
}

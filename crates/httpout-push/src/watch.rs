//! Directories: every file pushed once, then (with `--watch`) the
//! directory followed with httpout-follow's [`Follower`] (the file sink's
//! follower too).
//!
//! While following:
//! - with `cte` (the default) a file that appears is uploaded as it is
//!   written: its upload starts at once, chunked, each write sent as it
//!   lands, and ends when its writer closes it (`IN_CLOSE_WRITE`) or
//!   renames it; without `cte`, it is sent whole, with a length, once
//!   closed;
//! - a writer's `NAME.tmp` (ffmpeg's DASH and HLS muxers write each segment
//!   and manifest so, then rename it to `NAME`) is pushed as `NAME` while
//!   it grows, ending at its close or its rename; the rename itself sends
//!   nothing more. Without `cte` it is sent whole, as `NAME`, at the rename;
//! - a file renamed into place (`IN_MOVED_TO`) is sent whole;
//! - a file is not pushed again while its length and modification time are
//!   those of its last confirmed upload;
//! - what is kept about pushed files is dropped when they are removed (at
//!   their event, or at the rescan that follows lost events): memory
//!   follows what is on disk, not every file ever pushed;
//! - with `--delete`, removing a pushed file deletes it at the origin.

use std::collections::HashMap;
use std::io::{Seek as _, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::SystemTime;

use bytes::Bytes;
use futures_util::StreamExt as _;
use http::Uri;
use http_body_util::StreamBody;
use httpout_core::Body;
use httpout_follow::{Change, Follower, final_path, is_temporary};
use tokio::io::AsyncReadExt as _;
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;

use crate::error::PushError;
use crate::lane::Lane;
use crate::{input, join, retry};

/// Length and modification time of a file as pushed.
pub(crate) type Stamp = (u64, SystemTime);

/// How a file being written is doing.
#[derive(Debug, Clone, Copy, Default)]
struct Growth {
    /// Bumped on each write seen.
    writes: u64,
    /// Its writer closed (or renamed) it.
    closed: bool,
}

/// What the follower knows, by the name each file is pushed as.
#[derive(Debug, Default)]
struct State {
    /// The stamp of each file's last confirmed upload, for files on disk.
    done: HashMap<PathBuf, Stamp>,
    /// Files being uploaded as they grow.
    growing: HashMap<PathBuf, watch::Sender<Growth>>,
}

type Shared = Arc<Mutex<State>>;

fn lock(state: &Shared) -> std::sync::MutexGuard<'_, State> {
    state.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Length and modification time of an open file.
fn stamp(file: &std::fs::File) -> Option<Stamp> {
    let m = file.metadata().ok()?;
    Some((m.len(), m.modified().ok()?))
}

/// httpout's own temporaries (an upload into a directory being pushed).
fn is_ours(path: &Path) -> bool {
    path.file_name()
        .is_some_and(|n| n.to_string_lossy().starts_with(".httpout-"))
}

/// The files of `root` to push as they are: not temporaries.
fn pushable(root: &Path) -> Vec<PathBuf> {
    let mut files = httpout_follow::files(root);
    files.retain(|p| !is_ours(p) && !is_temporary(p));
    files
}

/// Pushes a directory to one destination, and follows it with `watch`
/// until the stop. Each destination has its own follower and reads the
/// files from disk itself: a slow one holds no other back, and what it is
/// behind by stays on disk, not in memory.
pub(crate) async fn push_dir(pusher: &Lane, root: &Path) -> Result<(), PushError> {
    let root = root.canonicalize().map_err(|e| input(root, e))?;
    // Watch before the first pass, so that nothing written meanwhile is missed.
    let mut follower = if pusher.config.watch {
        Some(Follower::new(&root).map_err(|e| input(&root, e))?)
    } else {
        None
    };
    let mut dir = Dir::new(pusher, root);
    for path in pushable(&dir.root) {
        dir.whole(path);
        if !pusher.config.ka && failed(pusher) {
            break;
        }
    }
    if let Some(follower) = &mut follower {
        loop {
            tokio::select! {
                () = pusher.stop.cancelled() => break,
                change = follower.next() => {
                    let Some(change) = change else {
                        tracing::error!(target: "httpout::push", "push: inotify failed: no longer following {}", dir.root.display());
                        break;
                    };
                    dir.on_change(change);
                }
                Some(_) = dir.tasks.join_next(), if !dir.tasks.is_empty() => {}
            }
            if !pusher.config.ka && failed(pusher) {
                break;
            }
        }
        // Growing uploads end with what their files hold now.
        for tx in lock(&dir.state).growing.values() {
            tx.send_modify(|g| g.closed = true);
        }
    }
    while dir.tasks.join_next().await.is_some() {}
    let failures = pusher.report.failed.load(Ordering::Relaxed);
    if failures > 0 {
        return Err(PushError::Config(format!(
            "{failures} file(s) of {} were not pushed to {}",
            dir.root.display(),
            crate::destinations::label(&pusher.dst)
        )));
    }
    Ok(())
}

fn failed(pusher: &Lane) -> bool {
    pusher.report.failed.load(Ordering::Relaxed) > 0
}

/// A directory being pushed: its uploads, and what is known of its files.
struct Dir {
    pusher: Lane,
    root: PathBuf,
    state: Shared,
    /// Bounds whole-file uploads at once (`jobs`).
    jobs: Arc<Semaphore>,
    tasks: JoinSet<()>,
}

impl Dir {
    fn new(pusher: &Lane, root: PathBuf) -> Self {
        Self {
            jobs: Arc::new(Semaphore::new(pusher.config.jobs.max(1))),
            pusher: pusher.clone(),
            root,
            state: Arc::default(),
            tasks: JoinSet::new(),
        }
    }

    fn on_change(&mut self, change: Change) {
        let cte = self.pusher.config.cte;
        match change {
            Change::Created(path) if cte => self.grow(&path),
            // In a directory just created: its writer may still be at it,
            // and a temporary ends at its rename.
            Change::Found(path) if cte && is_temporary(&path) => self.grow(&path),
            Change::Found(path) => self.whole(path),
            Change::Created(_) => {}
            Change::Written(path) => {
                self.signal(&final_path(&path), |g| g.writes += 1);
            }
            Change::Closed(path) => {
                let growing = self.signal(&final_path(&path), |g| g.closed = true);
                if !growing {
                    self.whole(path);
                }
            }
            // The end of a `NAME.tmp` followed as `NAME`; anything else
            // arrives whole.
            Change::MovedIn(path) => {
                if !self.signal(&path, |g| g.closed = true) {
                    self.whole(path);
                }
            }
            Change::Gone(path) => {
                self.signal(&final_path(&path), |g| g.closed = true);
                self.forget(&path);
            }
            Change::Rescan => self.rescan(),
        }
    }

    /// Tells the growing upload of `name`, if any: whether there was one.
    fn signal(&self, name: &Path, change: impl FnOnce(&mut Growth)) -> bool {
        match lock(&self.state).growing.get(name) {
            Some(tx) => {
                tx.send_modify(change);
                true
            }
            None => false,
        }
    }

    /// After lost events: forgets the files that are gone, and pushes what
    /// changed meanwhile.
    fn rescan(&mut self) {
        let gone: Vec<PathBuf> = lock(&self.state)
            .done
            .keys()
            .filter(|p| !p.exists())
            .cloned()
            .collect();
        for path in gone {
            self.forget(&path);
        }
        for path in pushable(&self.root) {
            if !lock(&self.state).growing.contains_key(&path) {
                self.whole(path);
            }
        }
    }

    /// A file is gone: forgotten, and deleted at the origin with `delete`.
    fn forget(&mut self, path: &Path) {
        let pushed = lock(&self.state).done.remove(path).is_some();
        if !pushed || !self.pusher.config.delete {
            return;
        }
        let Ok(uri) = self.remote(path) else {
            return;
        };
        let pusher = self.pusher.clone();
        self.tasks.spawn(async move {
            let deleted = retry::run(&pusher.stop, &uri, &pusher.counters, || {
                pusher.client.delete(&uri)
            })
            .await;
            if let Err(e) = deleted {
                tracing::warn!(target: "httpout::push", "push: delete failed: {e}");
            }
        });
    }

    fn remote(&self, path: &Path) -> Result<Uri, PushError> {
        let rel = path.strip_prefix(&self.root).unwrap_or(path);
        join(&self.pusher.dst, rel)
    }

    /// The URL of `name`, or the failure counted.
    fn remote_or_report(&self, name: &Path) -> Option<Uri> {
        self.remote(name)
            .map_err(|e| {
                let _ = self.pusher.account(Err(e));
            })
            .ok()
    }

    /// Uploads a complete file (bounded by `jobs`) unless it was pushed as is.
    fn whole(&mut self, path: PathBuf) {
        if is_ours(&path) || is_temporary(&path) {
            return;
        }
        let now = std::fs::File::open(&path).ok().as_ref().and_then(stamp);
        if now.is_some() && lock(&self.state).done.get(&path).copied() == now {
            return;
        }
        let Some(uri) = self.remote_or_report(&path) else {
            return;
        };
        let (pusher, state, jobs) = (
            self.pusher.clone(),
            Arc::clone(&self.state),
            Arc::clone(&self.jobs),
        );
        self.tasks.spawn(async move {
            let Ok(_permit) = jobs.acquire_owned().await else {
                return;
            };
            if let Some(s) = pusher.file(&path, &uri).await {
                // Removed meanwhile: nothing to remember.
                if path.exists() {
                    lock(&state).done.insert(path, s);
                }
            }
        });
    }

    /// Uploads a file as it is written, chunk by chunk, as its final name,
    /// until its writer closes or renames it.
    fn grow(&mut self, path: &Path) {
        if is_ours(path) {
            return;
        }
        let name = final_path(path);
        // Seen twice (found, then created): one upload. A new version of a
        // file whose last upload is ending (a manifest rewritten): another.
        if lock(&self.state)
            .growing
            .get(&name)
            .is_some_and(|tx| !tx.borrow().closed)
        {
            return;
        }
        // Opened now: a `NAME.tmp` is soon renamed. Already gone: its
        // rename or removal is on its way.
        let Ok(file) = std::fs::File::open(path) else {
            return;
        };
        let Some(uri) = self.remote_or_report(&name) else {
            return;
        };
        let (tx, rx) = watch::channel(Growth::default());
        lock(&self.state).growing.insert(name.clone(), tx.clone());
        let (pusher, state) = (self.pusher.clone(), Arc::clone(&self.state));
        let shown = path.to_owned();
        self.tasks.spawn(async move {
            let sent = retry::run(&pusher.stop, &uri, &pusher.counters, || async {
                let mut from_start = file.try_clone().map_err(|e| input(&shown, e))?;
                from_start
                    .seek(SeekFrom::Start(0))
                    .map_err(|e| input(&shown, e))?;
                let counted = Arc::new(AtomicU64::new(0));
                let body = growing_body(
                    tokio::fs::File::from_std(from_start),
                    rx.clone(),
                    Arc::clone(&counted),
                );
                let content_type = crate::content_type(&name);
                pusher.client.upload(&uri, body, content_type).await?;
                Ok(counted.load(Ordering::Relaxed))
            })
            .await;
            let done = sent.as_ref().ok().and_then(|_| stamp(&file));
            let _ = pusher.account(sent);
            let mut st = lock(&state);
            if st.growing.get(&name).is_some_and(|t| t.same_channel(&tx)) {
                st.growing.remove(&name);
            }
            if let Some(s) = done {
                st.done.insert(name, s);
            }
        });
    }
}

/// A body that reads `file` as it grows, until `growth` says it is closed
/// and everything written has been read.
fn growing_body(
    file: tokio::fs::File,
    growth: watch::Receiver<Growth>,
    counted: Arc<AtomicU64>,
) -> Body {
    let frames =
        futures_util::stream::unfold(Some((file, growth, vec![0u8; 64 * 1024])), move |state| {
            let counted = Arc::clone(&counted);
            async move {
                let (mut file, mut growth, mut buf) = state?;
                loop {
                    let closed = growth.borrow_and_update().closed;
                    match file.read(&mut buf).await {
                        Err(e) => return Some((Err(e), None)),
                        Ok(n) if n > 0 => {
                            counted.fetch_add(n as u64, Ordering::Relaxed);
                            let data = Bytes::copy_from_slice(&buf[..n]);
                            return Some((Ok(data), Some((file, growth, buf))));
                        }
                        // Read to the end after the close: done.
                        Ok(_) if closed => return None,
                        Ok(_) => {
                            if growth.changed().await.is_err() {
                                return None;
                            }
                        }
                    }
                }
            }
        })
        .map(|r| r.map(http_body::Frame::data));
    Body::new(StreamBody::new(frames))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::PushConfig;

    /// A lane that never reaches its origin (nothing here uploads).
    fn pusher() -> Lane {
        crate::Pusher::new(PushConfig {
            watch: true,
            ..crate::tests::config("http://127.0.0.1:9/live/")
        })
        .unwrap()
        .lanes
        .remove(0)
    }

    #[tokio::test]
    async fn files_removed_from_disk_are_forgotten() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().canonicalize().unwrap();
        let mut dir = Dir::new(&pusher(), root.clone());
        let names = ["seg1.m4s", "seg2.m4s", "seg3.m4s", "live.mpd"];
        for name in names {
            let path = root.join(name);
            std::fs::write(&path, name).unwrap();
            let s = stamp(&std::fs::File::open(&path).unwrap()).unwrap();
            lock(&dir.state).done.insert(path, s);
        }
        // A segment removed with its event: forgotten at once.
        std::fs::remove_file(root.join("seg1.m4s")).unwrap();
        dir.on_change(Change::Gone(root.join("seg1.m4s")));
        assert_eq!(lock(&dir.state).done.len(), 3);
        // Two removed while events were lost: forgotten at the rescan,
        // and what is still there is not pushed again.
        std::fs::remove_file(root.join("seg2.m4s")).unwrap();
        std::fs::remove_file(root.join("seg3.m4s")).unwrap();
        dir.on_change(Change::Rescan);
        let left: Vec<PathBuf> = lock(&dir.state).done.keys().cloned().collect();
        assert_eq!(left, vec![root.join("live.mpd")]);
        assert!(dir.tasks.is_empty(), "nothing pushed again");
    }
}

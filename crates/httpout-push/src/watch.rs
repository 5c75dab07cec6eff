//! Directories: every file pushed once, then (with `--watch`) the
//! directory followed with inotify.
//!
//! While following, a file that appears is uploaded as it is written: with
//! `cte` (the default) its upload starts at once, chunked, each write sent
//! as it lands, and ends when its writer closes it (`IN_CLOSE_WRITE`);
//! without `cte`, it is sent whole, with a length, once closed. A file
//! renamed into place (`IN_MOVED_TO`, how packagers publish manifests) is
//! sent whole. Names ending in `.tmp` (a packager's file before its rename)
//! are not pushed. A file is not pushed again while its length and
//! modification time are those of its last confirmed upload. With
//! `--delete`, removing a pushed file deletes it at the origin.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::SystemTime;

use bytes::Bytes;
use futures_util::StreamExt as _;
use http::Uri;
use http_body_util::StreamBody;
use httpout_core::Body;
use inotify::{EventMask, Inotify, WatchDescriptor, WatchMask};
use tokio::io::AsyncReadExt as _;
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::error::PushError;
use crate::{Pusher, join, retry};

/// How a file being written is doing.
#[derive(Debug, Clone, Copy, Default)]
struct Growth {
    /// Bumped on each write seen.
    writes: u64,
    /// Its writer closed it.
    closed: bool,
}

/// What the follower knows.
#[derive(Debug, Default)]
struct State {
    /// Length and modification time of each file's last confirmed upload.
    done: HashMap<PathBuf, (u64, SystemTime)>,
    /// Files being uploaded as they grow.
    growing: HashMap<PathBuf, watch::Sender<Growth>>,
}

type Shared = Arc<Mutex<State>>;

fn lock(state: &Shared) -> std::sync::MutexGuard<'_, State> {
    state.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Length and modification time, for "already pushed" checks.
fn stamp(path: &Path) -> Option<(u64, SystemTime)> {
    let m = std::fs::metadata(path).ok()?;
    Some((m.len(), m.modified().ok()?))
}

fn skipped(path: &Path) -> bool {
    path.extension() == Some(OsStr::new("tmp"))
        || path
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with(".httpout-"))
}

/// Regular files under `dir`, recursively, sorted.
fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for path in paths {
        match std::fs::symlink_metadata(&path) {
            Ok(m) if m.is_dir() => walk(&path, out),
            Ok(m) if m.is_file() && !skipped(&path) => out.push(path),
            _ => {}
        }
    }
}

/// Pushes a directory, and follows it with `watch` until `stop`.
pub(crate) async fn push_dir(
    pusher: &Pusher,
    root: &Path,
    stop: CancellationToken,
) -> Result<(), PushError> {
    let input = |e| PushError::Input {
        path: root.display().to_string(),
        source: e,
    };
    let root = root.canonicalize().map_err(input)?;
    let state: Shared = Arc::default();
    let jobs = Arc::new(Semaphore::new(pusher.config.jobs.max(1)));
    let mut tasks = JoinSet::new();
    // Watch before the first pass, so that nothing written meanwhile is missed.
    let mut follower = if pusher.config.watch {
        Some(Follower::new(&root).map_err(input)?)
    } else {
        None
    };
    let mut files = Vec::new();
    walk(&root, &mut files);
    for path in files {
        spawn_whole(pusher, &state, &jobs, &root, path, &mut tasks);
        if !pusher.config.ka && failed(pusher) {
            break;
        }
    }
    if let Some(follower) = &mut follower {
        loop {
            tokio::select! {
                () = stop.cancelled() => break,
                Some(Ok(event)) = follower.events.next() => {
                    let Some(dir) = follower.dirs.get(&event.wd).cloned() else { continue };
                    let Some(name) = event.name else { continue };
                    let path = dir.join(name);
                    if event.mask.contains(EventMask::ISDIR) {
                        if event.mask.intersects(EventMask::CREATE | EventMask::MOVED_TO) {
                            follower.add(&path);
                            let mut more = Vec::new();
                            walk(&path, &mut more);
                            for file in more {
                                spawn_whole(pusher, &state, &jobs, &root, file, &mut tasks);
                            }
                        }
                        continue;
                    }
                    if skipped(&path) {
                        continue;
                    }
                    on_event(pusher, &state, &jobs, &root, path, event.mask, &mut tasks);
                }
                Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
            }
            if !pusher.config.ka && failed(pusher) {
                break;
            }
        }
        // Growing uploads end with what their files hold now.
        for tx in lock(&state).growing.values() {
            tx.send_modify(|g| g.closed = true);
        }
    }
    while tasks.join_next().await.is_some() {}
    let failures = pusher
        .report
        .failed
        .load(std::sync::atomic::Ordering::Relaxed);
    if failures > 0 {
        return Err(PushError::Config(format!(
            "{failures} file(s) of {} were not pushed",
            root.display()
        )));
    }
    Ok(())
}

fn failed(pusher: &Pusher) -> bool {
    pusher
        .report
        .failed
        .load(std::sync::atomic::Ordering::Relaxed)
        > 0
}

fn on_event(
    pusher: &Pusher,
    state: &Shared,
    jobs: &Arc<Semaphore>,
    root: &Path,
    path: PathBuf,
    mask: EventMask,
    tasks: &mut JoinSet<()>,
) {
    let growing = lock(state).growing.get(&path).cloned();
    if mask.contains(EventMask::CREATE) && pusher.config.cte {
        spawn_growing(pusher, state, root, path, tasks);
    } else if mask.contains(EventMask::MODIFY) {
        if let Some(tx) = growing {
            tx.send_modify(|g| g.writes += 1);
        }
    } else if mask.contains(EventMask::CLOSE_WRITE) {
        match growing {
            Some(tx) => tx.send_modify(|g| g.closed = true),
            None => spawn_whole(pusher, state, jobs, root, path, tasks),
        }
    } else if mask.contains(EventMask::MOVED_TO) {
        spawn_whole(pusher, state, jobs, root, path, tasks);
    } else if mask.intersects(EventMask::DELETE | EventMask::MOVED_FROM)
        && pusher.config.delete
        && lock(state).done.remove(&path).is_some()
    {
        let Ok(uri) = remote(pusher, root, &path) else {
            return;
        };
        let pusher = pusher.clone();
        tasks.spawn(async move {
            let deleted = retry::run(|| pusher.client.delete(&uri)).await;
            if let Err(e) = deleted {
                eprintln!("httpout: push: delete failed: {e}");
            }
        });
    }
}

fn remote(pusher: &Pusher, root: &Path, path: &Path) -> Result<Uri, PushError> {
    let rel = path.strip_prefix(root).unwrap_or(path);
    join(&pusher.config.dst, rel)
}

/// Uploads a complete file (bounded by `jobs`) unless it was pushed as is.
fn spawn_whole(
    pusher: &Pusher,
    state: &Shared,
    jobs: &Arc<Semaphore>,
    root: &Path,
    path: PathBuf,
    tasks: &mut JoinSet<()>,
) {
    let now = stamp(&path);
    if now.is_some() && lock(state).done.get(&path).copied() == now {
        return;
    }
    let uri = match remote(pusher, root, &path) {
        Ok(u) => u,
        Err(e) => {
            let _ = pusher.account(Err(e));
            return;
        }
    };
    let (pusher, state, jobs) = (pusher.clone(), Arc::clone(state), Arc::clone(jobs));
    tasks.spawn(async move {
        let Ok(_permit) = jobs.acquire_owned().await else {
            return;
        };
        if pusher.file(&path, &uri).await.is_ok() {
            if let Some(s) = now {
                lock(&state).done.insert(path, s);
            }
        }
    });
}

/// Uploads a file as it is written, chunk by chunk, until its writer
/// closes it.
fn spawn_growing(
    pusher: &Pusher,
    state: &Shared,
    root: &Path,
    path: PathBuf,
    tasks: &mut JoinSet<()>,
) {
    let uri = match remote(pusher, root, &path) {
        Ok(u) => u,
        Err(e) => {
            let _ = pusher.account(Err(e));
            return;
        }
    };
    let (tx, rx) = watch::channel(Growth::default());
    lock(state).growing.insert(path.clone(), tx);
    let (pusher, state) = (pusher.clone(), Arc::clone(state));
    tasks.spawn(async move {
        let shown = path.display().to_string();
        let sent = retry::run(|| async {
            let file = tokio::fs::File::open(&path)
                .await
                .map_err(|e| PushError::Input {
                    path: shown.clone(),
                    source: e,
                })?;
            let counted = Arc::new(std::sync::atomic::AtomicU64::new(0));
            let body = growing_body(file, rx.clone(), Arc::clone(&counted));
            let content_type = crate::content_type(&path);
            pusher.client.upload(&uri, body, content_type).await?;
            Ok(counted.load(std::sync::atomic::Ordering::Relaxed))
        })
        .await;
        let ok = sent.is_ok();
        let _ = pusher.account(sent);
        let mut st = lock(&state);
        st.growing.remove(&path);
        if let (true, Some(s)) = (ok, stamp(&path)) {
            st.done.insert(path, s);
        }
    });
}

/// A body that reads `file` as it grows, until `growth` says it is closed
/// and everything written has been read.
fn growing_body(
    file: tokio::fs::File,
    growth: watch::Receiver<Growth>,
    counted: Arc<std::sync::atomic::AtomicU64>,
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
                            counted.fetch_add(n as u64, std::sync::atomic::Ordering::Relaxed);
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

/// The inotify watches of a directory tree, and their events.
struct Follower {
    events: inotify::EventStream<Vec<u8>>,
    watches: inotify::Watches,
    dirs: HashMap<WatchDescriptor, PathBuf>,
}

impl Follower {
    fn new(root: &Path) -> std::io::Result<Self> {
        let events = Inotify::init()?.into_event_stream(vec![0u8; 64 * 1024])?;
        let watches = events.watches();
        let mut follower = Self {
            events,
            watches,
            dirs: HashMap::new(),
        };
        follower.add(root);
        Ok(follower)
    }

    /// Watches `dir` and the directories under it.
    fn add(&mut self, dir: &Path) {
        let mask = WatchMask::CREATE
            | WatchMask::MODIFY
            | WatchMask::CLOSE_WRITE
            | WatchMask::MOVED_TO
            | WatchMask::MOVED_FROM
            | WatchMask::DELETE;
        if let Ok(wd) = self.watches.add(dir, mask) {
            self.dirs.insert(wd, dir.to_path_buf());
        }
        if let Ok(entries) = std::fs::read_dir(dir) {
            for e in entries.flatten() {
                if e.file_type().is_ok_and(|t| t.is_dir()) {
                    self.add(&e.path());
                }
            }
        }
    }
}

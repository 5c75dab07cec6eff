//! Files being written, and how readers follow them (the live edge).
//!
//! While an upload streams into its temporary file, it is registered here
//! under the path it will have ([`Live::begin`]). A reader that asks for that
//! path gets a [`LiveFile`]: a read handle on the same open file and a
//! `watch` of its [`Progress`]. It serves the bytes already written, then
//! awaits the watch for more — no polling, no sleeping — until the writer is
//! [`State::Done`] (the response ends) or [`State::Aborted`] (the response
//! ends in an error, never as a complete body). The writer's handle marks
//! the file aborted if it is dropped before [`LiveWriter::done`].
//!
//! Since every writer of the server passes here (uploads, the file sink's
//! `-i` inputs, followed local writers), so does the `REC` request log
//! (`--reqlog=REC`, [`Live::log_writes`]): a line when a file starts
//! being written and one when it ends, with its path, bytes and duration
//! ([`Recording`]; writes that readers do not follow, such as range uploads
//! and form parts, log through [`Live::record`]):
//!
//! Readers can also wait for a path to be *completed* ([`Live::completion`]:
//! an LL-HLS blocking playlist reload waits for the next playlist), and
//! learn of paths announced to be written soon ([`Live::announce`]: the
//! parts an LL-HLS playlist's preload hint names), which a GET then waits
//! for instead of answering 404. Whoever understands a completed file's
//! contents hears of it through [`Live::on_complete`].
//!
//! ```text
//! httpout: REC start /srv/live/seg_12.m4s
//! httpout: REC end /srv/live/seg_12.m4s 183244B 1002.31ms
//! httpout: REC end /srv/live/seg_13.m4s 4096B 12.50ms (aborted)
//! ```

use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use tokio::sync::{Notify, watch};

/// Where a growing file stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// More bytes may come.
    Writing,
    /// Complete: `len` is the final size.
    Done,
    /// The writer gave up; the file will not be completed.
    Aborted,
}

/// Bytes written so far, and the state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Bytes readable from offset 0.
    pub len: u64,
    /// Whether more will come.
    pub state: State,
}

/// The files being written, by their final path.
#[derive(Default)]
pub struct Live {
    entries: Mutex<HashMap<PathBuf, Arc<Entry>>>,
    /// How many entries there are, readable without the lock: every GET
    /// asks, and almost always nothing is being written.
    len: AtomicUsize,
    /// Woken whenever a new file starts, for readers waiting for one.
    started: Notify,
    /// Whether writes are logged (`--reqlog=REC`).
    log_writes: AtomicBool,
    /// Readers waiting for a path to be completed, by path.
    completions: Mutex<HashMap<PathBuf, Arc<Notify>>>,
    /// Paths announced to be written soon, and until when.
    announced: Mutex<HashMap<PathBuf, tokio::time::Instant>>,
    /// Told of every completed file.
    on_complete: std::sync::OnceLock<CompleteHook>,
}

/// What [`Live::on_complete`] calls.
type CompleteHook = Box<dyn Fn(&Path) + Send + Sync>;

/// Paths announced at once, at most: a bound on memory whatever the
/// playlists say (the oldest announcements are forgotten first).
const MAX_ANNOUNCED: usize = 4096;

/// A reader's wait for a path to be completed ([`Live::completion`]).
#[derive(Debug)]
pub struct Completion {
    live: Arc<Live>,
    path: PathBuf,
    notify: Arc<Notify>,
}

impl Completion {
    /// A future that resolves at the next completion of the path after it
    /// is enabled: enable it (`Notified::enable`), then check the file,
    /// then await it, and no completion in between is missed.
    pub fn notified(&self) -> tokio::sync::futures::Notified<'_> {
        self.notify.notified()
    }
}

impl Drop for Completion {
    fn drop(&mut self) {
        let mut map = self
            .live
            .completions
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        // The map's reference and ours: no other reader waits on it.
        if map
            .get(&self.path)
            .is_some_and(|n| Arc::ptr_eq(n, &self.notify) && Arc::strong_count(n) == 2)
        {
            map.remove(&self.path);
        }
    }
}

impl std::fmt::Debug for Live {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Live")
            .field("len", &self.len)
            .field("log_writes", &self.log_writes)
            .finish_non_exhaustive()
    }
}

#[derive(Debug)]
struct Entry {
    file: Arc<File>,
    progress: watch::Sender<Progress>,
}

/// A reader's view of a growing file.
#[derive(Debug, Clone)]
pub struct LiveFile {
    /// A read handle on the file being written (read it with `pread`).
    pub file: Arc<File>,
    /// The writer's progress.
    pub progress: watch::Receiver<Progress>,
}

/// The writer's side: report progress, then done; dropping it aborts.
#[derive(Debug)]
pub struct LiveWriter {
    live: Arc<Live>,
    path: PathBuf,
    entry: Arc<Entry>,
    finished: bool,
    record: Recording,
}

/// One file being written, for the `REC` log: a start line when made, an
/// end line (bytes, duration, whether it was aborted) when ended or dropped.
/// Silent unless the registry logs writes.
#[derive(Debug)]
pub struct Recording {
    /// `None` when not logging, or once the end line is written.
    path: Option<PathBuf>,
    start: Instant,
    bytes: u64,
}

impl Live {
    /// A new, empty registry.
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// From now on, logs each file written on stderr (the `REC` lines of
    /// `--reqlog`, see the module docs). A registry shared by several
    /// servers logs if any of them asks.
    pub fn log_writes(&self) {
        self.log_writes.store(true, Ordering::Relaxed);
    }

    /// Starts the `REC` log of a write readers do not follow (a range
    /// upload, a form part): end it with [`Recording::end`].
    pub fn record(&self, path: &Path) -> Recording {
        let logged = self.log_writes.load(Ordering::Relaxed);
        Recording::start(logged.then(|| path.to_owned()))
    }

    /// Registers a file being written to become `path`; `file` is a handle
    /// readers may `pread` from. A later writer of the same path takes over
    /// for new readers; readers of the earlier one keep following it.
    pub fn begin(self: &Arc<Self>, path: PathBuf, file: File) -> LiveWriter {
        let (progress, _) = watch::channel(Progress {
            len: 0,
            state: State::Writing,
        });
        let entry = Arc::new(Entry {
            file: Arc::new(file),
            progress,
        });
        {
            let mut map = self.lock();
            map.insert(path.clone(), Arc::clone(&entry));
            self.len.store(map.len(), Ordering::Release);
        }
        self.started.notify_waiters();
        LiveWriter {
            live: Arc::clone(self),
            record: self.record(&path),
            path,
            entry,
            finished: false,
        }
    }

    /// Whether no file is being written at all (no lock taken).
    pub fn is_empty(&self) -> bool {
        self.len.load(Ordering::Acquire) == 0
    }

    /// The file being written to become `path`, if any.
    pub fn get(&self, path: &Path) -> Option<LiveFile> {
        if self.is_empty() {
            return None;
        }
        self.lock().get(path).map(|e| LiveFile {
            file: Arc::clone(&e.file),
            progress: e.progress.subscribe(),
        })
    }

    /// Like [`Live::get`], waiting up to `wait` for a writer to start.
    /// `None` at once when the file is on disk by then: a writer that
    /// started and finished while this waited (the caller reads the disk).
    pub async fn wait_for(&self, path: &Path, wait: Duration) -> Option<LiveFile> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let started = self.started.notified();
            tokio::pin!(started);
            started.as_mut().enable();
            if let Some(f) = self.get(path) {
                return Some(f);
            }
            tokio::select! {
                () = started => {
                    if self.get(path).is_none() && path.exists() {
                        return None;
                    }
                }
                () = tokio::time::sleep_until(deadline) => return self.get(path),
            }
        }
    }

    /// Waits for completions of `path` (a writer's [`LiveWriter::done`],
    /// after its rename): see [`Completion::notified`].
    pub fn completion(self: &Arc<Self>, path: &Path) -> Completion {
        let mut map = self
            .completions
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let notify = Arc::clone(map.entry(path.to_owned()).or_default());
        Completion {
            live: Arc::clone(self),
            path: path.to_owned(),
            notify,
        }
    }

    /// Calls `hook` with the path of every file completed from now on, on
    /// the writer's task, before readers waiting for the completion are
    /// woken (so it must be quick). One hook per registry: a second is
    /// ignored.
    pub fn on_complete(&self, hook: impl Fn(&Path) + Send + Sync + 'static) {
        let _ = self.on_complete.set(Box::new(hook));
    }

    /// Says that `path` is to be written within `within`: until then a
    /// reader may wait for it ([`Live::announced`]).
    pub fn announce(&self, path: PathBuf, within: Duration) {
        let now = tokio::time::Instant::now();
        let mut map = self
            .announced
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if map.len() >= MAX_ANNOUNCED {
            map.retain(|_, until| *until > now);
            if map.len() >= MAX_ANNOUNCED {
                map.clear();
            }
        }
        map.insert(path, now + within);
    }

    /// How much longer `path` is announced for, if it is.
    pub fn announced(&self, path: &Path) -> Option<Duration> {
        let map = self
            .announced
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if map.is_empty() {
            return None;
        }
        let left = map
            .get(path)?
            .checked_duration_since(tokio::time::Instant::now())?;
        (!left.is_zero()).then_some(left)
    }

    /// A complete file was moved to `path` by a writer this registry did
    /// not follow under that name (a local packager renaming `NAME.tmp`
    /// into place): told as a completion of `path`.
    pub fn arrived(&self, path: &Path) {
        self.completed(path);
    }

    /// `path` is complete: the hook, then readers waiting for it.
    fn completed(&self, path: &Path) {
        // An announcement stays until it expires: a reader that missed the
        // file by a moment still waits, finds it on disk and serves it.
        if let Some(hook) = self.on_complete.get() {
            hook(path);
        }
        // Under the lock: a reader's `Completion` dropped meanwhile still
        // finds the map's count as it left it.
        let map = self
            .completions
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(n) = map.get(path) {
            n.notify_waiters();
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<PathBuf, Arc<Entry>>> {
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl LiveWriter {
    /// `n` more bytes are readable.
    pub fn advance(&self, n: u64) {
        self.entry.progress.send_modify(|p| p.len += n);
    }

    /// The file is complete (call after it was renamed into place).
    pub fn done(mut self) {
        self.finish(State::Done);
    }

    fn finish(&mut self, state: State) {
        self.finished = true;
        self.entry.progress.send_modify(|p| p.state = state);
        self.record.bytes = self.entry.progress.borrow().len;
        self.record.finish(state);
        let mut map = self.live.lock();
        if map
            .get(&self.path)
            .is_some_and(|e| Arc::ptr_eq(e, &self.entry))
        {
            map.remove(&self.path);
        }
        drop(map);
        if state == State::Done {
            self.live.completed(&self.path);
        }
    }
}

impl Recording {
    fn start(path: Option<PathBuf>) -> Self {
        if let Some(p) = &path {
            tracing::info!(target: "httpout::access", "REC start {}", p.display());
        }
        Self {
            path,
            start: Instant::now(),
            bytes: 0,
        }
    }

    /// `n` more bytes were written.
    pub fn add(&mut self, n: u64) {
        self.bytes += n;
    }

    /// The file is complete: logs the end line.
    pub fn end(mut self) {
        self.finish(State::Done);
    }

    fn finish(&mut self, state: State) {
        if let Some(p) = self.path.take() {
            let ms = self.start.elapsed().as_secs_f64() * 1000.0;
            let cut = if state == State::Done {
                ""
            } else {
                " (aborted)"
            };
            tracing::info!(
                target: "httpout::access",
                "REC end {} {}B {ms:.2}ms{cut}",
                p.display(),
                self.bytes
            );
        }
    }
}

impl Drop for Recording {
    fn drop(&mut self) {
        self.finish(State::Aborted);
    }
}

impl Drop for LiveWriter {
    fn drop(&mut self) {
        if !self.finished {
            self.finish(State::Aborted);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn readers_follow_the_writer() {
        let live = Live::new();
        let dir = tempfile::tempdir().unwrap();
        let file = File::create(dir.path().join("x")).unwrap();
        let path = dir.path().join("final");
        assert!(live.get(&path).is_none());
        let waiter = {
            let live = Arc::clone(&live);
            let path = path.clone();
            tokio::spawn(async move { live.wait_for(&path, Duration::from_secs(5)).await })
        };
        tokio::task::yield_now().await;
        let writer = live.begin(path.clone(), file);
        let mut reader = waiter.await.unwrap().expect("found once started");
        writer.advance(5);
        reader.progress.changed().await.unwrap();
        assert_eq!(reader.progress.borrow().len, 5);
        writer.done();
        reader.progress.changed().await.unwrap();
        assert_eq!(
            *reader.progress.borrow(),
            Progress {
                len: 5,
                state: State::Done
            }
        );
        assert!(
            live.get(&path).is_none(),
            "finished files leave the registry"
        );

        let writer = live.begin(path.clone(), File::open(dir.path().join("x")).unwrap());
        let reader = live.get(&path).unwrap();
        drop(writer);
        assert_eq!(reader.progress.borrow().state, State::Aborted);
        assert!(
            live.wait_for(&path, Duration::from_millis(20))
                .await
                .is_none()
        );
    }

    /// A writer that starts and finishes while a reader waits for it: the
    /// reader is answered then, from the disk, not at the end of its wait.
    #[tokio::test(start_paused = true)]
    async fn a_writer_done_during_the_wait_ends_it_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("seg_7.m4s");
        let live = Live::new();
        let wait = Duration::from_secs(60);
        let waiter = {
            let (live, path) = (Arc::clone(&live), path.clone());
            tokio::spawn(async move {
                let asked = tokio::time::Instant::now();
                let got = live.wait_for(&path, wait).await;
                (got.is_some(), asked.elapsed())
            })
        };
        tokio::time::sleep(Duration::from_secs(1)).await;
        // The whole upload happens before the waiter runs again.
        std::fs::write(&path, b"whole").unwrap();
        let writer = live.begin(path.clone(), File::open(&path).unwrap());
        writer.advance(5);
        writer.done();
        let (live_edge, waited) = waiter.await.unwrap();
        assert!(!live_edge, "the file is complete: read it from the disk");
        assert!(
            waited < wait,
            "answered at the end of the wait ({waited:?})"
        );
    }
}

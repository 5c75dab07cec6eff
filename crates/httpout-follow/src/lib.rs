//! httpout-follow: files written under a directory tree, followed with
//! inotify. One follower serves the file sink (local writers served from
//! the live edge) and the push client (`--watch`); both read the same
//! [`Change`]s from a [`Follower`].
//!
//! - Every directory under the root is watched. A directory created (or
//!   moved in) later is watched as soon as its event is read, then walked:
//!   a file created in it before its watch existed has no event of its own,
//!   so it is reported as [`Change::Found`].
//! - When the kernel's event queue overflows (`IN_Q_OVERFLOW`: events were
//!   lost), the tree is walked again so that every directory is watched,
//!   and [`Change::Rescan`] tells the user to compare what it knows with
//!   the disk.
//! - A directory that cannot be watched (past `fs.inotify.max_user_watches`,
//!   no permission...) is reported once on stderr, with the fix; its files
//!   are still served or pushed, only not followed while written.
//! - Writers that write `NAME.tmp` and rename it to `NAME` when done
//!   (ffmpeg's DASH and HLS muxers) are reported under their real names;
//!   [`final_path`] gives the name readers and origins know them by.

mod writers;

pub use writers::has_writer;

use std::collections::{HashMap, VecDeque};
use std::ffi::OsStr;
use std::io;
use std::path::{Path, PathBuf};

use futures_util::StreamExt as _;
use inotify::{EventMask, EventStream, Inotify, WatchDescriptor, WatchMask, Watches};

/// What happened to a file under the followed root. Directories are the
/// follower's own business: they are watched, never reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// A file was created (`IN_CREATE`): a writer has it open.
    Created(PathBuf),
    /// A file was written to (`IN_MODIFY`).
    Written(PathBuf),
    /// A writer closed a file (`IN_CLOSE_WRITE`).
    Closed(PathBuf),
    /// A file was renamed into place (`IN_MOVED_TO`).
    MovedIn(PathBuf),
    /// A file was removed or renamed away (`IN_DELETE`, `IN_MOVED_FROM`).
    Gone(PathBuf),
    /// A file already there in a directory that was just watched: it may
    /// have been created, or even finished, before the watch existed.
    Found(PathBuf),
    /// Events were lost (the kernel's queue overflowed). Every directory
    /// is watched again; compare what you know with the disk.
    Rescan,
}

/// The events asked for on each directory.
fn mask() -> WatchMask {
    WatchMask::CREATE
        | WatchMask::MODIFY
        | WatchMask::CLOSE_WRITE
        | WatchMask::MOVED_TO
        | WatchMask::MOVED_FROM
        | WatchMask::DELETE
        | WatchMask::ONLYDIR
}

/// The watches of a directory tree, and what they report.
pub struct Follower {
    events: EventStream<Vec<u8>>,
    watches: Watches,
    root: PathBuf,
    dirs: HashMap<WatchDescriptor, PathBuf>,
    pending: VecDeque<Change>,
    /// Directories that could not be watched (the first is reported).
    watch_errors: u64,
}

impl std::fmt::Debug for Follower {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Follower")
            .field("root", &self.root)
            .field("dirs", &self.dirs.len())
            .field("pending", &self.pending.len())
            .field("watch_errors", &self.watch_errors)
            .finish_non_exhaustive()
    }
}

impl Follower {
    /// Watches `root` and every directory under it. Fails when inotify or
    /// the root's watch cannot be had (the error says which limit to raise).
    pub fn new(root: &Path) -> io::Result<Self> {
        let explained = |e: io::Error| io::Error::new(e.kind(), explain(root, &e));
        let events = Inotify::init()
            .and_then(|i| i.into_event_stream(vec![0u8; 64 * 1024]))
            .map_err(explained)?;
        let mut watches = events.watches();
        let wd = watches.add(root, mask()).map_err(explained)?;
        let mut follower = Self {
            events,
            watches,
            root: root.to_owned(),
            dirs: HashMap::from([(wd, root.to_owned())]),
            pending: VecDeque::new(),
            watch_errors: 0,
        };
        follower.walk(root, false);
        Ok(follower)
    }

    /// The next change; `None` when inotify itself failed (logged, with
    /// the root: nothing under it is followed any more). Cancel safe: a
    /// change read is kept until it is returned.
    pub async fn next(&mut self) -> Option<Change> {
        loop {
            if let Some(change) = self.pending.pop_front() {
                return Some(change);
            }
            let failed = match self.events.next().await {
                Some(Ok(event)) => {
                    self.handle(Some(&event.wd), event.mask, event.name.as_deref());
                    continue;
                }
                Some(Err(e)) => e.to_string(),
                None => "its events ended".to_owned(),
            };
            tracing::warn!(
                target: "httpout::follow",
                "inotify failed ({failed}): writes under {} are no longer followed",
                self.root.display()
            );
            return None;
        }
    }

    /// Turns one inotify event into changes (and watches).
    fn handle(&mut self, wd: Option<&WatchDescriptor>, mask: EventMask, name: Option<&OsStr>) {
        if mask.contains(EventMask::Q_OVERFLOW) {
            self.rescan();
            return;
        }
        if mask.contains(EventMask::IGNORED) {
            // The directory is gone: so is its watch.
            if let Some(wd) = wd {
                self.dirs.remove(wd);
            }
            return;
        }
        let (Some(dir), Some(name)) = (wd.and_then(|wd| self.dirs.get(wd)), name) else {
            return;
        };
        let path = dir.join(name);
        if mask.contains(EventMask::ISDIR) {
            if mask.intersects(EventMask::CREATE | EventMask::MOVED_TO) {
                self.watch_tree(&path, true);
            } else if mask.contains(EventMask::MOVED_FROM) {
                self.unwatch_tree(&path);
            }
            return;
        }
        let change = if mask.contains(EventMask::CREATE) {
            Change::Created(path)
        } else if mask.contains(EventMask::MODIFY) {
            Change::Written(path)
        } else if mask.contains(EventMask::CLOSE_WRITE) {
            Change::Closed(path)
        } else if mask.contains(EventMask::MOVED_TO) {
            Change::MovedIn(path)
        } else if mask.intersects(EventMask::DELETE | EventMask::MOVED_FROM) {
            Change::Gone(path)
        } else {
            return;
        };
        self.pending.push_back(change);
    }

    /// Watches `dir` and the directories under it; with `found`, reports
    /// the files already there.
    fn watch_tree(&mut self, dir: &Path, found: bool) {
        match self.watches.add(dir, mask()) {
            Ok(wd) => {
                self.dirs.insert(wd, dir.to_owned());
            }
            Err(e) => {
                self.watch_failed(dir, &e);
                return;
            }
        }
        self.walk(dir, found);
    }

    /// Watches the directories in `dir` (and reports its files with `found`).
    fn walk(&mut self, dir: &Path, found: bool) {
        for (path, is_dir) in entries(dir) {
            if is_dir {
                self.watch_tree(&path, found);
            } else if found {
                self.pending.push_back(Change::Found(path));
            }
        }
    }

    /// Stops watching `dir` and the directories under it (moved away).
    fn unwatch_tree(&mut self, dir: &Path) {
        let gone: Vec<WatchDescriptor> = self
            .dirs
            .iter()
            .filter(|(_, d)| d.starts_with(dir))
            .map(|(wd, _)| wd.clone())
            .collect();
        for wd in gone {
            self.dirs.remove(&wd);
            let _ = self.watches.remove(wd);
        }
    }

    /// After lost events: forgets directories that are gone, watches every
    /// directory there is (a watch added again keeps its descriptor), and
    /// tells the user.
    fn rescan(&mut self) {
        self.dirs.retain(|_, d| d.is_dir());
        let root = self.root.clone();
        self.walk(&root, false);
        self.pending.push_back(Change::Rescan);
    }

    /// A directory that cannot be watched: reported once (the first), with
    /// the fix. Returns whether it was reported. A directory that went away
    /// meanwhile is no error.
    fn watch_failed(&mut self, dir: &Path, e: &io::Error) -> bool {
        // ENOTDIR: replaced by a file meanwhile.
        if e.kind() == io::ErrorKind::NotFound || e.raw_os_error() == Some(20) {
            return false;
        }
        self.watch_errors += 1;
        if self.watch_errors > 1 {
            return false;
        }
        tracing::warn!(
            target: "httpout::follow",
            "{}; further directories that cannot be watched are not reported",
            explain(dir, e)
        );
        true
    }

    /// Whether `dir` is watched.
    #[cfg(test)]
    fn watches(&self, dir: &Path) -> bool {
        self.dirs.values().any(|d| d == dir)
    }
}

/// An inotify failure, with the limit to raise when one was hit.
fn explain(dir: &Path, e: &io::Error) -> String {
    // Linux errno values (inotify is Linux only): ENOSPC, EMFILE.
    let fix = match e.raw_os_error() {
        Some(28) => {
            "; too many inotify watches: raise the limit, e.g. \
             `sysctl fs.inotify.max_user_watches=524288`"
        }
        Some(24) => {
            "; too many inotify instances: raise the limit, e.g. \
             `sysctl fs.inotify.max_user_instances=1024`"
        }
        _ => "",
    };
    format!(
        "cannot follow writes in {}: {e}{fix}; files there are served but not followed while written",
        dir.display()
    )
}

/// The entries of `dir`, sorted: (path, is a directory); regular files
/// and directories only, symbolic links not followed.
fn entries(dir: &Path) -> Vec<(PathBuf, bool)> {
    let Ok(read) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out: Vec<(PathBuf, bool)> = read
        .flatten()
        .filter_map(|e| {
            let t = e.file_type().ok()?;
            (t.is_dir() || t.is_file()).then(|| (e.path(), t.is_dir()))
        })
        .collect();
    out.sort();
    out
}

/// Regular files under `dir`, recursively, sorted; symbolic links are not
/// followed.
pub fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for (path, is_dir) in entries(dir) {
        if is_dir {
            out.extend(files(&path));
        } else {
            out.push(path);
        }
    }
    out
}

/// Whether `path` is a writer's temporary, `NAME.tmp`, renamed to `NAME`
/// when done.
pub fn is_temporary(path: &Path) -> bool {
    temporary_of(path).is_some()
}

/// `NAME` for `NAME.tmp`.
fn temporary_of(path: &Path) -> Option<&str> {
    path.file_name()?
        .to_str()?
        .strip_suffix(".tmp")
        .filter(|name| !name.is_empty())
}

/// The name a file is known by: `NAME` for a writer's `NAME.tmp`, the
/// path itself otherwise.
pub fn final_path(path: &Path) -> PathBuf {
    match temporary_of(path) {
        Some(name) => path.with_file_name(name),
        None => path.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write as _;
    use std::time::Duration;

    use super::*;

    /// The next change, within a bound.
    async fn next(follower: &mut Follower) -> Change {
        tokio::time::timeout(Duration::from_secs(10), follower.next())
            .await
            .expect("a change within 10 s")
            .expect("inotify works")
    }

    fn root() -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        (dir, root)
    }

    #[tokio::test]
    async fn a_file_created_right_after_its_directory_is_found_then_followed() {
        let (_dir, root) = root();
        let mut follower = Follower::new(&root).unwrap();
        // Nothing is read until the files exist: their directories' watches
        // come after them, so they have no CREATE of their own.
        std::fs::create_dir_all(root.join("new/deeper")).unwrap();
        let mut a = std::fs::File::create(root.join("new/a.m4s")).unwrap();
        a.write_all(b"first").unwrap();
        std::fs::write(root.join("new/deeper/b.m4s"), b"b").unwrap();
        let mut seen = Vec::new();
        for _ in 0..10 {
            seen.push(next(&mut follower).await);
            if seen.contains(&Change::Found(root.join("new/a.m4s")))
                && seen.contains(&Change::Found(root.join("new/deeper/b.m4s")))
            {
                break;
            }
        }
        assert!(
            seen.contains(&Change::Found(root.join("new/a.m4s")))
                && seen.contains(&Change::Found(root.join("new/deeper/b.m4s"))),
            "{seen:?}"
        );
        // And the new directory is watched: later writes are seen.
        a.write_all(b"second").unwrap();
        drop(a);
        let mut closed = false;
        for _ in 0..10 {
            if next(&mut follower).await == Change::Closed(root.join("new/a.m4s")) {
                closed = true;
                break;
            }
        }
        assert!(closed, "the close of new/a.m4s was seen");
    }

    #[tokio::test]
    async fn an_overflow_watches_what_was_missed_and_asks_for_a_rescan() {
        let (_dir, root) = root();
        let mut follower = Follower::new(&root).unwrap();
        std::fs::create_dir(root.join("lost")).unwrap();
        // The kernel says events were lost (as it does when its queue is
        // full): the directory whose creation may have been lost is
        // watched at once, before any other event is read.
        follower.handle(None, EventMask::Q_OVERFLOW, None);
        assert!(follower.watches(&root.join("lost")));
        assert_eq!(next(&mut follower).await, Change::Rescan);
    }

    #[tokio::test]
    async fn a_real_queue_overflow_is_seen() {
        let (_dir, root) = root();
        let limit: usize = std::fs::read_to_string("/proc/sys/fs/inotify/max_queued_events")
            .expect("inotify's queue limit is readable")
            .trim()
            .parse()
            .unwrap();
        assert!(
            limit <= 1 << 20,
            "max_queued_events is {limit}: too many events to provoke an overflow"
        );
        let mut follower = Follower::new(&root).unwrap();
        // Each new empty file makes two events (CREATE, CLOSE_WRITE),
        // none of them read meanwhile.
        for i in 0..limit / 2 + 8 {
            std::fs::File::create(root.join(format!("f{i}"))).unwrap();
        }
        std::fs::create_dir(root.join("late")).unwrap();
        let mut rescanned = false;
        for _ in 0..limit + 16 {
            if next(&mut follower).await == Change::Rescan {
                rescanned = true;
                break;
            }
        }
        assert!(rescanned, "no rescan after {limit} events");
        assert!(follower.watches(&root.join("late")));
    }

    #[tokio::test]
    async fn a_watch_limit_is_reported_once_with_the_fix() {
        let e = io::Error::from_raw_os_error(28);
        let text = explain(Path::new("/srv/out"), &e);
        assert!(text.contains("/srv/out"), "{text}");
        assert!(text.contains("fs.inotify.max_user_watches"), "{text}");
        let (_dir, root) = root();
        let mut follower = Follower::new(&root).unwrap();
        assert!(follower.watch_failed(&root, &e));
        assert!(!follower.watch_failed(&root, &e), "reported once");
        assert!(!follower.watch_failed(&root, &io::Error::from_raw_os_error(2)));
    }

    #[test]
    fn temporaries_map_to_their_final_names() {
        let p = Path::new("/out/seg_1.m4s.tmp");
        assert!(is_temporary(p));
        assert_eq!(final_path(p), Path::new("/out/seg_1.m4s"));
        assert!(!is_temporary(Path::new("/out/.tmp")));
        assert_eq!(final_path(Path::new("/out/a.mpd")), Path::new("/out/a.mpd"));
    }

    #[test]
    fn files_are_listed_recursively_and_sorted() {
        let (_dir, root) = root();
        std::fs::create_dir_all(root.join("b/c")).unwrap();
        std::fs::write(root.join("b/c/z"), b"").unwrap();
        std::fs::write(root.join("a"), b"").unwrap();
        std::os::unix::fs::symlink(root.join("a"), root.join("link")).unwrap();
        assert_eq!(files(&root), vec![root.join("a"), root.join("b/c/z")]);
    }
}

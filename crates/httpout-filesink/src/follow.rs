//! Local writers followed with inotify: a packager writing into a read
//! directory (`ffmpeg -f dash out/live.mpd` beside `httpout --rdirs=out`)
//! makes a live origin without HTTP ingest.
//!
//! A file that is created or modified under the directory is registered in
//! the [`Live`] registry while it is written, so GETs follow it at the live
//! edge; its length is read (`fstat`) at each modification event and
//! announced to readers; it is finished at `IN_CLOSE_WRITE`. Writers that
//! write `NAME.tmp` and rename it to `NAME` when done (ffmpeg's DASH and HLS
//! muxers do, to avoid readers seeing partial files) are followed under
//! `NAME`: readers get the segment while it is produced instead of a 404.
//!
//! A writer that never closes its file: the file is taken as finished after
//! `idle` without a modification, so readers' responses end.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use httpout_store::{Live, LiveWriter, TEMP_PREFIX};
use inotify::{EventMask, Inotify, WatchDescriptor, WatchMask, Watches};

/// A file being written by another process.
struct Tracked {
    file: File,
    writer: LiveWriter,
    reported: u64,
    last_change: Instant,
}

/// Starts following writers under `root` (recursively). Returns when the
/// watches are in place; the following runs in a task until the process ends.
pub fn follow(
    root: &Path,
    live: Arc<Live>,
    idle: Duration,
) -> io::Result<tokio::task::JoinHandle<()>> {
    let inotify = Inotify::init()?;
    let mut stream = inotify.into_event_stream(vec![0u8; 64 * 1024])?;
    let mut watches = stream.watches();
    let mut dirs: HashMap<WatchDescriptor, PathBuf> = HashMap::new();
    watch_tree(&mut watches, &mut dirs, root)?;
    Ok(tokio::spawn(async move {
        let mut files: HashMap<PathBuf, Tracked> = HashMap::new();
        let mut sweep = tokio::time::interval(Duration::from_secs(1));
        loop {
            tokio::select! {
                event = stream.next() => {
                    let Some(Ok(event)) = event else { break };
                    let Some(dir) = dirs.get(&event.wd).cloned() else { continue };
                    let Some(name) = event.name.as_deref() else { continue };
                    let path = dir.join(name);
                    if event.mask.contains(EventMask::ISDIR) {
                        if event.mask.intersects(EventMask::CREATE | EventMask::MOVED_TO) {
                            let _ = watch_tree(&mut watches, &mut dirs, &path);
                        }
                        continue;
                    }
                    if is_ours(name) {
                        continue;
                    }
                    if event.mask.intersects(EventMask::CREATE | EventMask::MODIFY) {
                        changed(&live, &mut files, &path);
                    } else if event.mask.contains(EventMask::CLOSE_WRITE) {
                        if let Some(mut t) = files.remove(&path) {
                            report(&mut t);
                            t.writer.done();
                        }
                    }
                }
                _ = sweep.tick() => {
                    let stale: Vec<PathBuf> = files
                        .iter()
                        .filter(|(_, t)| t.last_change.elapsed() >= idle)
                        .map(|(p, _)| p.clone())
                        .collect();
                    for path in stale {
                        if let Some(mut t) = files.remove(&path) {
                            report(&mut t);
                            t.writer.done();
                        }
                    }
                }
            }
        }
    }))
}

/// httpout's own upload temporaries are registered by the upload itself.
fn is_ours(name: &OsStr) -> bool {
    name.to_string_lossy().starts_with(TEMP_PREFIX)
}

/// The path readers ask for: `NAME` for a `NAME.tmp` being written.
fn served_path(path: &Path) -> PathBuf {
    match path.to_str().and_then(|p| p.strip_suffix(".tmp")) {
        Some(stripped) if !stripped.ends_with('/') => PathBuf::from(stripped),
        _ => path.to_owned(),
    }
}

fn changed(live: &Arc<Live>, files: &mut HashMap<PathBuf, Tracked>, path: &Path) {
    if !files.contains_key(path) {
        let Ok(file) = File::open(path) else { return };
        if !file.metadata().is_ok_and(|m| m.is_file()) {
            return;
        }
        let Ok(reader) = file.try_clone() else { return };
        let writer = live.begin(served_path(path), reader);
        files.insert(
            path.to_owned(),
            Tracked {
                file,
                writer,
                reported: 0,
                last_change: Instant::now(),
            },
        );
    }
    if let Some(t) = files.get_mut(path) {
        t.last_change = Instant::now();
        report(t);
    }
}

/// Announces bytes written since the last report.
fn report(t: &mut Tracked) {
    let len = t.file.metadata().map_or(t.reported, |m| m.len());
    if len > t.reported {
        t.writer.advance(len - t.reported);
        t.reported = len;
    }
}

fn watch_tree(
    watches: &mut Watches,
    dirs: &mut HashMap<WatchDescriptor, PathBuf>,
    dir: &Path,
) -> io::Result<()> {
    let mask = WatchMask::CREATE
        | WatchMask::MODIFY
        | WatchMask::CLOSE_WRITE
        | WatchMask::MOVED_TO
        | WatchMask::ONLYDIR;
    let wd = watches.add(dir, mask)?;
    dirs.insert(wd, dir.to_owned());
    for entry in std::fs::read_dir(dir)?.flatten() {
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            let _ = watch_tree(watches, dirs, &entry.path());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    #[tokio::test]
    async fn a_local_writer_is_followed_and_tmp_files_map_to_their_final_name() {
        let dir = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(dir.path()).unwrap();
        std::fs::create_dir(root.join("sub")).unwrap();
        let live = Live::new();
        let _task = follow(&root, Arc::clone(&live), Duration::from_secs(30)).unwrap();
        let limit = Duration::from_secs(5);

        let mut f = File::create(root.join("sub/seg_1.m4s.tmp")).unwrap();
        f.write_all(b"abc").unwrap();
        let mut follower =
            tokio::time::timeout(limit, live.wait_for(&root.join("sub/seg_1.m4s"), limit))
                .await
                .unwrap()
                .expect("followed under its final name");
        tokio::time::timeout(limit, follower.progress.wait_for(|p| p.len >= 3))
            .await
            .unwrap()
            .unwrap();
        f.write_all(b"def").unwrap();
        tokio::time::timeout(limit, follower.progress.wait_for(|p| p.len >= 6))
            .await
            .unwrap()
            .unwrap();
        drop(f);
        tokio::time::timeout(
            limit,
            follower
                .progress
                .wait_for(|p| p.state == httpout_store::State::Done),
        )
        .await
        .unwrap()
        .unwrap();
        std::fs::rename(root.join("sub/seg_1.m4s.tmp"), root.join("sub/seg_1.m4s")).unwrap();

        // A directory created later is watched too.
        std::fs::create_dir(root.join("new")).unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
        let mut g = File::create(root.join("new/x.ts")).unwrap();
        g.write_all(b"x").unwrap();
        assert!(
            tokio::time::timeout(limit, live.wait_for(&root.join("new/x.ts"), limit))
                .await
                .unwrap()
                .is_some()
        );
    }
}

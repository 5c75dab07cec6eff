//! Local writers followed with inotify: a packager writing into a read
//! directory (`ffmpeg -f dash out/live.mpd` beside `httpout --rdirs=out`)
//! makes a live origin without HTTP ingest. The watching itself is
//! httpout-follow's [`Follower`], shared with the push client.
//!
//! A file that is created or modified under the directory is registered in
//! the [`Live`] registry while it is written, so GETs follow it at the live
//! edge; its length is read (`fstat`) at each modification event and
//! announced to readers; it is finished at `IN_CLOSE_WRITE`, or when it is
//! renamed or removed. Writers that write `NAME.tmp` and rename it to
//! `NAME` when done (ffmpeg's DASH and HLS muxers do, to avoid readers
//! seeing partial files) are followed under `NAME`: readers get the segment
//! while it is produced instead of a 404. A file found in a directory that
//! was just created (written before the directory's watch existed) is
//! followed too.
//!
//! A writer that never closes its file (or one whose close was lost when
//! inotify's queue overflowed): the file is taken as finished after `idle`
//! without a modification, so readers' responses end.

use std::collections::HashMap;
use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use httpout_follow::{Change, Follower, final_path};
use httpout_store::{Live, LiveWriter, TEMP_PREFIX};

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
    let mut follower = Follower::new(root)?;
    Ok(tokio::spawn(async move {
        let mut files: HashMap<PathBuf, Tracked> = HashMap::new();
        let mut sweep = tokio::time::interval(Duration::from_secs(1));
        loop {
            tokio::select! {
                change = follower.next() => {
                    let Some(change) = change else { break };
                    on_change(&live, &mut files, change);
                }
                _ = sweep.tick() => {
                    let stale: Vec<PathBuf> = files
                        .iter()
                        .filter(|(_, t)| t.last_change.elapsed() >= idle)
                        .map(|(p, _)| p.clone())
                        .collect();
                    for path in stale {
                        finish(&mut files, &path);
                    }
                }
            }
        }
    }))
}

fn on_change(live: &Arc<Live>, files: &mut HashMap<PathBuf, Tracked>, change: Change) {
    match change {
        Change::Created(path) | Change::Written(path) => {
            if !is_ours(&path) {
                changed(live, files, &path);
            }
        }
        // Found in a directory just watched: growing only if a writer
        // still has it open (else it is complete, and served as a file).
        Change::Found(path) => {
            if !is_ours(&path) && (files.contains_key(&path) || httpout_follow::has_writer(&path)) {
                changed(live, files, &path);
            }
        }
        Change::Closed(path) | Change::Gone(path) => finish(files, &path),
        // A packager's `NAME.tmp` renamed into place: `NAME` is complete
        // now, not at the temporary's close (blocking playlist reloads
        // wait for this).
        Change::MovedIn(path) => {
            if !is_ours(&path) {
                live.arrived(&path);
            }
        }
        // Lost events: announce what each file holds now; closes that were
        // lost end at `idle`, files that are gone end now.
        Change::Rescan => {
            let gone: Vec<PathBuf> = files.keys().filter(|p| !p.exists()).cloned().collect();
            for path in gone {
                finish(files, &path);
            }
            files.values_mut().for_each(report);
        }
    }
}

/// httpout's own upload temporaries are registered by the upload itself.
fn is_ours(path: &Path) -> bool {
    path.file_name()
        .is_some_and(|n| n.to_string_lossy().starts_with(TEMP_PREFIX))
}

fn changed(live: &Arc<Live>, files: &mut HashMap<PathBuf, Tracked>, path: &Path) {
    if !files.contains_key(path) {
        let Ok(file) = File::open(path) else { return };
        if !file.metadata().is_ok_and(|m| m.is_file()) {
            return;
        }
        let Ok(reader) = file.try_clone() else { return };
        let writer = live.begin(final_path(path), reader);
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

/// The writer of `path` is done: what it wrote is announced, then the end.
fn finish(files: &mut HashMap<PathBuf, Tracked>, path: &Path) {
    if let Some(mut t) = files.remove(path) {
        report(&mut t);
        t.writer.done();
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

        // A directory created later is watched too, and a file written in
        // it right after the mkdir (before its watch can exist) is followed.
        std::fs::create_dir(root.join("new")).unwrap();
        let mut g = File::create(root.join("new/x.ts")).unwrap();
        g.write_all(b"x").unwrap();
        assert!(
            tokio::time::timeout(limit, live.wait_for(&root.join("new/x.ts"), limit))
                .await
                .unwrap()
                .is_some()
        );
    }

    #[tokio::test]
    async fn a_complete_file_found_in_a_new_directory_is_not_held_as_growing() {
        let dir = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(dir.path()).unwrap();
        let live = Live::new();
        let _task = follow(&root, Arc::clone(&live), Duration::from_secs(30)).unwrap();
        let limit = Duration::from_secs(5);
        // Written and closed right after its directory appeared: complete.
        std::fs::create_dir(root.join("done")).unwrap();
        std::fs::write(root.join("done/z.ts"), b"whole").unwrap();
        // Then a directory whose file still has its writer: growing.
        std::fs::create_dir(root.join("growing")).unwrap();
        let mut w = File::create(root.join("growing/y.ts")).unwrap();
        w.write_all(b"y").unwrap();
        assert!(
            tokio::time::timeout(limit, live.wait_for(&root.join("growing/y.ts"), limit))
                .await
                .unwrap()
                .is_some()
        );
        // The events of `done` came first and are handled by now.
        assert!(
            live.wait_for(&root.join("done/z.ts"), Duration::ZERO)
                .await
                .is_none(),
            "a complete file would hold its readers until the idle timeout"
        );
        drop(w);
    }
}

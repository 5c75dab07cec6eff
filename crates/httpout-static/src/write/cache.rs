//! `max_cache_segs`: how many segments of a stream are kept.
//!
//! A stream is the files of one name template in one directory: the file
//! name with its last run of digits as the number (`video_1_seg_00012.m4s`
//! is number 12 of `video_1_seg_#.m4s`). After an upload completes, the
//! oldest segments of its stream beyond the limit are deleted. Manifests
//! (`.mpd`, `.m3u8`) and names without a number are never evicted. A
//! segment being read is not cut: its readers hold the open file.
//!
//! Limits, as in the reference ([`Retention::keep`]), with N the option and
//! D the time-shift depth in segments when a manifest of the directory
//! gives one ([`manifest`]): in memory (`gmem`) MIN(N, D), at least 1 (`-N`
//! counts as N, 0 as 1); on disk `-N` keeps the last N, a positive N keeps
//! MAX(N, D), or everything without time-shift information; 0 keeps
//! everything.

use super::manifest;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

/// `max_cache_segs` and where the files are kept: how many segments of a
/// stream to keep.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Retention {
    /// The `max_cache_segs` option (default 0 here: keep everything).
    pub max_cache_segs: i64,
    /// Whether the write directory is the memory store (`gmem`).
    pub in_memory: bool,
}

impl Retention {
    /// The number of segments of a stream to keep, given the time-shift
    /// depth (in segments) of the stream's manifest when it is known;
    /// `None`: all of them.
    pub fn keep(self, depth: Option<usize>) -> Option<usize> {
        let n = usize::try_from(self.max_cache_segs.unsigned_abs()).unwrap_or(usize::MAX);
        if self.in_memory {
            // Memory is never unbounded: at least one segment, as the
            // reference says.
            let n = n.max(1);
            return Some(depth.map_or(n, |d| n.min(d)).max(1));
        }
        match self.max_cache_segs {
            0 => None,
            m if m < 0 => Some(n),
            _ => depth.map(|d| n.max(d)),
        }
    }

    /// Whether no segment can ever be evicted (on disk with 0).
    pub(crate) fn keeps_all(self) -> bool {
        !self.in_memory && self.max_cache_segs == 0
    }
}

/// Manifests seen more than this many at once are forgotten (a bound on
/// memory, whatever writers name their files).
const MAX_MANIFESTS: usize = 4096;

/// The time-shift depth of each manifest uploaded, by its path.
#[derive(Debug, Default)]
pub(crate) struct Depths(Mutex<HashMap<PathBuf, usize>>);

impl Depths {
    fn set(&self, manifest: PathBuf, depth: Option<usize>) {
        let mut map = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        match depth {
            Some(d) => {
                if map.len() >= MAX_MANIFESTS && !map.contains_key(&manifest) {
                    map.clear();
                }
                map.insert(manifest, d);
            }
            None => {
                map.remove(&manifest);
            }
        }
    }

    /// The deepest time shift of the manifests in `dir`.
    fn of_dir(&self, dir: &Path) -> Option<usize> {
        let map = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        map.iter()
            .filter(|(p, _)| p.parent() == Some(dir))
            .map(|(_, d)| *d)
            .max()
    }
}

/// After `name` was uploaded into `dir` (in the blocking pool): a manifest
/// updates its directory's time-shift depth; a segment has the oldest of
/// its stream beyond the limit deleted.
pub(crate) fn after_upload(retention: Retention, depths: &Depths, dir: &Path, name: &str) {
    let path = dir.join(name);
    if manifest::is_manifest(name) {
        depths.set(path.clone(), manifest::depth_of_file(&path));
        return;
    }
    if let Some(keep) = retention.keep(depths.of_dir(dir)) {
        evict(dir, name, keep);
    }
}

/// Splits a segment name into (template, number); `None` for manifests
/// and names without digits. An LL-HLS part (`seg12.part3.m4s`, Apple's
/// `filePart273.0.mp4`: a number, `.` or a separator holding `part`, a
/// number) counts as its segment's: template `seg#.part#.m4s`, number 12.
pub(crate) fn template(name: &str) -> Option<(String, u64)> {
    let lower = name.to_ascii_lowercase();
    // Manifests, and init segments (one per representation: their number
    // names the representation, not a time).
    if manifest::is_manifest(name) || lower.starts_with("init") {
        return None;
    }
    // The number is in the stem: `.m4s` has a digit too.
    let stem_len = name.rfind('.').unwrap_or(name.len());
    let bytes = &name.as_bytes()[..stem_len];
    let end = bytes.iter().rposition(u8::is_ascii_digit)? + 1;
    let start = bytes[..end]
        .iter()
        .rposition(|b| !b.is_ascii_digit())
        .map_or(0, |i| i + 1);
    // A part: the run before, separated by `.` or by something saying
    // `part`, is the segment's number.
    if let Some(prev_end) = bytes[..start]
        .iter()
        .rposition(u8::is_ascii_digit)
        .map(|i| i + 1)
    {
        let sep = &lower[prev_end..start];
        if sep == "." || sep.contains("part") {
            let prev_start = bytes[..prev_end]
                .iter()
                .rposition(|b| !b.is_ascii_digit())
                .map_or(0, |i| i + 1);
            let number = name[prev_start..prev_end].parse().ok()?;
            let template = format!(
                "{}#{}#{}",
                &name[..prev_start],
                &name[prev_end..start],
                &name[end..]
            );
            return Some((template, number));
        }
    }
    let number = name[start..end].parse().ok()?;
    Some((format!("{}#{}", &name[..start], &name[end..]), number))
}

/// Deletes the oldest segments of `name`'s stream in `dir` beyond `keep`.
pub(crate) fn evict(dir: &Path, name: &str, keep: usize) {
    let Some((stream, _)) = template(name) else {
        return;
    };
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let segments: Vec<(u64, std::path::PathBuf)> = entries
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .filter_map(|e| {
            let n = e.file_name().to_string_lossy().into_owned();
            match template(&n) {
                Some((t, number)) if t == stream => Some((number, e.path())),
                _ => None,
            }
        })
        .collect();
    if segments.len() <= keep {
        return;
    }
    // Kept by segment number: a segment's parts go together.
    let mut numbers: Vec<u64> = segments.iter().map(|(n, _)| *n).collect();
    numbers.sort_unstable();
    numbers.dedup();
    if numbers.len() <= keep {
        return;
    }
    let oldest_kept = numbers[numbers.len() - keep];
    for (n, path) in segments {
        if n < oldest_kept {
            let _ = std::fs::remove_file(path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_and_limits() {
        assert_eq!(
            template("video_1_seg_00012.m4s"),
            Some(("video_1_seg_#.m4s".into(), 12))
        );
        assert_eq!(
            template("chunk-stream0-00003.m4s"),
            Some(("chunk-stream0-#.m4s".into(), 3))
        );
        assert_eq!(
            template("init-stream0.m4s"),
            None,
            "init segments are never evicted"
        );
        assert_eq!(template("live.mpd"), None);
        assert_eq!(template("index7.m3u8"), None);
        assert_eq!(template("readme"), None);
        // LL-HLS parts count as their segment.
        assert_eq!(
            template("seg12.part3.m4s"),
            Some(("seg#.part#.m4s".into(), 12))
        );
        assert_eq!(
            template("filePart273.0.mp4"),
            Some(("filePart#.#.mp4".into(), 273))
        );
        assert_eq!(
            template("v2_seg_0012.m4s"),
            Some(("v2_seg_#.m4s".into(), 12)),
            "a representation's number is not a part's"
        );
        assert_eq!(
            template("audio.m4s"),
            None,
            "the extension's digit is not a number"
        );
    }

    fn keep(max_cache_segs: i64, in_memory: bool, depth: Option<usize>) -> Option<usize> {
        Retention {
            max_cache_segs,
            in_memory,
        }
        .keep(depth)
    }

    /// Issue 11 item 8: memory is bounded even with 0, and the manifest's
    /// time-shift depth D enters as MIN (memory) or MAX (disk, N > 0).
    #[test]
    fn the_reference_rule_with_and_without_time_shift_depth() {
        // In memory: MIN(N, D), at least 1; 0 is 1, -N is N.
        assert_eq!(keep(5, true, None), Some(5));
        assert_eq!(keep(0, true, None), Some(1), "never unbounded in memory");
        assert_eq!(keep(-3, true, None), Some(3));
        assert_eq!(keep(5, true, Some(3)), Some(3));
        assert_eq!(keep(5, true, Some(8)), Some(5));
        assert_eq!(keep(0, true, Some(8)), Some(1));
        assert_eq!(keep(5, true, Some(0)), Some(1));
        // On disk: -N keeps N whatever D; N > 0 keeps MAX(N, D), or all
        // without time-shift information; 0 keeps all.
        assert_eq!(keep(-3, false, None), Some(3));
        assert_eq!(keep(-3, false, Some(10)), Some(3));
        assert_eq!(keep(5, false, None), None);
        assert_eq!(keep(5, false, Some(3)), Some(5));
        assert_eq!(keep(5, false, Some(12)), Some(12));
        assert_eq!(keep(0, false, Some(12)), None);
        assert_eq!(keep(i64::MIN, false, None), Some(1 << 63));
    }

    #[test]
    fn a_manifest_sets_the_depth_of_its_directory() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        for i in 1..=10 {
            std::fs::write(d.join(format!("v_{i}.m4s")), "x").unwrap();
        }
        let count = || std::fs::read_dir(d).unwrap().count();
        let depths = Depths::default();
        let memory = Retention {
            max_cache_segs: 6,
            in_memory: true,
        };
        // No manifest yet: N.
        after_upload(memory, &depths, d, "v_10.m4s");
        assert_eq!(count(), 6);
        // 8 s of time shift in 2 s segments: 4, below N.
        std::fs::write(
            d.join("live.mpd"),
            r#"<?xml version="1.0"?><MPD type="dynamic" timeShiftBufferDepth="PT8S" maxSegmentDuration="PT2S"></MPD>"#,
        )
        .unwrap();
        after_upload(memory, &depths, d, "live.mpd");
        assert_eq!(depths.of_dir(d), Some(4));
        assert_eq!(depths.of_dir(&d.join("other")), None);
        after_upload(memory, &depths, d, "v_10.m4s");
        assert_eq!(count(), 5, "4 segments and the manifest");
        // A manifest without time-shift information forgets its depth.
        std::fs::write(d.join("live.mpd"), "<MPD/>").unwrap();
        after_upload(memory, &depths, d, "live.mpd");
        assert_eq!(depths.of_dir(d), None);
    }

    #[test]
    fn the_oldest_go_first_and_other_streams_stay() {
        let dir = tempfile::tempdir().unwrap();
        for i in 1..=6 {
            std::fs::write(dir.path().join(format!("v_{i}.m4s")), "x").unwrap();
            std::fs::write(dir.path().join(format!("a_{i}.m4s")), "x").unwrap();
        }
        std::fs::write(dir.path().join("live.mpd"), "m").unwrap();
        evict(dir.path(), "v_6.m4s", 2);
        let mut names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert!(names.contains(&"v_5.m4s".into()) && names.contains(&"v_6.m4s".into()));
        assert!(!names.contains(&"v_4.m4s".into()));
        assert_eq!(names.iter().filter(|n| n.starts_with("a_")).count(), 6);
        assert!(names.contains(&"live.mpd".into()));
    }

    #[test]
    fn parts_go_with_their_segment() {
        let dir = tempfile::tempdir().unwrap();
        for seg in 1..=4 {
            for part in 0..5 {
                std::fs::write(dir.path().join(format!("seg{seg}.part{part}.m4s")), "x").unwrap();
            }
        }
        evict(dir.path(), "seg4.part4.m4s", 2);
        let left = |seg| {
            (0..5)
                .filter(|p| dir.path().join(format!("seg{seg}.part{p}.m4s")).exists())
                .count()
        };
        assert_eq!([left(1), left(2), left(3), left(4)], [0, 0, 5, 5]);
    }
}

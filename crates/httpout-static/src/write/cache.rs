//! `max_cache_segs`: how many segments of a stream are kept.
//!
//! A stream is the files of one name template in one directory: the file
//! name with its last run of digits as the number (`video_1_seg_00012.m4s`
//! is number 12 of `video_1_seg_#.m4s`). After an upload completes, the
//! oldest segments of its stream beyond the limit are deleted. Manifests
//! (`.mpd`, `.m3u8`) and names without a number are never evicted. A
//! segment being read is not cut: its readers hold the open file.
//!
//! Limits, as in the reference (there is no time-shift information here):
//! in memory (`gmem`) at most N (`-N` counts as N); on disk `-N` keeps the
//! last N and a positive N keeps everything; 0 keeps everything.

use std::path::Path;

/// The number of segments of a stream to keep, if any limit applies.
pub(crate) fn keep(max_cache_segs: i64, in_memory: bool) -> Option<usize> {
    let n = max_cache_segs.unsigned_abs() as usize;
    match (in_memory, max_cache_segs) {
        (_, 0) => None,
        (true, _) => Some(n),
        (false, m) if m < 0 => Some(n),
        (false, _) => None,
    }
}

/// Splits a segment name into (template, number); `None` for manifests
/// and names without digits.
pub(crate) fn template(name: &str) -> Option<(String, u64)> {
    let lower = name.to_ascii_lowercase();
    // Manifests, and init segments (one per representation: their number
    // names the representation, not a time).
    if lower.ends_with(".mpd") || lower.ends_with(".m3u8") || lower.starts_with("init") {
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
    let mut segments: Vec<(u64, std::path::PathBuf)> = entries
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
    segments.sort_by_key(|(n, _)| *n);
    let excess = segments.len() - keep;
    for (_, path) in segments.into_iter().take(excess) {
        let _ = std::fs::remove_file(path);
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
        assert_eq!(
            template("audio.m4s"),
            None,
            "the extension's digit is not a number"
        );
        assert_eq!(
            (keep(5, true), keep(0, true), keep(-3, true)),
            (Some(5), None, Some(3))
        );
        assert_eq!(
            (keep(5, false), keep(0, false), keep(-3, false)),
            (None, None, Some(3))
        );
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
}

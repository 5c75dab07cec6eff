//! A resumable upload on disk: its temporary file and its state, side by
//! side in the target's directory, and the scan that finds them at start.
//!
//! For upload ID of `dir/movie.mp4`:
//! - `dir/.httpout-upload-resume-ID.part`: the bytes received, written
//!   at their offsets; it becomes `movie.mp4` by an atomic rename once
//!   complete;
//! - `dir/.httpout-upload-resume-ID.state`: a small JSON record (id, file
//!   name, URL, length, durable offset, protocol, metadata, owner, start),
//!   replaced atomically (written beside, synced, renamed) after the
//!   temporary file's data was synced. The offset it records is one whose
//!   bytes are all on disk: after a crash, the temporary file is cut back
//!   to it (it may hold more, never synced).
//!
//! Both names start with [`RESUME_PREFIX`]: hidden from reads and listings,
//! refused to writes, kept by [`WriteRoot::new`]. At start the write
//! directory is walked (as deep as `max_depth`, at most [`MAX_SCANNED`]
//! directories) for `.state` files; a `.part` without its state, or a
//! state without its `.part`, is removed.

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use httpout_store::{ParentDir, RESUME_PREFIX, StoreError};
use serde_json::{Value, json};

use super::Protocol;
use crate::write::upload_id::UploadId;

/// Directories visited at most by the scan at start.
pub(crate) const MAX_SCANNED: usize = 100_000;

/// Largest state file read (metadata included).
const MAX_STATE: usize = 16 << 10;

/// The temporary file's name of upload `id`.
pub(crate) fn part_name(id: UploadId) -> String {
    format!("{RESUME_PREFIX}{id}.part")
}

/// The state file's name of upload `id`.
pub(crate) fn state_name(id: UploadId) -> String {
    format!("{RESUME_PREFIX}{id}.state")
}

/// What the state file records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Record {
    /// The upload's id.
    pub(crate) id: UploadId,
    /// The target's name in its directory.
    pub(crate) name: String,
    /// The target's URL path, for reports.
    pub(crate) url: String,
    /// The final length, when known.
    pub(crate) length: Option<u64>,
    /// Bytes on disk from offset 0.
    pub(crate) offset: u64,
    /// Who created it.
    pub(crate) protocol: Protocol,
    /// tus's `Upload-Metadata`, as sent.
    pub(crate) metadata: Option<String>,
    /// The signed-in user who created it, if any.
    pub(crate) user: Option<String>,
    /// When it was created.
    pub(crate) started: SystemTime,
}

impl Record {
    /// The JSON text stored.
    pub(crate) fn to_bytes(&self) -> Vec<u8> {
        let started = self
            .started
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        json!({
            "v": 1,
            "id": self.id.to_string(),
            "name": self.name,
            "url": self.url,
            "length": self.length,
            "offset": self.offset,
            "protocol": self.protocol.name(),
            "metadata": self.metadata,
            "user": self.user,
            "started": started,
        })
        .to_string()
        .into_bytes()
    }

    /// Parses a stored record; `None` when it is not one.
    pub(crate) fn parse(bytes: &[u8]) -> Option<Self> {
        let v: Value = serde_json::from_slice(bytes).ok()?;
        let text = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_owned);
        if v.get("v")?.as_u64()? != 1 {
            return None;
        }
        Some(Self {
            id: text("id")?.parse().ok()?,
            name: text("name").filter(|n| !n.is_empty() && !n.contains('/'))?,
            url: text("url")?,
            length: v.get("length").and_then(Value::as_u64),
            offset: v.get("offset")?.as_u64()?,
            protocol: Protocol::from_name(&text("protocol")?)?,
            metadata: text("metadata"),
            user: text("user"),
            started: UNIX_EPOCH + Duration::from_secs(v.get("started")?.as_u64()?),
        })
    }

    /// Writes the record (atomically, synced) in `dir`.
    pub(crate) fn save(&self, dir: &ParentDir) -> Result<(), StoreError> {
        dir.replace_small(&state_name(self.id), &self.to_bytes())
    }

    /// Reads upload `id`'s record in `dir`.
    pub(crate) fn load(dir: &ParentDir, id: UploadId) -> Option<Self> {
        let bytes = dir.read_small(&state_name(id), MAX_STATE).ok()?;
        Self::parse(&bytes).filter(|r| r.id == id)
    }
}

/// One upload found by [`scan`]: its directory below the root, its id,
/// and how long ago its state was last written.
#[derive(Debug)]
pub(crate) struct Found {
    /// Directory segments below the write root.
    pub(crate) dirs: Vec<String>,
    /// The upload's id.
    pub(crate) id: UploadId,
    /// Time since the state file was last written.
    pub(crate) idle: Duration,
}

/// Walks the write directory `root` (at most `max_depth` levels, at most
/// [`MAX_SCANNED`] directories, no symlink followed) for resumable uploads;
/// removes the halves of pairs whose other half is missing, and the
/// leftovers of interrupted state writes.
pub(crate) fn scan(root: &Path, max_depth: usize) -> Vec<Found> {
    let mut found = Vec::new();
    let mut queue = std::collections::VecDeque::from([(root.to_path_buf(), Vec::<String>::new())]);
    let mut visited = 0usize;
    while let Some((dir, segments)) = queue.pop_front() {
        visited += 1;
        if visited > MAX_SCANNED {
            tracing::warn!(
                target: "httpout::static",
                "resumable uploads: stopped looking after {MAX_SCANNED} directories of {}",
                root.display()
            );
            break;
        }
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        let (mut parts, mut states) = (Vec::new(), Vec::new());
        for entry in entries.flatten() {
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            let name = entry.file_name().to_string_lossy().into_owned();
            if kind.is_dir() && segments.len() < max_depth {
                let mut below = segments.clone();
                below.push(name);
                queue.push_back((entry.path(), below));
                continue;
            }
            let Some(rest) = name.strip_prefix(RESUME_PREFIX).filter(|_| kind.is_file()) else {
                continue;
            };
            let id = rest.get(..32).and_then(|h| h.parse::<UploadId>().ok());
            match (id, rest.get(32..)) {
                (Some(id), Some(".part")) => parts.push(id),
                (Some(id), Some(".state")) => {
                    let idle = entry
                        .metadata()
                        .ok()
                        .and_then(|m| m.modified().ok())
                        .and_then(|t| t.elapsed().ok())
                        .unwrap_or_default();
                    states.push((id, idle));
                }
                // An interrupted state write, or a name we did not make.
                _ => {
                    let _ = std::fs::remove_file(entry.path());
                }
            }
        }
        for id in parts
            .iter()
            .filter(|p| !states.iter().any(|(s, _)| s == *p))
        {
            let _ = std::fs::remove_file(dir.join(part_name(*id)));
        }
        for (id, idle) in states {
            if parts.contains(&id) {
                found.push(Found {
                    dirs: segments.clone(),
                    id,
                    idle,
                });
            } else {
                let _ = std::fs::remove_file(dir.join(state_name(id)));
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip() {
        let r = Record {
            id: UploadId::random(),
            name: "a b.mp4".into(),
            url: "/v/a%20b.mp4".into(),
            length: Some(10),
            offset: 4,
            protocol: Protocol::Tus,
            metadata: Some("filename YS5tcDQ=".into()),
            user: None,
            started: UNIX_EPOCH + Duration::from_secs(1_700_000_000),
        };
        assert_eq!(Record::parse(&r.to_bytes()), Some(r));
        assert_eq!(Record::parse(b"{}"), None);
        assert_eq!(Record::parse(b"not json"), None);
    }

    #[test]
    fn the_scan_keeps_pairs_and_removes_halves() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b, c) = (UploadId::random(), UploadId::random(), UploadId::random());
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        for name in [part_name(a), state_name(a)] {
            std::fs::write(dir.path().join("sub").join(name), b"x").unwrap();
        }
        std::fs::write(dir.path().join(part_name(b)), b"x").unwrap();
        std::fs::write(dir.path().join(state_name(c)), b"x").unwrap();
        std::fs::write(dir.path().join(format!("{}.new", state_name(c))), b"x").unwrap();
        let found = scan(dir.path(), 4);
        assert_eq!(found.len(), 1);
        assert_eq!(
            (found[0].id, found[0].dirs.clone()),
            (a, vec!["sub".to_owned()])
        );
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            1,
            "only sub/ left"
        );
    }
}

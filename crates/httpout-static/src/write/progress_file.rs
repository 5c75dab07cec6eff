//! HTTP::Server::Upload's progress file (`progress_files`): one byte, the
//! upload's code as a signed 8-bit integer (0–100 percent, 127 complete,
//! negative errors; [`super::registry::code_of`]), in
//! `.httpout-upload-ID.prog` beside the upload's temporary file, for tools
//! that watch the file system. Rewritten at most every
//! [`MIN_INTERVAL`] (and only when the code changes), removed when the
//! upload ends. Its name starts like the temporary files', so it is never
//! served, listed or written by clients, and a restart removes leftovers.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use httpout_store::TEMP_PREFIX;

use super::upload_id::UploadId;

/// Least time between two writes of the file.
pub(crate) const MIN_INTERVAL: Duration = Duration::from_millis(100);

/// One upload's progress file.
#[derive(Debug)]
pub(crate) struct ProgressFile {
    path: PathBuf,
    file: File,
    code: i8,
    written: Instant,
}

impl ProgressFile {
    /// The progress file of upload `id` in `dir` (its target's directory),
    /// created with code 0; `None` (logged) when it cannot be.
    pub(crate) fn create(dir: &Path, id: &UploadId) -> Option<Self> {
        let path = dir.join(format!("{TEMP_PREFIX}{id}.prog"));
        match File::create(&path).and_then(|f| f.write_all_at(&[0], 0).map(|()| f)) {
            Ok(file) => Some(Self {
                path,
                file,
                code: 0,
                written: Instant::now(),
            }),
            Err(e) => {
                tracing::warn!(target: "httpout::static", "cannot write {}: {e}", path.display());
                None
            }
        }
    }

    /// Sets the code, written when it changed and the last write is at
    /// least [`MIN_INTERVAL`] old.
    pub(crate) fn update(&mut self, code: i8) {
        if code == self.code || self.written.elapsed() < MIN_INTERVAL {
            return;
        }
        self.code = code;
        self.written = Instant::now();
        let _ = self.file.write_all_at(&code.to_ne_bytes(), 0);
    }

    /// The upload ended: the file goes.
    pub(crate) fn finish(self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_code_is_one_byte_rewritten_at_most_every_100_ms_and_removed_at_the_end() {
        let dir = tempfile::tempdir().unwrap();
        let id = UploadId::random();
        let mut f = ProgressFile::create(dir.path(), &id).unwrap();
        let path = dir.path().join(format!("{TEMP_PREFIX}{id}.prog"));
        assert_eq!(std::fs::read(&path).unwrap(), [0]);
        f.written -= MIN_INTERVAL;
        f.update(40);
        assert_eq!(std::fs::read(&path).unwrap(), [40]);
        // Too soon: kept for the next write.
        f.update(41);
        assert_eq!(std::fs::read(&path).unwrap(), [40]);
        f.written -= MIN_INTERVAL;
        f.update(-1);
        assert_eq!(std::fs::read(&path).unwrap(), [0xff]);
        f.finish();
        assert!(!path.exists());
    }
}

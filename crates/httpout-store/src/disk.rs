//! A directory on disk exposed under a URL prefix.
//!
//! [`DiskRoot::find`] maps already-safe path segments (no `..`, no
//! separators: see `httpout_core::SafePath`) onto the root, then resolves
//! symlinks and checks that the real path is still inside the root's real
//! path, so a symlink cannot lead a request out (GPAC fixed the same hole
//! with a realpath check, gpac#3593). Everything that touches the file system
//! for one lookup runs in a single blocking task: resolve, `stat`, open, and
//! for small files the read itself.

use std::fs::{self, File, Metadata};
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use bytes::Bytes;

use crate::error::StoreError;

/// A directory root, by its canonical path.
#[derive(Debug, Clone)]
pub struct DiskRoot {
    root: PathBuf,
}

/// What a path names.
#[derive(Debug)]
pub enum Found {
    /// A regular file, opened.
    File(OpenFile),
    /// A directory.
    Dir {
        /// Its real path.
        path: PathBuf,
        /// Its metadata.
        meta: Metadata,
    },
}

/// An open regular file and what is known about it.
#[derive(Debug)]
pub struct OpenFile {
    /// The real path (symlinks resolved).
    pub path: PathBuf,
    /// Metadata of the open file.
    pub meta: Metadata,
    /// The open file, positioned at 0.
    pub file: File,
    /// The whole content, read at open time when the file is no larger than
    /// the `small` limit given to [`DiskRoot::find`]; saves a second trip to
    /// the blocking pool for small files.
    pub content: Option<Bytes>,
}

/// One entry of a directory listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirEntryInfo {
    /// The file name (lossy UTF-8).
    pub name: String,
    /// Whether it is a directory (following symlinks).
    pub is_dir: bool,
    /// Size in bytes (0 for directories).
    pub size: u64,
    /// Last modification time.
    pub modified: Option<SystemTime>,
}

impl DiskRoot {
    /// Opens a root; it must be an existing directory.
    pub fn new(dir: impl AsRef<Path>) -> io::Result<Self> {
        let root = fs::canonicalize(dir.as_ref())?;
        if !fs::metadata(&root)?.is_dir() {
            return Err(io::Error::new(
                io::ErrorKind::NotADirectory,
                "not a directory",
            ));
        }
        Ok(Self { root })
    }

    /// The root's canonical path.
    pub fn path(&self) -> &Path {
        &self.root
    }

    /// Finds `segments` below the root (in a blocking task). Files no larger
    /// than `small` bytes are read whole.
    pub async fn find(&self, segments: &[String], small: u64) -> Result<Found, StoreError> {
        let root = self.root.clone();
        let candidate = join(&root, segments);
        blocking(move || find_blocking(&root, &candidate, small)).await
    }

    /// Finds a sibling file `name` in the directory `dir` (a real path
    /// returned by an earlier lookup), e.g. `index.html` or `file.gz`;
    /// `None` when it is missing or not a regular file.
    pub async fn find_file_in(
        &self,
        dir: &Path,
        name: &str,
        small: u64,
    ) -> Result<Option<OpenFile>, StoreError> {
        let root = self.root.clone();
        let candidate = dir.join(name);
        blocking(move || match find_blocking(&root, &candidate, small) {
            Ok(Found::File(f)) => Ok(Some(f)),
            Ok(Found::Dir { .. }) | Err(StoreError::NotFound | StoreError::Escape) => Ok(None),
            Err(e) => Err(e),
        })
        .await
    }

    /// Lists a directory (a real path from an earlier lookup). Entries that
    /// vanish while listing are skipped; symlinks leading outside the root
    /// are left out.
    pub async fn list(&self, dir: &Path) -> Result<Vec<DirEntryInfo>, StoreError> {
        let root = self.root.clone();
        let dir = dir.to_owned();
        blocking(move || {
            let mut out = Vec::new();
            for entry in fs::read_dir(&dir)? {
                let Ok(entry) = entry else { continue };
                let path = entry.path();
                let Ok(real) = fs::canonicalize(&path) else {
                    continue;
                };
                if !real.starts_with(&root) {
                    continue;
                }
                let Ok(meta) = fs::metadata(&real) else {
                    continue;
                };
                out.push(DirEntryInfo {
                    name: entry.file_name().to_string_lossy().into_owned(),
                    is_dir: meta.is_dir(),
                    size: if meta.is_dir() { 0 } else { meta.len() },
                    modified: meta.modified().ok(),
                });
            }
            Ok(out)
        })
        .await
    }
}

fn join(root: &Path, segments: &[String]) -> PathBuf {
    let mut p = root.to_path_buf();
    p.extend(segments);
    p
}

fn find_blocking(root: &Path, candidate: &Path, small: u64) -> Result<Found, StoreError> {
    let real = fs::canonicalize(candidate)?;
    if !real.starts_with(root) {
        return Err(StoreError::Escape);
    }
    let meta = fs::metadata(&real)?;
    if meta.is_dir() {
        return Ok(Found::Dir { path: real, meta });
    }
    if !meta.is_file() {
        // FIFOs, sockets, devices: not served as files.
        return Err(StoreError::NotFound);
    }
    let mut file = File::open(&real)?;
    let meta = file.metadata()?;
    let content = if meta.len() <= small {
        let mut buf = Vec::with_capacity(meta.len() as usize);
        (&mut file).take(small).read_to_end(&mut buf)?;
        Some(Bytes::from(buf))
    } else {
        None
    };
    Ok(Found::File(OpenFile {
        path: real,
        meta,
        file,
        content,
    }))
}

async fn blocking<T, F>(f: F) -> Result<T, StoreError>
where
    F: FnOnce() -> Result<T, StoreError> + Send + 'static,
    T: Send + 'static,
{
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| StoreError::Io(io::Error::other(e)))?
}

#[cfg(test)]
mod tests {
    use super::*;

    fn segs(p: &str) -> Vec<String> {
        p.split('/')
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect()
    }

    #[tokio::test]
    async fn finds_files_and_dirs_and_refuses_escapes() {
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret"), "s").unwrap();
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        std::fs::write(dir.path().join("sub/a.txt"), "hello").unwrap();
        std::os::unix::fs::symlink(outside.path(), dir.path().join("out")).unwrap();
        std::os::unix::fs::symlink(dir.path().join("sub/a.txt"), dir.path().join("in")).unwrap();
        let root = DiskRoot::new(dir.path()).unwrap();

        match root.find(&segs("/sub/a.txt"), 1024).await.unwrap() {
            Found::File(f) => assert_eq!(f.content.as_deref(), Some(&b"hello"[..])),
            other => panic!("{other:?}"),
        }
        match root.find(&segs("/sub/a.txt"), 2).await.unwrap() {
            Found::File(f) => assert!(f.content.is_none()),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            root.find(&segs("/sub"), 0).await,
            Ok(Found::Dir { .. })
        ));
        assert!(matches!(
            root.find(&segs("/in"), 0).await,
            Ok(Found::File(_))
        ));
        assert!(matches!(
            root.find(&segs("/out/secret"), 0).await,
            Err(StoreError::Escape)
        ));
        assert!(matches!(
            root.find(&segs("/nope"), 0).await,
            Err(StoreError::NotFound)
        ));
        assert!(matches!(
            root.find(&segs("/sub/a.txt/x"), 0).await,
            Err(StoreError::NotFound)
        ));
        let names: Vec<_> = root
            .list(root.path())
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.name)
            .collect();
        assert!(names.contains(&"sub".to_owned()) && names.contains(&"in".to_owned()));
        assert!(
            !names.contains(&"out".to_owned()),
            "escaping symlinks are not listed"
        );
    }
}

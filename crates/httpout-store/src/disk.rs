//! A directory on disk exposed under a URL prefix.
//!
//! [`DiskRoot::find`] opens already-safe path segments (no `..`, no
//! separators: see `httpout_core::SafePath`) below the root with
//! `openat2(RESOLVE_BENEATH)`: the kernel resolves the path, symlinks
//! included, and refuses any resolution that leaves the root, in one system
//! call, with no window between the check and the open. (GPAC fixed the same
//! hole with a realpath check, gpac#3593.) Where `openat2` is unavailable
//! (Linux before 5.6, some sandboxes), or refuses an absolute symlink, the
//! path is resolved with `realpath` and checked against the root's real
//! path instead, so absolute symlinks that stay inside the root still work.
//!
//! Lookups (`open`, `fstat`, and the read of a small file) run on the
//! calling thread, as nginx does them on its event loop: for page-cached
//! metadata a trip to a blocking pool costs more than the call itself
//! (docs/benchmarks.md: ~38k vs ~67k req/s for 1 KiB files). Reads of larger
//! bodies and directory listings go to the blocking pool.

use std::fs::{self, File, Metadata};
use std::io::{self, Read};
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::SystemTime;

use bytes::Bytes;
use rustix::fs::{Mode, OFlags, ResolveFlags};

use crate::error::StoreError;

/// A directory root: its real path and an open handle on it.
#[derive(Debug, Clone)]
pub struct DiskRoot {
    root: PathBuf,
    dir: Arc<OwnedFd>,
    /// Set once `openat2` turned out to be unavailable.
    no_openat2: Arc<AtomicBool>,
}

/// What a path names.
#[derive(Debug)]
pub enum Found {
    /// A regular file, opened.
    File(OpenFile),
    /// A directory.
    Dir {
        /// Its path relative to the root.
        rel: PathBuf,
        /// Its metadata.
        meta: Metadata,
    },
}

/// An open regular file and what is known about it.
#[derive(Debug)]
pub struct OpenFile {
    /// Its path relative to the root, as requested (for siblings: `x.gz`).
    pub rel: PathBuf,
    /// Metadata of the open file.
    pub meta: Metadata,
    /// The open file.
    pub file: File,
    /// The whole content, read at open time when the file is no larger than
    /// the `small` limit given to [`DiskRoot::find`].
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
        let handle = File::open(&root)?;
        if !handle.metadata()?.is_dir() {
            return Err(io::Error::new(
                io::ErrorKind::NotADirectory,
                "not a directory",
            ));
        }
        Ok(Self {
            root,
            dir: Arc::new(handle.into()),
            no_openat2: Arc::new(AtomicBool::new(false)),
        })
    }

    /// The root's real path.
    pub fn path(&self) -> &Path {
        &self.root
    }

    /// Finds `segments` below the root, on the calling thread. Files no
    /// larger than `small` bytes are read whole.
    pub fn find(&self, segments: &[String], small: u64) -> Result<Found, StoreError> {
        let rel: PathBuf = segments.iter().collect();
        self.find_rel(rel, small)
    }

    /// Finds the file `name` in the directory `dir` (relative to the root),
    /// e.g. `index.html` or `file.gz`; `None` when it is missing, outside the
    /// root or not a regular file.
    pub fn find_file_in(
        &self,
        dir: &Path,
        name: &str,
        small: u64,
    ) -> Result<Option<OpenFile>, StoreError> {
        match self.find_rel(dir.join(name), small) {
            Ok(Found::File(f)) => Ok(Some(f)),
            Ok(Found::Dir { .. }) | Err(StoreError::NotFound | StoreError::Escape) => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn find_rel(&self, rel: PathBuf, small: u64) -> Result<Found, StoreError> {
        if rel
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with(crate::atomic::TEMP_PREFIX))
        {
            // Uploads in progress are not files yet.
            return Err(StoreError::NotFound);
        }
        let mut file = File::from(self.open_beneath(&rel)?);
        let meta = file.metadata()?;
        if meta.is_dir() {
            return Ok(Found::Dir { rel, meta });
        }
        if !meta.is_file() {
            // FIFOs, sockets, devices: not served as files.
            return Err(StoreError::NotFound);
        }
        let content = if meta.len() <= small {
            let mut buf = Vec::with_capacity(meta.len() as usize);
            (&mut file).take(small).read_to_end(&mut buf)?;
            Some(Bytes::from(buf))
        } else {
            None
        };
        Ok(Found::File(OpenFile {
            rel,
            meta,
            file,
            content,
        }))
    }

    /// Opens `rel` read-only, refusing any resolution outside the root.
    fn open_beneath(&self, rel: &Path) -> Result<OwnedFd, StoreError> {
        let rel = if rel.as_os_str().is_empty() {
            Path::new(".")
        } else {
            rel
        };
        let flags = OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NOCTTY | OFlags::NONBLOCK;
        if !self.no_openat2.load(Ordering::Relaxed) {
            let resolve = ResolveFlags::BENEATH | ResolveFlags::NO_MAGICLINKS;
            match rustix::fs::openat2(&*self.dir, rel, flags, Mode::empty(), resolve) {
                Ok(fd) => return Ok(fd),
                // EXDEV: the resolution left the root, or met an absolute
                // symlink; the check below still lets an absolute symlink
                // that points inside the root through.
                Err(rustix::io::Errno::XDEV) => {}
                Err(rustix::io::Errno::NOSYS | rustix::io::Errno::PERM) => {
                    self.no_openat2.store(true, Ordering::Relaxed);
                }
                // Unreachable names are simply not there.
                Err(rustix::io::Errno::NAMETOOLONG | rustix::io::Errno::LOOP) => {
                    return Err(StoreError::NotFound);
                }
                Err(e) => return Err(io::Error::from(e).into()),
            }
        }
        // Resolve, check containment, open the real path (non-blocking, so
        // a FIFO cannot hold the worker).
        let real = fs::canonicalize(self.root.join(rel))?;
        if !real.starts_with(&self.root) {
            return Err(StoreError::Escape);
        }
        rustix::fs::open(&real, flags, Mode::empty()).map_err(|e| io::Error::from(e).into())
    }

    /// Lists a directory (relative to the root) in the blocking pool.
    /// Entries that vanish while listing are skipped; symlinks leading
    /// outside the root are left out.
    pub async fn list(&self, dir: &Path) -> Result<Vec<DirEntryInfo>, StoreError> {
        let root = self.root.clone();
        let path = self.root.join(dir);
        tokio::task::spawn_blocking(move || {
            let mut out = Vec::new();
            for entry in fs::read_dir(&path)? {
                let Ok(entry) = entry else { continue };
                if entry
                    .file_name()
                    .to_string_lossy()
                    .starts_with(crate::atomic::TEMP_PREFIX)
                {
                    continue;
                }
                let Ok(real) = fs::canonicalize(entry.path()) else {
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
        .map_err(|e| StoreError::Io(io::Error::other(e)))?
    }
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

    fn check(root: &DiskRoot) {
        match root.find(&segs("/sub/a.txt"), 1024).unwrap() {
            Found::File(f) => assert_eq!(f.content.as_deref(), Some(&b"hello"[..])),
            other => panic!("{other:?}"),
        }
        match root.find(&segs("/sub/a.txt"), 2).unwrap() {
            Found::File(f) => assert!(f.content.is_none()),
            other => panic!("{other:?}"),
        }
        assert!(matches!(root.find(&segs("/sub"), 0), Ok(Found::Dir { .. })));
        assert!(matches!(root.find(&segs("/"), 0), Ok(Found::Dir { .. })));
        assert!(matches!(root.find(&segs("/in"), 0), Ok(Found::File(_))));
        assert!(matches!(
            root.find(&segs("/out/secret"), 0),
            Err(StoreError::Escape)
        ));
        assert!(matches!(
            root.find(&segs("/abs"), 0),
            Err(StoreError::Escape)
        ));
        assert!(matches!(
            root.find(&segs("/abs_in/a.txt"), 0),
            Ok(Found::File(_))
        ));
        assert!(matches!(
            root.find(&segs("/nope"), 0),
            Err(StoreError::NotFound)
        ));
        assert!(matches!(
            root.find(&segs("/sub/a.txt/x"), 0),
            Err(StoreError::NotFound)
        ));
        assert!(
            root.find_file_in(Path::new("sub"), "a.txt", 0)
                .unwrap()
                .is_some()
        );
        assert!(
            root.find_file_in(Path::new("sub"), "b.txt", 0)
                .unwrap()
                .is_none()
        );
    }

    #[tokio::test]
    async fn finds_files_and_dirs_and_refuses_escapes() {
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret"), "s").unwrap();
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        std::fs::write(dir.path().join("sub/a.txt"), "hello").unwrap();
        std::os::unix::fs::symlink(outside.path(), dir.path().join("out")).unwrap();
        std::os::unix::fs::symlink(outside.path().join("secret"), dir.path().join("abs")).unwrap();
        std::os::unix::fs::symlink("sub/a.txt", dir.path().join("in")).unwrap();
        std::os::unix::fs::symlink(dir.path().join("sub"), dir.path().join("abs_in")).unwrap();
        let root = DiskRoot::new(dir.path()).unwrap();
        check(&root);
        // The realpath fallback gives the same answers.
        root.no_openat2.store(true, Ordering::Relaxed);
        check(&root);

        let names: Vec<_> = root
            .list(Path::new(""))
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

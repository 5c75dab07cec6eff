//! A directory on disk exposed under a URL prefix.
//!
//! [`DiskRoot::find`] opens already-safe path segments (no `..`, no
//! separators: see `httpout_core::SafePath`) below the root with
//! `openat2(RESOLVE_BENEATH)`: the kernel resolves the path, symlinks
//! included, and refuses any resolution that leaves the root, in one system
//! call, with no window between the check and the open. (GPAC fixed the same
//! hole with a realpath check, gpac#3593.) An absolute symlink is refused
//! (404) wherever it points: `RESOLVE_BENEATH` refuses it, and it is never
//! resolved by path and checked afterwards, which a local user renaming
//! entries could race (issue 12 item 8).
//!
//! Only where `openat2` is unavailable (Linux before 5.6, a seccomp filter:
//! `ENOSYS` or `EPERM`) is the path walked by hand, one component at a time
//! with `openat(O_NOFOLLOW)` from the directory opened before: a symlink is
//! read (`readlinkat`) and its target walked the same way (absolute targets
//! refused, `..` never above the root, at most 40 links), and the file
//! finally opened is checked against the root through `/proc/self/fd`.
//!
//! Lookups (`open`, `fstat`, and the read of a small file) run on the
//! calling thread, as nginx does them on its event loop: for page-cached
//! metadata a trip to a blocking pool costs more than the call itself
//! (docs/benchmarks.md: ~38k vs ~67k req/s for 1 KiB files). Reads of larger
//! bodies and directory listings go to the blocking pool.

use std::fs::{self, File, Metadata};
use std::io::{self, Read};
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::SystemTime;

use bytes::Bytes;
use rustix::fs::{Mode, OFlags, ResolveFlags};
use rustix::io::Errno;

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
        let mut file = File::from(self.open_beneath(&rel, READ)?);
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

    /// Opens `rel` with `flags`, refusing any resolution outside the root.
    fn open_beneath(&self, rel: &Path, flags: OFlags) -> Result<OwnedFd, StoreError> {
        let rel = if rel.as_os_str().is_empty() {
            Path::new(".")
        } else {
            rel
        };
        if !self.no_openat2.load(Ordering::Relaxed) {
            let resolve = ResolveFlags::BENEATH | ResolveFlags::NO_MAGICLINKS;
            // EAGAIN: a rename raced a `..` in a symlink's target; try again.
            for _ in 0..4 {
                match rustix::fs::openat2(&*self.dir, rel, flags, Mode::empty(), resolve) {
                    Ok(fd) => return Ok(fd),
                    Err(Errno::AGAIN | Errno::INTR) => continue,
                    // EXDEV: the resolution would leave the root, or met an
                    // absolute symlink. Refused: never resolved by path and
                    // checked after (a rename could race the check).
                    Err(Errno::XDEV) => return Err(StoreError::Escape),
                    Err(Errno::NOSYS | Errno::PERM) => {
                        self.no_openat2.store(true, Ordering::Relaxed);
                        break;
                    }
                    // Unreachable names are simply not there.
                    Err(Errno::NAMETOOLONG | Errno::LOOP) => return Err(StoreError::NotFound),
                    Err(e) => return Err(io::Error::from(e).into()),
                }
            }
            if !self.no_openat2.load(Ordering::Relaxed) {
                return Err(io::Error::from(Errno::AGAIN).into());
            }
        }
        self.walk_beneath(rel, flags)
    }

    /// The fallback of [`Self::open_beneath`] where `openat2` is missing:
    /// one `openat(O_NOFOLLOW)` per component from the directory opened
    /// before, symlinks read and walked the same way (absolute ones
    /// refused), `..` kept on a stack of open directories that never goes
    /// above the root; the result is checked against the root after it is
    /// open (a directory moved out meanwhile is caught there).
    fn walk_beneath(&self, rel: &Path, flags: OFlags) -> Result<OwnedFd, StoreError> {
        use std::ffi::OsString;
        use std::os::unix::ffi::OsStrExt;

        const MAX_LINKS: usize = 40;
        let mut pending: std::collections::VecDeque<OsString> =
            rel.iter().map(OsString::from).collect();
        let mut stack: Vec<OwnedFd> = Vec::new();
        let mut links = 0;
        let dir_flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC | OFlags::NOFOLLOW;
        let mut last: Option<OwnedFd> = None;
        while let Some(comp) = pending.pop_front() {
            let cur = stack.last().unwrap_or(&*self.dir);
            match comp.as_bytes() {
                b"" | b"." => continue,
                b".." => {
                    stack.pop().ok_or(StoreError::Escape)?;
                    continue;
                }
                _ => {}
            }
            let final_one = pending.is_empty();
            let want = if final_one {
                flags | OFlags::NOFOLLOW
            } else {
                dir_flags
            };
            // A symlink makes O_NOFOLLOW fail (ELOOP, or ENOTDIR with
            // O_DIRECTORY); O_PATH opens the link itself. Its target is read
            // next, from the same directory: whatever is there by then is
            // walked under the same rules.
            match rustix::fs::openat(cur, comp.as_os_str(), want, Mode::empty()) {
                Ok(fd) if flags.contains(OFlags::PATH) && is_symlink(&fd) => {}
                Ok(fd) if final_one => {
                    last = Some(fd);
                    continue;
                }
                Ok(fd) => {
                    stack.push(fd);
                    continue;
                }
                Err(Errno::LOOP | Errno::NOTDIR) => {}
                Err(Errno::NAMETOOLONG) => return Err(StoreError::NotFound),
                Err(e) => return Err(e.into()),
            }
            let target = match rustix::fs::readlinkat(cur, comp.as_os_str(), Vec::new()) {
                Ok(t) => t,
                // Not a symlink: a file where a directory is needed.
                Err(Errno::INVAL) => return Err(StoreError::NotFound),
                Err(e) => return Err(e.into()),
            };
            links += 1;
            let target = Path::new(std::ffi::OsStr::from_bytes(target.as_bytes()));
            if target.is_absolute() {
                return Err(StoreError::Escape);
            }
            if links > MAX_LINKS || target.as_os_str().is_empty() {
                return Err(StoreError::NotFound);
            }
            for (i, c) in target.iter().enumerate() {
                pending.insert(i, c.to_owned());
            }
        }
        let fd = match last {
            Some(fd) => fd,
            None => rustix::fs::openat(
                stack.last().unwrap_or(&*self.dir),
                ".",
                flags,
                Mode::empty(),
            )?,
        };
        // Checked after the open, on what was opened: a directory of the
        // walk moved outside the root meanwhile is caught here.
        if let Ok(real) = fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd())) {
            if !real.starts_with(&self.root) {
                return Err(StoreError::Escape);
            }
        }
        Ok(fd)
    }

    /// Lists a directory (relative to the root) in the blocking pool.
    /// Entries that vanish while listing are skipped; symlinks leading
    /// outside the root are left out.
    pub async fn list(&self, dir: &Path) -> Result<Vec<DirEntryInfo>, StoreError> {
        let this = self.clone();
        let dir = dir.to_owned();
        tokio::task::spawn_blocking(move || {
            let mut out = Vec::new();
            for entry in fs::read_dir(this.root.join(&dir))? {
                let Ok(entry) = entry else { continue };
                let name = entry.file_name();
                if name
                    .to_string_lossy()
                    .starts_with(crate::atomic::TEMP_PREFIX)
                {
                    continue;
                }
                // Opened beneath the root (O_PATH: nothing is read), then
                // described from the open handle: an entry renamed to a
                // symlink meanwhile cannot show an outside file's metadata.
                let Ok(fd) = this.open_beneath(&dir.join(&name), LOOKUP) else {
                    continue;
                };
                let Ok(meta) = File::from(fd).metadata() else {
                    continue;
                };
                out.push(DirEntryInfo {
                    name: name.to_string_lossy().into_owned(),
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

/// Flags of an open for reading: non-blocking, so a FIFO cannot hold the
/// worker.
const READ: OFlags = OFlags::RDONLY
    .union(OFlags::CLOEXEC)
    .union(OFlags::NOCTTY)
    .union(OFlags::NONBLOCK);

/// Flags of an open that only looks (listings): `O_PATH`.
const LOOKUP: OFlags = OFlags::PATH.union(OFlags::CLOEXEC);

/// Whether an `O_PATH | O_NOFOLLOW` handle is a symlink.
fn is_symlink(fd: &OwnedFd) -> bool {
    rustix::fs::fstat(fd).is_ok_and(|st| {
        rustix::fs::FileType::from_raw_mode(st.st_mode) == rustix::fs::FileType::Symlink
    })
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
        // An absolute symlink is refused even when it points inside.
        assert!(matches!(
            root.find(&segs("/abs_in/a.txt"), 0),
            Err(StoreError::Escape)
        ));
        assert!(matches!(root.find(&segs("/up"), 0), Ok(Found::File(_))));
        assert!(matches!(
            root.find(&segs("/rel_out/secret"), 0),
            Err(StoreError::Escape)
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
        std::os::unix::fs::symlink("sub/../in", dir.path().join("up")).unwrap();
        let rel_out = format!(
            "../{}",
            outside.path().file_name().unwrap().to_string_lossy()
        );
        std::os::unix::fs::symlink(rel_out, dir.path().join("rel_out")).unwrap();
        let root = DiskRoot::new(dir.path()).unwrap();
        check(&root);
        // The component-by-component fallback gives the same answers.
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

    /// Issue 12 item 8, in the fallback: a thread swaps a directory and a
    /// symlink to outside while lookups run; none opens the outside file.
    #[test]
    fn fallback_walk_survives_a_symlink_swap_race() {
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret"), "CANARY").unwrap();
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("x")).unwrap();
        std::fs::write(dir.path().join("x/secret"), "inside").unwrap();
        std::os::unix::fs::symlink(outside.path(), dir.path().join("y")).unwrap();
        let root = DiskRoot::new(dir.path()).unwrap();
        root.no_openat2.store(true, Ordering::Relaxed);
        let stop = Arc::new(AtomicBool::new(false));
        let swapper = {
            let (stop, d) = (Arc::clone(&stop), dir.path().to_owned());
            std::thread::spawn(move || {
                let mut swaps = 0u64;
                while !stop.load(Ordering::Relaxed) && swaps < 10_000_000 {
                    let _ = std::fs::rename(d.join("x"), d.join("t"));
                    let _ = std::fs::rename(d.join("y"), d.join("x"));
                    let _ = std::fs::rename(d.join("t"), d.join("y"));
                    swaps += 1;
                }
            })
        };
        let mut leaks = 0;
        for _ in 0..2_000 {
            if let Ok(Found::File(f)) = root.find(&segs("/x/secret"), 64) {
                leaks += usize::from(f.content.as_deref() == Some(&b"CANARY"[..]));
            }
        }
        stop.store(true, Ordering::Relaxed);
        swapper.join().unwrap();
        assert_eq!(leaks, 0);
    }
}

//! The write directory: uploads that never replace a good file with a bad one.
//!
//! An upload is written to a temporary file in the target's own directory
//! (`.httpout-upload-PID-N.tmp`) and renamed over the target only when it is
//! complete ([`AtomicFile::commit`]). Dropping an uncommitted [`AtomicFile`]
//! (client abort, timeout, size limit, error) removes the temporary file, so
//! the previous version stays intact. A crash leaves at most a temporary
//! file, never a truncated file under the final name; [`WriteRoot::new`]
//! removes such leftovers, and reads never show them.
//!
//! Directories are opened one level at a time below the root with
//! `openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS)`: a symlinked directory,
//! wherever it points, is never written through. Missing parents are created.
//!
//! Durability ([`WriteRoot::with_fsync`], the `fsync` option): by default
//! nothing is synced, so a commit survives a crash of the process (the
//! kernel has the data) but not a power loss (the rename may reach the disk
//! before the data, leaving an empty or partial file under the final name).
//! With `fsync`, the data is synced (`fdatasync`) before the rename and the
//! directory (`fsync`) after it, as are directories created for an upload
//! and the directory of a removed file: once the answer is sent, the file
//! is on disk.
//!
//! GPAC differs: its uploads write the target in place, non-atomically.

use std::fs::File;
use std::io;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use rustix::fs::{AtFlags, FileType, Mode, OFlags, ResolveFlags};
use rustix::io::Errno;

use crate::error::StoreError;

/// File names that mark temporary upload files; hidden from reads.
pub const TEMP_PREFIX: &str = ".httpout-upload-";

/// File names of resumable uploads' temporary files and states (a subset
/// of [`TEMP_PREFIX`], so hidden from reads and refused to writes): kept by
/// [`WriteRoot::new`], since they outlive the process that made them.
pub const RESUME_PREFIX: &str = ".httpout-upload-resume-";

/// The write directory (`wdir`).
#[derive(Debug, Clone)]
pub struct WriteRoot {
    root: PathBuf,
    dir: Arc<OwnedFd>,
    fsync: bool,
}

/// An open directory below the write root, where a target lives.
#[derive(Debug)]
pub struct ParentDir {
    fd: Arc<OwnedFd>,
    fsync: bool,
}

/// What a name in a directory is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A regular file.
    File,
    /// A directory.
    Dir,
    /// Anything else (symlink, FIFO...).
    Other,
}

/// A temporary file that becomes the target on [`AtomicFile::commit`] and
/// disappears if dropped before.
#[derive(Debug)]
pub struct AtomicFile {
    dir: Arc<OwnedFd>,
    temp: String,
    target: String,
    file: Option<File>,
    fsync: bool,
    /// Whether dropping it keeps the temporary file (a resumable upload's,
    /// removed only by [`AtomicFile::discard`]).
    keep: bool,
}

impl WriteRoot {
    /// Opens (creating it if needed) the write directory, and removes
    /// temporary files an earlier run left behind (but resumable uploads'
    /// files, [`RESUME_PREFIX`]).
    pub fn new(dir: impl AsRef<Path>) -> io::Result<Self> {
        let root = Self::open(dir)?;
        remove_leftovers(&root.root, 0);
        Ok(root)
    }

    /// Opens (creating it if needed) the write directory and keeps its
    /// temporary files: they belong to uploads in progress of this process
    /// (a reload opens its write directories again).
    pub fn open(dir: impl AsRef<Path>) -> io::Result<Self> {
        std::fs::create_dir_all(dir.as_ref())?;
        let root = std::fs::canonicalize(dir.as_ref())?;
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
            fsync: false,
        })
    }

    /// Whether commits are synced to disk (the `fsync` option; see the
    /// module docs for what each setting guarantees). Default off.
    #[must_use]
    pub fn with_fsync(mut self, fsync: bool) -> Self {
        self.fsync = fsync;
        self
    }

    /// The write directory's real path.
    pub fn path(&self) -> &Path {
        &self.root
    }

    /// Opens the directory made of `segments` below the root, creating the
    /// missing ones when `create` is set. A file in the way is
    /// [`StoreError::Conflict`]; a symlink in the way is [`StoreError::Escape`].
    pub fn dir(&self, segments: &[String], create: bool) -> Result<ParentDir, StoreError> {
        let mut fd: Arc<OwnedFd> = Arc::clone(&self.dir);
        for seg in segments {
            let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
            let resolve = ResolveFlags::BENEATH | ResolveFlags::NO_SYMLINKS;
            let next = match rustix::fs::openat2(&*fd, seg.as_str(), flags, Mode::empty(), resolve)
            {
                Err(Errno::NOENT) if create => {
                    match rustix::fs::mkdirat(&*fd, seg.as_str(), Mode::from_raw_mode(0o755)) {
                        Ok(()) if self.fsync => sync::dir(&fd)?,
                        Ok(()) | Err(Errno::EXIST) => {}
                        Err(e) => return Err(map_errno(e)),
                    }
                    rustix::fs::openat2(&*fd, seg.as_str(), flags, Mode::empty(), resolve)
                }
                other => other,
            };
            fd = Arc::new(next.map_err(map_errno)?);
        }
        Ok(ParentDir {
            fd,
            fsync: self.fsync,
        })
    }
}

impl ParentDir {
    /// What `name` is in this directory, if anything (symlinks not followed).
    pub fn kind(&self, name: &str) -> Result<Option<Kind>, StoreError> {
        match rustix::fs::statat(&*self.fd, name, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(st) => Ok(Some(match FileType::from_raw_mode(st.st_mode) {
                FileType::RegularFile => Kind::File,
                FileType::Directory => Kind::Dir,
                _ => Kind::Other,
            })),
            Err(Errno::NOENT) => Ok(None),
            Err(e) => Err(map_errno(e)),
        }
    }

    /// A new, empty temporary file that will become `name`.
    pub fn create_temp(&self, name: &str) -> Result<AtomicFile, StoreError> {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let temp = format!(
            "{TEMP_PREFIX}{}-{}.tmp",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        let fd = rustix::fs::openat(
            &*self.fd,
            temp.as_str(),
            // Read-write: readers at the live edge pread through a clone of it.
            OFlags::RDWR | OFlags::CREATE | OFlags::EXCL | OFlags::CLOEXEC,
            Mode::from_raw_mode(0o644),
        )
        .map_err(map_errno)?;
        Ok(AtomicFile {
            dir: Arc::clone(&self.fd),
            temp,
            target: name.to_owned(),
            file: Some(File::from(fd)),
            fsync: self.fsync,
            keep: false,
        })
    }

    /// The temporary file `temp` (a name starting with [`RESUME_PREFIX`])
    /// of a resumable upload that will become `name`: created empty when
    /// `create` (it must not exist), else opened as it is. Dropping the
    /// result keeps the file; [`AtomicFile::commit`] renames it,
    /// [`AtomicFile::discard`] removes it.
    pub fn resumable_temp(
        &self,
        temp: &str,
        name: &str,
        create: bool,
    ) -> Result<AtomicFile, StoreError> {
        if !temp.starts_with(RESUME_PREFIX) || temp.contains('/') {
            return Err(StoreError::Conflict);
        }
        let mut flags = OFlags::RDWR | OFlags::CLOEXEC | OFlags::NOFOLLOW;
        if create {
            flags |= OFlags::CREATE | OFlags::EXCL;
        }
        let fd = rustix::fs::openat(&*self.fd, temp, flags, Mode::from_raw_mode(0o644))
            .map_err(map_errno)?;
        let file = File::from(fd);
        if !file.metadata()?.is_file() {
            return Err(StoreError::Conflict);
        }
        Ok(AtomicFile {
            dir: Arc::clone(&self.fd),
            temp: temp.to_owned(),
            target: name.to_owned(),
            file: Some(file),
            fsync: self.fsync,
            keep: true,
        })
    }

    /// Replaces the small file `name` with `bytes` atomically (written
    /// beside it, synced, renamed, the directory synced): a state that is
    /// on disk whole or not at all.
    pub fn replace_small(&self, name: &str, bytes: &[u8]) -> Result<(), StoreError> {
        use std::io::Write;
        let temp = format!("{name}.new");
        let fd = rustix::fs::openat(
            &*self.fd,
            temp.as_str(),
            OFlags::WRONLY | OFlags::CREATE | OFlags::TRUNC | OFlags::CLOEXEC | OFlags::NOFOLLOW,
            Mode::from_raw_mode(0o600),
        )
        .map_err(map_errno)?;
        let mut file = File::from(fd);
        let written = file.write_all(bytes).and_then(|()| file.sync_data());
        if let Err(e) = written {
            let _ = rustix::fs::unlinkat(&*self.fd, temp.as_str(), AtFlags::empty());
            return Err(e.into());
        }
        rustix::fs::renameat(&*self.fd, temp.as_str(), &*self.fd, name).map_err(map_errno)?;
        sync::dir(&self.fd)
    }

    /// Reads the small file `name` (at most `max` bytes; longer is
    /// [`StoreError::TooLarge`]).
    pub fn read_small(&self, name: &str, max: usize) -> Result<Vec<u8>, StoreError> {
        use std::io::Read;
        let fd = rustix::fs::openat(
            &*self.fd,
            name,
            OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NOFOLLOW,
            Mode::empty(),
        )
        .map_err(map_errno)?;
        let mut out = Vec::new();
        File::from(fd).take(max as u64 + 1).read_to_end(&mut out)?;
        if out.len() > max {
            return Err(StoreError::TooLarge);
        }
        Ok(out)
    }

    /// Removes the file `name` if it is there (no error when absent).
    pub fn remove_file(&self, name: &str) -> Result<(), StoreError> {
        match rustix::fs::unlinkat(&*self.fd, name, AtFlags::empty()) {
            Ok(()) | Err(Errno::NOENT) => Ok(()),
            Err(e) => Err(map_errno(e)),
        }
    }

    /// A temporary file that starts as a copy of the current `name` (for a
    /// partial upload), or empty when there is none. The copy keeps the
    /// file's holes (a reflink where the file system has one, else only the
    /// extents `SEEK_DATA` finds, with `copy_file_range`), and checks
    /// `cancelled` between steps of [`COPY_STEP`] bytes: when it says so,
    /// the copy stops with [`StoreError::Cancelled`] and the temporary file
    /// is removed.
    pub fn copy_to_temp(
        &self,
        name: &str,
        cancelled: &dyn Fn() -> bool,
    ) -> Result<AtomicFile, StoreError> {
        let mut temp = self.create_temp(name)?;
        let flags = OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NOFOLLOW;
        match rustix::fs::openat(&*self.fd, name, flags, Mode::empty()) {
            Ok(fd) => {
                let current = File::from(fd);
                let meta = current.metadata()?;
                if !meta.is_file() {
                    return Err(StoreError::Conflict);
                }
                copy::sparse(&current, temp.file(), meta.len(), cancelled)?;
            }
            Err(Errno::NOENT) => {}
            Err(e) => return Err(map_errno(e)),
        }
        Ok(temp)
    }

    /// Removes the file or empty directory `name`: [`StoreError::NotFound`]
    /// when absent, [`StoreError::Conflict`] for a directory that is not
    /// empty.
    pub fn remove(&self, name: &str) -> Result<(), StoreError> {
        let flags = match self.kind(name)? {
            None => return Err(StoreError::NotFound),
            Some(Kind::Dir) => AtFlags::REMOVEDIR,
            Some(_) => AtFlags::empty(),
        };
        rustix::fs::unlinkat(&*self.fd, name, flags).map_err(map_errno)?;
        if self.fsync {
            sync::dir(&self.fd)?;
        }
        Ok(())
    }
}

impl AtomicFile {
    /// Removes the temporary file (a kept one too, see
    /// [`ParentDir::resumable_temp`]); the target is untouched.
    pub fn discard(mut self) {
        self.keep = false;
    }

    /// The temporary file's name in its directory.
    pub fn temp_name(&self) -> &str {
        &self.temp
    }

    /// The temporary file, to write the upload into.
    pub fn file(&mut self) -> &mut File {
        self.file.as_mut().expect("present until commit")
    }

    /// Renames the temporary file over the target. Returns whether a file
    /// was replaced. A directory in the way is [`StoreError::Conflict`] (and
    /// the temporary file is removed). With `fsync`, the data is synced
    /// before the rename and the directory after it.
    pub fn commit(mut self) -> Result<bool, StoreError> {
        let file = self.file.take();
        if let Some(file) = file.as_ref().filter(|_| self.fsync) {
            sync::data(file)?;
        }
        drop(file);
        let replaced =
            match rustix::fs::statat(&*self.dir, self.target.as_str(), AtFlags::SYMLINK_NOFOLLOW) {
                Ok(st) if FileType::from_raw_mode(st.st_mode) == FileType::Directory => {
                    return Err(StoreError::Conflict);
                }
                Ok(_) => true,
                Err(_) => false,
            };
        rustix::fs::renameat(
            &*self.dir,
            self.temp.as_str(),
            &*self.dir,
            self.target.as_str(),
        )
        .map_err(map_errno)?;
        #[cfg(test)]
        sync::tests::record("rename");
        self.temp.clear();
        if self.fsync {
            sync::dir(&self.dir)?;
        }
        Ok(replaced)
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if !self.temp.is_empty() && !self.keep {
            let _ = rustix::fs::unlinkat(&*self.dir, self.temp.as_str(), AtFlags::empty());
        }
    }
}

/// Bytes copied per step of [`ParentDir::copy_to_temp`], between two
/// checks of its cancellation.
pub const COPY_STEP: u64 = 8 << 20;

/// Copies that keep holes, in cancellable steps.
mod copy {
    use std::fs::File;
    use std::os::unix::fs::FileExt;

    use rustix::fs::SeekFrom;
    use rustix::io::Errno;

    use super::COPY_STEP;
    use crate::error::StoreError;

    /// Copies the `len` bytes of `src` into the empty `dst`, holes kept.
    pub(super) fn sparse(
        src: &File,
        dst: &File,
        len: u64,
        cancelled: &dyn Fn() -> bool,
    ) -> Result<(), StoreError> {
        if len == 0 {
            return Ok(());
        }
        // A reflink shares the blocks (btrfs, XFS): no byte is written.
        if rustix::fs::ioctl_ficlone(dst, src).is_ok() {
            return Ok(());
        }
        // The length first: what is not copied below stays a hole.
        dst.set_len(len)?;
        let mut pos = 0;
        while pos < len {
            let data = match rustix::fs::seek(src, SeekFrom::Data(pos)) {
                Ok(at) => at,
                // Nothing but a hole up to the end.
                Err(Errno::NXIO) => break,
                // No SEEK_DATA on this file system: everything is data.
                Err(_) => pos,
            };
            if data >= len {
                break;
            }
            let hole = rustix::fs::seek(src, SeekFrom::Hole(data)).map_or(len, |h| h.min(len));
            range(src, dst, data, hole.max(data + 1), cancelled)?;
            pos = hole.max(data + 1);
        }
        Ok(())
    }

    /// Copies bytes `from..to` of `src` to the same offsets of `dst`.
    fn range(
        src: &File,
        dst: &File,
        from: u64,
        to: u64,
        cancelled: &dyn Fn() -> bool,
    ) -> Result<(), StoreError> {
        let (mut off_in, mut off_out) = (from, from);
        while off_in < to {
            if cancelled() {
                return Err(StoreError::Cancelled);
            }
            let n = (to - off_in).min(COPY_STEP) as usize;
            match rustix::fs::copy_file_range(src, Some(&mut off_in), dst, Some(&mut off_out), n) {
                // The file shrank meanwhile.
                Ok(0) => break,
                Ok(_) => {}
                Err(Errno::XDEV | Errno::NOSYS | Errno::INVAL | Errno::OPNOTSUPP) => {
                    let copied = by_hand(src, dst, off_in, n)?;
                    if copied == 0 {
                        break;
                    }
                    off_in += copied;
                    off_out += copied;
                }
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    /// `pread` and `pwrite` of up to `n` bytes at `at`, 64 KiB at a time.
    fn by_hand(src: &File, dst: &File, at: u64, n: usize) -> Result<u64, StoreError> {
        let mut buf = vec![0u8; 64 << 10];
        let mut done = 0u64;
        while (done as usize) < n {
            let want = buf.len().min(n - done as usize);
            let got = src.read_at(&mut buf[..want], at + done)?;
            if got == 0 {
                break;
            }
            dst.write_all_at(&buf[..got], at + done)?;
            done += got as u64;
        }
        Ok(done)
    }
}

/// The sync calls of the `fsync` option, in one place (and counted in
/// tests, which cannot see a disk's cache).
mod sync {
    use std::fs::File;
    use std::os::fd::OwnedFd;

    use crate::error::StoreError;

    /// `fdatasync` of a file's data (and the metadata needed to read it).
    pub(super) fn data(file: &File) -> Result<(), StoreError> {
        #[cfg(test)]
        tests::record("data");
        file.sync_data().map_err(StoreError::from)
    }

    /// `fsync` of a directory: its entries (a rename, a new name) are on disk.
    pub(super) fn dir(fd: &OwnedFd) -> Result<(), StoreError> {
        #[cfg(test)]
        tests::record("dir");
        rustix::fs::fsync(fd).map_err(|e| StoreError::from(std::io::Error::from(e)))
    }

    #[cfg(test)]
    pub(super) mod tests {
        use std::cell::RefCell;

        thread_local! {
            static CALLS: RefCell<Vec<&'static str>> = const { RefCell::new(Vec::new()) };
        }

        pub(in super::super) fn record(what: &'static str) {
            CALLS.with(|c| c.borrow_mut().push(what));
        }

        /// The sync calls made on this thread since the last call.
        pub(in super::super) fn take() -> Vec<&'static str> {
            CALLS.with(|c| std::mem::take(&mut *c.borrow_mut()))
        }
    }
}

fn map_errno(e: Errno) -> StoreError {
    match e {
        Errno::NOENT => StoreError::NotFound,
        Errno::NOTDIR | Errno::ISDIR | Errno::EXIST | Errno::NOTEMPTY => StoreError::Conflict,
        Errno::XDEV | Errno::LOOP => StoreError::Escape,
        Errno::ACCESS | Errno::PERM | Errno::ROFS => StoreError::PermissionDenied,
        Errno::NOSPC | Errno::DQUOT => StoreError::NoSpace,
        Errno::FBIG => StoreError::TooLarge,
        Errno::NAMETOOLONG => StoreError::NameTooLong,
        e => StoreError::Io(io::Error::from(e)),
    }
}

/// Removes `TEMP_PREFIX` files left by a crash, a few levels deep, but
/// resumable uploads' (`RESUME_PREFIX`): their owner decides.
fn remove_leftovers(dir: &Path, depth: usize) {
    const MAX_DEPTH: usize = 8;
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        let name = name.to_string_lossy();
        if kind.is_file() && name.starts_with(TEMP_PREFIX) && !name.starts_with(RESUME_PREFIX) {
            let _ = std::fs::remove_file(entry.path());
        } else if kind.is_dir() && depth < MAX_DEPTH {
            remove_leftovers(&entry.path(), depth + 1);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::{Seek, SeekFrom, Write};

    use super::*;

    fn segs(p: &str) -> Vec<String> {
        p.split('/')
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect()
    }

    #[test]
    fn commit_replaces_and_drop_aborts() {
        let dir = tempfile::tempdir().unwrap();
        let root = WriteRoot::new(dir.path().join("w")).unwrap();
        let parent = root.dir(&segs("/a/b"), true).unwrap();
        let mut f = parent.create_temp("x.txt").unwrap();
        f.file().write_all(b"one").unwrap();
        assert!(!f.commit().unwrap(), "new file");
        assert_eq!(
            std::fs::read(root.path().join("a/b/x.txt")).unwrap(),
            b"one"
        );

        let mut f = parent.create_temp("x.txt").unwrap();
        f.file().write_all(b"two, aborted").unwrap();
        drop(f);
        assert_eq!(
            std::fs::read(root.path().join("a/b/x.txt")).unwrap(),
            b"one"
        );
        let names: Vec<_> = std::fs::read_dir(root.path().join("a/b"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 1, "temporary removed: {names:?}");

        let mut f = parent.copy_to_temp("x.txt", &|| false).unwrap();
        f.file().seek(SeekFrom::Start(1)).unwrap();
        f.file().write_all(b"NE+").unwrap();
        assert!(f.commit().unwrap(), "replaced");
        assert_eq!(
            std::fs::read(root.path().join("a/b/x.txt")).unwrap(),
            b"oNE+"
        );

        assert!(matches!(parent.remove("nope"), Err(StoreError::NotFound)));
        parent.remove("x.txt").unwrap();
        let top = root.dir(&[], false).unwrap();
        assert!(
            matches!(top.remove("a"), Err(StoreError::Conflict)),
            "a directory that is not empty"
        );
        parent.create_temp("y").unwrap().commit().unwrap();
        let a = root.dir(&segs("/a"), false).unwrap();
        assert!(matches!(a.remove("b"), Err(StoreError::Conflict)));
        parent.remove("y").unwrap();
        a.remove("b").unwrap();
        assert!(
            !root.path().join("a/b").exists(),
            "an empty directory is removed"
        );
        root.dir(&segs("/a/b"), true).unwrap();
        let f = top.create_temp("a").unwrap();
        assert!(
            matches!(f.commit(), Err(StoreError::Conflict)),
            "over a directory"
        );
    }

    #[test]
    fn symlinks_and_files_in_the_way() {
        let outside = tempfile::tempdir().unwrap();
        let dir = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(outside.path(), dir.path().join("out")).unwrap();
        std::fs::write(dir.path().join("file"), "f").unwrap();
        std::fs::write(
            dir.path().join(format!("{TEMP_PREFIX}1-1.tmp")),
            "left over",
        )
        .unwrap();
        let root = WriteRoot::new(dir.path()).unwrap();
        assert!(
            !dir.path().join(format!("{TEMP_PREFIX}1-1.tmp")).exists(),
            "leftovers removed"
        );
        assert!(matches!(
            root.dir(&segs("/out"), true),
            Err(StoreError::Escape)
        ));
        assert!(matches!(
            root.dir(&segs("/out/deeper"), true),
            Err(StoreError::Escape)
        ));
        assert!(matches!(
            root.dir(&segs("/file/x"), true),
            Err(StoreError::Conflict)
        ));
        assert!(matches!(
            root.dir(&segs("/missing"), false),
            Err(StoreError::NotFound)
        ));
        assert_eq!(
            std::fs::read_dir(outside.path()).unwrap().count(),
            0,
            "nothing written outside"
        );
    }
}

#[cfg(test)]
mod fsync_tests {
    use std::io::Write;

    use super::*;

    /// Issue 11 item 15: without `fsync` a commit makes no sync call; with
    /// it, the data is synced before the rename and the directory after,
    /// and so are new directories and removals.
    #[test]
    fn fsync_syncs_data_before_the_rename_and_the_directory_after() {
        let dir = tempfile::tempdir().unwrap();
        let plain = WriteRoot::new(dir.path().join("plain")).unwrap();
        sync::tests::take();
        let mut f = plain
            .dir(&["a".into()], true)
            .unwrap()
            .create_temp("x")
            .unwrap();
        f.file().write_all(b"x").unwrap();
        f.commit().unwrap();
        plain
            .dir(&["a".into()], false)
            .unwrap()
            .remove("x")
            .unwrap();
        assert_eq!(sync::tests::take(), ["rename"], "no sync by default");

        let durable = WriteRoot::new(dir.path().join("durable"))
            .unwrap()
            .with_fsync(true);
        let parent = durable.dir(&["a".into()], true).unwrap();
        assert_eq!(sync::tests::take(), ["dir"], "a new directory is synced");
        let mut f = parent.create_temp("x").unwrap();
        f.file().write_all(b"x").unwrap();
        f.commit().unwrap();
        assert_eq!(sync::tests::take(), ["data", "rename", "dir"]);
        assert_eq!(std::fs::read(durable.path().join("a/x")).unwrap(), b"x");
        let mut f = parent.copy_to_temp("x", &|| false).unwrap();
        f.file().write_all(b"y").unwrap();
        f.commit().unwrap();
        assert_eq!(
            sync::tests::take(),
            ["data", "rename", "dir"],
            "range uploads too"
        );
        parent.remove("x").unwrap();
        assert_eq!(sync::tests::take(), ["dir"], "a removal is synced");
    }
}

#[cfg(test)]
mod copy_tests {
    use std::io::Write;
    use std::os::unix::fs::{FileExt, MetadataExt};

    use super::*;

    /// Issue 12 item 9: a range upload's copy of a sparse file writes its
    /// data, not its holes.
    #[test]
    fn copies_keep_holes() {
        let dir = tempfile::tempdir().unwrap();
        let root = WriteRoot::new(dir.path()).unwrap();
        let parent = root.dir(&[], false).unwrap();
        let big = 4u64 << 30;
        let mut f = parent.create_temp("sparse").unwrap();
        f.file().write_all(b"head").unwrap();
        f.file().write_all_at(b"tail", big - 4).unwrap();
        f.commit().unwrap();
        let copy = parent.copy_to_temp("sparse", &|| false).unwrap();
        let meta = copy.file.as_ref().unwrap().metadata().unwrap();
        assert_eq!(meta.len(), big);
        assert!(
            meta.blocks() * 512 < 1 << 20,
            "{} bytes allocated for a copy of 8 bytes of data",
            meta.blocks() * 512
        );
        let mut buf = [0u8; 4];
        let file = copy.file.as_ref().unwrap();
        file.read_exact_at(&mut buf, 0).unwrap();
        assert_eq!(&buf, b"head");
        file.read_exact_at(&mut buf, big - 4).unwrap();
        assert_eq!(&buf, b"tail");
        file.read_exact_at(&mut buf, big / 2).unwrap();
        assert_eq!(buf, [0; 4]);
    }

    /// Issue 12 item 9: the copy stops at the first check after its
    /// request went away, and leaves no temporary file.
    #[test]
    fn copies_stop_when_cancelled() {
        let dir = tempfile::tempdir().unwrap();
        let root = WriteRoot::new(dir.path()).unwrap();
        let parent = root.dir(&[], false).unwrap();
        let mut f = parent.create_temp("dense").unwrap();
        let chunk = vec![7u8; 1 << 20];
        for _ in 0..((3 * COPY_STEP) >> 20) {
            f.file().write_all(&chunk).unwrap();
        }
        f.commit().unwrap();
        let checks = std::cell::Cell::new(0);
        let cancelled = || {
            checks.set(checks.get() + 1);
            checks.get() > 1
        };
        let err = parent.copy_to_temp("dense", &cancelled).unwrap_err();
        assert!(matches!(err, StoreError::Cancelled), "{err:?}");
        assert_eq!(checks.get(), 2, "one step copied, then stopped");
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["dense"], "no temporary file left");
    }
}

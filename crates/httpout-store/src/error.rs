//! Store errors.

use std::io;

/// Why the store could not give what was asked.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// Nothing at that path.
    #[error("not found")]
    NotFound,
    /// The path resolves (through a symlink) outside the root.
    #[error("path leads outside its root")]
    Escape,
    /// Something of the other kind is in the way: a file where a directory
    /// is needed, or a directory where a file would go.
    #[error("a file or directory is in the way")]
    Conflict,
    /// The operating system refused access.
    #[error("permission denied")]
    PermissionDenied,
    /// The file system is full, or the user's quota is (`ENOSPC`, `EDQUOT`).
    #[error("no space left on the file system")]
    NoSpace,
    /// The file would be larger than the file system allows (`EFBIG`).
    #[error("file too large for the file system")]
    TooLarge,
    /// A name is longer than the file system allows (`ENAMETOOLONG`).
    #[error("name too long")]
    NameTooLong,
    /// The operation was cancelled (its request went away).
    #[error("cancelled")]
    Cancelled,
    /// Any other I/O failure.
    #[error("i/o error")]
    Io(#[source] io::Error),
}

impl From<rustix::io::Errno> for StoreError {
    fn from(e: rustix::io::Errno) -> Self {
        io::Error::from(e).into()
    }
}

impl From<io::Error> for StoreError {
    fn from(e: io::Error) -> Self {
        // ENAMETOOLONG and ELOOP: a path that cannot name anything.
        if matches!(e.raw_os_error(), Some(36 | 40)) {
            return Self::NotFound;
        }
        // ENOSPC, EDQUOT, EFBIG: writes that the file system refuses.
        match e.raw_os_error() {
            Some(28 | 122) => return Self::NoSpace,
            Some(27) => return Self::TooLarge,
            _ => {}
        }
        match e.kind() {
            io::ErrorKind::NotFound | io::ErrorKind::NotADirectory => Self::NotFound,
            io::ErrorKind::PermissionDenied => Self::PermissionDenied,
            _ => Self::Io(e),
        }
    }
}

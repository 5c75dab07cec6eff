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
    /// Any other I/O failure.
    #[error("i/o error")]
    Io(#[source] io::Error),
}

impl From<io::Error> for StoreError {
    fn from(e: io::Error) -> Self {
        // ENAMETOOLONG and ELOOP: a path that cannot name anything.
        if matches!(e.raw_os_error(), Some(36 | 40)) {
            return Self::NotFound;
        }
        match e.kind() {
            io::ErrorKind::NotFound | io::ErrorKind::NotADirectory => Self::NotFound,
            io::ErrorKind::PermissionDenied => Self::PermissionDenied,
            _ => Self::Io(e),
        }
    }
}

//! httpout-store: where served bytes live. No HTTP types here.
//!
//! # Layout
//! - [`disk`][]: a directory root ([`DiskRoot`]); resolving request segments
//!   to files and directories that are guaranteed to be inside it
//!   (symlinks that lead outside are refused), opening them, listing them;
//! - [`atomic`][]: the write directory ([`WriteRoot`]); uploads written to
//!   a temporary file and renamed into place ([`AtomicFile`]);
//! - [`live`][]: files being written, followed by readers at the live edge
//!   ([`Live`], [`LiveFile`], [`LiveWriter`]);
//! - [`fifo`][]: FIFOs and standard input, read without blocking a thread;
//! - [`error`][]: [`StoreError`].

pub mod atomic;
pub mod disk;
pub mod error;
pub mod fifo;
pub mod live;

pub use atomic::{AtomicFile, Kind, ParentDir, RESUME_PREFIX, TEMP_PREFIX, WriteRoot};
pub use disk::{DirEntryInfo, DiskRoot, Found, OpenFile};
pub use error::StoreError;
pub use live::{Completion, Live, LiveFile, LiveWriter, Progress, State};

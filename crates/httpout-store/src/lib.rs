//! httpout-store: where served bytes live. No HTTP types here.
//!
//! # Layout
//! - [`disk`][]: a directory root ([`DiskRoot`]); resolving request segments
//!   to files and directories that are guaranteed to be inside it
//!   (symlinks that lead outside are refused), opening them, listing them;
//! - [`error`][]: [`StoreError`].

pub mod disk;
pub mod error;

pub use disk::{DirEntryInfo, DiskRoot, Found, OpenFile};
pub use error::StoreError;

//! What the resolver decided for a GET or HEAD: the outcome [`respond`]
//! turns into a response, status and headers in one place.
//!
//! [`respond`]: super::respond

use std::ops::Range;

use http::HeaderValue;
use httpout_store::{DirEntryInfo, LiveFile, OpenFile};

use super::conditional::Validators;
use super::encoding::Coding;

/// The decision for one GET or HEAD (misses and refusals are errors of the
/// resolver: 404, 403).
#[derive(Debug)]
pub(crate) enum Outcome {
    /// 301 to the directory's slash form.
    Redirect {
        /// The `Location`, re-encoded from the normalised path.
        location: Option<HeaderValue>,
    },
    /// A directory listing, HTML or JSON.
    Listing(Listing),
    /// 304: the representation has not changed.
    NotModified(Representation),
    /// 412: a precondition (`If-Match`, `If-Unmodified-Since`) failed.
    PreconditionFailed,
    /// 416: no requested range overlaps the file.
    RangeNotSatisfiable {
        /// The file's size, for `Content-Range: bytes */SIZE`.
        size: u64,
    },
    /// 200 or 206 from a complete file.
    File {
        /// What is sent.
        rep: Representation,
        /// The file the bytes come from: the file itself, or its
        /// precompressed sibling.
        file: Box<OpenFile>,
        /// Which bytes of it.
        part: Part,
    },
    /// 200 or 206 from a file still being written (`growing`).
    Growing {
        /// What is sent (no validators: the file is not complete).
        rep: Representation,
        /// The file at its live edge.
        live: LiveFile,
        /// RFC 8673: from `start` to `end` (exclusive; `None`: until the
        /// writer finishes); `None` for the whole file (200).
        range: Option<(u64, Option<u64>)>,
    },
}

/// The representation a file response carries, and its validators.
#[derive(Debug, Clone)]
pub(crate) struct Representation {
    /// `Content-Type` of the file (a multipart response has its own).
    pub(crate) content_type: HeaderValue,
    /// `Content-Encoding`, when the bytes are content-coded.
    pub(crate) coding: Option<Coding>,
    /// `ETag` and `Last-Modified`.
    pub(crate) validators: Validators,
    /// Whether the representation varies with `Accept-Encoding` (a
    /// compressible type).
    pub(crate) varies: bool,
    /// `Cache-Control` ([`crate::cache`]); `None` sends none.
    pub(crate) cache: Option<HeaderValue>,
}

/// Which bytes of a complete file a response carries.
#[derive(Debug)]
pub(crate) enum Part {
    /// All `len` bytes, as they are (identity or a precompressed sibling).
    Whole {
        /// The size of what is sent.
        len: u64,
    },
    /// The whole file, compressed while it is sent (the representation's
    /// coding).
    OnTheFly(Coding),
    /// One range of a file of `size` bytes: 206 with `Content-Range`.
    Range {
        /// The bytes sent.
        range: Range<u64>,
        /// The file's size.
        size: u64,
    },
    /// Several ranges: 206 `multipart/byteranges`.
    Ranges {
        /// The bytes sent, in order.
        ranges: Vec<Range<u64>>,
        /// The file's size.
        size: u64,
    },
}

/// A directory listing to send.
#[derive(Debug)]
pub(crate) struct Listing {
    /// The decoded URL path shown as the title.
    pub(crate) title: String,
    /// JSON (asked for by `Accept`) rather than HTML.
    pub(crate) json: bool,
    /// The entries, sorted.
    pub(crate) entries: Vec<DirEntryInfo>,
    /// Whether a `../` link leads up.
    pub(crate) parent: bool,
    /// Whether an upload form is offered.
    pub(crate) upload_form: bool,
    /// Whether `Cache-Control` is sent (the listing of a server's mounts;
    /// listings of directories have none).
    pub(crate) cache_control: bool,
}

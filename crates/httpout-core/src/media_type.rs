//! Media types from file names: the one table every mode uses (the static
//! server's `Content-Type`, the push client's uploads, live inputs).
//!
//! Streaming types come first, the way players and packagers expect them
//! (mime_guess knows some of them differently, or not at all): DASH
//! manifests, HLS playlists, fragmented MP4 and CMAF segments, MPEG-TS,
//! raw audio. Then mime_guess, then `application/octet-stream`.
//!
//! [`MediaTypes`] is that table with an Apache-style `mime.types` file
//! over it (the static server's `--mime_types`).

use std::collections::HashMap;
use std::path::Path;

use http::HeaderValue;

/// Extensions (lower case) whose type is ours, not mime_guess's.
const OURS: &[(&str, &str)] = &[
    ("mpd", "application/dash+xml"),
    ("m3u8", "application/vnd.apple.mpegurl"),
    // Fragmented MP4 and CMAF (ISO/IEC 23000-19) segments.
    ("m4s", "video/mp4"),
    ("mp4", "video/mp4"),
    ("m4v", "video/mp4"),
    ("cmfv", "video/mp4"),
    ("m4a", "audio/mp4"),
    ("cmfa", "audio/mp4"),
    ("cmft", "application/mp4"),
    ("ts", "video/mp2t"),
    ("mp3", "audio/mpeg"),
    ("aac", "audio/aac"),
    ("webm", "video/webm"),
    ("vtt", "text/vtt"),
    ("ogg", "audio/ogg"),
    ("oga", "audio/ogg"),
    ("opus", "audio/ogg"),
    ("html", "text/html; charset=utf-8"),
    ("htm", "text/html; charset=utf-8"),
    ("txt", "text/plain; charset=utf-8"),
    ("js", "text/javascript; charset=utf-8"),
    ("mjs", "text/javascript; charset=utf-8"),
    ("json", "application/json"),
];

/// The type of last resort.
///
/// ```
/// use httpout_core::media_type::{for_path, OCTET_STREAM};
/// assert_eq!(for_path("data.no-such-extension"), OCTET_STREAM);
/// ```
pub const OCTET_STREAM: &str = "application/octet-stream";

/// The extension of the last segment of `path` (after its last `.`), if any.
fn extension(path: &str) -> Option<&str> {
    let name = path.rsplit('/').next().unwrap_or(path);
    name.rsplit_once('.').map(|(_, ext)| ext)
}

/// Our own type for `path`'s extension (any case), without guessing:
/// `None` when the extension is not one of the streaming and web types
/// this table fixes.
///
/// ```
/// use httpout_core::media_type::ours;
/// assert_eq!(ours("live/index.M3U8"), Some("application/vnd.apple.mpegurl"));
/// assert_eq!(ours("seg-1.ts"), Some("video/mp2t"));
/// assert_eq!(ours("notes.rtf"), None); // not one of ours: no guess
/// ```
#[must_use]
pub fn ours(path: &str) -> Option<&'static str> {
    let ext = extension(path)?;
    OURS.iter()
        .find(|(e, _)| e.eq_ignore_ascii_case(ext))
        .map(|(_, t)| *t)
}

/// The media type for a file name or path: ours ([`ours`]), else
/// mime_guess's first guess, else [`OCTET_STREAM`].
///
/// ```
/// use httpout_core::media_type::for_path;
/// assert_eq!(for_path("/v/manifest.mpd"), "application/dash+xml"); // ours
/// assert_eq!(for_path("photo.png"), "image/png"); // mime_guess's
/// assert_eq!(for_path("README"), "application/octet-stream");
/// ```
#[must_use]
pub fn for_path(path: &str) -> &'static str {
    ours(path)
        .or_else(|| mime_guess::from_path(path).first_raw())
        .unwrap_or(OCTET_STREAM)
}

/// The largest `mime.types` file read (Apache's is about 60 KiB).
const MAX_FILE: u64 = 4 << 20;

/// The built-in table ([`for_path`]) with types from an Apache-style
/// `mime.types` file over it: one `type/subtype ext1 ext2 ...` per line,
/// `#` starting a comment; an extension a later line names again
/// takes that line's type. Default: the built-in table alone.
///
/// ```
/// use httpout_core::media_type::MediaTypes;
///
/// let types = MediaTypes::parse("# mine\ntext/x-mine  mine\nvideo/x-other mp4\n")?;
/// assert_eq!(types.for_path("a.MINE"), "text/x-mine");
/// assert_eq!(types.for_path("v/a.mp4"), "video/x-other");
/// assert_eq!(types.for_path("a.mpd"), "application/dash+xml");
/// # Ok::<_, httpout_core::media_type::MediaTypesError>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MediaTypes {
    /// Lower-case extension → type, from the file.
    loaded: HashMap<String, HeaderValue>,
}

/// Why a `mime.types` file cannot be used.
///
/// ```
/// use httpout_core::media_type::{MediaTypes, MediaTypesError};
///
/// match MediaTypes::parse("text/plain txt\nnot-a-type foo\n") {
///     Err(MediaTypesError::Line { line, .. }) => assert_eq!(line, 2),
///     other => panic!("expected a bad line, got {other:?}"),
/// }
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MediaTypesError {
    /// It cannot be read (or is larger than 4 MiB).
    #[error("cannot read it: {0}")]
    Read(std::io::Error),
    /// A line is not `type/subtype ext ...`.
    #[error("line {line}: {reason}")]
    Line {
        /// The line, from 1.
        line: usize,
        /// What is wrong with it.
        reason: String,
    },
}

impl MediaTypes {
    /// Reads a `mime.types` file (at most 4 MiB).
    ///
    /// ```
    /// use httpout_core::media_type::{MediaTypes, MediaTypesError};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let file = dir.path().join("mime.types");
    /// std::fs::write(&file, "application/x-mine  mine mne\n")?;
    /// let types = MediaTypes::load(&file)?;
    /// assert_eq!(types.for_path("a.mne"), "application/x-mine");
    /// let missing = MediaTypes::load(&dir.path().join("none"));
    /// assert!(matches!(missing, Err(MediaTypesError::Read(_))));
    /// # Ok::<_, Box<dyn std::error::Error>>(())
    /// ```
    pub fn load(path: &Path) -> Result<Self, MediaTypesError> {
        use std::io::Read as _;
        let mut text = String::new();
        std::fs::File::open(path)
            .and_then(|f| f.take(MAX_FILE + 1).read_to_string(&mut text))
            .map_err(MediaTypesError::Read)?;
        if text.len() as u64 > MAX_FILE {
            return Err(MediaTypesError::Read(std::io::Error::other(
                "larger than 4 MiB",
            )));
        }
        Self::parse(&text)
    }

    /// Reads the text of a `mime.types` file.
    ///
    /// ```
    /// use httpout_core::media_type::MediaTypes;
    ///
    /// let types = MediaTypes::parse("audio/x-mine mine # my own\n\n")?;
    /// assert_eq!(types.for_path("song.mine"), "audio/x-mine");
    /// // An extension is a name, not a path.
    /// assert!(MediaTypes::parse("text/plain a.txt\n").is_err());
    /// # Ok::<_, httpout_core::media_type::MediaTypesError>(())
    /// ```
    pub fn parse(text: &str) -> Result<Self, MediaTypesError> {
        let mut loaded = HashMap::new();
        for (i, line) in text.lines().enumerate() {
            let bad = |reason: String| MediaTypesError::Line {
                line: i + 1,
                reason,
            };
            // A comment runs from `#` to the end of the line.
            let line = line.split('#').next().unwrap_or_default().trim();
            if line.is_empty() {
                continue;
            }
            let mut fields = line.split_ascii_whitespace();
            let media = fields.next().unwrap_or_default();
            let value = media_type_value(media).ok_or_else(|| {
                bad(format!(
                    "expected `type/subtype ext ...`, {media:?} is not a media type"
                ))
            })?;
            for ext in fields {
                if ext.contains(['.', '/']) || !ext.bytes().all(|b| b.is_ascii_graphic()) {
                    return Err(bad(format!(
                        "expected extensions without dots or slashes, got {ext:?}"
                    )));
                }
                loaded.insert(ext.to_ascii_lowercase(), value.clone());
            }
        }
        Ok(Self { loaded })
    }

    /// How many extensions the file gave.
    ///
    /// ```
    /// use httpout_core::media_type::MediaTypes;
    ///
    /// let types = MediaTypes::parse("text/x-a a aa\ntext/x-b b\ntext/x-c a\n")?;
    /// assert_eq!(types.loaded(), 3); // `a` named twice counts once
    /// assert_eq!(MediaTypes::default().loaded(), 0);
    /// # Ok::<_, httpout_core::media_type::MediaTypesError>(())
    /// ```
    #[must_use]
    pub fn loaded(&self) -> usize {
        self.loaded.len()
    }

    /// The file's type for `path`'s extension, if it gave one.
    fn in_file(&self, path: &str) -> Option<&HeaderValue> {
        if self.loaded.is_empty() {
            return None;
        }
        self.loaded.get(&extension(path)?.to_ascii_lowercase())
    }

    /// The media type for a file name or path: the file's, else
    /// [`for_path`]'s.
    ///
    /// ```
    /// use httpout_core::media_type::MediaTypes;
    ///
    /// let types = MediaTypes::parse("text/x-log log\n")?;
    /// assert_eq!(types.for_path("/var/app.LOG"), "text/x-log"); // the file's
    /// assert_eq!(types.for_path("a.m4s"), "video/mp4"); // the built-in table's
    /// # Ok::<_, httpout_core::media_type::MediaTypesError>(())
    /// ```
    #[must_use]
    pub fn for_path(&self, path: &str) -> &str {
        match self.in_file(path) {
            // Checked to be visible ASCII when loaded.
            Some(value) => value.to_str().unwrap_or(OCTET_STREAM),
            None => for_path(path),
        }
    }

    /// [`MediaTypes::for_path`] as a header value.
    ///
    /// ```
    /// use httpout_core::media_type::MediaTypes;
    ///
    /// let types = MediaTypes::parse("text/x-log log\n")?;
    /// assert_eq!(types.header("app.log"), "text/x-log");
    /// assert_eq!(types.header("index.m3u8"), "application/vnd.apple.mpegurl");
    /// # Ok::<_, httpout_core::media_type::MediaTypesError>(())
    /// ```
    #[must_use]
    pub fn header(&self, path: &str) -> HeaderValue {
        match self.in_file(path) {
            Some(value) => value.clone(),
            None => HeaderValue::from_static(for_path(path)),
        }
    }
}

/// `type/subtype` (RFC 9110 tokens, parameters refused) as a header value.
fn media_type_value(s: &str) -> Option<HeaderValue> {
    let token = |t: &str| {
        !t.is_empty()
            && t.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
    };
    let (kind, sub) = s.split_once('/')?;
    (token(kind) && token(sub)).then(|| HeaderValue::from_str(&s.to_ascii_lowercase()).ok())?
}

/// Whether a type is text-like and worth compressing: `text/*`, JSON,
/// JavaScript, XML and `+xml`/`+json` types (SVG, MPD), M3U8.
///
/// ```
/// use httpout_core::media_type::compressible;
/// assert!(compressible("text/html; charset=utf-8"));
/// assert!(compressible("application/dash+xml"));
/// assert!(!compressible("video/mp4"));
/// ```
#[must_use]
pub fn compressible(media_type: &str) -> bool {
    let essence = media_type.split(';').next().unwrap_or_default().trim();
    essence.starts_with("text/")
        || essence.ends_with("+xml")
        || essence.ends_with("+json")
        || matches!(
            essence,
            "application/json"
                | "application/javascript"
                | "application/xml"
                | "application/vnd.apple.mpegurl"
                | "application/x-mpegurl"
                | "image/svg+xml"
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_types() {
        for (name, t) in [
            ("live.mpd", "application/dash+xml"),
            ("a.M3U8", "application/vnd.apple.mpegurl"),
            ("seg_1.m4s", "video/mp4"),
            ("v/seg.cmfv", "video/mp4"),
            ("a.cmfa", "audio/mp4"),
            ("t.cmft", "application/mp4"),
            ("x.ts", "video/mp2t"),
            ("a.mp3", "audio/mpeg"),
            ("a.aac", "audio/aac"),
            ("a.webm", "video/webm"),
            ("s.vtt", "text/vtt"),
            ("i.svg", "image/svg+xml"),
            ("noext", OCTET_STREAM),
            ("dir.mpd/noext", OCTET_STREAM),
        ] {
            assert_eq!(for_path(name), t, "{name}");
        }
        assert_eq!(ours("a.svg"), None, "mime_guess's, not ours");
        assert_eq!(ours("a.MPD"), Some("application/dash+xml"));
    }

    #[test]
    fn a_mime_types_file_over_the_table() {
        let types = MediaTypes::parse(
            "# comment\n\napplication/x-none\n  text/x-a\ta  b # c\nvideo/x-ts ts\ntext/x-b b\n",
        )
        .unwrap();
        assert_eq!(types.for_path("x.A"), "text/x-a");
        assert_eq!(types.for_path("x.b"), "text/x-b", "a later line wins");
        assert_eq!(types.header("d/x.ts"), "video/x-ts");
        assert_eq!(types.for_path("x.mpd"), "application/dash+xml");
        assert_eq!(types.for_path("x.svg"), "image/svg+xml");
        for (text, line) in [
            ("ok/x a\nnot-a-type a\n", 2),
            ("text/x .a\n", 1),
            ("text/x; charset=utf-8 a\n", 1),
            ("# c\n\ntext/ a\n", 3),
            ("text/x a/b\n", 1),
        ] {
            match MediaTypes::parse(text) {
                Err(MediaTypesError::Line { line: l, .. }) => assert_eq!(l, line, "{text:?}"),
                other => panic!("{text:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn compressible_types() {
        for name in [
            "a.mpd", "a.m3u8", "a.txt", "a.json", "a.js", "a.svg", "a.vtt", "a.xml", "a.css",
        ] {
            assert!(compressible(for_path(name)), "{name}");
        }
        for name in ["a.mp4", "a.ts", "a.png", "a.gz", "a"] {
            assert!(!compressible(for_path(name)), "{name}");
        }
    }
}

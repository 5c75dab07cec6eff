//! Media types from file names: the one table every mode uses (the static
//! server's `Content-Type`, the push client's uploads, live inputs).
//!
//! Streaming types come first, the way players and packagers expect them
//! (mime_guess knows some of them differently, or not at all): DASH
//! manifests, HLS playlists, fragmented MP4 and CMAF segments, MPEG-TS,
//! raw audio. Then mime_guess, then `application/octet-stream`.

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
pub const OCTET_STREAM: &str = "application/octet-stream";

/// The extension of the last segment of `path` (after its last `.`), if any.
fn extension(path: &str) -> Option<&str> {
    let name = path.rsplit('/').next().unwrap_or(path);
    name.rsplit_once('.').map(|(_, ext)| ext)
}

/// Our own type for `path`'s extension (any case), without guessing:
/// `None` when the extension is not one of the streaming and web types
/// this table fixes.
#[must_use]
pub fn ours(path: &str) -> Option<&'static str> {
    let ext = extension(path)?;
    OURS.iter()
        .find(|(e, _)| e.eq_ignore_ascii_case(ext))
        .map(|(_, t)| *t)
}

/// The media type for a file name or path: ours ([`ours`]), else
/// mime_guess's first guess, else [`OCTET_STREAM`].
#[must_use]
pub fn for_path(path: &str) -> &'static str {
    ours(path)
        .or_else(|| mime_guess::from_path(path).first_raw())
        .unwrap_or(OCTET_STREAM)
}

/// Whether a type is text-like and worth compressing: `text/*`, JSON,
/// JavaScript, XML and `+xml`/`+json` types (SVG, MPD), M3U8.
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

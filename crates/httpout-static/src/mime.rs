//! Media types from file names, with the streaming types right, and which
//! types are worth compressing.

use http::HeaderValue;

/// The `Content-Type` for a file name: streaming media types first (what
/// players and packagers expect), then mime_guess, then
/// `application/octet-stream`.
pub(crate) fn content_type(name: &str) -> HeaderValue {
    let ext = name.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase());
    let known = match ext.as_deref() {
        Some("mpd") => Some("application/dash+xml"),
        Some("m3u8") => Some("application/vnd.apple.mpegurl"),
        Some("m4s" | "mp4" | "cmfv" | "m4v") => Some("video/mp4"),
        Some("m4a" | "cmfa") => Some("audio/mp4"),
        Some("ts") => Some("video/mp2t"),
        Some("mp3") => Some("audio/mpeg"),
        Some("aac") => Some("audio/aac"),
        Some("webm") => Some("video/webm"),
        Some("vtt") => Some("text/vtt"),
        Some("ogg" | "oga") => Some("audio/ogg"),
        Some("opus") => Some("audio/ogg"),
        Some("html" | "htm") => Some("text/html; charset=utf-8"),
        Some("txt") => Some("text/plain; charset=utf-8"),
        Some("js" | "mjs") => Some("text/javascript; charset=utf-8"),
        Some("json") => Some("application/json"),
        _ => None,
    };
    if let Some(t) = known {
        return HeaderValue::from_static(t);
    }
    mime_guess::from_path(name).first_raw().map_or_else(
        || HeaderValue::from_static("application/octet-stream"),
        HeaderValue::from_static,
    )
}

/// Whether a type is text-like and worth compressing: `text/*`, JSON, JS,
/// XML and `+xml`/`+json` types (SVG, MPD), M3U8.
pub(crate) fn compressible(content_type: &HeaderValue) -> bool {
    let t = content_type.to_str().unwrap_or_default();
    let essence = t.split(';').next().unwrap_or_default().trim();
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
            ("x.ts", "video/mp2t"),
            ("a.mp3", "audio/mpeg"),
            ("a.aac", "audio/aac"),
            ("a.webm", "video/webm"),
            ("s.vtt", "text/vtt"),
            ("i.svg", "image/svg+xml"),
            ("noext", "application/octet-stream"),
        ] {
            assert_eq!(content_type(name), t, "{name}");
        }
    }

    #[test]
    fn compressible_types() {
        for name in [
            "a.mpd", "a.m3u8", "a.txt", "a.json", "a.js", "a.svg", "a.vtt", "a.xml", "a.css",
        ] {
            assert!(compressible(&content_type(name)), "{name}");
        }
        for name in ["a.mp4", "a.ts", "a.png", "a.gz", "a"] {
            assert!(!compressible(&content_type(name)), "{name}");
        }
    }
}

//! Safe request paths: percent-decoded once and normalised once, here only.
//!
//! [`SafePath::parse`] turns the path of a request target into a list of
//! plain segments. Anything that could name something outside a root is
//! refused with a 400 before any mode sees it: `..` segments in any spelling
//! (`..`, `%2e%2e`, `..%2f`), backslashes (Windows separators), NUL bytes,
//! invalid UTF-8 and malformed percent escapes. Empty and `.` segments are
//! dropped, as RFC 3986 §5.2.4 removes them. A `..` that a client sends is
//! refused rather than resolved: browsers and curl already remove dot
//! segments, so one that reaches the server is an attack or a broken client.

use std::fmt;

use crate::error::Error;

/// A request path that is safe to map onto a directory tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SafePath {
    segments: Vec<String>,
    trailing_slash: bool,
    asterisk: bool,
}

impl SafePath {
    /// Parses the path part of a request target (no query string).
    /// `*` (as in `OPTIONS *`) gives [`SafePath::is_asterisk`].
    pub fn parse(raw: &str) -> Result<Self, Error> {
        if raw == "*" {
            return Ok(Self {
                segments: Vec::new(),
                trailing_slash: false,
                asterisk: true,
            });
        }
        if !raw.starts_with('/') {
            return Err(Error::bad_request("request target must start with /"));
        }
        let decoded = percent_decode(raw.as_bytes())?;
        let text = String::from_utf8(decoded)
            .map_err(|_| Error::bad_request("request path is not valid UTF-8"))?;
        if text.contains('\0') {
            return Err(Error::bad_request("request path contains a NUL byte"));
        }
        if text.contains('\\') {
            return Err(Error::bad_request("request path contains a backslash"));
        }
        let mut segments = Vec::new();
        for seg in text.split('/') {
            match seg {
                "" | "." => {}
                ".." => return Err(Error::bad_request("request path contains '..'")),
                s => segments.push(s.to_owned()),
            }
        }
        Ok(Self {
            trailing_slash: text.ends_with('/') && !segments.is_empty(),
            segments,
            asterisk: false,
        })
    }

    /// A path made of already-decoded segments (directory names, mount
    /// names), checked as [`SafePath::parse`] would check decoded text.
    pub fn from_segments<S: Into<String>>(
        segments: impl IntoIterator<Item = S>,
    ) -> Result<Self, Error> {
        let mut out = Vec::new();
        for seg in segments {
            let seg = seg.into();
            if seg.is_empty() || seg == "." || seg == ".." || seg.contains(['/', '\\', '\0']) {
                return Err(Error::bad_request(format!(
                    "{seg:?} cannot be a path segment"
                )));
            }
            out.push(seg);
        }
        Ok(Self {
            segments: out,
            trailing_slash: false,
            asterisk: false,
        })
    }

    /// The root path `/`.
    pub fn root() -> Self {
        Self {
            segments: Vec::new(),
            trailing_slash: false,
            asterisk: false,
        }
    }

    /// The decoded segments, none empty, `.` or `..`.
    pub fn segments(&self) -> &[String] {
        &self.segments
    }

    /// Whether the request target ended with `/` (a directory request).
    pub fn has_trailing_slash(&self) -> bool {
        self.trailing_slash
    }

    /// Whether the request target was `*` (`OPTIONS *`).
    pub fn is_asterisk(&self) -> bool {
        self.asterisk
    }

    /// Whether this is `/`.
    pub fn is_root(&self) -> bool {
        self.segments.is_empty() && !self.asterisk
    }

    /// The path below `prefix` (a mount), or `None` if it is not under it.
    pub fn strip_prefix(&self, prefix: &Self) -> Option<Self> {
        let rest = self.segments.strip_prefix(prefix.segments.as_slice())?;
        Some(Self {
            segments: rest.to_vec(),
            trailing_slash: self.trailing_slash && !rest.is_empty(),
            asterisk: false,
        })
    }
}

impl fmt::Display for SafePath {
    /// The normalised, decoded path: `/a/b` or `/a/b/`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.asterisk {
            return f.write_str("*");
        }
        if self.segments.is_empty() {
            return f.write_str("/");
        }
        for s in &self.segments {
            write!(f, "/{s}")?;
        }
        if self.trailing_slash {
            f.write_str("/")?;
        }
        Ok(())
    }
}

/// Decodes `%XX` escapes; a `%` not followed by two hex digits is an error.
fn percent_decode(raw: &[u8]) -> Result<Vec<u8>, Error> {
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        if raw[i] == b'%' {
            let hex = |b: u8| (b as char).to_digit(16);
            match (
                raw.get(i + 1).copied().and_then(hex),
                raw.get(i + 2).copied().and_then(hex),
            ) {
                (Some(h), Some(l)) => out.push((h * 16 + l) as u8),
                _ => return Err(Error::bad_request("malformed percent-encoding in path")),
            }
            i += 3;
        } else {
            out.push(raw[i]);
            i += 1;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(raw: &str) -> String {
        SafePath::parse(raw).unwrap().to_string()
    }

    #[test]
    fn normalises() {
        assert_eq!(ok("/"), "/");
        assert_eq!(ok("//a/./b//"), "/a/b/");
        assert_eq!(ok("/a%20b/c%2Bd"), "/a b/c+d");
        assert_eq!(ok("/caf%C3%A9"), "/café");
        assert_eq!(ok("/a..b/.c"), "/a..b/.c");
        assert!(SafePath::parse("*").unwrap().is_asterisk());
    }

    #[test]
    fn refuses_escapes() {
        for raw in [
            "/..",
            "/a/../..",
            "/%2e%2e/x",
            "/%2E%2e%2fetc",
            "/..%2f..%2fetc",
            "/a%5c..%5cb",
            "/a\\b",
            "/a%00b",
            "/%c0%ae%c0%ae/x",
            "/%zz",
            "/%4",
            "x",
            "",
            "/%ff",
        ] {
            let err = SafePath::parse(raw).unwrap_err();
            assert_eq!(err.status(), 400, "{raw}");
        }
    }

    #[test]
    fn strips_mounts() {
        let p = SafePath::parse("/live/a/b").unwrap();
        let m = SafePath::parse("/live").unwrap();
        assert_eq!(p.strip_prefix(&m).unwrap().to_string(), "/a/b");
        assert!(p.strip_prefix(&SafePath::parse("/lib").unwrap()).is_none());
        assert_eq!(p.strip_prefix(&SafePath::root()).unwrap(), p);
    }

    /// A small deterministic fuzzer: random paths over the characters that
    /// matter never panic, and whatever parses holds the invariants.
    #[test]
    fn random_paths_hold_the_invariants() {
        const ALPHABET: &[u8] = b"/./%2eEfF5cC0a\\x\0";
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..200_000 {
            let mut raw = String::from("/");
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let len = (seed % 24) as usize;
            let mut bits = seed;
            for i in 0..len {
                if i % 8 == 7 {
                    bits = bits.rotate_left(29) ^ seed;
                }
                raw.push(ALPHABET[(bits % ALPHABET.len() as u64) as usize] as char);
                bits /= ALPHABET.len() as u64;
            }
            if let Ok(p) = SafePath::parse(&raw) {
                for seg in p.segments() {
                    assert!(
                        !matches!(seg.as_str(), "" | "." | ".."),
                        "{raw:?} -> {seg:?}"
                    );
                    assert!(!seg.contains(['/', '\\', '\0']), "{raw:?} -> {seg:?}");
                }
            }
        }
    }
}

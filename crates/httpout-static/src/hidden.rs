//! Dotfiles (`hidden`): `.git/`, `.env`, `.htpasswd` are not for the web.
//!
//! Without `hidden`, a path with any segment starting with `.` is not
//! served (404, as if absent), not listed, not a directory to list, and not
//! written (PUT, POST, DELETE, form parts: 403), as dufs and miniserve do.
//! `.well-known` as the first segment below a root is the exception
//! (RFC 8615: ACME challenges, `security.txt`). Names the server looks up
//! itself (index files, precompressed siblings `NAME.gz`) are not request
//! names: they are found as before.

use httpout_core::Error;

/// The one directory starting with `.` that is served (first segment only).
const WELL_KNOWN: &str = ".well-known";

/// Whether `name` (one segment) is a dotfile.
pub(crate) fn is_hidden(name: &str) -> bool {
    name.starts_with('.')
}

/// Whether a path (segments below a root) names or passes through a
/// dotfile, `.well-known` first excepted.
pub(crate) fn hides(segments: &[String]) -> bool {
    segments
        .iter()
        .enumerate()
        .any(|(i, s)| is_hidden(s) && !(i == 0 && s == WELL_KNOWN))
}

/// Whether `name` is a placeholder file (`ID.placeholder`) that the
/// operator made for an expected upload: with `require_placeholder` such
/// names are neither served, listed nor written by clients (they would
/// give away or forge an id).
pub(crate) fn is_placeholder(config: &crate::StaticConfig, name: &str) -> bool {
    config.uploads.options().require_placeholder
        && name.ends_with(crate::write::registry::PLACEHOLDER_SUFFIX)
}

/// The answer to a write of a dotfile.
pub(crate) fn refused() -> Error {
    Error::Forbidden("names starting with '.' are not written (see --hidden)".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dot_segments_anywhere_but_well_known_first() {
        let hides =
            |path: &[&str]| hides(&path.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>());
        for hidden in [
            &[".env"][..],
            &[".git", "config"],
            &["a", ".htpasswd"],
            &["a", ".well-known", "x"],
            &[".well-known", ".secret"],
            &[".well-knownx", "a"],
        ] {
            assert!(hides(hidden), "{hidden:?}");
        }
        for shown in [
            &[][..],
            &["a.txt"],
            &["a", "b.c"],
            &[".well-known", "acme-challenge", "t"],
            &["x.", "y"],
        ] {
            assert!(!hides(shown), "{shown:?}");
        }
    }
}

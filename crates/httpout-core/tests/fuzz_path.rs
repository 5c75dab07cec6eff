//! Property tests of `SafePath::parse`, the one place request paths are
//! decoded: whatever the client sends, a parsed path can never name
//! something outside a root, and decoding happens exactly once.
//!
//! 10 000 cases per property and run (`cargo test -p httpout-core --test
//! fuzz_path`); the inputs mix arbitrary text with the pieces attacks are
//! made of (`..`, `%2e`, `%2f`, `%5c`, `%00`, overlong UTF-8, broken escapes).

use httpout_core::SafePath;
use proptest::prelude::*;

/// The pieces that path attacks and edge cases are built from.
const PIECES: &[&str] = &[
    "/", "/", "/", ".", "..", "...", "a", "b.txt", "é", "%", "%2", "%2e", "%2E", "%2f", "%2F",
    "%5c", "%5C", "\\", "%00", "\0", "%25", "%zz", "%c0%ae", "%c3%a9", "%ff", "%e2%82", "*", "?",
    "#", " ", "%20", "~",
];

/// A request-target path: mostly built from [`PIECES`], sometimes any text.
fn raw_path() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::collection::vec(prop::sample::select(PIECES), 0..24)
            .prop_map(|p| format!("/{}", p.concat())),
        1 => prop::collection::vec(prop::sample::select(PIECES), 0..24).prop_map(|p| p.concat()),
        1 => any::<String>(),
        1 => any::<String>().prop_map(|s| format!("/{s}")),
    ]
}

/// A path with no `%` of its own.
fn unescaped_path() -> impl Strategy<Value = String> {
    let pieces: Vec<&str> = PIECES
        .iter()
        .copied()
        .filter(|p| !p.contains('%'))
        .collect();
    prop_oneof![
        3 => prop::collection::vec(prop::sample::select(pieces), 0..24)
            .prop_map(|p| format!("/{}", p.concat())),
        1 => "[^%]*".prop_map(|s| format!("/{s}")),
    ]
}

/// The path `p` as a client would send it: each segment's `%` escaped, so
/// that parsing decodes back to the same segments.
fn encode(p: &SafePath) -> String {
    let mut out = String::new();
    for s in p.segments() {
        out.push('/');
        out.push_str(&s.replace('%', "%25"));
    }
    if out.is_empty() || p.has_trailing_slash() {
        out.push('/');
    }
    out
}

/// Every byte after the leading `/` percent-encoded (`/` included).
fn encode_every_byte(raw: &str) -> String {
    let mut out = String::from("/");
    for b in raw.as_bytes()[1..].iter() {
        out.push_str(&format!("%{b:02X}"));
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(10_000))]

    /// Never panics; a parsed path has only plain segments: none empty,
    /// `.` or `..`, none holding `/`, a backslash or NUL.
    #[test]
    fn parsed_segments_are_plain(raw in raw_path()) {
        let Ok(p) = SafePath::parse(&raw) else { return Ok(()) };
        if p.is_asterisk() {
            prop_assert_eq!(raw.as_str(), "*");
            return Ok(());
        }
        prop_assert!(raw.starts_with('/'), "accepted {raw:?}");
        for s in p.segments() {
            prop_assert!(!s.is_empty() && s != "." && s != "..", "{s:?} from {raw:?}");
            prop_assert!(!s.contains(['/', '\\', '\0']), "{s:?} from {raw:?}");
        }
        let shown = p.to_string();
        prop_assert!(!shown.contains("/../") && !shown.ends_with("/.."), "{shown:?}");
    }

    /// Re-encoding a parsed path and parsing it again gives the same path:
    /// normalisation is idempotent and `%` in a segment is not decoded twice.
    #[test]
    fn encode_then_parse_round_trips(raw in raw_path()) {
        let Ok(p) = SafePath::parse(&raw) else { return Ok(()) };
        if p.is_asterisk() {
            return Ok(());
        }
        let again = SafePath::parse(&encode(&p));
        prop_assert_eq!(again.as_ref().ok(), Some(&p), "{:?} -> {}", raw, encode(&p));
        // The segments are acceptable as-is too (mount names, listings).
        let built = SafePath::from_segments(p.segments().to_vec());
        prop_assert_eq!(
            built.map(|b| b.segments().to_vec()).ok(),
            Some(p.segments().to_vec())
        );
    }

    /// Decoding happens once: spelling every byte as `%XX` changes nothing
    /// for a path that has no escapes of its own (an encoded `..` or `/`
    /// is exactly as refused or accepted as a literal one).
    #[test]
    fn escapes_mean_the_bytes_they_spell(raw in unescaped_path()) {
        let plain = SafePath::parse(&raw).ok();
        let encoded = SafePath::parse(&encode_every_byte(&raw)).ok();
        prop_assert_eq!(plain, encoded, "{:?}", raw);
    }

    /// A path is under each of its own prefixes, and stripping one leaves
    /// the rest of its segments.
    #[test]
    fn strip_prefix_leaves_the_rest(raw in raw_path(), cut in 0usize..8) {
        let Ok(p) = SafePath::parse(&raw) else { return Ok(()) };
        if p.is_asterisk() {
            return Ok(());
        }
        let k = cut.min(p.segments().len());
        let prefix = SafePath::from_segments(p.segments()[..k].to_vec()).unwrap();
        let rest = p.strip_prefix(&prefix).expect("under its own prefix");
        prop_assert_eq!(rest.segments(), &p.segments()[k..]);
        prop_assert_eq!(rest.has_trailing_slash(), p.has_trailing_slash() && k < p.segments().len());
    }
}

/// Paths the properties above once relied on, kept as plain examples.
#[test]
fn examples() {
    assert!(SafePath::parse("/%252e%252e/x").unwrap().segments()[0] == "%2e%2e");
    assert!(SafePath::parse(&encode_every_byte("/a/../b")).is_err());
    assert!(SafePath::parse(&encode_every_byte("/a\\b")).is_err());
}

//! Property tests of rules-file parsing (`auth/rules.rs`), through the
//! public `Rules::load`.
//!
//! 10 000 cases per property and run (`cargo test -p httpout-core --test
//! fuzz_rules`):
//! - any text loads or is refused with a line-numbered error, never a
//!   panic; what loads has plain URL prefixes (a rules file can never
//!   mount a directory at a path with `..` or an empty segment), distinct
//!   for the sections that are mounts, longest first, and `find` gives the
//!   longest prefix a path is under;
//! - a generated rules file, with comments and spacing anywhere, loads back
//!   as the sections and rights it was made of.

use std::path::{Path, PathBuf};

use httpout_core::SafePath;
use httpout_core::auth::rules::{Acl, Rules};
use proptest::prelude::*;

/// Writes `text` as a rules file in `dir` (one file per test thread) and
/// loads it.
fn load(dir: &Path, text: &str) -> Result<Rules, String> {
    let file = dir.join(format!("{:?}.ini", std::thread::current().id()));
    std::fs::write(&file, text).unwrap();
    let mut rules = Rules::default();
    rules.load(&file).map(|()| rules)
}

/// A directory shared by the cases: `media/sub` exists, other names do not.
fn base() -> &'static Path {
    static DIR: std::sync::OnceLock<(tempfile::TempDir, PathBuf)> = std::sync::OnceLock::new();
    let (_, path) = DIR.get_or_init(|| {
        // In memory where there is a tmpfs: 20 000 small files written.
        let dir = tempfile::tempdir_in("/dev/shm")
            .or_else(|_| tempfile::tempdir())
            .unwrap();
        std::fs::create_dir_all(dir.path().join("media/sub")).unwrap();
        let real = std::fs::canonicalize(dir.path()).unwrap();
        (dir, real)
    });
    path
}

/// Pieces rules files (and broken ones) are made of.
const PIECES: &[&str] = &[
    "[",
    "]",
    "[media]",
    "[media/sub]",
    "[media/sub/deeper]",
    "[..]",
    "[media/..]",
    "[media/../media/sub]",
    "[/]",
    "[ ]",
    "[.]",
    "name=",
    "ru=",
    "rg=",
    "wu=",
    "wg=",
    "filters=",
    "bogus=",
    "=",
    ";",
    "#",
    " ",
    "\t",
    ",",
    "$ALL",
    "$NONE",
    "alice",
    "bob",
    "video",
    "a/b",
    "/",
    "..",
    ".",
    "%2e%2e",
    "%2f",
    "\\",
    "é",
    "\r",
];

/// Text of up to 12 lines made of [`PIECES`].
fn text() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop::collection::vec(prop::sample::select(PIECES), 0..6).prop_map(|p| p.concat()),
        0..12,
    )
    .prop_map(|lines| lines.join("\n"))
}

/// Checks what every loaded `Rules` must satisfy.
fn check_loaded(rules: &Rules) -> Result<(), TestCaseError> {
    let sections = rules.sections();
    for s in sections {
        for seg in &s.prefix {
            prop_assert!(
                !seg.is_empty() && seg != "." && seg != ".." && !seg.contains(['/', '\\', '\0']),
                "prefix {:?} of {:?}",
                s.prefix,
                s.dir
            );
        }
        prop_assert!(SafePath::from_segments(s.prefix.clone()).is_ok());
    }
    prop_assert!(
        sections
            .windows(2)
            .all(|w| w[0].prefix.len() >= w[1].prefix.len()),
        "longest prefix first"
    );
    let mounts: Vec<_> = sections.iter().filter(|s| !s.refines).collect();
    for (i, a) in mounts.iter().enumerate() {
        for b in &mounts[i + 1..] {
            prop_assert!(a.prefix != b.prefix, "two mounts at {:?}", a.prefix);
        }
    }
    // `find` is the longest prefix a path is under.
    for s in sections {
        let mut segs = s.prefix.clone();
        segs.push("file".into());
        let path = SafePath::from_segments(segs).unwrap();
        let found = rules.find(&path).expect("under its own section");
        prop_assert!(path.segments().starts_with(&found.prefix));
        prop_assert!(found.prefix.len() >= s.prefix.len());
    }
    Ok(())
}

/// One generated section: its directory, its URL name, its rights.
#[derive(Debug, Clone)]
struct Gen {
    dir: String,
    name: Option<Vec<String>>,
    ru: Option<Vec<String>>,
    rg: Option<Vec<String>>,
    wu: Option<Vec<String>>,
    wg: Option<Vec<String>>,
}

fn names() -> impl Strategy<Value = Option<Vec<String>>> {
    prop::option::of(prop::collection::vec(
        prop::sample::select(&["alice", "bob", "$ALL", "$NONE", "editors", "x-y_z.1"][..])
            .prop_map(str::to_owned),
        1..4,
    ))
}

/// Up to 5 sections in distinct top-level directories, each named.
fn sections() -> impl Strategy<Value = Vec<Gen>> {
    prop::collection::vec(
        (
            prop::collection::vec(
                prop::sample::select(&["v", "live", "a.b", "x_1", "caf%C3%A9"][..]),
                1..3,
            ),
            names(),
            names(),
            names(),
            names(),
        ),
        1..5,
    )
    .prop_map(|gens| {
        gens.into_iter()
            .enumerate()
            .map(|(i, (name, ru, rg, wu, wg))| {
                let mut name: Vec<String> = name.into_iter().map(str::to_owned).collect();
                // Distinct mounts: the section number leads the name.
                name.insert(0, format!("s{i}"));
                Gen {
                    dir: format!("dir{i}"),
                    name: Some(name),
                    ru,
                    rg,
                    wu,
                    wg,
                }
            })
            .collect()
    })
}

/// The generated sections as a rules file; `noise` picks comments and
/// spacing.
fn render(gens: &[Gen], noise: &[u8]) -> String {
    let mut n = noise.iter().copied().cycle();
    let mut pad = move || match n.next().unwrap_or(0) % 4 {
        0 => "",
        1 => " ",
        2 => "\t",
        _ => "  ",
    };
    let mut text = String::from("; generated\n");
    for g in gens {
        text.push_str(&format!("{}[{}]{} ; section\n", pad(), g.dir, pad()));
        if let Some(name) = &g.name {
            text.push_str(&format!("name{}={}/{}/\n", pad(), pad(), name.join("/")));
        }
        for (key, list) in [("ru", &g.ru), ("rg", &g.rg), ("wu", &g.wu), ("wg", &g.wg)] {
            if let Some(list) = list {
                let sep = format!("{},{}", pad(), pad());
                text.push_str(&format!("{key}={}{} # rights\n", list.join(&sep), pad()));
            }
        }
        text.push('\n');
    }
    text
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(10_000))]

    /// Any text: an error naming a line, or rules whose prefixes are plain,
    /// distinct per mount, ordered, and found by the longest prefix.
    #[test]
    fn any_text_loads_or_names_a_line(text in text()) {
        match load(base(), &text) {
            Ok(rules) => check_loaded(&rules)?,
            Err(e) => prop_assert!(
                e.contains(": line ")
                    || e.contains("two directories")
                    || e.contains("cannot be served at a URL"),
                "{e}"
            ),
        }
    }

    /// A generated file loads back as its sections, names and rights.
    #[test]
    fn generated_rules_round_trip(gens in sections(), noise in prop::collection::vec(any::<u8>(), 1..16)) {
        let text = render(&gens, &noise);
        let rules = load(base(), &text).map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
        check_loaded(&rules)?;
        prop_assert_eq!(rules.sections().len(), gens.len());
        for g in &gens {
            let dir = base().join(&g.dir);
            let s = rules.sections().iter().find(|s| s.dir == dir).expect("section");
            let decoded: Vec<String> = g
                .name
                .iter()
                .flatten()
                .map(|n| n.replace("%C3%A9", "é"))
                .collect();
            prop_assert_eq!(&s.prefix, &decoded);
            prop_assert!(!s.refines);
            prop_assert_eq!(&s.read, &Acl { users: g.ru.clone(), groups: g.rg.clone() });
            prop_assert_eq!(&s.write, &Acl { users: g.wu.clone(), groups: g.wg.clone() });
        }
    }
}

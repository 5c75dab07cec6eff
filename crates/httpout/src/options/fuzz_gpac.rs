//! Property tests of GPAC string rewriting (`options::gpac::rewrite`), the
//! only place `httpout:a=b:c`, `-o URL:opt` and `-i SRC:#prop` are split.
//!
//! 10 000 cases per property and run (`cargo test -p httpout
//! options::fuzz_gpac`): arbitrary command lines never panic and rewriting is
//! idempotent; generated filter strings and output suffixes come out as
//! exactly the flags they spell, `:` inside values (IPv6, URLs) included.

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;

use super::gpac::{Rewritten, rewrite};
use proptest::prelude::*;

/// Option names the tests treat as known.
const KNOWN: &[&str] = &[
    "rdirs", "wdir", "port", "ifce", "hold", "hmode", "dst", "sutc", "title",
];
/// Of those, flags without a value.
const FLAGS: &[&str] = &["hold", "sutc"];

fn known(name: &str) -> bool {
    KNOWN.contains(&name)
}

/// Pieces of command lines, GPAC syntax included.
const PIECES: &[&str] = &[
    "httpout",
    "httpout:",
    ":",
    "::",
    "=",
    "-o",
    "-i",
    "--output",
    "--input",
    "-o=",
    "-i=",
    "--output=",
    "--input=",
    "port",
    "hold",
    "hmode",
    "push",
    "gpac",
    "http://",
    "https://",
    "[::1]",
    "[",
    "]",
    ":8080",
    ":0",
    "/",
    "/a.mp3",
    "localhost",
    ":#",
    "#ice-",
    "--ice-",
    "ice-Genre=Rock",
    "foo=bar",
    "a",
    "1",
    "é",
    " ",
    "--",
    "-",
];

/// One argument: pieces, arbitrary text, or bytes that are not UTF-8.
fn arg() -> impl Strategy<Value = OsString> {
    prop_oneof![
        6 => prop::collection::vec(prop::sample::select(PIECES), 0..8)
            .prop_map(|p| OsString::from(p.concat())),
        1 => any::<String>().prop_map(OsString::from),
        1 => prop::collection::vec(any::<u8>(), 0..12).prop_map(OsString::from_vec),
    ]
}

/// A command line: the program name, then up to 8 arguments.
fn command_line() -> impl Strategy<Value = Vec<OsString>> {
    prop::collection::vec(arg(), 0..8).prop_map(|mut v| {
        v.insert(0, "httpout".into());
        v
    })
}

const ALNUM: &str = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

/// A word of `len` characters taken from `first` (its first) and `rest`:
/// cheaper than a regex strategy, which matters at 10 000 cases.
fn word(
    first: &'static str,
    rest: &'static str,
    len: std::ops::Range<usize>,
) -> impl Strategy<Value = String> {
    let first: Vec<char> = first.chars().collect();
    let rest: Vec<char> = rest.chars().collect();
    (
        prop::sample::select(first),
        prop::collection::vec(prop::sample::select(rest), len),
    )
        .prop_map(|(f, r)| std::iter::once(f).chain(r).collect())
}

/// A value piece that rewriting must glue back (no `=`, no option name).
fn value_piece() -> impl Strategy<Value = String> {
    prop_oneof![
        1 => Just(String::new()),
        6 => word(ALNUM, "abcdefABCDEF0123456789./_-", 0..6),
    ]
    .prop_filter("an option name or gpac", |p| !known(p) && p != "gpac")
}

/// A value, possibly with `:` inside (an IPv6 address, a URL, a title).
fn value() -> impl Strategy<Value = String> {
    prop::collection::vec(value_piece(), 1..4).prop_map(|p| p.join(":"))
}

/// `name=value` or a bare flag, and the long flag it must become.
fn option() -> impl Strategy<Value = (String, String)> {
    prop_oneof![
        3 => (prop::sample::select(KNOWN), value())
            .prop_map(|(k, v)| (format!("{k}={v}"), format!("--{k}={v}"))),
        1 => prop::sample::select(FLAGS).prop_map(|f| (f.to_owned(), format!("--{f}"))),
    ]
}

fn strings(r: &Rewritten) -> Vec<String> {
    r.args
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(10_000))]

    /// Never panics, and rewriting what was rewritten changes nothing: the
    /// result has no GPAC syntax left that a second pass would split.
    #[test]
    fn rewrite_is_idempotent(line in command_line()) {
        let once = rewrite(line.clone(), known);
        let twice = rewrite(once.args.clone(), known);
        prop_assert_eq!(&twice.args, &once.args, "from {:?}", line);
        // Non-UTF-8 arguments pass through untouched.
        for a in &line {
            if a.to_str().is_none() {
                prop_assert!(once.args.contains(a));
            }
        }
        prop_assert_eq!(once.args.first(), line.first());
    }

    /// `httpout:k=v:flag:...` becomes exactly `--k=v --flag ...`, whatever
    /// `:` the values hold.
    #[test]
    fn filter_strings_round_trip(opts in prop::collection::vec(option(), 1..6)) {
        let text: Vec<&str> = opts.iter().map(|(t, _)| t.as_str()).collect();
        let filter = format!("httpout:{}", text.join(":"));
        let r = rewrite(["httpout", filter.as_str()], known);
        let mut want = vec!["httpout".to_owned()];
        want.extend(opts.iter().map(|(_, f)| f.clone()));
        prop_assert_eq!(strings(&r), want, "{}", filter);
        prop_assert!(r.outputs.is_empty() && r.inputs.is_empty());
    }

    /// `-o URL:opts` keeps the URL (host, IPv6 literal, port, path) and gives
    /// the options to that output, `hmode` to the whole process.
    #[test]
    fn output_suffixes_round_trip(
        host in prop_oneof![word("abcxyz", "abcxyz019.-", 0..10), Just("[::1]".to_owned()), Just("[fe80::1:2]".to_owned())],
        port in prop::option::of(0u16..),
        path in prop::collection::vec(word("/", "abcXYZ019._-", 0..8), 0..3).prop_map(|p| p.concat()),
        opts in prop::collection::vec(
            option().prop_filter("hmode is the process's", |(t, _)| !t.starts_with("hmode")),
            0..4,
        ),
        push in any::<bool>(),
    ) {
        let port = port.map(|p| format!(":{p}")).unwrap_or_default();
        let url = format!("http://{host}{port}{path}");
        let mut suffix: Vec<String> = opts.iter().map(|(t, _)| t.clone()).collect();
        if push {
            suffix.push("gpac".into());
            suffix.push("hmode=push".into());
        }
        let arg = if suffix.is_empty() { url.clone() } else { format!("{url}:{}", suffix.join(":")) };
        let r = rewrite(["httpout", "-o", arg.as_str()], known);
        let mut want_args = vec!["httpout".to_owned(), format!("--output={url}")];
        if push {
            want_args.push("--hmode=push".into());
        }
        prop_assert_eq!(strings(&r), want_args, "{}", arg);
        let want: Vec<String> = opts.iter().map(|(_, f)| f.clone()).collect();
        prop_assert_eq!(&r.outputs, &vec![want], "{}", arg);
    }

    /// `-i SRC:#ice-N=V...` keeps the source and gives each property to
    /// that input as `--ice_hdr=N=V`.
    #[test]
    fn input_properties_round_trip(
        src in word(ALNUM, "abcXYZ019/._-", 0..12),
        props in prop::collection::vec(
            (word("aZ", "aZ09-", 0..6), word("aZ09 ._-", "aZ09 ._-", 0..8)),
            0..4,
        ),
    ) {
        let mut arg = src.clone();
        for (n, v) in &props {
            arg.push_str(&format!(":#ice-{n}={v}"));
        }
        let r = rewrite(["httpout".to_owned(), "-i".to_owned(), arg.clone()], known);
        prop_assert_eq!(strings(&r), vec!["httpout".to_owned(), format!("--input={src}")]);
        let want: Vec<String> = props.iter().map(|(n, v)| format!("--ice_hdr={n}={v}")).collect();
        prop_assert_eq!(&r.inputs, &vec![want], "{}", arg);
    }
}

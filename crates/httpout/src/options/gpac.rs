//! GPAC-style option strings, rewritten into ordinary long flags.
//!
//! GPAC users write `httpout:rdirs=out:wdir=in:port=8080` (a filter string) or
//! put options after an output URL: `-o http://localhost:8080/live.mp3:hold`.
//! Both are rewritten here into `--rdirs=out --wdir=in --port=8080` before clap
//! parses anything, so there is one parser and one set of errors. This is the
//! only place option strings are split.
//!
//! A `:` inside a value (an IPv6 address, a URL with a port) is kept: a piece
//! that does not start with a known option name is glued back onto the
//! previous value, so `httpout:ifce=::1:port=0` means `--ifce=::1 --port=0`.
//! GPAC's `gpac` separator (`-o URL:gpac:hmode=push`) is accepted and dropped.

use std::ffi::OsString;

/// A command line with its GPAC strings rewritten into long flags.
#[derive(Debug, Default)]
pub(crate) struct Rewritten {
    /// The command line, every option a long flag; `-o` URLs and `-i`
    /// sources without their suffixes.
    pub(crate) args: Vec<OsString>,
    /// Per `-o` output in order, the options its URL suffixes give
    /// (`-o URL:hold:port=9000` → `--hold --port=9000`).
    pub(crate) outputs: Vec<Vec<String>>,
    /// Per `-i` input in order, the options its `:#NAME=VALUE` properties
    /// give (`-i a.mp3:#ice-Genre=Rock` → `--ice_hdr=Genre=Rock`).
    pub(crate) inputs: Vec<Vec<String>>,
}

/// Options that decide what the whole process does: given as a suffix
/// (`-o URL:gpac:hmode=push`, `-o URL:quit`), they still apply to the
/// whole command line (the mode, when to exit, how long shutdown waits).
const PROCESS_WIDE: &[&str] = &["hmode", "quit", "grace"];

/// Rewrites GPAC filter strings, `-o URL:opt` suffixes and `-i SOURCE:#PROP`
/// properties in `args` into long flags. `is_option` tells whether a name is
/// a known option. Suffixes and properties stay with their output or input
/// ([`Rewritten::outputs`], [`Rewritten::inputs`]); filter strings apply to
/// everything. Arguments that are not valid UTF-8 are passed through
/// untouched.
pub(crate) fn rewrite<I, T>(args: I, is_option: impl Fn(&str) -> bool) -> Rewritten
where
    I: IntoIterator<Item = T>,
    T: Into<OsString>,
{
    let mut out = Rewritten::default();
    let mut args = args.into_iter().map(Into::into);
    if let Some(bin) = args.next() {
        out.args.push(bin);
    }
    let mut expect = None;
    for arg in args {
        let Some(s) = arg.to_str().map(str::to_owned) else {
            out.args.push(arg);
            continue;
        };
        if let Some(flag) = expect.take() {
            out.scoped(flag, &s, &is_option);
        } else if matches!(s.as_str(), "-o" | "--output" | "-i" | "--input") {
            expect = Some(if s.ends_with('o') || s.ends_with("output") {
                "--output"
            } else {
                "--input"
            });
        } else if let Some(url) = s
            .strip_prefix("-o=")
            .or_else(|| s.strip_prefix("--output="))
        {
            out.scoped("--output", url, &is_option);
        } else if let Some(src) = s.strip_prefix("-i=").or_else(|| s.strip_prefix("--input=")) {
            out.scoped("--input", src, &is_option);
        } else if s == "httpout" {
            // A bare filter name carries no options.
        } else if let Some(rest) = s.strip_prefix("httpout:") {
            out.args
                .extend(flags(rest, &is_option).into_iter().map(OsString::from));
        } else {
            out.args.push(arg);
        }
    }
    if let Some(flag) = expect {
        // `-o` with no value: clap reports it.
        out.args.push(flag.into());
    }
    out.args = out.args.into_iter().map(ice_value).collect();
    out
}

impl Rewritten {
    /// Records one `-o URL[:opts]` or `-i SOURCE[:#props]`.
    fn scoped(&mut self, flag: &str, value: &str, is_option: &impl Fn(&str) -> bool) {
        let (value, opts) = if flag == "--output" {
            split_url(value, is_option)
        } else {
            split_props(value)
        };
        let (process, own): (Vec<String>, Vec<String>) = opts.into_iter().partition(|f| {
            let name = f.trim_start_matches('-');
            let name = name.split('=').next().unwrap_or(name);
            PROCESS_WIDE.contains(&name)
        });
        self.args.push(format!("{flag}={value}").into());
        self.args.extend(process.into_iter().map(OsString::from));
        let own = own
            .into_iter()
            .map(|f| ice_value(f.into()).to_string_lossy().into_owned());
        if flag == "--output" {
            self.outputs.push(own.collect());
        } else {
            self.inputs.push(own.collect());
        }
    }
}

/// Splits `source.mp3:#ice-Genre=Rock:#ice-Name=X` (GPAC's PID properties)
/// into the source and its properties as flags (`--ice-Genre=Rock`).
fn split_props(source: &str) -> (String, Vec<String>) {
    let mut parts = source.split(":#");
    let file = parts.next().unwrap_or_default().to_owned();
    (file, parts.map(|p| format!("--{p}")).collect())
}

/// `--ice-NAME=VALUE` (the reference's `#ice-NAME=VALUE` PID property, as a
/// flag) becomes `--ice_hdr=NAME=VALUE`.
pub(crate) fn ice_value(arg: OsString) -> OsString {
    match arg.to_str().and_then(|s| s.strip_prefix("--ice-")) {
        Some(rest) if rest.contains('=') => format!("--ice_hdr={rest}").into(),
        _ => arg,
    }
}

/// Splits `http://host:port/path:opt=v:opt2` into the URL and its options as flags.
fn split_url(url: &str, is_option: &impl Fn(&str) -> bool) -> (String, Vec<String>) {
    let Some(scheme_end) = url.find("://").map(|i| i + 3) else {
        return (url.to_owned(), Vec::new());
    };
    let rest = &url[scheme_end..];
    // End of the host: after `]` for an IPv6 literal, else at the first `:` or `/`.
    let host_end = if rest.starts_with('[') {
        rest.find(']').map_or(rest.len(), |i| i + 1)
    } else {
        rest.find([':', '/']).unwrap_or(rest.len())
    };
    let mut end = host_end;
    // An optional `:PORT`.
    if rest[end..].starts_with(':') {
        let digits = rest[end + 1..]
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len() - end - 1);
        if digits > 0 {
            end += 1 + digits;
        }
    }
    // The path runs to the next `:`.
    if rest[end..].starts_with('/') {
        end += rest[end..].find(':').unwrap_or(rest.len() - end);
    }
    let split = scheme_end + end;
    match url[split..].strip_prefix(':') {
        Some(opts) => (url[..split].to_owned(), flags(opts, is_option)),
        None => (url.to_owned(), Vec::new()),
    }
}

/// Turns `a=b:c:d=e` into `--a=b --c --d=e`, gluing pieces that are not options
/// back onto the previous value.
fn flags(opts: &str, is_option: &impl Fn(&str) -> bool) -> Vec<String> {
    let mut items: Vec<String> = Vec::new();
    for piece in opts.split(':') {
        let name = piece.split('=').next().unwrap_or(piece);
        if piece == "gpac" {
            continue;
        }
        // `foo=bar` reads as an option even when `foo` is none (clap then
        // says "unknown option"); anything else that is no option name is
        // part of the previous value (an IPv6 address, a URL, a title).
        let looks_like_option = piece.contains('=')
            && name.starts_with(|c: char| c.is_ascii_alphabetic())
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        match items.last_mut() {
            Some(last) if !is_option(name) && !looks_like_option && last.contains('=') => {
                last.push(':');
                last.push_str(piece);
            }
            _ if piece.is_empty() => {}
            _ => items.push(piece.to_owned()),
        }
    }
    items.into_iter().map(|i| format!("--{i}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn known(name: &str) -> bool {
        [
            "rdirs", "wdir", "port", "ifce", "hold", "hmode", "dst", "sutc",
        ]
        .contains(&name)
    }

    fn run(args: &[&str]) -> Vec<String> {
        rewrite(args.iter().copied(), known)
            .args
            .into_iter()
            .map(|s| s.into_string().unwrap())
            .collect()
    }

    #[test]
    fn filter_string() {
        assert_eq!(
            run(&["httpout", "httpout:rdirs=out:wdir=in:port=8080"]),
            ["httpout", "--rdirs=out", "--wdir=in", "--port=8080"]
        );
        assert_eq!(
            run(&["x", "httpout:ifce=::1:port=0:sutc"]),
            ["x", "--ifce=::1", "--port=0", "--sutc"]
        );
        assert_eq!(
            run(&["x", "httpout:dst=http://h:80/a.mpd:hmode=push"]),
            ["x", "--dst=http://h:80/a.mpd", "--hmode=push"]
        );
    }

    #[test]
    fn an_unknown_key_is_an_option_not_part_of_a_value() {
        assert_eq!(
            run(&["x", "httpout:port=18161:foo=bar"]),
            ["x", "--port=18161", "--foo=bar"]
        );
        // Pieces that are no `name=value` still glue (IPv6, URLs).
        assert_eq!(
            run(&["x", "httpout:ifce=fe80::dead:beef:port=1"]),
            ["x", "--ifce=fe80::dead:beef", "--port=1"]
        );
    }

    #[test]
    fn output_suffixes_stay_with_their_output() {
        let r = rewrite(
            [
                "x",
                "-o",
                "http://localhost:8080/a.mp3:hold",
                "--output=http://[::1]:9/b:sutc:port=7",
                "-o",
                "http://h/c",
            ],
            known,
        );
        let args: Vec<_> = r.args.iter().map(|a| a.to_str().unwrap()).collect();
        assert_eq!(
            args,
            [
                "x",
                "--output=http://localhost:8080/a.mp3",
                "--output=http://[::1]:9/b",
                "--output=http://h/c"
            ]
        );
        assert_eq!(
            r.outputs,
            [
                vec!["--hold".to_owned()],
                vec!["--sutc".into(), "--port=7".into()],
                vec![]
            ]
        );
        // The run mode is the whole process's.
        assert_eq!(
            run(&["x", "-o", "http://h:8080/live.mpd:gpac:hmode=push"]),
            ["x", "--output=http://h:8080/live.mpd", "--hmode=push"]
        );
        assert_eq!(
            run(&["x", "-o", "http://h:hold"]),
            ["x", "--output=http://h"]
        );
        assert_eq!(
            run(&["x", "-o", "http://h/a.mp3:hold:quit:grace=2"]),
            ["x", "--output=http://h/a.mp3", "--quit", "--grace=2"]
        );
    }

    #[test]
    fn input_properties_stay_with_their_input() {
        let r = rewrite(
            [
                "x",
                "-i",
                "source.mp3:#ice-Genre=CoolRock:#ice-name=A",
                "-i",
                "b.aac",
            ],
            known,
        );
        let args: Vec<_> = r.args.iter().map(|a| a.to_str().unwrap()).collect();
        assert_eq!(args, ["x", "--input=source.mp3", "--input=b.aac"]);
        assert_eq!(
            r.inputs,
            [
                vec![
                    "--ice_hdr=Genre=CoolRock".to_owned(),
                    "--ice_hdr=name=A".into()
                ],
                vec![]
            ]
        );
    }

    #[test]
    fn other_arguments_untouched() {
        assert_eq!(
            run(&["x", "--port", "8080", "--rdirs", "a"]),
            ["x", "--port", "8080", "--rdirs", "a"]
        );
    }
}

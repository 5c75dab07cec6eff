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

/// Rewrites GPAC filter strings and `-o URL:opt` suffixes in `args` into long
/// flags. `is_option` tells whether a name is a known option. Arguments that
/// are not valid UTF-8 are passed through untouched.
pub fn rewrite<I, T>(args: I, is_option: impl Fn(&str) -> bool) -> Vec<OsString>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString>,
{
    let mut out = Vec::new();
    let mut args = args.into_iter().map(Into::into);
    if let Some(bin) = args.next() {
        out.push(bin);
    }
    let mut expect_url = false;
    for arg in args {
        let Some(s) = arg.to_str().map(str::to_owned) else {
            out.push(arg);
            continue;
        };
        if expect_url {
            expect_url = false;
            let (url, opts) = split_url(&s, &is_option);
            out.push(url.into());
            out.extend(opts.into_iter().map(OsString::from));
        } else if s == "-o" || s == "--output" {
            expect_url = true;
            out.push(arg);
        } else if let Some(url) = s
            .strip_prefix("-o=")
            .or_else(|| s.strip_prefix("--output="))
        {
            let (url, opts) = split_url(url, &is_option);
            out.push(format!("--output={url}").into());
            out.extend(opts.into_iter().map(OsString::from));
        } else if s == "httpout" {
            // A bare filter name carries no options.
        } else if let Some(rest) = s.strip_prefix("httpout:") {
            out.extend(flags(rest, &is_option).into_iter().map(OsString::from));
        } else {
            out.push(arg);
        }
    }
    out.into_iter().map(ice_value).collect()
}

/// `--ice-NAME=VALUE` (the reference's `#ice-NAME=VALUE` PID property, as a
/// flag) becomes `--ice_hdr=NAME=VALUE`.
fn ice_value(arg: OsString) -> OsString {
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
        match items.last_mut() {
            Some(last) if !is_option(name) && last.contains('=') => {
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
    fn output_suffixes() {
        assert_eq!(
            run(&["x", "-o", "http://localhost:8080/live.mp3:hold"]),
            ["x", "-o", "http://localhost:8080/live.mp3", "--hold"]
        );
        assert_eq!(
            run(&["x", "-o", "http://h:8080/live.mpd:gpac:hmode=push"]),
            ["x", "-o", "http://h:8080/live.mpd", "--hmode=push"]
        );
        assert_eq!(
            run(&["x", "--output=http://[::1]:9/a:sutc"]),
            ["x", "--output=http://[::1]:9/a", "--sutc"]
        );
        assert_eq!(run(&["x", "-o", "http://h/a"]), ["x", "-o", "http://h/a"]);
        assert_eq!(
            run(&["x", "-o", "http://h:hold"]),
            ["x", "-o", "http://h", "--hold"]
        );
    }

    #[test]
    fn other_arguments_untouched() {
        assert_eq!(
            run(&["x", "--port", "8080", "-i", "a.mp3"]),
            ["x", "--port", "8080", "-i", "a.mp3"]
        );
    }
}

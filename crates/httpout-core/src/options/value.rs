//! Value parsers for the option groups of every mode.
//!
//! Each parser returns `Err(String)` saying what was expected, so that clap's
//! error (and the CLI's one-line rendering of it) names the option, the
//! value and the expectation. The value types themselves are the engine's
//! ([`crate::config`]) or their mode's.

use crate::auth::Algorithm;
use crate::config::{Cidr, ListenSpec, ReqLog, ServerTokens};

/// Parses a boolean: `true/false`, `yes/no`, `on/off`, `1/0` (any case).
pub fn parse_bool(s: &str) -> Result<bool, String> {
    match s.to_ascii_lowercase().as_str() {
        "true" | "yes" | "on" | "1" => Ok(true),
        "false" | "no" | "off" | "0" => Ok(false),
        _ => Err("expected true or false (also yes/no, on/off, 1/0)".into()),
    }
}

/// Parses one Digest algorithm of `--digest`: `sha-256` or `md5`, any case.
pub fn parse_digest(s: &str) -> Result<Algorithm, String> {
    Algorithm::from_token(s.trim()).ok_or_else(|| {
        "expected sha-256 or md5, comma-separated (MD5-sess and SHA-256-sess are not supported)"
            .into()
    })
}

/// Parses an unsigned 32-bit count (`maxc`, `maxp`, ...).
pub fn parse_u32(s: &str) -> Result<u32, String> {
    s.trim()
        .parse()
        .map_err(|_| format!("expected a whole number from 0 to {}", u32::MAX))
}

/// Parses a signed count (`max_cache_segs`).
pub fn parse_i64(s: &str) -> Result<i64, String> {
    s.trim()
        .parse()
        .map_err(|_| "expected a whole number, optionally negative".into())
}

/// Parses a TCP port; `0` asks the system for a free one.
pub fn parse_port(s: &str) -> Result<u16, String> {
    s.trim()
        .parse()
        .map_err(|_| "expected a port number from 0 to 65535".into())
}

/// `--port`: a port, or `scan:START`, the first free one from START up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Port {
    /// The port, or the first one tried.
    pub number: u16,
    /// `scan:`: try the next ports while one is taken.
    pub scan: bool,
}

/// Parses `--port`: `PORT` or `scan:START` (1 to 65535).
pub fn parse_port_spec(s: &str) -> Result<Port, String> {
    match s.trim().strip_prefix("scan:") {
        Some(start) => start
            .parse()
            .ok()
            .filter(|p| *p != 0)
            .map(|number| Port { number, scan: true })
            .ok_or_else(|| {
                "expected a port number from 0 to 65535, or scan:START with START from 1 to 65535"
                    .into()
            }),
        None => parse_port(s)
            .map(|number| Port {
                number,
                scan: false,
            })
            .map_err(|e| format!("{e}, or scan:START")),
    }
}

/// Parses `--server_tokens`: `off`, or products separated by `;`.
pub fn parse_server_tokens(s: &str) -> Result<ServerTokens, String> {
    s.parse()
}

/// The longest duration an option takes: a year.
const MAX_SECONDS: u64 = 366 * 24 * 3600;

/// Parses a duration in seconds (`timeout`, `grace`); a trailing `s` is allowed.
pub fn parse_seconds(s: &str) -> Result<u64, String> {
    s.trim()
        .trim_end_matches('s')
        .parse()
        .ok()
        .filter(|n| *n <= MAX_SECONDS)
        .ok_or_else(|| {
            format!("expected a whole number of seconds from 0 to {MAX_SECONDS}, e.g. 30")
        })
}

/// Parses a duration in milliseconds (`wait_new`); a trailing `ms` is allowed.
pub fn parse_millis(s: &str) -> Result<u64, String> {
    s.trim()
        .trim_end_matches("ms")
        .parse()
        .ok()
        .filter(|n| *n <= MAX_SECONDS * 1000)
        .ok_or_else(|| "expected a whole number of milliseconds (at most a year), e.g. 2000".into())
}

/// Parses a size in bytes with an optional binary suffix: `K` (KiB), `M` (MiB),
/// `G` (GiB), case-insensitive, optionally followed by `B` or `iB`
/// (`50M` = 52 428 800 bytes).
pub fn parse_size(s: &str) -> Result<u64, String> {
    const EXPECTED: &str =
        "expected a size in bytes, optionally with a K, M or G suffix (e.g. 50M)";
    let t = s.trim();
    let lower = t.to_ascii_lowercase();
    let body = lower
        .strip_suffix("ib")
        .or_else(|| lower.strip_suffix('b'))
        .unwrap_or(&lower);
    let (digits, mult) = match body.chars().last() {
        Some('k') => (&body[..body.len() - 1], 1u64 << 10),
        Some('m') => (&body[..body.len() - 1], 1 << 20),
        Some('g') => (&body[..body.len() - 1], 1 << 30),
        _ => (body, 1),
    };
    let n: u64 = digits.trim().parse().map_err(|_| EXPECTED.to_owned())?;
    n.checked_mul(mult)
        .ok_or_else(|| format!("{EXPECTED}; {t} is too large"))
}

/// Parses `reqlog`: `*`, or a comma-separated list of methods and `REC`,
/// optionally prefixed by `-` (do not log request ends).
pub fn parse_reqlog(s: &str) -> Result<ReqLog, String> {
    s.parse()
}

/// Parses one `--listen` entry.
pub fn parse_listen(s: &str) -> Result<ListenSpec, String> {
    s.parse()
}

/// Parses one network (`trusted_proxies`, `metrics_allow`): `IP/PREFIX`
/// or one address.
pub fn parse_cidr(s: &str) -> Result<Cidr, String> {
    s.parse()
}

/// Parses `ifce`: the IP address to bind.
pub fn parse_ifce(s: &str) -> Result<std::net::IpAddr, String> {
    s.trim()
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse()
        .map_err(|_| "expected an IP address such as 127.0.0.1 or ::1".into())
}

/// Parses a CIDR block (`127.0.0.0/8`, `::1/128`) or one address
/// Parses the path of a resource the engine answers itself (`/metrics`):
/// absolute, without spaces, query or fragment.
pub fn parse_resource_path(s: &str) -> Result<String, String> {
    let ok = s.starts_with('/')
        && s.len() > 1
        && !s
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '?' || c == '#');
    if ok {
        Ok(s.to_owned())
    } else {
        Err("expected an absolute path such as /metrics (no spaces, '?' or '#')".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("50M"), Ok(50 << 20));
        assert_eq!(parse_size("10000"), Ok(10000));
        assert_eq!(parse_size("4k"), Ok(4096));
        assert_eq!(parse_size("1GiB"), Ok(1 << 30));
        assert_eq!(parse_size("2KB"), Ok(2048));
        assert!(parse_size("-1").is_err());
        assert!(parse_size("M").is_err());
        assert!(parse_size("99999999999999999999G").is_err());
        assert!(parse_size("18014398509481984G").is_err());
    }

    #[test]
    fn booleans_and_numbers() {
        assert_eq!(parse_bool("ON"), Ok(true));
        assert_eq!(parse_bool("0"), Ok(false));
        assert!(parse_bool("maybe").is_err());
        assert!(parse_u32("-1").is_err());
        assert_eq!(parse_seconds("30s"), Ok(30));
        assert!(parse_seconds("10000000000000000000").is_err());
        assert!(parse_port("65536").is_err());
        assert_eq!(
            parse_port_spec("scan:8000"),
            Ok(Port {
                number: 8000,
                scan: true
            })
        );
        assert_eq!(
            parse_port_spec("0").map(|p| (p.number, p.scan)),
            Ok((0, false))
        );
        for bad in ["scan:", "scan:0", "scan:65536", "scan", "80x"] {
            assert!(parse_port_spec(bad).is_err(), "{bad}");
        }
    }
}

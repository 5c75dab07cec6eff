//! Value parsers and value types for [`Options`](super::Options).
//!
//! Each parser returns `Err(String)` saying what was expected, so that clap's
//! error (and our one-line rendering of it) names the option, the value and
//! the expectation. This is the only place option values are interpreted.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;

use http::Method;

/// Parses a boolean: `true/false`, `yes/no`, `on/off`, `1/0` (any case).
pub fn parse_bool(s: &str) -> Result<bool, String> {
    match s.to_ascii_lowercase().as_str() {
        "true" | "yes" | "on" | "1" => Ok(true),
        "false" | "no" | "off" | "0" => Ok(false),
        _ => Err("expected true or false (also yes/no, on/off, 1/0)".into()),
    }
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

/// An amount of stream: bytes, or seconds of media (`burst`, `max_async_buf`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Amount {
    /// A number of bytes.
    Bytes(u64),
    /// A span of media time, converted to bytes with the stream's own rate.
    Time(std::time::Duration),
}

/// Parses an [`Amount`]: a size as [`parse_size`] takes it (`64K`), or a
/// duration of media ending in `s` or `ms` (`2s`, `1.5s`, `500ms`).
pub fn parse_amount(s: &str) -> Result<Amount, String> {
    const EXPECTED: &str = "expected a size (e.g. 64K) or a duration of media (e.g. 2s, 500ms)";
    let t = s.trim().to_ascii_lowercase();
    let secs = if let Some(ms) = t.strip_suffix("ms") {
        Some(ms.trim().parse::<f64>().map(|v| v / 1000.0))
    } else {
        t.strip_suffix('s').map(|v| v.trim().parse::<f64>())
    };
    match secs {
        Some(Ok(v)) if v.is_finite() && (0.0..=3600.0).contains(&v) => {
            Ok(Amount::Time(std::time::Duration::from_secs_f64(v)))
        }
        Some(_) => Err(format!("{EXPECTED}; durations go up to 3600s")),
        None => parse_size(&t)
            .map(Amount::Bytes)
            .map_err(|_| EXPECTED.to_owned()),
    }
}

/// Parses a bit rate in bits per second with an optional decimal suffix:
/// `k` (1000) or `M` (1 000 000), e.g. `128k`.
pub fn parse_bitrate(s: &str) -> Result<u64, String> {
    const EXPECTED: &str =
        "expected a bit rate in bits/s, optionally with a k or M suffix (e.g. 128k)";
    let t = s.trim().trim_end_matches("bps").trim_end_matches("bit/s");
    let (digits, mult) = match t.chars().last() {
        Some('k' | 'K') => (&t[..t.len() - 1], 1000u64),
        Some('m' | 'M') => (&t[..t.len() - 1], 1_000_000),
        _ => (t, 1),
    };
    digits
        .trim()
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(mult))
        .filter(|n| (1..=10_000_000_000).contains(n))
        .ok_or_else(|| EXPECTED.to_owned())
}

/// What `-i SOURCE -o URL` pairs feed (`sink`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum SinkKind {
    /// The file sink when `rdirs` is given (as GPAC), the live sink otherwise.
    #[default]
    Auto,
    /// The live sink: each input relayed to the listeners of its URL.
    Live,
    /// The file sink: each input written into the first read directory.
    File,
}

/// When CORS headers are added to responses (`cors`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Cors {
    /// Never add CORS headers.
    Off,
    /// Always add CORS headers.
    On,
    /// Add CORS headers when the request carries an `Origin` header.
    #[default]
    Auto,
}

/// How the process runs (`hmode`), as in the reference.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum HMode {
    /// Server mode: static files, live sink, file sink.
    #[default]
    Default,
    /// Client mode: upload inputs to `dst` with PUT or POST.
    Push,
    /// Incoming PUT/POST bodies become input streams.
    Source,
}

/// Which requests the short request log (`reqlog`) shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReqLog {
    /// Methods to log; `None` means every method (`*`).
    pub methods: Option<Vec<Method>>,
    /// `REC`: log file writing start and end.
    pub rec: bool,
    /// Log the end of a request (status, bytes, duration); false with a `-` prefix.
    pub log_end: bool,
}

impl ReqLog {
    /// Whether requests with this method are logged.
    pub fn wants(&self, method: &Method) -> bool {
        match &self.methods {
            None => true,
            Some(list) => list.contains(method),
        }
    }
}

/// Parses `reqlog`: `*`, or a comma-separated list of methods and `REC`,
/// optionally prefixed by `-` (do not log request ends).
pub fn parse_reqlog(s: &str) -> Result<ReqLog, String> {
    let (log_end, rest) = match s.strip_prefix('-') {
        Some(rest) => (false, rest),
        None => (true, s),
    };
    let mut methods = Some(Vec::new());
    let mut rec = false;
    for item in rest.split(',').map(str::trim).filter(|i| !i.is_empty()) {
        if item == "*" {
            methods = None;
        } else if item.eq_ignore_ascii_case("REC") {
            rec = true;
        } else {
            let m = Method::from_bytes(item.to_ascii_uppercase().as_bytes())
                .map_err(|_| format!("expected `*`, REC or HTTP method names, got {item:?}"))?;
            if let Some(list) = methods.as_mut() {
                list.push(m);
            }
        }
    }
    Ok(ReqLog {
        methods,
        rec,
        log_end,
    })
}

/// One listener given with `--listen`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ListenSpec {
    /// Plain HTTP (HTTP/1.1 and h2c) on a TCP address.
    Http(SocketAddr),
    /// HTTPS (TLS with ALPN h2 / http/1.1) on a TCP address; needs `cert` and `pkey`.
    Https(SocketAddr),
    /// Plain HTTP on a Unix domain socket.
    Unix(PathBuf),
}

impl fmt::Display for ListenSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Http(a) => write!(f, "http://{a}"),
            Self::Https(a) => write!(f, "https://{a}"),
            Self::Unix(p) => write!(f, "unix:{}", p.display()),
        }
    }
}

impl FromStr for ListenSpec {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        const EXPECTED: &str = "expected http://IP:PORT, https://IP:PORT or unix:PATH";
        if let Some(path) = s.strip_prefix("unix:") {
            if path.is_empty() {
                return Err(EXPECTED.into());
            }
            return Ok(Self::Unix(PathBuf::from(path)));
        }
        let (tls, rest) = if let Some(rest) = s.strip_prefix("https://") {
            (true, rest)
        } else if let Some(rest) = s.strip_prefix("http://") {
            (false, rest)
        } else {
            return Err(EXPECTED.into());
        };
        let addr: SocketAddr = rest.trim_end_matches('/').parse().map_err(|_| EXPECTED)?;
        Ok(if tls {
            Self::Https(addr)
        } else {
            Self::Http(addr)
        })
    }
}

/// Parses one `--listen` entry.
pub fn parse_listen(s: &str) -> Result<ListenSpec, String> {
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
    fn reqlog() {
        let all = parse_reqlog("*").unwrap();
        assert!(all.wants(&Method::DELETE) && all.log_end && !all.rec);
        let some = parse_reqlog("-GET,put,REC").unwrap();
        assert!(some.wants(&Method::PUT) && !some.wants(&Method::POST));
        assert!(!some.log_end && some.rec);
        assert!(parse_reqlog("GE T").is_err());
    }

    #[test]
    fn listen_specs() {
        assert_eq!(
            "http://127.0.0.1:0".parse(),
            Ok(ListenSpec::Http("127.0.0.1:0".parse().unwrap()))
        );
        assert_eq!(
            "https://[::1]:8443".parse(),
            Ok(ListenSpec::Https("[::1]:8443".parse().unwrap()))
        );
        assert_eq!(
            "unix:/tmp/x.sock".parse(),
            Ok(ListenSpec::Unix("/tmp/x.sock".into()))
        );
        assert!("ftp://1.2.3.4:5".parse::<ListenSpec>().is_err());
        assert!("http://localhost".parse::<ListenSpec>().is_err());
        assert!("unix:".parse::<ListenSpec>().is_err());
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
    }
}

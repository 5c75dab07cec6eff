//! The engine's value types: what a listener, a CORS policy and a request
//! log setting are. Parsed from text by their `FromStr`; the command line's
//! parsers (`options`, with the `cli` feature) build on these.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::str::FromStr;

use http::Method;

/// When CORS headers are added to responses (`cors`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
pub enum Cors {
    /// Never add CORS headers.
    Off,
    /// Always add CORS headers.
    On,
    /// Add CORS headers when the request carries an `Origin` header.
    #[default]
    Auto,
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

impl FromStr for ReqLog {
    type Err = String;

    /// `*`, or a comma-separated list of methods and `REC`, optionally
    /// prefixed by `-` (do not log request ends).
    fn from_str(s: &str) -> Result<Self, String> {
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
        Ok(Self {
            methods,
            rec,
            log_end,
        })
    }
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
    /// `proxy+http://`: plain HTTP behind a proxy that sends the PROXY
    /// protocol (v1 or v2) first; the address in that header is the client.
    /// A connection without a valid header is closed.
    ProxyHttp(SocketAddr),
    /// `proxy+https://`: the PROXY protocol header, then TLS as `https://`.
    ProxyHttps(SocketAddr),
}

impl ListenSpec {
    /// The TCP address (`None` for a Unix socket).
    pub fn tcp_addr(&self) -> Option<SocketAddr> {
        match self {
            Self::Http(a) | Self::Https(a) | Self::ProxyHttp(a) | Self::ProxyHttps(a) => Some(*a),
            Self::Unix(_) => None,
        }
    }

    /// Whether connections use TLS (`https://`, `proxy+https://`).
    pub fn is_tls(&self) -> bool {
        matches!(self, Self::Https(_) | Self::ProxyHttps(_))
    }

    /// Whether connections start with a PROXY protocol header.
    pub fn is_proxy_protocol(&self) -> bool {
        matches!(self, Self::ProxyHttp(_) | Self::ProxyHttps(_))
    }

    /// The same kind of listener on `addr` (a Unix socket stays itself).
    #[must_use]
    pub fn with_addr(&self, addr: SocketAddr) -> Self {
        match self {
            Self::Http(_) => Self::Http(addr),
            Self::Https(_) => Self::Https(addr),
            Self::ProxyHttp(_) => Self::ProxyHttp(addr),
            Self::ProxyHttps(_) => Self::ProxyHttps(addr),
            Self::Unix(p) => Self::Unix(p.clone()),
        }
    }
}

impl fmt::Display for ListenSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Http(a) => write!(f, "http://{a}"),
            Self::Https(a) => write!(f, "https://{a}"),
            Self::Unix(p) => write!(f, "unix:{}", p.display()),
            Self::ProxyHttp(a) => write!(f, "proxy+http://{a}"),
            Self::ProxyHttps(a) => write!(f, "proxy+https://{a}"),
        }
    }
}

impl FromStr for ListenSpec {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        const EXPECTED: &str = "expected http://IP:PORT, https://IP:PORT, \
                                proxy+http://IP:PORT, proxy+https://IP:PORT or unix:PATH";
        if let Some(path) = s.strip_prefix("unix:") {
            if path.is_empty() {
                return Err(EXPECTED.into());
            }
            return Ok(Self::Unix(PathBuf::from(path)));
        }
        let (proxy, rest) = match s.strip_prefix("proxy+") {
            Some(rest) => (true, rest),
            None => (false, s),
        };
        let (tls, rest) = if let Some(rest) = rest.strip_prefix("https://") {
            (true, rest)
        } else if let Some(rest) = rest.strip_prefix("http://") {
            (false, rest)
        } else {
            return Err(EXPECTED.into());
        };
        let addr: SocketAddr = rest.trim_end_matches('/').parse().map_err(|_| EXPECTED)?;
        Ok(match (proxy, tls) {
            (false, false) => Self::Http(addr),
            (false, true) => Self::Https(addr),
            (true, false) => Self::ProxyHttp(addr),
            (true, true) => Self::ProxyHttps(addr),
        })
    }
}

/// A network: `IP/PREFIX` (`10.0.0.0/8`, `fd00::/8`) or one address
/// (`192.0.2.7`, the same as `/32` or `/128`). An IPv4 network also matches
/// the IPv4-mapped IPv6 form of its addresses (`::ffff:10.1.2.3`), which is
/// how IPv4 peers of a `[::]` listener are seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Cidr {
    addr: IpAddr,
    prefix: u8,
}

impl Cidr {
    /// Whether `ip` is in one of `nets` (`trusted_proxies`,
    /// `metrics_allow`).
    pub fn any_contains(nets: &[Self], ip: IpAddr) -> bool {
        nets.iter().any(|net| net.contains(ip))
    }

    /// Whether `ip` is in this network.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip.to_canonical()) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

impl FromStr for Cidr {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        const EXPECTED: &str = "expected a network such as 10.0.0.0/8, 192.0.2.7 or fd00::/8";
        let (ip, prefix) = match s.trim().split_once('/') {
            Some((ip, prefix)) => (ip, Some(prefix)),
            None => (s.trim(), None),
        };
        let addr: IpAddr = ip
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse()
            .map_err(|_| EXPECTED.to_owned())?;
        // An IPv4-mapped network is its IPv4 network.
        let (addr, max) = match addr.to_canonical() {
            IpAddr::V4(v4) => {
                let shift = if addr.is_ipv6() { 96 } else { 0 };
                (IpAddr::V4(v4), (32u8, shift))
            }
            v6 => (v6, (128, 0)),
        };
        let prefix = match prefix {
            None => max.0,
            Some(p) => {
                let p: u8 = p.parse().map_err(|_| EXPECTED.to_owned())?;
                p.checked_sub(max.1)
                    .filter(|p| *p <= max.0)
                    .ok_or_else(|| format!("{EXPECTED}; the prefix is at most {}", max.0 + max.1))?
            }
        };
        Ok(Self { addr, prefix })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reqlog() {
        let all: ReqLog = "*".parse().unwrap();
        assert!(all.wants(&Method::DELETE) && all.log_end && !all.rec);
        let some: ReqLog = "-GET,put,REC".parse().unwrap();
        assert!(some.wants(&Method::PUT) && !some.wants(&Method::POST));
        assert!(!some.log_end && some.rec);
        assert!("GE T".parse::<ReqLog>().is_err());
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
        let proxied: ListenSpec = "proxy+https://127.0.0.1:8443".parse().unwrap();
        assert_eq!(
            proxied,
            ListenSpec::ProxyHttps("127.0.0.1:8443".parse().unwrap())
        );
        assert!(proxied.is_tls() && proxied.is_proxy_protocol());
        assert_eq!(proxied.to_string(), "proxy+https://127.0.0.1:8443");
        assert_eq!(
            "proxy+http://[::1]:80".parse(),
            Ok(ListenSpec::ProxyHttp("[::1]:80".parse().unwrap()))
        );
        assert!("proxy+unix:/x".parse::<ListenSpec>().is_err());
        assert!("ftp://1.2.3.4:5".parse::<ListenSpec>().is_err());
        assert!("http://localhost".parse::<ListenSpec>().is_err());
        assert!("unix:".parse::<ListenSpec>().is_err());
    }

    #[test]
    fn networks() {
        let net: Cidr = "10.0.0.0/8".parse().unwrap();
        assert!(net.contains([10, 200, 3, 4].into()));
        assert!(!net.contains([11, 0, 0, 1].into()));
        assert!(net.contains("::ffff:10.1.2.3".parse().unwrap()));
        let one: Cidr = "127.0.0.2".parse().unwrap();
        assert!(one.contains([127, 0, 0, 2].into()) && !one.contains([127, 0, 0, 1].into()));
        assert_eq!(one.to_string(), "127.0.0.2/32");
        let all: Cidr = "0.0.0.0/0".parse().unwrap();
        assert!(all.contains([1, 2, 3, 4].into()) && !all.contains("::1".parse().unwrap()));
        let v6: Cidr = "fd00::/8".parse().unwrap();
        assert!(
            v6.contains("fd12::1".parse().unwrap()) && !v6.contains("fe80::1".parse().unwrap())
        );
        let mapped: Cidr = "::ffff:192.0.2.0/120".parse().unwrap();
        assert_eq!(mapped.to_string(), "192.0.2.0/24");
        assert!("10.0.0.0/33".parse::<Cidr>().is_err());
        assert!("::/129".parse::<Cidr>().is_err());
        assert!("example.com".parse::<Cidr>().is_err());
        assert!("10.0.0.0/x".parse::<Cidr>().is_err());
    }
}

//! What proxies say about the client: `Forwarded` (RFC 7239) and the
//! `X-Forwarded-For`/`-Proto` headers. Only read for a connection
//! from a trusted proxy ([`super::Client::of`]).
//!
//! Each proxy appends the address it got the request from, so the list is
//! read from the right: the first address that is not itself a trusted
//! proxy is the client (anything to its left was written by the client or
//! by proxies nobody vouches for). When every address is trusted, the
//! leftmost is the client. An entry that is no address (`unknown`, an
//! obfuscated `_name`, garbage) stops the walk: the client is then the
//! proxy that wrote it. `Forwarded` wins over `X-Forwarded-*` when both are
//! present. With `Forwarded`, the scheme is that of the element the client
//! was found in (what the client asked that proxy); with
//! `X-Forwarded-Proto`, the rightmost value (the nearest proxy's). The
//! host a proxy reports is not read: the server writes no absolute URL.

use std::net::{IpAddr, SocketAddr};

use http::HeaderMap;
use http::header::FORWARDED;

/// At most this many hops are read from the right of a list.
const MAX_HOPS: usize = 64;

/// What the headers say: each item `None` when they do not say it.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Said {
    /// The client's address (port 0 when not given).
    pub(crate) client: Option<SocketAddr>,
    /// `http` or `https`.
    pub(crate) proto: Option<String>,
}

/// One hop of a `Forwarded` list: its `for` and `proto` parameters.
#[derive(Debug, Default)]
struct Element {
    for_: Option<String>,
    proto: Option<String>,
}

/// Reads the client from `headers`; `trusted` says whether an address is a
/// trusted proxy.
pub(crate) fn read(headers: &HeaderMap, trusted: impl Fn(IpAddr) -> bool) -> Said {
    let forwarded = joined(headers, FORWARDED.as_str());
    if let Some(list) = forwarded {
        let elements: Vec<Element> = split_outside_quotes(&list, ',')
            .into_iter()
            .rev()
            .take(MAX_HOPS)
            .map(element)
            .collect();
        let (client, at) = walk(elements.iter().map(|e| e.for_.as_deref()), &trusted);
        let chosen = at.and_then(|i| elements.get(i));
        return Said {
            client,
            proto: chosen.and_then(|e| e.proto.as_deref()).and_then(proto),
        };
    }
    let client = joined(headers, "x-forwarded-for").and_then(|list| {
        let hops: Vec<&str> = list.rsplit(',').take(MAX_HOPS).collect();
        walk(hops.into_iter().map(Some), &trusted).0
    });
    let last = |name: &str| {
        joined(headers, name).and_then(|v| v.rsplit(',').next().map(|s| s.trim().to_owned()))
    };
    Said {
        client,
        proto: last("x-forwarded-proto").as_deref().and_then(proto),
    }
}

/// Walks `hops` (rightmost first): the client's address and the index of
/// the hop it was found at (`None`, `None` for an empty list).
fn walk<'a>(
    hops: impl Iterator<Item = Option<&'a str>>,
    trusted: impl Fn(IpAddr) -> bool,
) -> (Option<SocketAddr>, Option<usize>) {
    let mut last: (Option<SocketAddr>, Option<usize>) = (None, None);
    for (i, hop) in hops.enumerate() {
        match hop.and_then(node) {
            Some(addr) if trusted(addr.ip()) => last = (Some(addr), Some(i)),
            Some(addr) => return (Some(addr), Some(i)),
            // Not an address: the proxy that wrote it (the hop to its
            // right, `last`) is as far as anyone vouches.
            None => return (last.0, Some(i)),
        }
    }
    last
}

/// Every value of header `name`, joined with commas; `None` when absent
/// or not text.
fn joined(headers: &HeaderMap, name: &str) -> Option<String> {
    let mut out: Option<String> = None;
    for v in headers.get_all(name) {
        let v = v.to_str().ok()?;
        match &mut out {
            Some(s) => {
                s.push(',');
                s.push_str(v);
            }
            None => out = Some(v.to_owned()),
        }
    }
    out
}

/// Splits `s` at `sep` outside double-quoted strings.
fn split_outside_quotes(s: &str, sep: char) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut start, mut quoted, mut escaped) = (0, false, false);
    for (i, c) in s.char_indices() {
        if escaped {
            escaped = false;
        } else if quoted && c == '\\' {
            escaped = true;
        } else if c == '"' {
            quoted = !quoted;
        } else if c == sep && !quoted {
            parts.push(&s[start..i]);
            start = i + c.len_utf8();
        }
    }
    parts.push(&s[start..]);
    parts
}

/// One `Forwarded` element: `for=...;proto=...` (other parameters
/// ignored).
fn element(text: &str) -> Element {
    let mut e = Element::default();
    for pair in split_outside_quotes(text, ';') {
        let Some((key, value)) = pair.split_once('=') else {
            continue;
        };
        let value = unquote(value.trim());
        match key.trim().to_ascii_lowercase().as_str() {
            "for" => e.for_ = Some(value),
            "proto" => e.proto = Some(value),
            _ => {}
        }
    }
    e
}

/// A token or a quoted string's content.
fn unquote(v: &str) -> String {
    match v.strip_prefix('"').and_then(|v| v.strip_suffix('"')) {
        Some(inner) => {
            let mut out = String::with_capacity(inner.len());
            let mut chars = inner.chars();
            while let Some(c) = chars.next() {
                out.push(if c == '\\' {
                    chars.next().unwrap_or('\\')
                } else {
                    c
                });
            }
            out
        }
        None => v.to_owned(),
    }
}

/// A node: `192.0.2.7`, `192.0.2.7:4711`, `[2001:db8::1]`,
/// `[2001:db8::1]:4711` or a bare IPv6 address (as `X-Forwarded-For`
/// writes it). Anything else is no address.
fn node(text: &str) -> Option<SocketAddr> {
    let t = text.trim();
    if let Ok(ip) = t.parse::<IpAddr>() {
        return Some(SocketAddr::new(ip.to_canonical(), 0));
    }
    if let Ok(addr) = t.parse::<SocketAddr>() {
        return Some(SocketAddr::new(addr.ip().to_canonical(), addr.port()));
    }
    let ip = t
        .strip_prefix('[')?
        .strip_suffix(']')?
        .parse::<IpAddr>()
        .ok()?;
    Some(SocketAddr::new(ip.to_canonical(), 0))
}

/// `http` or `https`, lower-cased; anything else is ignored.
fn proto(v: &str) -> Option<String> {
    let v = v.trim().to_ascii_lowercase();
    matches!(v.as_str(), "http" | "https").then_some(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(list: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in list {
            h.append(
                http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        h
    }

    /// 10.0.0.0/8 are the trusted proxies.
    fn said(list: &[(&str, &str)]) -> Said {
        read(&headers(list), |ip| match ip {
            IpAddr::V4(v4) => v4.octets()[0] == 10,
            IpAddr::V6(_) => false,
        })
    }

    fn addr(s: &str) -> Option<SocketAddr> {
        Some(s.parse().unwrap())
    }

    #[test]
    fn x_forwarded_for_is_read_from_the_right() {
        let s = said(&[("x-forwarded-for", "6.6.6.6, 192.0.2.7, 10.0.0.3")]);
        assert_eq!(s.client, addr("192.0.2.7:0"));
        // Several headers are one list.
        let s = said(&[
            ("x-forwarded-for", "6.6.6.6"),
            ("x-forwarded-for", "192.0.2.8,10.1.1.1"),
        ]);
        assert_eq!(s.client, addr("192.0.2.8:0"));
        // Every hop trusted: the leftmost.
        let s = said(&[("x-forwarded-for", "10.9.9.9, 10.0.0.3")]);
        assert_eq!(s.client, addr("10.9.9.9:0"));
        // Garbage stops the walk at the proxy that wrote it.
        let s = said(&[("x-forwarded-for", "192.0.2.1, nonsense, 10.0.0.3")]);
        assert_eq!(s.client, addr("10.0.0.3:0"));
        let s = said(&[("x-forwarded-for", "nonsense")]);
        assert_eq!(s.client, None);
        let s = said(&[("x-forwarded-for", "2001:db8::1")]);
        assert_eq!(s.client, addr("[2001:db8::1]:0"));
        let s = said(&[("x-forwarded-for", "::ffff:192.0.2.9")]);
        assert_eq!(s.client, addr("192.0.2.9:0"));
        assert_eq!(said(&[]), Said::default());
    }

    #[test]
    fn x_forwarded_proto() {
        let s = said(&[("x-forwarded-proto", "https")]);
        assert_eq!(s.proto.as_deref(), Some("https"));
        let s = said(&[("x-forwarded-proto", "gopher")]);
        assert_eq!(s.proto, None);
        let s = said(&[("x-forwarded-proto", "http, https")]);
        assert_eq!(s.proto.as_deref(), Some("https"));
    }

    #[test]
    fn forwarded_wins_and_takes_its_elements_proto() {
        let s = said(&[
            (
                "forwarded",
                "for=6.6.6.6;proto=http, for=\"[2001:db8::7]:4711\";proto=https;host=a.example, for=10.0.0.2;proto=http",
            ),
            ("x-forwarded-for", "192.0.2.99"),
        ]);
        assert_eq!(s.client, addr("[2001:db8::7]:4711"));
        assert_eq!(s.proto.as_deref(), Some("https"));
        let s = said(&[("forwarded", "For=\"192.0.2.60:8080\";by=10.0.0.1")]);
        assert_eq!(s.client, addr("192.0.2.60:8080"));
        let s = said(&[("forwarded", "for=unknown;proto=https, for=10.0.0.5")]);
        assert_eq!(s.client, addr("10.0.0.5:0"));
        assert_eq!(s.proto.as_deref(), Some("https"));
        let s = said(&[("forwarded", "for=_hidden, for=\"a,b\";proto=https")]);
        assert_eq!(s.client, None);
    }

    #[test]
    fn quoted_strings_and_escapes() {
        assert_eq!(
            split_outside_quotes("a=\"x,y\",b", ','),
            vec!["a=\"x,y\"", "b"]
        );
        assert_eq!(unquote("\"a\\\"b\""), "a\"b");
        assert_eq!(unquote("token"), "token");
    }
}

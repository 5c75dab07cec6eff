//! Clients behind proxies: who the client of a request is, and how it
//! reached the server.
//!
//! - [`forwarded`]: from a peer in `trusted_proxies`, the client's address,
//!   and scheme are taken from `Forwarded` (RFC 7239) or, without it,
//!   `X-Forwarded-For`/`-Proto`; from any other peer those headers
//!   are ignored. The engine asks once per request ([`Client::of`]) and
//!   every user of the client's address (limits, sign-in failure limits,
//!   the request log, handlers' [`Ctx::peer`](crate::Ctx)) gets that one
//!   answer.
//! - [`protocol`]: the PROXY protocol header (v1 text, v2 binary) that a
//!   `proxy+http://`/`proxy+https://` listener reads before TLS and HTTP;
//!   its address becomes the connection's peer.

pub(crate) mod forwarded;
pub(crate) mod protocol;

use std::net::SocketAddr;

use http::HeaderMap;

use crate::config::Cidr;

/// The client of one request, as the engine sees it after the proxies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Client {
    /// The client's address; the port is 0 when a proxy did not give it.
    /// `None`: a Unix socket peer.
    pub(crate) addr: Option<SocketAddr>,
    /// Whether the client reached the server over TLS (its own, or the
    /// one a trusted proxy says it terminated: `proto=https`).
    pub(crate) tls: bool,
    /// The connection comes from a trusted proxy: the request counts
    /// against `maxp` for its client address (the connection did not).
    pub(crate) via_proxy: bool,
}

impl Client {
    /// The client of a request with `headers` on a connection from `peer`
    /// (`tls`: the connection is TLS).
    pub(crate) fn of(
        peer: Option<SocketAddr>,
        tls: bool,
        headers: &HeaderMap,
        trusted: &[Cidr],
    ) -> Self {
        let direct = Self {
            addr: peer,
            tls,
            via_proxy: false,
        };
        let Some(peer) = peer.filter(|p| Cidr::any_contains(trusted, p.ip())) else {
            return direct;
        };
        let said = forwarded::read(headers, |ip| Cidr::any_contains(trusted, ip));
        Self {
            addr: Some(said.client.unwrap_or(peer)),
            tls: said.proto.map_or(tls, |p| p.eq_ignore_ascii_case("https")),
            via_proxy: true,
        }
    }
}

//! The hook a mode installs for the protocol quirks of its own clients
//! ([`ServerConfig::conn_hook`](crate::ServerConfig)). The engine defines
//! the trait and calls it; it knows nothing of any one protocol (the live
//! sink's Icecast source clients are the first user).

use std::fmt;

use http::Method;
use tokio::io::{AsyncRead, AsyncWrite};

/// The byte stream of one connection, as hyper reads and writes it (TCP,
/// TLS over TCP, or a Unix socket).
pub trait Io: AsyncRead + AsyncWrite + Send + Unpin + 'static {}

impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> Io for T {}

/// Protocol quirks of one mode's clients, installed at build time in
/// [`ServerConfig::conn_hook`](crate::ServerConfig). Both methods have a
/// default that changes nothing.
pub trait ConnHook: fmt::Debug + Send + Sync + 'static {
    /// Wraps the byte stream of every accepted connection (after TLS)
    /// before hyper reads it: an adapter may rewrite what the client sends,
    /// e.g. frame a request body HTTP/1.1 cannot delimit. Default: `io`
    /// unchanged.
    fn wrap(&self, io: Box<dyn Io>) -> Box<dyn Io> {
        io
    }

    /// Whether what [`wrap`](Self::wrap) returns writes every byte through
    /// unchanged, so that the engine may write a long response body (a
    /// live stream, a large file) straight to the socket, outside hyper
    /// and this adapter. Default: no (long bodies then stay with hyper).
    fn writes_pass_through(&self) -> bool {
        false
    }

    /// Whether `method`, beyond HTTP's own (`PUT`, `POST`, `DELETE`,
    /// `PATCH`), asks for write rights in the access rules. Default: no.
    fn writes(&self, method: &Method) -> bool {
        let _ = method;
        false
    }
}

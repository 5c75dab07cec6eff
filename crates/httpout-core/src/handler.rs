//! The handler trait: what a mode (or an embedding program) plugs into the server.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;

use http::{Request, Response};

use crate::body::Body;
use crate::error::Error;
use crate::path::SafePath;

/// The future a [`Handler`] returns.
pub type HandlerFuture = Pin<Box<dyn Future<Output = Result<Response<Body>, Error>> + Send>>;

/// Facts about a request that the handler did not parse itself.
#[derive(Debug, Clone)]
pub struct Ctx {
    /// The peer's address; `None` on a Unix socket.
    pub peer: Option<SocketAddr>,
    /// Whether the request came over TLS.
    pub tls: bool,
    /// The request path, decoded and normalised once ([`SafePath`]). Below
    /// a [`Router`](crate::Router) mount, this is the path under the mount.
    pub path: SafePath,
    /// The mount the router matched (`/` when there is no router).
    pub mount: SafePath,
    /// The signed-in user, when the access rules asked for one.
    pub user: Option<String>,
}

/// Answers requests. Handlers see neither TLS nor the HTTP version nor the
/// socket; they return a streaming [`Response<Body>`] or an [`Error`] that the
/// server turns into a status.
///
/// Any `Fn(Request<Body>, Ctx) -> impl Future<Output = Result<Response<Body>, Error>>`
/// is a handler:
///
/// ```
/// use httpout_core::{Body, Ctx, Error, Handler};
/// use http::{Request, Response};
///
/// let hello = |_req: Request<Body>, ctx: Ctx| async move {
///     Ok::<_, Error>(Response::new(Body::full(format!("hello {}\n", ctx.path))))
/// };
/// fn takes_handler(_: impl Handler) {}
/// takes_handler(hello);
/// ```
pub trait Handler: Send + Sync + 'static {
    /// Answers one request. Takes `&self`: shared state lives behind `Arc`s.
    fn handle(&self, req: Request<Body>, ctx: Ctx) -> HandlerFuture;
}

impl<F, Fut> Handler for F
where
    F: Fn(Request<Body>, Ctx) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Response<Body>, Error>> + Send + 'static,
{
    fn handle(&self, req: Request<Body>, ctx: Ctx) -> HandlerFuture {
        Box::pin(self(req, ctx))
    }
}

impl Handler for Arc<dyn Handler> {
    fn handle(&self, req: Request<Body>, ctx: Ctx) -> HandlerFuture {
        (**self).handle(req, ctx)
    }
}

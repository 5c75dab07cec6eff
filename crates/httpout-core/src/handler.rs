//! The handler trait: what a mode (or an embedding program) plugs into the server.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;

use http::{HeaderName, HeaderValue, Method, Request, Response};

use crate::body::Body;
use crate::error::Error;
use crate::metrics::Metrics;
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
    /// The server's metrics, for the mode to count what it does
    /// (uploads, live listeners).
    pub metrics: Arc<Metrics>,
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
/// use http::{HeaderValue, Method, Request, Response};
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

    /// The methods the resource at `path` (below the handler's mount)
    /// accepts. Unless it is [`Allow::any`] (the default: the handler
    /// answers every method itself), the engine answers `OPTIONS` and CORS
    /// preflights with it, and a method outside it with 405 and `Allow`
    /// (501 for a method HTTP does not define); [`Handler::handle`] sees
    /// only the methods listed, `OPTIONS` never. HEAD responses lose their
    /// body in the engine in every case.
    fn allow(&self, path: &SafePath) -> Allow {
        let _ = path;
        Allow::any()
    }
}

/// The methods a resource accepts ([`Handler::allow`]), in the order the
/// `Allow` header lists them, and the header fields the engine's `OPTIONS`
/// answer carries besides `Allow` (a protocol's discovery field).
///
/// ```
/// use http::{HeaderName, HeaderValue, Method};
/// use httpout_core::Allow;
///
/// let allow = Allow::only([Method::PUT, Method::OPTIONS]).with_options_header(
///     HeaderName::from_static("upload-limit"),
///     HeaderValue::from_static("max-size=1000"),
/// );
/// assert!(allow.contains(&Method::PUT) && !allow.contains(&Method::GET));
/// assert_eq!(allow.header().unwrap(), "PUT, OPTIONS");
/// assert_eq!(allow.options_headers().len(), 1);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Allow {
    methods: Option<Vec<Method>>,
    options: Vec<(HeaderName, HeaderValue)>,
}

impl Allow {
    /// Every method: the handler answers each, `OPTIONS` included.
    pub fn any() -> Self {
        Self {
            methods: None,
            options: Vec::new(),
        }
    }

    /// Exactly these methods (list `HEAD` with `GET`, and `OPTIONS`, for
    /// them to appear in `Allow`; the engine answers `OPTIONS` anyway).
    pub fn only(methods: impl IntoIterator<Item = Method>) -> Self {
        let mut list = Vec::new();
        for m in methods {
            if !list.contains(&m) {
                list.push(m);
            }
        }
        Self {
            methods: Some(list),
            options: Vec::new(),
        }
    }

    /// Adds a header field to the engine's `OPTIONS` answer (not to a CORS
    /// preflight's; nothing with [`Allow::any`], whose handler answers
    /// `OPTIONS` itself).
    #[must_use]
    pub fn with_options_header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.options.push((name, value));
        self
    }

    /// The header fields added with [`Allow::with_options_header`].
    pub fn options_headers(&self) -> &[(HeaderName, HeaderValue)] {
        &self.options
    }

    /// Whether this is [`Allow::any`].
    pub fn is_any(&self) -> bool {
        self.methods.is_none()
    }

    /// Whether `method` is accepted (always, for [`Allow::any`]).
    pub fn contains(&self, method: &Method) -> bool {
        self.methods
            .as_ref()
            .is_none_or(|list| list.contains(method))
    }

    /// Both sets: `self`'s methods, then those of `other` not in it, and
    /// both `OPTIONS` header lists ([`Allow::any`] if either is).
    #[must_use]
    pub fn union(self, other: Self) -> Self {
        match (self.methods, other.methods) {
            (Some(mut a), Some(b)) => {
                for m in b {
                    if !a.contains(&m) {
                        a.push(m);
                    }
                }
                let mut options = self.options;
                options.extend(other.options);
                Self {
                    methods: Some(a),
                    options,
                }
            }
            _ => Self::any(),
        }
    }

    /// The `Allow` header value (`GET, HEAD, OPTIONS`); `None` for
    /// [`Allow::any`].
    pub fn header(&self) -> Option<HeaderValue> {
        let list = self.methods.as_ref()?;
        let text = list
            .iter()
            .map(Method::as_str)
            .collect::<Vec<_>>()
            .join(", ");
        HeaderValue::from_str(&text).ok()
    }

    /// The error for a request whose method is not accepted: 405 with this
    /// `Allow`, or 501 for a method HTTP does not define (RFC 9110 §15.6.2).
    pub fn refuse(&self, method: &Method) -> Error {
        let known = matches!(
            *method,
            Method::GET
                | Method::HEAD
                | Method::POST
                | Method::PUT
                | Method::DELETE
                | Method::OPTIONS
                | Method::PATCH
                | Method::TRACE
                | Method::CONNECT
        );
        match self.header() {
            Some(allow) if known => Error::MethodNotAllowed { allow },
            _ => Error::NotImplemented,
        }
    }
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

    fn allow(&self, path: &SafePath) -> Allow {
        (**self).allow(path)
    }
}

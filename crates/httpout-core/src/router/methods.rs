//! Routing by method: one handler per method of a route, and the `Allow`
//! the engine answers `OPTIONS` and 405 with.

use std::sync::Arc;

use http::{Method, Request};

use crate::body::Body;
use crate::handler::{Allow, Ctx, Handler, HandlerFuture};
use crate::path::SafePath;

/// A handler per method. The engine answers `OPTIONS` with the methods
/// registered (plus `HEAD` when `GET` is, and `OPTIONS`), and any other
/// method with 405 and that `Allow` (501 for one HTTP does not define).
/// `HEAD` goes to the `GET` handler unless one is registered for it; the
/// engine drops the body.
///
/// ```
/// use httpout_core::router::{get, MethodRouter};
/// use httpout_core::{Body, Ctx, Error, Router};
/// use http::{Request, Response};
///
/// async fn show(_req: Request<Body>, _ctx: Ctx) -> Result<Response<Body>, Error> {
///     Ok(Response::new(Body::full("the item\n")))
/// }
/// async fn replace(_req: Request<Body>, _ctx: Ctx) -> Result<Response<Body>, Error> {
///     Ok(Response::new(Body::full("replaced\n")))
/// }
/// let router = Router::new().route("/items/{id}", get(show).put(replace));
/// // PATCH /items/1 → 405, Allow: GET, PUT, HEAD, OPTIONS
/// ```
#[derive(Clone, Default)]
pub struct MethodRouter {
    handlers: Vec<(Method, Arc<dyn Handler>)>,
}

impl std::fmt::Debug for MethodRouter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.handlers.iter().map(|(m, _)| m.as_str()))
            .finish()
    }
}

/// A [`MethodRouter`] with `handler` for `GET` (and `HEAD`).
///
/// ```
/// use httpout_core::router::get;
/// use httpout_core::{Body, Ctx, Error, Router};
/// use http::{Request, Response};
///
/// let h = |_req: Request<Body>, _ctx: Ctx| async { Ok::<_, Error>(Response::new(Body::empty())) };
/// let router = Router::new().route("/thing", get(h));
/// ```
pub fn get(handler: impl Handler) -> MethodRouter {
    MethodRouter::new().get(handler)
}

/// A [`MethodRouter`] with `handler` for `POST`.
///
/// ```
/// use httpout_core::router::post;
/// use httpout_core::{Body, Ctx, Error, Router};
/// use http::{Request, Response};
///
/// let h = |_req: Request<Body>, _ctx: Ctx| async { Ok::<_, Error>(Response::new(Body::empty())) };
/// let router = Router::new().route("/thing", post(h));
/// ```
pub fn post(handler: impl Handler) -> MethodRouter {
    MethodRouter::new().post(handler)
}

/// A [`MethodRouter`] with `handler` for `PUT`.
///
/// ```
/// use httpout_core::router::put;
/// use httpout_core::{Body, Ctx, Error, Router};
/// use http::{Request, Response};
///
/// let h = |_req: Request<Body>, _ctx: Ctx| async { Ok::<_, Error>(Response::new(Body::empty())) };
/// let router = Router::new().route("/thing", put(h));
/// ```
pub fn put(handler: impl Handler) -> MethodRouter {
    MethodRouter::new().put(handler)
}

/// A [`MethodRouter`] with `handler` for `DELETE`.
///
/// ```
/// use httpout_core::router::delete;
/// use httpout_core::{Body, Ctx, Error, Router};
/// use http::{Request, Response};
///
/// let h = |_req: Request<Body>, _ctx: Ctx| async { Ok::<_, Error>(Response::new(Body::empty())) };
/// let router = Router::new().route("/thing", delete(h));
/// ```
pub fn delete(handler: impl Handler) -> MethodRouter {
    MethodRouter::new().delete(handler)
}

/// A [`MethodRouter`] with `handler` for `PATCH`.
///
/// ```
/// use httpout_core::router::patch;
/// use httpout_core::{Body, Ctx, Error, Router};
/// use http::{Request, Response};
///
/// let h = |_req: Request<Body>, _ctx: Ctx| async { Ok::<_, Error>(Response::new(Body::empty())) };
/// let router = Router::new().route("/thing", patch(h));
/// ```
pub fn patch(handler: impl Handler) -> MethodRouter {
    MethodRouter::new().patch(handler)
}

impl MethodRouter {
    /// No method: every request is a 405 (`Allow: OPTIONS`).
    ///
    /// ```
    /// let methods = httpout_core::router::MethodRouter::new();
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `handler` for `method`, replacing an earlier one for it.
    /// `OPTIONS` is the engine's: a handler for it is never called.
    ///
    /// ```
    /// use httpout_core::router::MethodRouter;
    /// use httpout_core::{Body, Ctx, Error};
    /// use http::{Method, Request, Response};
    ///
    /// let h = |_req: Request<Body>, _ctx: Ctx| async { Ok::<_, Error>(Response::new(Body::empty())) };
    /// let propfind = Method::from_bytes(b"PROPFIND").unwrap();
    /// let methods = MethodRouter::new().get(h).on(propfind, h);
    /// ```
    #[must_use]
    pub fn on(mut self, method: Method, handler: impl Handler) -> Self {
        self.handlers.retain(|(m, _)| *m != method);
        self.handlers.push((method, Arc::new(handler)));
        self
    }

    /// Adds `handler` for `GET` (and `HEAD`, unless one is added for it).
    ///
    /// ```
    /// use httpout_core::router::MethodRouter;
    /// use httpout_core::{Body, Ctx, Error};
    /// use http::{Request, Response};
    ///
    /// let h = |_req: Request<Body>, _ctx: Ctx| async { Ok::<_, Error>(Response::new(Body::empty())) };
    /// let methods = MethodRouter::new().post(h).get(h);
    /// assert_eq!(format!("{methods:?}"), r#"["POST", "GET"]"#);
    /// ```
    #[must_use]
    pub fn get(self, handler: impl Handler) -> Self {
        self.on(Method::GET, handler)
    }

    /// Adds `handler` for `POST`.
    ///
    /// ```
    /// use httpout_core::router::MethodRouter;
    /// use httpout_core::{Body, Ctx, Error};
    /// use http::{Request, Response};
    ///
    /// let h = |_req: Request<Body>, _ctx: Ctx| async { Ok::<_, Error>(Response::new(Body::empty())) };
    /// let methods = MethodRouter::new().get(h).post(h);
    /// assert_eq!(format!("{methods:?}"), r#"["GET", "POST"]"#);
    /// ```
    #[must_use]
    pub fn post(self, handler: impl Handler) -> Self {
        self.on(Method::POST, handler)
    }

    /// Adds `handler` for `PUT`.
    ///
    /// ```
    /// use httpout_core::router::MethodRouter;
    /// use httpout_core::{Body, Ctx, Error};
    /// use http::{Request, Response};
    ///
    /// let h = |_req: Request<Body>, _ctx: Ctx| async { Ok::<_, Error>(Response::new(Body::empty())) };
    /// let methods = MethodRouter::new().get(h).put(h);
    /// assert_eq!(format!("{methods:?}"), r#"["GET", "PUT"]"#);
    /// ```
    #[must_use]
    pub fn put(self, handler: impl Handler) -> Self {
        self.on(Method::PUT, handler)
    }

    /// Adds `handler` for `DELETE`.
    ///
    /// ```
    /// use httpout_core::router::MethodRouter;
    /// use httpout_core::{Body, Ctx, Error};
    /// use http::{Request, Response};
    ///
    /// let h = |_req: Request<Body>, _ctx: Ctx| async { Ok::<_, Error>(Response::new(Body::empty())) };
    /// let methods = MethodRouter::new().get(h).delete(h);
    /// assert_eq!(format!("{methods:?}"), r#"["GET", "DELETE"]"#);
    /// ```
    #[must_use]
    pub fn delete(self, handler: impl Handler) -> Self {
        self.on(Method::DELETE, handler)
    }

    /// Adds `handler` for `PATCH`.
    ///
    /// ```
    /// use httpout_core::router::MethodRouter;
    /// use httpout_core::{Body, Ctx, Error};
    /// use http::{Request, Response};
    ///
    /// let h = |_req: Request<Body>, _ctx: Ctx| async { Ok::<_, Error>(Response::new(Body::empty())) };
    /// let methods = MethodRouter::new().get(h).patch(h);
    /// assert_eq!(format!("{methods:?}"), r#"["GET", "PATCH"]"#);
    /// ```
    #[must_use]
    pub fn patch(self, handler: impl Handler) -> Self {
        self.on(Method::PATCH, handler)
    }

    /// The handler for `method`: its own, or `GET`'s for `HEAD`.
    fn find(&self, method: &Method) -> Option<&Arc<dyn Handler>> {
        let own = self.handlers.iter().find(|(m, _)| m == method);
        let head = || {
            (*method == Method::HEAD)
                .then(|| self.handlers.iter().find(|(m, _)| *m == Method::GET))
                .flatten()
        };
        own.or_else(head).map(|(_, h)| h)
    }
}

impl Handler for MethodRouter {
    fn allow(&self, _path: &SafePath) -> Allow {
        let mut methods: Vec<Method> = self.handlers.iter().map(|(m, _)| m.clone()).collect();
        if methods.contains(&Method::GET) {
            methods.push(Method::HEAD);
        }
        methods.push(Method::OPTIONS);
        Allow::only(methods)
    }

    fn handle(&self, req: Request<Body>, ctx: Ctx) -> HandlerFuture {
        match self.find(req.method()) {
            Some(handler) => handler.handle(req, ctx),
            // The engine refuses such methods first; a router used
            // inside another handler may not.
            None => {
                let refused = self.allow(&ctx.path).refuse(req.method());
                Box::pin(async move { Err(refused) })
            }
        }
    }
}

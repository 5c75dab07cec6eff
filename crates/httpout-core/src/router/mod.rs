//! The route table: the one place where a request is given to a handler
//! (a mode, or an embedding program's function).
//!
//! A [`Router`] holds four kinds of routes, tried in this order, the first
//! that matches winning:
//! 1. **exact paths** ([`Router::route`] without a capture): `/status`;
//! 2. **path patterns** ([`Router::route`] with `{name}` segments):
//!    `/users/{id}`, each capture one whole decoded segment; among
//!    patterns, a literal beats a capture at the first position where two
//!    differ (`/users/{id}` before `/{kind}/new` for `/users/new`);
//! 3. **regular expressions** ([`Router::regex`]) over the decoded,
//!    normalised path, in the order they were added;
//! 4. **prefixes** ([`Router::mount`]): the longest mount the path is
//!    under, whole segments.
//!
//! Why this order: a route that names one path says more than one that
//! names a shape of paths, and a shape says more than an expression, which
//! can say anything; a prefix is the catch-all of a subtree (a mode's
//! mount, `/` for the rest). Within each kind, the more specific wins,
//! except for regular expressions, which cannot be compared: their order
//! is the program's. A trailing `/` is not significant to exact paths and
//! patterns.
//!
//! Captures reach the handler as [`Params`] in the request's extensions.
//! A route given a [`MethodRouter`] ([`get`], [`put`], ...) answers only its
//! methods: the engine answers `OPTIONS`, and others with 405 and the
//! `Allow` of what is registered. Authorisation attaches to prefixes
//! ([`Router::auth`]) whatever route serves the path.

mod auth;
mod methods;
mod pattern;

pub use methods::{MethodRouter, delete, get, patch, post, put};
pub use pattern::Params;

use std::sync::Arc;

use http::Request;
use regex::Regex;

use crate::body::Body;
use crate::error::Error;
use crate::handler::{Allow, Ctx, Handler, HandlerFuture};
use crate::path::SafePath;
use crate::session::Session;
use auth::RouteAuth;
use pattern::Pattern;

/// Maps a request path to a handler: exact paths, then path patterns, then
/// regular expressions, then the longest mount prefix (see the
/// [module documentation](self) for the order and why). A request that
/// matches nothing gets a 404.
///
/// ```
/// use std::sync::Arc;
/// use httpout_core::auth::{Access, rules::Rules, users::Users};
/// use httpout_core::router::{get, Params};
/// use httpout_core::{Body, Ctx, Error, Router};
/// use http::{Request, Response};
///
/// async fn user(req: Request<Body>, _ctx: Ctx) -> Result<Response<Body>, Error> {
///     let id = Params::of(&req).get("id").unwrap_or_default().to_owned();
///     Ok(Response::new(Body::full(format!("user {id}\n"))))
/// }
/// async fn news(req: Request<Body>, ctx: Ctx) -> Result<Response<Body>, Error> {
///     let who = ctx.user.unwrap_or_default();
///     Ok(Response::new(Body::full(format!("{} for {who}\n", ctx.path))))
/// }
/// let mut users = Users::default();
/// users.set_password("larry", "wall").unwrap();
/// let access = Arc::new(Access::new(Rules::default(), users, None).unwrap());
/// let router = Router::new()
///     .route("/users/{id}", get(user))
///     .regex(r"\.news$", get(news))
///     .auth("/private", access, |user, _path| user != "dr_evil");
/// ```
#[derive(Clone, Default)]
pub struct Router {
    /// Exact paths.
    exact: Vec<(SafePath, Arc<dyn Handler>)>,
    /// Patterns, most specific first.
    patterns: Vec<(Pattern, Arc<dyn Handler>)>,
    /// Regular expressions, in the order they were added.
    regexes: Vec<(Regex, Arc<dyn Handler>)>,
    /// Mounts, longest prefix first.
    mounts: Vec<(SafePath, Arc<dyn Handler>)>,
    /// Authorisation by prefix, longest first.
    auths: Vec<(SafePath, RouteAuth)>,
}

impl std::fmt::Debug for Router {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Router")
            .field(
                "exact",
                &self
                    .exact
                    .iter()
                    .map(|(p, _)| p.to_string())
                    .collect::<Vec<_>>(),
            )
            .field("patterns", &self.patterns.len())
            .field(
                "regexes",
                &self
                    .regexes
                    .iter()
                    .map(|(r, _)| r.as_str())
                    .collect::<Vec<_>>(),
            )
            .field(
                "mounts",
                &self
                    .mounts
                    .iter()
                    .map(|(m, _)| m.to_string())
                    .collect::<Vec<_>>(),
            )
            .field(
                "auths",
                &self
                    .auths
                    .iter()
                    .map(|(m, _)| m.to_string())
                    .collect::<Vec<_>>(),
            )
            .finish()
    }
}

/// What a path matched.
struct Found<'a> {
    handler: &'a Arc<dyn Handler>,
    /// The mount of a prefix route (`/` for the others).
    mount: SafePath,
    /// The path the handler sees: below the mount, or the whole path.
    path: SafePath,
    params: Params,
}

impl Router {
    /// An empty router: every request is a 404.
    ///
    /// ```
    /// let router = httpout_core::Router::new();
    /// assert_eq!(router.mounts().count(), 0);
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// Mounts `handler` at `prefix` (`/`, `/live`, ...): it gets every
    /// request under that prefix (whole segments) that no more specific
    /// route takes, with [`Ctx::path`] the path below the prefix and
    /// [`Ctx::mount`] the prefix. A later mount at the same prefix
    /// replaces the earlier one.
    ///
    /// ```
    /// use httpout_core::{Body, Ctx, Error, Router};
    /// use http::{Request, Response};
    ///
    /// let files = |_req: Request<Body>, ctx: Ctx| async move {
    ///     Ok::<_, Error>(Response::new(Body::full(format!("{} under {}\n", ctx.path, ctx.mount))))
    /// };
    /// let router = Router::new().mount("/files", files);
    /// assert_eq!(router.mounts().next().unwrap().to_string(), "/files");
    /// ```
    ///
    /// # Panics
    /// If `prefix` is not a valid absolute path (a programming error).
    pub fn mount(self, prefix: &str, handler: impl Handler) -> Self {
        let prefix = SafePath::parse(prefix).expect("mount prefix must be a plain absolute path");
        self.mount_path(prefix, handler)
    }

    /// Mounts `handler` at a prefix given as a [`SafePath`]; never panics:
    /// build the prefix with [`SafePath::from_segments`] from names that may
    /// hold `%`, spaces or anything else a directory name can.
    ///
    /// ```
    /// use httpout_core::{Body, Ctx, Error, Router, SafePath};
    /// use http::{Request, Response};
    ///
    /// let dir = SafePath::from_segments(["100% raw"]).unwrap();
    /// let router = Router::new().mount_path(dir, |_req: Request<Body>, _ctx: Ctx| async {
    ///     Ok::<_, Error>(Response::new(Body::empty()))
    /// });
    /// ```
    pub fn mount_path(mut self, prefix: SafePath, handler: impl Handler) -> Self {
        self.mounts
            .retain(|(m, _)| m.segments() != prefix.segments());
        self.mounts.push((prefix, Arc::new(handler)));
        self.mounts
            .sort_by_key(|(m, _)| std::cmp::Reverse(m.segments().len()));
        self
    }

    /// The mount prefixes, longest first.
    ///
    /// ```
    /// use httpout_core::{Body, Ctx, Error, Router};
    /// use http::{Request, Response};
    ///
    /// let h = |_req: Request<Body>, _ctx: Ctx| async { Ok::<_, Error>(Response::new(Body::empty())) };
    /// let router = Router::new().mount("/", h).mount("/a/b", h);
    /// let mounts: Vec<String> = router.mounts().map(|m| m.to_string()).collect();
    /// assert_eq!(mounts, ["/a/b", "/"]);
    /// ```
    pub fn mounts(&self) -> impl Iterator<Item = &SafePath> {
        self.mounts.iter().map(|(m, _)| m)
    }

    /// Routes `path` to `handler`: an exact path (`/status`), or a pattern
    /// whose `{name}` segments each capture one whole decoded segment
    /// (`/users/{id}/files/{name}`), read with [`Params::of`]. The handler
    /// sees the whole path in [`Ctx::path`] (and `/` in [`Ctx::mount`]).
    /// Give it a [`MethodRouter`] ([`get`], [`put`], ...) to route by
    /// method. A later route of the same shape replaces the earlier one.
    ///
    /// ```
    /// use httpout_core::router::{get, Params};
    /// use httpout_core::{Body, Ctx, Error, Router};
    /// use http::{Request, Response};
    ///
    /// let status = |_req: Request<Body>, _ctx: Ctx| async { Ok::<_, Error>(Response::new(Body::full("ok\n"))) };
    /// let file = |req: Request<Body>, _ctx: Ctx| async move {
    ///     let p = Params::of(&req);
    ///     let text = format!("{} of {}\n", p.get("name").unwrap_or(""), p.get("id").unwrap_or(""));
    ///     Ok::<_, Error>(Response::new(Body::full(text)))
    /// };
    /// let router = Router::new()
    ///     .route("/status", get(status))
    ///     .route("/users/{id}/files/{name}", get(file));
    /// ```
    ///
    /// # Panics
    /// If `path` is not an absolute path, or a capture is not a whole
    /// segment `{name}` (letters, digits, `_`) or is named twice (a
    /// programming error).
    pub fn route(mut self, path: &str, handler: impl Handler) -> Self {
        let handler: Arc<dyn Handler> = Arc::new(handler);
        match Pattern::parse(path).unwrap_or_else(|e| panic!("{e}")) {
            None => {
                let exact = SafePath::parse(path).expect("checked by Pattern::parse");
                self.exact.retain(|(p, _)| p.segments() != exact.segments());
                self.exact.push((exact, handler));
            }
            Some(pattern) => {
                self.patterns.retain(|(p, _)| !p.same_shape(&pattern));
                self.patterns.push((pattern, handler));
                // Stable: equal keys cannot both match one path.
                self.patterns.sort_by_key(|(p, _)| p.specificity());
            }
        }
        self
    }

    /// Routes the paths that `regex` matches to `handler`: Net::HTTPServer's
    /// `RegisterRegex`. The expression is searched in the decoded,
    /// normalised path (`/a b/c`, with a final `/` if the request had one):
    /// anchor it with `^` and `$` to match it whole. Its groups are
    /// [`Params`]: named ones by name, the others by number (`"1"`, ...).
    /// Expressions are tried in the order they were added.
    ///
    /// ```
    /// use httpout_core::router::Params;
    /// use httpout_core::{Body, Ctx, Error, Router};
    /// use http::{Request, Response};
    ///
    /// let news = |req: Request<Body>, _ctx: Ctx| async move {
    ///     let topic = Params::of(&req).get("topic").unwrap_or("").to_owned();
    ///     Ok::<_, Error>(Response::new(Body::full(format!("news about {topic}\n"))))
    /// };
    /// let router = Router::new().regex(r"^/(?P<topic>[^/]+)\.news$", news);
    /// ```
    ///
    /// # Panics
    /// If `regex` is not a valid expression (a programming error; build a
    /// [`Regex`] and use [`Router::regex_compiled`] to handle the error).
    pub fn regex(self, regex: &str, handler: impl Handler) -> Self {
        let compiled = Regex::new(regex).unwrap_or_else(|e| panic!("route regex: {e}"));
        self.regex_compiled(compiled, handler)
    }

    /// [`Router::regex`] with an expression already compiled; never panics.
    ///
    /// ```
    /// use httpout_core::{Body, Ctx, Error, Router};
    /// use http::{Request, Response};
    ///
    /// let re = httpout_core::regex::Regex::new(r"\.foo$")?;
    /// let router = Router::new().regex_compiled(re, |_req: Request<Body>, _ctx: Ctx| async {
    ///     Ok::<_, Error>(Response::new(Body::full("foo\n")))
    /// });
    /// # Ok::<(), httpout_core::regex::Error>(())
    /// ```
    pub fn regex_compiled(mut self, regex: Regex, handler: impl Handler) -> Self {
        self.regexes.push((regex, Arc::new(handler)));
        self
    }

    /// Asks for a signed-in user allowed by `decide(user, path)` on every
    /// request under `prefix` (whole segments), whatever route serves it:
    /// Net::HTTPServer's `RegisterAuth`. Users sign in through `access`
    /// (its users file, Basic and Digest, client certificates, failure
    /// limits; see [`Access::sign_in`](crate::auth::Access::sign_in)):
    /// without valid credentials the answer is 401 with the challenges,
    /// and 403 when `decide` says no. The user reaches the handler in
    /// [`Ctx::user`], and a [`Session`] above the router is bound to them
    /// ([`Session::sign_in`]: a new id the first time, no session made
    /// for that alone). When several prefixes hold a path, the longest
    /// decides alone (`/foo/bar` for `/foo/bar/x`, `/foo` for
    /// `/foo/barn`); a later call for the same prefix replaces the earlier.
    /// An `OPTIONS` the engine answers from a route's methods (a
    /// [`MethodRouter`], any handler with an [`Allow`] list) passes, as
    /// with the engine's rules (preflights carry no credentials), and so
    /// does the engine's 405 for a method the route does not take: which
    /// methods a protected route has is not a secret (what it answers is).
    /// An `OPTIONS` that reaches a handler answering every method is
    /// checked like any request. Paths the engine's own rules protect are
    /// checked before either.
    ///
    /// Unlike Net::HTTPServer, where a trailing `/` makes `/foo/` and
    /// `/foo` two prefixes, prefixes here are segments: `/foo/` is `/foo`.
    /// Its callback returns the password for the server to check; here the
    /// users file holds the passwords, and `decide` only allows or denies.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use httpout_core::auth::{Access, rules::Rules, users::Users};
    /// use httpout_core::{Body, Ctx, Error, Router};
    /// use http::{Request, Response};
    ///
    /// let mut users = Users::default();
    /// users.set_password("larry", "wall").unwrap();
    /// users.set_password("dr_evil", "1million").unwrap();
    /// let access = Arc::new(Access::new(Rules::default(), users, None).unwrap());
    /// let page = |_req: Request<Body>, ctx: Ctx| async move {
    ///     Ok::<_, Error>(Response::new(Body::full(format!("hello {}\n", ctx.user.unwrap_or_default()))))
    /// };
    /// let router = Router::new()
    ///     .route("/foo/page", page)
    ///     .auth("/foo", access, |user, _path| user != "dr_evil");
    /// ```
    ///
    /// # Panics
    /// If `prefix` is not a valid absolute path (a programming error).
    pub fn auth(
        mut self,
        prefix: &str,
        access: Arc<crate::auth::Access>,
        decide: impl Fn(&str, &SafePath) -> bool + Send + Sync + 'static,
    ) -> Self {
        let prefix = SafePath::parse(prefix).expect("auth prefix must be a plain absolute path");
        self.auths
            .retain(|(m, _)| m.segments() != prefix.segments());
        self.auths.push((prefix, RouteAuth::new(access, decide)));
        self.auths
            .sort_by_key(|(m, _)| std::cmp::Reverse(m.segments().len()));
        self
    }
}

impl Router {
    /// The route for `path`, in the documented order.
    fn find(&self, path: &SafePath) -> Option<Found<'_>> {
        if path.is_asterisk() {
            // `OPTIONS *` concerns the server, not a route: the root mount's.
            return self
                .mounts
                .iter()
                .find(|(m, _)| m.is_root())
                .map(|(m, h)| Found {
                    handler: h,
                    mount: m.clone(),
                    path: path.clone(),
                    params: Params::default(),
                });
        }
        let whole = |handler, params| Found {
            handler,
            mount: SafePath::root(),
            path: path.clone(),
            params,
        };
        if let Some((_, h)) = self
            .exact
            .iter()
            .find(|(p, _)| p.segments() == path.segments())
        {
            return Some(whole(h, Params::default()));
        }
        if let Some(found) = self
            .patterns
            .iter()
            .find_map(|(p, h)| p.matches(path).map(|params| whole(h, params)))
        {
            return Some(found);
        }
        if !self.regexes.is_empty() {
            let text = path.to_string();
            for (re, h) in &self.regexes {
                if let Some(caps) = re.captures(&text) {
                    return Some(whole(h, regex_params(re, &caps)));
                }
            }
        }
        self.mounts.iter().find_map(|(m, h)| {
            path.strip_prefix(m).map(|rest| Found {
                handler: h,
                mount: m.clone(),
                path: rest,
                params: Params::default(),
            })
        })
    }

    /// The authorisation of the longest prefix `path` is under.
    fn auth_for(&self, path: &SafePath) -> Option<&RouteAuth> {
        self.auths
            .iter()
            .find(|(m, _)| path.segments().starts_with(m.segments()))
            .map(|(_, a)| a)
    }
}

/// A regular expression's groups that took part in the match: named ones
/// by name, the others by number.
fn regex_params(re: &Regex, caps: &regex::Captures<'_>) -> Params {
    let mut params = Params::default();
    for (i, name) in re.capture_names().enumerate().skip(1) {
        if let Some(m) = caps.get(i) {
            let key = name.map_or_else(|| i.to_string(), str::to_owned);
            params.push(key, m.as_str().to_owned());
        }
    }
    params
}

impl Handler for Router {
    fn allow(&self, path: &SafePath) -> Allow {
        // Matching nothing: every method gets the router's 404.
        self.find(path)
            .map_or_else(Allow::any, |found| found.handler.allow(&found.path))
    }

    fn handle(&self, req: Request<Body>, mut ctx: Ctx) -> HandlerFuture {
        // `OPTIONS` too: one that reaches a router (its handler answers
        // every method) is the handler's to answer, so it is checked.
        let auth = self.auth_for(&ctx.path).cloned();
        let Some(found) = self.find(&ctx.path) else {
            // Still signed in first: a 404 must not tell an anonymous
            // client which protected paths exist.
            return Box::pin(async move {
                if let Some(auth) = auth {
                    let (parts, _) = req.into_parts();
                    let peer = ctx.peer.map(|p| p.ip());
                    auth.admit(&parts, &ctx.path, peer, ctx.user).await?;
                }
                Err(Error::NotFound)
            });
        };
        let handler = Arc::clone(found.handler);
        let mut req = req;
        if !found.params.is_empty() {
            req.extensions_mut().insert(found.params);
        }
        let (mount, path) = (found.mount, found.path);
        Box::pin(async move {
            if let Some(auth) = auth {
                let (parts, body) = req.into_parts();
                let peer = ctx.peer.map(|p| p.ip());
                let user = auth.admit(&parts, &ctx.path, peer, ctx.user.take()).await?;
                req = Request::from_parts(parts, body);
                // A session above is now this user's (a new id if it was
                // not: session fixation).
                if let Ok(session) = Session::of(&req) {
                    session.bind(&user, false);
                }
                ctx.user = Some(user);
            }
            ctx.mount = mount;
            ctx.path = path;
            handler.handle(req, ctx).await
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn router() -> Router {
        let h = |_req: Request<Body>, _ctx: Ctx| async {
            Ok::<_, Error>(http::Response::new(Body::empty()))
        };
        Router::new()
            .mount("/", h)
            .mount("/users", h)
            .route("/users/me", h)
            .route("/users/{id}", h)
            .route("/{kind}/new", h)
            .regex(r"^/users/(?P<id>[0-9]+)/(.*)$", h)
    }

    /// Which kind of route took `path`, and its captures.
    fn kind(r: &Router, path: &str) -> (String, Vec<(String, String)>) {
        let path = SafePath::parse(path).unwrap();
        let found = r.find(&path).unwrap();
        let params = found
            .params
            .iter()
            .map(|(a, b)| (a.to_owned(), b.to_owned()))
            .collect();
        (format!("{} {}", found.mount, found.path), params)
    }

    #[test]
    fn exact_then_patterns_then_regexes_then_prefixes() {
        let r = router();
        assert_eq!(kind(&r, "/users/me").1, []);
        let (_, params) = kind(&r, "/users/42");
        assert_eq!(params, [("id".to_owned(), "42".to_owned())]);
        // A literal first beats a capture first.
        let (_, params) = kind(&r, "/users/new");
        assert_eq!(params, [("id".to_owned(), "new".to_owned())]);
        let (_, params) = kind(&r, "/posts/new");
        assert_eq!(params, [("kind".to_owned(), "posts".to_owned())]);
        let (_, params) = kind(&r, "/users/42/a%20b/c");
        assert_eq!(
            params,
            [
                ("id".to_owned(), "42".to_owned()),
                ("2".to_owned(), "a b/c".to_owned())
            ]
        );
        assert_eq!(kind(&r, "/users/x/y").0, "/users /x/y");
        assert_eq!(kind(&r, "/other").0, "/ /other");
    }

    #[test]
    fn auth_prefixes_are_whole_segments_longest_first() {
        let access = Arc::new(
            crate::auth::Access::new(Default::default(), Default::default(), None).unwrap(),
        );
        let r = Router::new()
            .auth("/foo", Arc::clone(&access), |_, _| true)
            .auth("/foo/bar/", access, |_, _| false);
        let which = |p: &str| {
            r.auth_for(&SafePath::parse(p).unwrap())
                .map(|a| (a.decide)("u", &SafePath::root()))
        };
        assert_eq!(which("/foo/bar/x"), Some(false));
        assert_eq!(which("/foo/bar"), Some(false));
        assert_eq!(which("/foo/barn"), Some(true));
        assert_eq!(which("/foo"), Some(true));
        assert_eq!(which("/food"), None);
    }
}

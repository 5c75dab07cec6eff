//! Server-side sessions behind a cookie: Net::HTTPServer's `sessions` and
//! `datadir`.
//!
//! [`Sessions::wrap`] puts a [`Session`] in each request's extensions for
//! the handler to read and write ([`Session::of`]); when the response is
//! ready, what changed is stored and the cookie set:
//! - a session is created when a handler first writes to it: the client
//!   gets a random id (256 bits from the system's source) in a cookie
//!   that is `HttpOnly; SameSite=Lax; Secure` (`Secure` unless
//!   [`SessionConfig::secure`] is off) and has no `Max-Age`: the server
//!   decides when it ends;
//! - values are typed through serde and kept as JSON, bounded per session
//!   ([`SessionConfig::max_size`]: an insert past it is a 413) and in
//!   number ([`SessionConfig::max_sessions`]: a new session past it is a
//!   503, after expired ones are swept);
//! - a session unused for [`SessionConfig::ttl`] is gone; each request that
//!   presents it gives it another `ttl`;
//! - [`Session::destroy`] forgets it and removes the cookie;
//!   [`Session::rotate`] gives it a new id and invalidates the old;
//! - [`Session::sign_in`] binds it to a user, with a new id when it was
//!   not theirs (against session fixation) and its data cleared when it
//!   was another user's: called by a handler that checks a password
//!   itself, and done for you (without creating a session) with the user
//!   the engine's access rules or a [`Router::auth`](crate::Router::auth)
//!   signed in;
//! - in memory ([`Sessions::in_memory`]), or also in a data directory
//!   ([`Sessions::in_dir`]): one file per session, written to a temporary
//!   file and renamed, named by the SHA-256 of the id (never the id), read
//!   back when the program starts again.
//!
//! Two requests of one session at once each see the data as it was when
//! they started; the last to finish is stored, unless the session was
//! destroyed or rotated meanwhile (then the late write is dropped: a dead
//! id stays dead).
//!
//! ```
//! use httpout_core::session::{Session, SessionConfig, Sessions};
//! use httpout_core::{Body, Ctx, Error, Router};
//! use http::{Request, Response};
//!
//! let counter = |req: Request<Body>, _ctx: Ctx| async move {
//!     let session = Session::of(&req)?;
//!     let n = session.get::<u64>("count").unwrap_or(0) + 1;
//!     session.insert("count", n)?;
//!     Ok::<_, Error>(Response::new(Body::full(format!("{n}\n"))))
//! };
//! let sessions = Sessions::in_memory(SessionConfig::default());
//! let handler = sessions.wrap(Router::new().route("/count", counter));
//! ```

mod cookie;
mod store;

use std::io;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use http::header::{CACHE_CONTROL, SET_COOKIE};
use http::{HeaderValue, Request};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::body::Body;
use crate::error::Error;
use crate::handler::{Allow, Ctx, Handler, HandlerFuture};
use crate::path::SafePath;
use store::{Contents, Key, Store};

/// How sessions are kept.
///
/// ```
/// use std::time::Duration;
/// use httpout_core::session::SessionConfig;
///
/// let config = SessionConfig {
///     ttl: Duration::from_secs(3600),
///     ..SessionConfig::default()
/// };
/// assert!(config.secure);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionConfig {
    /// The cookie's name (an RFC 6265 token). Default `httpout_session`.
    pub cookie: String,
    /// How long an unused session lives (whole seconds, at least one).
    /// Default 30 minutes.
    pub ttl: Duration,
    /// Sessions at most; a new one past it is refused with 503. Default
    /// 10,000.
    pub max_sessions: usize,
    /// Bytes of JSON one session's data may take; an insert past it is
    /// refused with 413. Default 64 KiB.
    pub max_size: usize,
    /// Whether the cookie says `Secure` (sent back over HTTPS only).
    /// Default true; browsers and curl also send `Secure` cookies to
    /// `http://localhost` and `http://127.0.0.1`. Turn it off only for a
    /// plain-HTTP server reached by another name (never on the Internet:
    /// the id would travel in clear).
    pub secure: bool,
}

impl Default for SessionConfig {
    fn default() -> Self {
        Self {
            cookie: "httpout_session".to_owned(),
            ttl: Duration::from_secs(30 * 60),
            max_sessions: 10_000,
            max_size: 64 * 1024,
            secure: true,
        }
    }
}

/// A session store and its settings; [`Sessions::wrap`] makes the handler
/// that gives requests their [`Session`]. Clones share the store.
///
/// ```
/// use std::time::Duration;
/// use httpout_core::session::{SessionConfig, Sessions};
///
/// let config = SessionConfig { ttl: Duration::from_secs(600), ..SessionConfig::default() };
/// let sessions = Sessions::in_memory(config);
/// // A clone is the same store: a handler per site can share it.
/// let for_admin = sessions.clone();
/// ```
#[derive(Debug, Clone)]
pub struct Sessions {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    config: SessionConfig,
    store: Store,
}

impl Sessions {
    /// Sessions kept in memory: gone when the program ends.
    ///
    /// ```
    /// use httpout_core::session::{SessionConfig, Sessions};
    /// let sessions = Sessions::in_memory(SessionConfig::default());
    /// ```
    ///
    /// # Panics
    /// If `config.cookie` is not a valid cookie name (a programming error).
    pub fn in_memory(config: SessionConfig) -> Self {
        let store = Store::memory(config.ttl, config.max_sessions);
        Self::with(config, store)
    }

    /// Sessions kept in memory and in `dir` (Net::HTTPServer's `datadir`;
    /// created with mode 0700 if missing), so that they survive a restart:
    /// the sessions there that have not expired are read back now (this
    /// blocks: call it before serving). Expired, unreadable and oversized
    /// files there are removed.
    ///
    /// ```
    /// use httpout_core::session::{SessionConfig, Sessions};
    /// let dir = tempfile::tempdir()?;
    /// let sessions = Sessions::in_dir(dir.path(), SessionConfig::default())?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    ///
    /// # Panics
    /// If `config.cookie` is not a valid cookie name (a programming error).
    pub fn in_dir(dir: &Path, config: SessionConfig) -> io::Result<Self> {
        let store = Store::dir(dir, config.ttl, config.max_sessions, config.max_size)?;
        Ok(Self::with(config, store))
    }

    fn with(config: SessionConfig, store: Store) -> Self {
        assert!(
            cookie::valid_name(&config.cookie),
            "{:?} cannot name a cookie",
            config.cookie
        );
        Self {
            shared: Arc::new(Shared { config, store }),
        }
    }

    /// `inner` with sessions: each request it gets carries its [`Session`]
    /// ([`Session::of`]); the store and the cookie are updated from it when
    /// `inner` has answered (not when it fails).
    ///
    /// ```
    /// use httpout_core::session::{SessionConfig, Sessions};
    /// use httpout_core::Router;
    ///
    /// let sessions = Sessions::in_memory(SessionConfig::default());
    /// let handler = sessions.wrap(Router::new());
    /// ```
    pub fn wrap(&self, inner: impl Handler) -> WithSessions {
        WithSessions {
            sessions: self.clone(),
            inner: Arc::new(inner),
        }
    }

    /// The session a request presents, or a new empty one.
    fn open(&self, req: &Request<Body>) -> Session {
        let config = &self.shared.config;
        let candidates = cookie::candidates(req.headers(), &config.cookie);
        let presented = !candidates.is_empty();
        let found = candidates.into_iter().find_map(|id| {
            let key = Key::of(id);
            self.shared.store.load(key).map(|data| (key, data))
        });
        let (key, contents) = match found {
            Some((key, contents)) => (Some(key), Contents::clone(&contents)),
            None => (None, Contents::default()),
        };
        Session {
            state: Arc::new(Mutex::new(State {
                key,
                presented,
                contents,
                changed: false,
                rotate: false,
                destroyed: false,
                discard: None,
                max_size: config.max_size,
            })),
        }
    }

    /// Stores what `session` became and says what the cookie must be.
    async fn close(&self, session: &Session) -> Result<Option<HeaderValue>, Error> {
        let (key, contents, changed, rotate, destroyed, presented, discard) = {
            let s = session.lock();
            (
                s.key,
                s.contents.clone(),
                s.changed,
                s.rotate,
                s.destroyed,
                s.presented,
                s.discard,
            )
        };
        let store = &self.shared.store;
        let config = &self.shared.config;
        if let Some(old) = discard {
            store.remove(old).await;
        }
        if destroyed {
            if let Some(key) = key {
                store.remove(key).await;
            }
            return Ok(presented.then(|| cookie::set_cookie(&config.cookie, None, config.secure)));
        }
        match key {
            Some(old) if rotate => {
                let id = cookie::new_id()?;
                if !store.rotate(old, Key::of(&id), contents).await? {
                    // Ended meanwhile (destroyed, expired, or rotated by
                    // another of its requests, whose cookie the client
                    // gets): this request's changes are dropped.
                    return Ok(None);
                }
                Ok(Some(cookie::set_cookie(
                    &config.cookie,
                    Some(&id),
                    config.secure,
                )))
            }
            Some(key) if changed => store.save(key, contents, false).await.map(|()| None),
            Some(key) => {
                // Only a longer life: a disk that refuses it must not
                // fail a request that changed nothing.
                if let Err(e) = store.touch(key).await {
                    tracing::warn!(target: "httpout::session", "a session's new expiry not stored: {e}");
                }
                Ok(None)
            }
            None if changed || rotate => {
                let id = cookie::new_id()?;
                store.save(Key::of(&id), contents, true).await?;
                Ok(Some(cookie::set_cookie(
                    &config.cookie,
                    Some(&id),
                    config.secure,
                )))
            }
            None => Ok(None),
        }
    }
}

/// A handler with sessions ([`Sessions::wrap`]): it gives each request
/// its [`Session`] before `inner` sees it, and stores the session and
/// sets its cookie after `inner` has answered.
///
/// ```no_run
/// use httpout_core::session::{Session, SessionConfig, Sessions, WithSessions};
/// use httpout_core::{Body, Ctx, Error, Router};
/// use http::{Request, Response};
///
/// let visits = |req: Request<Body>, _ctx: Ctx| async move {
///     let session = Session::of(&req)?;
///     let n = session.get::<u64>("visits").unwrap_or(0) + 1;
///     session.insert("visits", n)?;
///     Ok::<_, Error>(Response::new(Body::full(format!("visit {n}\n"))))
/// };
/// let sessions = Sessions::in_memory(SessionConfig::default());
/// let handler: WithSessions = sessions.wrap(Router::new().route("/visits", visits));
/// httpout_core::serve("127.0.0.1:8080", handler)?;
/// # Ok::<(), httpout_core::StartError>(())
/// ```
#[derive(Clone)]
pub struct WithSessions {
    sessions: Sessions,
    inner: Arc<dyn Handler>,
}

impl std::fmt::Debug for WithSessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WithSessions")
            .field("sessions", &self.sessions)
            .finish_non_exhaustive()
    }
}

impl Handler for WithSessions {
    fn allow(&self, path: &SafePath) -> Allow {
        self.inner.allow(path)
    }

    fn handle(&self, mut req: Request<Body>, ctx: Ctx) -> HandlerFuture {
        let session = self.sessions.open(&req);
        if let Some(user) = &ctx.user {
            session.bind(user, false);
        }
        req.extensions_mut().insert(session.clone());
        let sessions = self.sessions.clone();
        let answer = self.inner.handle(req, ctx);
        Box::pin(async move {
            let mut res = answer.await?;
            if let Some(cookie) = sessions.close(&session).await? {
                res.headers_mut().append(SET_COOKIE, cookie);
                // A response that sets a session's cookie is that
                // client's alone.
                res.headers_mut()
                    .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
            }
            Ok(res)
        })
    }
}

/// The session of one request: typed values by key, shared by the clones
/// of this handle. Handlers get it with [`Session::of`].
///
/// ```
/// use httpout_core::session::Session;
/// use httpout_core::{Body, Ctx, Error};
/// use http::{Request, Response};
///
/// async fn add_to_cart(req: Request<Body>, _ctx: Ctx) -> Result<Response<Body>, Error> {
///     let session = Session::of(&req)?;
///     let mut cart: Vec<String> = session.get("cart").unwrap_or_default();
///     cart.push(req.uri().query().unwrap_or("apple").to_owned());
///     session.insert("cart", &cart)?;
///     Ok(Response::new(Body::full(format!("{} items\n", cart.len()))))
/// }
/// ```
#[derive(Debug, Clone)]
pub struct Session {
    state: Arc<Mutex<State>>,
}

#[derive(Debug)]
struct State {
    /// The key of the stored session it is; `None` for a new one.
    key: Option<Key>,
    /// Whether the request carried a cookie of ours.
    presented: bool,
    contents: Contents,
    changed: bool,
    rotate: bool,
    destroyed: bool,
    /// A destroyed session's key, when the request signed in afresh after
    /// destroying it: removed, while a new session is made.
    discard: Option<Key>,
    max_size: usize,
}

impl Session {
    /// The session of `req`; a 500 if no [`Sessions::wrap`] handler is
    /// above the one asking (a programming error).
    ///
    /// ```
    /// use httpout_core::session::Session;
    /// let req = http::Request::new(httpout_core::Body::empty());
    /// assert_eq!(Session::of(&req).unwrap_err().status(), 500);
    /// ```
    pub fn of<B>(req: &Request<B>) -> Result<Self, Error> {
        req.extensions()
            .get::<Self>()
            .cloned()
            .ok_or_else(|| Error::Internal("no Sessions handler above this one".into()))
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The value under `key` as a `T`; `None` when there is none or it is
    /// not a `T`.
    ///
    /// ```
    /// # use httpout_core::session::Session;
    /// # fn f(session: Session) {
    /// let visits: u64 = session.get("visits").unwrap_or(0);
    /// # }
    /// ```
    pub fn get<T: DeserializeOwned>(&self, key: &str) -> Option<T> {
        let value = self.lock().contents.data.get(key)?.clone();
        serde_json::from_value(value).ok()
    }

    /// Stores `value` under `key` (replacing what was there). A 413 when
    /// the session's data would take more than
    /// [`SessionConfig::max_size`] bytes of JSON (it is left unchanged).
    ///
    /// ```
    /// # use httpout_core::session::Session;
    /// # fn f(session: Session) -> Result<(), httpout_core::Error> {
    /// session.insert("cart", vec!["apple", "pear"])?;
    /// # Ok(()) }
    /// ```
    pub fn insert<T: Serialize>(&self, key: &str, value: T) -> Result<(), Error> {
        let value = serde_json::to_value(value).map_err(|e| Error::Internal(e.into()))?;
        let mut s = self.lock();
        let old = s.contents.data.insert(key.to_owned(), value);
        let size = serde_json::to_vec(&s.contents.data).map_or(usize::MAX, |v| v.len());
        if size > s.max_size {
            let limit = s.max_size as u64;
            match old {
                Some(old) => s.contents.data.insert(key.to_owned(), old),
                None => s.contents.data.remove(key),
            };
            return Err(Error::PayloadTooLarge { limit });
        }
        s.changed = true;
        Ok(())
    }

    /// Removes the value under `key`, returning whether there was one.
    ///
    /// ```
    /// # use httpout_core::session::Session;
    /// # fn f(session: Session) {
    /// session.remove("cart");
    /// # }
    /// ```
    pub fn remove(&self, key: &str) -> bool {
        let mut s = self.lock();
        let had = s.contents.data.remove(key).is_some();
        s.changed |= had;
        had
    }

    /// Ends the session: its data is forgotten and the client's cookie
    /// removed when the response goes out. Later writes in this request
    /// are dropped.
    ///
    /// ```
    /// # use httpout_core::session::Session;
    /// # fn sign_out(session: Session) {
    /// session.destroy();
    /// # }
    /// ```
    pub fn destroy(&self) {
        let mut s = self.lock();
        s.destroyed = true;
        s.contents = Contents::default();
    }

    /// Gives the session a new id when the response goes out, its data
    /// kept and the old id no longer valid: call it when the session gains
    /// a privilege, so that an id someone planted or saw before is worth
    /// nothing ([`Session::sign_in`] does it when a user signs in). A new
    /// session gets its first id anyway.
    ///
    /// ```
    /// # use httpout_core::session::Session;
    /// # fn signed_in(session: Session) {
    /// session.rotate();
    /// # }
    /// ```
    pub fn rotate(&self) {
        self.lock().rotate = true;
    }

    /// Binds the session to `user`, who has just proved who they are (a
    /// login form's handler calls it once the password is checked). When
    /// it was not theirs already its id is renewed, as [`Session::rotate`]
    /// does, against session fixation; when it was another user's, its
    /// data is cleared first (it was not theirs to see); a new session is
    /// created, and after [`Session::destroy`] in the same request a new
    /// one replaces the destroyed one.
    ///
    /// HTTP authentication binds the session for you, but without creating
    /// one: with the user the engine's access rules signed in (when
    /// [`Sessions::wrap`] sees the request) and with the one a
    /// [`Router::auth`](crate::Router::auth) signed in (before the route's
    /// handler runs), a session is stored only if it is written to, so a
    /// client without a cookie jar that authenticates every request does
    /// not fill the store.
    ///
    /// ```
    /// # use httpout_core::session::Session;
    /// # fn password_checked(session: Session) {
    /// session.sign_in("larry");
    /// assert_eq!(session.user().as_deref(), Some("larry"));
    /// # }
    /// ```
    pub fn sign_in(&self, user: &str) {
        self.bind(user, true);
    }

    /// [`Session::sign_in`]; a new session is created only when `create`.
    pub(crate) fn bind(&self, user: &str, create: bool) {
        let mut s = self.lock();
        if s.destroyed {
            if !create {
                return;
            }
            s.discard = s.key.take();
            s.destroyed = false;
            s.rotate = false;
            s.contents = Contents::default();
        }
        if s.contents.user.as_deref() == Some(user) {
            return;
        }
        if s.contents.user.is_some() {
            s.contents.data.clear();
            s.changed = true;
        }
        s.contents.user = Some(user.to_owned());
        match s.key {
            Some(_) => s.rotate = true,
            None => s.changed |= create,
        }
    }

    /// The user the session is signed in as ([`Session::sign_in`]).
    ///
    /// ```
    /// # use httpout_core::session::Session;
    /// # fn f(session: Session) {
    /// let greeting = match session.user() {
    ///     Some(user) => format!("hello {user}"),
    ///     None => "hello stranger".to_owned(),
    /// };
    /// # }
    /// ```
    pub fn user(&self) -> Option<String> {
        self.lock().contents.user.clone()
    }

    /// Whether the request presented a stored session (false for a new
    /// one).
    ///
    /// ```
    /// # use httpout_core::session::Session;
    /// # fn f(session: Session) {
    /// if !session.is_stored() { /* first visit, or expired */ }
    /// # }
    /// ```
    pub fn is_stored(&self) -> bool {
        self.lock().key.is_some()
    }
}

//! The live sink's HTTP side: listeners, source clients, metadata updates
//! and status pages, in front of an optional fallback (the static server).
//!
//! Routing, in order:
//! - `GET /status-json.xsl`, `GET /status.xsl`: status (JSON, HTML);
//! - `GET /admin/metadata?mount=&song=`: title update (source credentials);
//! - `SOURCE`, and `PUT`/`POST` to a live mount, or carrying `ice-*`
//!   headers, or when the fallback does not take uploads: a source client;
//! - `GET`/`HEAD` of a live mount: a listener;
//! - anything else: the fallback, or 404.

use std::sync::Arc;
use std::time::Duration;

use http::header::{AUTHORIZATION, CACHE_CONTROL, CONTENT_TYPE};
use http::{HeaderMap, HeaderValue, Method, Request, Response};
use http_body_util::BodyExt as _;
use httpout_core::auth::{Failures, basic};
use httpout_core::{
    Allow, Body, Ctx, Error, Handler, HandlerFuture, LongLived, SafePath, SendBuffer, StallLimit,
    media_type,
};
use sha2::Digest as _;
use subtle::ConstantTimeEq;

use crate::args::Amount;
use crate::auth_url::{self, Verdict};
use crate::error::LiveError;
use crate::hub::{Facts, Feed, Hub, ListenerInfo, Phase, Stream};
use crate::icy::StreamMeta;
use crate::ingest::Publisher;
use crate::media::Format;
use crate::mounts::Charset;
use crate::{LiveConfig, admin, listener, status};
use httpout_core::ws::Upgrade;

/// Stall limit of a listener when the stream's rate is not known yet.
const DEFAULT_STALL: Duration = Duration::from_secs(10);
/// A listener is never cut for stalling shorter than this.
const MIN_STALL: Duration = Duration::from_secs(2);
/// Bounds of a listener socket's send buffer (`SO_SNDBUF`, HTTP/1.x).
const SEND_BUF_MIN: usize = 16 * 1024;
const SEND_BUF_MAX: usize = 1024 * 1024;

/// The send buffer of a listener's socket: a quarter of what its stall
/// limit stands for at `rate` (bytes per second), within
/// [`SEND_BUF_MIN`, `SEND_BUF_MAX`]. The kernel would otherwise grow it to
/// megabytes, minutes of a low-bitrate stream, before a listener that stops
/// reading refuses a write; bounded, it refuses within about its budget
/// (the client's own receive buffer and hyper's take the rest), at any
/// bitrate.
fn send_buffer(rate: Option<u64>, stall: Duration) -> usize {
    let bytes = rate.map_or(0, |r| (r as f64 * stall.as_secs_f64() / 4.0) as usize);
    bytes.clamp(SEND_BUF_MIN, SEND_BUF_MAX)
}

/// Serves the live mounts of a [`Hub`]; see the module docs for routing.
#[derive(Debug, Clone)]
pub struct LiveHandler {
    inner: Arc<Inner>,
}

struct Inner {
    hub: Hub,
    config: LiveConfig,
    fallback: Option<Arc<dyn Handler>>,
    fallback_writes: bool,
    /// Failed source and admin credentials, limited as sign-ins are.
    failures: Arc<Failures>,
}

impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveHandler")
            .field("config", &self.config)
            .field("fallback", &self.fallback.is_some())
            .finish_non_exhaustive()
    }
}

impl LiveHandler {
    /// Serves `hub`'s mounts; other requests get 404.
    pub fn new(hub: Hub, config: LiveConfig) -> Self {
        hub.set_fallbacks(config.mounts.fallbacks());
        Self {
            inner: Arc::new(Inner {
                hub,
                config,
                fallback: None,
                fallback_writes: false,
                failures: Arc::new(Failures::new()),
            }),
        }
    }

    /// Hands requests that are not for the live sink to `fallback`;
    /// `writes`: whether it takes uploads (then a `PUT` without `ice-*`
    /// headers to a path that is not a live mount goes to it).
    pub fn with_fallback(self, fallback: Arc<dyn Handler>, writes: bool) -> Self {
        let inner = Arc::try_unwrap(self.inner).unwrap_or_else(|a| Inner {
            hub: a.hub.clone(),
            config: a.config.clone(),
            fallback: None,
            fallback_writes: false,
            failures: Arc::clone(&a.failures),
        });
        Self {
            inner: Arc::new(Inner {
                fallback: Some(fallback),
                fallback_writes: writes,
                ..inner
            }),
        }
    }
}

impl Handler for LiveHandler {
    fn handle(&self, req: Request<Body>, ctx: Ctx) -> HandlerFuture {
        let inner = Arc::clone(&self.inner);
        Box::pin(async move { inner.route(req, ctx).await })
    }

    /// The live sink's methods (listeners, status pages, source clients),
    /// and the fallback's for its paths: the engine answers `OPTIONS`,
    /// CORS preflights (a browser's upload to a live mount), 405 and 501.
    fn allow(&self, path: &SafePath) -> Allow {
        let own = live_methods();
        match &self.inner.fallback {
            Some(f) => own.union(f.allow(path)),
            None => own,
        }
    }
}

/// `SOURCE`, the legacy Icecast source client's upload method.
fn source() -> Method {
    Method::from_bytes(b"SOURCE").expect("a valid method name")
}

/// What the live sink itself answers, at any path.
fn live_methods() -> Allow {
    Allow::only([
        Method::GET,
        Method::HEAD,
        Method::OPTIONS,
        Method::PUT,
        Method::POST,
        source(),
    ])
}

fn is_source_method(m: &Method) -> bool {
    *m == Method::PUT || *m == Method::POST || m.as_str() == "SOURCE"
}

impl Inner {
    async fn route(&self, req: Request<Body>, ctx: Ctx) -> Result<Response<Body>, Error> {
        let path = ctx.path.to_string();
        let method = req.method().clone();
        let read = method == Method::GET || method == Method::HEAD;
        match path.as_str() {
            "/status-json.xsl" if read && Upgrade::is_websocket(&req) => {
                let mut req = req;
                let mounts = Arc::clone(&self.config.mounts);
                return status::push(&mut req, self.hub.clone(), mounts);
            }
            "/status-json.xsl" if read => {
                return Ok(status::json(&self.hub, &self.config.mounts));
            }
            "/status.xsl" if read => return Ok(status::html(&self.hub, &self.config.mounts)),
            "/admin/metadata" if read => {
                return self.metadata(req.uri(), req.headers(), &ctx).await;
            }
            _ => {}
        }
        if let Some(command) = path.strip_prefix("/admin/") {
            if read && (admin::COMMANDS.contains(&command) || self.config.admin.is_some()) {
                self.check_admin(req.headers(), &ctx).await?;
                return admin::answer(&self.hub, &self.config, command, &req);
            }
        }
        let stream = self.hub.get(&path);
        if read {
            let has_fallback = self.hub.fallback_of(&path).is_some();
            if stream.is_some() || has_fallback {
                return self
                    .listen(req.method(), req.headers(), &ctx, &path, stream)
                    .await;
            }
        } else if is_source_method(&method) {
            let live = stream.is_some_and(|s| s.feed == Feed::Input || s.phase() != Phase::Ended);
            let ice = req.headers().keys().any(|k| k.as_str().starts_with("ice-"));
            let to_fallback = method.as_str() != "SOURCE"
                && !live
                && !ice
                && self.fallback.is_some()
                && self.fallback_writes;
            if !to_fallback {
                return self.ingest(req, &ctx, path).await;
            }
        }
        match &self.fallback {
            Some(f) => f.handle(req, ctx).await,
            None if read => Err(LiveError::NoStream(path).into()),
            // Called directly, not through the engine: what it would answer.
            None => Err(live_methods().refuse(&method)),
        }
    }

    /// A listener of mount `home` (its stream, if any, `at_home`): the
    /// intro, the burst, then the live stream until it ends; on the
    /// mount's fallback while it has no source.
    async fn listen(
        &self,
        method: &Method,
        headers: &HeaderMap,
        ctx: &Ctx,
        home: &str,
        at_home: Option<Arc<Stream>>,
    ) -> Result<Response<Body>, Error> {
        let chain = self.hub.chain(home);
        let (stream, wanted) = match at_home {
            Some(s) if s.is_live() || chain.len() == 1 => (s, None),
            other => match chain[1..].iter().find_map(|p| self.hub.live(p)) {
                // On the fallback, the listener wants its own mount: an
                // on-demand relay there connects for it.
                Some(fallback) => (fallback, other.map(|home| home.want())),
                None => (
                    other.ok_or_else(|| LiveError::NoStream(home.to_owned()))?,
                    None,
                ),
            },
        };
        let stream = &stream;
        let path = stream.path().to_owned();
        if stream.phase() == Phase::Ended {
            return Err(LiveError::Over(path).into());
        }
        let own = self.config.mount(&path);
        let max = own.and_then(|m| m.max_listeners);
        let agent = headers
            .get(http::header::USER_AGENT)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .unwrap_or_default();
        let info = ListenerInfo::new(&self.hub, ctx.peer, &agent);
        // A place first, then the operator's word: a full mount asks no
        // one, and a refused listener gives its place back.
        let joined = if method == Method::GET {
            Some(stream.try_join(max, &info).ok_or(LiveError::Full)?)
        } else if max.is_some_and(|m| stream.listeners() >= m) {
            return Err(LiveError::Full.into());
        } else {
            None
        };
        let home_settings = self.config.mount(home);
        let (time_limit, leave) = match home_settings.and_then(|m| m.auth_url.as_ref()) {
            Some(url) if method == Method::GET => {
                self.admit(url, headers, ctx, home, &info).await?
            }
            _ => (None, None),
        };
        let facts = stream.facts();
        let mut meta = facts.meta.clone();
        if let Some(own) = own {
            own.apply_identity(&mut meta);
        }
        if self.config.ice {
            meta.add_computed(facts.audio);
        }
        // An `-i` input's ICE values were set at its declaration, its own
        // (`-i SRC:#ice-X=Y`, `-o URL:ice-X=Y`) over the command line's.
        if stream.feed == Feed::Http {
            for (name, value) in &self.config.ice_values {
                meta.set(&format!("icy-{name}"), value);
            }
        }
        let icy = self.config.metaint > 0
            && !facts.content_type.contains("ogg")
            && !facts.content_type.contains("webm")
            && headers
                .get("icy-metadata")
                .is_some_and(|v| v.as_bytes().trim_ascii() == b"1");
        let mut res = Response::new(Body::empty());
        let headers = res.headers_mut();
        headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_str(&facts.content_type)
                .unwrap_or(HeaderValue::from_static("application/octet-stream")),
        );
        headers.insert(
            CACHE_CONTROL,
            HeaderValue::from_static("no-cache, no-store"),
        );
        meta.write_headers(headers);
        if icy {
            headers.insert("icy-metaint", HeaderValue::from(self.config.metaint));
        }
        let stall = self.stall_limit(&facts, self.config.max_lag_at(&path));
        res.extensions_mut().insert(StallLimit(stall));
        res.extensions_mut()
            .insert(SendBuffer(send_buffer(self.byte_rate(&facts), stall)));
        // Hours long: on plain-TCP HTTP/1.1 the engine serves it outside
        // hyper, with nothing per listener but its place in the ring.
        res.extensions_mut().insert(LongLived);
        if let Some(joined) = joined {
            let burst = self.config.burst_at(&path);
            let join = listener::Join {
                time_limit,
                leave,
                wanted,
                stream,
                joined,
                info,
                start: stream.start_point(burst),
                burst,
                metaint: icy.then_some(self.config.metaint),
                intro: home_settings.and_then(|m| m.intro.as_ref().map(|(_, b)| b.clone())),
                follow: (chain.len() > 1).then(|| {
                    let mounts = Arc::clone(&self.config.mounts);
                    (self.hub.clone(), mounts, home.to_owned())
                }),
            };
            *res.body_mut() = listener::body(join, &ctx.metrics);
        }
        Ok(res)
    }

    /// Asks the mount's `auth_url` whether this listener may listen
    /// (`listener_add`): how long it may, and what to send when it leaves.
    async fn admit(
        &self,
        url: &http::Uri,
        headers: &HeaderMap,
        ctx: &Ctx,
        home: &str,
        info: &ListenerInfo,
    ) -> Result<(Option<Duration>, Option<Box<listener::Leave>>), Error> {
        let (user, pass) =
            credentials(headers).map_or((String::new(), String::new()), |c| (c.user, c.password));
        let host = headers
            .get(http::header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or_default();
        let (server, port) = match host.rsplit_once(':') {
            Some((h, p)) if p.bytes().all(|b| b.is_ascii_digit()) => (h, p),
            _ => (host, ""),
        };
        let form: Vec<(&'static str, String)> = vec![
            ("action", "listener_add".to_owned()),
            ("server", server.to_owned()),
            ("port", port.to_owned()),
            ("client", info.id.to_string()),
            ("mount", home.to_owned()),
            ("user", user.clone()),
            ("pass", pass),
            (
                "ip",
                ctx.peer.map(|p| p.ip().to_string()).unwrap_or_default(),
            ),
            ("agent", info.user_agent.to_string()),
        ];
        let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
        match auth_url::ask(url, &pairs).await {
            Ok(Verdict::Admit(limit)) => {
                let mut form = form;
                form[0].1 = "listener_remove".to_owned();
                let leave = listener::Leave {
                    url: url.clone(),
                    form,
                    since: std::time::Instant::now(),
                };
                Ok((limit, Some(Box::new(leave))))
            }
            Ok(Verdict::Deny(reason)) if user.is_empty() => {
                tracing::info!(target: "httpout::live", "listener of {home} refused by auth_url: {reason}");
                Err(LiveError::ListenerCredentials.into())
            }
            Ok(Verdict::Deny(reason)) => {
                tracing::info!(target: "httpout::live", "listener {user} of {home} refused by auth_url: {reason}");
                Err(LiveError::Refused(reason).into())
            }
            Err(e) => {
                tracing::warn!(target: "httpout::live", "auth_url for {home}: {e}; listener refused");
                Err(LiveError::AuthUnavailable.into())
            }
        }
    }

    /// How long a listener's socket may refuse bytes: the lag limit, in
    /// time at the stream's rate.
    fn stall_limit(&self, facts: &Facts, max_lag: Amount) -> Duration {
        let limit = match max_lag {
            Amount::Time(t) => t,
            Amount::Bytes(n) => self.byte_rate(facts).map_or(DEFAULT_STALL, |r| {
                Duration::from_secs_f64(n as f64 / r as f64)
            }),
        };
        limit.max(MIN_STALL)
    }

    /// The stream's rate in bytes per second, when known.
    fn byte_rate(&self, facts: &Facts) -> Option<u64> {
        facts
            .byte_rate
            .or_else(|| {
                facts
                    .audio
                    .and_then(|a| a.bitrate)
                    .map(|b| u64::from(b) / 8)
            })
            .or(self.config.rate.map(|r| r / 8))
            .filter(|r| *r > 0)
    }

    /// Checks a source client of `mount`: a user the access rules let
    /// write, or Basic credentials: the mount's own (`user`, by default
    /// `source`, and `password`), else `source:` and `--source_password`.
    async fn authorize(&self, headers: &HeaderMap, ctx: &Ctx, mount: &str) -> Result<(), Error> {
        if ctx.user.is_some() {
            return Ok(());
        }
        let settings = self.config.mount(mount);
        let own = settings.filter(|m| m.password.is_some());
        let local = match own {
            Some(m) => Some((
                m.user.as_deref().unwrap_or("source"),
                m.password.as_deref().unwrap_or_default(),
            )),
            None => self
                .config
                .source_password
                .as_deref()
                .map(|p| ("source", p)),
        };
        if let Some((user, password)) = local {
            if self.check_basic(headers, ctx, user, password).await? {
                return Ok(());
            }
        }
        match (settings.and_then(|m| m.auth_url.as_ref()), local) {
            (Some(url), _) => self.stream_auth(url, headers, ctx, mount).await,
            (None, None) => Err(LiveError::IngestOff.into()),
            (None, Some(_)) => Err(LiveError::BadCredentials.into()),
        }
    }

    /// Asks the mount's `auth_url` whether a source whose credentials are
    /// not the mount's own may send (`stream_auth`).
    async fn stream_auth(
        &self,
        url: &http::Uri,
        headers: &HeaderMap,
        ctx: &Ctx,
        mount: &str,
    ) -> Result<(), Error> {
        let (user, pass) =
            credentials(headers).map_or((String::new(), String::new()), |c| (c.user, c.password));
        let ip = ctx.peer.map(|p| p.ip().to_string()).unwrap_or_default();
        let form = [
            ("action", "stream_auth"),
            ("mount", mount),
            ("ip", &ip),
            ("user", &user),
            ("pass", &pass),
            ("admin", "0"),
        ];
        match auth_url::ask(url, &form).await {
            Ok(Verdict::Admit(_)) => Ok(()),
            Ok(Verdict::Deny(reason)) => {
                tracing::info!(target: "httpout::live", "source of {mount} refused by auth_url: {reason}");
                Err(LiveError::BadCredentials.into())
            }
            Err(e) => {
                tracing::warn!(target: "httpout::live", "auth_url for {mount}: {e}; source refused");
                Err(LiveError::AuthUnavailable.into())
            }
        }
    }

    /// Checks the admin's credentials (`--admin_user`,
    /// `--admin_password`); the API is off without a password.
    async fn check_admin(&self, headers: &HeaderMap, ctx: &Ctx) -> Result<(), Error> {
        let Some((user, password)) = &self.config.admin else {
            return Err(LiveError::AdminOff.into());
        };
        if self.check_basic(headers, ctx, user, password).await? {
            Ok(())
        } else {
            Err(LiveError::BadAdminCredentials.into())
        }
    }

    /// Whether the request's Basic credentials are `user:password`
    /// (compared in constant time, as digests of equal length). A failure
    /// counts against the client's address and that user name as a failed
    /// sign-in does: past the limits, 429, or checks slowed. Credentials
    /// for another user name are no attempt at this password (a source
    /// updating a title where an admin password is also set, a source
    /// that `auth_url` knows): they are not compared and not counted; nor
    /// is a request without credentials (a client waiting for the
    /// challenge).
    async fn check_basic(
        &self,
        headers: &HeaderMap,
        ctx: &Ctx,
        user: &str,
        password: &str,
    ) -> Result<bool, Error> {
        let Some(given) = credentials(headers) else {
            return Ok(false);
        };
        if given.user != user {
            return Ok(false);
        }
        let attempt = match ctx.peer {
            Some(peer) => Some(
                self.failures
                    .begin(peer.ip(), &given.user)
                    .ok_or(Error::TooManyRequests)?,
            ),
            None => None,
        };
        let _lane = match &attempt {
            Some(a) => a.pace().await,
            None => None,
        };
        let digest = |s: &str| sha2::Sha256::digest(s.as_bytes());
        let ok = bool::from(digest(&given.password).ct_eq(&digest(password)));
        if let Some(a) = attempt {
            a.finish(ok);
        }
        Ok(ok)
    }

    /// A source client: its body is the stream until it ends.
    async fn ingest(
        &self,
        req: Request<Body>,
        ctx: &Ctx,
        path: String,
    ) -> Result<Response<Body>, Error> {
        self.authorize(req.headers(), ctx, &path).await?;
        let content_type = req
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .filter(|ct| !ct.is_empty() && !ct.starts_with("application/octet-stream"))
            .map(str::to_owned);
        let format = match content_type.as_deref().map(Format::from_mime) {
            Some(f) if f != Format::Other => f,
            _ => Format::from_path(&path),
        };
        let content_type = content_type
            .or_else(|| format.mime().map(str::to_owned))
            .unwrap_or_else(|| media_type::for_path(&path).to_owned());
        let mut facts = Facts::new(
            content_type,
            StreamMeta::from_source(req.headers()),
            self.config.title.as_deref(),
        );
        facts.source_ip = ctx.peer.map(|p| p.ip());
        facts.source_agent = req
            .headers()
            .get(http::header::USER_AGENT)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
        let stream = self.hub.attach(&path, facts)?;
        let who = ctx
            .peer
            .map_or_else(|| "a source".to_owned(), |p| format!("source {p}"));
        tracing::info!(target: "httpout::live", "{who} started {path}");
        let ending = Ending {
            stream: Arc::clone(&stream),
            reopen: self.config.reopen,
        };
        let mut publisher = Publisher::new(Arc::clone(&stream), format, false, &self.config);
        let mut body = req.into_body();
        let before = stream.bytes_in();
        let why = loop {
            let next = httpout_core::timeout::within(self.config.source_timeout, body.frame());
            let next = tokio::select! {
                next = next => next,
                () = sleep_until_some(publisher.deadline()) => {
                    publisher.flush().await;
                    continue;
                }
                () = stream.source_stopped() => break "stopped by an admin".to_owned(),
            };
            match next {
                Some(Some(Ok(frame))) => {
                    if let Ok(data) = frame.into_data() {
                        publisher.write(&data).await;
                    }
                }
                Some(None) => break "ended".to_owned(),
                Some(Some(Err(e))) => break format!("failed: {e}"),
                None => {
                    break format!(
                        "sent nothing for {} s, ended",
                        self.config.source_timeout.map_or(0, |t| t.as_secs())
                    );
                }
            }
        };
        publisher.finish().await;
        drop(ending);
        let sent = stream.bytes_in() - before;
        tracing::info!(target: "httpout::live", "{who} on {path} {why} ({sent} bytes)");
        Ok(Response::new(Body::empty()))
    }

    /// `/admin/metadata?mount=/live.mp3&mode=updinfo&song=Artist%20-%20Title`.
    /// Only source credentials may change a title (the mount's own, or the
    /// server's): the access rules checked this GET as a read, which is no
    /// right to change a mount. The title is decoded in the `charset`
    /// parameter's charset, else the mount's (`charset`), else UTF-8. A
    /// mount without a source has no title to change (404, as icecast2's
    /// "Source does not exist"): the source arriving would replace it.
    async fn metadata(
        &self,
        uri: &http::Uri,
        headers: &HeaderMap,
        ctx: &Ctx,
    ) -> Result<Response<Body>, Error> {
        let query = uri.query().unwrap_or_default();
        let param = |name: &str| status::query_param(query, name);
        let mount = param("mount").ok_or(LiveError::BadRequest("mount is missing"))?;
        let anonymous = Ctx {
            user: None,
            ..ctx.clone()
        };
        // The admin may change any title too, as in Icecast.
        let admin = match &self.config.admin {
            Some((user, password)) => {
                self.check_basic(headers, &anonymous, user, password)
                    .await?
            }
            None => false,
        };
        if !admin {
            self.authorize(headers, &anonymous, &mount).await?;
        }
        if param("mode").is_some_and(|m| m != "updinfo") {
            return Err(LiveError::BadRequest("only mode=updinfo is supported").into());
        }
        let charset = match param("charset") {
            Some(c) => {
                Charset::parse(&c).ok_or(LiveError::BadRequest("charset: UTF-8 or ISO-8859-1"))?
            }
            None => self
                .config
                .mount(&mount)
                .map(|m| m.charset)
                .unwrap_or_default(),
        };
        let text = |name: &str| status::query_bytes(query, name).map(|b| charset.decode(&b));
        let song = match (text("song"), text("artist"), text("title")) {
            (Some(s), _, _) => s,
            (None, Some(a), Some(t)) => format!("{a} - {t}"),
            (None, None, Some(t)) => t,
            _ => return Err(LiveError::BadRequest("song (or title) is missing").into()),
        };
        let stream = self
            .hub
            .get(&mount)
            .filter(|s| s.is_live())
            .ok_or_else(|| LiveError::NoStream(mount.clone()))?;
        stream.update_facts(|f| f.meta.set_title(&song));
        let mut res = Response::new(Body::full(
            "<?xml version=\"1.0\"?>\n<iceresponse><message>Metadata update successful</message>\
             <return>1</return></iceresponse>\n",
        ));
        res.headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static("text/xml"));
        Ok(res)
    }
}

/// The request's Basic credentials, if it has any.
fn credentials(headers: &HeaderMap) -> Option<basic::Credentials> {
    headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(basic::decode)
}

/// Sleeps until `deadline`, or forever when there is none.
pub(crate) async fn sleep_until_some(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

/// Marks a source's stream over (or waiting, with `reopen`) however its
/// request ends, the connection dropped included.
struct Ending {
    stream: Arc<Stream>,
    reopen: bool,
}

impl Drop for Ending {
    fn drop(&mut self) {
        self.stream.set_phase(if self.reopen {
            Phase::Waiting
        } else {
            Phase::Ended
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_send_buffer_is_a_quarter_of_the_budget_within_bounds() {
        // 128 kbit/s, 512K of lag: 32 s of budget, 128 KiB of buffer.
        let stall = Duration::from_secs(32);
        assert_eq!(send_buffer(Some(16_000), stall), 128_000);
        assert_eq!(send_buffer(Some(16_000), MIN_STALL), SEND_BUF_MIN);
        assert_eq!(send_buffer(None, DEFAULT_STALL), SEND_BUF_MIN);
        assert_eq!(send_buffer(Some(10_000_000), stall), SEND_BUF_MAX);
    }
}

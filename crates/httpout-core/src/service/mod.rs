//! The single hyper service every request passes through.
//!
//! For each request, in order:
//! 0. answer the engine's own resources, the metrics and the health
//!    check ([`builtin`]), before access and routing;
//! 1. find its client ([`Client::of`]: the peer, or what a trusted proxy
//!    says): the one client address every later step uses; count it on its
//!    connection (idle timeout, graceful shutdown), start its log record
//!    ([`reqlog`](crate::reqlog)), and, through a trusted proxy, hold one of
//!    its client's `maxp` places until the response ends (503 over it);
//! 2. decode and normalise its path once ([`SafePath`]); a bad path is a 400
//!    and the connection stays usable; check access once (`auth`);
//! 3. answer `TRACE` ([`trace`]: the echo with `--trace`, else 405),
//!    `OPTIONS`, CORS preflights and methods the resource does not accept
//!    from the handler's [`Allow`](crate::Allow) ([`methods`]);
//! 4. hand it to the handler (usually the [`Router`](crate::Router));
//! 5. turn an [`Error`] into its status ([`Error::into_response`]); a server
//!    error's cause is kept for the log;
//! 6. drop a HEAD response's body, add the common headers
//!    ([`response::finish`]), and `Connection: close` after
//!    `max_client_errors` consecutive errors or with `close`;
//! 7. wrap the body so that its end (or abort) is counted and logged, with
//!    the cause of a server error, and its metrics: method, status class,
//!    duration, bytes ([`tracked`]);
//! 8. a long body ([`LongLived`](crate::LongLived), a large
//!    [`FileRegion`](crate::FileRegion)) on a plain-TCP HTTP/1.1
//!    connection is not returned to hyper: it is parked for the connection
//!    to serve outside hyper ([`lean`](crate::conn::lean)), and this
//!    request's future never resolves (the connection drops it).

mod builtin;
mod methods;
mod trace;
mod tracked;

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use http::header::CONNECTION;
use http::{Request, Response, StatusCode};
use http_body::Body as _;
use hyper::body::Incoming;
use hyper::upgrade::OnUpgrade;
use tokio::sync::watch;

use crate::auth::ClientCert;
use crate::body::Body;
use crate::config::ServerConfig;
use crate::conn::lean::{self, FileRegion, Handoff, LongLived, Source};
use crate::conn::state::{ConnState, Phase, STREAM_CANCEL, SendBuffer, StallLimit, UpgradeLink};
use crate::current::Current;
use crate::error::Error;
use crate::handler::{Allow, Ctx, Handler};
use crate::limit::{Limits, Refused};
use crate::path::SafePath;
use crate::proxy::Client;
use crate::reqlog::{self, Peer, Record};
use crate::response;
use builtin::Builtin;
use tracked::{CountedBody, RequestGuard, TrackedBody};

/// What every request of a running server shares.
pub(crate) struct Shared {
    /// The configuration and handler of the moment; a reload replaces them
    /// for the requests that start after it.
    current: Current<Settings>,
    /// Request ids for the log, across reloads.
    next_id: AtomicU64,
    /// Set once shutdown has begun (the health check says 503). A flag,
    /// not a receiver of the shutdown phase: the server's handle keeps this
    /// state for reloads, and a receiver held there would keep the
    /// shutdown waiting.
    stopping: Arc<AtomicBool>,
    /// The server's limits: `maxp` per client behind a trusted proxy.
    limits: Arc<Limits>,
}

/// What a request reads when it starts.
struct Settings {
    config: Arc<ServerConfig>,
    handler: Arc<dyn Handler>,
}

impl Shared {
    pub(crate) fn new(
        config: Arc<ServerConfig>,
        handler: Arc<dyn Handler>,
        stopping: Arc<AtomicBool>,
        limits: Arc<Limits>,
    ) -> Self {
        Self {
            current: Current::new(Arc::new(Settings { config, handler })),
            limits,
            next_id: AtomicU64::new(1),
            stopping,
        }
    }

    /// Requests that start from now on get `config` and `handler`; those
    /// in flight keep theirs.
    pub(crate) fn replace(&self, config: Arc<ServerConfig>, handler: Arc<dyn Handler>) {
        self.current.store(Arc::new(Settings { config, handler }));
    }
}

/// The per-connection service: shared state plus this connection's state.
#[derive(Clone)]
pub(crate) struct Service {
    shared: Arc<Shared>,
    conn: Arc<ConnState>,
    /// The server's lifecycle, for connections upgraded to WebSockets.
    phase: watch::Receiver<Phase>,
}

impl Service {
    pub(crate) fn new(
        shared: Arc<Shared>,
        conn: Arc<ConnState>,
        phase: watch::Receiver<Phase>,
    ) -> Self {
        Self {
            shared,
            conn,
            phase,
        }
    }
}

impl hyper::service::Service<Request<Incoming>> for Service {
    type Response = Response<TrackedBody>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn call(&self, mut req: Request<Incoming>) -> Self::Future {
        // The user of a verified client certificate, for the access check.
        if let Some(cert) = &self.conn.client_cert {
            req.extensions_mut().insert(cert.clone());
        }
        let shared = self.shared.current.load();
        // A request hyper may upgrade: what a WebSocket needs of the engine.
        if req.extensions().get::<OnUpgrade>().is_some() {
            let link = UpgradeLink {
                conn: Arc::clone(&self.conn),
                timeout: shared.config.timeout,
                phase: self.phase.clone(),
            };
            req.extensions_mut().insert(link);
        }
        let conn = Arc::clone(&self.conn);
        let builtin = builtin::which(&shared.config, req.uri().path());
        let stopping = self.shared.stopping.load(Ordering::Relaxed);
        let client = Client::of(
            conn.peer,
            conn.tls,
            req.headers(),
            &shared.config.trusted_proxies,
        );
        // Health checks come every few seconds: not logged.
        let record = shared
            .config
            .reqlog
            .as_ref()
            .filter(|spec| builtin != Some(Builtin::Health) && spec.wants(req.method()))
            .map(|spec| {
                Record::start(
                    self.shared.next_id.fetch_add(1, Ordering::Relaxed),
                    Peer(client.addr),
                    &req,
                    spec.log_end,
                )
            });
        let is_head = req.method() == http::Method::HEAD;
        // A HEAD response has no body to send: done once its head is.
        let mut guard = RequestGuard::new(
            Arc::clone(&conn),
            record,
            is_head,
            Arc::clone(&shared.config.metrics),
            req.method().clone(),
        );
        let over_maxp = match client.addr {
            Some(addr) if client.via_proxy => match self.shared.limits.admit_request(addr.ip()) {
                Ok(place) => {
                    guard.hold(place);
                    None
                }
                Err(refused) => Some(refused),
            },
            _ => None,
        };
        // Whether the response may leave hyper (see step 8), and whether the
        // client asked to close after it.
        let lean = conn.lean()
            && req.version() == http::Version::HTTP_11
            && req.method() == http::Method::GET
            && req.body().is_end_stream();
        let client_closes = lean::has_token(req.headers(), CONNECTION, "close");
        Box::pin(async move {
            // On HTTP/2 this future runs in the stream's own task, which the
            // watchdog can end alone when the stream stalls.
            if let Ok(cancel) = STREAM_CANCEL.try_with(Arc::clone) {
                guard.stream.set_cancel(cancel);
            }
            let version = req.version();
            let has_origin = req.headers().contains_key(http::header::ORIGIN);
            let config = &shared.config;
            let answer = match (builtin, over_maxp) {
                // The client a trusted proxy names, for `metrics_allow`:
                // a proxy on loopback must not open the metrics to all.
                (Some(which), _) => Ok(builtin::answer(
                    which,
                    req.method(),
                    client.addr,
                    config,
                    stopping,
                )),
                (None, Some(refused)) => {
                    config.metrics.rejected(refused);
                    Ok(over_limit(&client, refused))
                }
                (None, None) => match admit(&shared, &client, req).await {
                    Ok((mut req, ctx, allow)) => {
                        guard.set_user(ctx.user.as_deref());
                        let cors = response::cors_applies(config, has_origin);
                        let engine = if req.method() == http::Method::TRACE {
                            trace::answer(&mut req, &allow, config.trace).await
                        } else {
                            methods::answer(&req, &ctx.path, &allow, cors)
                        };
                        match engine {
                            Some(answer) => answer,
                            None => shared.handler.handle(req, ctx).await,
                        }
                    }
                    Err(e) => Err(e),
                },
            };
            let mut res = answer.unwrap_or_else(|e| {
                guard.failed(reqlog::failure(&e));
                e.into_response()
            });
            if is_head {
                methods::strip_body(&mut res);
            }
            if let Some(StallLimit(limit)) = res.extensions().get() {
                conn.limit_stall(*limit);
                guard.stream.limit(*limit);
            }
            // HTTP/1.x only: an HTTP/2 socket is shared by other streams.
            if let Some(SendBuffer(bytes)) = res.extensions().get() {
                if version < http::Version::HTTP_2 {
                    conn.limit_send_buffer(*bytes);
                }
            }
            let too_many_errors = conn.note_status(res.status(), config.max_client_errors);
            // A switch of protocols keeps the connection (for the new one).
            let closes = (config.close || too_many_errors)
                && res.status() != StatusCode::SWITCHING_PROTOCOLS;
            // On HTTP/1.1 this says `Connection: close`, which the handoff
            // below reads.
            response::finish(&mut res, config, has_origin, version, closes);
            let status = res.status();
            let res = res.map(|body| TrackedBody::new(body, guard.with_status(status)));
            if !lean {
                return Ok(res);
            }
            let Some(source) = direct_source(&res) else {
                return Ok(res);
            };
            config.metrics.direct(matches!(source, Source::File(_)));
            conn.park(handoff(res, source, !client_closes));
            // The connection takes the response from here and drops this
            // future.
            std::future::pending().await
        })
    }
}

/// How `res` may be written outside hyper: a [`LongLived`] stream as
/// frames, a [`FileRegion`] of at least [`lean::FILE_MIN`] bytes matching
/// the body with `sendfile`; `None` for anything else (and for statuses
/// without a body).
fn direct_source(res: &Response<TrackedBody>) -> Option<Source> {
    let status = res.status();
    if status.is_informational()
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED
    {
        return None;
    }
    if res.extensions().get::<LongLived>().is_some() {
        return Some(Source::Frames);
    }
    let exact = res.body().size_hint().exact();
    res.extensions()
        .get::<FileRegion>()
        .filter(|r| r.len >= lean::FILE_MIN && exact == Some(r.len))
        .map(|r| Source::File(r.clone()))
}

/// `res` as a [`Handoff`] written as `source` says; the connection is kept
/// alive after it if `keep_alive` (the client did not ask to close) and the
/// response does not say `Connection: close`.
fn handoff(res: Response<TrackedBody>, source: Source, keep_alive: bool) -> Handoff {
    let exact = res.body().size_hint().exact();
    let (mut parts, body) = res.into_parts();
    let keep_alive = keep_alive && !lean::has_token(&parts.headers, CONNECTION, "close");
    let (head, chunked) = lean::head(parts.status, &mut parts.headers, exact, keep_alive);
    Handoff {
        head,
        body: Box::new(body),
        source,
        chunked,
        keep_alive,
    }
}

/// Decodes the path once and checks access: the request, its context and
/// the resource's methods, or the error that answers it, for `client`
/// ([`Client::of`]).
async fn admit(
    shared: &Settings,
    client: &Client,
    req: Request<Incoming>,
) -> Result<(Request<Body>, Ctx, Allow), Error> {
    let path = SafePath::parse(req.uri().path())?;
    let (parts, body) = req.into_parts();
    let config = &shared.config;
    let metrics = &config.metrics;
    let allow = shared.handler.allow(&path);
    // An `OPTIONS` the engine answers from the resource's methods is open
    // (CORS preflights carry no credentials). One that reaches the
    // handler (`Allow::any`) is checked as any request: the handler may
    // answer it with anything.
    let engine_answers = parts.method == http::Method::OPTIONS && !allow.is_any();
    let user = match &config.access {
        Some(_) if engine_answers => None,
        Some(access) => {
            let write = crate::auth::is_write(&parts.method)
                || config
                    .conn_hook
                    .as_ref()
                    .is_some_and(|h| h.writes(&parts.method));
            let decided = access
                .check_as(&parts, &path, client.addr.map(|p| p.ip()), write)
                .await;
            if matches!(
                decided,
                Err(Error::Unauthorized { .. } | Error::TooManyRequests)
            ) && parts.headers.contains_key(http::header::AUTHORIZATION)
            {
                metrics.sign_in_failed();
            }
            let who = Peer(client.addr);
            let (method, at) = (&parts.method, parts.uri.path());
            match &decided {
                Ok(Some(user)) => {
                    tracing::debug!(target: "httpout::auth", "{who} {method} {at}: allowed as {user}");
                }
                Ok(None) => tracing::debug!(target: "httpout::auth", "{who} {method} {at}: open"),
                Err(e) => tracing::debug!(
                    target: "httpout::auth",
                    "{who} {method} {at}: refused, {}: {e}",
                    e.status().as_u16()
                ),
            }
            decided?
        }
        // No rules: a certificate's user is still the request's.
        None => parts.extensions.get::<ClientCert>().map(|c| c.user.clone()),
    };
    let ctx = Ctx {
        peer: client.addr,
        tls: client.tls,
        path,
        mount: SafePath::root(),
        user,
        metrics: Arc::clone(metrics),
    };
    let body = Body::new(CountedBody::new(body, Arc::clone(metrics)));
    Ok((Request::from_parts(parts, body), ctx, allow))
}

/// The answer to a request through a trusted proxy whose client is over
/// `maxp`: 503 with `Retry-After`, the limit in its body, one log line.
/// The proxy's connection stays open for its other clients.
fn over_limit(client: &Client, refused: Refused) -> Response<Body> {
    let who = client
        .addr
        .map_or_else(|| "?".to_owned(), |a| a.ip().to_string());
    tracing::warn!(
        target: "httpout::conn",
        "503 to {who} (through a trusted proxy): too many requests at once from {who} ({})",
        match refused {
            Refused::Maxp(n) => format!("maxp={n}"),
            other => other.to_string(),
        }
    );
    let mut res = Error::Busy.into_response();
    *res.body_mut() = Body::full(format!("{refused}\n"));
    res
}

/// The service for connections over `maxc`/`maxp`: every request gets a
/// 503 with `Retry-After` and `reason` as its body, and the connection is
/// closed. Nothing is logged here: the accept loop said it once.
pub(crate) fn busy(
    config: &ServerConfig,
    req: &Request<Incoming>,
    reason: String,
) -> Response<Body> {
    let has_origin = req.headers().contains_key(http::header::ORIGIN);
    let mut res = Error::Busy.into_response();
    *res.body_mut() = Body::full(reason);
    response::finish(&mut res, config, has_origin, req.version(), true);
    res
}

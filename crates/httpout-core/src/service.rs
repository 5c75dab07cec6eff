//! The single hyper service every request passes through.
//!
//! For each request, in order:
//! 1. count it on its connection (idle timeout, graceful shutdown) and start
//!    its log record ([`reqlog`](crate::reqlog));
//! 2. decode and normalise its path once ([`SafePath`]); a bad path is a 400
//!    and the connection stays usable;
//! 3. hand it to the handler (usually the [`Router`](crate::Router));
//! 4. turn an [`Error`] into its status ([`Error::into_response`]);
//! 5. add the common headers ([`response::finish`]), and `Connection: close`
//!    after `max_client_errors` consecutive errors or with `close`;
//! 6. wrap the body so that its end (or abort) is counted and logged.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body::{Frame, SizeHint};
use hyper::body::Incoming;
use hyper_util::rt::TokioExecutor;
use hyper_util::server::conn::auto;

use crate::body::{Body, BoxError};
use crate::config::ServerConfig;
use crate::conn::ConnState;
use crate::error::Error;
use crate::handler::{Ctx, Handler};
use crate::limit::Limits;
use crate::path::SafePath;
use crate::reqlog::{Peer, Record};
use crate::response;

/// Concurrent streams per HTTP/2 connection (hyper's default is 200).
pub(crate) const H2_MAX_STREAMS: u32 = 32;
/// Bytes hyper may buffer per HTTP/2 stream (its default is 400 KiB).
pub(crate) const H2_SEND_BUF: usize = 64 * 1024;

/// State shared by every connection of a running server.
pub(crate) struct Shared {
    pub(crate) config: ServerConfig,
    pub(crate) handler: Arc<dyn Handler>,
    pub(crate) builder: auto::Builder<TokioExecutor>,
    pub(crate) limits: Arc<Limits>,
    /// Request ids for the log.
    next_id: AtomicU64,
}

impl Shared {
    pub(crate) fn new(config: ServerConfig, handler: Arc<dyn Handler>) -> Self {
        let mut builder = auto::Builder::new(TokioExecutor::new());
        builder
            .http1()
            .timer(hyper_util::rt::TokioTimer::new())
            .header_read_timeout(config.timeout)
            .keep_alive(!config.close)
            // A client may shut its side down once its request is sent
            // (uploaders do): finish reading and answering it.
            .half_close(true);
        // Bound what one HTTP/2 connection may hold: streams at once, and the
        // bytes hyper buffers per stream ahead of the client's window.
        builder
            .http2()
            .timer(hyper_util::rt::TokioTimer::new())
            .max_concurrent_streams(H2_MAX_STREAMS)
            .max_send_buf_size(H2_SEND_BUF);
        Self {
            limits: Arc::new(Limits::new(config.maxc, config.maxp)),
            config,
            handler,
            builder,
            next_id: AtomicU64::new(1),
        }
    }
}

/// The per-connection service: shared state plus this connection's state.
#[derive(Clone)]
pub(crate) struct Service {
    pub(crate) shared: Arc<Shared>,
    pub(crate) conn: Arc<ConnState>,
}

impl hyper::service::Service<Request<Incoming>> for Service {
    type Response = Response<TrackedBody>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn call(&self, req: Request<Incoming>) -> Self::Future {
        let shared = Arc::clone(&self.shared);
        let conn = Arc::clone(&self.conn);
        let config = &shared.config;
        let record = config
            .reqlog
            .as_ref()
            .filter(|spec| spec.wants(req.method()))
            .map(|spec| {
                Record::start(
                    shared.next_id.fetch_add(1, Ordering::Relaxed),
                    Peer(conn.peer),
                    req.method().clone(),
                    req.uri().path().to_owned(),
                    req.version(),
                    spec.log_end,
                )
            });
        let mut guard = RequestGuard::new(Arc::clone(&conn), record);
        // A HEAD response has no body to send: done once its head is.
        guard.complete = req.method() == http::Method::HEAD;
        let is_head = req.method() == http::Method::HEAD;
        Box::pin(async move {
            let version = req.version();
            let has_origin = req.headers().contains_key(http::header::ORIGIN);
            let mut res = match admit(&shared, &conn, req).await {
                Ok((req, ctx)) => match shared.handler.handle(req, ctx).await {
                    Ok(res) => res,
                    Err(e) => e.into_response(),
                },
                Err(e) => e.into_response(),
            };
            if is_head {
                strip_body(&mut res);
            }
            if let Some(crate::conn::StallLimit(limit)) = res.extensions().get() {
                conn.limit_stall(*limit);
            }
            let config = &shared.config;
            let too_many_errors = conn.note_status(res.status(), config.max_client_errors);
            response::finish(
                &mut res,
                config,
                has_origin,
                version,
                config.close || too_many_errors,
            );
            let status = res.status();
            Ok(res.map(|body| TrackedBody {
                inner: body,
                guard: guard.with_status(status),
            }))
        })
    }
}

/// RFC 9110 §9.3.2: a HEAD response has no content. hyper drops it on
/// HTTP/1.1 but not on HTTP/2, so it is dropped here for both, keeping
/// the `Content-Length` the body would have had.
fn strip_body(res: &mut Response<Body>) {
    use http_body::Body as _;
    if let Some(len) = res.body().size_hint().exact() {
        if len > 0 {
            res.headers_mut()
                .entry(http::header::CONTENT_LENGTH)
                .or_insert_with(|| http::HeaderValue::from(len));
        }
    }
    *res.body_mut() = Body::empty();
}

/// Decodes the path once and checks access: the request and its context,
/// or the error that answers it.
async fn admit(
    shared: &Shared,
    conn: &ConnState,
    req: Request<Incoming>,
) -> Result<(Request<Body>, Ctx), Error> {
    let path = SafePath::parse(req.uri().path())?;
    let (parts, body) = req.into_parts();
    let user = match &shared.config.access {
        Some(access) => {
            access
                .check(&parts, &path, conn.peer.map(|p| p.ip()))
                .await?
        }
        None => None,
    };
    let ctx = Ctx {
        peer: conn.peer,
        tls: conn.tls,
        path,
        mount: SafePath::root(),
        user,
    };
    Ok((Request::from_parts(parts, Body::from(body)), ctx))
}

/// Marks a request in flight on its connection from arrival until its
/// response body ends or is dropped, then logs the end line.
struct RequestGuard {
    conn: Arc<ConnState>,
    record: Option<Record>,
    status: StatusCode,
    bytes: u64,
    complete: bool,
}

impl RequestGuard {
    fn new(conn: Arc<ConnState>, record: Option<Record>) -> Self {
        conn.request_started();
        Self {
            conn,
            record,
            status: StatusCode::OK,
            bytes: 0,
            complete: false,
        }
    }

    fn with_status(mut self, status: StatusCode) -> Self {
        self.status = status;
        self
    }
}

impl Drop for RequestGuard {
    fn drop(&mut self) {
        self.conn.request_finished();
        if let Some(record) = &self.record {
            record.end(self.status, self.bytes, self.complete);
        }
    }
}

/// A response body that reports its end to its [`RequestGuard`].
pub(crate) struct TrackedBody {
    inner: Body,
    guard: RequestGuard,
}

impl http_body::Body for TrackedBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        let poll = Pin::new(&mut this.inner).poll_frame(cx);
        match &poll {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    this.guard.bytes += data.len() as u64;
                }
                if this.inner.is_end_stream() {
                    this.guard.complete = true;
                }
            }
            Poll::Ready(None) => this.guard.complete = true,
            _ => {}
        }
        poll
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for TrackedBody {
    fn drop(&mut self) {
        self.guard.complete |= http_body::Body::is_end_stream(&self.inner);
    }
}

/// The service for connections over `maxc`/`maxp`: every request gets a
/// 503 with `Retry-After` and the connection is closed.
pub(crate) async fn busy(
    config: Arc<ServerConfig>,
    req: Request<Incoming>,
) -> Result<Response<Body>, Infallible> {
    let has_origin = req.headers().contains_key(http::header::ORIGIN);
    let mut res = Error::Busy.into_response();
    response::finish(&mut res, &config, has_origin, req.version(), true);
    Ok(res)
}

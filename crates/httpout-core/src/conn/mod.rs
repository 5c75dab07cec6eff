//! One connection, from the first byte to the close.
//!
//! hyper serves HTTP/1.1 or HTTP/2 on the socket (h2c by prior knowledge on
//! plain TCP, told by [`sniff`]; ALPN on TLS), each request through the
//! [`service`](crate::service). Around it this module adds what hyper does
//! not have, timed by the connection's state ([`state`]):
//! - an idle timeout (`timeout`): a connection with no request in flight for
//!   that long since its last request ended is shut down (hyper has none,
//!   hyper#1628). Bytes alone (an HTTP/2 PING every few seconds) do not keep
//!   a connection open;
//! - a stall timeout per response: a response whose body hyper has not
//!   taken for `timeout` (or the response's shorter
//!   [`StallLimit`](state::StallLimit)) while it had data to give is ended:
//!   a client that reads nothing, grants no HTTP/2 flow-control window, or
//!   never reads a body at all cannot hold its place and its buffers
//!   forever. On HTTP/2 that stream alone is reset (each stream runs in its
//!   own task, spawned by [`exec`], which the watchdog can end) unless
//!   every stream in flight is stalled, which closes the connection; on
//!   HTTP/1.1 the connection is closed, as it is when the socket has
//!   refused bytes for that long. A response that is merely waiting for
//!   data (a live stream) is not stalled;
//! - a first-request deadline: a client must complete its first request head
//!   within `header_timeout` (or `timeout` when shorter) of connecting,
//!   however slowly it trickles bytes (slowloris); later request heads are
//!   bounded by hyper's `header_read_timeout`, set to `timeout`;
//! - bounded buffers: an HTTP/1.1 request head over [`H1_MAX_BUF`] bytes or
//!   [`H1_MAX_HEADERS`] fields is answered 431, and hyper buffers at most
//!   about [`H1_MAX_BUF`] of a response ahead of the socket; an HTTP/2
//!   header list is bounded the same way;
//! - the server's shutdown signal: graceful first (in-flight requests
//!   finish, HTTP/2 gets GOAWAY), then forced.
//!
//! The byte stream goes through the mode's [`ConnHook`] first, if one is
//! installed ([`io`]).
//!
//! The protocol is told from the first bytes ([`sniff`]). On plain-TCP
//! HTTP/1.1 a long response body leaves hyper: the service parks it, the
//! connection takes the socket back from hyper once hyper has flushed, and
//! writes the body itself ([`lean`], [`write`]); hyper serves the next
//! request on the same connection if it may be kept alive.

pub(crate) mod exec;
pub(crate) mod io;
pub(crate) mod lean;
pub(crate) mod sniff;
pub(crate) mod state;
pub(crate) mod write;

use std::future::{Future, poll_fn};
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use hyper::server::conn::{http1, http2};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::sync::watch;
use tokio::time::{Instant, sleep_until};

use crate::body::BoxError;
use crate::config::ServerConfig;
use crate::hook::{ConnHook, Io};
use crate::service::{self, Service};
use exec::StreamExec;
use sniff::Rewind;
use state::{ConnState, Cut, Phase, Secured};
use write::{Ended, Writer};

/// Concurrent streams per HTTP/2 connection (hyper's default is 200).
pub(crate) const H2_MAX_STREAMS: u32 = 32;
/// Bytes hyper may buffer per HTTP/2 stream (its default is 400 KiB).
pub(crate) const H2_SEND_BUF: usize = 64 * 1024;
/// hyper's HTTP/1.1 read and write buffer limit (its default is about 400
/// KiB): the largest request head (431 over it), and about what it queues
/// of a response ahead of the socket.
pub(crate) const H1_MAX_BUF: usize = 32 * 1024;
/// Header fields per HTTP/1.1 request head (431 over it).
pub(crate) const H1_MAX_HEADERS: usize = 100;
/// The largest HTTP/2 header list, decoded (hyper's default, set here so
/// that it stays bounded whatever hyper's default becomes).
pub(crate) const H2_MAX_HEADER_LIST: u32 = 16 * 1024;

/// What every connection of a server shares.
pub(crate) struct Shared {
    h1: http1::Builder,
    h2: http2::Builder<StreamExec>,
    timeout: Option<Duration>,
    header_timeout: Option<Duration>,
    hook: Option<Arc<dyn ConnHook>>,
    /// Long bodies may leave hyper: no hook, or one whose writes pass
    /// through.
    lean: bool,
    service: Arc<service::Shared>,
}

impl Shared {
    pub(crate) fn new(config: &ServerConfig, service: Arc<service::Shared>) -> Self {
        let mut h1 = http1::Builder::new();
        h1.timer(TokioTimer::new())
            .header_read_timeout(config.timeout)
            .max_buf_size(H1_MAX_BUF)
            .max_headers(H1_MAX_HEADERS)
            .keep_alive(!config.close)
            // A client may shut its side down once its request is sent
            // (uploaders do): finish reading and answering it.
            .half_close(true);
        // Bound what one HTTP/2 connection may hold: streams at once, and the
        // bytes hyper buffers per stream ahead of the client's window.
        let mut h2 = http2::Builder::new(StreamExec);
        h2.timer(TokioTimer::new())
            .max_concurrent_streams(H2_MAX_STREAMS)
            .max_send_buf_size(H2_SEND_BUF)
            .max_header_list_size(H2_MAX_HEADER_LIST)
            // RFC 8441: WebSockets over HTTP/2 streams (extended CONNECT).
            .enable_connect_protocol();
        Self {
            h1,
            h2,
            timeout: config.timeout,
            header_timeout: config.header_timeout,
            lean: config
                .conn_hook
                .as_ref()
                .is_none_or(|h| h.writes_pass_through()),
            hook: config.conn_hook.clone(),
            service,
        }
    }
}

/// Serves one accepted (and, for TLS, handshaken) connection until it
/// closes. `tls`: what its handshake told, `None` for a plain one; `socket`: the TCP socket under `io`, for the options a response
/// may set on it and for bodies served outside hyper; `kept`: what lives as
/// long as the connection (its admission, its place in the metrics).
///
/// A live listener spends hours in here, so its state is kept small: the
/// connection, one timer for every deadline, and the wait for the server's
/// phase; the watchdog is woken by the connection's state
/// ([`ConnState::register`]) rather than by a future of its own.
pub(crate) async fn serve(
    io: Box<dyn Io>,
    socket: Option<Arc<tokio::net::TcpStream>>,
    peer: Option<SocketAddr>,
    tls: Option<Secured>,
    shared: Arc<Shared>,
    mut phase: watch::Receiver<Phase>,
    kept: Kept,
) {
    let _kept = kept;
    let state = Arc::new(ConnState::new(peer, tls, socket, shared.lean));
    let io = io::wrap(io, shared.hook.as_deref(), Arc::clone(&state));
    let service = Service::new(
        Arc::clone(&shared.service),
        Arc::clone(&state),
        phase.clone(),
    );
    let watchdog = shared.timeout.map(|idle| Watchdog {
        idle,
        first: shared.header_timeout.unwrap_or(idle),
    });
    let mut conn = Conn {
        stage: Stage::Sniff(Box::pin(sniff::sniff(io)), service),
        shared,
        state: Arc::clone(&state),
        closing_since: None,
    };
    let timer = sleep_until(Instant::now());
    tokio::pin!(timer);
    loop {
        let step = {
            let changed = phase.changed();
            tokio::pin!(changed);
            poll_fn(|cx| {
                if let Poll::Ready(ended) = Pin::new(&mut conn).poll(cx) {
                    return Poll::Ready(Step::Ended(ended));
                }
                if let Poll::Ready(changed) = changed.as_mut().poll(cx) {
                    return Poll::Ready(Step::Phase(changed.is_ok()));
                }
                match &watchdog {
                    Some(watchdog) => watchdog.poll(&conn, timer.as_mut(), cx),
                    None => Poll::Pending,
                }
            })
            .await
        };
        match step {
            Step::Ended(ended) => {
                // hyper's own diagnostics: a malformed request, an HTTP/2
                // protocol error, a reset connection.
                if let Err(e) = ended {
                    let who = peer.map_or_else(|| "unix socket".to_owned(), |p| p.to_string());
                    tracing::debug!(target: "httpout::conn", "connection from {who} ended: {e}");
                }
                break;
            }
            Step::Phase(open) => {
                let now = if open {
                    *phase.borrow_and_update()
                } else {
                    Phase::Force
                };
                match now {
                    Phase::Force => return,
                    Phase::Graceful => conn.graceful_shutdown(),
                    Phase::Running => {}
                }
            }
            // A reader that does not read, or a client that never completed
            // a request head: nothing to finish.
            Step::Cut(cut) if cut == Cut::Stalled || conn.state.requests() == 0 => return,
            Step::Cut(_) => conn.graceful_shutdown(),
            // An idle connection that did not close after shutdown was asked.
            Step::Close => return,
        }
    }
    // An HTTP/1.1 connection upgraded to a WebSocket lives on in the
    // socket's task: it keeps its admission until that ends.
    drop(conn);
    outlive(&state, &mut phase).await;
}

/// Waits while an upgraded connection of `state` is open, or until the
/// server forces its shutdown (the upgraded connection drops itself then).
async fn outlive(state: &ConnState, phase: &mut watch::Receiver<Phase>) {
    let closed = poll_fn(|cx| {
        state.register(cx.waker());
        if state.upgraded() {
            Poll::Pending
        } else {
            Poll::Ready(())
        }
    });
    let forced = async {
        while *phase.borrow_and_update() != Phase::Force {
            if phase.changed().await.is_err() {
                return;
            }
        }
    };
    tokio::select! {
        () = closed => {}
        () = forced => {}
    }
}

/// What a connection keeps until it closes, whatever it is.
pub(crate) type Kept = Box<dyn Send>;

/// What woke [`serve`].
enum Step {
    /// The connection ended.
    Ended(Result<(), BoxError>),
    /// The server's phase changed (false: the server is gone).
    Phase(bool),
    /// The watchdog's deadline passed.
    Cut(Cut),
    /// Shutdown was asked and the connection stayed idle for `timeout`.
    Close,
}

/// The connection's timeouts (see the module's documentation).
struct Watchdog {
    /// `timeout`.
    idle: Duration,
    /// The first request head's deadline.
    first: Duration,
}

impl Watchdog {
    /// Ready when a deadline has passed; otherwise sets `timer` to the next
    /// one. Stalled HTTP/2 streams are reset here, one by one, while others
    /// still make progress.
    fn poll(
        &self,
        conn: &Conn,
        mut timer: Pin<&mut tokio::time::Sleep>,
        cx: &mut Context<'_>,
    ) -> Poll<Step> {
        let state = &conn.state;
        // Before the state is read: a change from now on wakes the task.
        state.register(cx.waker());
        loop {
            let (at, step) = match conn.closing_since {
                None => {
                    let (at, cut, stalled) = state.next_cut(self.idle, self.first);
                    if !stalled.is_empty() {
                        for cancel in stalled {
                            cancel.fire();
                        }
                        continue;
                    }
                    (at, Step::Cut(cut))
                }
                // Waiting for the response in flight, which wakes the task
                // when it ends.
                Some(_) if state.busy() => return Poll::Pending,
                Some(since) => (since + self.idle, Step::Close),
            };
            if Instant::now() >= at {
                return Poll::Ready(step);
            }
            if timer.deadline() != at {
                timer.as_mut().reset(at);
            }
            ready!(timer.as_mut().poll(cx));
        }
    }
}

type H1 = http1::UpgradeableConnection<TokioIo<Rewind>, Service>;
type H2 = http2::Connection<TokioIo<Rewind>, Service, StreamExec>;
type Sniffing = Pin<Box<dyn Future<Output = std::io::Result<(bool, Rewind)>> + Send>>;

/// A connection through its stages.
struct Conn {
    stage: Stage,
    shared: Arc<Shared>,
    state: Arc<ConnState>,
    /// When shutdown was asked (by the server or by an idle cut): no new
    /// request once the current one is done.
    closing_since: Option<Instant>,
}

enum Stage {
    /// Reading the first bytes to tell HTTP/2 from HTTP/1.1.
    Sniff(Sniffing, Service),
    H1(Pin<Box<H1>>),
    H2(Pin<Box<H2>>),
    /// A response served outside hyper; the stream and service to give
    /// back to hyper after it.
    Lean(Writer, Option<(Rewind, Service)>),
    Done,
}

impl Conn {
    /// Asks the connection to finish what it is doing and close (once).
    fn graceful_shutdown(&mut self) {
        if self.closing_since.is_some() {
            return;
        }
        self.closing_since = Some(Instant::now());
        match &mut self.stage {
            Stage::H1(conn) => conn.as_mut().graceful_shutdown(),
            Stage::H2(conn) => conn.as_mut().graceful_shutdown(),
            // No request yet: nothing to finish.
            Stage::Sniff(..) => self.stage = Stage::Done,
            Stage::Lean(..) | Stage::Done => {}
        }
    }

    fn h1(&self, io: Rewind, service: Service) -> Stage {
        let conn = self.shared.h1.serve_connection(TokioIo::new(io), service);
        let mut conn = Box::pin(conn.with_upgrades());
        if self.closing_since.is_some() {
            conn.as_mut().graceful_shutdown();
        }
        Stage::H1(conn)
    }

    /// hyper has flushed and a response is parked: takes the stream from
    /// hyper and starts writing the response.
    fn hand_off(&mut self) -> bool {
        let Some(handoff) = self.state.take_handoff() else {
            return false;
        };
        let Stage::H1(conn) = std::mem::replace(&mut self.stage, Stage::Done) else {
            return false;
        };
        let (Some(parts), Some(socket)) = (Pin::into_inner(conn).into_parts(), self.state.socket())
        else {
            return true; // Done: nothing to write on
        };
        let io = parts.io.into_inner().rewound(&parts.read_buf);
        let writer = Writer::new(Arc::clone(socket), Arc::clone(&self.state), handoff);
        self.stage = Stage::Lean(writer, Some((io, parts.service)));
        true
    }
}

impl Future for Conn {
    type Output = Result<(), BoxError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        loop {
            match &mut this.stage {
                Stage::Sniff(sniffing, service) => {
                    let (h2, io) = ready!(sniffing.as_mut().poll(cx))?;
                    let service = service.clone();
                    this.stage = if h2 {
                        let conn = this.shared.h2.serve_connection(TokioIo::new(io), service);
                        Stage::H2(Box::pin(conn))
                    } else {
                        this.h1(io, service)
                    };
                }
                Stage::H1(conn) => {
                    if let Poll::Ready(ended) = conn.as_mut().poll(cx) {
                        return Poll::Ready(ended.map_err(Into::into));
                    }
                    if !this.hand_off() {
                        return Poll::Pending;
                    }
                }
                Stage::H2(conn) => return conn.as_mut().poll(cx).map_err(Into::into),
                Stage::Lean(writer, next) => {
                    let ended = ready!(Pin::new(writer).poll(cx));
                    match (ended, next.take()) {
                        (Ended::KeepAlive, Some((io, service))) if this.closing_since.is_none() => {
                            this.stage = this.h1(io, service);
                        }
                        _ => return Poll::Ready(Ok(())),
                    }
                }
                Stage::Done => return Poll::Ready(Ok(())),
            }
        }
    }
}

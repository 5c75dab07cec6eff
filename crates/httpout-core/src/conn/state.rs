//! What the tasks of one connection share: its requests in flight (each a
//! [`Stream`], with when its body last made progress), when it was last
//! active, whether writes are refused, and from that the deadline its
//! watchdog waits for. A leaf: the service (one request) updates it, the
//! connection loop (`conn`) waits on it.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::task::Waker;
use std::time::Duration;

use futures_util::task::AtomicWaker;
use http::StatusCode;
use tokio::sync::watch;
use tokio::time::Instant;

use super::lean::Handoff;
use crate::auth::ClientCert;

/// The server's lifecycle, broadcast to every listener and connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Serving.
    Running,
    /// Finish in-flight requests, accept no new ones.
    Graceful,
    /// Close now.
    Force,
}

/// A response extension: the connection carrying this response is closed
/// when its peer has refused bytes for this long, if that is shorter than
/// the server's `timeout`. A live stream sets it from the lag its listeners
/// may have, so a listener that stops reading is dropped as soon as it
/// falls that far behind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StallLimit(pub Duration);

/// A response extension: bound the kernel's send buffer of the HTTP/1.x
/// connection carrying this response to about this many bytes
/// (`SO_SNDBUF`; Linux grows an unbounded one to megabytes). With a
/// [`StallLimit`], a reader that stops reading refuses writes, and is cut,
/// once this much is queued instead of after megabytes: a live stream sets
/// it from the lag its listeners may have. Ignored on HTTP/2 (the socket is
/// shared by other streams) and on Unix sockets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SendBuffer(pub usize);

tokio::task_local! {
    /// The cancel handle of the HTTP/2 stream whose task is running (set by
    /// the connection's executor, read by the service when a request starts).
    pub(crate) static STREAM_CANCEL: Arc<Cancel>;
}

/// Ends one HTTP/2 stream's task from outside: the task (hyper's, spawned
/// by the connection's executor) stops at its next poll and drops the
/// stream, which h2 then resets (`RST_STREAM`, `CANCEL`).
#[derive(Debug, Default)]
pub(crate) struct Cancel {
    fired: AtomicBool,
    notify: tokio::sync::Notify,
}

impl Cancel {
    /// Ends the stream.
    pub(crate) fn fire(&self) {
        self.fired.store(true, Ordering::Release);
        // A permit is stored if the task is not waiting yet.
        self.notify.notify_one();
    }

    fn is_fired(&self) -> bool {
        self.fired.load(Ordering::Acquire)
    }

    /// Resolves once [`Cancel::fire`] was called.
    pub(crate) async fn fired(&self) {
        while !self.fired.load(Ordering::Acquire) {
            self.notify.notified().await;
        }
    }
}

/// One response in flight, as its connection's watchdog sees it: whether
/// hyper owes its body a poll (the body handed out data, or the response
/// head was made, and hyper has not asked for more since), since when, and
/// how to end it alone.
#[derive(Debug)]
pub(crate) struct Stream {
    /// Milliseconds after the connection's epoch since when the body waits
    /// for hyper to take more; 0 while it is not waiting (not built yet, or
    /// itself waiting for data: a live stream between chunks).
    owed_since_ms: AtomicU64,
    /// This response's stall limit ([`StallLimit`]), ms; `u64::MAX`: none.
    limit_ms: AtomicU64,
    /// Set on HTTP/2, where each stream runs in its own task.
    cancel: OnceLock<Arc<Cancel>>,
}

impl Stream {
    fn new() -> Self {
        Self {
            owed_since_ms: AtomicU64::new(0),
            limit_ms: AtomicU64::new(u64::MAX),
            cancel: OnceLock::new(),
        }
    }

    /// Lets the watchdog end this stream alone (HTTP/2).
    pub(crate) fn set_cancel(&self, cancel: Arc<Cancel>) {
        let _ = self.cancel.set(cancel);
    }

    /// A response's own stall limit ([`StallLimit`]).
    pub(crate) fn limit(&self, limit: Duration) {
        self.limit_ms.store(to_ms(limit).max(1), Ordering::Relaxed);
    }
}

fn to_ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// [`ConnState`]'s handoff stages.
const NO_HANDOFF: u8 = 0;
const PARKED: u8 = 1;
const FLUSHED: u8 = 2;

/// Why the watchdog closes a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cut {
    /// Nothing in flight for `timeout` (or no first request within it).
    Idle,
    /// A response could not be written for its stall limit.
    Stalled,
}

/// What the TLS handshake of a connection told.
#[derive(Debug, Clone, Default)]
pub(crate) struct Secured {
    /// The user of the client's verified certificate, if it sent one
    /// that names a user.
    pub(crate) client: Option<ClientCert>,
}

/// The state of one connection.
#[derive(Debug)]
pub(crate) struct ConnState {
    pub(crate) peer: Option<SocketAddr>,
    pub(crate) tls: bool,
    /// The user of the client's certificate (TLS with `--ca`), put in
    /// each request's extensions.
    pub(crate) client_cert: Option<ClientCert>,
    /// When the connection was accepted.
    epoch: Instant,
    /// Milliseconds after `epoch` when a request last started or ended.
    last_activity_ms: AtomicU64,
    /// Milliseconds after `epoch` since when writes have been refused
    /// (the socket is full); 0 when the last write went through.
    stalled_since_ms: AtomicU64,
    /// Requests whose response body has not ended yet.
    in_flight: AtomicUsize,
    /// Requests seen so far.
    requests: AtomicU64,
    /// Error responses in a row, for `max_client_errors`.
    consecutive_errors: AtomicU32,
    /// A shorter write-stall limit asked by a response ([`StallLimit`]),
    /// in milliseconds; `u64::MAX` when none did.
    stall_limit_ms: AtomicU64,
    /// The responses in flight (at most the HTTP/2 stream limit).
    streams: Mutex<Vec<Arc<Stream>>>,
    /// The socket, when it is TCP: a response may bound its send buffer.
    socket: Option<Arc<tokio::net::TcpStream>>,
    /// Whether a response may be served outside hyper (see
    /// [`lean`](super::lean)): plain TCP, its writes untouched by any hook.
    lean: bool,
    /// A response parked for the connection to serve outside hyper.
    handoff: Mutex<Option<Handoff>>,
    /// [`NO_HANDOFF`], [`PARKED`] (hyper may still be writing the
    /// previous response) or [`FLUSHED`] (hyper's buffer is empty).
    handoff_stage: AtomicU8,
    /// Wakes the watchdog when its deadline may have moved: a request
    /// started or ended, writes started being refused, a stall limit was set.
    changed: AtomicWaker,
    /// Upgraded connections (WebSockets) still open on this connection.
    upgraded: AtomicUsize,
}

impl ConnState {
    /// `tls`: what its handshake told, `None` for plain connections;
    /// `lean`: responses may be served outside hyper when `socket` is
    /// plain TCP.
    pub(crate) fn new(
        peer: Option<SocketAddr>,
        tls: Option<Secured>,
        socket: Option<Arc<tokio::net::TcpStream>>,
        lean: bool,
    ) -> Self {
        let (tls, client_cert) = match tls {
            Some(secured) => (true, secured.client),
            None => (false, None),
        };
        Self {
            client_cert,
            lean: lean && !tls && socket.is_some(),
            handoff: Mutex::new(None),
            handoff_stage: AtomicU8::new(NO_HANDOFF),
            peer,
            tls,
            epoch: Instant::now(),
            last_activity_ms: AtomicU64::new(0),
            stalled_since_ms: AtomicU64::new(0),
            in_flight: AtomicUsize::new(0),
            requests: AtomicU64::new(0),
            consecutive_errors: AtomicU32::new(0),
            stall_limit_ms: AtomicU64::new(u64::MAX),
            streams: Mutex::new(Vec::new()),
            socket,
            changed: AtomicWaker::new(),
            upgraded: AtomicUsize::new(0),
        }
    }

    /// Whether an upgraded connection (a WebSocket) of this connection is
    /// still open.
    pub(crate) fn upgraded(&self) -> bool {
        self.upgraded.load(Ordering::Acquire) > 0
    }

    /// Lowers the write-stall limit of this connection (see [`StallLimit`]).
    pub(crate) fn limit_stall(&self, limit: Duration) {
        let ms = u64::try_from(limit.as_millis()).unwrap_or(u64::MAX).max(1);
        self.stall_limit_ms.fetch_min(ms, Ordering::Relaxed);
        self.changed.wake();
    }

    /// Bounds the kernel's send buffer of this connection's socket to about
    /// `bytes` (Linux doubles it for its bookkeeping), so that a reader that
    /// stops reading refuses writes once that much is queued. False when
    /// the connection is not TCP or the option could not be set.
    pub(crate) fn limit_send_buffer(&self, bytes: usize) -> bool {
        self.socket
            .as_ref()
            .is_some_and(|s| rustix::net::sockopt::set_socket_send_buffer_size(&**s, bytes).is_ok())
    }

    /// Whether a response may be served outside hyper (plain TCP, writes
    /// untouched by the mode's hook).
    pub(crate) fn lean(&self) -> bool {
        self.lean
    }

    /// The TCP socket, if the connection is TCP.
    pub(crate) fn socket(&self) -> Option<&Arc<tokio::net::TcpStream>> {
        self.socket.as_ref()
    }

    /// Parks `handoff` for the connection to serve once hyper has written
    /// everything it still had.
    pub(crate) fn park(&self, handoff: Handoff) {
        *self.handoff.lock().unwrap_or_else(PoisonError::into_inner) = Some(handoff);
        self.handoff_stage.store(PARKED, Ordering::Release);
    }

    /// hyper's write buffer is empty (it flushed its I/O): a parked
    /// handoff may go.
    pub(crate) fn flushed(&self) {
        let _ = self.handoff_stage.compare_exchange(
            PARKED,
            FLUSHED,
            Ordering::AcqRel,
            Ordering::Relaxed,
        );
    }

    /// The parked handoff, once hyper has flushed.
    pub(crate) fn take_handoff(&self) -> Option<Handoff> {
        if self.handoff_stage.load(Ordering::Acquire) != FLUSHED {
            return None;
        }
        self.handoff_stage.store(NO_HANDOFF, Ordering::Release);
        self.handoff
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
    }

    fn now_ms(&self) -> u64 {
        to_ms(self.epoch.elapsed())
    }

    /// The body of `stream` handed out data (or its response head was
    /// made): hyper owes it a poll from now on.
    pub(crate) fn owed(&self, stream: &Stream) {
        stream
            .owed_since_ms
            .store(self.now_ms().max(1), Ordering::Relaxed);
    }

    /// The body of `stream` waits for its own data, or has ended: not
    /// stalled, whatever the client does.
    pub(crate) fn not_owed(&self, stream: &Stream) {
        stream.owed_since_ms.store(0, Ordering::Relaxed);
    }

    fn at(&self, ms: u64) -> Instant {
        self.epoch + Duration::from_millis(ms)
    }

    fn touch(&self) {
        self.last_activity_ms
            .store(self.now_ms(), Ordering::Relaxed);
    }

    /// A write was refused (the socket is full).
    pub(crate) fn write_refused(&self) {
        // 1 stands for "since the very start" so that 0 can mean "not stalled".
        let now = self.now_ms().max(1);
        if self
            .stalled_since_ms
            .compare_exchange(0, now, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
        {
            self.changed.wake();
        }
    }

    /// A write went through.
    pub(crate) fn write_done(&self) {
        self.stalled_since_ms.store(0, Ordering::Relaxed);
    }

    /// A request arrived: it is in flight until its response body ends.
    pub(crate) fn request_started(&self) -> Arc<Stream> {
        let stream = Arc::new(Stream::new());
        self.streams
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(Arc::clone(&stream));
        self.requests.fetch_add(1, Ordering::Relaxed);
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        self.touch();
        self.changed.wake();
        stream
    }

    /// A response body ended or was dropped.
    pub(crate) fn request_finished(&self, stream: &Arc<Stream>) {
        self.streams
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .retain(|s| !Arc::ptr_eq(s, stream));
        self.in_flight.fetch_sub(1, Ordering::AcqRel);
        self.touch();
        self.changed.wake();
    }

    /// Requests seen so far.
    pub(crate) fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// Whether a response body is still being sent.
    pub(crate) fn busy(&self) -> bool {
        self.in_flight.load(Ordering::Acquire) > 0
    }

    /// Counts consecutive error statuses; true when this response should
    /// close the connection (`max_client_errors` reached, HTTP/1 only).
    pub(crate) fn note_status(&self, status: StatusCode, max_errors: u32) -> bool {
        if status.is_client_error() || status.is_server_error() {
            let n = self.consecutive_errors.fetch_add(1, Ordering::Relaxed) + 1;
            max_errors > 0 && n >= max_errors
        } else {
            self.consecutive_errors.store(0, Ordering::Relaxed);
            false
        }
    }

    /// The next cut as things stand, if nothing changes, and the responses
    /// to end alone now.
    ///
    /// Busy: a response whose body hyper has not polled for its stall limit
    /// (the shorter of `timeout` and its [`StallLimit`]) while it had data
    /// to give (a client that reads nothing, or grants no HTTP/2 window) is
    /// stalled: on HTTP/2 it is returned to be reset alone, unless every
    /// response in flight is stalled, which cuts the connection; on
    /// HTTP/1.1 it cuts the connection. So does a socket that has refused
    /// writes for the connection's stall limit. Without a stalled response
    /// the watchdog looks again after the shortest stall limit (a body
    /// becoming owed does not wake it: that happens at every chunk).
    ///
    /// Idle: cut `first` after accept before the first request, or
    /// `timeout` after the last request ended.
    pub(crate) fn next_cut(
        &self,
        timeout: Duration,
        first: Duration,
    ) -> (Instant, Cut, Vec<Arc<Cancel>>) {
        let timeout_ms = to_ms(timeout);
        if self.busy() {
            let now = self.now_ms();
            let mut next = u64::MAX;
            let since = self.stalled_since_ms.load(Ordering::Relaxed);
            if since != 0 {
                let limit = timeout_ms.min(self.stall_limit_ms.load(Ordering::Relaxed));
                next = since.saturating_add(limit);
                if now >= next {
                    return (Instant::now(), Cut::Stalled, Vec::new());
                }
            }
            let streams = self.streams.lock().unwrap_or_else(PoisonError::into_inner);
            let mut stalled = Vec::new();
            let mut alone = true;
            let mut live = 0;
            for stream in streams.iter() {
                if stream.cancel.get().is_some_and(|c| c.is_fired()) {
                    continue; // reset, its task is going away
                }
                live += 1;
                let limit = timeout_ms.min(stream.limit_ms.load(Ordering::Relaxed));
                let owed = stream.owed_since_ms.load(Ordering::Relaxed);
                if owed == 0 {
                    next = next.min(now.saturating_add(limit));
                    continue;
                }
                let due = owed.saturating_add(limit);
                if now >= due {
                    match stream.cancel.get() {
                        Some(cancel) => stalled.push(Arc::clone(cancel)),
                        None => alone = false,
                    }
                } else {
                    next = next.min(due);
                }
            }
            if !alone || (!stalled.is_empty() && stalled.len() == live) {
                return (Instant::now(), Cut::Stalled, Vec::new());
            }
            let next = next.min(now.saturating_add(timeout_ms));
            return (self.at(next), Cut::Stalled, stalled);
        }
        let from = if self.requests() == 0 {
            return (self.epoch + first.min(timeout), Cut::Idle, Vec::new());
        } else {
            self.at(self.last_activity_ms.load(Ordering::Relaxed))
        };
        (from + timeout, Cut::Idle, Vec::new())
    }

    /// Wakes the task of `waker` whenever the next cut may have moved. To
    /// be called before [`ConnState::next_cut`] reads the state, so that no
    /// change is missed between the two.
    pub(crate) fn register(&self, waker: &Waker) {
        self.changed.register(waker);
    }
}

/// A request extension the service adds to each request hyper may upgrade
/// (an HTTP/1.1 `Upgrade`, an HTTP/2 `CONNECT`): what an upgraded
/// connection (a WebSocket, `crate::ws`) needs from the engine.
#[derive(Debug, Clone)]
pub(crate) struct UpgradeLink {
    pub(crate) conn: Arc<ConnState>,
    /// The server's `timeout` when the request arrived.
    pub(crate) timeout: Option<Duration>,
    /// The server's lifecycle: graceful shutdown closes the upgraded
    /// connection, a forced one drops it.
    pub(crate) phase: watch::Receiver<Phase>,
}

impl UpgradeLink {
    /// Counts an upgraded connection on its connection until the
    /// returned guard drops: in flight (so that an HTTP/2 connection is not
    /// cut as idle under it) and as upgraded (so that an HTTP/1.1
    /// connection keeps its admission, `maxc`/`maxp`, while it lives).
    pub(crate) fn hold(&self) -> UpgradeHeld {
        self.conn.upgraded.fetch_add(1, Ordering::AcqRel);
        UpgradeHeld {
            stream: self.conn.request_started(),
            conn: Arc::clone(&self.conn),
        }
    }
}

/// An upgraded connection counted on its connection ([`UpgradeLink::hold`]).
#[derive(Debug)]
pub(crate) struct UpgradeHeld {
    conn: Arc<ConnState>,
    stream: Arc<Stream>,
}

impl Drop for UpgradeHeld {
    fn drop(&mut self) {
        self.conn.upgraded.fetch_sub(1, Ordering::AcqRel);
        self.conn.request_finished(&self.stream);
    }
}

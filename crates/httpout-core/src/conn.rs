//! One connection, from the first byte to the close.
//!
//! hyper-util's auto builder serves HTTP/1.1 or HTTP/2 on the socket (h2c by
//! prior knowledge on plain TCP, ALPN on TLS). Around it this module adds what
//! hyper does not have:
//! - an idle timeout (`timeout`): a connection with no request in flight for
//!   that long since its last request ended is shut down (hyper has none,
//!   hyper#1628). Bytes alone (an HTTP/2 PING every few seconds) do not keep
//!   a connection open;
//! - a write-stall timeout: a response the client does not read (the socket
//!   has refused bytes for `timeout`) closes the connection, so a reader that
//!   never reads cannot hold its place and its buffers forever. A response
//!   that is merely waiting for data (a live stream) is not stalled;
//! - a first-request deadline: a client must complete its first request head
//!   within `timeout` of connecting, however slowly it trickles bytes
//!   (slowloris); later request heads are bounded by hyper's
//!   `header_read_timeout`, set to the same value;
//! - the server's shutdown signal: graceful first (in-flight requests
//!   finish, HTTP/2 gets GOAWAY), then forced.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use http::StatusCode;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::watch;
use tokio::time::{Instant, sleep, sleep_until};

use crate::service::{Service, Shared};

/// The server's lifecycle, broadcast to every connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Serving.
    Running,
    /// Finish in-flight requests, accept no new ones.
    Graceful,
    /// Close now.
    Force,
}

/// What the connection's tasks know about it.
#[derive(Debug)]
pub(crate) struct ConnState {
    pub(crate) peer: Option<SocketAddr>,
    pub(crate) tls: bool,
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
    /// Wakes the watchdog when writes start being refused.
    stall_started: tokio::sync::Notify,
}

/// A response extension: the connection carrying this response is closed
/// when its peer has refused bytes for this long, if that is shorter than
/// the server's `timeout`. A live stream sets it from the lag its listeners
/// may have, so a listener that stops reading is dropped as soon as it
/// falls that far behind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StallLimit(pub Duration);

impl ConnState {
    pub(crate) fn new(peer: Option<SocketAddr>, tls: bool) -> Self {
        Self {
            peer,
            tls,
            epoch: Instant::now(),
            last_activity_ms: AtomicU64::new(0),
            stalled_since_ms: AtomicU64::new(0),
            in_flight: AtomicUsize::new(0),
            requests: AtomicU64::new(0),
            consecutive_errors: AtomicU32::new(0),
            stall_limit_ms: AtomicU64::new(u64::MAX),
            stall_started: tokio::sync::Notify::new(),
        }
    }

    /// Lowers the write-stall limit of this connection (see [`StallLimit`]).
    pub(crate) fn limit_stall(&self, limit: Duration) {
        let ms = u64::try_from(limit.as_millis()).unwrap_or(u64::MAX).max(1);
        self.stall_limit_ms.fetch_min(ms, Ordering::Relaxed);
    }

    fn now_ms(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }

    fn touch(&self) {
        self.last_activity_ms
            .store(self.now_ms(), Ordering::Relaxed);
    }

    fn write_refused(&self) {
        // 1 stands for "since the very start" so that 0 can mean "not stalled".
        let now = self.now_ms().max(1);
        if self
            .stalled_since_ms
            .compare_exchange(0, now, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
        {
            self.stall_started.notify_one();
        }
    }

    fn write_done(&self) {
        self.stalled_since_ms.store(0, Ordering::Relaxed);
    }

    fn last_activity(&self) -> Instant {
        self.epoch + Duration::from_millis(self.last_activity_ms.load(Ordering::Relaxed))
    }

    pub(crate) fn request_started(&self) {
        self.requests.fetch_add(1, Ordering::Relaxed);
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        self.touch();
    }

    pub(crate) fn request_finished(&self) {
        self.in_flight.fetch_sub(1, Ordering::AcqRel);
        self.touch();
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

    /// Resolves when the connection should close: [`Cut::Idle`] before
    /// its first request `timeout` after accept (whatever trickled in), or
    /// `timeout` after its last request ended with none in flight;
    /// [`Cut::Stalled`] when a response has been unable to write for
    /// `timeout`.
    async fn idle(&self, timeout: Duration) -> Cut {
        let timeout_ms = timeout.as_millis() as u64;
        loop {
            if self.in_flight.load(Ordering::Acquire) > 0 {
                let limit_ms = timeout_ms.min(self.stall_limit_ms.load(Ordering::Relaxed));
                let since = self.stalled_since_ms.load(Ordering::Relaxed);
                if since != 0 && self.now_ms().saturating_sub(since) >= limit_ms {
                    return Cut::Stalled;
                }
                let wait = if since == 0 {
                    timeout_ms
                } else {
                    limit_ms.saturating_sub(self.now_ms() - since)
                };
                // A stall starting meanwhile wakes this up to time it.
                tokio::select! {
                    () = sleep(Duration::from_millis(wait.max(10))) => {}
                    () = self.stall_started.notified() => {}
                }
                continue;
            }
            let deadline = if self.requests.load(Ordering::Relaxed) == 0 {
                self.epoch + timeout
            } else {
                self.last_activity() + timeout
            };
            if Instant::now() >= deadline {
                return Cut::Idle;
            }
            sleep_until(deadline).await;
        }
    }
}

/// Why the watchdog closes a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cut {
    /// Nothing in flight for `timeout`.
    Idle,
    /// A response could not be written for `timeout`.
    Stalled,
}

/// Serves one accepted (and, for TLS, handshaken) connection until it closes.
pub(crate) async fn serve<I>(
    io: I,
    state: Arc<ConnState>,
    shared: Arc<Shared>,
    mut phase: watch::Receiver<Phase>,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let timeout = shared.config.timeout;
    let io = TokioIo::new(Activity {
        inner: crate::source_body::SourceBody::new(io, shared.config.source_clients),
        state: Arc::clone(&state),
    });
    let service = Service {
        shared: Arc::clone(&shared),
        conn: Arc::clone(&state),
    };
    let conn = shared.builder.serve_connection_with_upgrades(io, service);
    tokio::pin!(conn);
    let mut closing_since: Option<Instant> = None;
    let forever = Duration::from_secs(u64::from(u32::MAX));
    loop {
        let idle_for = timeout.unwrap_or(forever);
        tokio::select! {
            _ = conn.as_mut() => break,
            changed = phase.changed() => {
                let now = if changed.is_err() { Phase::Force } else { *phase.borrow_and_update() };
                match now {
                    Phase::Force => break,
                    Phase::Graceful if closing_since.is_none() => {
                        conn.as_mut().graceful_shutdown();
                        closing_since = Some(Instant::now());
                    }
                    _ => {}
                }
            }
            cut = state.idle(idle_for), if closing_since.is_none() && timeout.is_some() => {
                if cut == Cut::Stalled || state.requests.load(Ordering::Relaxed) == 0 {
                    // A reader that does not read, or a client that never
                    // completed a request head: nothing to finish.
                    break;
                }
                conn.as_mut().graceful_shutdown();
                closing_since = Some(Instant::now());
            }
            () = sleep_until(closing_since.map_or_else(Instant::now, |t| t + idle_for)),
                if closing_since.is_some() && timeout.is_some()
                    && state.in_flight.load(Ordering::Acquire) == 0 => {
                // An idle connection that did not close after shutdown was asked.
                break;
            }
        }
    }
}

pin_project_lite::pin_project! {
    /// Socket wrapper that records whether writes are going through.
    struct Activity<I> {
        #[pin]
        inner: I,
        state: Arc<ConnState>,
    }
}

impl<I: AsyncRead> AsyncRead for Activity<I> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        self.project().inner.poll_read(cx, buf)
    }
}

impl<I: AsyncWrite> AsyncWrite for Activity<I> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.project();
        let poll = this.inner.poll_write(cx, buf);
        note_write(this.state, &poll);
        poll
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.project();
        let poll = this.inner.poll_write_vectored(cx, bufs);
        note_write(this.state, &poll);
        poll
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.project().inner.poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.project().inner.poll_shutdown(cx)
    }
}

fn note_write(state: &ConnState, poll: &Poll<io::Result<usize>>) {
    match poll {
        Poll::Pending => state.write_refused(),
        Poll::Ready(_) => state.write_done(),
    }
}

//! What the tasks of one connection share: its requests in flight, when it
//! was last active, whether writes are refused, and from that the deadline
//! its watchdog waits for. A leaf: the service (one request) updates it,
//! the connection loop (`conn`) waits on it.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use http::StatusCode;
use tokio::sync::Notify;
use tokio::time::{Instant, sleep_until};

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

/// Why the watchdog closes a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cut {
    /// Nothing in flight for `timeout` (or no first request within it).
    Idle,
    /// A response could not be written for its stall limit.
    Stalled,
}

/// The state of one connection.
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
    /// Wakes the watchdog when its deadline may have moved: a request
    /// started or ended, writes started being refused, a stall limit was set.
    changed: Notify,
}

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
            changed: Notify::new(),
        }
    }

    /// Lowers the write-stall limit of this connection (see [`StallLimit`]).
    pub(crate) fn limit_stall(&self, limit: Duration) {
        let ms = u64::try_from(limit.as_millis()).unwrap_or(u64::MAX).max(1);
        self.stall_limit_ms.fetch_min(ms, Ordering::Relaxed);
        self.changed.notify_one();
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
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
            self.changed.notify_one();
        }
    }

    /// A write went through.
    pub(crate) fn write_done(&self) {
        self.stalled_since_ms.store(0, Ordering::Relaxed);
    }

    /// A request arrived: it is in flight until its response body ends.
    pub(crate) fn request_started(&self) {
        self.requests.fetch_add(1, Ordering::Relaxed);
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        self.touch();
        self.changed.notify_one();
    }

    /// A response body ended or was dropped.
    pub(crate) fn request_finished(&self) {
        self.in_flight.fetch_sub(1, Ordering::AcqRel);
        self.touch();
        self.changed.notify_one();
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

    /// The next cut as things stand, if nothing changes: a response that
    /// cannot write is cut its stall limit (the shorter of `timeout` and a
    /// [`StallLimit`]) after writes started being refused; with nothing in
    /// flight, a connection is cut `timeout` after accept before its first
    /// request, or `timeout` after its last request ended. `None`: a
    /// response is being written, no deadline.
    fn next_cut(&self, timeout: Duration) -> Option<(Instant, Cut)> {
        if self.busy() {
            let since = self.stalled_since_ms.load(Ordering::Relaxed);
            if since == 0 {
                return None;
            }
            let limit_ms = u64::try_from(timeout.as_millis())
                .unwrap_or(u64::MAX)
                .min(self.stall_limit_ms.load(Ordering::Relaxed));
            return Some((self.at(since.saturating_add(limit_ms)), Cut::Stalled));
        }
        let from = if self.requests() == 0 {
            self.epoch
        } else {
            self.at(self.last_activity_ms.load(Ordering::Relaxed))
        };
        Some((from + timeout, Cut::Idle))
    }

    /// Resolves when the connection should be cut (see `next_cut`). The
    /// deadline is recomputed whenever it may have moved, so a request that
    /// starts while the watchdog waits for the first-request deadline, or a
    /// response with a shorter [`StallLimit`], is timed from then on.
    pub(crate) async fn watch(&self, timeout: Duration) -> Cut {
        loop {
            // Created before the state is read: a change from now on wakes it.
            let changed = self.changed.notified();
            match self.next_cut(timeout) {
                Some((at, cut)) if Instant::now() >= at => return cut,
                Some((at, _)) => {
                    tokio::select! {
                        () = sleep_until(at) => {}
                        () = changed => {}
                    }
                }
                None => changed.await,
            }
        }
    }
}

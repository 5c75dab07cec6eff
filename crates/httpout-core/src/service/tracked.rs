//! A request from arrival to the end of its response body: counted in
//! flight on its connection, watched for stalls (whether hyper keeps taking
//! its body: the connection's watchdog ends a response hyper has owed a
//! poll for its stall limit, on HTTP/1.1 and HTTP/2 alike), and logged
//! when it ends (the request log's end line, and the cause of a server
//! error), and measured (its metrics: method, status class, duration,
//! bytes each way).

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use bytes::Bytes;
use http::{Method, StatusCode};
use http_body::{Frame, SizeHint};

use crate::body::{Body, BoxError};
use crate::conn::lean::LeanBody;
use crate::conn::state::{ConnState, Stream};
use crate::limit::Admission;
use crate::metrics::Metrics;
use crate::reqlog::{self, Record};

/// Marks a request in flight on its connection from arrival until its
/// response body ends or is dropped, then logs its end.
pub(super) struct RequestGuard {
    conn: Arc<ConnState>,
    /// This response, as the connection's watchdog sees it.
    pub(super) stream: Arc<Stream>,
    /// Boxed: a guard lives as long as its response (hours, for a live
    /// listener), and most servers log no requests.
    record: Option<Box<Record>>,
    /// The response's status, once made.
    status: Option<StatusCode>,
    bytes: u64,
    complete: bool,
    /// A server error's description, logged when the request ends.
    failure: Option<String>,
    metrics: Arc<Metrics>,
    method: Method,
    started: Instant,
    /// The request's place in its client's `maxp` count (through a
    /// trusted proxy), freed when it ends.
    place: Option<Admission>,
}

impl RequestGuard {
    /// Counts the request on `conn`; `complete`: it has no body to send
    /// (HEAD).
    pub(super) fn new(
        conn: Arc<ConnState>,
        record: Option<Record>,
        complete: bool,
        metrics: Arc<Metrics>,
        method: Method,
    ) -> Self {
        let stream = conn.request_started();
        Self {
            conn,
            stream,
            record: record.map(Box::new),
            status: None,
            bytes: 0,
            complete,
            failure: None,
            metrics,
            method,
            started: Instant::now(),
            place: None,
        }
    }

    /// Holds `place` until the request ends.
    pub(super) fn hold(&mut self, place: Admission) {
        self.place = Some(place);
    }

    /// Keeps a failure to log at the end (`None`: nothing to log).
    pub(super) fn failed(&mut self, failure: Option<String>) {
        self.failure = failure;
    }

    /// The signed-in user, for the log.
    pub(super) fn set_user(&mut self, user: Option<&str>) {
        if let Some(record) = &mut self.record {
            record.set_user(user);
        }
    }

    pub(super) fn with_status(mut self, status: StatusCode) -> Self {
        self.status = Some(status);
        self
    }
}

impl Drop for RequestGuard {
    fn drop(&mut self) {
        self.conn.request_finished(&self.stream);
        // A request whose client left before it was answered has no status.
        if let Some(status) = self.status {
            self.metrics
                .request(&self.method, status, self.started.elapsed());
        }
        if let Some(line) = &self.failure {
            reqlog::log_failure(line);
        }
        if let Some(record) = &self.record {
            record.end(self.status, self.bytes, self.complete);
        }
    }
}

/// A response body that reports its end to its [`RequestGuard`], and to
/// its connection's watchdog whether hyper owes it a poll: from the moment
/// the response is built (a client that never reads its body at all) and
/// after every chunk it hands out, until hyper asks for more.
pub(crate) struct TrackedBody {
    inner: Body,
    guard: RequestGuard,
}

impl TrackedBody {
    pub(super) fn new(inner: Body, guard: RequestGuard) -> Self {
        guard.conn.owed(&guard.stream);
        Self { inner, guard }
    }
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
        let guard = &mut this.guard;
        match &poll {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    guard.bytes += data.len() as u64;
                    guard.metrics.sent(data.len() as u64);
                }
                if this.inner.is_end_stream() {
                    guard.complete = true;
                    guard.conn.not_owed(&guard.stream);
                } else {
                    guard.conn.owed(&guard.stream);
                }
            }
            Poll::Ready(None) => {
                guard.complete = true;
                guard.conn.not_owed(&guard.stream);
            }
            // Waiting for its own data (a live edge, the disk), or failed.
            Poll::Pending | Poll::Ready(Some(Err(_))) => guard.conn.not_owed(&guard.stream),
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

impl LeanBody for TrackedBody {
    fn sent_directly(&mut self, n: u64) {
        let guard = &mut self.guard;
        guard.bytes += n;
        guard.metrics.sent(n);
        // Sent now: owed a poll from now on, as after a frame under hyper.
        guard.conn.owed(&guard.stream);
    }

    fn sent_all(&mut self) {
        self.guard.complete = true;
        self.guard.conn.not_owed(&self.guard.stream);
    }
}

impl Drop for TrackedBody {
    fn drop(&mut self) {
        self.guard.complete |= http_body::Body::is_end_stream(&self.inner);
    }
}

/// A request body that counts the bytes it receives into the metrics.
pub(super) struct CountedBody {
    inner: hyper::body::Incoming,
    metrics: Arc<Metrics>,
}

impl CountedBody {
    pub(super) fn new(inner: hyper::body::Incoming, metrics: Arc<Metrics>) -> Self {
        Self { inner, metrics }
    }
}

impl http_body::Body for CountedBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let poll = Pin::new(&mut self.inner).poll_frame(cx);
        if let Poll::Ready(Some(Ok(frame))) = &poll {
            if let Some(data) = frame.data_ref() {
                self.metrics.received(data.len() as u64);
            }
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

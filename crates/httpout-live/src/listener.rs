//! One listener: a response body that follows a stream's ring from a
//! start point, interleaving ICY metadata when asked.

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::Frame;
use httpout_core::metrics::{Gauged, MountMetrics};
use httpout_core::{Body, BoxError, Metrics};
use tokio::sync::watch;

use crate::hub::{Joined, Phase, Ring, Stream};
use crate::icy::Interleave;

/// At most this much is handed to hyper per frame (a listener catching up
/// after a burst gets few large writes rather than many small ones).
const FRAME_MAX: usize = 64 * 1024;

/// A listener's place in its stream.
struct Cursor {
    stream: Arc<Stream>,
    rx: watch::Receiver<Ring>,
    /// The next stream byte this listener needs.
    next: u64,
    icy: Option<Interleave>,
    peer: Option<SocketAddr>,
    /// Counted in the stream's listeners while this lives.
    _joined: Joined,
    /// Set once the drop has been counted and logged.
    dropped: bool,
    /// The body has ended (the stream ended, or the listener was dropped).
    done: bool,
    /// One past the stream's change epoch this listener's waker was last
    /// registered in ([`Stream::wake_on_change`]).
    epoch: u64,
    /// The mount's series in the server's metrics.
    metrics: MountMetrics,
    /// Counted in the mount's `httpout_live_listeners` while this lives.
    _listening: Gauged,
}

enum Step {
    Data(Bytes),
    Wait,
    End,
    Behind(u64),
}

impl Cursor {
    fn step(&mut self) -> Step {
        let ring = self.rx.borrow();
        if self.next < ring.front() {
            return Step::Behind(ring.head() - self.next);
        }
        match ring.read_from(self.next, FRAME_MAX) {
            Some(data) => Step::Data(data),
            None if ring.phase == Phase::Ended => Step::End,
            None => Step::Wait,
        }
    }

    /// Counts and logs a listener that fell too far behind, once.
    fn drop_behind(&mut self, behind: u64) {
        if self.dropped {
            return;
        }
        self.dropped = true;
        self.stream.stats.dropped.fetch_add(1, Ordering::Relaxed);
        self.metrics.dropped();
        let who = self
            .peer
            .map_or_else(|| "a listener".to_owned(), |p| p.to_string());
        tracing::info!(
            target: "httpout::live",
            "{who} on {} fell {behind} bytes behind the live point, dropped",
            self.stream.path()
        );
    }

    /// The next piece of the stream for this listener, with its ICY
    /// metadata; pending until the ring has one.
    fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Bytes, BoxError>>> {
        if self.done {
            return Poll::Ready(None);
        }
        loop {
            match self.step() {
                Step::Data(data) => {
                    self.next += data.len() as u64;
                    self.stream
                        .stats
                        .bytes_out
                        .fetch_add(data.len() as u64, Ordering::Relaxed);
                    self.metrics.sent(data.len() as u64);
                    let data = match &mut self.icy {
                        Some(icy) => {
                            let stream = &self.stream;
                            icy.apply(data, || {
                                let meta = stream.facts().meta;
                                (meta.title, meta.title_seq)
                            })
                        }
                        None => data,
                    };
                    return Poll::Ready(Some(Ok(data)));
                }
                Step::End => {
                    self.done = true;
                    return Poll::Ready(None);
                }
                Step::Behind(behind) => {
                    self.drop_behind(behind);
                    // An error ends the body: nothing more after it.
                    self.done = true;
                    return Poll::Ready(Some(Err("listener fell too far behind".into())));
                }
                Step::Wait => {
                    let before = self.epoch;
                    self.stream.wake_on_change(cx.waker(), &mut self.epoch);
                    if self.epoch == before {
                        // Registered already, and nothing changed since.
                        return Poll::Pending;
                    }
                    // Registered now: look again, a change may have come
                    // in between.
                }
            }
        }
    }
}

impl http_body::Body for Cursor {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        self.get_mut()
            .poll_next(cx)
            .map(|next| next.map(|r| r.map(Frame::data)))
    }

    fn is_end_stream(&self) -> bool {
        self.done
    }
}

impl Drop for Cursor {
    fn drop(&mut self) {
        // A listener that stopped reading is cut by its connection's stall
        // limit; it is counted here, as one that fell behind.
        let ring = self.rx.borrow();
        if self.next < ring.front() {
            let behind = ring.head() - self.next;
            drop(ring);
            self.drop_behind(behind);
        }
    }
}

/// The response body of a listener joining `stream` at `start`.
pub(crate) fn body(
    stream: &Arc<Stream>,
    start: u64,
    metaint: Option<u32>,
    peer: Option<SocketAddr>,
    metrics: &Metrics,
) -> Body {
    let metrics = metrics.live_mount(stream.path());
    let cursor = Cursor {
        _listening: metrics.listener(),
        metrics,
        rx: stream.subscribe(),
        next: start,
        icy: metaint.map(Interleave::new),
        peer,
        _joined: stream.join(),
        stream: Arc::clone(stream),
        dropped: false,
        done: false,
        epoch: 0,
    };
    Body::new(cursor)
}

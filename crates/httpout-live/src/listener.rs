//! One listener: a response body that follows a stream's ring from a
//! start point, interleaving ICY metadata when asked.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use bytes::Bytes;
use futures_util::StreamExt as _;
use http_body::Frame;
use http_body_util::StreamBody;
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
        let ring = self.rx.borrow_and_update();
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

    async fn next(mut self) -> Option<(Result<Bytes, BoxError>, Self)> {
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
                    return Some((Ok(data), self));
                }
                Step::End => return None,
                Step::Behind(behind) => {
                    self.drop_behind(behind);
                    return Some((Err("listener fell too far behind".into()), self));
                }
                Step::Wait => {
                    if self.rx.changed().await.is_err() {
                        return None;
                    }
                }
            }
        }
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
    };
    let frames = futures_util::stream::unfold(Some(cursor), |state| async move {
        let cursor = state?;
        match cursor.next().await {
            // An error ends the body: nothing more after it.
            Some((Err(e), cursor)) => {
                drop(cursor);
                Some((Err(e), None))
            }
            Some((Ok(data), cursor)) => Some((Ok(data), Some(cursor))),
            None => None,
        }
    })
    .map(|r| r.map(Frame::data));
    Body::new(StreamBody::new(frames))
}

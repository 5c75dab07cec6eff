//! One listener: a response body that follows a stream's ring from a
//! start point, interleaving ICY metadata when asked.
//!
//! A listener may first get the mount's intro, and may move between
//! streams without its connection noticing: to the mount's fallback when
//! its source leaves, back when the source returns (`fallback_override`).
//! A move happens between two chunks, and chunks start on frame
//! boundaries, so a player decodes on; ICY blocks keep their spacing, as
//! the interleaving counts the bytes the listener got, whatever stream
//! they came from.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::Frame;
use httpout_core::metrics::{Gauged, MountMetrics};
use httpout_core::{Body, BoxError, Metrics};
use tokio::sync::watch;

use crate::args::Amount;
use crate::hub::{Hub, Joined, ListenerInfo, Phase, Registration, Ring, Stream, Wanted};
use crate::icy::Interleave;
use crate::mounts::Mounts;

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
    /// Counted in the stream's listeners while this lives.
    _joined: Joined,
    /// Set once the drop has been counted and logged.
    dropped: bool,
    /// Moved to another stream: skip to its next frame start.
    resync: bool,
    /// The body has ended (the stream ended, or the listener was dropped).
    done: bool,
    /// Where this listener's waker waits for the stream's next change
    /// ([`Stream::wake_on_change`]).
    reg: Registration,
    /// The mount's series in the server's metrics.
    metrics: MountMetrics,
    /// Counted in the mount's `httpout_live_listeners` while this lives.
    _listening: Gauged,
    /// What few listeners have (an intro, a time limit, ...), boxed.
    extras: Option<Box<Extras>>,
    /// The fallback chain this listener may move along, when its mount has
    /// one.
    follow: Option<Box<Follow>>,
    /// This listener in the admin API (its id, bytes, kill and move).
    info: Arc<ListenerInfo>,
    /// The server's metrics, for the series of a mount moved to.
    all_metrics: Arc<Metrics>,
}

/// The parts of a listener that few have.
#[derive(Default)]
struct Extras {
    /// What is left of the intro, sent before the stream, and the burst
    /// the stream then starts with.
    intro: Option<(Bytes, Amount)>,
    /// When the listener's time is up (`auth_url`'s time limit).
    limit: Option<Pin<Box<tokio::time::Sleep>>>,
    /// Wanting its own mount while on a fallback (see [`Stream::want`]).
    _wanted: Option<Wanted>,
    /// What to tell the mount's `auth_url` when the listener leaves.
    leave: Option<Box<Leave>>,
}

/// The `listener_remove` a listener admitted by `auth_url` owes it.
pub(crate) struct Leave {
    pub(crate) url: http::Uri,
    /// The `listener_add` form, its action changed; `duration` is added.
    pub(crate) form: Vec<(&'static str, String)>,
    /// When it was admitted.
    pub(crate) since: std::time::Instant,
}

/// A listener's mount, whose fallback chain it may move along.
struct Follow {
    hub: Hub,
    mounts: Arc<Mounts>,
    /// The mount the listener asked for.
    home: String,
    /// The hub's count of live changes last looked at.
    seen: u64,
    /// See [`Cursor::reg`], for the hub's live changes.
    reg: Registration,
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
        if self.resync {
            match ring.sync_from(self.next) {
                Some(start) => {
                    self.next = start;
                    self.resync = false;
                }
                // Nothing to start on yet: what is there is skipped.
                None if ring.phase == Phase::Ended => return Step::End,
                None => {
                    self.next = ring.head();
                    return Step::Wait;
                }
            }
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
            .info
            .addr
            .map_or_else(|| "a listener".to_owned(), |p| p.to_string());
        tracing::info!(
            target: "httpout::live",
            "{who} on {} fell {behind} bytes behind the live point, dropped",
            self.stream.path()
        );
    }

    /// Moves to `to`'s live point (nothing to do if it is already there).
    fn switch(&mut self, to: Arc<Stream>) {
        if Arc::ptr_eq(&to, &self.stream) {
            return;
        }
        let who = self
            .info
            .addr
            .map_or_else(|| "a listener".to_owned(), |p| p.to_string());
        tracing::info!(
            target: "httpout::live",
            "{who} moved from {} to {}",
            self.stream.path(),
            to.path()
        );
        self.rx = to.subscribe();
        self.next = to.start_point(Amount::Bytes(0));
        self.resync = true;
        self.stream.forget_waker(&self.reg);
        self.reg = Registration::default();
        self.metrics = self.all_metrics.live_mount(to.path());
        self._listening = self.metrics.listener();
        self._joined = to.join(&self.info);
        // Away from its own mount, the listener still wants it: an
        // on-demand relay there connects for it.
        let wanted = self.follow.as_ref().and_then(|f| {
            (f.home != to.path())
                .then(|| f.hub.get(&f.home))
                .flatten()
                .map(|home| home.want())
        });
        if wanted.is_some() || self.extras.is_some() {
            self.extras.get_or_insert_with(Box::default)._wanted = wanted;
        }
        self.stream = to;
        if let Some(icy) = &mut self.icy {
            icy.resend_title();
        }
    }

    /// On a fallback chain: the stream to move to, if any. A listener
    /// leaves a stream with no source once it has read what the ring
    /// holds (`drained`); it leaves a live fallback only for a mount
    /// before it in the chain whose source came back with
    /// `fallback_override`.
    fn move_to(&mut self, drained: bool) -> Option<Arc<Stream>> {
        let follow = self.follow.as_mut()?;
        let changes = follow.hub.live_changes();
        let looked = std::mem::replace(&mut follow.seen, changes) == changes;
        let live = self.stream.is_live();
        if live && looked {
            return None;
        }
        let chain = follow.hub.chain(&follow.home);
        let (rank, to) = chain
            .iter()
            .enumerate()
            .find_map(|(i, p)| follow.hub.live(p).map(|s| (i, s)))?;
        if Arc::ptr_eq(&to, &self.stream) {
            return None;
        }
        let leave = if live {
            let here = chain.iter().position(|p| p == self.stream.path());
            here.is_none_or(|here| rank < here)
                && follow
                    .mounts
                    .get(to.path())
                    .is_some_and(|m| m.fallback_override)
        } else {
            drained
        };
        leave.then_some(to)
    }

    /// The next piece of the intro, if any is left.
    fn next_intro(&mut self) -> Option<Bytes> {
        let extras = self.extras.as_mut()?;
        let (intro, burst) = extras.intro.as_mut()?;
        let piece = intro.split_to(intro.len().min(FRAME_MAX));
        if intro.is_empty() {
            let burst = *burst;
            extras.intro = None;
            // The stream from where a new listener would start now.
            self.next = self.stream.start_point(burst);
        }
        (!piece.is_empty()).then_some(piece)
    }

    /// The next piece of the stream for this listener, with its ICY
    /// metadata; pending until the ring has one.
    fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Bytes, BoxError>>> {
        if self.done {
            return Poll::Ready(None);
        }
        // Looked at again after each new registration of the waker: a
        // kill, a move or a change that came while it was not registered
        // is not missed.
        loop {
            if self
                .extras
                .as_mut()
                .and_then(|e| e.limit.as_mut())
                .is_some_and(|t| t.as_mut().poll(cx).is_ready())
            {
                self.done = true;
                tracing::info!(target: "httpout::live", "listener {}: its time limit is up", self.info.id);
                return Poll::Ready(Some(Err("time limit reached".into())));
            }
            if self.info.killed() {
                self.done = true;
                tracing::info!(target: "httpout::live", "listener {} killed by an admin", self.info.id);
                return Poll::Ready(Some(Err("killed by an admin".into())));
            }
            if let Some(piece) = self.next_intro() {
                return Poll::Ready(Some(Ok(self.send(piece))));
            }
            if let Some(to) = self.info.take_move().or_else(|| self.move_to(false)) {
                self.switch(to);
            }
            match self.step() {
                Step::Data(data) => {
                    self.next += data.len() as u64;
                    return Poll::Ready(Some(Ok(self.send(data))));
                }
                Step::End => {
                    if let Some(to) = self.move_to(true) {
                        self.switch(to);
                        continue;
                    }
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
                    if let Some(to) = self.move_to(true) {
                        self.switch(to);
                        continue;
                    }
                    let before = self.reg;
                    self.stream.wake_on_change(cx.waker(), &mut self.reg);
                    let mut registered = self.reg != before;
                    if let Some(f) = &mut self.follow {
                        let before = f.reg;
                        f.hub.wake_on_live_change(cx.waker(), &mut f.reg);
                        registered |= f.reg != before;
                    }
                    if !registered {
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

impl Cursor {
    /// Counts `data` as sent and interleaves its ICY blocks.
    fn send(&mut self, data: Bytes) -> Bytes {
        self.info
            .bytes
            .fetch_add(data.len() as u64, Ordering::Relaxed);
        self.stream
            .stats
            .bytes_out
            .fetch_add(data.len() as u64, Ordering::Relaxed);
        self.metrics.sent(data.len() as u64);
        match &mut self.icy {
            Some(icy) => {
                let stream = &self.stream;
                icy.apply(data, || {
                    let meta = stream.facts().meta;
                    (meta.title, meta.title_seq)
                })
            }
            None => data,
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
        self.stream.forget_waker(&self.reg);
        if let Some(f) = &self.follow {
            f.hub.forget_live_waker(&f.reg);
        }
        if let Some(leave) = self.extras.as_mut().and_then(|e| e.leave.take()) {
            let mut form = leave.form;
            form.push(("duration", leave.since.elapsed().as_secs().to_string()));
            crate::auth_url::notify(&leave.url, form);
        }
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

/// How a listener joins: where, from where, with what.
pub(crate) struct Join<'a> {
    /// The stream it gets first.
    pub(crate) stream: &'a Arc<Stream>,
    /// Counted in on `stream` (see [`Stream::try_join`]) with `info`.
    pub(crate) joined: Joined,
    pub(crate) info: Arc<ListenerInfo>,
    /// Where in the stream it starts, and the burst to start with after
    /// an intro.
    pub(crate) start: u64,
    pub(crate) burst: Amount,
    pub(crate) metaint: Option<u32>,
    pub(crate) intro: Option<Bytes>,
    /// The hub, settings and home mount, when the listener's mount has a
    /// fallback.
    pub(crate) follow: Option<(Hub, Arc<Mounts>, String)>,
    /// How long it may listen (`auth_url`'s time limit).
    pub(crate) time_limit: Option<std::time::Duration>,
    /// What to tell `auth_url` when it leaves.
    pub(crate) leave: Option<Box<Leave>>,
    /// Its own mount, wanted while it starts on a fallback.
    pub(crate) wanted: Option<Wanted>,
}

/// The response body of a listener.
pub(crate) fn body(join: Join<'_>, metrics: &Arc<Metrics>) -> Body {
    let stream = join.stream;
    let mount_metrics = metrics.live_mount(stream.path());
    let follow = join.follow.map(|(hub, mounts, home)| {
        Box::new(Follow {
            seen: hub.live_changes(),
            hub,
            mounts,
            home,
            reg: Registration::default(),
        })
    });
    let extras = Extras {
        intro: join
            .intro
            .filter(|b| !b.is_empty())
            .map(|b| (b, join.burst)),
        limit: join.time_limit.map(|t| Box::pin(tokio::time::sleep(t))),
        _wanted: join.wanted,
        leave: join.leave,
    };
    let some = extras.intro.is_some()
        || extras.limit.is_some()
        || extras._wanted.is_some()
        || extras.leave.is_some();
    let extras = some.then(|| Box::new(extras));
    let cursor = Cursor {
        _listening: mount_metrics.listener(),
        metrics: mount_metrics,
        rx: stream.subscribe(),
        next: join.start,
        icy: join.metaint.map(Interleave::new),
        _joined: join.joined,
        stream: Arc::clone(stream),
        dropped: false,
        resync: false,
        done: false,
        reg: Registration::default(),
        extras,
        follow,
        info: join.info,
        all_metrics: Arc::clone(metrics),
    };
    Body::new(cursor)
}

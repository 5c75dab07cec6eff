//! The broadcast hub: per mount, one ring of recent chunks that every
//! listener reads from at its own pace.
//!
//! A [`Stream`] is one mount (`/live.mp3`). Its input appends [`Chunk`]s to
//! the ring; a listener is a cursor (a byte offset) into it. The ring keeps
//! just enough to serve the slowest listener that is still within
//! `max_async_buf`: a listener whose next byte has been dropped from the
//! ring has fallen too far behind and is dropped (Icecast's queue-size
//! limit). Chunks are shared [`Bytes`], never copied per listener, so
//! memory is the ring, whatever the number of listeners.
//!
//! The ring sits in a [`watch`] channel: appending wakes every waiting
//! listener once, and a listener reads under the channel's read lock.
//!
//! A stream that has ended and has no listener left is removed from the
//! hub, ring and all, so mounts that come and go (source clients, `-i`
//! inputs that end) do not pile up; an `-i` input with `reopen` waits
//! between its runs and never ends, so its mount stays.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::task::Waker;
use std::time::{Duration, Instant, SystemTime};

use crate::args::Amount;
use bytes::Bytes;
use tokio::sync::{Notify, watch};

use crate::error::LiveError;
use crate::icy::StreamMeta;
use crate::media::AudioInfo;
use crate::mounts::MAX_CHAIN;

/// Paths of removed streams remembered, so that a late listener is told
/// the stream is over rather than unknown (paths only, no ring).
const ENDED_PATHS: usize = 256;

/// Hard cap of a ring, whatever the lag limit says (a limit in seconds on a
/// stream whose timing is unknown must not grow it without bound).
pub(crate) const MAX_RING_BYTES: u64 = 32 << 20;

/// A run of stream bytes as the input published it.
#[derive(Debug, Clone)]
pub(crate) struct Chunk {
    /// Offset of the first byte in the stream.
    pub(crate) offset: u64,
    pub(crate) bytes: Bytes,
    /// Starts at a frame or packet boundary: a listener may begin here.
    pub(crate) sync: bool,
    /// Media time these bytes last (measured when the format has none).
    pub(crate) duration: Duration,
}

/// Whether a stream has an input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Its input is sending.
    Live,
    /// No input right now; one is expected (`hold`, `reopen`, an input
    /// being opened). Listeners wait.
    Waiting,
    /// Over: listeners end once they have read the ring.
    Ended,
}

/// The recent bytes of a stream.
#[derive(Debug)]
pub(crate) struct Ring {
    chunks: VecDeque<Chunk>,
    /// Offset of the next byte to be published (= bytes ever published).
    head: u64,
    /// Sum of the chunk lengths and durations in the ring.
    bytes: u64,
    time: Duration,
    pub(crate) phase: Phase,
}

impl Ring {
    fn new(phase: Phase) -> Self {
        Self {
            chunks: VecDeque::new(),
            head: 0,
            bytes: 0,
            time: Duration::ZERO,
            phase,
        }
    }

    /// Offset of the oldest byte still held.
    pub(crate) fn front(&self) -> u64 {
        self.chunks.front().map_or(self.head, |c| c.offset)
    }

    /// The next byte to be published.
    pub(crate) fn head(&self) -> u64 {
        self.head
    }

    /// Appends a chunk, then drops from the front what no listener within
    /// `keep` can still need.
    fn push(&mut self, bytes: Bytes, sync: bool, duration: Duration, keep: Amount) {
        let len = bytes.len() as u64;
        self.chunks.push_back(Chunk {
            offset: self.head,
            bytes,
            sync,
            duration,
        });
        self.head += len;
        self.bytes += len;
        self.time += duration;
        while let Some(front) = self.chunks.front() {
            if self.chunks.len() == 1 {
                break;
            }
            let rest_bytes = self.bytes - front.bytes.len() as u64;
            let rest_time = self.time.saturating_sub(front.duration);
            let enough = match keep {
                Amount::Bytes(n) => rest_bytes >= n,
                Amount::Time(t) => rest_time >= t,
            };
            if !enough && self.bytes <= MAX_RING_BYTES {
                break;
            }
            self.bytes -= front.bytes.len() as u64;
            self.time = rest_time;
            self.chunks.pop_front();
        }
    }

    /// Where a new listener starts: the latest chunk boundary at least
    /// `burst` before the live point where a frame starts (the oldest such
    /// boundary when the ring holds less).
    pub(crate) fn burst_start(&self, burst: Amount) -> u64 {
        let mut start = self.head;
        let (mut bytes, mut time) = (0u64, Duration::ZERO);
        let reached = |bytes: u64, time: Duration| match burst {
            Amount::Bytes(n) => bytes >= n,
            Amount::Time(t) => time >= t,
        };
        if reached(0, Duration::ZERO) {
            return start;
        }
        for c in self.chunks.iter().rev() {
            bytes += c.bytes.len() as u64;
            time += c.duration;
            if c.sync {
                start = c.offset;
                if reached(bytes, time) {
                    break;
                }
            }
        }
        start
    }

    /// The first chunk at or after `cursor` where a frame starts.
    pub(crate) fn sync_from(&self, cursor: u64) -> Option<u64> {
        let first = self.chunks.partition_point(|c| c.offset < cursor);
        self.chunks
            .range(first..)
            .find(|c| c.sync)
            .map(|c| c.offset)
    }

    /// Bytes from `cursor` on, at most `max` (whole chunks, or one chunk
    /// when it alone is larger); `None` when there is nothing new.
    pub(crate) fn read_from(&self, cursor: u64, max: usize) -> Option<Bytes> {
        let first = self
            .chunks
            .partition_point(|c| c.offset + c.bytes.len() as u64 <= cursor);
        let chunk = self.chunks.get(first)?;
        let skip = usize::try_from(cursor.saturating_sub(chunk.offset)).unwrap_or(usize::MAX);
        let head = chunk.bytes.slice(skip.min(chunk.bytes.len())..);
        let more = self.chunks.range(first + 1..);
        let extra: usize = more
            .clone()
            .map(|c| c.bytes.len())
            .scan(head.len(), |acc, n| {
                *acc += n;
                (*acc <= max).then_some(n)
            })
            .count();
        if extra == 0 {
            return Some(head);
        }
        let mut out = Vec::with_capacity(max.min(head.len() + 64 * 1024));
        out.extend_from_slice(&head);
        for c in more.take(extra) {
            out.extend_from_slice(&c.bytes);
        }
        Some(Bytes::from(out))
    }
}

/// Counters of a stream, for the status page and the log.
#[derive(Debug, Default)]
pub(crate) struct Stats {
    pub(crate) bytes_in: AtomicU64,
    pub(crate) bytes_out: AtomicU64,
    pub(crate) listener_peak: AtomicU64,
    pub(crate) dropped: AtomicU64,
    pub(crate) connections: AtomicU64,
}

/// Who feeds a stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Feed {
    /// An `-i` input of the command line: HTTP sources may not take it.
    Input,
    /// HTTP source clients.
    Http,
}

/// The facts of a stream that its input tells (content type, ICE values,
/// title), changed under a lock when a source (re)connects or updates.
#[derive(Debug, Clone)]
pub(crate) struct Facts {
    pub(crate) content_type: String,
    pub(crate) audio: Option<AudioInfo>,
    pub(crate) meta: StreamMeta,
    /// Measured bytes per second of media, for limits given in seconds.
    pub(crate) byte_rate: Option<u64>,
    /// The HTTP source's address and `User-Agent` (none for `-i` inputs).
    pub(crate) source_ip: Option<std::net::IpAddr>,
    pub(crate) source_agent: Option<String>,
}

impl Facts {
    /// The facts of a new input: its type and ICE values, with the
    /// configured title when it gives none.
    pub(crate) fn new(content_type: String, mut meta: StreamMeta, title: Option<&str>) -> Self {
        if let (None, Some(t)) = (&meta.title, title) {
            meta.set_title(t);
        }
        Self {
            content_type,
            audio: None,
            meta,
            byte_rate: None,
            source_ip: None,
            source_agent: None,
        }
    }
}

/// Bytes of a listener's `User-Agent` kept for the admin API.
const USER_AGENT_MAX: usize = 256;

/// One listener as the admin API sees and steers it.
#[derive(Debug)]
pub(crate) struct ListenerInfo {
    /// Unique in the server, from 1.
    pub(crate) id: u64,
    /// The client's address (behind trusted proxies, the real client's).
    pub(crate) addr: Option<SocketAddr>,
    /// Shared with the listener before it when the same (most listeners
    /// come from a few players).
    pub(crate) user_agent: Arc<str>,
    /// When it connected, in seconds of the hub's clock ([`Hub::clock`]).
    since: u32,
    /// Bytes sent to it, intro and every stream it was on.
    pub(crate) bytes: AtomicU64,
    /// Set by `killclient` (and `killsource`'s listeners are not killed:
    /// they follow the mount's fallback, or end with the stream).
    killed: AtomicBool,
    /// Set by `moveclients`: the stream to move to.
    move_to: Mutex<Option<Arc<Stream>>>,
    /// `move_to` holds a stream: looked at on every poll of the listener,
    /// so that the lock is taken only when there is a move.
    moving: AtomicBool,
}

impl ListenerInfo {
    /// A new listener's record, with the next id of `hub`.
    pub(crate) fn new(hub: &Hub, addr: Option<SocketAddr>, user_agent: &str) -> Arc<Self> {
        let mut cut = USER_AGENT_MAX.min(user_agent.len());
        while !user_agent.is_char_boundary(cut) {
            cut -= 1;
        }
        let user_agent = {
            let mut last = hub
                .shared
                .last_agent
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            match &*last {
                Some(a) if **a == user_agent[..cut] => Arc::clone(a),
                _ => {
                    let a: Arc<str> = user_agent[..cut].into();
                    *last = Some(Arc::clone(&a));
                    a
                }
            }
        };
        Arc::new(Self {
            id: hub.shared.next_id.fetch_add(1, Ordering::Relaxed) + 1,
            addr,
            user_agent,
            since: hub.clock(),
            bytes: AtomicU64::new(0),
            killed: AtomicBool::new(false),
            move_to: Mutex::new(None),
            moving: AtomicBool::new(false),
        })
    }

    /// How long it has been connected.
    pub(crate) fn connected(&self, hub: &Hub) -> Duration {
        Duration::from_secs(u64::from(hub.clock().saturating_sub(self.since)))
    }

    /// Whether `killclient` asked for this listener's end.
    pub(crate) fn killed(&self) -> bool {
        self.killed.load(Ordering::Acquire)
    }

    /// The stream `moveclients` asked this listener to move to, once.
    pub(crate) fn take_move(&self) -> Option<Arc<Stream>> {
        if !self.moving.swap(false, Ordering::AcqRel) {
            return None;
        }
        self.move_to
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
    }
}

/// One mount: its ring, its listeners, its facts.
#[derive(Debug)]
pub struct Stream {
    path: String,
    pub(crate) feed: Feed,
    ring: watch::Sender<Ring>,
    /// The listeners waiting for the ring to change (see [`Waiters`]).
    waiters: Waiters,
    listeners: watch::Sender<u64>,
    facts: Mutex<Facts>,
    pub(crate) stats: Stats,
    started: SystemTime,
    hub: std::sync::Weak<HubShared>,
    /// The listeners on this stream, by id.
    clients: Mutex<BTreeMap<u64, Arc<ListenerInfo>>>,
    /// Listeners of this mount that are on its fallback meanwhile
    /// ([`Stream::want`]).
    demand: watch::Sender<u64>,
    /// `killsource` asked the HTTP source to stop.
    stop_source: (AtomicBool, Notify),
}

impl Stream {
    /// The mount path, e.g. `/live.mp3`.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// Listeners connected now.
    pub fn listeners(&self) -> u64 {
        *self.listeners.borrow()
    }

    /// Bytes published to listeners so far (the status pages' `bytes_in`):
    /// what the inputs sent, once its batch went out.
    pub fn bytes_in(&self) -> u64 {
        self.stats.bytes_in.load(Ordering::Relaxed)
    }

    /// A listener's view of the ring.
    pub(crate) fn subscribe(&self) -> watch::Receiver<Ring> {
        self.ring.subscribe()
    }

    pub(crate) fn facts(&self) -> Facts {
        self.facts
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    pub(crate) fn update_facts(&self, f: impl FnOnce(&mut Facts)) {
        f(&mut self.facts.lock().unwrap_or_else(PoisonError::into_inner));
    }

    pub(crate) fn phase(&self) -> Phase {
        self.ring.borrow().phase
    }

    pub(crate) fn set_phase(&self, phase: Phase) {
        let mut was_live = false;
        if self.ring.send_if_modified(|r| {
            let changed = r.phase != phase;
            was_live = r.phase == Phase::Live;
            r.phase = phase;
            changed
        }) {
            self.waiters.wake_all();
            if was_live || phase == Phase::Live {
                if let Some(hub) = self.hub.upgrade() {
                    hub.live_changed();
                }
            }
        }
        if phase == Phase::Ended {
            self.retire();
            self.poke_hub();
        }
    }

    /// Where a new listener starts, given the burst asked for.
    pub(crate) fn start_point(&self, burst: Amount) -> u64 {
        self.ring.borrow().burst_start(burst)
    }

    /// Publishes a chunk to every listener.
    pub(crate) fn publish(&self, bytes: Bytes, sync: bool, duration: Duration, keep: Amount) {
        if bytes.is_empty() {
            return;
        }
        self.stats
            .bytes_in
            .fetch_add(bytes.len() as u64, Ordering::Relaxed);
        self.ring
            .send_modify(|r| r.push(bytes, sync, duration, keep));
        self.waiters.wake_all();
    }

    /// Whether a source feeds the stream now.
    pub(crate) fn is_live(&self) -> bool {
        self.phase() == Phase::Live
    }

    /// Counts a listener in unless `max` are there already (checked and
    /// counted in one step: the cap holds however many join at once).
    pub(crate) fn try_join(
        self: &Arc<Self>,
        max: Option<u64>,
        info: &Arc<ListenerInfo>,
    ) -> Option<Joined> {
        let mut now = None;
        self.listeners.send_if_modified(|n| {
            if max.is_some_and(|m| *n >= m) {
                return false;
            }
            *n += 1;
            now = Some(*n);
            true
        });
        now.map(|now| self.counted_in(now, info))
    }

    /// The guard of a listener just counted in, `now` listening.
    fn counted_in(self: &Arc<Self>, now: u64, info: &Arc<ListenerInfo>) -> Joined {
        self.stats.connections.fetch_add(1, Ordering::Relaxed);
        self.stats.listener_peak.fetch_max(now, Ordering::Relaxed);
        self.clients
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(info.id, Arc::clone(info));
        Joined {
            stream: Arc::clone(self),
            id: info.id,
        }
    }

    /// The listeners on this stream now, by id.
    pub(crate) fn clients(&self) -> Vec<Arc<ListenerInfo>> {
        self.clients
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
            .cloned()
            .collect()
    }

    /// Ends listener `id` (`killclient`): false if it is not here.
    pub(crate) fn kill_client(&self, id: u64) -> bool {
        let found = self
            .clients
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&id)
            .map(|c| c.killed.store(true, Ordering::Release))
            .is_some();
        self.waiters.wake_all();
        found
    }

    /// Moves every listener of this stream to `to` (`moveclients`): each
    /// goes once it has written what it holds, at `to`'s next frame start.
    pub(crate) fn move_clients(&self, to: &Arc<Self>) -> usize {
        let clients = self.clients();
        for c in &clients {
            *c.move_to.lock().unwrap_or_else(PoisonError::into_inner) = Some(Arc::clone(to));
            c.moving.store(true, Ordering::Release);
        }
        self.waiters.wake_all();
        clients.len()
    }

    /// Asks the HTTP source feeding this stream to stop (`killsource`).
    pub(crate) fn stop_source(&self) {
        self.stop_source.0.store(true, Ordering::Release);
        self.stop_source.1.notify_waiters();
    }

    /// Resolves once [`Stream::stop_source`] has been called since the
    /// current source attached.
    pub(crate) async fn source_stopped(&self) {
        loop {
            let notified = self.stop_source.1.notified();
            if self.stop_source.0.load(Ordering::Acquire) {
                return;
            }
            notified.await;
        }
    }

    /// Wakes `waker` at the ring's next change, unless it is already to be
    /// woken (`epoch`: the listener's last registration, updated). To be
    /// called before the ring is read, so that no change is missed.
    pub(crate) fn wake_on_change(&self, waker: &Waker, reg: &mut Registration) {
        self.waiters.register(waker, reg);
    }

    /// Takes back a registration of [`Stream::wake_on_change`] (the
    /// listener leaves).
    pub(crate) fn forget_waker(&self, reg: &Registration) {
        self.waiters.unregister(reg);
    }

    /// Waits until at least one listener is connected (`hold`), here or
    /// on the fallback while wanting this mount.
    pub(crate) async fn wait_for_listener(&self) {
        let mut here = self.listeners.subscribe();
        let mut away = self.demand.subscribe();
        tokio::select! {
            _ = here.wait_for(|n| *n > 0) => {}
            _ = away.wait_for(|n| *n > 0) => {}
        }
    }

    /// Whether anyone listens to this mount: here, or on its fallback
    /// while wanting it.
    pub(crate) fn wanted(&self) -> bool {
        self.listeners() > 0 || *self.demand.borrow() > 0
    }

    /// A listener of this mount on its fallback meanwhile: an on-demand
    /// relay here connects for it (and the guard counts it out).
    pub(crate) fn want(self: &Arc<Self>) -> Wanted {
        self.demand.send_modify(|n| *n += 1);
        Wanted(Arc::clone(self))
    }

    /// Counts a listener in; the returned guard counts it out.
    pub(crate) fn join(self: &Arc<Self>, info: &Arc<ListenerInfo>) -> Joined {
        let mut now = 0;
        self.listeners.send_modify(|n| {
            *n += 1;
            now = *n;
        });
        self.counted_in(now, info)
    }

    /// When the stream started (its first input).
    pub(crate) fn started(&self) -> SystemTime {
        self.started
    }

    /// Removes this stream from its hub when it has ended and nobody
    /// listens (and the hub still holds this very stream at its path).
    fn retire(&self) {
        let Some(hub) = self.hub.upgrade() else {
            return;
        };
        let mut streams = hub.streams.lock().unwrap_or_else(PoisonError::into_inner);
        let current = streams
            .get(&self.path)
            .is_some_and(|s| std::ptr::eq(Arc::as_ptr(s), self));
        if current && self.phase() == Phase::Ended && self.listeners() == 0 {
            streams.remove(&self.path);
            let mut ended = hub.ended.lock().unwrap_or_else(PoisonError::into_inner);
            if ended.len() >= ENDED_PATHS {
                ended.pop_front();
            }
            ended.push_back(self.path.clone());
        }
    }

    fn poke_hub(&self) {
        if let Some(hub) = self.hub.upgrade() {
            hub.changed.notify_waiters();
        }
    }
}

/// The wakers of the listeners waiting for a stream's ring to change,
/// woken (and forgotten) together at each change. A listener's body is
/// polled by its connection's task, so it registers the same waker each
/// time: once per change is enough, which its [`Registration`] tells. A
/// waiter list costs a listener one waker while it waits, where a `watch`
/// future would cost it a future of its own for its whole life. A
/// listener that goes away takes its waker out (its slot is reused), so a
/// stream that does not change for long (a waiting mount, a quiet fallback
/// chain) holds the wakers of its present listeners only.
#[derive(Debug, Default)]
struct Waiters(Mutex<WaiterList>);

#[derive(Debug, Default)]
struct WaiterList {
    /// Bumped at each change: registrations before it have been woken.
    epoch: u64,
    slots: Vec<Option<Waker>>,
    /// Slots emptied by listeners gone, to reuse.
    free: Vec<usize>,
}

/// Where a listener's waker is in a waiter list, and for which change.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Registration {
    /// One past the epoch of the registration (0: none yet).
    epoch: u64,
    slot: usize,
}

impl Waiters {
    /// Registers `waker` unless it is already to be woken at the next
    /// change.
    fn register(&self, waker: &Waker, reg: &mut Registration) {
        let mut list = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if reg.epoch == list.epoch + 1 {
            return;
        }
        let slot = match list.free.pop() {
            Some(slot) => slot,
            None => {
                list.slots.push(None);
                list.slots.len() - 1
            }
        };
        list.slots[slot] = Some(waker.clone());
        *reg = Registration {
            epoch: list.epoch + 1,
            slot,
        };
    }

    /// Takes a listener's waker out, if it is still waiting.
    fn unregister(&self, reg: &Registration) {
        let mut list = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if reg.epoch == list.epoch + 1 && list.slots.get(reg.slot).is_some_and(Option::is_some) {
            list.slots[reg.slot] = None;
            list.free.push(reg.slot);
        }
    }

    fn wake_all(&self) {
        let wakers = {
            let mut list = self.0.lock().unwrap_or_else(PoisonError::into_inner);
            list.epoch += 1;
            list.free.clear();
            let capacity = list.slots.len();
            std::mem::replace(&mut list.slots, Vec::with_capacity(capacity))
        };
        for waker in wakers.into_iter().flatten() {
            waker.wake();
        }
    }
}

/// A listener wanting a mount it is not on ([`Stream::want`]).
#[derive(Debug)]
pub(crate) struct Wanted(Arc<Stream>);

impl Drop for Wanted {
    fn drop(&mut self) {
        self.0.demand.send_modify(|n| *n = n.saturating_sub(1));
    }
}

/// A listener counted in [`Stream::join`]; counts it out when dropped.
#[derive(Debug)]
pub(crate) struct Joined {
    stream: Arc<Stream>,
    id: u64,
}

impl Drop for Joined {
    fn drop(&mut self) {
        let s = &self.stream;
        s.clients
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&self.id);
        s.listeners.send_modify(|n| *n = n.saturating_sub(1));
        s.retire();
        s.poke_hub();
    }
}

#[derive(Debug)]
struct HubShared {
    streams: Mutex<HashMap<String, Arc<Stream>>>,
    /// Poked when a stream ends or a listener leaves (`quit`).
    changed: Notify,
    /// A stream has been made (ended streams leave the map).
    seen: AtomicBool,
    /// Paths of the last removed streams, oldest first.
    ended: Mutex<VecDeque<String>>,
    /// Bumped each time a stream goes live or stops being live, so that
    /// listeners on a fallback chain look again (see [`Hub::live_changes`]).
    live_gen: AtomicU64,
    /// Listeners on a fallback chain waiting for such a change.
    live_waiters: Waiters,
    /// The last listener id given.
    next_id: AtomicU64,
    /// Each mount's fallback (`fallback`, `/admin/fallbacks`).
    fallbacks: RwLock<HashMap<String, String>>,
    /// The last listener's user agent, shared with the next when the same.
    last_agent: Mutex<Option<Arc<str>>>,
}

impl HubShared {
    fn live_changed(&self) {
        self.live_gen.fetch_add(1, Ordering::AcqRel);
        self.live_waiters.wake_all();
    }
}

/// Every mount of a server.
#[derive(Debug, Clone)]
pub struct Hub {
    shared: Arc<HubShared>,
    started: Instant,
    started_at: SystemTime,
}

impl Default for Hub {
    fn default() -> Self {
        Self::new()
    }
}

impl Hub {
    /// An empty hub.
    pub fn new() -> Self {
        Self {
            shared: Arc::new(HubShared {
                streams: Mutex::new(HashMap::new()),
                changed: Notify::new(),
                seen: AtomicBool::new(false),
                ended: Mutex::new(VecDeque::new()),
                live_gen: AtomicU64::new(0),
                live_waiters: Waiters::default(),
                next_id: AtomicU64::new(0),
                fallbacks: RwLock::new(HashMap::new()),
                last_agent: Mutex::new(None),
            }),
            started: Instant::now(),
            started_at: SystemTime::now(),
        }
    }

    fn streams(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<Stream>>> {
        self.shared
            .streams
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// The stream at `path`: live, waiting for its input, or ended (with
    /// listeners still reading its ring, or an empty stand-in for one
    /// removed lately).
    pub fn get(&self, path: &str) -> Option<Arc<Stream>> {
        if let Some(s) = self.streams().get(path) {
            return Some(Arc::clone(s));
        }
        let ended = self
            .shared
            .ended
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .any(|p| p == path);
        ended.then(|| {
            let facts = Facts::new(String::new(), StreamMeta::default(), None);
            self.new_stream(path, Feed::Http, facts, Phase::Ended)
        })
    }

    /// The stream at `path` if a source feeds it now.
    pub(crate) fn live(&self, path: &str) -> Option<Arc<Stream>> {
        self.streams().get(path).filter(|s| s.is_live()).cloned()
    }

    /// How many times a stream went live or stopped being live.
    pub(crate) fn live_changes(&self) -> u64 {
        self.shared.live_gen.load(Ordering::Acquire)
    }

    /// Wakes `waker` at the next [`Hub::live_changes`] (see
    /// [`Stream::wake_on_change`] for `epoch`).
    pub(crate) fn wake_on_live_change(&self, waker: &Waker, reg: &mut Registration) {
        self.shared.live_waiters.register(waker, reg);
    }

    /// Takes back a registration of [`Hub::wake_on_live_change`].
    pub(crate) fn forget_live_waker(&self, reg: &Registration) {
        self.shared.live_waiters.unregister(reg);
    }

    /// Sets every mount's fallback (from the settings, at start and at
    /// each reload), replacing those set before.
    pub(crate) fn set_fallbacks(&self, fallbacks: HashMap<String, String>) {
        *self
            .shared
            .fallbacks
            .write()
            .unwrap_or_else(PoisonError::into_inner) = fallbacks;
        self.shared.live_changed();
    }

    /// Sets (or, with `None`, removes) `mount`'s fallback
    /// (`/admin/fallbacks`); refused if it would make a loop.
    pub(crate) fn set_fallback(
        &self,
        mount: &str,
        fallback: Option<&str>,
    ) -> Result<(), LiveError> {
        {
            let mut map = self
                .shared
                .fallbacks
                .write()
                .unwrap_or_else(PoisonError::into_inner);
            let before = map.clone();
            match fallback {
                Some(f) => map.insert(mount.to_owned(), f.to_owned()),
                None => map.remove(mount),
            };
            let looped = chain_of(&map, mount).len() > MAX_CHAIN
                || fallback.is_some_and(|f| chain_of(&map, f).iter().any(|p| p == mount));
            if looped {
                *map = before;
                return Err(LiveError::BadRequest("that fallback would make a loop"));
            }
        }
        self.shared.live_changed();
        Ok(())
    }

    /// `path`'s fallback, if it has one.
    pub(crate) fn fallback_of(&self, path: &str) -> Option<String> {
        self.shared
            .fallbacks
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(path)
            .cloned()
    }

    /// `path`, then its fallback, then that one's (at most [`MAX_CHAIN`]).
    pub(crate) fn chain(&self, path: &str) -> Vec<String> {
        let map = self
            .shared
            .fallbacks
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        chain_of(&map, path)
    }

    /// The number of listeners given an id so far.
    pub(crate) fn listener_connections(&self) -> u64 {
        self.shared.next_id.load(Ordering::Relaxed)
    }

    /// Every stream, sorted by path.
    pub fn all(&self) -> Vec<Arc<Stream>> {
        let mut v: Vec<_> = self.streams().values().cloned().collect();
        v.sort_by(|a, b| a.path.cmp(&b.path));
        v
    }

    /// When the hub was made (the server's start, across reloads).
    pub(crate) fn started_at(&self) -> SystemTime {
        self.started_at
    }

    /// Seconds since the hub was made (listeners' connected times).
    pub(crate) fn clock(&self) -> u32 {
        u32::try_from(self.started.elapsed().as_secs()).unwrap_or(u32::MAX)
    }

    /// Time since the hub was made.
    pub fn uptime(&self) -> Duration {
        self.started.elapsed()
    }

    /// Creates the stream of an `-i` input (waiting for its input).
    pub(crate) fn declare(&self, path: &str, facts: Facts) -> Arc<Stream> {
        let stream = self.new_stream(path, Feed::Input, facts, Phase::Waiting);
        self.streams().insert(path.to_owned(), Arc::clone(&stream));
        stream
    }

    /// Attaches an HTTP source client to `path`: a new stream, or the
    /// waiting one a previous source left (`reopen`). A live stream or an
    /// `-i` input's stream is refused.
    pub(crate) fn attach(&self, path: &str, facts: Facts) -> Result<Arc<Stream>, LiveError> {
        let mut streams = self.streams();
        if let Some(s) = streams.get(path) {
            match (s.feed, s.phase()) {
                (Feed::Input, _) => return Err(LiveError::FedByInput(path.to_owned())),
                (Feed::Http, Phase::Live) => return Err(LiveError::InUse(path.to_owned())),
                (Feed::Http, Phase::Waiting) => {
                    let s = Arc::clone(s);
                    s.stop_source.0.store(false, Ordering::Release);
                    s.update_facts(|f| {
                        let title = f.meta.title.clone();
                        *f = facts;
                        if f.meta.title.is_none() {
                            f.meta.title = title;
                        }
                    });
                    s.set_phase(Phase::Live);
                    return Ok(s);
                }
                (Feed::Http, Phase::Ended) => {}
            }
        }
        let stream = self.new_stream(path, Feed::Http, facts, Phase::Live);
        streams.insert(path.to_owned(), Arc::clone(&stream));
        drop(streams);
        self.shared.live_changed();
        Ok(stream)
    }

    fn new_stream(&self, path: &str, feed: Feed, facts: Facts, phase: Phase) -> Arc<Stream> {
        self.shared.seen.store(true, Ordering::Release);
        self.shared
            .ended
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .retain(|p| p != path);
        Arc::new(Stream {
            path: path.to_owned(),
            feed,
            ring: watch::Sender::new(Ring::new(phase)),
            waiters: Waiters::default(),
            listeners: watch::Sender::new(0),
            facts: Mutex::new(facts),
            stats: Stats::default(),
            started: SystemTime::now(),
            hub: Arc::downgrade(&self.shared),
            clients: Mutex::new(BTreeMap::new()),
            demand: watch::Sender::new(0),
            stop_source: (AtomicBool::new(false), Notify::new()),
        })
    }

    /// Resolves once at least one stream has been, every stream has ended
    /// (`-i` inputs over, HTTP sources gone) and no listener is left
    /// (`quit`).
    pub async fn done(&self) {
        loop {
            let notified = self.shared.changed.notified();
            let streams = self.all();
            // Before any input or source came there is nothing done yet.
            let busy = !self.shared.seen.load(Ordering::Acquire)
                || streams
                    .iter()
                    .any(|s| s.phase() != Phase::Ended || s.listeners() > 0);
            if !busy {
                return;
            }
            notified.await;
        }
    }
}

/// `path` and its fallbacks in `map`, stopping at [`MAX_CHAIN`] + 1 (a
/// loop shows as a chain that long).
fn chain_of(map: &HashMap<String, String>, path: &str) -> Vec<String> {
    let mut out = vec![path.to_owned()];
    while out.len() <= MAX_CHAIN {
        match out.last().and_then(|p| map.get(p)) {
            Some(next) => out.push(next.clone()),
            None => break,
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A waker that counts its wakes.
    struct Count(std::sync::atomic::AtomicUsize);

    impl std::task::Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }

    #[test]
    fn a_waiter_is_woken_once_per_change_however_often_it_registers() {
        let waiters = Waiters::default();
        let count = Arc::new(Count(0.into()));
        let waker = Waker::from(Arc::clone(&count));
        let mut reg = Registration::default();
        waiters.register(&waker, &mut reg);
        waiters.register(&waker, &mut reg);
        assert_eq!(waiters.0.lock().unwrap().slots.len(), 1);
        waiters.wake_all();
        assert_eq!(count.0.load(Ordering::Relaxed), 1);
        // Woken and forgotten: nothing more until it registers again.
        waiters.wake_all();
        assert_eq!(count.0.load(Ordering::Relaxed), 1);
        waiters.register(&waker, &mut reg);
        waiters.wake_all();
        assert_eq!(count.0.load(Ordering::Relaxed), 2);
    }

    #[test]
    fn listeners_gone_leave_no_waker_behind() {
        let waiters = Waiters::default();
        let count = Arc::new(Count(0.into()));
        // Listeners that come and go on a stream that never changes.
        for _ in 0..10_000 {
            let waker = Waker::from(Arc::clone(&count));
            let mut reg = Registration::default();
            waiters.register(&waker, &mut reg);
            waiters.unregister(&reg);
        }
        let list = waiters.0.lock().unwrap();
        assert_eq!(list.slots.len(), 1, "one slot, reused");
        assert!(list.slots[0].is_none());
        drop(list);
        // A registration from before a change is not taken back after it.
        let waker = Waker::from(Arc::clone(&count));
        let (mut a, mut b) = (Registration::default(), Registration::default());
        waiters.register(&waker, &mut a);
        waiters.wake_all();
        waiters.register(&waker, &mut b);
        waiters.unregister(&a);
        waiters.wake_all();
        assert_eq!(count.0.load(Ordering::Relaxed), 2, "b was still woken");
    }

    fn ring_of(sizes: &[(usize, bool)], keep: Amount) -> Ring {
        let mut r = Ring::new(Phase::Live);
        for &(n, sync) in sizes {
            r.push(
                Bytes::from(vec![0u8; n]),
                sync,
                Duration::from_millis(n as u64),
                keep,
            );
        }
        r
    }

    #[test]
    fn keeps_enough_for_the_lag_limit() {
        let r = ring_of(&[(100, true); 50], Amount::Bytes(1000));
        assert_eq!(r.head(), 5000);
        // A listener 1000 bytes behind the head is still served.
        assert_eq!(r.front(), 4000);
        let r = ring_of(&[(100, true); 50], Amount::Time(Duration::from_millis(300)));
        assert_eq!(r.front(), 4700);
    }

    #[test]
    fn burst_starts_on_a_sync_chunk() {
        let keep = Amount::Bytes(10_000);
        let r = ring_of(
            &[
                (100, true),
                (100, false),
                (100, true),
                (100, false),
                (100, false),
            ],
            keep,
        );
        assert_eq!(r.burst_start(Amount::Bytes(0)), 500);
        assert_eq!(r.burst_start(Amount::Bytes(150)), 200);
        assert_eq!(r.burst_start(Amount::Bytes(300)), 200);
        assert_eq!(r.burst_start(Amount::Bytes(301)), 0);
        assert_eq!(r.burst_start(Amount::Bytes(99_999)), 0);
        assert_eq!(r.burst_start(Amount::Time(Duration::from_millis(250))), 200);
    }

    #[test]
    fn the_next_frame_start_is_found() {
        let r = ring_of(
            &[(100, false), (100, true), (100, false)],
            Amount::Bytes(10_000),
        );
        assert_eq!(r.sync_from(0), Some(100));
        assert_eq!(r.sync_from(100), Some(100));
        assert_eq!(r.sync_from(101), None);
    }

    #[test]
    fn reads_whole_chunks_up_to_a_bound() {
        let r = ring_of(&[(100, true); 10], Amount::Bytes(10_000));
        assert_eq!(r.read_from(1000, 4096), None);
        assert_eq!(r.read_from(900, 4096).map(|b| b.len()), Some(100));
        assert_eq!(r.read_from(0, 250).map(|b| b.len()), Some(200));
        assert_eq!(r.read_from(0, 50).map(|b| b.len()), Some(100));
        assert_eq!(r.read_from(50, 4096).map(|b| b.len()), Some(950));
    }

    #[tokio::test]
    async fn done_waits_for_a_stream_to_come_and_go() {
        let hub = Hub::new();
        let facts = || Facts::new("audio/mpeg".into(), StreamMeta::default(), None);
        let pending = tokio::time::timeout(Duration::from_millis(50), hub.done()).await;
        assert!(pending.is_err(), "no stream yet: not done");
        let stream = hub.attach("/a.mp3", facts()).unwrap();
        let joined = stream.join(&ListenerInfo::new(&hub, None, ""));
        stream.set_phase(Phase::Ended);
        let pending = tokio::time::timeout(Duration::from_millis(50), hub.done()).await;
        assert!(pending.is_err(), "a listener is left");
        drop(joined);
        tokio::time::timeout(Duration::from_secs(5), hub.done())
            .await
            .expect("ended and nobody listening: done");
    }

    #[test]
    fn ended_mounts_leave_once_nobody_listens() {
        let hub = Hub::new();
        let facts = || Facts::new("audio/mpeg".into(), StreamMeta::default(), None);
        // Ended with no listener: gone, ring and all.
        let a = hub.attach("/a.mp3", facts()).unwrap();
        a.publish(
            Bytes::from(vec![0u8; 1000]),
            true,
            Duration::ZERO,
            Amount::Bytes(1 << 20),
        );
        a.set_phase(Phase::Ended);
        assert!(hub.all().is_empty());
        // A late listener is told it is over (an empty stand-in).
        let stand_in = hub.get("/a.mp3").expect("remembered as ended");
        assert_eq!(stand_in.phase(), Phase::Ended);
        assert_eq!(stand_in.start_point(Amount::Bytes(0)), 0);
        assert!(hub.get("/never.mp3").is_none());
        // Ended while listened to: kept until the last listener leaves.
        let b = hub.attach("/b.mp3", facts()).unwrap();
        let info = || ListenerInfo::new(&hub, None, "");
        let (one, two) = (b.join(&info()), b.join(&info()));
        b.set_phase(Phase::Ended);
        drop(one);
        assert_eq!(hub.all().len(), 1, "a listener is left");
        drop(two);
        assert!(hub.all().is_empty());
        // A new source at an ended mount's path is not removed by the
        // old stream's last listener.
        let c = hub.attach("/c.mp3", facts()).unwrap();
        let old = c.join(&ListenerInfo::new(&hub, None, ""));
        c.set_phase(Phase::Ended);
        let fresh = hub.attach("/c.mp3", facts()).unwrap();
        drop(old);
        assert!(hub.get("/c.mp3").is_some_and(|s| Arc::ptr_eq(&s, &fresh)));
        // An input waiting to reopen stays.
        let d = hub.declare("/d.mp3", facts());
        d.set_phase(Phase::Live);
        d.set_phase(Phase::Waiting);
        assert!(hub.get("/d.mp3").is_some());
        assert_eq!(hub.all().len(), 2);
        // The paths remembered are bounded.
        for i in 0..2 * ENDED_PATHS {
            hub.attach(&format!("/e{i}"), facts())
                .unwrap()
                .set_phase(Phase::Ended);
        }
        assert_eq!(hub.shared.ended.lock().unwrap().len(), ENDED_PATHS);
    }

    #[test]
    fn never_holds_more_than_the_hard_cap() {
        let mut r = Ring::new(Phase::Live);
        for _ in 0..40 {
            r.push(
                Bytes::from(vec![0u8; 1 << 20]),
                true,
                Duration::ZERO,
                Amount::Time(Duration::from_secs(60)),
            );
        }
        assert!(r.bytes <= MAX_RING_BYTES);
    }
}

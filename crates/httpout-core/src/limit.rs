//! Connection limits: `maxc` in all, `maxp` per peer address, and
//! `max_conn_rate` new connections per second per peer address.
//!
//! A connection is admitted at accept time and holds its [`Admission`] until
//! it closes. Open connections are counted whatever the limits, so that a
//! reload that changes them ([`Limits::update`]) applies at once to the
//! connections already open: lowering `maxc` below what is open refuses new
//! ones until enough have closed, and closes none. One over a limit is not left hanging and not silently closed
//! (GPAC closes silently): it is answered `503` with `Retry-After` by a
//! short-lived connection of its own. Those rejections are themselves
//! bounded ([`MAX_REJECTING`]); beyond that, the socket is closed at once.
//!
//! A connection from a trusted proxy (`trusted_proxies`) carries many
//! clients: it is admitted against `maxc` alone, and each of its requests
//! against `maxp` for its client's address ([`Limits::admit_request`]),
//! counted in the same table as direct connections from that address.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::Semaphore;
use tokio::time::Instant;

/// How many over-limit connections may be answered 503 at the same time.
pub(crate) const MAX_REJECTING: usize = 64;

/// The limits of one server.
#[derive(Debug)]
pub(crate) struct Limits {
    /// Connections open.
    open: AtomicU32,
    /// `maxc`, 0 unlimited.
    maxc: AtomicU32,
    /// `maxp`, 0 unlimited.
    maxp: AtomicU32,
    /// Open connections per peer IP.
    per_peer: Mutex<HashMap<IpAddr, u32>>,
    /// `max_conn_rate`, 0 unlimited.
    rate: AtomicU32,
    /// Per peer IP: the start of its current one-second window and the
    /// connections it opened in it (only while `rate` > 0; windows older
    /// than a second are pruned, so it holds the addresses of the last
    /// second at most, plus [`RATE_PRUNE_AT`]).
    recent: Mutex<HashMap<IpAddr, (Instant, u32)>>,
    /// Permits for connections being answered 503.
    pub(crate) rejecting: Arc<Semaphore>,
}

/// Which limit refused a connection, with its configured value: said in
/// the 503's body and in the log line, so that a client and an operator
/// know which option to look at (an Icecast source client counts like any
/// other connection).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refused {
    /// Every one of the `maxc` connections is taken.
    Maxc(u32),
    /// The peer's address has `maxp` connections open.
    Maxp(u32),
    /// The peer's address opened `max_conn_rate` connections this second.
    Rate(u32),
}

impl Refused {
    /// The limits by name, in a fixed order (the metrics' `reason` label).
    pub(crate) const LABELS: [&'static str; 3] = ["maxc", "maxp", "rate"];

    /// This refusal's place in [`Refused::LABELS`].
    pub(crate) fn index(self) -> usize {
        match self {
            Self::Maxc(_) => 0,
            Self::Maxp(_) => 1,
            Self::Rate(_) => 2,
        }
    }
}

/// The per-address rate map is pruned of windows older than a second when
/// it holds more addresses than this.
const RATE_PRUNE_AT: usize = 1024;

/// The window of `max_conn_rate`.
const RATE_WINDOW: Duration = Duration::from_secs(1);

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Maxc(n) => write!(f, "server full (maxc={n})"),
            Self::Maxp(n) => write!(f, "too many connections from your address (maxp={n})"),
            Self::Rate(n) => write!(
                f,
                "too many new connections from your address (max_conn_rate={n} per second)"
            ),
        }
    }
}

/// Proof that a connection was admitted; dropping it frees its place.
#[derive(Debug)]
pub(crate) struct Admission {
    limits: Arc<Limits>,
    /// It holds a place among the `maxc` open connections.
    counted: bool,
    /// Its place in the per-peer count.
    ip: Option<IpAddr>,
}

impl Drop for Admission {
    fn drop(&mut self) {
        if self.counted {
            self.limits.open.fetch_sub(1, Ordering::AcqRel);
        }
        let Some(ip) = self.ip else { return };
        let mut map = self
            .limits
            .per_peer
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(n) = map.get_mut(&ip) {
            *n -= 1;
            if *n == 0 {
                map.remove(&ip);
            }
        }
    }
}

impl Limits {
    pub(crate) fn new(maxc: u32, maxp: u32, rate: u32) -> Self {
        Self {
            open: AtomicU32::new(0),
            rate: AtomicU32::new(rate),
            recent: Mutex::new(HashMap::new()),
            maxc: AtomicU32::new(maxc),
            maxp: AtomicU32::new(maxp),
            per_peer: Mutex::new(HashMap::new()),
            rejecting: Arc::new(Semaphore::new(MAX_REJECTING)),
        }
    }

    /// New limits (a reload), for the connections that come next; the
    /// open ones count against them and are not closed.
    pub(crate) fn update(&self, maxc: u32, maxp: u32, rate: u32) {
        self.maxc.store(maxc, Ordering::Release);
        self.maxp.store(maxp, Ordering::Release);
        self.rate.store(rate, Ordering::Release);
    }

    /// Admits a connection from `ip` (`None`: a Unix socket, not counted per
    /// peer), or says which limit is reached (`maxc` first: when the server
    /// is full, that is the reason whoever asks). Every attempt counts
    /// against the address's rate, refused ones too.
    pub(crate) fn admit(self: &Arc<Self>, ip: Option<IpAddr>) -> Result<Admission, Refused> {
        let rate_ok = ip.is_none_or(|ip| self.count_rate(ip, Instant::now()));
        let maxc = self.maxc.load(Ordering::Acquire);
        self.open
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (maxc == 0 || n < maxc).then_some(n + 1)
            })
            .map_err(|_| Refused::Maxc(maxc))?;
        // From here, dropping `admission` gives the place back.
        let mut admission = Admission {
            limits: Arc::clone(self),
            counted: true,
            ip: None,
        };
        if !rate_ok {
            return Err(Refused::Rate(self.rate.load(Ordering::Acquire)));
        }
        if let Some(ip) = ip {
            admission.ip = Some(self.take_slot(ip)?);
        }
        Ok(admission)
    }

    /// Admits a connection whose client is known only now (a PROXY
    /// protocol header gave it) and that already holds its `maxc` place:
    /// `max_conn_rate` and `maxp` for `ip` (`None`: not counted).
    pub(crate) fn admit_peer(self: &Arc<Self>, ip: Option<IpAddr>) -> Result<Admission, Refused> {
        let mut admission = Admission {
            limits: Arc::clone(self),
            counted: false,
            ip: None,
        };
        let Some(ip) = ip else {
            return Ok(admission);
        };
        if !self.count_rate(ip, Instant::now()) {
            return Err(Refused::Rate(self.rate.load(Ordering::Acquire)));
        }
        admission.ip = Some(self.take_slot(ip)?);
        Ok(admission)
    }

    /// Admits one request of the client at `ip` that came through a
    /// trusted proxy: held until its response ends, at most `maxp` at a
    /// time per address (with that address's direct connections).
    pub(crate) fn admit_request(self: &Arc<Self>, ip: IpAddr) -> Result<Admission, Refused> {
        Ok(Admission {
            limits: Arc::clone(self),
            counted: false,
            ip: Some(self.take_slot(ip)?),
        })
    }

    /// One place in `ip`'s count, refused past `maxp` (counted even when
    /// `maxp` is unlimited, so that a reload that sets it applies to what
    /// is open). Returns the address counted, for the admission to free.
    fn take_slot(&self, ip: IpAddr) -> Result<IpAddr, Refused> {
        let ip = ip.to_canonical();
        let maxp = self.maxp.load(Ordering::Acquire);
        let mut map = self.per_peer.lock().unwrap_or_else(PoisonError::into_inner);
        let n = map.entry(ip).or_insert(0);
        // Refused only when `n` ≥ `maxp` > 0: never a fresh (0) entry left.
        if maxp > 0 && *n >= maxp {
            return Err(Refused::Maxp(maxp));
        }
        *n += 1;
        Ok(ip)
    }
}

/// File descriptors kept aside for listeners, standard streams, the logs
/// and the like when sizing `maxc` against the process's limit.
const FD_RESERVE: u64 = 64;

/// A warning when `maxc` connections, each with `streams` responses that
/// may hold a file open, could need more descriptors than `soft` (the
/// process's `RLIMIT_NOFILE`; `None`: unlimited).
pub(crate) fn fd_warning(maxc: u32, streams: u32, soft: Option<u64>) -> Option<String> {
    let soft = soft?;
    let per_conn = 1 + u64::from(streams);
    if maxc == 0 {
        return Some(format!(
            "warning: maxc=0 (unlimited) with {soft} file descriptors: past about {} \
             connections new ones wait until descriptors are free; set --maxc",
            soft.saturating_sub(FD_RESERVE) / per_conn
        ));
    }
    let need = u64::from(maxc) * per_conn + FD_RESERVE;
    (need > soft).then(|| {
        format!(
            "warning: maxc={maxc} connections with up to {streams} HTTP/2 streams each \
             may need {need} file descriptors, the limit is {soft}: raise it (ulimit -n) or \
             lower --maxc to {}",
            soft.saturating_sub(FD_RESERVE) / per_conn
        )
    })
}

impl Limits {
    /// Counts a connection from `ip` at `now`; false when it is over the
    /// address's rate this second.
    fn count_rate(&self, ip: IpAddr, now: Instant) -> bool {
        let rate = self.rate.load(Ordering::Acquire);
        if rate == 0 {
            return true;
        }
        let mut map = self.recent.lock().unwrap_or_else(PoisonError::into_inner);
        if map.len() >= RATE_PRUNE_AT {
            map.retain(|_, (start, _)| now.duration_since(*start) < RATE_WINDOW);
        }
        let (start, n) = map.entry(ip).or_insert((now, 0));
        if now.duration_since(*start) >= RATE_WINDOW {
            *start = now;
            *n = 0;
        }
        *n = n.saturating_add(1);
        *n <= rate
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_frees() {
        let limits = Arc::new(Limits::new(3, 2, 0));
        let a: IpAddr = [127, 0, 0, 1].into();
        let b: IpAddr = [127, 0, 0, 2].into();
        let a1 = limits.admit(Some(a)).unwrap();
        let _a2 = limits.admit(Some(a)).unwrap();
        assert_eq!(limits.admit(Some(a)).unwrap_err(), Refused::Maxp(2));
        let _b1 = limits.admit(Some(b)).unwrap();
        assert_eq!(limits.admit(Some(b)).unwrap_err(), Refused::Maxc(3));
        // A full server is the reason even for a peer over its own limit.
        assert_eq!(limits.admit(Some(a)).unwrap_err(), Refused::Maxc(3));
        assert_eq!(limits.admit(None).unwrap_err(), Refused::Maxc(3));
        drop(a1);
        assert!(limits.admit(Some(a)).is_ok());
        let unlimited = Arc::new(Limits::new(0, 0, 0));
        let held: Vec<_> = (0..1000)
            .map(|_| unlimited.admit(Some(a)).unwrap())
            .collect();
        assert_eq!(held.len(), 1000);
    }

    /// A reload's new limits count the connections already open and close
    /// none of them.
    #[test]
    fn new_limits_apply_to_what_is_open() {
        let limits = Arc::new(Limits::new(0, 0, 0));
        let a: IpAddr = [127, 0, 0, 1].into();
        let held: Vec<_> = (0..4).map(|_| limits.admit(Some(a)).unwrap()).collect();
        limits.update(3, 0, 0);
        assert_eq!(limits.admit(Some(a)).unwrap_err(), Refused::Maxc(3));
        limits.update(10, 4, 0);
        assert_eq!(limits.admit(Some(a)).unwrap_err(), Refused::Maxp(4));
        drop(held);
        let again: Vec<_> = (0..4).map(|_| limits.admit(Some(a)).unwrap()).collect();
        assert_eq!(again.len(), 4);
        limits.update(0, 0, 0);
        assert!(limits.admit(Some(a)).is_ok());
    }

    #[test]
    fn warns_when_maxc_could_exhaust_the_descriptors() {
        assert_eq!(fd_warning(100, 32, None), None);
        assert_eq!(fd_warning(100, 32, Some(1 << 20)), None);
        let low = fd_warning(100, 32, Some(1024)).unwrap();
        assert!(low.contains("maxc=100") && low.contains("3364") && low.contains("to 29"));
        assert!(fd_warning(0, 32, Some(1024)).unwrap().contains("unlimited"));
    }

    #[test]
    fn the_rate_is_per_address_and_per_second() {
        let limits = Arc::new(Limits::new(0, 0, 2));
        let a: IpAddr = [127, 0, 0, 1].into();
        let b: IpAddr = [127, 0, 0, 2].into();
        let t0 = Instant::now();
        assert!(limits.count_rate(a, t0));
        assert!(limits.count_rate(a, t0));
        assert!(!limits.count_rate(a, t0 + Duration::from_millis(500)));
        assert!(limits.count_rate(b, t0 + Duration::from_millis(500)));
        // The next second starts afresh.
        assert!(limits.count_rate(a, t0 + Duration::from_millis(1000)));
        // Many addresses: the map is pruned of old windows.
        for i in 0..3000u32 {
            let ip: IpAddr = std::net::Ipv4Addr::from(0x0a00_0000 + i).into();
            assert!(limits.count_rate(ip, t0 + Duration::from_secs(u64::from(i / 500) * 2)));
        }
        assert!(limits.recent.lock().unwrap().len() <= RATE_PRUNE_AT + 500);
        // Over the rate through `admit`: refused with its value.
        let now = Arc::new(Limits::new(0, 0, 1));
        let _first = now.admit(Some(a)).unwrap();
        assert_eq!(now.admit(Some(a)).unwrap_err(), Refused::Rate(1));
        assert!(now.admit(None).is_ok());
    }

    #[test]
    fn requests_through_a_proxy_share_their_clients_count() {
        let limits = Arc::new(Limits::new(10, 2, 0));
        let a: IpAddr = [192, 0, 2, 1].into();
        let direct = limits.admit(Some(a)).unwrap();
        let proxied = limits
            .admit_request("::ffff:192.0.2.1".parse().unwrap())
            .unwrap();
        assert_eq!(limits.admit_request(a).unwrap_err(), Refused::Maxp(2));
        drop(direct);
        let again = limits.admit_request(a).unwrap();
        drop((proxied, again));
        assert!(limits.per_peer.lock().unwrap().is_empty());
        let unlimited = Arc::new(Limits::new(0, 0, 0));
        let held: Vec<_> = (0..100)
            .map(|_| unlimited.admit_request(a).unwrap())
            .collect();
        assert_eq!(held.len(), 100);
    }
}

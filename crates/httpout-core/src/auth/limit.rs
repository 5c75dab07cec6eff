//! Failed sign-ins, counted per (address, user name) and per address.
//!
//! - An address that failed [`USER_FAILURES`] times for one user name in
//!   [`FAILURE_WINDOW`] gets 429 for that name (not checked): guessing one
//!   user's password is cut, from that address only, so an attacker
//!   elsewhere cannot lock the user out.
//! - An address that failed [`ADDRESS_FAILURES`] times in the window, over
//!   any names, is slowed: its checks run one at a time, each after
//!   [`SLOW_DELAY`]. A right password still gets through (slowly), so
//!   guessing from a shared address (a NAT, a proxy) cannot lock out the
//!   others behind it.
//! - Attempts count as they start (pending), not once checked, so many
//!   parallel attempts cannot pass the limit while their checks wait.
//! - An address is an IPv4 address or an IPv6 /64 (one host's usual
//!   allocation); each table holds at most [`MAX_TRACKED`] entries, the
//!   expired and then the oldest dropped first.
//!
//! Times are tokio's, so `tokio::time::pause` drives the windows in tests.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

/// Failed attempts from one address for one user name within
/// [`FAILURE_WINDOW`] before that name is refused (429) from there.
pub const USER_FAILURES: u32 = 10;
/// Failed attempts from one address, any names, within [`FAILURE_WINDOW`]
/// before its checks are slowed.
pub const ADDRESS_FAILURES: u32 = 100;
/// The window of both limits, counted from an entry's first failure.
pub const FAILURE_WINDOW: Duration = Duration::from_secs(60);
/// The wait before each check from a slowed address (one at a time).
pub const SLOW_DELAY: Duration = Duration::from_secs(1);
/// Entries of each table, at most.
pub const MAX_TRACKED: usize = 10_000;
/// Bytes of a user name kept as a key (valid names are shorter).
const NAME_KEY_MAX: usize = 64;

/// The key of an address: IPv4 as is (an IPv4-mapped IPv6 address too),
/// IPv6 cut to its /64.
#[must_use]
pub(crate) fn address_key(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => {
            let bits = u128::from(v6) & !((1u128 << 64) - 1);
            IpAddr::V6(Ipv6Addr::from(bits))
        }
        v4 => v4,
    }
}

/// Attempts of one key in its window.
#[derive(Debug, Clone, Copy)]
struct Count {
    failures: u32,
    /// Started and not finished.
    pending: u32,
    /// Start of the window.
    since: Instant,
}

impl Count {
    fn new(now: Instant) -> Self {
        Self {
            failures: 0,
            pending: 0,
            since: now,
        }
    }

    /// Failures and attempts in progress, the window restarted if over.
    fn load(&mut self, now: Instant) -> u32 {
        if now.duration_since(self.since) >= FAILURE_WINDOW {
            self.failures = 0;
            self.since = now;
        }
        self.failures + self.pending
    }

    fn expired(&self, now: Instant) -> bool {
        self.pending == 0 && now.duration_since(self.since) >= FAILURE_WINDOW
    }
}

/// A table of counts with at most [`MAX_TRACKED`] entries.
#[derive(Debug)]
struct Table<K> {
    map: HashMap<K, Count>,
}

impl<K: Hash + Eq + Clone> Table<K> {
    fn new() -> Self {
        Self {
            map: HashMap::new(),
        }
    }

    /// The count of `key`, made room for when new.
    fn entry(&mut self, key: &K, now: Instant) -> &mut Count {
        if !self.map.contains_key(key) && self.map.len() >= MAX_TRACKED {
            self.map.retain(|_, c| !c.expired(now));
            if self.map.len() >= MAX_TRACKED {
                let oldest = self
                    .map
                    .iter()
                    .min_by_key(|(_, c)| c.since)
                    .map(|(k, _)| k.clone());
                if let Some(k) = oldest {
                    self.map.remove(&k);
                }
            }
        }
        self.map
            .entry(key.clone())
            .or_insert_with(|| Count::new(now))
    }

    /// Ends an attempt of `key`; a failure is counted.
    fn finish(&mut self, key: &K, failed: bool, now: Instant) {
        if let Some(c) = self.map.get_mut(key) {
            c.pending = c.pending.saturating_sub(1);
            if failed {
                c.load(now);
                c.failures = c.failures.saturating_add(1);
            }
        }
    }
}

#[derive(Debug)]
struct State {
    by_user: Table<(IpAddr, String)>,
    by_address: Table<IpAddr>,
    /// The one-at-a-time lane of each slowed address.
    lanes: HashMap<IpAddr, Arc<tokio::sync::Mutex<()>>>,
}

/// The failure counters of a server: the rules file's sign-ins use one;
/// a mode checking passwords of its own (the live sink's admin and
/// source credentials) keeps another, so the same limits hold there.
#[derive(Debug)]
pub struct Failures {
    state: Mutex<State>,
}

/// The decision for an attempt that may go on.
#[derive(Debug)]
pub struct Attempt<'a> {
    failures: &'a Failures,
    address: IpAddr,
    user: String,
    /// The address is over [`ADDRESS_FAILURES`]: check through its lane.
    slow: Option<Arc<tokio::sync::Mutex<()>>>,
    finished: bool,
}

impl Default for Failures {
    fn default() -> Self {
        Self::new()
    }
}

impl Failures {
    /// No failures yet.
    #[must_use]
    pub fn new() -> Self {
        Self {
            state: Mutex::new(State {
                by_user: Table::new(),
                by_address: Table::new(),
                lanes: HashMap::new(),
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Starts an attempt of `user` from `ip`: `None` when that name is
    /// refused from there (429), else the attempt, counted as pending until
    /// [`Attempt::finish`] (or its drop).
    pub fn begin(&self, ip: IpAddr, user: &str) -> Option<Attempt<'_>> {
        let address = address_key(ip);
        let mut cut = NAME_KEY_MAX.min(user.len());
        while !user.is_char_boundary(cut) {
            cut -= 1;
        }
        let user = user[..cut].to_owned();
        let now = Instant::now();
        let mut state = self.lock();
        let key = (address, user);
        let by_user = state.by_user.entry(&key, now);
        if by_user.load(now) >= USER_FAILURES {
            return None;
        }
        by_user.pending += 1;
        let by_address = state.by_address.entry(&address, now);
        let slowed = by_address.load(now) >= ADDRESS_FAILURES;
        by_address.pending += 1;
        let slow = if slowed {
            if state.lanes.len() >= MAX_TRACKED {
                state.lanes.retain(|_, l| Arc::strong_count(l) > 1);
            }
            Some(Arc::clone(state.lanes.entry(address).or_default()))
        } else {
            None
        };
        Some(Attempt {
            failures: self,
            address,
            user: key.1,
            slow,
            finished: false,
        })
    }

    /// Entries of the tables (for tests).
    #[cfg(test)]
    fn tracked(&self) -> (usize, usize) {
        let state = self.lock();
        (state.by_user.map.len(), state.by_address.map.len())
    }
}

impl Attempt<'_> {
    /// Waits for the address's lane when it is slowed, then returns a
    /// guard to hold while checking (one check at a time, each after
    /// [`SLOW_DELAY`]).
    pub async fn pace(&self) -> Option<tokio::sync::OwnedMutexGuard<()>> {
        let lane = Arc::clone(self.slow.as_ref()?);
        let guard = lane.lock_owned().await;
        tokio::time::sleep(SLOW_DELAY).await;
        Some(guard)
    }

    /// Whether the address is slowed.
    #[cfg(test)]
    pub(crate) fn slowed(&self) -> bool {
        self.slow.is_some()
    }

    /// Ends the attempt: `ok` false counts a failure.
    pub fn finish(mut self, ok: bool) {
        self.end(!ok);
    }

    fn end(&mut self, failed: bool) {
        if self.finished {
            return;
        }
        self.finished = true;
        let now = Instant::now();
        let mut state = self.failures.lock();
        let key = (self.address, std::mem::take(&mut self.user));
        state.by_user.finish(&key, failed, now);
        state.by_address.finish(&self.address, failed, now);
    }
}

impl Drop for Attempt<'_> {
    /// An attempt dropped unfinished (its client went away) is no longer
    /// pending, and counts as no failure: nobody learnt its result.
    fn drop(&mut self) {
        self.end(false);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    const A: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
    const B: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 2));

    fn fail(f: &Failures, ip: IpAddr, user: &str, times: u32) {
        for _ in 0..times {
            f.begin(ip, user).expect("not refused").finish(false);
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_name_is_refused_from_one_address_until_its_window_ends() {
        let f = Failures::new();
        fail(&f, A, "alice", USER_FAILURES);
        assert!(f.begin(A, "alice").is_none(), "alice refused from A");
        assert!(f.begin(B, "alice").is_some(), "not from B");
        assert!(f.begin(A, "bob").is_some(), "bob not from A");
        tokio::time::advance(FAILURE_WINDOW - Duration::from_secs(1)).await;
        assert!(f.begin(A, "alice").is_none(), "still inside the window");
        tokio::time::advance(Duration::from_secs(1)).await;
        let a = f.begin(A, "alice").expect("the window is over");
        a.finish(false);
        // Counted from one again.
        fail(&f, A, "alice", USER_FAILURES - 2);
        assert!(f.begin(A, "alice").is_some());
    }

    #[tokio::test(start_paused = true)]
    async fn attempts_count_as_they_start() {
        let f = Failures::new();
        let pending: Vec<_> = (0..USER_FAILURES)
            .map(|_| f.begin(A, "alice").expect("under the limit"))
            .collect();
        assert!(f.begin(A, "alice").is_none(), "ten checks in progress");
        // A success frees its place; a dropped attempt too.
        let mut pending = pending.into_iter();
        pending.next().unwrap().finish(true);
        drop(pending.next());
        assert!(f.begin(A, "alice").is_some());
    }

    #[tokio::test(start_paused = true)]
    async fn an_address_over_its_limit_is_slowed_not_refused() {
        let f = Failures::new();
        for i in 0..ADDRESS_FAILURES {
            let a = f.begin(A, &format!("u{i}")).unwrap();
            assert!(!a.slowed());
            a.finish(false);
        }
        let a = f.begin(A, "alice").expect("slowed, not refused");
        assert!(a.slowed());
        assert!(!f.begin(B, "alice").unwrap().slowed(), "other addresses");
        let start = Instant::now();
        let turn = a.pace().await;
        assert!(turn.is_some());
        assert_eq!(start.elapsed(), SLOW_DELAY);
        drop(turn);
        a.finish(true);
        tokio::time::advance(FAILURE_WINDOW).await;
        assert!(!f.begin(A, "carol").unwrap().slowed(), "the window is over");
    }

    #[tokio::test(start_paused = true)]
    async fn slowed_checks_take_turns() {
        let f = Arc::new(Failures::new());
        for i in 0..ADDRESS_FAILURES {
            f.begin(A, &format!("u{i}")).unwrap().finish(false);
        }
        let start = Instant::now();
        let mut tasks = Vec::new();
        for i in 0..3 {
            let f = Arc::clone(&f);
            tasks.push(tokio::spawn(async move {
                let a = f.begin(A, &format!("x{i}")).unwrap();
                let _turn = a.pace().await;
                let done = Instant::now();
                a.finish(false);
                done
            }));
        }
        let mut ends = Vec::new();
        for t in tasks {
            ends.push(t.await.unwrap().duration_since(start));
        }
        ends.sort();
        assert_eq!(ends, [SLOW_DELAY, SLOW_DELAY * 2, SLOW_DELAY * 3]);
    }

    #[tokio::test(start_paused = true)]
    async fn tables_are_bounded_and_ipv6_counts_per_64() {
        let f = Failures::new();
        let v6 = |host: u16| IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 1, 0, 0, 0, host));
        for host in 0..ADDRESS_FAILURES as u16 {
            f.begin(v6(host), &format!("u{host}"))
                .unwrap()
                .finish(false);
        }
        assert!(f.begin(v6(9999), "z").unwrap().slowed(), "one /64");
        let other = IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 2, 0, 0, 0, 1));
        assert!(!f.begin(other, "z").unwrap().slowed(), "another /64");
        let mapped = IpAddr::V6(Ipv4Addr::new(192, 0, 2, 1).to_ipv6_mapped());
        assert_eq!(address_key(mapped), A);
        for i in 0..(MAX_TRACKED as u32 + 500) {
            let ip = IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + i));
            f.begin(ip, "x").unwrap().finish(false);
        }
        let (users, addresses) = f.tracked();
        assert!(users <= MAX_TRACKED && addresses <= MAX_TRACKED);
        // Expired entries go first once the table is full.
        tokio::time::advance(FAILURE_WINDOW).await;
        f.begin(B, "y").unwrap().finish(false);
        let (users, _) = f.tracked();
        assert!(users < 10, "{users}");
    }
}

//! Connection limits: `maxc` in all and `maxp` per peer address.
//!
//! A connection is admitted at accept time and holds its [`Admission`] until
//! it closes. One over a limit is not left hanging and not silently closed
//! (GPAC closes silently): it is answered `503` with `Retry-After` by a
//! short-lived connection of its own. Those rejections are themselves
//! bounded ([`MAX_REJECTING`]); beyond that, the socket is closed at once.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// How many over-limit connections may be answered 503 at the same time.
pub(crate) const MAX_REJECTING: usize = 64;

/// The limits of one server.
#[derive(Debug)]
pub(crate) struct Limits {
    /// `maxc`: one permit per open connection; `None` when unlimited.
    total: Option<Arc<Semaphore>>,
    /// `maxc`, 0 unlimited (for the reason of a refusal).
    maxc: u32,
    /// `maxp`, 0 unlimited.
    maxp: u32,
    /// Open connections per peer IP (only while `maxp` > 0).
    per_peer: Mutex<HashMap<IpAddr, u32>>,
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
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Maxc(n) => write!(f, "server full (maxc={n})"),
            Self::Maxp(n) => write!(f, "too many connections from your address (maxp={n})"),
        }
    }
}

/// Proof that a connection was admitted; dropping it frees its place.
#[derive(Debug)]
pub(crate) struct Admission {
    _total: Option<OwnedSemaphorePermit>,
    _peer: Option<PeerSlot>,
}

/// One connection's place in the per-peer count.
#[derive(Debug)]
struct PeerSlot {
    limits: Arc<Limits>,
    ip: IpAddr,
}

impl Drop for PeerSlot {
    fn drop(&mut self) {
        let mut map = self
            .limits
            .per_peer
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(n) = map.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                map.remove(&self.ip);
            }
        }
    }
}

impl Limits {
    pub(crate) fn new(maxc: u32, maxp: u32) -> Self {
        Self {
            total: (maxc > 0).then(|| Arc::new(Semaphore::new(maxc as usize))),
            maxc,
            maxp,
            per_peer: Mutex::new(HashMap::new()),
            rejecting: Arc::new(Semaphore::new(MAX_REJECTING)),
        }
    }

    /// Admits a connection from `ip` (`None`: a Unix socket, not counted per
    /// peer), or says which limit is reached (`maxc` first: when the server
    /// is full, that is the reason whoever asks).
    pub(crate) fn admit(self: &Arc<Self>, ip: Option<IpAddr>) -> Result<Admission, Refused> {
        let total = match &self.total {
            Some(sem) => Some(
                Arc::clone(sem)
                    .try_acquire_owned()
                    .map_err(|_| Refused::Maxc(self.maxc))?,
            ),
            None => None,
        };
        let peer = match ip {
            Some(ip) if self.maxp > 0 => {
                let mut map = self.per_peer.lock().unwrap_or_else(PoisonError::into_inner);
                let n = map.entry(ip).or_insert(0);
                if *n >= self.maxp {
                    return Err(Refused::Maxp(self.maxp));
                }
                *n += 1;
                Some(PeerSlot {
                    limits: Arc::clone(self),
                    ip,
                })
            }
            _ => None,
        };
        Ok(Admission {
            _total: total,
            _peer: peer,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_frees() {
        let limits = Arc::new(Limits::new(3, 2));
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
        let unlimited = Arc::new(Limits::new(0, 0));
        let held: Vec<_> = (0..1000)
            .map(|_| unlimited.admit(Some(a)).unwrap())
            .collect();
        assert_eq!(held.len(), 1000);
    }
}

//! Who may do what: access rules, users, HTTP Basic and Digest.
//!
//! [`Access::check`] runs once per request, after the path is decoded and
//! before any mode sees the request:
//! 1. `OPTIONS` passes (CORS preflights carry no credentials);
//! 2. peers with too many recent failures get 429 ([`MAX_FAILURES`] per
//!    [`FAILURE_WINDOW`]);
//! 3. with `--auth_file`, the `Authorization` header must equal one of its
//!    lines (the seed upload server's simple mode);
//! 4. the rules section with the longest URL prefix gives the read or write
//!    rights for the method; open rights pass;
//! 5. otherwise credentials are checked — Basic against the argon2id hash
//!    (off the async workers; a success is remembered so the next request
//!    skips the hash), Digest (RFC 7616, SHA-256) against HA1 — and the
//!    user must be listed: missing or wrong credentials are 401 with both
//!    challenges, a known user without the right is 403.
//!
//! Comparisons of secrets are constant-time.

pub mod basic;
mod digest;
pub mod rules;
pub mod users;

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use http::{HeaderValue, Method, request::Parts};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::error::Error;
use crate::path::SafePath;
use rules::Rules;
use users::{REALM, Users};

/// Whether HTTP's `method` asks for write rights: `PUT`, `POST`, `DELETE`,
/// `PATCH`. Every other method is checked against read rights.
pub fn is_write(method: &Method) -> bool {
    matches!(
        *method,
        Method::PUT | Method::POST | Method::DELETE | Method::PATCH
    )
}

/// Failed attempts a peer may make in [`FAILURE_WINDOW`] before 429.
pub const MAX_FAILURES: u32 = 10;
/// argon2 verifications run at the same time, at most.
pub const MAX_HASHING: usize = 4;
/// The window of [`MAX_FAILURES`].
pub const FAILURE_WINDOW: Duration = Duration::from_secs(60);

/// The access policy of a server.
#[derive(Debug)]
pub struct Access {
    rules: Rules,
    users: Users,
    /// `--auth_file` lines: an `Authorization` header must equal one.
    auth_lines: Option<Vec<String>>,
    /// Key for Digest nonces.
    secret: [u8; 32],
    /// Recent failures per peer.
    failures: Mutex<HashMap<IpAddr, (u32, Instant)>>,
    /// Last verified Basic credentials per user: SHA-256(password | hash).
    verified: Mutex<HashMap<String, [u8; 32]>>,
    /// Bounds the argon2 runs in progress.
    hashing: tokio::sync::Semaphore,
}

impl Access {
    /// A policy from rules and users (and an optional `--auth_file`).
    /// Errors when the rules name users or groups the users file lacks.
    pub fn new(
        rules: Rules,
        users: Users,
        auth_lines: Option<Vec<String>>,
    ) -> Result<Self, String> {
        for name in rules.names() {
            let special = name == "$ALL" || name == "$NONE";
            if !special
                && users.get(name).is_none()
                && !users.summary().iter().any(|(_, g)| g.contains(name))
            {
                return Err(format!(
                    "the rules name {name:?}, which is neither a user nor a group of the users file"
                ));
            }
        }
        let mut secret = [0u8; 32];
        getrandom(&mut secret);
        Ok(Self {
            rules,
            users,
            auth_lines,
            secret,
            failures: Mutex::new(HashMap::new()),
            verified: Mutex::new(HashMap::new()),
            hashing: tokio::sync::Semaphore::new(MAX_HASHING),
        })
    }

    /// Reads `--auth_file`: one accepted `Authorization` value per line.
    pub fn load_auth_file(path: &Path) -> Result<Vec<String>, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let lines: Vec<String> = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect();
        if lines.is_empty() {
            return Err(format!("{} has no line", path.display()));
        }
        Ok(lines)
    }

    /// The rules, for modes that serve their directories.
    pub fn rules(&self) -> &Rules {
        &self.rules
    }

    /// Decides whether the request may go on; `Ok(Some(user))` names the
    /// signed-in user. Its method asks for write rights when [`is_write`]
    /// says so (see [`Access::check_as`] for more write methods).
    pub async fn check(
        self: &Arc<Self>,
        req: &Parts,
        path: &SafePath,
        peer: Option<IpAddr>,
    ) -> Result<Option<String>, Error> {
        self.check_as(req, path, peer, is_write(&req.method)).await
    }

    /// [`Access::check`], `write` saying whether the method asks for write
    /// rights (the engine adds the methods a mode's
    /// [`ConnHook`](crate::ConnHook) declares).
    pub async fn check_as(
        self: &Arc<Self>,
        req: &Parts,
        path: &SafePath,
        peer: Option<IpAddr>,
        write: bool,
    ) -> Result<Option<String>, Error> {
        if req.method == Method::OPTIONS {
            return Ok(None);
        }
        if let Some(ip) = peer {
            if self.throttled(ip) {
                return Err(Error::TooManyRequests);
            }
        }
        let header = req
            .headers
            .get(http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        if let Some(lines) = &self.auth_lines {
            let given = header.unwrap_or_default().as_bytes();
            let ok = lines
                .iter()
                .fold(false, |acc, l| acc | bool::from(l.as_bytes().ct_eq(given)));
            if !ok {
                return Err(self.fail(peer, false));
            }
        }
        let Some(section) = self.rules.find(path) else {
            return Ok(None);
        };
        let acl = if write { &section.write } else { &section.read };
        if acl.is_open() {
            return Ok(None);
        }
        let Some(header) = header else {
            return Err(self.challenge(false));
        };
        let user = match header.split_once(' ') {
            Some((scheme, rest)) if scheme.eq_ignore_ascii_case("Basic") => {
                self.basic(rest.trim()).await
            }
            Some((scheme, rest)) if scheme.eq_ignore_ascii_case("Digest") => {
                let uri = req.uri.path_and_query().map_or("/", |p| p.as_str());
                match digest::verify(&self.secret, rest, req.method.as_str(), uri, |u| {
                    self.users.get(u).map(|x| x.ha1.clone())
                }) {
                    digest::DigestCheck::Valid(user) => Some(user),
                    digest::DigestCheck::Stale => return Err(self.challenge(true)),
                    digest::DigestCheck::Invalid => None,
                }
            }
            _ => None,
        };
        let Some(user) = user else {
            return Err(self.fail(peer, true));
        };
        if acl.allows(&user, &self.users) {
            Ok(Some(user))
        } else {
            Err(Error::Forbidden(
                format!(
                    "{user} may not {} here",
                    if write { "write" } else { "read" }
                )
                .into(),
            ))
        }
    }

    /// Checks Basic credentials; the argon2 check runs in the blocking pool.
    async fn basic(self: &Arc<Self>, b64: &str) -> Option<String> {
        let basic::Credentials { user, password } = basic::decode_token(b64)?;
        let (user, password) = (user.as_str(), password.as_str());
        let Some(phc) = self.users.get(user).map(|u| u.phc.clone()) else {
            // An unknown user costs the same argon2 run as a known one, so
            // timing does not tell which names exist.
            let _permit = self.hashing.acquire().await.ok()?;
            let this = Arc::clone(self);
            let (u, p) = (user.to_owned(), password.to_owned());
            let _ = tokio::task::spawn_blocking(move || this.users.verify_password(&u, &p)).await;
            return None;
        };
        let phc = &phc;
        let mut h = Sha256::new();
        h.update(password.as_bytes());
        h.update(b"|");
        h.update(phc.as_bytes());
        let fingerprint: [u8; 32] = h.finalize().into();
        let known = self
            .verified
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(user)
            .copied();
        if known.is_some_and(|k| bool::from(k.ct_eq(&fingerprint))) {
            return Some(user.to_owned());
        }
        // At most a few argon2 runs (19 MiB each) at a time, whatever the
        // number of connections and streams asking.
        let _permit = self.hashing.acquire().await.ok()?;
        let this = Arc::clone(self);
        let (u, p) = (user.to_owned(), password.to_owned());
        let ok = tokio::task::spawn_blocking(move || this.users.verify_password(&u, &p))
            .await
            .ok()?;
        if !ok {
            return None;
        }
        self.verified
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(user.to_owned(), fingerprint);
        Some(user.to_owned())
    }

    /// 401 with a Basic and a Digest challenge.
    fn challenge(&self, stale: bool) -> Error {
        let basic = HeaderValue::from_str(&format!("Basic realm=\"{REALM}\", charset=\"UTF-8\""))
            .expect("ascii");
        let digest = HeaderValue::from_str(&digest::challenge(&self.secret, stale)).expect("ascii");
        Error::Unauthorized {
            challenges: vec![digest, basic],
        }
    }

    /// Counts a failure for the peer and answers 401.
    fn fail(&self, peer: Option<IpAddr>, with_challenge: bool) -> Error {
        if let Some(ip) = peer {
            let mut map = self.failures.lock().unwrap_or_else(PoisonError::into_inner);
            let now = Instant::now();
            let entry = map.entry(ip).or_insert((0, now));
            if now.duration_since(entry.1) > FAILURE_WINDOW {
                *entry = (0, now);
            }
            entry.0 += 1;
            if map.len() > 10_000 {
                map.retain(|_, (_, t)| now.duration_since(*t) <= FAILURE_WINDOW);
            }
        }
        if with_challenge {
            self.challenge(false)
        } else {
            let basic = HeaderValue::from_str(&format!("Basic realm=\"{REALM}\"")).expect("ascii");
            Error::Unauthorized {
                challenges: vec![basic],
            }
        }
    }

    fn throttled(&self, ip: IpAddr) -> bool {
        let map = self.failures.lock().unwrap_or_else(PoisonError::into_inner);
        map.get(&ip)
            .is_some_and(|(n, t)| *n >= MAX_FAILURES && t.elapsed() <= FAILURE_WINDOW)
    }
}

/// Fills `buf` from the system's random source.
fn getrandom(buf: &mut [u8]) {
    use argon2::password_hash::rand_core::{OsRng, RngCore};
    OsRng.fill_bytes(buf);
}

/// The per-peer failure window (issue 13). Failures are timed with
/// `std::time::Instant`, which `tokio::time::pause` does not stop, so the
/// window's end is reached by dating the recorded failures back rather
/// than by waiting a minute.
#[cfg(test)]
mod failure_window {
    use super::*;

    fn request(auth: &str) -> Parts {
        let (parts, ()) = http::Request::get("/x")
            .header(http::header::AUTHORIZATION, auth)
            .body(())
            .unwrap()
            .into_parts();
        parts
    }

    /// Moves every recorded failure `by` into the past.
    fn age(access: &Access, by: Duration) {
        let mut map = access.failures.lock().unwrap();
        for (_, t) in map.values_mut() {
            *t = t.checked_sub(by).expect("monotonic clock past the window");
        }
    }

    #[tokio::test]
    async fn too_many_failures_are_429_until_the_window_ends() {
        let access = Arc::new(
            Access::new(
                Rules::default(),
                Users::default(),
                Some(vec!["Basic good".into()]),
            )
            .unwrap(),
        );
        let (peer, other) = (
            Some(IpAddr::from([192, 0, 2, 1])),
            Some(IpAddr::from([192, 0, 2, 2])),
        );
        let path = SafePath::root();
        for _ in 0..MAX_FAILURES {
            let r = access.check(&request("Basic bad"), &path, peer).await;
            assert!(matches!(r, Err(Error::Unauthorized { .. })), "{r:?}");
        }
        // Throttled, even with the right credentials; other peers are not.
        let r = access.check(&request("Basic good"), &path, peer).await;
        assert!(matches!(r, Err(Error::TooManyRequests)), "{r:?}");
        assert!(
            access
                .check(&request("Basic good"), &path, other)
                .await
                .is_ok()
        );
        // Just inside the window: still throttled.
        age(&access, FAILURE_WINDOW - Duration::from_secs(5));
        let r = access.check(&request("Basic good"), &path, peer).await;
        assert!(matches!(r, Err(Error::TooManyRequests)), "{r:?}");
        // Past it: let in, and a new failure counts from one again.
        age(&access, Duration::from_secs(10));
        assert!(
            access
                .check(&request("Basic good"), &path, peer)
                .await
                .is_ok()
        );
        let r = access.check(&request("Basic bad"), &path, peer).await;
        assert!(matches!(r, Err(Error::Unauthorized { .. })));
        assert_eq!(access.failures.lock().unwrap()[&peer.unwrap()].0, 1);
    }
}

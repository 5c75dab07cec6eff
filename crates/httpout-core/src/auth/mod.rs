//! Who may do what: access rules, users, HTTP Basic and Digest.
//!
//! [`Access::check`] runs once per request, after the path is decoded and
//! before any mode sees the request:
//! 1. `OPTIONS` passes (CORS preflights carry no credentials);
//! 2. with `--auth_file`, the `Authorization` header must equal one of its
//!    lines (the seed upload server's simple mode);
//! 3. the rules section with the longest URL prefix gives the read or write
//!    rights for the method; open rights pass, whatever the failure
//!    counters say;
//! 4. otherwise the user is the one a verified client certificate names
//!    ([`cert`], `--ca`), whatever the `Authorization` header says; without
//!    one, credentials are checked — Basic against the argon2id hash (off
//!    the async workers, into a fixed pool of memory; a success is
//!    remembered so the next request skips the hash), Digest (RFC 7616,
//!    the algorithms offered: SHA-256, MD5) against HA1 — and the user
//!    must be listed: missing or wrong credentials are 401 with the
//!    challenges (one Digest per algorithm, then Basic), a known user
//!    without the right is 403.
//!
//! Each check of credentials is an attempt counted by the failure limits
//! (`limit.rs`): per (address, user name) refused with 429 past
//! [`USER_FAILURES`], per address slowed past [`ADDRESS_FAILURES`]; Basic
//! credentials that match the last verified ones of their user pass
//! without a check, so a user who signed in is never locked out.
//!
//! Comparisons of secrets are constant-time.

pub mod basic;
pub mod cert;
mod digest;
mod hashing;
mod limit;
pub mod rules;
pub mod users;

pub use cert::ClientCert;
pub use digest::Algorithm;
pub use hashing::MAX_HASHING;
pub use limit::{
    ADDRESS_FAILURES, Attempt, FAILURE_WINDOW, Failures, MAX_TRACKED, SLOW_DELAY, USER_FAILURES,
};

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};

use http::{HeaderValue, Method, request::Parts};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::error::Error;
use crate::path::SafePath;
use hashing::Hashing;
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

/// How credentials are checked, besides the rules and the users file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessOptions {
    /// `--auth_file` lines: an `Authorization` header must equal one.
    pub auth_lines: Option<Vec<String>>,
    /// The Digest algorithms offered, in the order of their challenges
    /// (`--digest`). Default: SHA-256 alone.
    pub digest: Vec<Algorithm>,
    /// Client certificates name users (`--ca`): the rules may then name
    /// users the users file lacks (certificate subjects). Default false.
    pub certificates: bool,
}

impl Default for AccessOptions {
    fn default() -> Self {
        Self {
            auth_lines: None,
            digest: vec![Algorithm::Sha256],
            certificates: false,
        }
    }
}

/// The access policy of a server.
#[derive(Debug)]
pub struct Access {
    rules: Rules,
    users: Users,
    /// `--auth_file` lines: an `Authorization` header must equal one.
    auth_lines: Option<Vec<String>>,
    /// Digest algorithms offered, in order.
    digest: Vec<Algorithm>,
    /// Users who answered Digest with an algorithm they have no hash for,
    /// logged once each.
    missing_hash: Mutex<HashSet<(String, Algorithm)>>,
    /// Key for Digest nonces.
    secret: [u8; 32],
    /// Recent failures per address and per (address, user).
    failures: Failures,
    /// Last verified Basic credentials per user: SHA-256(password | hash).
    verified: Mutex<HashMap<String, [u8; 32]>>,
    /// Bounds the argon2 runs in progress and holds their memory.
    hashing: Arc<Hashing>,
}

impl Access {
    /// A policy from rules and users (and an optional `--auth_file`),
    /// with Digest SHA-256 and no client certificates.
    /// Errors when the rules name users or groups the users file lacks.
    pub fn new(
        rules: Rules,
        users: Users,
        auth_lines: Option<Vec<String>>,
    ) -> Result<Self, String> {
        let options = AccessOptions {
            auth_lines,
            ..AccessOptions::default()
        };
        Self::with_options(rules, users, options)
    }

    /// A policy from rules, users and `options`. Errors when the rules name
    /// users or groups the users file lacks, unless client certificates
    /// name users.
    pub fn with_options(
        rules: Rules,
        users: Users,
        options: AccessOptions,
    ) -> Result<Self, String> {
        for name in rules.names() {
            let special = name == "$ALL" || name == "$NONE";
            if !special
                && !options.certificates
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
        let hashing = Arc::new(Hashing::new(users.memory_blocks()));
        Ok(Self {
            rules,
            users,
            auth_lines: options.auth_lines,
            digest: options.digest,
            missing_hash: Mutex::new(HashSet::new()),
            secret,
            failures: Failures::new(),
            verified: Mutex::new(HashMap::new()),
            hashing,
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
    /// signed-in user: the one a [`ClientCert`] in the request's extensions
    /// names (the engine puts it there after a verified handshake), else
    /// the one of the `Authorization` header when the rules ask for one. Its method asks for write rights when [`is_write`]
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
        let header = req
            .headers
            .get(http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        if let Some(lines) = &self.auth_lines {
            let Some(given) = header else {
                return Err(basic_challenge());
            };
            // A token names no user; Basic credentials do.
            let name = basic::decode(given).map(|c| c.user).unwrap_or_default();
            let attempt = self.begin(peer, &name)?;
            let _turn = match &attempt {
                Some(a) => a.pace().await,
                None => None,
            };
            let ok = lines.iter().fold(false, |acc, l| {
                acc | bool::from(l.as_bytes().ct_eq(given.as_bytes()))
            });
            if let Some(a) = attempt {
                a.finish(ok);
            }
            if !ok {
                return Err(basic_challenge());
            }
        }
        let certified = req.extensions.get::<ClientCert>().map(|c| c.user.clone());
        let Some(section) = self.rules.find(path) else {
            return Ok(certified);
        };
        let acl = if write { &section.write } else { &section.read };
        if acl.is_open() {
            return Ok(certified);
        }
        let user = match certified {
            Some(user) => user,
            None => self.credentials(req, header, peer).await?,
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

    /// Signs the request's client in, whatever the rules say: the user a
    /// verified [`ClientCert`] names, else the one of the `Authorization`
    /// header's credentials (Basic, Digest), checked against the users
    /// file and counted by the failure limits as in [`Access::check`].
    /// Missing or wrong credentials are 401 with the challenges; a name
    /// refused from `peer` is 429. The [`Router`](crate::Router)'s
    /// per-route authorisation ([`Router::auth`](crate::Router::auth))
    /// signs users in through this.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use httpout_core::auth::{Access, rules::Rules, users::Users};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let mut users = Users::default();
    /// users.set_password("larry", "wall").unwrap();
    /// let access = Arc::new(Access::new(Rules::default(), users, None).unwrap());
    /// let req = http::Request::get("/foo").body(()).unwrap().into_parts().0;
    /// let refused = access.sign_in(&req, None).await.unwrap_err();
    /// assert_eq!(refused.status(), 401);
    /// # }
    /// ```
    pub async fn sign_in(
        self: &Arc<Self>,
        req: &Parts,
        peer: Option<IpAddr>,
    ) -> Result<String, Error> {
        if let Some(cert) = req.extensions.get::<ClientCert>() {
            return Ok(cert.user.clone());
        }
        let header = req
            .headers
            .get(http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        self.credentials(req, header, peer).await
    }

    /// The user of the `Authorization` header's credentials; 401 when
    /// there are none or they are wrong.
    async fn credentials(
        self: &Arc<Self>,
        req: &Parts,
        header: Option<&str>,
        peer: Option<IpAddr>,
    ) -> Result<String, Error> {
        let Some(header) = header else {
            return Err(self.challenge(false));
        };
        let user = match header.split_once(' ') {
            Some((scheme, rest)) if scheme.eq_ignore_ascii_case("Basic") => {
                self.basic(rest.trim(), peer).await?
            }
            Some((scheme, rest)) if scheme.eq_ignore_ascii_case("Digest") => {
                let uri = req.uri.path_and_query().map_or("/", |p| p.as_str());
                self.digest(rest, req.method.as_str(), uri, peer).await?
            }
            _ => None,
        };
        user.ok_or_else(|| self.challenge(false))
    }

    /// Starts an attempt of `user` from `peer` (none without an address:
    /// a Unix socket's peers are local); 429 when that name is refused
    /// from there.
    fn begin(&self, peer: Option<IpAddr>, user: &str) -> Result<Option<limit::Attempt<'_>>, Error> {
        match peer {
            Some(ip) => self
                .failures
                .begin(ip, user)
                .map(Some)
                .ok_or(Error::TooManyRequests),
            None => Ok(None),
        }
    }

    /// Checks Basic credentials: the signed-in user, `None` when wrong. The
    /// argon2 check runs in the blocking pool, into the pool's memory.
    async fn basic(
        self: &Arc<Self>,
        b64: &str,
        peer: Option<IpAddr>,
    ) -> Result<Option<String>, Error> {
        let Some(basic::Credentials { user, password }) = basic::decode_token(b64) else {
            return Ok(None);
        };
        let fingerprint = self.users.get(&user).map(|u| {
            let mut h = Sha256::new();
            h.update(password.as_bytes());
            h.update(b"|");
            h.update(u.phc.as_bytes());
            <[u8; 32]>::from(h.finalize())
        });
        if let Some(fingerprint) = &fingerprint {
            let known = self
                .verified
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .get(&user)
                .copied();
            // The credentials last verified: no attempt, no argon2.
            if known.is_some_and(|k| bool::from(k.ct_eq(fingerprint))) {
                return Ok(Some(user));
            }
        }
        let attempt = self.begin(peer, &user)?;
        let _turn = match &attempt {
            Some(a) => a.pace().await,
            None => None,
        };
        // An unknown user costs the same argon2 run as a known one, so
        // timing does not tell which names exist.
        let this = Arc::clone(self);
        let name = user.clone();
        let ok = self
            .hashing
            .run(move |memory| this.users.verify_password_in(&name, &password, memory))
            .await
            .unwrap_or(false);
        if let Some(a) = attempt {
            a.finish(ok);
        }
        let Some(fingerprint) = fingerprint.filter(|_| ok) else {
            return Ok(None);
        };
        self.verified
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(user.clone(), fingerprint);
        Ok(Some(user))
    }

    /// Checks Digest credentials: the signed-in user, `None` when wrong; a
    /// stale nonce is a new challenge, not a failure.
    async fn digest(
        &self,
        params: &str,
        method: &str,
        uri: &str,
        peer: Option<IpAddr>,
    ) -> Result<Option<String>, Error> {
        let name = digest::params(params)
            .remove("username")
            .unwrap_or_default();
        let attempt = self.begin(peer, &name)?;
        let _turn = match &attempt {
            Some(a) => a.pace().await,
            None => None,
        };
        let checked = digest::verify(&self.secret, params, method, uri, &self.digest, &self.users);
        match checked {
            digest::DigestCheck::Valid(user) => {
                if let Some(a) = attempt {
                    a.finish(true);
                }
                Ok(Some(user))
            }
            // Dropped unfinished: not a failure.
            digest::DigestCheck::Stale => Err(self.challenge(true)),
            digest::DigestCheck::NoHash(user, algorithm) => {
                self.tell_missing_hash(&user, algorithm);
                if let Some(a) = attempt {
                    a.finish(false);
                }
                Ok(None)
            }
            digest::DigestCheck::Invalid => {
                if let Some(a) = attempt {
                    a.finish(false);
                }
                Ok(None)
            }
        }
    }

    /// Logs, once per user and algorithm, that a user answered Digest
    /// with an algorithm the users file has no hash of for them.
    fn tell_missing_hash(&self, user: &str, algorithm: Algorithm) {
        let first = self
            .missing_hash
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert((user.to_owned(), algorithm));
        if first {
            tracing::warn!(
                target: "httpout::auth",
                "{user} signed in with Digest {algorithm}, but the users file has no {algorithm} \
                 hash for them (written before it was kept): refused as a wrong password; \
                 `httpout users passwd {user}` stores it"
            );
        }
    }

    /// 401 with a Digest challenge per algorithm offered, in order, then
    /// a Basic one. The challenges share one nonce.
    fn challenge(&self, stale: bool) -> Error {
        let basic = HeaderValue::from_str(&format!("Basic realm=\"{REALM}\", charset=\"UTF-8\""))
            .expect("ascii");
        let nonce = digest::nonce(&self.secret);
        let mut challenges: Vec<HeaderValue> = self
            .digest
            .iter()
            .map(|a| HeaderValue::from_str(&digest::challenge(*a, &nonce, stale)).expect("ascii"))
            .collect();
        challenges.push(basic);
        Error::Unauthorized { challenges }
    }
}

/// 401 with a Basic challenge (`--auth_file`).
fn basic_challenge() -> Error {
    let basic = HeaderValue::from_str(&format!("Basic realm=\"{REALM}\"")).expect("ascii");
    Error::Unauthorized {
        challenges: vec![basic],
    }
}

/// Fills `buf` from the system's random source.
fn getrandom(buf: &mut [u8]) {
    use argon2::password_hash::rand_core::{OsRng, RngCore};
    OsRng.fill_bytes(buf);
}

/// The failure limits through [`Access::check`], in virtual time.
#[cfg(test)]
mod failure_limits {
    use super::*;
    use std::time::Duration;

    fn request(path: &str, auth: Option<&str>) -> Parts {
        let mut req = http::Request::get(path);
        if let Some(auth) = auth {
            req = req.header(http::header::AUTHORIZATION, auth);
        }
        req.body(()).unwrap().into_parts().0
    }

    fn token_access() -> Arc<Access> {
        Arc::new(
            Access::new(
                Rules::default(),
                Users::default(),
                Some(vec!["Bearer good".into()]),
            )
            .unwrap(),
        )
    }

    #[tokio::test(start_paused = true)]
    async fn a_wrong_token_is_refused_from_its_address_until_the_window_ends() {
        let access = token_access();
        let (peer, other) = (
            Some(IpAddr::from([192, 0, 2, 1])),
            Some(IpAddr::from([192, 0, 2, 2])),
        );
        let path = SafePath::root();
        let check = |auth: &'static str, peer| {
            let access = Arc::clone(&access);
            let path = path.clone();
            async move { access.check(&request("/x", Some(auth)), &path, peer).await }
        };
        for _ in 0..USER_FAILURES {
            let r = check("Bearer bad", peer).await;
            assert!(matches!(r, Err(Error::Unauthorized { .. })), "{r:?}");
        }
        let r = check("Bearer bad", peer).await;
        assert!(matches!(r, Err(Error::TooManyRequests)), "{r:?}");
        assert!(check("Bearer good", other).await.is_ok());
        // No header is no attempt: a challenge, never 429.
        let r = access.check(&request("/x", None), &path, peer).await;
        assert!(matches!(r, Err(Error::Unauthorized { .. })), "{r:?}");
        tokio::time::advance(FAILURE_WINDOW - Duration::from_secs(1)).await;
        let r = check("Bearer good", peer).await;
        assert!(matches!(r, Err(Error::TooManyRequests)), "{r:?}");
        tokio::time::advance(Duration::from_secs(1)).await;
        assert!(check("Bearer good", peer).await.is_ok());
    }

    #[tokio::test(start_paused = true)]
    async fn open_paths_pass_and_a_known_user_is_not_locked_out() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("rules.ini");
        std::fs::write(&file, "[pub]\nname=pub\n[priv]\nname=priv\nru=alice\n").unwrap();
        let mut rules = Rules::default();
        rules.load(&file).unwrap();
        let mut users = Users::default();
        users.set_password("alice", "s3cret").unwrap();
        let access = Arc::new(Access::new(rules, users, None).unwrap());
        let basic = |user: &str, pw: &str| {
            use base64::Engine as _;
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pw}"))
            )
        };
        let peer = Some(IpAddr::from([192, 0, 2, 1]));
        let public = SafePath::parse("/pub/a").unwrap();
        let private = SafePath::parse("/priv/a").unwrap();
        // Lock the address: failures over many names.
        for i in 0..ADDRESS_FAILURES {
            let auth = basic(&format!("u{i}"), "x");
            let r = access
                .check(&request("/priv/a", Some(&auth)), &private, peer)
                .await;
            assert!(matches!(r, Err(Error::Unauthorized { .. })), "{r:?}");
        }
        // A public path needs nothing: served, with or without credentials.
        let wrong = basic("alice", "bad");
        assert!(
            access
                .check(&request("/pub/a", None), &public, peer)
                .await
                .is_ok()
        );
        assert!(
            access
                .check(&request("/pub/a", Some(&wrong)), &public, peer)
                .await
                .is_ok()
        );
        // The right password gets through the address's lock, slowed.
        let right = basic("alice", "s3cret");
        let start = tokio::time::Instant::now();
        let r = access
            .check(&request("/priv/a", Some(&right)), &private, peer)
            .await;
        assert_eq!(r.unwrap().as_deref(), Some("alice"));
        assert!(start.elapsed() >= SLOW_DELAY);
        // Ten wrong passwords for alice from here refuse her name here...
        for _ in 0..USER_FAILURES {
            let _ = access
                .check(&request("/priv/a", Some(&wrong)), &private, peer)
                .await;
        }
        let r = access
            .check(&request("/priv/a", Some(&wrong)), &private, peer)
            .await;
        assert!(matches!(r, Err(Error::TooManyRequests)), "{r:?}");
        // ...but the password she signed in with still opens, unchecked.
        let r = access
            .check(&request("/priv/a", Some(&right)), &private, peer)
            .await;
        assert_eq!(r.unwrap().as_deref(), Some("alice"));
    }
}

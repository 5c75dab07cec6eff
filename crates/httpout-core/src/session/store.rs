//! Where sessions live: in memory, and with a data directory also on disk
//! (one JSON file per session, written atomically), read back at start.
//!
//! Sessions are keyed by the SHA-256 of their id, never by the id itself:
//! a lookup's timing, a file name or a memory dump tells nothing that
//! would let anyone present a valid id.

use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::auth::users::hex;
use crate::error::Error;

/// A session's data: its keys and their JSON values.
pub(super) type Data = Map<String, Value>;

/// What a session holds: the user it is signed in as, and its data.
#[derive(Debug, Clone, Default, PartialEq)]
pub(super) struct Contents {
    pub(super) user: Option<String>,
    pub(super) data: Data,
}

/// The SHA-256 of a session id: the key it is stored under.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) struct Key([u8; 32]);

impl Key {
    pub(super) fn of(id: &str) -> Self {
        Self(Sha256::digest(id.as_bytes()).into())
    }

    fn file_name(self) -> String {
        format!("{}.json", hex(&self.0))
    }
}

/// One stored session.
#[derive(Debug, Clone)]
struct Entry {
    contents: Arc<Contents>,
    /// Seconds since the epoch after which it is gone.
    expires: u64,
    /// The expiry its file holds (a touch rewrites the file only when the
    /// expiry moved by a quarter of the lifetime).
    on_disk: u64,
}

/// The sessions of a [`Sessions`](super::Sessions).
#[derive(Debug)]
pub(super) struct Store {
    entries: Mutex<Entries>,
    dir: Option<PathBuf>,
    /// One change at a time, from the memory update to the end of its
    /// disk work (held by the blocking task, so a cancelled request cannot
    /// let the next change overtake its write): files land in the order
    /// the memory changed.
    writing: Arc<tokio::sync::Mutex<()>>,
    clock: Clock,
    ttl: Duration,
    max_sessions: usize,
}

#[derive(Debug, Default)]
struct Entries {
    map: HashMap<Key, Entry>,
    /// When expired sessions were last swept.
    swept: u64,
}

/// The file format.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct OnDisk {
    expires: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    user: Option<String>,
    data: Data,
}

/// Seconds since the epoch: the system clock, but never behind what tokio's
/// monotonic clock has counted since the store was made. A wall clock set
/// back does not bring expired sessions back or prolong live ones; one
/// that moves forward (a clock synchronised after boot, a machine waking
/// from suspend) is followed; tests move it in virtual time.
#[derive(Debug, Clone, Copy)]
struct Clock {
    epoch_secs: u64,
    start: tokio::time::Instant,
}

/// The system clock, in seconds since the epoch.
fn system_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl Clock {
    fn new() -> Self {
        Self {
            epoch_secs: system_secs(),
            start: tokio::time::Instant::now(),
        }
    }

    fn now(self) -> u64 {
        let counted = self.epoch_secs + self.start.elapsed().as_secs();
        counted.max(system_secs())
    }
}

impl Store {
    pub(super) fn memory(ttl: Duration, max_sessions: usize) -> Self {
        Self {
            entries: Mutex::new(Entries::default()),
            dir: None,
            writing: Arc::default(),
            clock: Clock::new(),
            ttl,
            max_sessions,
        }
    }

    /// A store kept in `dir` (created, mode 0700): the sessions there that
    /// have not expired are read back (at most `max_sessions`, those that
    /// expire last; at most `max_size` bytes each); expired, unreadable and
    /// oversized files are removed.
    pub(super) fn dir(
        dir: &Path,
        ttl: Duration,
        max_sessions: usize,
        max_size: usize,
    ) -> io::Result<Self> {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)?;
        let clock = Clock::new();
        let now = clock.now();
        let mut found = Vec::new();
        for item in std::fs::read_dir(dir)? {
            let path = item?.path();
            let temp = path
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(TEMP_PREFIX));
            if temp {
                remove_quietly(&path);
                continue;
            }
            let Some(key) = key_of_file(&path) else {
                continue;
            };
            let kept = std::fs::metadata(&path)
                .ok()
                .filter(|m| m.len() <= max_size as u64 + 64)
                .and_then(|_| std::fs::read(&path).ok())
                .and_then(|bytes| serde_json::from_slice::<OnDisk>(&bytes).ok())
                .filter(|s| s.expires > now);
            match kept {
                Some(s) => found.push((key, s, path)),
                None => remove_quietly(&path),
            }
        }
        found.sort_by_key(|(_, s, _)| std::cmp::Reverse(s.expires));
        for (_, _, path) in found.iter().skip(max_sessions) {
            remove_quietly(path);
        }
        let map = found
            .into_iter()
            .take(max_sessions)
            .map(|(key, s, _)| {
                let contents = Contents {
                    user: s.user,
                    data: s.data,
                };
                let entry = Entry {
                    contents: Arc::new(contents),
                    expires: s.expires,
                    on_disk: s.expires,
                };
                (key, entry)
            })
            .collect();
        Ok(Self {
            entries: Mutex::new(Entries { map, swept: now }),
            dir: Some(dir.to_owned()),
            writing: Arc::default(),
            clock,
            ttl,
            max_sessions,
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Entries> {
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// What the session stored under `key` holds, if it has not expired.
    pub(super) fn load(&self, key: Key) -> Option<Arc<Contents>> {
        let now = self.clock.now();
        let entries = self.lock();
        entries
            .map
            .get(&key)
            .filter(|e| e.expires > now)
            .map(|e| Arc::clone(&e.contents))
    }

    /// Stores `contents` under `key` for another lifetime. A `fresh` key (an
    /// id just issued) is added, 503 when the store is full of live
    /// sessions (after a sweep of the expired ones); a presented one is
    /// only updated: if it was destroyed, rotated away or expired while
    /// the request ran, the write is dropped, so a slow request cannot
    /// bring a dead id back.
    pub(super) async fn save(
        &self,
        key: Key,
        contents: Contents,
        fresh: bool,
    ) -> Result<(), Error> {
        let turn = Arc::clone(&self.writing).lock_owned().await;
        let expires = self.clock.now() + self.ttl.as_secs().max(1);
        let contents = Arc::new(contents);
        let (swept, full) = {
            let mut entries = self.lock();
            let known = entries.map.contains_key(&key);
            if !known && !fresh {
                return Ok(());
            }
            let mut swept = Vec::new();
            if !known {
                let full = entries.map.len() >= self.max_sessions;
                swept = self.sweep(&mut entries, full);
            }
            let full = !known && entries.map.len() >= self.max_sessions;
            if !full {
                let entry = Entry {
                    contents: Arc::clone(&contents),
                    expires,
                    on_disk: expires,
                };
                entries.map.insert(key, entry);
            }
            (swept, full)
        };
        if full {
            self.persist(turn, swept, None).await?;
            return Err(Error::Unavailable(
                format!("too many sessions (max {})", self.max_sessions).into(),
            ));
        }
        self.persist(turn, swept, Some((key, &contents, expires)))
            .await
    }

    /// Moves the session under `old` to the fresh key `new`, holding
    /// `contents`, for another lifetime: in one step, so it takes no new
    /// place (a full store does not refuse it). Nothing is done, and false
    /// returned, when `old` is gone (destroyed, expired, or rotated away by
    /// a request of the same session that ended first): a dead id stays
    /// dead, and its requests do not fork it.
    pub(super) async fn rotate(
        &self,
        old: Key,
        new: Key,
        contents: Contents,
    ) -> Result<bool, Error> {
        let turn = Arc::clone(&self.writing).lock_owned().await;
        let now = self.clock.now();
        let expires = now + self.ttl.as_secs().max(1);
        let contents = Arc::new(contents);
        let moved = {
            let mut entries = self.lock();
            match entries.map.remove(&old) {
                None => return Ok(false),
                Some(entry) if entry.expires <= now => false,
                Some(_) => {
                    let entry = Entry {
                        contents: Arc::clone(&contents),
                        expires,
                        on_disk: expires,
                    };
                    entries.map.insert(new, entry);
                    true
                }
            }
        };
        let written = moved.then_some((new, &*contents, expires));
        self.persist(turn, vec![old], written).await?;
        Ok(moved)
    }

    /// Gives the session under `key` another lifetime from now.
    pub(super) async fn touch(&self, key: Key) -> Result<(), Error> {
        let turn = Arc::clone(&self.writing).lock_owned().await;
        let expires = self.clock.now() + self.ttl.as_secs().max(1);
        let rewrite = {
            let mut entries = self.lock();
            let Some(entry) = entries.map.get_mut(&key) else {
                return Ok(());
            };
            entry.expires = expires;
            let moved = expires.saturating_sub(entry.on_disk) > self.ttl.as_secs() / 4;
            (self.dir.is_some() && moved).then(|| {
                entry.on_disk = expires;
                Arc::clone(&entry.contents)
            })
        };
        match rewrite {
            Some(contents) => {
                self.persist(turn, Vec::new(), Some((key, &contents, expires)))
                    .await
            }
            None => Ok(()),
        }
    }

    /// Forgets the session under `key`.
    pub(super) async fn remove(&self, key: Key) {
        let turn = Arc::clone(&self.writing).lock_owned().await;
        let removed = self.lock().map.remove(&key).is_some();
        if removed {
            if let Err(e) = self.persist(turn, vec![key], None).await {
                tracing::warn!(target: "httpout::session", "removing a session's file: {e}");
            }
        }
    }

    /// Drops expired sessions, at most once a minute unless `now_anyway`;
    /// returns their keys for their files to be removed.
    fn sweep(&self, entries: &mut Entries, now_anyway: bool) -> Vec<Key> {
        let now = self.clock.now();
        if !now_anyway && now < entries.swept + 60 {
            return Vec::new();
        }
        entries.swept = now;
        let expired: Vec<Key> = entries
            .map
            .iter()
            .filter(|(_, e)| e.expires <= now)
            .map(|(k, _)| *k)
            .collect();
        for key in &expired {
            entries.map.remove(key);
        }
        if !expired.is_empty() {
            tracing::debug!(target: "httpout::session", "{} expired sessions swept", expired.len());
        }
        expired
    }

    /// The disk side of a change, under its `turn`: writes `written`'s
    /// file (a temporary file beside it, renamed over it), then removes the
    /// files of `removed` (a crash in between leaves a rotated session
    /// under its old id too, not under none). Nothing without a directory.
    async fn persist(
        &self,
        turn: tokio::sync::OwnedMutexGuard<()>,
        removed: Vec<Key>,
        written: Option<(Key, &Contents, u64)>,
    ) -> Result<(), Error> {
        let Some(dir) = self.dir.clone() else {
            return Ok(());
        };
        let written = match written {
            Some((key, contents, expires)) => {
                let on_disk = OnDisk {
                    expires,
                    user: contents.user.clone(),
                    data: contents.data.clone(),
                };
                let bytes = serde_json::to_vec(&on_disk).map_err(|e| Error::Internal(e.into()))?;
                Some((key, bytes))
            }
            None => None,
        };
        tokio::task::spawn_blocking(move || {
            let _turn = turn;
            if let Some((key, bytes)) = written {
                use std::io::Write as _;
                let mut tmp = tempfile::Builder::new()
                    .prefix(TEMP_PREFIX)
                    .tempfile_in(&dir)?;
                tmp.write_all(&bytes)?;
                tmp.persist(dir.join(key.file_name()))
                    .map_err(|e| e.error)?;
            }
            for key in removed {
                remove_quietly(&dir.join(key.file_name()));
            }
            Ok::<_, io::Error>(())
        })
        .await
        .map_err(|e| Error::Internal(e.into()))?
        .map_err(Error::Io)
    }
}

/// The start of a temporary file's name: one left by a crash is removed
/// when the directory is read back.
const TEMP_PREFIX: &str = ".session-";

/// The key a session file is named for (`<64 hex digits>.json`).
fn key_of_file(path: &Path) -> Option<Key> {
    let stem = path.file_name()?.to_str()?.strip_suffix(".json")?;
    if stem.len() != 64 {
        return None;
    }
    let mut key = [0u8; 32];
    for (i, byte) in key.iter_mut().enumerate() {
        *byte = u8::from_str_radix(stem.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(Key(key))
}

/// Removes a file, logging why not (a missing file is no error).
fn remove_quietly(path: &Path) {
    match std::fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => {
            tracing::warn!(target: "httpout::session", "cannot remove {}: {e}", path.display());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn files_survive_a_new_store_and_expired_ones_go() {
        let dir = tempfile::tempdir().unwrap();
        let ttl = Duration::from_secs(600);
        let store = Store::dir(dir.path(), ttl, 10, 1000).unwrap();
        let key = Key::of("some id");
        let mut contents = Contents {
            user: Some("ann".into()),
            ..Contents::default()
        };
        contents.data.insert("n".into(), 3.into());
        store.save(key, contents, true).await.unwrap();
        // A stale file and a stray temporary file.
        let stale = Key::of("old");
        let text = r#"{"expires":1,"data":{}}"#;
        std::fs::write(dir.path().join(stale.file_name()), text).unwrap();
        let stray = dir.path().join(format!("{TEMP_PREFIX}abc"));
        std::fs::write(&stray, "{").unwrap();
        let again = Store::dir(dir.path(), ttl, 10, 1000).unwrap();
        let loaded = again.load(key).unwrap();
        assert_eq!(
            (loaded.data["n"].as_u64(), loaded.user.as_deref()),
            (Some(3), Some("ann"))
        );
        assert!(again.load(stale).is_none());
        assert!(!dir.path().join(stale.file_name()).exists());
        assert!(!stray.exists());
        again.remove(key).await;
        assert!(!dir.path().join(key.file_name()).exists());
    }

    #[tokio::test]
    async fn a_full_store_refuses_new_sessions() {
        let store = Store::memory(Duration::from_secs(600), 2);
        for id in ["a", "b"] {
            store
                .save(Key::of(id), Contents::default(), true)
                .await
                .unwrap();
        }
        let refused = store
            .save(Key::of("c"), Contents::default(), true)
            .await
            .unwrap_err();
        assert_eq!(refused.status(), 503);
        // Existing sessions still save.
        store
            .save(Key::of("a"), Contents::default(), false)
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn rotation_takes_no_new_place_and_happens_once() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::dir(dir.path(), Duration::from_secs(600), 2, 1000).unwrap();
        let (old, other) = (Key::of("old"), Key::of("other"));
        for key in [old, other] {
            store.save(key, Contents::default(), true).await.unwrap();
        }
        // Full, yet the rotation is done: the new id takes the old one's
        // place, on disk too.
        let new = Key::of("new");
        assert!(store.rotate(old, new, Contents::default()).await.unwrap());
        assert!(store.load(old).is_none() && store.load(new).is_some());
        assert!(!dir.path().join(old.file_name()).exists());
        assert!(dir.path().join(new.file_name()).exists());
        // A second request that had loaded the old id: nothing, no fork.
        let fork = Key::of("fork");
        assert!(!store.rotate(old, fork, Contents::default()).await.unwrap());
        assert!(store.load(fork).is_none());
        assert!(!dir.path().join(fork.file_name()).exists());
    }

    #[tokio::test]
    async fn a_removed_session_is_not_brought_back_by_a_late_save() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::dir(dir.path(), Duration::from_secs(600), 10, 1000).unwrap();
        let key = Key::of("id");
        store.save(key, Contents::default(), true).await.unwrap();
        store.remove(key).await;
        // A request that loaded the session before it was removed ends.
        let mut late = Contents::default();
        late.data.insert("n".into(), 101.into());
        store.save(key, late, false).await.unwrap();
        assert!(store.load(key).is_none());
        assert!(!dir.path().join(key.file_name()).exists());
    }
}

//! The users file (`--users=FILE`): who may sign in, and their groups.
//!
//! One record per line, fields separated by spaces; `#` starts a comment:
//!
//! ```text
//! user alice $argon2id$v=19$m=19456,t=2,p=1$SALT$HASH sha256:HA1 md5:HA1
//! group editors alice bob
//! ```
//!
//! Passwords are stored only as salted argon2id hashes (PHC strings), which
//! HTTP Basic is checked against. HTTP Digest (RFC 7616) cannot use such a
//! hash: it needs `HA1 = H(name:realm:password)` with the realm [`REALM`],
//! H being the algorithm's hash (SHA-256, MD5), stored beside it (as
//! Apache's htdigest does): both are written whenever a password is set,
//! whichever algorithms a server offers, and a file written before MD5 was
//! kept has only `sha256:` until the password changes. HA1 is as good as
//! the password for that realm on this server only; keep the file private
//! (it is written with mode 0600). The file is managed with
//! `httpout users --users=FILE add|passwd|del|group|show` (see the CLI).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use argon2::password_hash::rand_core::{OsRng, RngCore as _};
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Argon2, Block, Params, Version};
use subtle::ConstantTimeEq as _;

use super::digest::Algorithm;

/// The realm of Basic and Digest challenges; part of every stored HA1.
pub const REALM: &str = "httpout";

/// One user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// argon2id hash of the password, as a PHC string.
    pub phc: String,
    /// SHA-256 of `name:realm:password`, lower-case hex, for Digest.
    pub sha256: Option<String>,
    /// MD5 of `name:realm:password`, lower-case hex, for Digest.
    pub md5: Option<String>,
}

impl User {
    /// The stored HA1 for Digest with `algorithm`, if the file has it.
    pub fn ha1(&self, algorithm: Algorithm) -> Option<&str> {
        match algorithm {
            Algorithm::Sha256 => self.sha256.as_deref(),
            Algorithm::Md5 => self.md5.as_deref(),
        }
    }
}

/// The field name of an HA1 in the file (`sha256`, `md5`).
fn field(algorithm: Algorithm) -> &'static str {
    match algorithm {
        Algorithm::Sha256 => "sha256",
        Algorithm::Md5 => "md5",
    }
}

/// Reads the `ALG:HEX` fields after a user's hash: at least one, each
/// algorithm at most once.
fn parse_ha1s(fields: &[&str]) -> Option<(Option<String>, Option<String>)> {
    let (mut sha256, mut md5) = (None, None);
    for f in fields {
        let (name, hash) = f.split_once(':')?;
        let (slot, len) = match name {
            "sha256" => (&mut sha256, 64),
            "md5" => (&mut md5, 32),
            _ => return None,
        };
        let valid = hash.len() == len && hash.bytes().all(|b| b.is_ascii_hexdigit());
        if !valid || slot.is_some() {
            return None;
        }
        *slot = Some(hash.to_ascii_lowercase());
    }
    (!fields.is_empty()).then_some((sha256, md5))
}

/// Users and groups.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Users {
    users: BTreeMap<String, User>,
    groups: BTreeMap<String, Vec<String>>,
}

/// A name usable in the file: no spaces, colons or control characters.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && !name.starts_with('$')
        && name
            .chars()
            .all(|c| c.is_ascii_graphic() && c != ':' && c != '#' && c != ',')
}

impl Users {
    /// Reads a users file; errors name the line.
    pub fn load(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        Self::parse(&text).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// Parses the file's text.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut users = Self::default();
        for (n, line) in text.lines().enumerate() {
            let line = line.split('#').next().unwrap_or_default().trim();
            let fields: Vec<&str> = line.split_whitespace().collect();
            match fields.as_slice() {
                [] => {}
                ["user", name, phc, ha1s @ ..] if valid_name(name) => {
                    let (sha256, md5) = parse_ha1s(ha1s).ok_or_else(|| {
                        format!(
                            "line {}: expected sha256:HEX and/or md5:HEX after the password hash",
                            n + 1
                        )
                    })?;
                    PasswordHash::new(phc)
                        .map_err(|e| format!("line {}: bad password hash: {e}", n + 1))?;
                    users.users.insert(
                        (*name).to_owned(),
                        User {
                            phc: (*phc).to_owned(),
                            sha256,
                            md5,
                        },
                    );
                }
                ["group", group, members @ ..] if valid_name(group) => {
                    users.groups.insert(
                        (*group).to_owned(),
                        members.iter().map(|m| (*m).to_owned()).collect(),
                    );
                }
                _ => {
                    return Err(format!(
                        "line {}: expected `user NAME HASH sha256:HA1 md5:HA1` or `group NAME MEMBERS...`",
                        n + 1
                    ));
                }
            }
        }
        Ok(users)
    }

    /// The file's text.
    pub fn render(&self) -> String {
        let mut out = String::from("# httpout users file: manage with `httpout users --help`\n");
        for (name, u) in &self.users {
            let _ = write!(out, "user {name} {}", u.phc);
            for algorithm in Algorithm::ALL {
                if let Some(ha1) = u.ha1(algorithm) {
                    let _ = write!(out, " {}:{ha1}", field(algorithm));
                }
            }
            out.push('\n');
        }
        for (group, members) in &self.groups {
            let _ = writeln!(out, "group {group} {}", members.join(" "));
        }
        out
    }

    /// Writes the file atomically with mode 0600.
    pub fn save(&self, path: &Path) -> std::io::Result<()> {
        use std::io::Write;
        // A fresh name created exclusively (O_EXCL, mode 0600) beside the
        // file: no planted file or symlink is ever followed.
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        let mut tmp = tempfile::Builder::new()
            .prefix(".httpout-users-")
            .tempfile_in(dir)?;
        tmp.write_all(self.render().as_bytes())?;
        tmp.as_file().sync_all()?;
        tmp.persist(path).map_err(|e| e.error)?;
        std::fs::File::open(dir)?.sync_all()
    }

    /// A user by name.
    pub fn get(&self, name: &str) -> Option<&User> {
        self.users.get(name)
    }

    /// Adds or replaces a user with this password: its argon2id hash and
    /// the HA1 of every Digest algorithm.
    pub fn set_password(&mut self, name: &str, password: &str) -> Result<(), String> {
        if !valid_name(name) {
            return Err(format!(
                "invalid user name {name:?}: no spaces, ':', ',' or '#', at most 64 characters"
            ));
        }
        let salt = SaltString::generate(&mut OsRng);
        let phc = Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map_err(|e| format!("hashing failed: {e}"))?
            .to_string();
        let user = User {
            phc,
            sha256: Some(ha1(Algorithm::Sha256, name, password)),
            md5: Some(ha1(Algorithm::Md5, name, password)),
        };
        self.users.insert(name.to_owned(), user);
        Ok(())
    }

    /// Removes a user (and their group memberships); false when unknown.
    pub fn remove(&mut self, name: &str) -> bool {
        for members in self.groups.values_mut() {
            members.retain(|m| m != name);
        }
        self.users.remove(name).is_some()
    }

    /// Adds users to a group (created if needed).
    pub fn add_to_group(&mut self, group: &str, names: &[String]) -> Result<(), String> {
        if !valid_name(group) {
            return Err(format!("invalid group name {group:?}"));
        }
        if let Some(unknown) = names.iter().find(|n| !self.users.contains_key(*n)) {
            return Err(format!("unknown user {unknown:?}"));
        }
        let members = self.groups.entry(group.to_owned()).or_default();
        for n in names {
            if !members.contains(n) {
                members.push(n.clone());
            }
        }
        Ok(())
    }

    /// Removes users from a group, or the whole group when `names` is empty.
    pub fn remove_from_group(&mut self, group: &str, names: &[String]) -> bool {
        if names.is_empty() {
            return self.groups.remove(group).is_some();
        }
        match self.groups.get_mut(group) {
            Some(members) => {
                members.retain(|m| !names.contains(m));
                true
            }
            None => false,
        }
    }

    /// Whether a group of this name exists (even without members).
    pub fn has_group(&self, group: &str) -> bool {
        self.groups.contains_key(group)
    }

    /// Whether `user` is in `group`.
    pub fn in_group(&self, user: &str, group: &str) -> bool {
        self.groups
            .get(group)
            .is_some_and(|m| m.iter().any(|n| n == user))
    }

    /// Users, and the groups each is in (for `show`; no hashes).
    pub fn summary(&self) -> Vec<(String, Vec<String>)> {
        self.users
            .keys()
            .map(|u| {
                let groups = self
                    .groups
                    .iter()
                    .filter(|(_, m)| m.contains(u))
                    .map(|(g, _)| g.clone())
                    .collect();
                (u.clone(), groups)
            })
            .collect()
    }

    /// The memory (1 KiB blocks) an argon2 check of any user's hash needs:
    /// the largest `m` of the file, at least argon2's default (19 MiB), the
    /// cost of the check spent on unknown names.
    pub(crate) fn memory_blocks(&self) -> usize {
        self.users
            .values()
            .filter_map(|u| {
                let hash = PasswordHash::new(&u.phc).ok()?;
                Params::try_from(&hash).ok().map(|p| p.block_count())
            })
            .fold(Params::DEFAULT.block_count(), usize::max)
    }

    /// Checks a password against the argon2 hash with `memory` as
    /// argon2's working memory (at least [`Users::memory_blocks`] long):
    /// slow by design, call it off the async workers. An unknown name costs
    /// a check with the default parameters.
    pub(crate) fn verify_password_in(
        &self,
        name: &str,
        password: &str,
        memory: &mut [Block],
    ) -> bool {
        let Some(user) = self.users.get(name) else {
            let mut salt = [0u8; 16];
            OsRng.fill_bytes(&mut salt);
            let mut out = [0u8; 32];
            let _ = Argon2::default().hash_password_into_with_memory(
                password.as_bytes(),
                &salt,
                &mut out,
                memory,
            );
            return false;
        };
        verify_in(&user.phc, password, memory).unwrap_or(false)
    }

    /// Checks a password against the argon2id hash (slow by design: call it
    /// off the async workers). Allocates argon2's memory for this one check;
    /// the server uses a fixed pool instead.
    pub fn verify_password(&self, name: &str, password: &str) -> bool {
        let Some(user) = self.users.get(name) else {
            // Spend the same time on unknown users.
            let _ = Argon2::default()
                .hash_password(password.as_bytes(), &SaltString::generate(&mut OsRng));
            return false;
        };
        PasswordHash::new(&user.phc).is_ok_and(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
    }
}

/// Checks `password` against the PHC string `phc`, argon2 filling
/// `memory`; `None` when the string or its parameters are not argon2's or
/// `memory` is too small.
fn verify_in(phc: &str, password: &str, memory: &mut [Block]) -> Option<bool> {
    let hash = PasswordHash::new(phc).ok()?;
    let algorithm = argon2::Algorithm::try_from(hash.algorithm).ok()?;
    let version = match hash.version {
        Some(v) => Version::try_from(v).ok()?,
        None => Version::default(),
    };
    let params = Params::try_from(&hash).ok()?;
    let expected = hash.hash?;
    let mut salt = [0u8; 64];
    let salt = hash.salt?.decode_b64(&mut salt).ok()?;
    let mut out = vec![0u8; expected.len()];
    Argon2::new(algorithm, version, params)
        .hash_password_into_with_memory(password.as_bytes(), salt, &mut out, memory)
        .ok()?;
    Some(bool::from(out.ct_eq(expected.as_bytes())))
}

/// `H(name:REALM:password)` in lower-case hex, H the hash of `algorithm`.
pub fn ha1(algorithm: Algorithm, name: &str, password: &str) -> String {
    algorithm.hex_hash(format!("{name}:{REALM}:{password}").as_bytes())
}

/// Lower-case hex.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_verify() {
        let mut users = Users::default();
        users.set_password("alice", "s3cret").unwrap();
        users.set_password("bob", "hunter2").unwrap();
        users.add_to_group("editors", &["bob".into()]).unwrap();
        assert!(users.add_to_group("x", &["carol".into()]).is_err());
        assert!(users.set_password("bad name", "x").is_err());
        let text = users.render();
        assert!(text.contains("$argon2id$") && !text.contains("s3cret"));
        let parsed = Users::parse(&text).unwrap();
        assert_eq!(parsed, users);
        assert!(parsed.verify_password("alice", "s3cret"));
        assert!(!parsed.verify_password("alice", "wrong"));
        assert!(!parsed.verify_password("nobody", "s3cret"));
        // The same answers into caller-given memory.
        let mut memory = vec![Block::new(); parsed.memory_blocks()];
        assert_eq!(parsed.memory_blocks(), 19 * 1024);
        assert!(parsed.verify_password_in("alice", "s3cret", &mut memory));
        assert!(!parsed.verify_password_in("alice", "wrong", &mut memory));
        assert!(!parsed.verify_password_in("nobody", "s3cret", &mut memory));
        assert!(!parsed.verify_password_in("alice", "s3cret", &mut memory[..64]));
        assert!(parsed.in_group("bob", "editors") && !parsed.in_group("alice", "editors"));
        let alice = parsed.get("alice").unwrap();
        for algorithm in Algorithm::ALL {
            assert_eq!(
                alice.ha1(algorithm),
                Some(ha1(algorithm, "alice", "s3cret").as_str())
            );
        }
        let mut p = parsed;
        assert!(p.remove("bob"));
        assert!(!p.in_group("bob", "editors"));
    }

    #[test]
    fn bad_lines_are_named() {
        assert!(Users::parse("user a b").unwrap_err().contains("line 1"));
        assert!(
            Users::parse("\nuser a notaphc sha256:00")
                .unwrap_err()
                .contains("line 2")
        );
        assert!(Users::parse("# only a comment\n\ngroup g a b\n").is_ok());
        // Before MD5 was kept: sha256 only, still read (MD5 Digest then
        // fails for that user until the password changes).
        let phc = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA";
        let old = Users::parse(&format!("user a {phc} sha256:{}\n", "0".repeat(64))).unwrap();
        assert_eq!(old.get("a").unwrap().ha1(Algorithm::Md5), None);
        assert!(
            old.render()
                .ends_with(&format!("sha256:{}\n", "0".repeat(64)))
        );
        for bad in [
            String::new(),
            format!("md5:{}", "0".repeat(64)),
            format!("sha256:{0} sha256:{0}", "0".repeat(64)),
            format!("sha1:{}", "0".repeat(40)),
        ] {
            let line = format!("user a {phc} {bad}");
            assert!(
                Users::parse(&line).unwrap_err().contains("line 1"),
                "{line}"
            );
        }
    }

    #[test]
    fn save_never_follows_a_planted_temp_name() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("users.txt");
        // The name the old code wrote through: a symlink to a victim file.
        let victim = dir.path().join("victim");
        std::fs::write(&victim, "keep me").unwrap();
        std::os::unix::fs::symlink(&victim, path.with_extension("httpout-tmp")).unwrap();
        let mut users = Users::default();
        users.set_password("alice", "s3cret").unwrap();
        users.save(&path).unwrap();
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep me");
        assert_eq!(Users::load(&path).unwrap(), users);
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "only the owner reads password hashes");
        // Nothing left behind but the file, the victim and the planted link.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 3);
    }
}

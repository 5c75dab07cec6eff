//! HTTP Digest authentication, RFC 7616, with `qop=auth` and the
//! algorithms SHA-256 and MD5 ([`Algorithm`]; `-sess` variants are refused).
//!
//! Nonces are stateless: `TIME.SIG`, where SIG is a keyed SHA-256 of the
//! time with a secret drawn at start; a nonce older than [`NONCE_LIFE`] is
//! answered with `stale=true` so clients retry without asking the user.
//! One nonce serves every algorithm offered.

use std::collections::HashMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use md5::Md5;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::users::{REALM, Users, hex};

/// A Digest algorithm (RFC 7616 §3.5). MD5 is there for the clients that
/// know no other (Python's urllib, many devices); it is weak, so servers
/// offer it only when asked (`--digest`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// `SHA-256`.
    Sha256,
    /// `MD5`.
    Md5,
}

impl Algorithm {
    /// Every algorithm, in the order of the users file's fields.
    pub const ALL: [Self; 2] = [Self::Sha256, Self::Md5];

    /// The token of the `algorithm` parameter (`SHA-256`, `MD5`).
    pub fn token(self) -> &'static str {
        match self {
            Self::Sha256 => "SHA-256",
            Self::Md5 => "MD5",
        }
    }

    /// The algorithm of an `algorithm` parameter, any case; `None` for
    /// the `-sess` variants and anything else.
    pub fn from_token(token: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|a| a.token().eq_ignore_ascii_case(token))
    }

    /// The hash of `data` in lower-case hex.
    pub fn hex_hash(self, data: &[u8]) -> String {
        match self {
            Self::Sha256 => hex(&Sha256::digest(data)),
            Self::Md5 => hex(&Md5::digest(data)),
        }
    }
}

impl std::fmt::Display for Algorithm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.token())
    }
}

/// How long a nonce is accepted.
pub(crate) const NONCE_LIFE: Duration = Duration::from_secs(300);

/// A fresh nonce.
pub(crate) fn nonce(secret: &[u8; 32]) -> String {
    let t = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    format!("{t:x}.{}", sign(secret, t))
}

fn sign(secret: &[u8; 32], t: u64) -> String {
    let mut h = Sha256::new();
    h.update(secret);
    h.update(format!("{t:x}").as_bytes());
    hex(&h.finalize()[..16])
}

/// Whether a nonce is ours: `Some(true)` fresh, `Some(false)` stale, `None` forged.
fn check_nonce(secret: &[u8; 32], nonce: &str) -> Option<bool> {
    let (t, sig) = nonce.split_once('.')?;
    let t = u64::from_str_radix(t, 16).ok()?;
    if !bool::from(sign(secret, t).as_bytes().ct_eq(sig.as_bytes())) {
        return None;
    }
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    Some(now.saturating_sub(t) <= NONCE_LIFE.as_secs())
}

/// The challenge for `WWW-Authenticate` with `algorithm` and `nonce`.
pub(crate) fn challenge(algorithm: Algorithm, nonce: &str, stale: bool) -> String {
    format!(
        "Digest realm=\"{REALM}\", qop=\"auth\", algorithm={algorithm}, nonce=\"{nonce}\"{}",
        if stale { ", stale=true" } else { "" }
    )
}

/// Parses the parameters of `Authorization: Digest ...` (quoted strings or tokens).
pub(crate) fn params(text: &str) -> HashMap<String, String> {
    let mut out = HashMap::new();
    let mut rest = text;
    loop {
        rest = rest.trim_start_matches([' ', '\t', ',']);
        let Some(eq) = rest.find('=') else { break };
        let key = rest[..eq].trim().to_ascii_lowercase();
        // RFC 9110 §11.2: `auth-param = token BWS "=" BWS ( token / quoted-string )`.
        rest = rest[eq + 1..].trim_start_matches([' ', '\t']);
        let value;
        if let Some(quoted) = rest.strip_prefix('"') {
            let mut v = String::new();
            let mut chars = quoted.char_indices();
            let mut end = quoted.len();
            while let Some((i, c)) = chars.next() {
                match c {
                    '\\' => {
                        if let Some((_, n)) = chars.next() {
                            v.push(n);
                        }
                    }
                    '"' => {
                        end = i + 1;
                        break;
                    }
                    c => v.push(c),
                }
            }
            value = v;
            rest = &quoted[end.min(quoted.len())..];
        } else {
            let end = rest.find(',').unwrap_or(rest.len());
            value = rest[..end].trim().to_owned();
            rest = &rest[end..];
        }
        out.insert(key, value);
    }
    out
}

/// The outcome of checking Digest credentials.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum DigestCheck {
    /// Valid for this user.
    Valid(String),
    /// Right response, expired nonce: challenge again with `stale=true`.
    Stale,
    /// A known user, an algorithm offered, but the users file has no hash
    /// of that algorithm for them (written before it was kept): wrong, as
    /// a wrong password is, and worth telling the operator.
    NoHash(String, Algorithm),
    /// Wrong.
    Invalid,
}

/// Verifies Digest credentials for `method` and the request target `uri`,
/// with one of the `offered` algorithms (absent means MD5, RFC 7616
/// §3.4) against the HA1 of `users`.
pub(crate) fn verify(
    secret: &[u8; 32],
    header: &str,
    method: &str,
    uri: &str,
    offered: &[Algorithm],
    users: &Users,
) -> DigestCheck {
    let p = params(header);
    let get = |k: &str| p.get(k).map(String::as_str).unwrap_or_default();
    let algorithm = match p.get("algorithm") {
        Some(token) => Algorithm::from_token(token),
        None => Some(Algorithm::Md5),
    };
    let Some(algorithm) = algorithm.filter(|a| offered.contains(a)) else {
        return DigestCheck::Invalid;
    };
    if get("realm") != REALM || get("qop") != "auth" || get("uri") != uri {
        return DigestCheck::Invalid;
    }
    let user = get("username");
    let Some(known) = users.get(user) else {
        return DigestCheck::Invalid;
    };
    let Some(ha1) = known.ha1(algorithm) else {
        return DigestCheck::NoHash(user.to_owned(), algorithm);
    };
    let ha2 = algorithm.hex_hash(format!("{method}:{uri}").as_bytes());
    let expected = algorithm.hex_hash(
        format!(
            "{ha1}:{}:{}:{}:auth:{ha2}",
            get("nonce"),
            get("nc"),
            get("cnonce")
        )
        .as_bytes(),
    );
    if !bool::from(
        expected
            .as_bytes()
            .ct_eq(get("response").to_ascii_lowercase().as_bytes()),
    ) {
        return DigestCheck::Invalid;
    }
    match check_nonce(secret, get("nonce")) {
        Some(true) => DigestCheck::Valid(user.to_owned()),
        Some(false) => DigestCheck::Stale,
        None => DigestCheck::Invalid,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::users::ha1;

    /// The `Authorization` parameters a client computes with `algorithm`.
    fn answer(algorithm: Algorithm, nonce: &str, method: &str, pw: &str) -> String {
        let ha1 = ha1(algorithm, "alice", pw);
        let ha2 = algorithm.hex_hash(format!("{method}:/a?b=1").as_bytes());
        let response =
            algorithm.hex_hash(format!("{ha1}:{nonce}:00000001:xyz:auth:{ha2}").as_bytes());
        format!(
            "username=\"alice\", realm=\"httpout\", nonce=\"{nonce}\", uri=\"/a?b=1\", \
             algorithm={algorithm}, response=\"{response}\", qop=auth, nc=00000001, cnonce=\"xyz\""
        )
    }

    fn alice() -> Users {
        let mut users = Users::default();
        users.set_password("alice", "pw").unwrap();
        users
    }

    #[test]
    fn a_client_computed_response_verifies() {
        let secret = [7u8; 32];
        let nonce = nonce(&secret);
        let users = alice();
        let both = [Algorithm::Sha256, Algorithm::Md5];
        for algorithm in Algorithm::ALL {
            let header = answer(algorithm, &nonce, "GET", "pw");
            let check = |method, uri, secret: &[u8; 32], offered: &[Algorithm]| {
                verify(secret, &header, method, uri, offered, &users)
            };
            assert_eq!(
                check("GET", "/a?b=1", &secret, &both),
                DigestCheck::Valid("alice".into())
            );
            assert_eq!(
                check("GET", "/a?b=1", &secret, &[algorithm]),
                DigestCheck::Valid("alice".into())
            );
            assert_eq!(check("PUT", "/a?b=1", &secret, &both), DigestCheck::Invalid);
            assert_eq!(check("GET", "/other", &secret, &both), DigestCheck::Invalid);
            assert_eq!(
                check("GET", "/a?b=1", &[8u8; 32], &both),
                DigestCheck::Invalid,
                "forged nonce"
            );
            let other: Vec<_> = both.into_iter().filter(|a| *a != algorithm).collect();
            assert_eq!(
                check("GET", "/a?b=1", &secret, &other),
                DigestCheck::Invalid,
                "{algorithm} not offered"
            );
            let wrong = answer(algorithm, &nonce, "GET", "wrong");
            assert_eq!(
                verify(&secret, &wrong, "GET", "/a?b=1", &both, &users),
                DigestCheck::Invalid
            );
            let old = format!("{:x}.{}", 1000, sign(&secret, 1000));
            let stale = answer(algorithm, &old, "GET", "pw");
            assert_eq!(
                verify(&secret, &stale, "GET", "/a?b=1", &both, &users),
                DigestCheck::Stale
            );
        }
        // No `algorithm` parameter means MD5 (RFC 7616 §3.4); `-sess`
        // variants are not implemented, so refused.
        let md5 = answer(Algorithm::Md5, &nonce, "GET", "pw");
        let bare = md5.replace(", algorithm=MD5", "");
        assert_eq!(
            verify(&secret, &bare, "GET", "/a?b=1", &both, &users),
            DigestCheck::Valid("alice".into())
        );
        let sess = md5.replace("algorithm=MD5", "algorithm=MD5-sess");
        assert_eq!(
            verify(&secret, &sess, "GET", "/a?b=1", &both, &users),
            DigestCheck::Invalid
        );
    }

    #[test]
    fn a_user_without_the_hash_is_told_apart() {
        let secret = [7u8; 32];
        let nonce = nonce(&secret);
        // A file written before MD5 hashes were kept.
        let text = alice().render();
        let old: String = text
            .lines()
            .map(|l| l.split(" md5:").next().unwrap().to_owned() + "\n")
            .collect();
        let users = Users::parse(&old).unwrap();
        let header = answer(Algorithm::Md5, &nonce, "GET", "pw");
        assert_eq!(
            verify(&secret, &header, "GET", "/a?b=1", &Algorithm::ALL, &users),
            DigestCheck::NoHash("alice".into(), Algorithm::Md5)
        );
    }

    #[test]
    fn known_hashes() {
        // RFC 7616 §3.9.1's HA1 input, hashed as Python's hashlib does.
        let data = b"Mufasa:http-auth@example.org:Circle of Life";
        assert_eq!(
            Algorithm::Md5.hex_hash(data),
            "3d78807defe7de2157e2b0b6573a855f"
        );
        assert_eq!(Algorithm::from_token("sha-256"), Some(Algorithm::Sha256));
        assert_eq!(Algorithm::from_token("md5"), Some(Algorithm::Md5));
        assert_eq!(Algorithm::from_token("SHA-256-sess"), None);
    }

    #[test]
    fn params_parse_quotes_and_tokens() {
        let p = params(r#"username="a\"b", qop=auth, nc=00000001 ,uri="/x,y""#);
        assert_eq!(p["username"], "a\"b");
        assert_eq!(p["qop"], "auth");
        assert_eq!(p["nc"], "00000001");
        assert_eq!(p["uri"], "/x,y");
        assert!(params("garbage without equals").is_empty());
    }
}

/// Cases found by `tests/fuzz_digest.rs`.
#[cfg(test)]
mod found_by_fuzzing {
    use super::*;

    /// `cnonce= "x"`: RFC 9110 allows spaces after `=`, and the quoted
    /// value was read as the token `"x"`, quotes included.
    #[test]
    fn spaces_after_equals_before_a_quoted_value() {
        let p = params("cnonce= \" a,b\", nc=\t00000001, uri =  \"/x\"");
        assert_eq!(p["cnonce"], " a,b");
        assert_eq!(p["nc"], "00000001");
        assert_eq!(p["uri"], "/x");
    }
}

/// Nonce lifetime (issue 13). Nonces carry wall-clock seconds
/// (`SystemTime`, which no test clock controls), so these tests make nonces
/// of a chosen age instead of waiting, with a margin of 10 s either side
/// of [`NONCE_LIFE`].
#[cfg(test)]
mod nonce_life {
    use super::*;

    fn now() -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs()
    }

    /// A nonce of ours issued `age` seconds ago (negative: in the future).
    fn aged(secret: &[u8; 32], age: i64) -> String {
        let t = now().saturating_add_signed(-age);
        format!("{t:x}.{}", sign(secret, t))
    }

    #[test]
    fn fresh_within_its_life_stale_after_forged_otherwise() {
        let secret = [3u8; 32];
        let life = NONCE_LIFE.as_secs() as i64;
        assert_eq!(check_nonce(&secret, &nonce(&secret)), Some(true));
        assert_eq!(check_nonce(&secret, &aged(&secret, life - 10)), Some(true));
        assert_eq!(check_nonce(&secret, &aged(&secret, life + 10)), Some(false));
        assert_eq!(
            check_nonce(&secret, &aged(&secret, 30 * 24 * 3600)),
            Some(false)
        );
        // The clock stepped back: still ours, not stale.
        assert_eq!(check_nonce(&secret, &aged(&secret, -60)), Some(true));
        // Another server's, or made up.
        assert_eq!(check_nonce(&[4u8; 32], &aged(&secret, 0)), None);
        for forged in ["", ".", "zz.00", "1", "ffffffffffffffffff.ab"] {
            assert_eq!(check_nonce(&secret, forged), None, "{forged:?}");
        }
    }
}

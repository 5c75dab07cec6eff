//! HTTP Digest authentication, RFC 7616, with SHA-256 and `qop=auth`.
//!
//! Nonces are stateless: `TIME.SIG`, where SIG is a keyed SHA-256 of the
//! time with a secret drawn at start; a nonce older than [`NONCE_LIFE`] is
//! answered with `stale=true` so clients retry without asking the user.

use std::collections::HashMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::users::{REALM, hex};

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

/// The challenge for `WWW-Authenticate`.
pub(crate) fn challenge(secret: &[u8; 32], stale: bool) -> String {
    format!(
        "Digest realm=\"{REALM}\", qop=\"auth\", algorithm=SHA-256, nonce=\"{}\"{}",
        nonce(secret),
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
    /// Wrong.
    Invalid,
}

/// Verifies Digest credentials for `method` and the request target `uri`;
/// `ha1` looks up a user's stored HA1.
pub(crate) fn verify(
    secret: &[u8; 32],
    header: &str,
    method: &str,
    uri: &str,
    ha1: impl Fn(&str) -> Option<String>,
) -> DigestCheck {
    let p = params(header);
    let get = |k: &str| p.get(k).map(String::as_str).unwrap_or_default();
    let algorithm_ok = get("algorithm").eq_ignore_ascii_case("SHA-256");
    if !algorithm_ok || get("realm") != REALM || get("qop") != "auth" || get("uri") != uri {
        return DigestCheck::Invalid;
    }
    let user = get("username");
    let Some(ha1) = ha1(user) else {
        return DigestCheck::Invalid;
    };
    let ha2 = hex(&Sha256::digest(format!("{method}:{uri}").as_bytes()));
    let expected = hex(&Sha256::digest(
        format!(
            "{ha1}:{}:{}:{}:auth:{ha2}",
            get("nonce"),
            get("nc"),
            get("cnonce")
        )
        .as_bytes(),
    ));
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

    #[test]
    fn a_client_computed_response_verifies() {
        let secret = [7u8; 32];
        let nonce = nonce(&secret);
        let ha1 = ha1("alice", "pw");
        let ha2 = hex(&Sha256::digest(b"GET:/a?b=1"));
        let response = hex(&Sha256::digest(
            format!("{ha1}:{nonce}:00000001:xyz:auth:{ha2}").as_bytes(),
        ));
        let header = format!(
            "username=\"alice\", realm=\"httpout\", nonce=\"{nonce}\", uri=\"/a?b=1\", algorithm=SHA-256, \
             response=\"{response}\", qop=auth, nc=00000001, cnonce=\"xyz\""
        );
        let lookup = |u: &str| (u == "alice").then(|| ha1.clone());
        assert_eq!(
            verify(&secret, &header, "GET", "/a?b=1", lookup),
            DigestCheck::Valid("alice".into())
        );
        assert_eq!(
            verify(&secret, &header, "PUT", "/a?b=1", lookup),
            DigestCheck::Invalid
        );
        assert_eq!(
            verify(&secret, &header, "GET", "/other", lookup),
            DigestCheck::Invalid
        );
        assert_eq!(
            verify(&[8u8; 32], &header, "GET", "/a?b=1", lookup),
            DigestCheck::Invalid,
            "forged nonce"
        );
        let old = format!("{:x}.{}", 1000, sign(&secret, 1000));
        let ha2 = hex(&Sha256::digest(b"GET:/a?b=1"));
        let response = hex(&Sha256::digest(
            format!("{ha1}:{old}:00000001:xyz:auth:{ha2}").as_bytes(),
        ));
        let stale = header.replace(&nonce, &old).replace(
            &header.split("response=\"").nth(1).unwrap()[..64],
            &response,
        );
        assert_eq!(
            verify(&secret, &stale, "GET", "/a?b=1", lookup),
            DigestCheck::Stale
        );
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

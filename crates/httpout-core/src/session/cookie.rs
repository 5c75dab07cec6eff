//! The session cookie: ids, reading the `Cookie` header, writing
//! `Set-Cookie`.

use http::{HeaderMap, HeaderValue, header::COOKIE};

use crate::auth::users::hex;
use crate::error::Error;

/// Random bytes in an id: 256 bits.
const ID_BYTES: usize = 32;

/// At most this many cookies of our name are tried per request.
const MAX_CANDIDATES: usize = 4;

/// A new random session id: 32 bytes from the system's source, in hex.
pub(super) fn new_id() -> Result<String, Error> {
    let mut bytes = [0u8; ID_BYTES];
    getrandom::fill(&mut bytes)
        .map_err(|e| Error::Internal(format!("no random session id: {e}").into()))?;
    Ok(hex(&bytes))
}

/// Whether `value` has the shape of an id (64 lower-case hex digits).
fn is_id(value: &str) -> bool {
    value.len() == 2 * ID_BYTES
        && value
            .bytes()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// The values of the cookies named `name` that look like ids, in order
/// (HTTP/2 clients may send several `Cookie` fields).
pub(super) fn candidates<'a>(headers: &'a HeaderMap, name: &'a str) -> Vec<&'a str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .filter(|(n, v)| *n == name && is_id(v.trim_matches('"')))
        .map(|(_, v)| v.trim_matches('"'))
        .take(MAX_CANDIDATES)
        .collect()
}

/// `Set-Cookie` for `id` (or, without one, the cookie's removal).
pub(super) fn set_cookie(name: &str, id: Option<&str>, secure: bool) -> HeaderValue {
    let mut text = match id {
        Some(id) => format!("{name}={id}; Path=/; HttpOnly; SameSite=Lax"),
        None => format!("{name}=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax"),
    };
    if secure {
        text.push_str("; Secure");
    }
    HeaderValue::from_str(&text).expect("a checked cookie name and a hex id")
}

/// Whether `name` may name a cookie (an RFC 6265 token).
pub(super) fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_ids_of_our_name_only() {
        let id = new_id().unwrap();
        assert!(is_id(&id));
        assert_ne!(id, new_id().unwrap());
        let mut h = HeaderMap::new();
        h.append(
            COOKIE,
            HeaderValue::from_str("a=1; sid=short; theme=dark").unwrap(),
        );
        h.append(COOKIE, HeaderValue::from_str(&format!("sid={id}")).unwrap());
        assert_eq!(candidates(&h, "sid"), [id.as_str()]);
        assert!(candidates(&h, "other").is_empty());
    }

    #[test]
    fn set_cookie_attributes() {
        let v = set_cookie("sid", Some("ab"), true);
        assert_eq!(v, "sid=ab; Path=/; HttpOnly; SameSite=Lax; Secure");
        let v = set_cookie("sid", None, false);
        assert_eq!(v, "sid=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax");
        assert!(valid_name("httpout_session") && !valid_name("a b") && !valid_name(""));
    }
}

//! HTTP Basic credentials (RFC 7617): the one decoder, for the access
//! rules and for modes that check a password of their own (the live sink's
//! `source:PASSWORD`).

use base64::Engine as _;

/// A user name and password from an `Authorization: Basic` header.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The user id: the text before the first `:`.
    pub user: String,
    /// The password: everything after the first `:`.
    pub password: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("user", &self.user)
            .finish_non_exhaustive()
    }
}

/// Decodes an `Authorization` header value of the Basic scheme (any case);
/// `None` for another scheme, bad base64, text that is not UTF-8 or has no
/// `:`.
#[must_use]
pub fn decode(authorization: &str) -> Option<Credentials> {
    match authorization.split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("Basic") => decode_token(token),
        _ => None,
    }
}

/// Decodes the token after `Basic ` (surrounding blanks ignored).
#[must_use]
pub fn decode_token(token: &str) -> Option<Credentials> {
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(token.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, password) = text.split_once(':')?;
    Some(Credentials {
        user: user.to_owned(),
        password: password.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_headers() {
        // "source:hack:me"
        let c = decode("basic  c291cmNlOmhhY2s6bWU= ").unwrap();
        assert_eq!(
            (c.user.as_str(), c.password.as_str()),
            ("source", "hack:me")
        );
        assert!(!format!("{c:?}").contains("hack"));
        assert_eq!(decode("Digest c291cmNlOmhhY2s6bWU="), None);
        assert_eq!(decode("Basic !!!"), None);
        assert_eq!(decode("Basic bm9jb2xvbg=="), None, "no colon");
        assert_eq!(decode("Basic"), None);
    }
}

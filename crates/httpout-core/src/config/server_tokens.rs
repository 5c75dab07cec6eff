//! What the `Server` header says (`server_tokens`): `httpout/VERSION`, then
//! the products an embedder or `--server_tokens` adds, or `httpout` alone.

use std::fmt;
use std::str::FromStr;

use http::HeaderValue;

/// `Server: httpout/VERSION`, the default.
///
/// ```
/// assert_eq!(httpout_core::SERVER_NAME, format!("httpout/{}", env!("CARGO_PKG_VERSION")));
/// ```
pub const SERVER_NAME: &str = concat!("httpout/", env!("CARGO_PKG_VERSION"));

/// The `Server` header of every response a handler did not give one:
/// `httpout/VERSION` followed by added products (Net::HTTPServer's
/// `AddServerTokens`), or `httpout` alone with [`ServerTokens::off`]
/// (what nginx's `server_tokens off` does: the name stays, the version
/// goes). Default: `httpout/VERSION`.
///
/// ```
/// use httpout_core::config::ServerTokens;
///
/// let tokens: ServerTokens = "myapp/1.2;beta".parse()?;
/// assert!(tokens.header().to_str()?.ends_with(" myapp/1.2 beta"));
/// assert_eq!(ServerTokens::off().header(), "httpout");
/// # Ok::<_, Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerTokens {
    /// The products after `httpout/VERSION`; `None`: `off`.
    added: Option<Vec<String>>,
    /// The header, made once.
    header: HeaderValue,
}

impl ServerTokens {
    /// `httpout/VERSION` followed by `products` (each `name` or
    /// `name/version`, RFC 9110 §10.2.4); an error says which is not one.
    ///
    /// ```
    /// use httpout_core::{config::ServerTokens, SERVER_NAME};
    ///
    /// let tokens = ServerTokens::with(&["myapp/1.2", "beta"])?;
    /// assert_eq!(tokens.header(), format!("{SERVER_NAME} myapp/1.2 beta").as_str());
    /// assert!(ServerTokens::with(&["my app"]).unwrap_err().contains("\"my app\" is not one"));
    /// # Ok::<(), String>(())
    /// ```
    pub fn with(products: &[&str]) -> Result<Self, String> {
        let mut header = SERVER_NAME.to_owned();
        for product in products {
            if !is_product(product) {
                return Err(format!(
                    "expected products such as name/1.0 separated by `;` \
                     (letters, digits and !#$%&'*+-.^_`|~), or off; {product:?} is not one"
                ));
            }
            header.push(' ');
            header.push_str(product);
        }
        Ok(Self {
            added: Some(products.iter().map(|p| (*p).to_owned()).collect()),
            header: HeaderValue::from_str(&header).map_err(|e| e.to_string())?,
        })
    }

    /// `httpout` alone: no version (`--server_tokens=off`).
    ///
    /// ```
    /// use httpout_core::config::ServerTokens;
    /// assert_eq!(ServerTokens::off().header(), "httpout");
    /// assert_eq!(ServerTokens::off(), "off".parse()?);
    /// # Ok::<(), String>(())
    /// ```
    pub fn off() -> Self {
        Self {
            added: None,
            header: HeaderValue::from_static("httpout"),
        }
    }

    /// The header value.
    ///
    /// ```
    /// use httpout_core::{config::ServerTokens, SERVER_NAME};
    /// assert_eq!(ServerTokens::default().header(), SERVER_NAME);
    /// ```
    pub fn header(&self) -> &HeaderValue {
        &self.header
    }
}

impl Default for ServerTokens {
    fn default() -> Self {
        Self {
            added: Some(Vec::new()),
            header: HeaderValue::from_static(SERVER_NAME),
        }
    }
}

impl FromStr for ServerTokens {
    type Err = String;

    /// `off`, or products separated by `;` (`myapp/1.2;beta`).
    fn from_str(s: &str) -> Result<Self, String> {
        if s.trim().eq_ignore_ascii_case("off") {
            return Ok(Self::off());
        }
        let products: Vec<&str> = s.split(';').map(str::trim).collect();
        Self::with(&products)
    }
}

impl fmt::Display for ServerTokens {
    /// What [`ServerTokens::from_str`] reads back: `off` or the products.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.added {
            None => f.write_str("off"),
            Some(added) => f.write_str(&added.join(";")),
        }
    }
}

/// Whether `s` is a product: `token` or `token/token` (RFC 9110 §10.2.4).
fn is_product(s: &str) -> bool {
    let mut parts = s.splitn(2, '/');
    parts.all(is_token)
}

/// Whether `s` is an RFC 9110 `token`: one or more `tchar`.
fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn products_follow_the_name_and_version() {
        let t: ServerTokens = "test/1.3;extra".parse().unwrap();
        assert_eq!(t.header(), &format!("{SERVER_NAME} test/1.3 extra"));
        assert_eq!(t.to_string(), "test/1.3;extra");
        assert_eq!(ServerTokens::default().header(), SERVER_NAME);
        let off: ServerTokens = "OFF".parse().unwrap();
        assert_eq!(off.header(), "httpout");
        assert_eq!(off.to_string(), "off");
    }

    #[test]
    fn what_is_not_a_product_is_refused() {
        for bad in [
            "", "a b", "a/b/c", "a/", "/1", "x;", "é", "a(b)", "a\"b", "a,b",
        ] {
            assert!(bad.parse::<ServerTokens>().is_err(), "{bad:?}");
        }
    }
}

//! `--dst=URL1,URL2`: the destinations of a redundant ingest, each checked
//! on its own, with a typed reason when one is not usable.

use http::Uri;

/// Why a `--dst` value was refused; [`std::fmt::Display`] says what was
/// expected, for a one-line `invalid value 'V' for --dst: ...`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DstError {
    /// Nothing at all, or nothing between two commas.
    #[error("expected http(s)://HOST[:PORT]/PATH[,URL...]; entry {0} is empty")]
    Empty(usize),
    /// Not an absolute `http` or `https` URL with a host.
    #[error(
        "expected http(s)://HOST[:PORT]/PATH[,URL...]; '{0}' is not (a comma inside a URL is written %2C)"
    )]
    NotHttp(String),
    /// The same destination twice (ports, host case and a trailing `/`
    /// aside).
    #[error("expected distinct destinations; '{0}' is given twice")]
    Duplicate(String),
}

/// The destinations of `value`, comma-separated, in order: each an
/// absolute `http(s)` URL with a host, none empty, none twice.
pub fn parse(value: &str) -> Result<Vec<Uri>, DstError> {
    let mut out: Vec<Uri> = Vec::new();
    let mut keys = Vec::new();
    for (i, entry) in value.split(',').enumerate() {
        let entry = entry.trim();
        if entry.is_empty() {
            return Err(DstError::Empty(i + 1));
        }
        let uri: Uri = entry
            .parse()
            .ok()
            .filter(|u: &Uri| {
                matches!(u.scheme_str(), Some("http" | "https")) && u.host().is_some()
            })
            .ok_or_else(|| DstError::NotHttp(entry.to_owned()))?;
        let key = same_place(&uri);
        if keys.contains(&key) {
            return Err(DstError::Duplicate(entry.to_owned()));
        }
        keys.push(key);
        out.push(uri);
    }
    Ok(out)
}

/// What makes two destinations the same place: scheme, host (any case),
/// port (the scheme's by default), path without its trailing `/`, query.
fn same_place(uri: &Uri) -> String {
    let scheme = uri.scheme_str().unwrap_or_default();
    let port = uri
        .port_u16()
        .unwrap_or(if scheme == "https" { 443 } else { 80 });
    let host = uri.host().unwrap_or_default().to_ascii_lowercase();
    let path = uri.path().trim_end_matches('/');
    let query = uri.query().unwrap_or_default();
    format!("{scheme}://{host}:{port}{path}?{query}")
}

/// How a destination is named in metrics labels and reports: its URL
/// without credentials.
pub fn label(uri: &Uri) -> String {
    let scheme = uri.scheme_str().unwrap_or("http");
    let host = uri.host().unwrap_or_default();
    let port = uri.port().map(|p| format!(":{p}")).unwrap_or_default();
    let path = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    format!("{scheme}://{host}{port}{path}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_or_several_urls_in_order() {
        let got = parse("http://a:8080/live/,https://b/live").unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].to_string(), "http://a:8080/live/");
        assert_eq!(got[1].host(), Some("b"));
        assert_eq!(parse("http://a/x.mp4").unwrap().len(), 1);
    }

    #[test]
    fn empty_entries_other_schemes_and_duplicates_are_refused() {
        assert_eq!(parse(""), Err(DstError::Empty(1)));
        assert_eq!(parse("http://a/,"), Err(DstError::Empty(2)));
        assert_eq!(parse("http://a/,,http://b/"), Err(DstError::Empty(2)));
        assert_eq!(
            parse("http://a/,ftp://b/"),
            Err(DstError::NotHttp("ftp://b/".to_owned()))
        );
        assert_eq!(
            parse("/local/dir"),
            Err(DstError::NotHttp("/local/dir".to_owned()))
        );
        assert_eq!(
            parse("http://A:80/live/,http://a/live"),
            Err(DstError::Duplicate("http://a/live".to_owned()))
        );
        // Another port, path or scheme is another destination.
        assert!(parse("http://a/live,http://a:81/live,http://a/live2,https://a/live").is_ok());
    }

    #[test]
    fn labels_leave_credentials_out() {
        let uri: Uri = "http://user:secret@origin:8080/live/?k=v".parse().unwrap();
        assert_eq!(label(&uri), "http://origin:8080/live/?k=v");
    }
}

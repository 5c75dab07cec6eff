//! Icecast's URL authentication (`auth_url`): the mount's events are
//! POSTed (`application/x-www-form-urlencoded`) to an operator's URL, one
//! form per event, its `action` naming it:
//!
//! | action | when | fields | the answer that admits |
//! |---|---|---|---|
//! | `listener_add` | a listener connects | `server`, `port`, `client`, `mount`, `user`, `pass`, `ip`, `agent` | 2xx with `icecast-auth-user: 1` |
//! | `listener_remove` | it leaves | the same and `duration` (seconds) | (not read) |
//! | `stream_auth` | a source's credentials are not the mount's own | `mount`, `ip`, `user`, `pass`, `admin=0` | 2xx with `icecast-auth-user: 1` |
//! | `mount_add`, `mount_remove` | a source connects, leaves | `mount` | (not read) |
//!
//! An admitting answer may carry `icecast-auth-timelimit: SECONDS` (the
//! listener is cut after that long); a refusing one `icecast-auth-message`
//! (its reason, passed on). A URL that does not answer within
//! [`AUTH_TIMEOUT`], or answers 5xx, fails closed: the client gets 503.

use std::time::Duration;

use bytes::Bytes;
use http::header::CONTENT_TYPE;
use http::{Request, Uri};
use http_body_util::Full;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

use crate::client;
use crate::relay::redacted;

/// How long the operator's URL has to answer.
pub const AUTH_TIMEOUT: Duration = Duration::from_secs(5);
/// The longest `icecast-auth-timelimit` taken (longer: this).
const MAX_TIME_LIMIT: Duration = Duration::from_secs(366 * 24 * 3600);

/// What the URL decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Let in, for at most this long when the URL says.
    Admit(Option<Duration>),
    /// Kept out, with the URL's reason.
    Deny(String),
}

/// The URL could not decide: unreachable, too slow, or failing.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(crate) struct Unavailable(String);

/// What a form value keeps as is: letters, digits and `-_.~`
/// (RFC 3986's unreserved characters).
const FORM: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// A form, as `key=value&...`, values percent-encoded.
fn encode(form: &[(&str, &str)]) -> String {
    form.iter()
        .map(|(k, v)| format!("{k}={}", utf8_percent_encode(v, FORM)))
        .collect::<Vec<_>>()
        .join("&")
}

/// POSTs `form` to `url` and reads the verdict.
pub(crate) async fn ask(url: &Uri, form: &[(&str, &str)]) -> Result<Verdict, Unavailable> {
    let res = tokio::time::timeout(AUTH_TIMEOUT, post(url, form))
        .await
        .map_err(|_| {
            Unavailable(format!(
                "{} did not answer within {AUTH_TIMEOUT:?}",
                redacted(&url.to_string())
            ))
        })??;
    let status = res.status();
    if status.is_server_error() {
        return Err(Unavailable(format!(
            "{} answered {status}",
            redacted(&url.to_string())
        )));
    }
    let header = |name: &str| {
        res.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    };
    if status.is_success() && header("icecast-auth-user") == Some("1") {
        let limit = header("icecast-auth-timelimit")
            .and_then(|t| t.parse::<u64>().ok())
            .filter(|t| *t > 0)
            .map(|t| Duration::from_secs(t).min(MAX_TIME_LIMIT));
        return Ok(Verdict::Admit(limit));
    }
    let reason = header("icecast-auth-message").unwrap_or("denied");
    Ok(Verdict::Deny(
        reason
            .chars()
            .filter(|c| !c.is_control())
            .take(200)
            .collect(),
    ))
}

/// POSTs `form` to `url` in the background, for events nothing waits on
/// (`listener_remove`, `mount_add`, `mount_remove`); a failure is logged.
pub(crate) fn notify(url: &Uri, form: Vec<(&'static str, String)>) {
    let Ok(handle) = tokio::runtime::Handle::try_current() else {
        return; // shutting down: no runtime to send it
    };
    let url = url.clone();
    handle.spawn(async move {
        let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let action = pairs.first().map_or("", |(_, v)| *v).to_owned();
        match tokio::time::timeout(AUTH_TIMEOUT, post(&url, &pairs)).await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => tracing::warn!(target: "httpout::live", "auth_url {action}: {e}"),
            Err(_) => tracing::warn!(
                target: "httpout::live",
                "auth_url {action}: {} did not answer within {AUTH_TIMEOUT:?}",
                redacted(&url.to_string())
            ),
        }
    });
}

async fn post(
    url: &Uri,
    form: &[(&str, &str)],
) -> Result<http::Response<hyper::body::Incoming>, Unavailable> {
    let req = Request::post(url.path_and_query().map_or("/", |p| p.as_str()))
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Full::new(Bytes::from(encode(form))))
        .map_err(|e| Unavailable(e.to_string()))?;
    client::send(url, req)
        .await
        .map_err(|e| Unavailable(format!("{}: {e}", redacted(&url.to_string()))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_are_percent_encoded() {
        assert_eq!(
            encode(&[
                ("action", "listener_add"),
                ("agent", "VLC/3.0 (Linux)"),
                ("mount", "/a.mp3")
            ]),
            "action=listener_add&agent=VLC%2F3.0%20%28Linux%29&mount=%2Fa.mp3"
        );
    }
}

//! How store failures become HTTP errors, statuses the engine's error has
//! no variant for (414, 507); server errors are logged through the
//! engine's rate-limited log.

use std::borrow::Cow;

use http::header::CONTENT_TYPE;
use http::{HeaderValue, Response, StatusCode};
use httpout_core::{Body, Error, log_server_error};
use httpout_store::StoreError;

/// Maps a store failure to its HTTP error: a missing file and a path that
/// leads outside the root are both 404 (an escape attempt learns nothing),
/// a refused one 403, anything else 500.
pub(crate) fn store_error(e: StoreError) -> Error {
    match e {
        StoreError::NotFound | StoreError::Escape | StoreError::NameTooLong => Error::NotFound,
        StoreError::PermissionDenied => Error::Forbidden("permission denied".into()),
        StoreError::Io(io) => Error::Io(io),
        other => Error::Internal(Box::new(other)),
    }
}

/// A refusal with a status or reason [`Error`] has no variant for (414,
/// 507, 413 with the file system's reason), carried
/// through `?` inside [`Error::Internal`] and turned into its response by
/// [`respond`].
#[derive(Debug)]
pub(crate) struct Refusal {
    status: StatusCode,
    reason: Cow<'static, str>,
    /// `Accept-Patch` for a 415 to a PATCH.
    accept_patch: Option<&'static str>,
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.reason)
    }
}

impl std::error::Error for Refusal {}

impl Refusal {
    /// 414 URI Too Long: a path too deep, or a name too long, to write.
    pub(crate) fn uri_too_long(reason: impl Into<Cow<'static, str>>) -> Error {
        Self::error(StatusCode::URI_TOO_LONG, reason)
    }

    /// 413 Content Too Large, with a reason (the file system's limit).
    pub(crate) fn too_large(reason: impl Into<Cow<'static, str>>) -> Error {
        Self::error(StatusCode::PAYLOAD_TOO_LARGE, reason)
    }

    /// 507 Insufficient Storage: the file system (or a quota) is full.
    pub(crate) fn insufficient_storage() -> Error {
        Self::error(
            StatusCode::INSUFFICIENT_STORAGE,
            "no space left on the file system",
        )
    }

    /// 415 Unsupported Media Type for a PATCH, with the types it accepts
    /// (`Accept-Patch`, RFC 5789).
    pub(crate) fn unsupported_media_type(
        reason: impl Into<Cow<'static, str>>,
        accepted: &'static str,
    ) -> Error {
        Error::Internal(Box::new(Self {
            status: StatusCode::UNSUPPORTED_MEDIA_TYPE,
            reason: reason.into(),
            accept_patch: Some(accepted),
        }))
    }

    fn error(status: StatusCode, reason: impl Into<Cow<'static, str>>) -> Error {
        Error::Internal(Box::new(Self {
            status,
            reason: reason.into(),
            accept_patch: None,
        }))
    }
}

/// The outcome of a write request, with the errors this crate answers
/// itself: a [`Refusal`] gets its own status, and a server error (5xx) is
/// logged through [`httpout_core::log_server_error`] (at most one identical line a
/// second) rather than by the engine on every occurrence. Other errors go
/// to the engine unchanged.
pub(crate) fn respond(result: Result<Response<Body>, Error>) -> Result<Response<Body>, Error> {
    let e = match result {
        Ok(res) => return Ok(res),
        Err(e) => e,
    };
    let refusal = match &e {
        Error::Internal(inner) => inner.downcast_ref::<Refusal>(),
        _ => None,
    };
    let (status, reason) = match refusal {
        Some(r) => (r.status, r.reason.to_string()),
        None if e.status().is_server_error() => (e.status(), String::new()),
        None => return Err(e),
    };
    if !status.is_server_error() {
        let mut res = plain(status, reason);
        if let Some(types) = refusal.and_then(|r| r.accept_patch) {
            res.headers_mut()
                .insert("accept-patch", HeaderValue::from_static(types));
        }
        return Ok(res);
    }
    let mut line = format!("{status}: ");
    if refusal.is_some() {
        line.push_str(&reason);
    } else {
        line.push_str(&e.to_string());
        let mut source = std::error::Error::source(&e);
        while let Some(s) = source {
            line.push_str(&format!(": {s}"));
            source = s.source();
        }
    }
    log_server_error(&line);
    let text = if reason.is_empty() {
        status.canonical_reason().unwrap_or("error").to_owned()
    } else {
        reason
    };
    Ok(plain(status, text))
}

/// A short `text/plain` answer.
fn plain(status: StatusCode, text: String) -> Response<Body> {
    let mut res = Response::new(Body::full(text + "\n"));
    *res.status_mut() = status;
    res.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 12 item 11: repeated identical lines are written once a second,
    /// with the count of those left out; other lines are not held back.

    #[test]
    fn refusals_get_their_status_and_server_errors_are_answered_here() {
        let res = respond(Err(Refusal::insufficient_storage())).unwrap();
        assert_eq!(res.status(), StatusCode::INSUFFICIENT_STORAGE);
        let res = respond(Err(Refusal::uri_too_long("deep"))).unwrap();
        assert_eq!(res.status(), StatusCode::URI_TOO_LONG);
        let res = respond(Err(Error::Io(std::io::Error::other("x")))).unwrap();
        assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let e = respond(Err(Error::NotFound)).unwrap_err();
        assert_eq!(e.status(), StatusCode::NOT_FOUND);
    }
}

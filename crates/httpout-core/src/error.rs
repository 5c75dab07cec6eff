//! Errors: what a request can fail with, mapped to an HTTP status in one place,
//! and what starting a server can fail with.

use std::borrow::Cow;
use std::io;
use std::path::PathBuf;

use http::header::{
    ALLOW, CONTENT_RANGE, CONTENT_TYPE, RETRY_AFTER, SEC_WEBSOCKET_VERSION, UPGRADE,
    WWW_AUTHENTICATE,
};
use http::{HeaderValue, Response, StatusCode};

use crate::body::{Body, BoxError};
use crate::config::ListenSpec;

/// Why a request failed. [`Error::status`] and [`Error::into_response`] are
/// the one mapping from failures to HTTP responses; mode crates convert their
/// own errors into this type.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The request is malformed (bad path encoding, bad header value...): 400.
    #[error("{0}")]
    BadRequest(Cow<'static, str>),
    /// The resource exists but may not be accessed this way: 403.
    #[error("{0}")]
    Forbidden(Cow<'static, str>),
    /// No resource at this path: 404.
    #[error("not found")]
    NotFound,
    /// 404 Not Found, with the reason (a live stream that ended).
    #[error("{0}")]
    Missing(Cow<'static, str>),
    /// The method is not supported on this resource: 405 with `Allow`.
    #[error("method not allowed")]
    MethodNotAllowed {
        /// The methods the resource accepts, for the `Allow` header.
        allow: HeaderValue,
    },
    /// A precondition (`If-Match`, `If-Unmodified-Since`, `If-None-Match`
    /// on an unsafe method) failed: 412.
    #[error("precondition failed")]
    PreconditionFailed,
    /// No requested range overlaps the representation: 416 with
    /// `Content-Range: bytes */SIZE`.
    #[error("range not satisfiable")]
    RangeNotSatisfiable {
        /// The representation's size.
        size: u64,
    },
    /// The target conflicts with what exists (writing over a directory, a
    /// file where a directory is needed): 409.
    #[error("{0}")]
    Conflict(Cow<'static, str>),
    /// The request body is larger than allowed (`maxs`): 413.
    #[error("upload larger than the {limit}-byte limit")]
    PayloadTooLarge {
        /// The limit in bytes.
        limit: u64,
    },
    /// The request body is not of a media type the resource reads (a form
    /// handler given JSON): 415.
    #[error("expected a body of type {expected}")]
    UnsupportedMediaType {
        /// What the resource reads (`multipart/form-data`, ...).
        expected: &'static str,
    },
    /// The client stopped sending its body for longer than the timeout: 408.
    #[error("request body timed out")]
    RequestTimeout,
    /// Credentials are missing or wrong: 401 with one `WWW-Authenticate`
    /// header per challenge.
    #[error("authentication required")]
    Unauthorized {
        /// The challenges (`Digest ...`, `Basic ...`).
        challenges: Vec<HeaderValue>,
    },
    /// Too many failed sign-ins from this peer: 429 with `Retry-After`.
    #[error("too many failed attempts, retry later")]
    TooManyRequests,
    /// A WebSocket resource asked for without a WebSocket handshake, or
    /// with a version other than 13: 426 with `Upgrade: websocket` and
    /// `Sec-WebSocket-Version: 13` (RFC 6455 §4.2.2).
    #[error("{0}")]
    UpgradeRequired(Cow<'static, str>),
    /// The method is not known to the server: 501.
    #[error("method not implemented")]
    NotImplemented,
    /// 502 Bad Gateway, with the reason (what a consumer of the request
    /// said: a command's standard error).
    #[error("{0}")]
    BadGateway(Cow<'static, str>),
    /// The server is at a connection or capacity limit: 503 with `Retry-After`.
    #[error("server busy, retry later")]
    Busy,
    /// What was asked for did not come in time (an LL-HLS blocking
    /// playlist reload held past its limit): 503, the reason logged.
    #[error("{0}")]
    Unavailable(Cow<'static, str>),
    /// A file system operation failed; `NotFound` and `PermissionDenied` map
    /// to 404 and 403, anything else to 500.
    #[error("i/o error")]
    Io(#[from] io::Error),
    /// A bug or an unexpected failure: 500 with a generic body, cause logged.
    #[error("internal error")]
    Internal(#[source] BoxError),
}

impl Error {
    /// A 409 with a short reason.
    pub fn conflict(reason: impl Into<Cow<'static, str>>) -> Self {
        Self::Conflict(reason.into())
    }

    /// A 400 with a short reason.
    pub fn bad_request(reason: impl Into<Cow<'static, str>>) -> Self {
        Self::BadRequest(reason.into())
    }

    /// The HTTP status for this error.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::NotFound | Self::Missing(_) => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            Self::PreconditionFailed => StatusCode::PRECONDITION_FAILED,
            Self::RangeNotSatisfiable { .. } => StatusCode::RANGE_NOT_SATISFIABLE,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType { .. } => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::RequestTimeout => StatusCode::REQUEST_TIMEOUT,
            Self::Unauthorized { .. } => StatusCode::UNAUTHORIZED,
            Self::TooManyRequests => StatusCode::TOO_MANY_REQUESTS,
            Self::UpgradeRequired(_) => StatusCode::UPGRADE_REQUIRED,
            Self::NotImplemented => StatusCode::NOT_IMPLEMENTED,
            Self::BadGateway(_) => StatusCode::BAD_GATEWAY,
            Self::Busy | Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Io(e) => match e.kind() {
                io::ErrorKind::NotFound => StatusCode::NOT_FOUND,
                io::ErrorKind::PermissionDenied => StatusCode::FORBIDDEN,
                _ => StatusCode::INTERNAL_SERVER_ERROR,
            },
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The response for this error: the status, a short `text/plain` reason,
    /// and the headers the RFC asks for with that status. Nothing is
    /// logged here: a server error's cause is logged by the engine when its
    /// request ends; its body stays generic (a 502's says what the consumer
    /// said).
    pub fn into_response(self) -> Response<Body> {
        let status = self.status();
        let text = match &self {
            Self::BadGateway(reason) => reason.to_string(),
            Self::Forbidden(reason) | Self::Missing(reason) => reason.to_string(),
            _ if status.is_server_error()
                || status == StatusCode::NOT_FOUND
                || status == StatusCode::FORBIDDEN =>
            {
                status.canonical_reason().unwrap_or("error").to_owned()
            }
            _ => self.to_string(),
        };
        let mut res = Response::new(Body::full(text + "\n"));
        *res.status_mut() = status;
        let headers = res.headers_mut();
        headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        match self {
            Self::MethodNotAllowed { allow } => {
                headers.insert(ALLOW, allow);
            }
            Self::Busy => {
                headers.insert(RETRY_AFTER, HeaderValue::from_static("1"));
            }
            Self::Unauthorized { challenges } => {
                for c in challenges {
                    headers.append(WWW_AUTHENTICATE, c);
                }
            }
            Self::TooManyRequests => {
                headers.insert(RETRY_AFTER, HeaderValue::from_static("60"));
            }
            Self::UpgradeRequired(_) => {
                headers.insert(UPGRADE, HeaderValue::from_static("websocket"));
                headers.insert(SEC_WEBSOCKET_VERSION, HeaderValue::from_static("13"));
            }
            Self::RangeNotSatisfiable { size } => {
                let value = HeaderValue::from_str(&format!("bytes */{size}"))
                    .expect("digits are a valid header value");
                headers.insert(CONTENT_RANGE, value);
            }
            _ => {}
        }
        res
    }
}

/// Why a server could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// A certificate or key file is missing or malformed (a configuration
    /// error: the CLI exits with status 2).
    #[error("invalid value '{}' for {option}: {reason}", path.display())]
    Tls {
        /// The option that named the file (`--cert`, `--pkey` or `--ca`).
        option: &'static str,
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// A listener could not be bound: address in use, permission... (a
    /// runtime error: the CLI exits with status 1).
    #[error("cannot listen on {listener}: {source}")]
    Bind {
        /// The listener that failed.
        listener: ListenSpec,
        /// The system's error.
        source: io::Error,
    },
    /// The configuration is inconsistent (e.g. an https listener without TLS
    /// files): exit status 2.
    #[error("{0}")]
    Config(String),
    /// [`ServerConfig::port_scan`](crate::ServerConfig::port_scan): no port
    /// from the listener's to 65535 could be bound (a runtime error: exit
    /// status 1).
    #[error("cannot listen on {listener}: no port from {} to 65535 is free ({source})", listener.tcp_addr().map_or(0, |a| a.port()))]
    PortScan {
        /// The listener as configured, with the first port tried.
        listener: ListenSpec,
        /// The error of the last port tried.
        source: io::Error,
    },
    /// [`crate::serve`] could not start its runtime or its signal handlers.
    #[error("cannot start serving: {0}")]
    Runtime(io::Error),
}

impl StartError {
    /// Whether this is a configuration error (exit 2) rather than a runtime one (exit 1).
    pub fn is_config(&self) -> bool {
        matches!(self, Self::Tls { .. } | Self::Config(_))
    }
}

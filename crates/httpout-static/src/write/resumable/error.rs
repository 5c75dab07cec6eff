//! Why a resumable-upload request is refused, and the one place each
//! reason becomes a status: IETF clients get the draft's problem types
//! (`application/problem+json`, RFC 9457) where it defines one and
//! `Upload-Complete: ?0`, tus clients the tus statuses (412, 460), both a
//! short reason.

use std::borrow::Cow;

use http::header::{CONTENT_TYPE, RETRY_AFTER};
use http::{HeaderValue, Response, StatusCode};
use httpout_core::{Body, Error};

use super::Protocol;
use super::headers::{UPLOAD_COMPLETE, UPLOAD_LIMIT, UPLOAD_OFFSET};

/// The problem type base the draft registers its types under.
const PROBLEMS: &str = "https://iana.org/assignments/http-problem-types#";

/// A refusal of a resumable-upload request.
#[derive(Debug)]
pub(crate) enum ResumeError {
    /// No upload with that id (never was, expired, cancelled): 404.
    NotFound,
    /// A malformed or missing header: 400 with the reason.
    BadRequest(Cow<'static, str>),
    /// `Tus-Resumable` names a version other than 1.0.0: 412.
    TusVersion,
    /// The body's media type is not the protocol's: 415.
    MediaType {
        /// The media type expected.
        expected: &'static str,
    },
    /// `Upload-Offset` is not where the upload stands: 409.
    OffsetMismatch {
        /// Where it stands.
        expected: u64,
        /// What the request said.
        provided: u64,
    },
    /// An append to an upload already complete: 400 (draft interop 6,
    /// `completed-upload`; later texts answer otherwise, see
    /// [`super::ietf::after_completion`]), 409 (tus: its offset cannot match).
    Completed {
        /// Its length.
        length: u64,
    },
    /// Lengths that disagree (`Upload-Length`, the body, `Upload-Complete`): 400.
    InconsistentLength(Cow<'static, str>),
    /// Over `maxs`: 413.
    TooLarge {
        /// `maxs`.
        limit: u64,
    },
    /// The incomplete uploads' total would pass `--resume_budget`: 507.
    OverBudget {
        /// The budget.
        budget: u64,
    },
    /// As many incomplete uploads as the server keeps: 503.
    TooMany,
    /// Another request is appending to the upload and did not end in time: 409.
    Busy,
    /// `Upload-Checksum` names an algorithm not offered: 400.
    ChecksumAlgorithm,
    /// The body does not match `Upload-Checksum`: 460 (tus).
    ChecksumMismatch,
    /// The upload was made by another signed-in user: 403.
    NotYours,
    /// The body stopped before its end (the client went away, or paused
    /// longer than the timeout): what was received is kept.
    Interrupted(Error),
    /// A write or store failure, answered as plain uploads' are.
    Write(Error),
}

impl From<Error> for ResumeError {
    fn from(e: Error) -> Self {
        Self::Write(e)
    }
}

impl ResumeError {
    /// The status of this refusal for `protocol`.
    pub(crate) fn status(&self, protocol: Protocol) -> StatusCode {
        match self {
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::BadRequest(_) | Self::InconsistentLength(_) | Self::ChecksumAlgorithm => {
                StatusCode::BAD_REQUEST
            }
            Self::TusVersion => StatusCode::PRECONDITION_FAILED,
            Self::MediaType { .. } => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::OffsetMismatch { .. } | Self::Busy => StatusCode::CONFLICT,
            Self::Completed { .. } => match protocol {
                Protocol::Ietf => StatusCode::BAD_REQUEST,
                Protocol::Tus => StatusCode::CONFLICT,
            },
            Self::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::OverBudget { .. } => StatusCode::INSUFFICIENT_STORAGE,
            Self::TooMany => StatusCode::SERVICE_UNAVAILABLE,
            // Not registered, but every tus client knows it.
            Self::ChecksumMismatch => StatusCode::from_u16(460).unwrap_or(StatusCode::BAD_REQUEST),
            Self::NotYours => StatusCode::FORBIDDEN,
            Self::Interrupted(e) | Self::Write(e) => e.status(),
        }
    }

    /// The response: the problem document or a plain reason, with the
    /// headers the protocol asks for (`Upload-Offset` on a mismatch; for
    /// the draft `Upload-Complete: ?0`, the upload resource answering, not
    /// the target, and `Upload-Limit` on a 413). Errors from the write
    /// path go through [`crate::error::respond`].
    pub(crate) fn respond(self, protocol: Protocol) -> Result<Response<Body>, Error> {
        // Interop 6's completed-upload is about a complete upload.
        let resource = protocol == Protocol::Ietf && !matches!(self, Self::Completed { .. });
        let mut res = self.respond_inner(protocol)?;
        if resource {
            res.headers_mut()
                .insert(UPLOAD_COMPLETE, HeaderValue::from_static("?0"));
        }
        Ok(res)
    }

    fn respond_inner(self, protocol: Protocol) -> Result<Response<Body>, Error> {
        let status = self.status(protocol);
        let reason = self.reason();
        let (Self::Interrupted(e) | Self::Write(e)) = self else {
            return Ok(self.answer(protocol, status, &reason));
        };
        crate::error::respond(Err(e))
    }

    /// Why, in a few words (the write path's own errors say theirs).
    pub(crate) fn reason(&self) -> Cow<'static, str> {
        match self {
            Self::NotFound => "no such upload (it completed, expired or was cancelled)".into(),
            Self::BadRequest(r) | Self::InconsistentLength(r) => r.clone(),
            Self::TusVersion => "only tus 1.0.0 is supported".into(),
            Self::MediaType { expected } => format!("the body must be {expected}").into(),
            Self::OffsetMismatch { expected, provided } => {
                format!("the upload is at offset {expected}, not {provided}").into()
            }
            Self::Completed { length } => format!("the upload is complete ({length} bytes)").into(),
            Self::TooLarge { limit } => format!("uploads are limited to {limit} bytes").into(),
            Self::OverBudget { budget } => format!(
                "incomplete uploads would hold more than {budget} bytes (resume_budget); try later"
            )
            .into(),
            Self::TooMany => "too many incomplete uploads; try later".into(),
            Self::Busy => "another request is appending to this upload".into(),
            Self::ChecksumAlgorithm => "Upload-Checksum: use sha1 or sha256".into(),
            Self::ChecksumMismatch => "the body does not match Upload-Checksum".into(),
            Self::NotYours => "this upload belongs to another user".into(),
            Self::Interrupted(e) | Self::Write(e) => e.to_string().into(),
        }
    }

    fn answer(self, protocol: Protocol, status: StatusCode, reason: &str) -> Response<Body> {
        let problem = match (&self, protocol) {
            (Self::OffsetMismatch { expected, provided }, Protocol::Ietf) => {
                Some(serde_json::json!({
                    "type": format!("{PROBLEMS}mismatching-upload-offset"),
                    "title": "offset from request does not match offset of resource",
                    "expected-offset": expected,
                    "provided-offset": provided,
                }))
            }
            (Self::Completed { .. }, Protocol::Ietf) => Some(serde_json::json!({
                "type": format!("{PROBLEMS}completed-upload"),
                "title": "upload is already completed",
            })),
            (Self::InconsistentLength(r), Protocol::Ietf) => Some(serde_json::json!({
                "type": format!("{PROBLEMS}inconsistent-upload-length"),
                "title": "inconsistent length values for upload",
                "detail": r,
            })),
            _ => None,
        };
        let (body, media) = match problem {
            Some(p) => (p.to_string(), "application/problem+json"),
            None => (format!("{reason}\n"), "text/plain; charset=utf-8"),
        };
        let mut res = Response::new(Body::full(body));
        *res.status_mut() = status;
        let h = res.headers_mut();
        h.insert(CONTENT_TYPE, HeaderValue::from_static(media));
        if let Self::OffsetMismatch { expected, .. } = self {
            h.insert(UPLOAD_OFFSET, HeaderValue::from(expected));
        }
        if let (Self::TooLarge { limit }, Protocol::Ietf) = (&self, protocol) {
            if let Ok(v) = HeaderValue::from_str(&format!("max-size={limit}")) {
                h.insert(UPLOAD_LIMIT, v);
            }
        }
        if matches!(self, Self::TooMany | Self::Busy) {
            h.insert(RETRY_AFTER, HeaderValue::from_static("5"));
        }
        if status.is_server_error() {
            httpout_core::log_server_error(&format!("{status}: {reason}"));
        }
        res
    }
}

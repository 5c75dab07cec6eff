//! What can go wrong on a live mount, and the status each answers with.

use httpout_core::Error;

/// A live sink error; [`From<LiveError> for Error`](Error) maps it to a status.
#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    /// No stream at this path (404).
    #[error("no live stream at {0}")]
    NoStream(String),
    /// The stream's input is over (404, as the reference says).
    #[error("{0} is no longer available")]
    Over(String),
    /// Another source client is sending to this mount (403, as Icecast).
    #[error("mountpoint {0} in use")]
    InUse(String),
    /// The mount is fed by an `-i` input (409).
    #[error("{0} is fed by an input of the command line")]
    FedByInput(String),
    /// HTTP source ingest is not configured (403).
    #[error("source clients are not accepted: start httpout with --source_password")]
    IngestOff,
    /// Missing or wrong source credentials (401).
    #[error("source credentials required")]
    BadCredentials,
    /// Missing or wrong admin credentials (401).
    #[error("admin credentials required")]
    BadAdminCredentials,
    /// The mount's `auth_url` wants a listener's credentials (401).
    #[error("listener credentials required")]
    ListenerCredentials,
    /// The mount's `auth_url` refused the client, with its reason (403).
    #[error("refused: {0}")]
    Refused(String),
    /// The mount's `auth_url` did not answer (503).
    #[error("the authentication service is unavailable, try again later")]
    AuthUnavailable,
    /// The admin API is off (403).
    #[error("the admin API is off: start httpout with --admin_password")]
    AdminOff,
    /// The mount has its `max_listeners` (403 with Icecast's reason, as
    /// icecast2 answers).
    #[error("max listeners reached")]
    Full,
    /// A malformed admin request (400).
    #[error("{0}")]
    BadRequest(&'static str),
}

impl From<LiveError> for Error {
    fn from(e: LiveError) -> Self {
        match e {
            LiveError::NoStream(_) | LiveError::Over(_) => Self::Missing(e.to_string().into()),
            LiveError::InUse(_)
            | LiveError::IngestOff
            | LiveError::Full
            | LiveError::AdminOff
            | LiveError::Refused(_) => Self::Forbidden(e.to_string().into()),
            LiveError::FedByInput(_) => Self::Conflict(e.to_string().into()),
            LiveError::BadCredentials => Self::Unauthorized {
                challenges: vec![http::HeaderValue::from_static(
                    "Basic realm=\"httpout source\", charset=\"UTF-8\"",
                )],
            },
            LiveError::ListenerCredentials => Self::Unauthorized {
                challenges: vec![http::HeaderValue::from_static(
                    "Basic realm=\"httpout listener\", charset=\"UTF-8\"",
                )],
            },
            LiveError::AuthUnavailable => Self::Busy,
            LiveError::BadAdminCredentials => Self::Unauthorized {
                challenges: vec![http::HeaderValue::from_static(
                    "Basic realm=\"httpout admin\", charset=\"UTF-8\"",
                )],
            },
            LiveError::BadRequest(r) => Self::BadRequest(r.into()),
        }
    }
}

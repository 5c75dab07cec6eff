//! What can go wrong with an upload in source mode, and its status.

use httpout_core::Error;

/// A source mode error; [`From<SourceError> for Error`](Error) maps it.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// The uploader's body failed (connection lost, bad framing): 400.
    #[error("upload aborted: {0}")]
    Aborted(String),
    /// The uploader sent nothing for the timeout: 408.
    #[error("upload stalled")]
    Stalled,
    /// The command failed, or standard output is gone: 502 with the reason.
    #[error("{0}")]
    Consumer(String),
    /// The embedding program no longer takes uploads: 503.
    #[error("uploads are not taken now")]
    Closed,
    /// Every `--exec` slot is taken and the queue is full: 503 with
    /// `Retry-After`.
    #[error("every command slot is busy")]
    Busy,
    /// The command could not be started: 500.
    #[error("cannot start the command: {0}")]
    Spawn(#[source] std::io::Error),
}

impl From<SourceError> for Error {
    fn from(e: SourceError) -> Self {
        match e {
            SourceError::Aborted(_) => Self::BadRequest(e.to_string().into()),
            SourceError::Stalled => Self::RequestTimeout,
            SourceError::Consumer(_) => Self::BadGateway(e.to_string().into()),
            SourceError::Closed | SourceError::Busy => Self::Busy,
            SourceError::Spawn(_) => Self::Internal(Box::new(e)),
        }
    }
}

//! What can go wrong when pushing, tagged by who is at fault.

use http::StatusCode;

/// A push failure, with the URL it concerns.
#[derive(Debug, thiserror::Error)]
pub enum PushError {
    /// The origin answered with an error status; `message` is the start
    /// of its answer.
    #[error("{url}: {status}{}", if .message.is_empty() { String::new() } else { format!(": {}", .message) })]
    Status {
        /// The URL uploaded to.
        url: String,
        /// The origin's status.
        status: StatusCode,
        /// The start of the origin's answer.
        message: String,
    },
    /// The origin could not be reached or the connection broke.
    #[error("{url}: {reason}")]
    Network {
        /// The URL uploaded to.
        url: String,
        /// What the client said.
        reason: String,
    },
    /// The TLS handshake failed (an untrusted certificate...): not retried.
    #[error("{url}: {reason}")]
    Tls {
        /// The URL uploaded to.
        url: String,
        /// What the TLS layer said.
        reason: String,
    },
    /// The local input could not be read.
    #[error("{path}: {source}")]
    Input {
        /// The input.
        path: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A stop (SIGINT/SIGTERM) came before the upload was confirmed.
    #[error("{url}: not pushed: stopped by a signal")]
    Stopped {
        /// The URL that was to be uploaded to.
        url: String,
    },
    /// A destination of several fell further behind the input (stdin, a
    /// FIFO) than it may: its upload was cut, the others went on.
    #[error(
        "{url}: fell more than {max} bytes behind the input; cut (the other destinations went on)"
    )]
    Lagged {
        /// The URL uploaded to.
        url: String,
        /// How far behind a destination may fall, in bytes.
        max: usize,
    },
    /// A bad destination or TLS setting.
    #[error("{0}")]
    Config(String),
}

impl PushError {
    /// Whether trying again may help: network failures, 408, 429 and 5xx.
    pub fn retryable(&self) -> bool {
        match self {
            Self::Network { .. } => true,
            Self::Status { status, .. } => {
                status.is_server_error()
                    || *status == StatusCode::REQUEST_TIMEOUT
                    || *status == StatusCode::TOO_MANY_REQUESTS
            }
            Self::Tls { .. }
            | Self::Input { .. }
            | Self::Stopped { .. }
            | Self::Lagged { .. }
            | Self::Config(_) => false,
        }
    }
}

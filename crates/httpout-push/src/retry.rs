//! Retries with back-off: what may help (network failures, 408, 429, 5xx)
//! is tried again after 0.5, 1, 2, 4 and 8 seconds; anything else fails at
//! once.

use std::future::Future;
use std::time::Duration;

use crate::error::PushError;

/// Waits before each new attempt.
const BACKOFF: [Duration; 5] = [
    Duration::from_millis(500),
    Duration::from_secs(1),
    Duration::from_secs(2),
    Duration::from_secs(4),
    Duration::from_secs(8),
];

/// Runs `attempt` until it succeeds, fails for good, or the back-off is
/// spent; each retry is logged.
pub(crate) async fn run<T, F, Fut>(mut attempt: F) -> Result<T, PushError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, PushError>>,
{
    let mut waits = BACKOFF.iter();
    loop {
        match attempt().await {
            Err(e) if e.retryable() => match waits.next() {
                Some(wait) => {
                    eprintln!("httpout: {e}; retrying in {} ms", wait.as_millis());
                    tokio::time::sleep(*wait).await;
                }
                None => return Err(e),
            },
            other => return other,
        }
    }
}

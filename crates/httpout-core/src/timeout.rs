//! The one rule for `--timeout`: a number of seconds, 0 meaning no timeout,
//! for every wait it bounds (idle connections, request heads, TLS
//! handshakes, silent uploads and source clients, local writers that stop
//! writing).

use std::future::Future;
use std::time::Duration;

/// `--timeout=SECONDS` as a limit: `None` (no limit) for 0.
#[must_use]
pub fn from_secs(secs: u64) -> Option<Duration> {
    (secs > 0).then(|| Duration::from_secs(secs))
}

/// Runs `fut` for at most `limit` (for ever with `None`); `None` when the
/// time ran out first.
pub async fn within<F: Future>(limit: Option<Duration>, fut: F) -> Option<F::Output> {
    match limit {
        Some(limit) => tokio::time::timeout(limit, fut).await.ok(),
        None => Some(fut.await),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_means_no_timeout() {
        assert_eq!(from_secs(0), None);
        assert_eq!(from_secs(30), Some(Duration::from_secs(30)));
    }

    #[tokio::test(start_paused = true)]
    async fn a_limit_ends_the_wait_and_none_waits_for_ever() {
        let never = std::future::pending::<()>();
        assert_eq!(within(Some(Duration::from_secs(5)), never).await, None);
        let slow = tokio::time::sleep(Duration::from_secs(3600));
        assert_eq!(within(None, slow).await, Some(()));
    }
}

//! Retries with back-off: what may help (network failures, 408, 429, 5xx)
//! is tried again after 0.5, 1, 2, 4 and 8 seconds; anything else fails at
//! once. A stop (SIGINT/SIGTERM) ends the waiting at once, and work in
//! progress after [`STOP_GRACE`].

use std::future::Future;
use std::time::Duration;

use http::Uri;
use httpout_core::metrics::{PushCounters, PushOutcome};
use tokio_util::sync::CancellationToken;

use crate::error::PushError;

/// Waits before each new attempt.
const BACKOFF: [Duration; 5] = [
    Duration::from_millis(500),
    Duration::from_secs(1),
    Duration::from_secs(2),
    Duration::from_secs(4),
    Duration::from_secs(8),
];

/// How long an upload in progress may go on after a stop: enough for a
/// growing file's upload to end with what the file holds, short enough
/// for the client to be gone within a second of the signal.
pub(crate) const STOP_GRACE: Duration = Duration::from_millis(500);

/// Runs `attempt` until it succeeds, fails for good, the back-off is spent
/// or `stop` comes; each retry is logged.
pub(crate) async fn run<T, F, Fut>(
    stop: &CancellationToken,
    uri: &Uri,
    metrics: &PushCounters,
    mut attempt: F,
) -> Result<T, PushError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, PushError>>,
{
    let mut waits = BACKOFF.iter();
    loop {
        if stop.is_cancelled() {
            return Err(stopped(uri));
        }
        match until_stopped(stop, uri, attempt()).await {
            Err(e) if e.retryable() => match waits.next() {
                Some(wait) => {
                    metrics.count(PushOutcome::Retry);
                    tracing::warn!(target: "httpout::push", "{e}; retrying in {} ms", wait.as_millis());
                    tokio::select! {
                        () = tokio::time::sleep(*wait) => {}
                        () = stop.cancelled() => return Err(stopped(uri)),
                    }
                }
                None => return Err(e),
            },
            other => return other,
        }
    }
}

/// Runs `work`; once `stop` comes, it has [`STOP_GRACE`] to finish before
/// it is dropped (and `uri` reported as not pushed).
pub(crate) async fn until_stopped<T>(
    stop: &CancellationToken,
    uri: &Uri,
    work: impl Future<Output = Result<T, PushError>>,
) -> Result<T, PushError> {
    let cut = async {
        stop.cancelled().await;
        tokio::time::sleep(STOP_GRACE).await;
    };
    tokio::select! {
        done = work => done,
        () = cut => Err(stopped(uri)),
    }
}

fn stopped(uri: &Uri) -> PushError {
    PushError::Stopped {
        url: uri.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn down(uri: &Uri) -> Result<(), PushError> {
        Err(PushError::Network {
            url: uri.to_string(),
            reason: "connection refused".to_owned(),
        })
    }

    #[tokio::test(start_paused = true)]
    async fn a_stop_ends_the_back_off_at_once() {
        let stop = CancellationToken::new();
        let uri: Uri = "http://127.0.0.1:9/x".parse().unwrap();
        let started = tokio::time::Instant::now();
        let stopper = {
            let stop = stop.clone();
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_secs(2)).await;
                stop.cancel();
            })
        };
        let mut attempts = 0;
        let metrics = httpout_core::Metrics::new();
        let got = run(&stop, &uri, &metrics.push_destination("x"), || {
            attempts += 1;
            std::future::ready(down(&uri))
        })
        .await;
        stopper.await.unwrap();
        assert!(matches!(got, Err(PushError::Stopped { .. })), "{got:?}");
        // Attempts at 0, 0.5 and 1.5 s; the 2 s wait is cut by the stop.
        assert_eq!(attempts, 3);
        assert_eq!(started.elapsed(), Duration::from_secs(2));
        // Each failed attempt was followed by a wait: three retries.
        let text = metrics.encode();
        assert!(
            text.contains("httpout_push_attempts_total{outcome=\"retry\"} 3"),
            "{text}"
        );
        assert!(
            text.contains(
                "httpout_push_destination_attempts_total{destination=\"x\",outcome=\"retry\"} 3"
            ),
            "{text}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn work_in_progress_gets_the_grace_then_is_dropped() {
        let stop = CancellationToken::new();
        stop.cancel();
        let uri: Uri = "http://127.0.0.1:9/x".parse().unwrap();
        let started = tokio::time::Instant::now();
        let got = until_stopped(&stop, &uri, std::future::pending::<Result<(), _>>()).await;
        assert!(matches!(got, Err(PushError::Stopped { .. })), "{got:?}");
        assert_eq!(started.elapsed(), STOP_GRACE);
        // Work that ends within the grace ends well.
        let quick = async {
            tokio::time::sleep(STOP_GRACE / 2).await;
            Ok(7)
        };
        assert_eq!(until_stopped(&stop, &uri, quick).await.unwrap(), 7);
    }
}

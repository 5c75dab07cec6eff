//! The server's metrics: one [`Metrics`] registry per process (the CLI
//! shares one among all its servers), updated by the engine and, through
//! the small API below, by the mode crates; served in the Prometheus text
//! format at `--metrics=PATH` (see `service::builtin`).
//!
//! Every metric is a handle onto atomics (the official Prometheus client,
//! `prometheus-client`): the labelled series of the hot path (requests by
//! method and status class, rejections by reason) are created once, here,
//! so a request costs a few atomic additions and one histogram
//! observation. Live mounts are labelled by name, at most
//! [`MAX_MOUNT_LABELS`] of them; further mounts share the label
//! [`OTHER_MOUNTS`], so Icecast source clients that invent mount names
//! cannot grow the registry without bound.
//!
//! The metric names and meanings are listed in `docs/operations.md`.

use std::collections::HashSet;
use std::fmt;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use http::{Method, StatusCode};
use prometheus_client::encoding::text;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::{Registry, Unit};

use crate::limit::Refused;

/// Re-exported so embedders name the registry's types
/// ([`Metrics::registry`]).
pub use prometheus_client;

/// The media type of [`Metrics::encode`]'s text (OpenMetrics 1.0, which
/// Prometheus scrapes and its text parsers read).
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The most live mounts labelled by name; further ones are counted under
/// [`OTHER_MOUNTS`].
pub const MAX_MOUNT_LABELS: usize = 100;

/// The `mount` label of the live mounts beyond [`MAX_MOUNT_LABELS`].
pub const OTHER_MOUNTS: &str = "_other";

/// Methods with their own `method` label; any other is `other`.
const METHODS: [&str; 9] = [
    "GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH", "SOURCE", "other",
];

/// Status classes, the `code` label.
const CLASSES: [&str; 5] = ["1xx", "2xx", "3xx", "4xx", "5xx"];

/// How one attempt of the push client ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PushOutcome {
    /// The destination accepted the upload.
    Success,
    /// The attempt failed and will be tried again.
    Retry,
    /// The upload was given up.
    Failure,
}

impl PushOutcome {
    const ALL: [Self; 3] = [Self::Success, Self::Retry, Self::Failure];

    fn label(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::Retry => "retry",
            Self::Failure => "failure",
        }
    }
}

type Labels<const N: usize> = [(&'static str, &'static str); N];
type MountLabel = [(&'static str, String); 1];
type DestinationLabels = [(&'static str, String); 2];

/// The process's metrics. Cheap to update from any thread; shared as an
/// `Arc<Metrics>` ([`ServerConfig::metrics`](crate::ServerConfig::metrics),
/// [`Ctx::metrics`](crate::Ctx::metrics), [`Running::metrics`](crate::Running::metrics)).
///
/// Embedders read it with [`Metrics::encode`] (the text a scrape gets) or
/// [`Metrics::registry`] (the `prometheus-client` registry itself, to
/// encode as they like).
pub struct Metrics {
    registry: Registry,
    conns_open: Gauge,
    conns_accepted: Counter,
    /// By [`Refused::LABELS`], in its order.
    conns_rejected: [Counter; 3],
    /// By method (`METHODS`), then status class (`CLASSES`).
    requests: [[Counter; 5]; 9],
    bytes_in: Counter,
    bytes_out: Counter,
    duration: Histogram,
    uploads_in_flight: Gauge,
    uploads_committed: Counter,
    uploads_aborted: Counter,
    live_listeners: Family<MountLabel, Gauge>,
    live_dropped: Family<MountLabel, Counter>,
    live_bytes: Family<MountLabel, Counter>,
    /// The mount names labelled so far (at most [`MAX_MOUNT_LABELS`]).
    live_names: Mutex<HashSet<String>>,
    filesink_writers: Gauge,
    /// By [`PushOutcome`], in its order.
    push: [Counter; 3],
    /// The same, by destination too (`--dst=URL1,URL2`).
    push_destinations: Family<DestinationLabels, Counter>,
    sign_in_failures: Counter,
    tls_failures: Counter,
    /// Responses written outside hyper: `[writev, sendfile]`.
    direct: [Counter; 2],
}

impl fmt::Debug for Metrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// A registry with every metric registered, at zero.
    pub fn new() -> Self {
        let mut r = Registry::with_prefix("httpout");
        let conns_open = Gauge::default();
        r.register(
            "connections_open",
            "Connections open now (admitted, not yet closed)",
            conns_open.clone(),
        );
        let conns_accepted = Counter::default();
        r.register(
            "connections_accepted",
            "Connections admitted",
            conns_accepted.clone(),
        );
        let rejected = Family::<Labels<1>, Counter>::default();
        r.register(
            "connections_rejected",
            "Connections refused with a 503 at accept, by limit (maxc, maxp, rate)",
            rejected.clone(),
        );
        let conns_rejected =
            Refused::LABELS.map(|why| rejected.get_or_create_owned(&[("reason", why)]));
        let by_method = Family::<Labels<2>, Counter>::default();
        r.register(
            "requests",
            "Responses sent, by request method and status class",
            by_method.clone(),
        );
        let requests = METHODS
            .map(|m| CLASSES.map(|c| by_method.get_or_create_owned(&[("method", m), ("code", c)])));
        let direct_family = Family::<Labels<1>, Counter>::default();
        r.register(
            "direct_responses",
            "Long response bodies written straight to the socket on plain-TCP HTTP/1.1, \
             by how: writev (a live stream's frames) or sendfile (a file region)",
            direct_family.clone(),
        );
        let direct =
            ["writev", "sendfile"].map(|how| direct_family.get_or_create_owned(&[("how", how)]));
        let bytes_in = Counter::default();
        r.register_with_unit(
            "received",
            "Request body bytes received",
            Unit::Bytes,
            bytes_in.clone(),
        );
        let bytes_out = Counter::default();
        r.register_with_unit(
            "sent",
            "Response body bytes sent",
            Unit::Bytes,
            bytes_out.clone(),
        );
        // 1 ms to about a minute (x4 a bucket); live listeners land in +Inf.
        let duration = Histogram::new(exponential_buckets(0.001, 4.0, 9));
        r.register_with_unit(
            "request_duration",
            "Time from a request's arrival to the end of its response body",
            Unit::Seconds,
            duration.clone(),
        );
        let uploads_in_flight = Gauge::default();
        r.register(
            "uploads_in_flight",
            "Uploads being received now",
            uploads_in_flight.clone(),
        );
        let uploads = Family::<Labels<1>, Counter>::default();
        r.register(
            "uploads",
            "Uploads ended, by outcome: committed (the file replaced) or aborted",
            uploads.clone(),
        );
        let uploads_committed = uploads.get_or_create_owned(&[("outcome", "committed")]);
        let uploads_aborted = uploads.get_or_create_owned(&[("outcome", "aborted")]);
        let live_listeners = Family::<MountLabel, Gauge>::default();
        r.register(
            "live_listeners",
            "Listeners connected now, by live mount",
            live_listeners.clone(),
        );
        let live_dropped = Family::<MountLabel, Counter>::default();
        r.register(
            "live_listeners_dropped",
            "Listeners cut because they fell behind the live ring, by live mount",
            live_dropped.clone(),
        );
        let live_bytes = Family::<MountLabel, Counter>::default();
        r.register_with_unit(
            "live_sent",
            "Bytes sent to listeners, by live mount",
            Unit::Bytes,
            live_bytes.clone(),
        );
        let filesink_writers = Gauge::default();
        r.register(
            "filesink_writers",
            "File sink inputs being written now",
            filesink_writers.clone(),
        );
        let push_family = Family::<Labels<1>, Counter>::default();
        r.register(
            "push_attempts",
            "Push client uploads, by outcome: success, retry (failed, tried again), failure (given up)",
            push_family.clone(),
        );
        let push =
            PushOutcome::ALL.map(|o| push_family.get_or_create_owned(&[("outcome", o.label())]));
        let push_destinations = Family::<DestinationLabels, Counter>::default();
        r.register(
            "push_destination_attempts",
            "Push client uploads by destination (--dst=URL1,URL2) and outcome: success, retry, failure",
            push_destinations.clone(),
        );
        let sign_in_failures = Counter::default();
        r.register(
            "sign_in_failures",
            "Requests that gave credentials and were answered 401 or 429",
            sign_in_failures.clone(),
        );
        let tls_failures = Counter::default();
        r.register(
            "tls_handshake_failures",
            "TLS handshakes that failed or timed out",
            tls_failures.clone(),
        );
        Self {
            registry: r,
            conns_open,
            conns_accepted,
            conns_rejected,
            requests,
            bytes_in,
            bytes_out,
            duration,
            uploads_in_flight,
            uploads_committed,
            uploads_aborted,
            live_listeners,
            live_dropped,
            live_bytes,
            live_names: Mutex::new(HashSet::new()),
            filesink_writers,
            push,
            push_destinations,
            sign_in_failures,
            tls_failures,
            direct,
        }
    }

    /// The registry, for an embedder that encodes or inspects it itself.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// Every metric in the text format a scrape gets ([`CONTENT_TYPE`]).
    pub fn encode(&self) -> String {
        let mut out = String::with_capacity(8 * 1024);
        // Writing into a String cannot fail.
        let _ = text::encode(&mut out, &self.registry);
        out
    }

    // ----- the engine -----

    /// A connection admitted: counted, and open until the guard drops.
    pub(crate) fn connection(&self) -> Gauged {
        self.conns_accepted.inc();
        Gauged::new(&self.conns_open)
    }

    /// A connection refused at accept.
    pub(crate) fn rejected(&self, why: Refused) {
        self.conns_rejected[why.index()].inc();
    }

    /// A response body written outside hyper, with `sendfile` or not.
    pub(crate) fn direct(&self, sendfile: bool) {
        self.direct[usize::from(sendfile)].inc();
    }

    /// A TLS handshake that failed or timed out.
    pub(crate) fn tls_failed(&self) {
        self.tls_failures.inc();
    }

    /// A request with credentials that was refused (401, 429).
    pub(crate) fn sign_in_failed(&self) {
        self.sign_in_failures.inc();
    }

    /// A response and how long its request took, from arrival to the end
    /// of its body.
    pub(crate) fn request(&self, method: &Method, status: StatusCode, took: Duration) {
        let m = METHODS
            .iter()
            .position(|m| *m == method.as_str())
            .unwrap_or(METHODS.len() - 1);
        let class = usize::from(status.as_u16() / 100).clamp(1, 5) - 1;
        self.requests[m][class].inc();
        self.duration.observe(took.as_secs_f64());
    }

    /// Request body bytes received.
    pub(crate) fn received(&self, n: u64) {
        self.bytes_in.inc_by(n);
    }

    /// Response body bytes sent.
    pub(crate) fn sent(&self, n: u64) {
        self.bytes_out.inc_by(n);
    }

    // ----- the mode crates -----

    /// An upload begins: in flight until the returned guard is
    /// [`Upload::committed`] or dropped (aborted).
    pub fn upload(&self) -> Upload {
        Upload {
            _in_flight: Gauged::new(&self.uploads_in_flight),
            committed: self.uploads_committed.clone(),
            aborted: Some(self.uploads_aborted.clone()),
        }
    }

    /// A file sink input is being written until the guard drops.
    pub fn filesink_writer(&self) -> Gauged {
        Gauged::new(&self.filesink_writers)
    }

    /// One attempt of the push client ended.
    pub fn push(&self, outcome: PushOutcome) {
        self.push[outcome as usize].inc();
    }

    /// The push counters of one destination, labelled `destination` (a
    /// URL without credentials): each outcome counted there and in the
    /// totals of [`Metrics::push`]. Ask once per destination; the labels
    /// are as many as the destinations asked for (the command line's).
    pub fn push_destination(&self, destination: &str) -> PushCounters {
        let mine = PushOutcome::ALL.map(|o| {
            self.push_destinations.get_or_create_owned(&[
                ("destination", destination.to_owned()),
                ("outcome", o.label().to_owned()),
            ])
        });
        PushCounters {
            total: self.push.clone(),
            mine,
        }
    }

    /// The series of live mount `name` (`/radio.mp3`); past
    /// [`MAX_MOUNT_LABELS`] names, those of [`OTHER_MOUNTS`]. Ask once per
    /// listener (it takes a lock), then update the handles.
    pub fn live_mount(&self, name: &str) -> MountMetrics {
        let label = {
            let mut names = self
                .live_names
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if names.contains(name)
                || names.len() < MAX_MOUNT_LABELS && names.insert(name.to_owned())
            {
                name.to_owned()
            } else {
                OTHER_MOUNTS.to_owned()
            }
        };
        let label = [("mount", label)];
        MountMetrics {
            listeners: self.live_listeners.get_or_create_owned(&label),
            dropped: self.live_dropped.get_or_create_owned(&label),
            sent: self.live_bytes.get_or_create_owned(&label),
        }
    }
}

/// A gauge raised while this value lives (an open connection, a writer).
#[derive(Debug)]
#[must_use = "the gauge goes down again when this is dropped"]
pub struct Gauged(Gauge);

impl Gauged {
    fn new(gauge: &Gauge) -> Self {
        gauge.inc();
        Self(gauge.clone())
    }
}

impl Drop for Gauged {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// An upload in flight ([`Metrics::upload`]): counted aborted when dropped
/// unless [`Upload::committed`] was called.
#[derive(Debug)]
#[must_use = "an upload dropped at once counts as aborted"]
pub struct Upload {
    _in_flight: Gauged,
    committed: Counter,
    aborted: Option<Counter>,
}

impl Upload {
    /// The upload's file is in place.
    pub fn committed(mut self) {
        self.aborted = None;
        self.committed.inc();
    }
}

impl Drop for Upload {
    fn drop(&mut self) {
        if let Some(aborted) = &self.aborted {
            aborted.inc();
        }
    }
}

/// One push destination's counters ([`Metrics::push_destination`]);
/// clones update the same series.
#[derive(Debug, Clone)]
pub struct PushCounters {
    total: [Counter; 3],
    mine: [Counter; 3],
}

impl PushCounters {
    /// One attempt to this destination ended.
    pub fn count(&self, outcome: PushOutcome) {
        self.total[outcome as usize].inc();
        self.mine[outcome as usize].inc();
    }
}

/// One live mount's series ([`Metrics::live_mount`]); clones update the
/// same series.
#[derive(Debug, Clone)]
pub struct MountMetrics {
    listeners: Gauge,
    dropped: Counter,
    sent: Counter,
}

impl MountMetrics {
    /// A listener connected: counted until the guard drops.
    pub fn listener(&self) -> Gauged {
        Gauged::new(&self.listeners)
    }

    /// A listener was cut for falling behind.
    pub fn dropped(&self) {
        self.dropped.inc();
    }

    /// Bytes sent to a listener.
    pub fn sent(&self, n: u64) {
        self.sent.inc_by(n);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn series_exist_from_the_start_and_move() {
        let m = Metrics::new();
        let text = m.encode();
        assert!(
            text.contains("httpout_requests_total{method=\"GET\",code=\"2xx\"} 0"),
            "{text}"
        );
        assert!(
            text.contains("httpout_connections_rejected_total{reason=\"maxp\"} 0"),
            "{text}"
        );
        m.request(
            &Method::GET,
            StatusCode::NOT_FOUND,
            Duration::from_millis(3),
        );
        m.request(
            &Method::from_bytes(b"BREW").unwrap(),
            StatusCode::OK,
            Duration::ZERO,
        );
        let text = m.encode();
        assert!(
            text.contains("httpout_requests_total{method=\"GET\",code=\"4xx\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("httpout_requests_total{method=\"other\",code=\"2xx\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("httpout_request_duration_seconds_count 2"),
            "{text}"
        );
    }

    #[test]
    fn uploads_count_aborted_unless_committed() {
        let m = Metrics::new();
        let a = m.upload();
        let b = m.upload();
        assert_eq!(m.uploads_in_flight.get(), 2);
        a.committed();
        drop(b);
        assert_eq!(m.uploads_in_flight.get(), 0);
        assert_eq!(m.uploads_committed.get(), 1);
        assert_eq!(m.uploads_aborted.get(), 1);
    }

    #[test]
    fn mount_labels_are_bounded() {
        let m = Metrics::new();
        let guards: Vec<_> = (0..MAX_MOUNT_LABELS + 10)
            .map(|i| m.live_mount(&format!("/m{i}")).listener())
            .collect();
        assert_eq!(m.live_names.lock().unwrap().len(), MAX_MOUNT_LABELS);
        let other = m
            .live_listeners
            .get_or_create_owned(&[("mount", OTHER_MOUNTS.to_owned())]);
        assert_eq!(other.get(), 10);
        // A name already labelled keeps its label.
        let again = m.live_mount("/m0");
        again.sent(5);
        assert!(
            m.encode()
                .contains("httpout_live_sent_bytes_total{mount=\"/m0\"} 5")
        );
        drop(guards);
        assert_eq!(other.get(), 0);
    }
}

//! The short request log on stderr (`reqlog`).
//!
//! A start line when a request arrives, and an end line with status, bytes
//! sent and duration when its response body is done (or dropped):
//!
//! ```text
//! httpout: #3 127.0.0.1:40112 GET /live.mpd HTTP/1.1
//! httpout: #3 127.0.0.1:40112 GET /live.mpd 200 1234B 0.41ms
//! ```
//!
//! `REC` in the list logs files being written instead of requests, in the
//! same shape (path, bytes, duration, ` (aborted)`); those lines come from
//! where every writer registers, the store's live registry
//! (`httpout_store::live`, turned on by the static server's mounts):
//!
//! A server error (5xx) is logged with its cause when its request ends,
//! whatever `reqlog` says ([`failure`], [`log_failure`]):
//!
//! ```text
//! httpout: 500 Internal Server Error: internal error: disk on fire
//! ```
//!
//! ```text
//! httpout: REC start /srv/live/seg_12.m4s
//! httpout: REC end /srv/live/seg_12.m4s 183244B 1002.31ms
//! ```

use std::collections::HashMap;
use std::fmt;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use http::{Method, StatusCode, Version};

use crate::error::Error;

/// The log line of a server error: its status, what it says and each
/// cause below it; `None` for a client error (nothing to log).
pub(crate) fn failure(e: &Error) -> Option<String> {
    let status = e.status();
    if !status.is_server_error() {
        return None;
    }
    let mut line = format!("{status}: {e}");
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        line.push_str(&format!(": {s}"));
        source = s.source();
    }
    Some(line)
}

/// Logs a [`failure`] line on stderr (rate-limited, see
/// [`log_server_error`]).
pub(crate) fn log_failure(line: &str) {
    log_server_error(line);
}

/// Logs `line` on stderr unless the same line was logged less than a
/// second ago; the next one logged says how many were left out.
pub fn log_server_error(line: &str) {
    static LOG: Mutex<Option<RateLimit>> = Mutex::new(None);
    let mut log = LOG
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(out) = log
        .get_or_insert_with(RateLimit::default)
        .check(line, Instant::now())
    {
        tracing::error!(target: "httpout::http", "{out}");
    }
}

/// At most one identical line per [`RateLimit::EVERY`], with the count of
/// those left out; remembers up to [`RateLimit::LINES`] distinct lines.
#[derive(Debug, Default)]
struct RateLimit {
    /// Per line: when it was last written, and how many were left out since.
    seen: HashMap<String, (Instant, u64)>,
}

impl RateLimit {
    const EVERY: Duration = Duration::from_secs(1);
    const LINES: usize = 256;

    /// The line to write for `line` at `now`, if any.
    fn check(&mut self, line: &str, now: Instant) -> Option<String> {
        if let Some((last, left_out)) = self.seen.get_mut(line) {
            if now.duration_since(*last) < Self::EVERY {
                *left_out += 1;
                return None;
            }
            let out = match std::mem::take(left_out) {
                0 => line.to_owned(),
                n => format!("{line} ({n} identical lines left out)"),
            };
            *last = now;
            return Some(out);
        }
        if self.seen.len() >= Self::LINES {
            self.seen
                .retain(|_, (last, _)| now.duration_since(*last) < Self::EVERY);
        }
        if self.seen.len() < Self::LINES {
            self.seen.insert(line.to_owned(), (now, 0));
        }
        Some(line.to_owned())
    }
}

/// One logged request, from start to end.
///
/// The end line is a `tracing` event under `httpout::access` whose message
/// is the GPAC-style line and whose fields are the access log's: `client`,
/// `user`, `method`, `path` (with the query), `protocol`, `status`,
/// `bytes`, `duration_us`, `referer`, `user_agent`, `complete`. The binary
/// formats them as `--log_format` says; an embedder's subscriber gets them
/// as they are.
#[derive(Debug)]
pub(crate) struct Record {
    id: u64,
    peer: Peer,
    method: Method,
    path: String,
    target: String,
    version: Version,
    referer: Option<String>,
    user_agent: Option<String>,
    user: Option<String>,
    start: Instant,
    log_end: bool,
}

/// How a client is shown in the log: `IP:PORT`, the IP alone when a proxy
/// did not give the port (port 0), `unix` on a Unix socket.
#[derive(Debug, Clone)]
pub(crate) struct Peer(pub(crate) Option<std::net::SocketAddr>);

impl Peer {
    /// The address without its port, as access logs show a client:
    /// `unix` on a Unix socket.
    pub(crate) fn ip(&self) -> String {
        self.0
            .map_or_else(|| "unix".to_owned(), |a| a.ip().to_string())
    }
}

impl fmt::Display for Peer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(a) if a.port() == 0 => write!(f, "{}", a.ip()),
            Some(a) => write!(f, "{a}"),
            None => f.write_str("unix"),
        }
    }
}

/// The status logged for a request whose client went away before its
/// response was ready (an upload cut short): nginx's 499.
pub(crate) const CLIENT_CLOSED: u16 = 499;

impl Record {
    /// Logs the start line and returns the record for the end line.
    pub(crate) fn start<B>(id: u64, peer: Peer, req: &http::Request<B>, log_end: bool) -> Self {
        let method = req.method().clone();
        let path = req.uri().path().to_owned();
        let version = req.version();
        tracing::info!(target: "httpout::access", start = true, "#{id} {peer} {method} {path} {version:?}");
        let header = |name| {
            req.headers()
                .get(name)
                .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        };
        Self {
            id,
            peer,
            method,
            target: req
                .uri()
                .path_and_query()
                .map_or_else(|| path.clone(), |p| p.as_str().to_owned()),
            path,
            version,
            referer: header(http::header::REFERER),
            user_agent: header(http::header::USER_AGENT),
            user: None,
            start: Instant::now(),
            log_end,
        }
    }

    /// The signed-in user, once access was checked.
    pub(crate) fn set_user(&mut self, user: Option<&str>) {
        self.user = user.map(str::to_owned);
    }

    /// Logs the end line, if wanted: `status` `None` when the request
    /// ended before its response was made ([`CLIENT_CLOSED`]).
    pub(crate) fn end(&self, status: Option<StatusCode>, bytes: u64, complete: bool) {
        if !self.log_end {
            return;
        }
        let elapsed = self.start.elapsed();
        let ms = elapsed.as_secs_f64() * 1000.0;
        let cut = if complete { "" } else { " (aborted)" };
        let status = status.map_or(CLIENT_CLOSED, |s| s.as_u16());
        tracing::info!(
            target: "httpout::access",
            client = %self.peer.ip(),
            user = self.user.as_deref(),
            method = %self.method,
            path = %self.target,
            protocol = ?self.version,
            status,
            bytes,
            duration_us = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX),
            referer = self.referer.as_deref(),
            user_agent = self.user_agent.as_deref(),
            complete,
            "#{} {} {} {} {status} {bytes}B {ms:.2}ms{cut}",
            self.id,
            self.peer,
            self.method,
            self.path,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identical_lines_are_rate_limited() {
        let mut log = RateLimit::default();
        let t0 = Instant::now();
        assert_eq!(log.check("a", t0).as_deref(), Some("a"));
        for i in 1..=5 {
            assert_eq!(log.check("a", t0 + Duration::from_millis(i * 100)), None);
        }
        assert_eq!(
            log.check("b", t0 + Duration::from_millis(600)).as_deref(),
            Some("b")
        );
        assert_eq!(
            log.check("a", t0 + Duration::from_millis(1_000)).as_deref(),
            Some("a (5 identical lines left out)")
        );
        assert_eq!(
            log.check("a", t0 + Duration::from_millis(2_500)).as_deref(),
            Some("a")
        );
    }
}

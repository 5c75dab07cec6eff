//! The engine's own resources, answered before access checks and routing:
//! the metrics (`--metrics=PATH`, to the addresses of `--metrics_allow`
//! only), the readiness check (`--health=PATH`, to everyone) and the clock
//! for DASH/HLS players (`--utc_timing=PATH`, to everyone). Each shadows
//! whatever a mode would serve at the same path.

use std::net::SocketAddr;

use http::header::{
    ACCESS_CONTROL_ALLOW_ORIGIN, ACCESS_CONTROL_EXPOSE_HEADERS, ALLOW, CACHE_CONTROL, CONTENT_TYPE,
    DATE,
};
use http::{HeaderValue, Method, Response, StatusCode};

use crate::body::Body;
use crate::config::{Cidr, ServerConfig};
use crate::metrics;

/// Which built-in resource a request asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Builtin {
    Metrics,
    Health,
    UtcTiming,
}

/// The built-in resource at `path`, if any.
pub(super) fn which(config: &ServerConfig, path: &str) -> Option<Builtin> {
    if config.metrics_path.as_deref() == Some(path) {
        Some(Builtin::Metrics)
    } else if config.health_path.as_deref() == Some(path) {
        Some(Builtin::Health)
    } else if config.utc_timing_path.as_deref() == Some(path) {
        Some(Builtin::UtcTiming)
    } else {
        None
    }
}

/// Answers a built-in resource: `GET` and `HEAD` only (405 otherwise);
/// the metrics to allowed peers (403 otherwise); health 200 `ok`, 503
/// `stopping` once `stopping`.
pub(super) fn answer(
    which: Builtin,
    method: &Method,
    peer: Option<SocketAddr>,
    config: &ServerConfig,
    stopping: bool,
) -> Response<Body> {
    if method != Method::GET && method != Method::HEAD {
        let mut res = text(StatusCode::METHOD_NOT_ALLOWED, "use GET\n");
        res.headers_mut()
            .insert(ALLOW, HeaderValue::from_static("GET, HEAD"));
        return res;
    }
    match which {
        Builtin::Metrics if !allowed(config, peer) => text(
            StatusCode::FORBIDDEN,
            "metrics are not served to this address\n",
        ),
        Builtin::Metrics => {
            let mut res = Response::new(Body::full(config.metrics.encode()));
            res.headers_mut().insert(
                CONTENT_TYPE,
                HeaderValue::from_static(metrics::CONTENT_TYPE),
            );
            no_store(res)
        }
        Builtin::Health if stopping => text(StatusCode::SERVICE_UNAVAILABLE, "stopping\n"),
        Builtin::Health => text(StatusCode::OK, "ok\n"),
        Builtin::UtcTiming => utc_timing(),
    }
}

/// The time now, to the millisecond, in the form DASH's
/// `urn:mpeg:dash:utc:http-iso:2014` and `http-xsdate:2014` clocks read
/// (`2026-12-05T13:40:00.123Z`), with the `Date` of the same reading for
/// `http-head:2014`. Players on other origins may read it (and its `Date`).
fn utc_timing() -> Response<Body> {
    let now = std::time::SystemTime::now();
    let mut res = Response::new(Body::full(crate::utc::Utc::from(now).rfc3339()));
    let h = res.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static("text/plain"));
    h.insert(
        DATE,
        HeaderValue::from_str(&httpdate::fmt_http_date(now)).expect("ASCII"),
    );
    h.insert(ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    h.insert(
        ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static("Date"),
    );
    no_store(res)
}

/// Whether `peer` may read the metrics: in `metrics_allow` (an IPv4
/// address mapped into IPv6, as a `[::]` listener sees it, counts as the
/// IPv4 one), or a Unix socket's (local) peer.
fn allowed(config: &ServerConfig, peer: Option<SocketAddr>) -> bool {
    peer.is_none_or(|p| Cidr::any_contains(&config.metrics_allow, p.ip()))
}

fn text(status: StatusCode, body: &'static str) -> Response<Body> {
    let mut res = Response::new(Body::full(body));
    *res.status_mut() = status;
    res.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    no_store(res)
}

fn no_store(mut res: Response<Body>) -> Response<Body> {
    res.headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_listed_addresses_read_the_metrics() {
        let mut config = ServerConfig::default();
        let at = |s: &str| Some(s.parse::<SocketAddr>().unwrap());
        assert!(allowed(&config, at("127.0.0.2:1")));
        assert!(allowed(&config, at("[::1]:1")));
        assert!(allowed(&config, at("[::ffff:127.0.0.1]:1")));
        assert!(!allowed(&config, at("192.0.2.1:1")));
        assert!(allowed(&config, None));
        config.metrics_allow = vec!["127.0.0.1/32".parse().unwrap()];
        assert!(!allowed(&config, at("127.0.0.2:1")));
        assert!(allowed(&config, at("[::ffff:127.0.0.1]:1")));
    }
}

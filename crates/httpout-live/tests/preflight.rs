//! A browser's upload to a live mount (live ingest) sends a CORS preflight
//! first when it carries custom headers: the engine answers it from the
//! methods the live handler declares, its fallback's included. hyper's
//! client over a real socket on 127.0.0.1; every wait is bounded.

use std::sync::Arc;
use std::time::Duration;

use http::{Method, Request};
use httpout_core::{Allow, Body, Ctx, Error, Handler, HandlerFuture, SafePath, ServerConfig};
use httpout_live::{Amount, Hub, LiveConfig, LiveHandler};
use httpout_test::{bounded, h1, read, request, start_with};
use tokio::net::TcpStream;

fn config() -> LiveConfig {
    LiveConfig {
        burst: Amount::Bytes(4096),
        max_lag: Amount::Bytes(64 * 1024),
        hold: false,
        reopen: false,
        ice: false,
        ice_values: Vec::new(),
        metaint: 0,
        title: None,
        source_password: Some("hackme".into()),
        admin: None,
        rt: false,
        rate: None,
        mime: None,
        ext: None,
        source_timeout: Some(Duration::from_secs(10)),
        batch: Duration::from_millis(250),
        mounts: Default::default(),
    }
}

/// A read-only fallback, as the static server of a read directory is.
struct ReadOnly;

impl Handler for ReadOnly {
    fn handle(&self, _req: Request<Body>, _ctx: Ctx) -> HandlerFuture {
        Box::pin(async { Err(Error::NotFound) })
    }

    fn allow(&self, _path: &SafePath) -> Allow {
        Allow::only([Method::GET, Method::HEAD, Method::OPTIONS])
    }
}

/// The preflight of a browser's `PUT` with `Content-Type` and a custom
/// header to `/live.mp3`: the answer's status and headers.
async fn preflight(handler: LiveHandler) -> (http::StatusCode, http::HeaderMap) {
    let (_s, addr) = start_with(ServerConfig::default(), handler).await;
    let mut c = h1(bounded(TcpStream::connect(addr)).await.unwrap()).await;
    let req = request(
        "OPTIONS",
        "/live.mp3",
        &[
            ("origin", "https://studio.example"),
            ("access-control-request-method", "PUT"),
            ("access-control-request-headers", "content-type,x-custom"),
        ],
    );
    let (status, h, body) = read(bounded(c.send_request(req)).await.unwrap()).await;
    assert!(body.is_empty());
    (status, h)
}

#[tokio::test]
async fn a_browser_upload_to_live_ingest_passes_its_preflight() {
    let (status, h) = preflight(LiveHandler::new(Hub::new(), config())).await;
    assert_eq!(status, 204);
    assert_eq!(h["access-control-allow-origin"], "*");
    assert_eq!(
        h["access-control-allow-methods"],
        "GET, HEAD, OPTIONS, PUT, POST, SOURCE"
    );
    assert_eq!(h["access-control-allow-headers"], "content-type,x-custom");
    assert!(h.contains_key("access-control-max-age"));
    assert_eq!(h["allow"], "GET, HEAD, OPTIONS, PUT, POST, SOURCE");
}

#[tokio::test]
async fn beside_a_read_only_fallback_the_preflight_still_allows_the_upload() {
    let live = LiveHandler::new(Hub::new(), config()).with_fallback(Arc::new(ReadOnly), false);
    let (status, h) = preflight(live).await;
    assert_eq!(status, 204);
    let methods = h["access-control-allow-methods"].to_str().unwrap();
    assert!(
        methods.split(", ").any(|m| m == "PUT"),
        "the live sink takes uploads at any path: {methods}"
    );
    assert_eq!(h["access-control-allow-headers"], "content-type,x-custom");
}

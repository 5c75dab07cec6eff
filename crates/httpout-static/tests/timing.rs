//! `wait_new` in virtual time (`start_paused`): a GET for a missing file
//! waits exactly the configured time, or until an upload of it starts,
//! in a test that takes no real time. The handler is called directly.

use std::time::Duration;

use bytes::Bytes;
use http::{Request, StatusCode};
use http_body::Frame;
use http_body_util::{BodyExt, StreamBody};
use httpout_core::{Body, BoxError, Ctx, Error, Handler, SafePath};
use httpout_static::{StaticConfig, StaticHandler};
use tokio::time::Instant;

const WAIT: Duration = Duration::from_secs(5);

fn handler(dir: &std::path::Path) -> StaticHandler {
    let config = StaticConfig {
        wait_new: WAIT,
        ..StaticConfig::default()
    };
    StaticHandler::new(dir, config)
        .unwrap()
        .with_write_dir(dir, 1 << 20, None)
        .unwrap()
}

async fn call(h: &StaticHandler, method: &str, path: &str, body: Body) -> http::Response<Body> {
    let req = Request::builder()
        .method(method)
        .uri(path)
        .body(body)
        .unwrap();
    let ctx = Ctx {
        peer: None,
        tls: false,
        path: SafePath::parse(path).unwrap(),
        mount: SafePath::root(),
        user: None,
        metrics: Default::default(),
    };
    h.handle(req, ctx)
        .await
        .unwrap_or_else(Error::into_response)
}

#[tokio::test(start_paused = true)]
async fn a_missing_file_is_404_after_exactly_wait_new() {
    let dir = tempfile::tempdir().unwrap();
    let h = handler(dir.path());
    let start = Instant::now();
    assert_eq!(
        call(&h, "GET", "/seg_9.m4s", Body::empty()).await.status(),
        StatusCode::NOT_FOUND
    );
    let waited = start.elapsed();
    assert!(
        waited >= WAIT && waited <= WAIT + Duration::from_millis(50),
        "{waited:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn an_upload_started_within_wait_new_is_served_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let h = handler(dir.path());
    let start = Instant::now();
    let reader = {
        let h = h.clone();
        tokio::spawn(async move { call(&h, "GET", "/seg_1.m4s", Body::empty()).await })
    };
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(!reader.is_finished(), "the GET waits for the segment");
    // An upload that starts (its first bytes) and stays open.
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Frame<Bytes>, BoxError>>(4);
    let body = Body::new(StreamBody::new(ReceiverStream(rx)));
    let writer = {
        let h = h.clone();
        tokio::spawn(async move { call(&h, "PUT", "/seg_1.m4s", body).await.status() })
    };
    tx.send(Ok(Frame::data(Bytes::from_static(b"seg"))))
        .await
        .unwrap();
    let res = reader.await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        start.elapsed(),
        Duration::from_secs(2),
        "served when the upload started"
    );
    drop(tx);
    assert_eq!(writer.await.unwrap(), StatusCode::CREATED);
    let got = res.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(got, "seg", "the reader gets the upload as it grows");
}

/// An mpsc receiver as a stream (tokio-stream is not a dependency).
struct ReceiverStream<T>(tokio::sync::mpsc::Receiver<T>);

impl<T> futures_util::Stream for ReceiverStream<T> {
    type Item = T;
    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<T>> {
        self.0.poll_recv(cx)
    }
}

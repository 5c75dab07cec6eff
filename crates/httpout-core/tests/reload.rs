//! `Running::reload`: new settings and a new handler for what starts after
//! it, nothing in flight touched. Real sockets on 127.0.0.1, hyper's
//! client; every wait bounded.

use std::time::Duration;

use http::{HeaderName, HeaderValue, Request, Response};
use http_body_util::BodyExt as _;
use httpout_core::{Body, Ctx, Error, ListenSpec, ServerConfig};
use httpout_test::{bounded, echo, h1, request, start_with};
use tokio::net::TcpStream;

fn with_header(value: &'static str) -> ServerConfig {
    ServerConfig {
        headers: vec![(
            HeaderName::from_static("x-settings"),
            HeaderValue::from_static(value),
        )],
        ..ServerConfig::default()
    }
}

/// The second handler: says so.
async fn second(_req: Request<Body>, ctx: Ctx) -> Result<Response<Body>, Error> {
    Ok(Response::new(Body::full(format!("second {}", ctx.path))))
}

#[tokio::test]
async fn requests_after_a_reload_get_the_new_settings_and_nothing_in_flight_is_cut() {
    let (running, addr) = start_with(with_header("one"), echo).await;
    // A response in flight (an endless body, as a live listener's) and an
    // idle kept-alive connection, both opened before the reload.
    let mut streaming = h1(bounded(TcpStream::connect(addr)).await.unwrap()).await;
    let res = bounded(streaming.send_request(request("GET", "/endless", &[])))
        .await
        .unwrap();
    assert_eq!(res.headers()["x-settings"], "one");
    let mut endless = res.into_body();
    bounded(endless.frame()).await.unwrap().unwrap();
    let mut idle = h1(bounded(TcpStream::connect(addr)).await.unwrap()).await;
    let res = bounded(idle.send_request(request("GET", "/a", &[])))
        .await
        .unwrap();
    assert_eq!(
        res.into_body().collect().await.unwrap().to_bytes(),
        "path=/a"
    );

    running.reload(with_header("two"), second).unwrap();

    // The kept-alive connection's next request, and a new connection's.
    let res = bounded(idle.send_request(request("GET", "/b", &[])))
        .await
        .unwrap();
    assert_eq!(res.headers()["x-settings"], "two");
    assert_eq!(
        res.into_body().collect().await.unwrap().to_bytes(),
        "second /b"
    );
    let mut fresh = h1(bounded(TcpStream::connect(addr)).await.unwrap()).await;
    let res = bounded(fresh.send_request(request("GET", "/c", &[])))
        .await
        .unwrap();
    assert_eq!(
        res.into_body().collect().await.unwrap().to_bytes(),
        "second /c"
    );
    // The response in flight goes on: 1 MiB more of it.
    let mut more = 0;
    while more < 1 << 20 {
        let frame = bounded(endless.frame()).await.unwrap().unwrap();
        more += frame.into_data().unwrap().len();
    }
}

#[tokio::test]
async fn a_reload_that_changes_the_listeners_is_refused_and_changes_nothing() {
    let (running, addr) = start_with(with_header("one"), echo).await;
    let mut config = with_header("two");
    config.listeners = vec![ListenSpec::Http(([127, 0, 0, 1], 1).into())];
    let e = running.reload(config, second).unwrap_err().to_string();
    assert!(e.contains("cannot change without a restart"), "{e}");
    let mut c = h1(bounded(TcpStream::connect(addr)).await.unwrap()).await;
    let res = bounded(c.send_request(request("GET", "/a", &[])))
        .await
        .unwrap();
    assert_eq!(res.headers()["x-settings"], "one");
    assert_eq!(
        res.into_body().collect().await.unwrap().to_bytes(),
        "path=/a"
    );
}

#[tokio::test]
async fn lower_limits_refuse_new_connections_and_keep_the_open_ones() {
    let (running, addr) = start_with(ServerConfig::default(), echo).await;
    let mut open = Vec::new();
    for _ in 0..3 {
        let mut c = h1(bounded(TcpStream::connect(addr)).await.unwrap()).await;
        let res = bounded(c.send_request(request("GET", "/x", &[])))
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        open.push(c);
    }
    let config = ServerConfig {
        maxc: 2,
        ..ServerConfig::default()
    };
    running.reload(config, echo).unwrap();
    let mut late = h1(bounded(TcpStream::connect(addr)).await.unwrap()).await;
    let res = bounded(late.send_request(request("GET", "/x", &[])))
        .await
        .unwrap();
    assert_eq!(res.status(), 503);
    let body = res.into_body().collect().await.unwrap().to_bytes();
    assert!(String::from_utf8_lossy(&body).contains("maxc=2"));
    // The three open before the reload are still served.
    for c in &mut open {
        let res = bounded(c.send_request(request("GET", "/y", &[])))
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
    }
    // Once two have closed, there is room again.
    open.truncate(1);
    let served = bounded(async {
        for _ in 0..200 {
            let mut c = h1(TcpStream::connect(addr).await.unwrap()).await;
            let res = c.send_request(request("GET", "/z", &[])).await.unwrap();
            if res.status() == 200 {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        false
    })
    .await;
    assert!(served);
}

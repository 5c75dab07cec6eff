//! A server for a while, on the first free port, with its own `Server`
//! header: `Running::run_for` in virtual time (`start_paused`: the clock
//! moves only when every task waits, so a loaded machine cannot make it
//! flaky), `ServerConfig::port_scan` and `ServerConfig::server_tokens`
//! over real sockets on 127.0.0.1.

use std::sync::Arc;
use std::time::Duration;

use http::{Request, Response};
use httpout_core::{
    Body, Ctx, Error, Handler, ListenSpec, Server, ServerConfig, ServerTokens, Shutdown, StartError,
};
use httpout_test::assert_about;
use httpout_test::{get, h1, h2, read};
use tokio::net::TcpStream;
use tokio::sync::Notify;
use tokio::time::Instant;

/// A handler that tells `started` when a request arrives, then answers
/// after `delay`.
fn slow(started: Arc<Notify>, delay: Duration) -> impl Handler {
    move |_req: Request<Body>, _ctx: Ctx| {
        let started = Arc::clone(&started);
        async move {
            started.notify_one();
            tokio::time::sleep(delay).await;
            Ok::<_, Error>(Response::new(Body::full("done")))
        }
    }
}

#[tokio::test(start_paused = true)]
async fn run_for_stops_after_the_time_once_the_request_in_flight_is_answered() {
    let started = Arc::new(Notify::new());
    let (running, addr) = httpout_test::start_with(
        httpout_test::config(),
        slow(Arc::clone(&started), Duration::from_secs(8)),
    )
    .await;
    let begin = Instant::now();
    let mut client = h1(TcpStream::connect(addr).await.unwrap()).await;
    let response =
        tokio::spawn(async move { read(client.send_request(get("/")).await.unwrap()).await });
    started.notified().await;
    let run = tokio::spawn(running.run_for(Duration::from_secs(5)));
    tokio::time::sleep(Duration::from_secs(6)).await;
    assert!(
        TcpStream::connect(addr).await.is_err(),
        "a new connection is refused once the time is up"
    );
    assert!(!run.is_finished(), "the request in flight is waited for");
    let ended = run.await.unwrap();
    assert_about(begin.elapsed(), Duration::from_secs(8));
    assert_eq!(ended, Shutdown::Graceful);
    let (status, _, body) = response.await.unwrap();
    assert_eq!((status.as_u16(), body.as_str()), (200, "done"));
}

#[tokio::test(start_paused = true)]
async fn run_for_closes_what_outlasts_the_grace_period() {
    let started = Arc::new(Notify::new());
    let (running, addr) = httpout_test::start_with(
        ServerConfig {
            timeout: None,
            ..httpout_test::config()
        },
        slow(Arc::clone(&started), Duration::from_secs(3600)),
    )
    .await;
    let begin = Instant::now();
    let mut client = h1(TcpStream::connect(addr).await.unwrap()).await;
    let response = tokio::spawn(async move { client.send_request(get("/")).await });
    started.notified().await;
    let ended = running.run_for(Duration::from_secs(5)).await;
    assert_eq!(ended, Shutdown::Forced);
    let elapsed = begin.elapsed();
    let want = Duration::from_secs(5) + httpout_core::DEFAULT_GRACE;
    assert!(
        elapsed >= want && elapsed <= want + Duration::from_secs(1),
        "{elapsed:?}"
    );
    assert!(response.await.unwrap().is_err(), "cut, not answered");
}

#[tokio::test(start_paused = true)]
async fn run_for_returns_when_a_handle_stops_the_server_first() {
    let (running, _addr) = httpout_test::start(httpout_test::config()).await;
    let handle = running.handle();
    let begin = Instant::now();
    let run = tokio::spawn(running.run_for(Duration::from_secs(3600)));
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        handle.shutdown(Duration::from_secs(1)).await,
        Shutdown::Graceful
    );
    assert_eq!(run.await.unwrap(), Shutdown::Graceful);
    assert_about(begin.elapsed(), Duration::from_secs(2));
}

/// A listener on 127.0.0.1:`port` that scans upward.
fn scanning(port: u16) -> ServerConfig {
    ServerConfig {
        listeners: vec![ListenSpec::Http(([127, 0, 0, 1], port).into())],
        port_scan: true,
        ..ServerConfig::default()
    }
}

#[tokio::test]
async fn port_scan_binds_a_port_above_a_taken_one() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let start = taken.local_addr().unwrap().port();
    if start == u16::MAX {
        return; // Nothing above; the exhaustion test covers it.
    }
    let refused = Server::bind(ServerConfig {
        port_scan: false,
        ..scanning(start)
    })
    .await
    .unwrap_err();
    assert!(matches!(refused, StartError::Bind { .. }), "{refused}");

    let server = Server::bind(scanning(start)).await.unwrap();
    let addr = server.local_addrs()[0].tcp_addr().unwrap();
    assert!(addr.port() > start, "{addr} above {start}");
    let running = server.serve(httpout_test::echo);
    let mut client = h1(TcpStream::connect(addr).await.unwrap()).await;
    let (status, _, body) = read(client.send_request(get("/x")).await.unwrap()).await;
    assert_eq!((status.as_u16(), body.as_str()), (200, "path=/x"));
    running.handle().shutdown(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn port_scan_that_finds_nothing_says_so() {
    // 65535 taken, by this test or by someone else: nothing is left above.
    let _held = std::net::TcpListener::bind("127.0.0.1:65535");
    let e = Server::bind(scanning(65535)).await.unwrap_err();
    assert!(matches!(e, StartError::PortScan { .. }), "{e}");
    assert!(!e.is_config(), "a runtime error (exit 1)");
    assert_eq!(
        e.to_string().split(" (").next().unwrap(),
        "cannot listen on http://127.0.0.1:65535: no port from 65535 to 65535 is free"
    );
}

/// The `Server` header of a GET over HTTP/1.1 and over h2c.
async fn server_headers(tokens: ServerTokens) -> [String; 2] {
    let (running, addr) = httpout_test::start(ServerConfig {
        server_tokens: tokens,
        ..httpout_test::config()
    })
    .await;
    let mut one = h1(TcpStream::connect(addr).await.unwrap()).await;
    let (_, h_one, _) = read(one.send_request(get("/")).await.unwrap()).await;
    let mut two = h2(TcpStream::connect(addr).await.unwrap()).await;
    let (_, h_two, _) = read(two.send_request(get("/")).await.unwrap()).await;
    running.handle().shutdown(Duration::from_secs(1)).await;
    [h_one, h_two].map(|h| h["server"].to_str().unwrap().to_owned())
}

#[tokio::test]
async fn server_tokens_follow_the_name_on_http1_and_http2() {
    let version = env!("CARGO_PKG_VERSION");
    let added = server_headers(ServerTokens::with(&["test/1.3", "extra"]).unwrap()).await;
    assert_eq!(
        added,
        [0, 1].map(|_| format!("httpout/{version} test/1.3 extra"))
    );
    let default = server_headers(ServerTokens::default()).await;
    assert_eq!(default, [0, 1].map(|_| format!("httpout/{version}")));
    let off = server_headers(ServerTokens::off()).await;
    assert_eq!(off, [0, 1].map(|_| "httpout".to_owned()));
}

#[tokio::test]
async fn serve_inside_a_runtime_is_refused_not_a_panic() {
    let e = httpout_core::serve("127.0.0.1:0", httpout_test::echo).unwrap_err();
    assert!(
        e.is_config() && e.to_string().contains("Server::bind"),
        "{e}"
    );
}

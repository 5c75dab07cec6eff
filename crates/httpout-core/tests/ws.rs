//! WebSockets (`httpout_core::ws`) on real sockets: Python's `websockets`
//! (text, binary, fragmented, 16 MiB messages, pings, close codes 4000,
//! 4001, 1007, 1009), RFC 8441 over h2c with hyper's client, graceful
//! shutdown (1001), the idle timeout in virtual time, and the `maxc`
//! place an upgraded connection keeps.

#[path = "support/ws.rs"]
mod ws_support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use http::{Request, StatusCode};
use httpout_core::ws::{CloseFrame, Config, Message, Upgrade};
use httpout_core::{Body, Ctx, Error, Shutdown};
use httpout_test::{bounded, start_with};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::tungstenite::protocol::Role;

use ws_support::{python, script};

/// Close frames the server's sockets ended with, by path.
type Seen = Arc<Mutex<Vec<(String, CloseFrame)>>>;

/// `/echo` echoes; `/close` says "bye" and closes with 4000; `/small`
/// echoes messages of at most 1 KiB. Each records how its socket closed.
fn handler(seen: Seen) -> impl httpout_core::Handler {
    move |mut req: Request<Body>, ctx: Ctx| {
        let seen = Arc::clone(&seen);
        async move {
            let path = ctx.path.to_string();
            let mut upgrade = Upgrade::new(&mut req)?;
            if path == "/small" {
                upgrade = upgrade.config(Config::default().max_message(1024));
            }
            Ok::<_, Error>(upgrade.on_socket(move |mut socket| async move {
                if path == "/close" {
                    socket.send(Message::text("bye")).await.unwrap();
                    socket.close(4000, "done");
                }
                while let Some(msg) = socket.recv().await {
                    if socket.send(msg).await.is_err() {
                        break;
                    }
                }
                let frame = socket.close_frame().expect("closed");
                seen.lock().unwrap().push((path, frame));
            }))
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_websockets_client_conformance() {
    let seen = Seen::default();
    let (running, addr) = start_with(httpout_test::config(), handler(Arc::clone(&seen))).await;
    let out = tokio::time::timeout(
        Duration::from_secs(120),
        tokio::process::Command::new(python())
            .args([&script(), "conformance", &format!("ws://{addr}")])
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("client timed out")
    .expect("python runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "client failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("conformance ok"), "{stdout}");
    // The server saw each close as the client or itself gave it.
    bounded(async {
        while seen.lock().unwrap().len() < 4 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    let seen = seen.lock().unwrap().clone();
    let code = |path: &str| {
        seen.iter()
            .filter(|(p, _)| p == path)
            .map(|(_, f)| f.code)
            .collect::<Vec<_>>()
    };
    assert!(
        seen.contains(&("/echo".into(), CloseFrame::new(4001, "client bye"))),
        "{seen:?}"
    );
    assert_eq!(code("/close"), [4000]);
    assert_eq!(code("/small"), [1009]);
    assert!(code("/echo").contains(&1007), "{seen:?}");
    running.handle().shutdown(Duration::from_secs(5)).await;
}

/// A WebSocket client over a fresh HTTP/1.1 connection to `path`.
async fn client(
    addr: std::net::SocketAddr,
    path: &str,
) -> tokio_tungstenite::WebSocketStream<TcpStream> {
    let tcp = TcpStream::connect(addr).await.unwrap();
    let (ws, res) = tokio_tungstenite::client_async(format!("ws://{addr}{path}"), tcp)
        .await
        .expect("handshake");
    assert_eq!(res.status(), StatusCode::SWITCHING_PROTOCOLS);
    ws
}

#[tokio::test]
async fn rfc_8441_websocket_over_h2c_beside_other_streams() {
    let seen = Seen::default();
    let (running, addr) = start_with(httpout_test::config(), handler(seen)).await;
    let tcp = TcpStream::connect(addr).await.unwrap();
    let mut h2 = httpout_test::h2(tcp).await;
    // A first request: the server's SETTINGS (ENABLE_CONNECT_PROTOCOL)
    // have arrived once it is answered.
    let res = bounded(h2.send_request(httpout_test::get("/plain")))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UPGRADE_REQUIRED);
    assert_eq!(res.headers()["sec-websocket-version"], "13");
    let mut req = Request::builder()
        .method("CONNECT")
        .uri(format!("http://{addr}/echo"))
        .header("sec-websocket-version", "13")
        .body(http_body_util::Empty::new())
        .unwrap();
    req.extensions_mut()
        .insert(hyper::ext::Protocol::from_static("websocket"));
    let res = bounded(h2.send_request(req)).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let upgraded = bounded(hyper::upgrade::on(res)).await.unwrap();
    let mut ws = tokio_tungstenite::WebSocketStream::from_raw_socket(
        hyper_util::rt::TokioIo::new(upgraded),
        Role::Client,
        None,
    )
    .await;
    for n in 0..3 {
        let text = format!("over h2 {n}");
        bounded(ws.send(WsMessage::text(text.clone())))
            .await
            .unwrap();
        let echoed = bounded(ws.next()).await.unwrap().unwrap();
        assert_eq!(echoed.into_text().unwrap().as_str(), text);
        // The connection's other streams go on beside the socket.
        let res = bounded(h2.send_request(httpout_test::get("/plain")))
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::UPGRADE_REQUIRED);
    }
    bounded(ws.close(None)).await.unwrap();
    assert_eq!(
        running.handle().shutdown(Duration::from_secs(5)).await,
        Shutdown::Graceful
    );
}

#[tokio::test]
async fn graceful_shutdown_closes_sockets_with_1001() {
    let (running, addr) = start_with(httpout_test::config(), handler(Seen::default())).await;
    let mut a = client(addr, "/echo").await;
    let mut b = client(addr, "/echo").await;
    bounded(a.send(WsMessage::text("hi"))).await.unwrap();
    assert_eq!(
        bounded(a.next()).await.unwrap().unwrap(),
        WsMessage::text("hi")
    );
    let handle = running.handle();
    let shutdown = tokio::spawn(async move { handle.shutdown(Duration::from_secs(8)).await });
    for ws in [&mut a, &mut b] {
        match bounded(ws.next()).await.unwrap().unwrap() {
            WsMessage::Close(Some(frame)) => {
                assert_eq!(u16::from(frame.code), 1001);
            }
            other => panic!("expected a close, got {other:?}"),
        }
        // The client's answer ends the handshake; the server closes.
        while bounded(ws.next()).await.is_some() {}
    }
    assert_eq!(bounded(shutdown).await.unwrap(), Shutdown::Graceful);
}

#[tokio::test]
async fn an_upgraded_connection_keeps_its_maxc_place() {
    let mut config = httpout_test::config();
    config.maxc = 1;
    let (running, addr) = start_with(config, handler(Seen::default())).await;
    let mut ws = client(addr, "/echo").await;
    // The only place is the socket's: a second connection is refused.
    let refused = httpout_test::raw(
        addr,
        b"GET /x HTTP/1.1\r\nhost: a\r\nconnection: close\r\n\r\n",
    )
    .await;
    assert!(refused.starts_with("HTTP/1.1 503"), "{refused}");
    bounded(ws.send(WsMessage::text("still here")))
        .await
        .unwrap();
    assert_eq!(
        bounded(ws.next()).await.unwrap().unwrap(),
        WsMessage::text("still here")
    );
    bounded(ws.close(None)).await.unwrap();
    while bounded(ws.next()).await.is_some() {}
    // Freed once the socket is gone.
    bounded(async {
        loop {
            let answer = httpout_test::raw(
                addr,
                b"GET /x HTTP/1.1\r\nhost: a\r\nconnection: close\r\n\r\n",
            )
            .await;
            if answer.starts_with("HTTP/1.1 426") {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    running.handle().shutdown(Duration::from_secs(5)).await;
}

/// In virtual time: a socket whose client is silent gets a ping at half
/// the timeout; one that answers pings stays, one that does not is closed
/// with 1001 at the timeout.
#[tokio::test(start_paused = true)]
async fn an_idle_socket_is_pinged_then_closed_at_the_timeout() {
    const TIMEOUT: Duration = Duration::from_secs(30);
    let mut config = httpout_test::config();
    config.timeout = Some(TIMEOUT);
    let (running, addr) = start_with(config, handler(Seen::default())).await;
    let mut silent = client(addr, "/echo").await;
    let mut alive = client(addr, "/echo").await;
    let start = tokio::time::Instant::now();
    // The live client reads (tungstenite answers pings as it reads) for
    // three timeouts.
    let reader = tokio::spawn(async move {
        let mut pings = 0;
        let end = start + TIMEOUT * 3;
        while let Ok(Some(Ok(msg))) = tokio::time::timeout_at(end, alive.next()).await {
            if msg.is_ping() {
                pings += 1;
            }
        }
        (pings, alive)
    });
    // The silent one reads nothing until well past the timeout.
    tokio::time::sleep(TIMEOUT * 2).await;
    let mut got = Vec::new();
    while let Some(Ok(msg)) = silent.next().await {
        got.push(msg);
    }
    assert!(got.first().is_some_and(WsMessage::is_ping), "{got:?}");
    match got.last() {
        Some(WsMessage::Close(Some(f))) => {
            assert_eq!(u16::from(f.code), 1001);
            assert_eq!(f.reason.as_str(), "idle");
        }
        other => panic!("expected a close, got {other:?}"),
    }
    let (pings, mut alive) = reader.await.unwrap();
    assert!(start.elapsed() >= TIMEOUT * 3);
    assert!(pings >= 4, "{pings} pings in three timeouts");
    // Still open after three timeouts.
    alive.send(WsMessage::text("still")).await.unwrap();
    let echoed = loop {
        match alive.next().await.unwrap().unwrap() {
            WsMessage::Text(t) => break t,
            _ => continue,
        }
    };
    assert_eq!(echoed.as_str(), "still");
    drop(running);
}

#[tokio::test]
async fn a_plain_request_to_a_websocket_is_426() {
    let (running, addr) = start_with(httpout_test::config(), handler(Seen::default())).await;
    let answer = httpout_test::raw(
        addr,
        b"GET /echo HTTP/1.1\r\nhost: a\r\nconnection: close\r\n\r\n",
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 426"), "{answer}");
    assert!(
        answer
            .to_ascii_lowercase()
            .contains("sec-websocket-version: 13"),
        "{answer}"
    );
    let answer = httpout_test::raw(
        addr,
        b"GET /echo HTTP/1.1\r\nhost: a\r\nupgrade: websocket\r\nconnection: upgrade, close\r\nsec-websocket-version: 13\r\n\r\n",
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    running.handle().shutdown(Duration::from_secs(5)).await;
}

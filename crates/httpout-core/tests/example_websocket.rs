//! `examples/websocket.rs`, served as it is: its echo, and its clock's
//! thread broadcasting to several sockets at once.

#[path = "../examples/websocket.rs"]
mod example;

use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use httpout_test::{bounded, start_with};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message as WsMessage;

async fn client(
    addr: std::net::SocketAddr,
    path: &str,
) -> tokio_tungstenite::WebSocketStream<TcpStream> {
    let tcp = TcpStream::connect(addr).await.unwrap();
    tokio_tungstenite::client_async(format!("ws://{addr}{path}"), tcp)
        .await
        .expect("handshake")
        .0
}

/// The next text message's number (`tick N`).
async fn tick(ws: &mut tokio_tungstenite::WebSocketStream<TcpStream>) -> u64 {
    loop {
        match bounded(ws.next()).await.unwrap().unwrap() {
            WsMessage::Text(t) => {
                return t.strip_prefix("tick ").unwrap().parse().unwrap();
            }
            _ => continue,
        }
    }
}

#[tokio::test]
async fn echo_and_a_broadcast_from_a_plain_thread() {
    let hub = Arc::new(example::Hub::default());
    let (running, addr) = start_with(httpout_test::config(), example::app(Arc::clone(&hub))).await;
    let mut echo = client(addr, "/echo").await;
    bounded(echo.send(WsMessage::binary(vec![1, 2, 3])))
        .await
        .unwrap();
    assert_eq!(
        bounded(echo.next()).await.unwrap().unwrap(),
        WsMessage::binary(vec![1, 2, 3])
    );

    let mut a = client(addr, "/clock").await;
    let mut b = client(addr, "/clock").await;
    example::start_clock(Arc::clone(&hub), Duration::from_millis(50));
    // Both get the same ticks, in order.
    let first_a = tick(&mut a).await;
    let first_b = tick(&mut b).await;
    let (next_a, next_b) = (tick(&mut a).await, tick(&mut b).await);
    assert_eq!(next_a, first_a + 1);
    assert_eq!(next_b, first_b + 1);
    // A socket that goes is forgotten; the other still ticks.
    bounded(a.close(None)).await.unwrap();
    let later = tick(&mut b).await;
    assert!(later > next_b);
    bounded(async {
        while hub.len() > 1 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    drop((b, echo));
    running.handle().shutdown(Duration::from_secs(5)).await;
}

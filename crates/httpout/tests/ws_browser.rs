//! Chromium's WebSocket (Debian's headless Chromium, `support/browser.rs`)
//! against a server built on httpout-core: the page `web/ws.html`, served
//! by the server under test, sends text, binary and 16 MiB messages to an
//! echo, gets three messages pushed from a plain server thread, sees the
//! server's close code, and PUTs its results back as JSON.

mod support;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use http::{Method, Request, Response};
use http_body_util::BodyExt;
use httpout_core::ws::{CloseFrame, Message, Upgrade};
use httpout_core::{Body, Ctx, Error, Server, ServerConfig};
use serde_json::Value;

use support::browser::Chromium;

/// What the page reported, and how the server's sockets closed.
#[derive(Default)]
struct Seen {
    report: Mutex<Option<Value>>,
    closes: Mutex<Vec<CloseFrame>>,
}

async fn handle(
    mut req: Request<Body>,
    ctx: Ctx,
    seen: Arc<Seen>,
) -> Result<Response<Body>, Error> {
    let path = ctx.path.to_string();
    match (req.method().clone(), path.as_str()) {
        (Method::GET, "/ws.html") => {
            let page = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/web/ws.html"))?;
            let mut res = Response::new(Body::full(page));
            res.headers_mut()
                .insert("content-type", "text/html; charset=utf-8".parse().unwrap());
            Ok(res)
        }
        (Method::PUT, "/report") => {
            let body = req.into_body().collect().await.map_err(Error::Internal)?;
            let value = serde_json::from_slice(&body.to_bytes())
                .map_err(|e| Error::bad_request(e.to_string()))?;
            *seen.report.lock().unwrap() = Some(value);
            Ok(Response::new(Body::empty()))
        }
        (_, "/echo" | "/pushed" | "/close") => {
            let upgrade = Upgrade::new(&mut req)?;
            Ok(upgrade.on_socket(move |mut socket| async move {
                match path.as_str() {
                    "/pushed" => {
                        let sender = socket.sender();
                        std::thread::spawn(move || {
                            for n in 0..3 {
                                let _ = sender.send(Message::text(format!("from a thread {n}")));
                            }
                        });
                    }
                    "/close" => {
                        let _ = socket.send(Message::text("bye")).await;
                        socket.close(4000, "done");
                    }
                    _ => {}
                }
                while let Some(msg) = socket.recv().await {
                    if path == "/echo" && socket.send(msg).await.is_err() {
                        break;
                    }
                }
                if let Some(frame) = socket.close_frame() {
                    seen.closes.lock().unwrap().push(frame);
                }
            }))
        }
        _ => Err(Error::NotFound),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_websocket_text_binary_16mib_pushed_and_close_codes() {
    let seen = Arc::new(Seen::default());
    let server = Server::bind(ServerConfig::default()).await.unwrap();
    let addr = server.local_addrs()[0].tcp_addr().unwrap();
    let handler_seen = Arc::clone(&seen);
    let running = server.serve(move |req, ctx| handle(req, ctx, Arc::clone(&handler_seen)));
    let dir = tempfile::tempdir().unwrap();
    let chromium = Chromium::start(
        &format!("http://{addr}/ws.html"),
        &dir.path().join("chromium.log"),
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    let report = loop {
        if let Some(report) = seen.report.lock().unwrap().clone() {
            break report;
        }
        assert!(
            Instant::now() < deadline,
            "no report within 60 s; chromium's log:\n{}",
            chromium.log_tail()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    drop(chromium);
    assert_eq!(report["errors"], serde_json::json!([]), "{report}");
    assert_eq!(report["text"], true, "{report}");
    assert_eq!(report["binary"], true, "{report}");
    assert_eq!(report["big"], true, "16 MiB echo: {report}");
    assert_eq!(report["echoClose"]["code"], 4001, "{report}");
    assert_eq!(
        report["pushed"],
        serde_json::json!(["from a thread 0", "from a thread 1", "from a thread 2"])
    );
    assert_eq!(report["serverSaid"], "bye");
    assert_eq!(report["serverClose"]["code"], 4000, "{report}");
    assert_eq!(report["serverClose"]["reason"], "done");
    assert!(
        seen.closes
            .lock()
            .unwrap()
            .contains(&CloseFrame::new(4001, "page bye")),
        "the server saw the page's close"
    );
    running.handle().shutdown(Duration::from_secs(5)).await;
}

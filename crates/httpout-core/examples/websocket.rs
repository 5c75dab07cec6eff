//! WebSockets with httpout-core: `/echo` sends back what it gets, and
//! `/clock` joins a broadcast that a plain thread (no runtime) sends to
//! every socket once a second, as phttp's "send from another thread".
//!
//! ```sh
//! cargo run -p httpout-core --example websocket
//! # then, in a browser's console:
//! #   ws = new WebSocket('ws://127.0.0.1:8080/clock'); ws.onmessage = e => console.log(e.data)
//! ```
//!
//! `tests/example_websocket.rs` serves this same handler and checks both.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use http::{Request, Response};
use httpout_core::ws::{Message, Sender, Upgrade};
use httpout_core::{Body, Ctx, Error, Handler, ListenSpec, Server, ServerConfig};

/// The sockets that listen to the clock.
#[derive(Debug, Default)]
pub(crate) struct Hub {
    sockets: Mutex<Vec<Sender>>,
}

impl Hub {
    /// Sends `msg` to every socket; forgets those that are closed (or that
    /// read too slowly: their send queue overflowed, they close with 1008).
    pub(crate) fn broadcast(&self, msg: &Message) {
        let mut sockets = self.sockets.lock().unwrap();
        sockets.retain(|socket| socket.send(msg.clone()).is_ok());
    }

    /// How many sockets listen.
    #[allow(dead_code)] // for the test
    pub(crate) fn len(&self) -> usize {
        self.sockets.lock().unwrap().len()
    }

    fn join(&self, sender: Sender) {
        self.sockets.lock().unwrap().push(sender);
    }
}

/// The handler: `/echo` and `/clock`, anything else 404.
pub(crate) fn app(hub: Arc<Hub>) -> impl Handler {
    move |mut req: Request<Body>, ctx: Ctx| {
        let hub = Arc::clone(&hub);
        async move {
            let path = ctx.path.to_string();
            if path != "/echo" && path != "/clock" {
                return Err(Error::NotFound);
            }
            let upgrade = Upgrade::new(&mut req)?;
            Ok::<Response<Body>, Error>(upgrade.on_socket(move |mut socket| async move {
                if path == "/clock" {
                    hub.join(socket.sender());
                    // The clock's thread sends; this task waits for the
                    // client to go (what it sends is ignored).
                    while socket.recv().await.is_some() {}
                    return;
                }
                while let Some(msg) = socket.recv().await {
                    if socket.send(msg).await.is_err() {
                        break;
                    }
                }
            }))
        }
    }
}

/// A plain thread that broadcasts `tick N` every `period`, until the hub
/// is its alone (the server is gone).
pub(crate) fn start_clock(hub: Arc<Hub>, period: Duration) {
    std::thread::spawn(move || {
        for n in 0u64.. {
            std::thread::sleep(period);
            if Arc::strong_count(&hub) == 1 {
                return;
            }
            hub.broadcast(&Message::text(format!("tick {n}")));
        }
    });
}

#[allow(dead_code)] // the test includes this file and runs its own server
#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let config = ServerConfig {
        listeners: vec![ListenSpec::Http(([127, 0, 0, 1], 8080).into())],
        ..ServerConfig::default()
    };
    let hub = Arc::new(Hub::default());
    start_clock(Arc::clone(&hub), Duration::from_secs(1));
    let server = Server::bind(config).await?;
    println!("ws://{}/echo and /clock", server.local_addrs()[0]);
    let running = server.serve(app(hub));
    tokio::signal::ctrl_c().await?;
    // Sockets are closed with 1001 (going away).
    running.handle().shutdown(Duration::from_secs(5)).await;
    Ok(())
}

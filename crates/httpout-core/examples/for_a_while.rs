//! A server for a while, on the first free port: `cargo run -p
//! httpout-core --example for_a_while [START [SECONDS]]` listens on
//! 127.0.0.1 from port START up (default 8000; Net::HTTPServer's
//! `port => "scan"`), prints `listening on URL`, serves for SECONDS
//! (default 5; Net::HTTPServer's `Process(5)`), lets requests in flight
//! finish and prints how it ended. `/slow` answers after SECONDS (so it
//! is still in flight when the time is up); responses say `Server: httpout/VERSION for_a_while/1`.

use std::time::Duration;

use httpout_core::http::{Request, Response};
use httpout_core::{Body, Ctx, Error, ListenSpec, Server, ServerConfig, ServerTokens};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let start: u16 = args.next().map_or(Ok(8000), |a| a.parse())?;
    let seconds: u64 = args.next().map_or(Ok(5), |a| a.parse())?;
    let config = ServerConfig {
        listeners: vec![ListenSpec::Http(([127, 0, 0, 1], start).into())],
        port_scan: true,
        server_tokens: ServerTokens::with(&["for_a_while/1"])?,
        ..ServerConfig::default()
    };
    let server = Server::bind(config).await?;
    println!("listening on {}", server.local_addrs()[0]);
    let running = server.serve(move |_req: Request<Body>, ctx: Ctx| async move {
        if ctx.path.to_string() == "/slow" {
            tokio::time::sleep(Duration::from_secs(seconds)).await;
        }
        Ok::<_, Error>(Response::new(Body::full(format!("{}\n", ctx.path))))
    });
    let ended = running.run_for(Duration::from_secs(seconds)).await;
    println!("stopped: {ended:?}");
    Ok(())
}

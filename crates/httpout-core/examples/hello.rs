//! A hello server in one call: `cargo run -p httpout-core --example hello
//! [ADDR]` serves `Hello!` on ADDR (default `127.0.0.1:8080`) until Ctrl-C
//! or SIGTERM. No tokio in sight: [`httpout_core::serve`] builds the
//! runtime (phttp's `ListenAndRun`).

use httpout_core::http::{Request, Response};
use httpout_core::{Body, Ctx, Error};

fn main() -> Result<(), httpout_core::StartError> {
    let addr = std::env::args().nth(1).unwrap_or("127.0.0.1:8080".into());
    httpout_core::serve(addr.as_str(), |_req: Request<Body>, _ctx: Ctx| async {
        Ok::<_, Error>(Response::new(Body::full("Hello!\n")))
    })
}

//! A visit counter in a server-side session: Net::HTTPServer's `sessions`
//! and `datadir`, with httpout-core's [`Sessions`].
//!
//! ```text
//! cargo run -p httpout-core --example sessions [ADDRESS [DATA_DIR]]   # default 127.0.0.1:5000
//! curl -c jar -b jar http://127.0.0.1:5000/            # 1 visit(s)
//! curl -c jar -b jar http://127.0.0.1:5000/            # 2 visit(s)
//! curl -c jar -b jar -d name=larry http://127.0.0.1:5000/login
//! curl -c jar -b jar -X POST http://127.0.0.1:5000/logout
//! ```
//!
//! With a `DATA_DIR`, sessions survive a restart. Its tests
//! (`cargo test -p httpout-core --example sessions`) run it over a real
//! socket with curl's cookie jar.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use http::{Request, Response};
use httpout_core::form::{Fields, MAX_URLENCODED};
use httpout_core::router;
use httpout_core::session::{Session, SessionConfig, Sessions};
use httpout_core::{Body, Ctx, Error, ListenSpec, Router, Server, ServerConfig};

/// Counts this session's visits.
async fn visit(req: Request<Body>, _ctx: Ctx) -> Result<Response<Body>, Error> {
    let session = Session::of(&req)?;
    let visits = session.get::<u64>("visits").unwrap_or(0) + 1;
    session.insert("visits", visits)?;
    let name = session.user();
    let who = name.as_deref().unwrap_or("stranger");
    Ok(Response::new(Body::full(format!(
        "hello {who}: {visits} visit(s)\n"
    ))))
}

/// Signs in by name (a real program checks a password first): the session
/// is bound to the user, with a new id.
async fn login(req: Request<Body>, _ctx: Ctx) -> Result<Response<Body>, Error> {
    let session = Session::of(&req)?;
    let form = Fields::from_body(req, MAX_URLENCODED).await?;
    let name = form
        .get("name")
        .filter(|n| !n.is_empty())
        .ok_or_else(|| Error::bad_request("name= is missing"))?;
    session.sign_in(name); // a new id, and another user's data gone
    Ok(Response::new(Body::full(format!("signed in as {name}\n"))))
}

/// Ends the session.
async fn logout(req: Request<Body>, _ctx: Ctx) -> Result<Response<Body>, Error> {
    Session::of(&req)?.destroy();
    Ok(Response::new(Body::full("signed out\n")))
}

/// The routes, with sessions.
fn app(sessions: &Sessions) -> impl httpout_core::Handler {
    sessions.wrap(
        Router::new()
            .route("/", router::get(visit))
            .route("/login", router::post(login))
            .route("/logout", router::post(logout)),
    )
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let addr: SocketAddr = args.next().as_deref().unwrap_or("127.0.0.1:5000").parse()?;
    let config = SessionConfig::default();
    let sessions = match args.next().map(PathBuf::from) {
        Some(dir) => Sessions::in_dir(&dir, config)?,
        None => Sessions::in_memory(config),
    };
    let server_config = ServerConfig {
        listeners: vec![ListenSpec::Http(addr)],
        ..ServerConfig::default()
    };
    let server = Server::bind(server_config).await?;
    println!("listening on {}", server.local_addrs()[0]);
    let running = server.serve(app(&sessions));
    tokio::signal::ctrl_c().await?;
    running.handle().shutdown(Duration::from_secs(5)).await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use httpout_test::{bounded, config, curl, start_with};

    /// One curl request with the cookie jar `jar` and `args`: the body.
    async fn curl_jar(
        addr: SocketAddr,
        jar: &std::path::Path,
        args: &[&str],
        path: &str,
    ) -> String {
        let url = format!("http://{addr}{path}");
        let mut all = vec![
            "-c".as_ref(),
            jar.as_os_str(),
            "-b".as_ref(),
            jar.as_os_str(),
        ];
        all.extend(args.iter().map(std::ffi::OsStr::new));
        all.push(url.as_ref());
        curl(all).await
    }

    #[tokio::test]
    async fn counts_visits_signs_in_and_out_across_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let (data, jar) = (dir.path().join("data"), dir.path().join("jar"));
        let sessions = Sessions::in_dir(&data, SessionConfig::default()).unwrap();
        let (server, addr) = start_with(config(), app(&sessions)).await;
        assert_eq!(
            curl_jar(addr, &jar, &[], "/").await,
            "hello stranger: 1 visit(s)\n"
        );
        assert_eq!(
            curl_jar(addr, &jar, &[], "/").await,
            "hello stranger: 2 visit(s)\n"
        );
        let before = std::fs::read_to_string(&jar).unwrap();
        let said = curl_jar(addr, &jar, &["-d", "name=larry"], "/login").await;
        assert_eq!(said, "signed in as larry\n");
        assert_ne!(std::fs::read_to_string(&jar).unwrap(), before, "a new id");
        bounded(server.handle().shutdown(Duration::from_secs(1))).await;
        let sessions = Sessions::in_dir(&data, SessionConfig::default()).unwrap();
        let (_server, addr) = start_with(config(), app(&sessions)).await;
        assert_eq!(
            curl_jar(addr, &jar, &[], "/").await,
            "hello larry: 3 visit(s)\n"
        );
        let said = curl_jar(addr, &jar, &["-X", "POST"], "/logout").await;
        assert_eq!(said, "signed out\n");
        assert_eq!(
            curl_jar(addr, &jar, &[], "/").await,
            "hello stranger: 1 visit(s)\n"
        );
        // A new client's first request is the sign-in.
        let new = dir.path().join("new jar");
        let said = curl_jar(addr, &new, &["-d", "name=moe"], "/login").await;
        assert_eq!(said, "signed in as moe\n");
        assert_eq!(
            curl_jar(addr, &new, &[], "/").await,
            "hello moe: 1 visit(s)\n"
        );
    }
}

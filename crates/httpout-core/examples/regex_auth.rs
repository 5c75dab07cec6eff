//! Net::HTTPServer's `RegisterURL`, `RegisterRegex` and `RegisterAuth`
//! examples, with httpout-core's [`Router`].
//!
//! ```text
//! cargo run -p httpout-core --example regex_auth [ADDRESS]    # default 127.0.0.1:5000
//! curl 'http://127.0.0.1:5000/test?test=bing&test2=bong'
//! curl http://127.0.0.1:5000/today.news
//! curl -u larry:wall http://127.0.0.1:5000/foo/        # 200
//! curl -u dr_evil:1million http://127.0.0.1:5000/foo/  # 403
//! ```
//!
//! Its tests (`cargo test -p httpout-core --example regex_auth`) run it
//! over a real socket.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use http::{Request, Response, header::CONTENT_TYPE};
use httpout_core::auth::{Access, rules::Rules, users::Users};
use httpout_core::form::Fields;
use httpout_core::router::{self, Params};
use httpout_core::{Body, Ctx, Error, ListenSpec, Router, Server, ServerConfig};

/// `RegisterURL("/test", \&test)`: the query's fields, one a line.
async fn test(req: Request<Body>, _ctx: Ctx) -> Result<Response<Body>, Error> {
    let fields = Fields::from_query(&req)?;
    let mut page = String::from("<html><head><title>This is a test</title></head><body><pre>\n");
    for (name, value) in fields.iter() {
        page.push_str(&httpout_core::html::escape(&format!("{name} -> {value}\n")));
    }
    page.push_str("</pre></body></html>\n");
    let mut res = Response::new(Body::full(page));
    res.headers_mut().insert(
        CONTENT_TYPE,
        "text/html; charset=utf-8".parse().expect("valid"),
    );
    Ok(res)
}

/// `RegisterRegex(".*\.news$", \&news)`: the topic the path names.
async fn news(req: Request<Body>, ctx: Ctx) -> Result<Response<Body>, Error> {
    let topic = Params::of(&req).get("topic").unwrap_or_default().to_owned();
    Ok(Response::new(Body::full(format!(
        "news about {topic} ({})\n",
        ctx.path
    ))))
}

/// Pages under `/foo`: who signed in (`$env->{'REMOTE_USER'}`).
async fn foo(_req: Request<Body>, ctx: Ctx) -> Result<Response<Body>, Error> {
    let user = ctx.user.unwrap_or_default();
    Ok(Response::new(Body::full(format!(
        "hello {user}, this is {}\n",
        ctx.path
    ))))
}

/// `lookupPassword`: the users and their passwords (a real program loads
/// a users file written by `httpout users`: `Users::load`).
fn users() -> Users {
    let mut users = Users::default();
    for (name, password) in [("larry", "wall"), ("dr_evil", "1million")] {
        users
            .set_password(name, password)
            .expect("a valid user name");
    }
    users
}

/// The routes: `/test`, `*.news`, and `/foo` behind `RegisterAuth`'s
/// `testBasic` rule (dr_evil may not).
fn app() -> Router {
    let access = Arc::new(Access::new(Rules::default(), users(), None).expect("no rules"));
    Router::new()
        .route("/test", router::get(test))
        .regex(r"^/(?P<topic>[^/]+)\.news$", router::get(news))
        .mount("/foo", foo)
        .auth("/foo", access, |user, _path| user != "dr_evil")
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let addr: SocketAddr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:5000".to_owned())
        .parse()?;
    let config = ServerConfig {
        listeners: vec![ListenSpec::Http(addr)],
        ..ServerConfig::default()
    };
    let server = Server::bind(config).await?;
    println!("listening on {}", server.local_addrs()[0]);
    let running = server.serve(app());
    tokio::signal::ctrl_c().await?;
    running.handle().shutdown(Duration::from_secs(5)).await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use httpout_test::{bounded, config, get, h1, read, request, start_with};
    use tokio::net::TcpStream;

    #[tokio::test]
    async fn the_net_httpserver_examples_answer() {
        let (_server, addr) = start_with(config(), app()).await;
        let mut client = h1(TcpStream::connect(addr).await.unwrap()).await;
        let res = bounded(client.send_request(get("/test?test=bing&test2=bong"))).await;
        let (status, _, body) = read(res.unwrap()).await;
        assert_eq!(status, 200);
        assert!(
            body.contains("test -&gt; bing\ntest2 -&gt; bong\n"),
            "{body}"
        );
        let res = bounded(client.send_request(get("/today.news"))).await;
        let (status, _, body) = read(res.unwrap()).await;
        assert_eq!(
            (status.as_u16(), body.as_str()),
            (200, "news about today (/today.news)\n")
        );
        let res = bounded(client.send_request(request("POST", "/today.news", &[]))).await;
        let (status, headers, _) = read(res.unwrap()).await;
        assert_eq!(status, 405);
        assert_eq!(headers["allow"], "GET, HEAD, OPTIONS");
        let basic = |user: &str, pw: &str| {
            use base64::Engine as _;
            let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pw}"));
            format!("Basic {token}")
        };
        let asks = [
            (None, 401),
            (Some(basic("larry", "wall")), 200),
            (Some(basic("larry", "bad")), 401),
            (Some(basic("dr_evil", "1million")), 403),
        ];
        for (auth, want) in asks {
            let headers: Vec<(&str, &str)> =
                auth.iter().map(|a| ("authorization", a.as_str())).collect();
            let res = bounded(client.send_request(request("GET", "/foo/", &headers))).await;
            let (status, _, body) = read(res.unwrap()).await;
            assert_eq!(status.as_u16(), want, "{auth:?}: {body}");
            if want == 200 {
                assert_eq!(body, "hello larry, this is /\n");
            }
        }
    }
}

//! The Router over real sockets on 127.0.0.1: exact paths, patterns with
//! captures, regular expressions and prefixes in their documented order;
//! method routing with 405 and `Allow`; authorisation per prefix signed in
//! through the users file (Basic with hyper's client, Digest with curl).
//! HTTP/1.1 and HTTP/2. Every wait is bounded.

use std::sync::Arc;

use base64::Engine as _;
use http::{Request, Response, StatusCode};
use httpout_core::auth::{Access, rules::Rules, users::Users};
use httpout_core::router::{self, Params};
use httpout_core::{Body, Ctx, Error, Router};
use httpout_test::*;
use tokio::net::TcpStream;

/// Answers with the route's name, the path and mount it saw, its
/// captures and the signed-in user.
fn named(name: &'static str) -> impl httpout_core::Handler {
    move |req: Request<Body>, ctx: Ctx| async move {
        let params: Vec<String> = Params::of(&req)
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        let text = format!(
            "{name} {} {} [{}] {}",
            ctx.mount,
            ctx.path,
            params.join(","),
            ctx.user.as_deref().unwrap_or("-")
        );
        Ok::<_, Error>(Response::new(Body::full(text)))
    }
}

fn router() -> Router {
    Router::new()
        .mount("/", named("root"))
        .mount("/files", named("files"))
        .route("/files/index", router::get(named("exact")))
        .route(
            "/users/{id}",
            router::get(named("user")).put(named("put-user")),
        )
        .route("/{kind}/new", router::get(named("new")))
        .regex(r"^/(?P<topic>[^/]+)\.news$", named("news"))
}

#[tokio::test]
async fn routes_in_order_with_captures_over_h1_and_h2() {
    let (_server, addr) = start_with(config(), router()).await;
    let cases = [
        ("/files/index", "exact / /files/index [] -"),
        ("/files/other/x", "files /files /other/x [] -"),
        ("/users/42", "user / /users/42 [id=42] -"),
        ("/users/a%20b", "user / /users/a b [id=a b] -"),
        // A literal first beats a capture first.
        ("/users/new", "user / /users/new [id=new] -"),
        ("/posts/new", "new / /posts/new [kind=posts] -"),
        ("/sport.news", "news / /sport.news [topic=sport] -"),
        ("/a/sport.news", "root / /a/sport.news [] -"),
        ("/users/42/more", "root / /users/42/more [] -"),
    ];
    let mut one = h1(TcpStream::connect(addr).await.unwrap()).await;
    let mut two = h2(TcpStream::connect(addr).await.unwrap()).await;
    for (path, want) in cases {
        let (status, _, body) = read(bounded(one.send_request(get(path))).await.unwrap()).await;
        assert_eq!((status.as_u16(), body.as_str()), (200, want), "h1 {path}");
        let (status, _, body) = read(bounded(two.send_request(get(path))).await.unwrap()).await;
        assert_eq!((status.as_u16(), body.as_str()), (200, want), "h2 {path}");
    }
}

#[tokio::test]
async fn methods_route_and_others_get_405_with_allow() {
    let (_server, addr) = start_with(config(), router()).await;
    let mut one = h1(TcpStream::connect(addr).await.unwrap()).await;
    let res = bounded(one.send_request(request("PUT", "/users/7", &[])))
        .await
        .unwrap();
    let (status, _, body) = read(res).await;
    assert_eq!(
        (status.as_u16(), body.as_str()),
        (200, "put-user / /users/7 [id=7] -")
    );
    let res = bounded(one.send_request(request("DELETE", "/users/7", &[])))
        .await
        .unwrap();
    let (status, headers, _) = read(res).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(headers["allow"], "GET, PUT, HEAD, OPTIONS");
    let res = bounded(one.send_request(request("OPTIONS", "/users/7", &[])))
        .await
        .unwrap();
    let (status, headers, _) = read(res).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(headers["allow"], "GET, PUT, HEAD, OPTIONS");
    let res = bounded(one.send_request(request("HEAD", "/users/7", &[])))
        .await
        .unwrap();
    let (status, headers, body) = read(res).await;
    assert_eq!((status.as_u16(), body.as_str()), (200, ""));
    assert_eq!(headers["content-length"], "24");
    // An undefined method: 501.
    let res = bounded(one.send_request(request("BREW", "/users/7", &[])))
        .await
        .unwrap();
    assert_eq!(read(res).await.0, StatusCode::NOT_IMPLEMENTED);
    // The regex route took every method (a plain handler).
    let res = bounded(one.send_request(request("DELETE", "/x.news", &[])))
        .await
        .unwrap();
    assert_eq!(read(res).await.0, StatusCode::OK);
    // HTTP/2 the same.
    let mut two = h2(TcpStream::connect(addr).await.unwrap()).await;
    let res = bounded(two.send_request(request("POST", "/users/7", &[])))
        .await
        .unwrap();
    let (status, headers, _) = read(res).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(headers["allow"], "GET, PUT, HEAD, OPTIONS");
}

fn basic(user: &str, password: &str) -> String {
    let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    format!("Basic {token}")
}

/// Net::HTTPServer's RegisterAuth example: larry may, dr_evil may not
/// under /foo; under /foo/bar only larry's own pages.
fn protected() -> Router {
    let mut users = Users::default();
    users.set_password("larry", "wall").unwrap();
    users.set_password("dr_evil", "1million").unwrap();
    let access = Arc::new(Access::new(Rules::default(), users, None).unwrap());
    router()
        .route("/foo/page", named("page"))
        .auth("/foo", Arc::clone(&access), |user, _| user != "dr_evil")
        .auth("/foo/bar", access, |user, path| {
            path.segments().get(2).is_some_and(|s| s == user)
        })
}

#[tokio::test]
async fn auth_per_prefix_signs_in_through_the_users_file() {
    let (_server, addr) = start_with(config(), protected()).await;
    let mut one = h1(TcpStream::connect(addr).await.unwrap()).await;
    let mut ask = async |path: &str, auth: Option<String>| {
        let headers: Vec<(&str, &str)> =
            auth.iter().map(|a| ("authorization", a.as_str())).collect();
        read(
            bounded(one.send_request(request("GET", path, &headers)))
                .await
                .unwrap(),
        )
        .await
    };
    // No credentials: 401 with the challenges (Digest, then Basic).
    let (status, headers, _) = ask("/foo/page", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let challenges: Vec<&str> = headers
        .get_all("www-authenticate")
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect();
    assert!(challenges[0].starts_with("Digest "), "{challenges:?}");
    assert!(
        challenges.last().unwrap().starts_with("Basic "),
        "{challenges:?}"
    );
    // Even where no route is: a 404 is for signed-in users only.
    assert_eq!(ask("/foo/nothing", None).await.0, StatusCode::UNAUTHORIZED);
    let (status, _, body) = ask("/foo/page", Some(basic("larry", "wall"))).await;
    assert_eq!(
        (status.as_u16(), body.as_str()),
        (200, "page / /foo/page [] larry")
    );
    assert_eq!(
        ask("/foo/page", Some(basic("larry", "nope"))).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        ask("/foo/page", Some(basic("nobody", "x"))).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        ask("/foo/page", Some(basic("dr_evil", "1million"))).await.0,
        StatusCode::FORBIDDEN
    );
    // The longest prefix decides alone: dr_evil may have his own pages.
    let (status, _, body) = ask("/foo/bar/dr_evil/x", Some(basic("dr_evil", "1million"))).await;
    assert_eq!(
        (status.as_u16(), body.as_str()),
        (200, "root / /foo/bar/dr_evil/x [] dr_evil")
    );
    assert_eq!(
        ask("/foo/bar/dr_evil", Some(basic("larry", "wall")))
            .await
            .0,
        StatusCode::FORBIDDEN
    );
    // OPTIONS to a handler that answers every method is that handler's:
    // checked like any request, never answered anonymously.
    let mut two = h1(TcpStream::connect(addr).await.unwrap()).await;
    for path in ["/foo/page", "/foo/bar/x"] {
        let res = bounded(two.send_request(request("OPTIONS", path, &[])))
            .await
            .unwrap();
        assert_eq!(read(res).await.0, StatusCode::UNAUTHORIZED, "{path}");
    }
    // Whole segments: /food is not under /foo.
    let (status, _, body) = ask("/food", None).await;
    assert_eq!((status.as_u16(), body.as_str()), (200, "root / /food [] -"));
    assert_eq!(
        ask("/foo/nothing", Some(basic("larry", "wall"))).await.0,
        StatusCode::OK
    );
}

#[tokio::test]
async fn auth_per_prefix_over_h2_and_digest_with_curl() {
    let (_server, addr) = start_with(config(), protected()).await;
    let mut two = h2(TcpStream::connect(addr).await.unwrap()).await;
    let auth = basic("larry", "wall");
    let req = request("GET", "/foo/page", &[("authorization", auth.as_str())]);
    let (status, _, body) = read(bounded(two.send_request(req)).await.unwrap()).await;
    assert_eq!(
        (status.as_u16(), body.as_str()),
        (200, "page / /foo/page [] larry")
    );
    let curl = |user: &'static str, path: &'static str| async move {
        let url = format!("http://{addr}{path}");
        curl([
            "--digest",
            "-u",
            user,
            "-o",
            "-",
            "-w",
            "\n%{http_code}",
            &url,
        ])
        .await
    };
    assert_eq!(
        curl("larry:wall", "/foo/page").await,
        "page / /foo/page [] larry\n200"
    );
    assert!(
        curl("dr_evil:1million", "/foo/page")
            .await
            .ends_with("\n403")
    );
    assert!(curl("larry:bad", "/foo/page").await.ends_with("\n401"));
}

/// The engine's rules and a route's authorisation share one `Access`: the
/// user the rules signed in is the one the route's callback decides on.
#[tokio::test]
async fn engine_rules_and_route_auth_share_the_sign_in() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("rules.ini");
    std::fs::write(&file, "[nowhere]\nname=foo\nru=$ALL\n").unwrap();
    let mut rules = Rules::default();
    rules.load(&file).unwrap();
    let mut users = Users::default();
    users.set_password("larry", "wall").unwrap();
    users.set_password("dr_evil", "1million").unwrap();
    let access = Arc::new(Access::new(rules, users, None).unwrap());
    let app =
        router()
            .route("/foo/page", named("page"))
            .auth("/foo", Arc::clone(&access), |user, _| user != "dr_evil");
    let config = httpout_core::ServerConfig {
        access: Some(access),
        ..config()
    };
    let (_server, addr) = start_with(config, app).await;
    let mut one = h1(TcpStream::connect(addr).await.unwrap()).await;
    let res = bounded(one.send_request(get("/foo/page"))).await.unwrap();
    assert_eq!(read(res).await.0, StatusCode::UNAUTHORIZED);
    // The engine's rules check an OPTIONS its handler answers (a plain
    // handler: every method is its own), as they check a GET.
    let res = bounded(one.send_request(request("OPTIONS", "/foo/page", &[])))
        .await
        .unwrap();
    assert_eq!(read(res).await.0, StatusCode::UNAUTHORIZED);
    // One the engine answers from the methods a route lists passes
    // (a preflight has no credentials): the methods are not secret.
    let res = bounded(one.send_request(request("OPTIONS", "/users/7", &[])))
        .await
        .unwrap();
    let (status, headers, _) = read(res).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(headers["allow"], "GET, PUT, HEAD, OPTIONS");
    for (user, pw, want) in [("larry", "wall", 200), ("dr_evil", "1million", 403)] {
        let auth = basic(user, pw);
        let req = request("GET", "/foo/page", &[("authorization", auth.as_str())]);
        let (status, _, body) = read(bounded(one.send_request(req)).await.unwrap()).await;
        assert_eq!(status.as_u16(), want, "{user}: {body}");
    }
}

/// A route's sign-in is counted by the engine's failure limits: past
/// `USER_FAILURES` wrong passwords for a name from one address, 429.
#[tokio::test]
async fn route_sign_in_failures_are_limited() {
    let (_server, addr) = start_with(config(), protected()).await;
    let mut one = h1(TcpStream::connect(addr).await.unwrap()).await;
    let wrong = basic("larry", "guess");
    for _ in 0..httpout_core::auth::USER_FAILURES {
        let req = request("GET", "/foo/page", &[("authorization", wrong.as_str())]);
        let res = bounded(one.send_request(req)).await.unwrap();
        assert_eq!(read(res).await.0, StatusCode::UNAUTHORIZED);
    }
    let req = request("GET", "/foo/page", &[("authorization", wrong.as_str())]);
    let (status, headers, _) = read(bounded(one.send_request(req)).await.unwrap()).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(headers["retry-after"], "60");
}

//! Sessions over real sockets on 127.0.0.1: curl with a cookie jar
//! (`-c jar -b jar`) and hyper's HTTP/1.1 and HTTP/2 clients; the cookie's
//! attributes, expiry, destroy, rotation, the data directory across a
//! restart, and the bounds. Every wait is bounded.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use http::{HeaderMap, Request, Response, StatusCode};
use httpout_core::session::{Session, SessionConfig, Sessions};
use httpout_core::{Body, Ctx, Error, Router};
use httpout_test::*;
use tokio::net::TcpStream;

async fn count(req: Request<Body>, _ctx: Ctx) -> Result<Response<Body>, Error> {
    let session = Session::of(&req)?;
    let n = session.get::<u64>("count").unwrap_or(0) + 1;
    session.insert("count", n)?;
    Ok(Response::new(Body::full(n.to_string())))
}

async fn peek(req: Request<Body>, _ctx: Ctx) -> Result<Response<Body>, Error> {
    let session = Session::of(&req)?;
    let n = session.get::<u64>("count").unwrap_or(0);
    let user = session.get::<String>("user").unwrap_or_default();
    Ok(Response::new(Body::full(format!("{n} {user}"))))
}

async fn login(req: Request<Body>, _ctx: Ctx) -> Result<Response<Body>, Error> {
    let session = Session::of(&req)?;
    session.rotate();
    session.insert("user", "larry")?;
    Ok(Response::new(Body::full("in")))
}

async fn logout(req: Request<Body>, _ctx: Ctx) -> Result<Response<Body>, Error> {
    Session::of(&req)?.destroy();
    Ok(Response::new(Body::full("out")))
}

async fn big(req: Request<Body>, _ctx: Ctx) -> Result<Response<Body>, Error> {
    Session::of(&req)?.insert("big", "x".repeat(2000))?;
    Ok(Response::new(Body::full("stored")))
}

fn app(sessions: &Sessions) -> impl httpout_core::Handler {
    sessions.wrap(
        Router::new()
            .route("/count", count)
            .route("/peek", peek)
            .route("/login", login)
            .route("/logout", logout)
            .route("/big", big),
    )
}

/// One curl request with the cookie jar `jar`: the body.
async fn curl_jar(addr: SocketAddr, jar: &Path, path: &str) -> String {
    let jar = jar.as_os_str();
    let url = format!("http://{addr}{path}");
    curl(["-c".as_ref(), jar, "-b".as_ref(), jar, url.as_ref()]).await
}

/// The `Set-Cookie` value, if any.
fn set_cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get("set-cookie")
        .map(|v| v.to_str().unwrap().to_owned())
}

/// The `name=id` pair of a `Set-Cookie`.
fn pair(set_cookie: &str) -> String {
    set_cookie.split(';').next().unwrap().to_owned()
}

#[tokio::test]
async fn a_counter_with_curl_and_its_cookie_jar() {
    let sessions = Sessions::in_memory(SessionConfig::default());
    let (_server, addr) = start_with(config(), app(&sessions)).await;
    let dir = tempfile::tempdir().unwrap();
    let (jar, other) = (dir.path().join("jar"), dir.path().join("other"));
    for want in ["1", "2", "3"] {
        assert_eq!(curl_jar(addr, &jar, "/count").await, want);
    }
    // Another client, another session.
    assert_eq!(curl_jar(addr, &other, "/count").await, "1");
    assert_eq!(curl_jar(addr, &jar, "/peek").await, "3 ");
    // Destroyed: the jar loses the cookie, the count starts again.
    assert_eq!(curl_jar(addr, &jar, "/logout").await, "out");
    assert_eq!(curl_jar(addr, &jar, "/peek").await, "0 ");
    assert_eq!(curl_jar(addr, &jar, "/count").await, "1");
    assert_eq!(curl_jar(addr, &other, "/count").await, "2");
}

#[tokio::test]
async fn the_cookie_is_secure_httponly_lax_and_only_set_when_needed() {
    let sessions = Sessions::in_memory(SessionConfig::default());
    let (_server, addr) = start_with(config(), app(&sessions)).await;
    let mut one = h1(TcpStream::connect(addr).await.unwrap()).await;
    // Reading creates nothing.
    let (status, headers, _) = read(bounded(one.send_request(get("/peek"))).await.unwrap()).await;
    assert_eq!((status, set_cookie(&headers)), (StatusCode::OK, None));
    let (_, headers, _) = read(bounded(one.send_request(get("/count"))).await.unwrap()).await;
    let cookie = set_cookie(&headers).expect("a new session sets its cookie");
    let (name, id) = pair(&cookie)
        .split_once('=')
        .map(|(a, b)| (a.to_owned(), b.to_owned()))
        .unwrap();
    assert_eq!(name, "httpout_session");
    assert_eq!(id.len(), 64, "256 bits in hex: {id}");
    assert!(id.bytes().all(|b| b.is_ascii_hexdigit()));
    assert_eq!(
        &cookie[name.len() + 1 + 64..],
        "; Path=/; HttpOnly; SameSite=Lax; Secure"
    );
    assert_eq!(headers["cache-control"], "no-store");
    // Presented again (over HTTP/2 this time): no new cookie.
    let mut two = h2(TcpStream::connect(addr).await.unwrap()).await;
    let jar = pair(&cookie);
    let req = request("GET", "/count", &[("cookie", jar.as_str())]);
    let (_, headers, body) = read(bounded(two.send_request(req)).await.unwrap()).await;
    assert_eq!((body.as_str(), set_cookie(&headers)), ("2", None));
    // An unknown or malformed id is a new session.
    let forged = format!("httpout_session={}", "0".repeat(64));
    for bad in [forged.as_str(), "httpout_session=../../etc/passwd"] {
        let req = request("GET", "/count", &[("cookie", bad)]);
        let (_, headers, body) = read(bounded(two.send_request(req)).await.unwrap()).await;
        assert_eq!(body, "1");
        assert_ne!(pair(&set_cookie(&headers).unwrap()), jar);
    }
    // Plain-HTTP development: no Secure.
    let insecure = Sessions::in_memory(SessionConfig {
        secure: false,
        ..SessionConfig::default()
    });
    let (_server, addr) = start_with(config(), app(&insecure)).await;
    let mut one = h1(TcpStream::connect(addr).await.unwrap()).await;
    let (_, headers, _) = read(bounded(one.send_request(get("/count"))).await.unwrap()).await;
    assert!(
        set_cookie(&headers)
            .unwrap()
            .ends_with("; HttpOnly; SameSite=Lax")
    );
}

#[tokio::test]
async fn signing_in_rotates_the_id_and_the_old_one_is_dead() {
    let sessions = Sessions::in_memory(SessionConfig::default());
    let (_server, addr) = start_with(config(), app(&sessions)).await;
    let mut one = h1(TcpStream::connect(addr).await.unwrap()).await;
    let (_, headers, _) = read(bounded(one.send_request(get("/count"))).await.unwrap()).await;
    let before = pair(&set_cookie(&headers).unwrap());
    let req = request("POST", "/login", &[("cookie", before.as_str())]);
    let (_, headers, _) = read(bounded(one.send_request(req)).await.unwrap()).await;
    let after = pair(&set_cookie(&headers).expect("a new id"));
    assert_ne!(before, after);
    // The data moved with the session.
    let req = request("GET", "/peek", &[("cookie", after.as_str())]);
    let (_, _, body) = read(bounded(one.send_request(req)).await.unwrap()).await;
    assert_eq!(body, "1 larry");
    // The old id opens nothing.
    let req = request("GET", "/peek", &[("cookie", before.as_str())]);
    let (_, _, body) = read(bounded(one.send_request(req)).await.unwrap()).await;
    assert_eq!(body, "0 ");
}

#[tokio::test]
async fn a_data_dir_keeps_sessions_across_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("sessions");
    let jar = dir.path().join("jar");
    let sessions = Sessions::in_dir(&data, SessionConfig::default()).unwrap();
    let (server, addr) = start_with(config(), app(&sessions)).await;
    assert_eq!(curl_jar(addr, &jar, "/count").await, "1");
    assert_eq!(curl_jar(addr, &jar, "/count").await, "2");
    bounded(server.handle().shutdown(Duration::from_secs(1))).await;
    drop(sessions);
    // One file, named for no id in the jar, and no temporary file left.
    let files: Vec<String> = std::fs::read_dir(&data)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    let jar_text = std::fs::read_to_string(&jar).unwrap();
    let id = jar_text.split_whitespace().last().unwrap();
    assert!(!files[0].contains(id) && files[0].ends_with(".json"));
    // A new program on another port, the same data dir.
    let sessions = Sessions::in_dir(&data, SessionConfig::default()).unwrap();
    let (_server, addr) = start_with(config(), app(&sessions)).await;
    assert_eq!(curl_jar(addr, &jar, "/count").await, "3");
    assert_eq!(curl_jar(addr, &jar, "/logout").await, "out");
    assert_eq!(std::fs::read_dir(&data).unwrap().count(), 0);
}

#[tokio::test]
async fn unused_sessions_expire() {
    let sessions = Sessions::in_memory(SessionConfig {
        ttl: Duration::from_secs(1),
        ..SessionConfig::default()
    });
    let (_server, addr) = start_with(config(), app(&sessions)).await;
    let dir = tempfile::tempdir().unwrap();
    let jar = dir.path().join("jar");
    assert_eq!(curl_jar(addr, &jar, "/count").await, "1");
    // Expiry is counted in whole seconds: past 2 s a 1 s session is gone.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(curl_jar(addr, &jar, "/count").await, "1");
}

#[tokio::test]
async fn bounded_in_number_and_in_size() {
    let sessions = Sessions::in_memory(SessionConfig {
        max_sessions: 2,
        max_size: 1000,
        ..SessionConfig::default()
    });
    let (_server, addr) = start_with(config(), app(&sessions)).await;
    let mut one = h1(TcpStream::connect(addr).await.unwrap()).await;
    let mut ids = Vec::new();
    for _ in 0..2 {
        let (_, headers, _) = read(bounded(one.send_request(get("/count"))).await.unwrap()).await;
        ids.push(pair(&set_cookie(&headers).unwrap()));
    }
    let (status, headers, _) = read(bounded(one.send_request(get("/count"))).await.unwrap()).await;
    assert_eq!(
        (status, set_cookie(&headers)),
        (StatusCode::SERVICE_UNAVAILABLE, None)
    );
    // Existing sessions go on; one too big is refused and left as it was.
    let req = request("GET", "/count", &[("cookie", ids[0].as_str())]);
    assert_eq!(
        read(bounded(one.send_request(req)).await.unwrap()).await.2,
        "2"
    );
    let req = request("GET", "/big", &[("cookie", ids[0].as_str())]);
    let (status, _, _) = read(bounded(one.send_request(req)).await.unwrap()).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    let req = request("GET", "/count", &[("cookie", ids[0].as_str())]);
    assert_eq!(
        read(bounded(one.send_request(req)).await.unwrap()).await.2,
        "3"
    );
}

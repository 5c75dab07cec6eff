//! Sessions over real sockets on 127.0.0.1: curl with a cookie jar
//! (`-c jar -b jar`) and hyper's HTTP/1.1 and HTTP/2 clients; the cookie's
//! attributes, expiry, destroy, rotation, the data directory across a
//! restart, sign-in through `Router::auth` and the engine's rules, and the
//! bounds. Every wait is bounded.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use http::{HeaderMap, Request, Response, StatusCode};
use httpout_core::auth::{Access, rules::Rules, users::Users};
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

/// A login form's handler that starts afresh: the old session destroyed,
/// a new one for curly.
async fn relogin(req: Request<Body>, _ctx: Ctx) -> Result<Response<Body>, Error> {
    let session = Session::of(&req)?;
    session.destroy();
    session.sign_in("curly");
    Ok(Response::new(Body::full("in")))
}

/// The user the session is signed in as.
async fn user(req: Request<Body>, _ctx: Ctx) -> Result<Response<Body>, Error> {
    let user = Session::of(&req)?.user().unwrap_or_default();
    Ok(Response::new(Body::full(user)))
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
            .route("/relogin", relogin)
            .route("/user", user)
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

/// `/count` on a new connection, with the cookie `pair` if any: the body
/// and the `Set-Cookie` pair, if any.
async fn count_with(addr: SocketAddr, pair_sent: Option<&str>) -> (String, Option<String>) {
    let mut one = h1(TcpStream::connect(addr).await.unwrap()).await;
    let headers: Vec<(&str, &str)> = pair_sent.iter().map(|p| ("cookie", *p)).collect();
    let req = request("GET", "/count", &headers);
    let (_, headers, body) = read(bounded(one.send_request(req)).await.unwrap()).await;
    (body, set_cookie(&headers).map(|c| pair(&c)))
}

/// In virtual time: the store counts on tokio's clock, so the test moves
/// it instead of sleeping.
#[tokio::test(start_paused = true)]
async fn unused_sessions_expire_and_each_use_renews_them() {
    let sessions = Sessions::in_memory(SessionConfig {
        ttl: Duration::from_secs(60),
        ..SessionConfig::default()
    });
    let (_server, addr) = start_with(config(), app(&sessions)).await;
    let (body, cookie) = count_with(addr, None).await;
    let cookie = cookie.expect("a new session");
    assert_eq!(body, "1");
    // Used every 50 s, a 60 s session lives on, 150 s in all.
    for want in ["2", "3", "4"] {
        tokio::time::advance(Duration::from_secs(50)).await;
        assert_eq!(count_with(addr, Some(&cookie)).await, (want.into(), None));
    }
    // Unused for 61 s it is gone: a new session, a new id.
    tokio::time::advance(Duration::from_secs(61)).await;
    let (body, new) = count_with(addr, Some(&cookie)).await;
    assert_eq!(body, "1");
    assert_ne!(new.expect("a new session"), cookie);
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

/// The session's user and count, the count one up.
async fn whoami(req: Request<Body>, ctx: Ctx) -> Result<Response<Body>, Error> {
    let session = Session::of(&req)?;
    let n = session.get::<u64>("count").unwrap_or(0) + 1;
    session.insert("count", n)?;
    let user = session.user().unwrap_or_default();
    let ctx_user = ctx.user.unwrap_or_default();
    Ok(Response::new(Body::full(format!("{user} {n} {ctx_user}"))))
}

fn users() -> Users {
    let mut users = Users::default();
    users.set_password("larry", "wall").unwrap();
    users.set_password("moe", "stooge").unwrap();
    users
}

/// The session id curl's jar holds.
fn jar_id(jar: &Path) -> String {
    let text = std::fs::read_to_string(jar).unwrap();
    let line = text
        .lines()
        .find(|l| l.contains("httpout_session"))
        .unwrap();
    line.split_whitespace().last().unwrap().to_owned()
}

/// curl with the jar and `args`: the status and the body.
async fn curl_as(addr: SocketAddr, jar: &Path, args: &[&str], path: &str) -> (u16, String) {
    let url = format!("http://{addr}{path}");
    let jar = jar.to_str().unwrap();
    let mut all = vec!["-c", jar, "-b", jar];
    all.extend(args);
    all.push(&url);
    curl_status(all).await
}

/// An anonymous session with a count, then larry signed in through
/// `/private/me`: the same data, now his, under a new id. The two ids.
async fn anonymous_then_larry(addr: SocketAddr, jar: &Path) -> (String, String) {
    assert_eq!(curl_as(addr, jar, &[], "/count").await, (200, "1".into()));
    let anonymous = jar_id(jar);
    let larry = ["-u", "larry:wall"];
    let got = curl_as(addr, jar, &larry, "/private/me").await;
    assert_eq!(got, (200, "larry 2 larry".into()));
    let signed_in = jar_id(jar);
    assert_ne!(signed_in, anonymous);
    (anonymous, signed_in)
}

#[tokio::test]
async fn route_auth_signs_the_session_in_with_a_new_id() {
    let access = Arc::new(Access::new(Rules::default(), users(), None).unwrap());
    let sessions = Sessions::in_memory(SessionConfig::default());
    let app = sessions.wrap(
        Router::new()
            .route("/count", count)
            .route("/peek", peek)
            .route("/private/me", whoami)
            .route("/private/peek", peek)
            .auth("/private", access, |_, _| true),
    );
    let (_server, addr) = start_with(config(), app).await;
    let dir = tempfile::tempdir().unwrap();
    let jar = dir.path().join("jar");
    // Signed in by the route's auth (Basic, then Digest): not renewed
    // again while it stays larry's.
    let (anonymous, signed_in) = anonymous_then_larry(addr, &jar).await;
    let digest = ["--digest", "-u", "larry:wall"];
    let got = curl_as(addr, &jar, &digest, "/private/me").await;
    assert_eq!(got, (200, "larry 3 larry".into()));
    assert_eq!(jar_id(&jar), signed_in);
    // The id someone may have planted before the sign-in opens nothing.
    let mut one = h1(TcpStream::connect(addr).await.unwrap()).await;
    let planted = format!("httpout_session={anonymous}");
    let req = request("GET", "/peek", &[("cookie", planted.as_str())]);
    assert_eq!(
        read(bounded(one.send_request(req)).await.unwrap()).await.2,
        "0 "
    );
    // A wrong password: 401, the session untouched.
    let wrong = ["-u", "larry:nope"];
    assert_eq!(curl_as(addr, &jar, &wrong, "/private/me").await.0, 401);
    assert_eq!(jar_id(&jar), signed_in);
    // Another user on the same browser: a new id, larry's data gone.
    let moe = ["-u", "moe:stooge"];
    let got = curl_as(addr, &jar, &moe, "/private/me").await;
    assert_eq!(got, (200, "moe 1 moe".into()));
    assert_ne!(jar_id(&jar), signed_in);
    let larrys = format!("httpout_session={signed_in}");
    let req = request("GET", "/peek", &[("cookie", larrys.as_str())]);
    assert_eq!(
        read(bounded(one.send_request(req)).await.unwrap()).await.2,
        "0 "
    );
    // Signed in with no cookie and nothing written: no session is made
    // (a client without a jar does not fill the store).
    let url = format!("http://{addr}/private/peek");
    let head = curl(["-s", "-o", "/dev/null", "-D", "-", "-u", "larry:wall", &url]).await;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(!head.to_ascii_lowercase().contains("set-cookie"), "{head}");
}

#[tokio::test]
async fn the_engines_rules_sign_the_session_in() {
    let dir = tempfile::tempdir().unwrap();
    let rules_file = dir.path().join("rules.ini");
    std::fs::write(&rules_file, "[nowhere]\nname=private\nru=$ALL\n").unwrap();
    let mut rules = Rules::default();
    rules.load(&rules_file).unwrap();
    let access = Arc::new(Access::new(rules, users(), None).unwrap());
    let sessions = Sessions::in_memory(SessionConfig::default());
    let app = sessions.wrap(
        Router::new()
            .route("/count", count)
            .route("/private/me", whoami),
    );
    let config = httpout_core::ServerConfig {
        access: Some(access),
        ..config()
    };
    let (_server, addr) = start_with(config, app).await;
    anonymous_then_larry(addr, &dir.path().join("jar")).await;
}

#[tokio::test]
async fn a_login_handler_signs_in_new_and_destroyed_sessions() {
    let sessions = Sessions::in_memory(SessionConfig::default());
    let (_server, addr) = start_with(config(), app(&sessions)).await;
    let mut one = h1(TcpStream::connect(addr).await.unwrap()).await;
    // A client with no session: signing in creates one.
    let (_, headers, _) = read(bounded(one.send_request(get("/relogin"))).await.unwrap()).await;
    let fresh = pair(&set_cookie(&headers).expect("a session made by the sign-in"));
    let req = request("GET", "/user", &[("cookie", fresh.as_str())]);
    assert_eq!(
        read(bounded(one.send_request(req)).await.unwrap()).await.2,
        "curly"
    );
    // A session with data, destroyed then signed in afresh: a new id, no
    // data, the old id dead.
    let (_, headers, _) = read(bounded(one.send_request(get("/count"))).await.unwrap()).await;
    let before = pair(&set_cookie(&headers).unwrap());
    let req = request("GET", "/relogin", &[("cookie", before.as_str())]);
    let (_, headers, _) = read(bounded(one.send_request(req)).await.unwrap()).await;
    let after = pair(&set_cookie(&headers).expect("a new id"));
    assert_ne!(after, before);
    for (id, want) in [(&after, "curly"), (&before, "")] {
        let req = request("GET", "/user", &[("cookie", id.as_str())]);
        assert_eq!(
            read(bounded(one.send_request(req)).await.unwrap()).await.2,
            want
        );
    }
    let req = request("GET", "/peek", &[("cookie", after.as_str())]);
    assert_eq!(
        read(bounded(one.send_request(req)).await.unwrap()).await.2,
        "0 "
    );
}

/// Under HTTP authentication a browser's first requests may run at once,
/// each presenting the same anonymous id: the first to end renews it, the
/// others' cookie-less answers leave the client with that one, and no
/// session is forked (the store, bounded at 2, has room for no fork).
#[tokio::test]
async fn parallel_first_sign_ins_renew_the_id_once() {
    let access = Arc::new(Access::new(Rules::default(), users(), None).unwrap());
    let sessions = Sessions::in_memory(SessionConfig {
        max_sessions: 2,
        ..SessionConfig::default()
    });
    // The eight requests all hold the session before any of them ends.
    let together = Arc::new(tokio::sync::Barrier::new(8));
    let at_once = move |req: Request<Body>, ctx: Ctx| {
        let together = Arc::clone(&together);
        async move {
            bounded(together.wait()).await;
            whoami(req, ctx).await
        }
    };
    let app = sessions.wrap(
        Router::new()
            .route("/count", count)
            .route("/private/me", whoami)
            .route("/private/at_once", at_once)
            .auth("/private", access, |_, _| true),
    );
    let (_server, addr) = start_with(config(), app).await;
    let mut one = h1(TcpStream::connect(addr).await.unwrap()).await;
    let (_, headers, _) = read(bounded(one.send_request(get("/count"))).await.unwrap()).await;
    let anonymous = pair(&set_cookie(&headers).unwrap());
    // The store full: one more anonymous session.
    let (_, headers, _) = read(bounded(one.send_request(get("/count"))).await.unwrap()).await;
    assert!(set_cookie(&headers).is_some());
    let auth = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode("larry:wall")
    );
    let mut two = h2(TcpStream::connect(addr).await.unwrap()).await;
    let asks = (0..8).map(|_| {
        let req = request(
            "GET",
            "/private/at_once",
            &[
                ("cookie", anonymous.as_str()),
                ("authorization", auth.as_str()),
            ],
        );
        let mut two = two.clone();
        async move { read(bounded(two.send_request(req)).await.unwrap()).await }
    });
    let answers = futures_util::future::join_all(asks).await;
    let renewed: Vec<String> = answers
        .iter()
        .filter_map(|(status, headers, _)| {
            assert_eq!(*status, StatusCode::OK);
            set_cookie(headers).map(|c| pair(&c))
        })
        .collect();
    assert_eq!(renewed.len(), 1, "one renewal: {renewed:?}");
    let req = request(
        "GET",
        "/private/me",
        &[
            ("cookie", renewed[0].as_str()),
            ("authorization", auth.as_str()),
        ],
    );
    let (status, headers, body) = read(bounded(two.send_request(req)).await.unwrap()).await;
    assert_eq!((status, set_cookie(&headers)), (StatusCode::OK, None));
    // The count went on from the anonymous one (1), plus one by the renewing
    // request and this one; the other requests' writes were dropped.
    assert_eq!(body, "larry 3 larry");
}

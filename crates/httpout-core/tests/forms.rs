//! Query strings and forms for handlers over real sockets on 127.0.0.1:
//! curl sends urlencoded and multipart bodies (HTTP/1.1, h2c, chunked),
//! and the bounds answer 413, the wrong type 415. Every wait is bounded.

use std::net::SocketAddr;

use http::{Request, Response};
use httpout_core::form::{Fields, Multipart, MultipartLimits};
use httpout_core::router;
use httpout_core::{Body, Ctx, Error, Router};
use httpout_test::*;
use tokio::net::TcpStream;

async fn search(req: Request<Body>, _ctx: Ctx) -> Result<Response<Body>, Error> {
    let q = Fields::from_query(&req)?;
    let tags: Vec<&str> = q.all("tag").collect();
    let text = format!("q={} tags={}", q.get("q").unwrap_or("-"), tags.join(","));
    Ok(Response::new(Body::full(text)))
}

async fn greet(req: Request<Body>, _ctx: Ctx) -> Result<Response<Body>, Error> {
    let form = Fields::from_body(req, 100).await?;
    let pairs: Vec<String> = form.iter().map(|(k, v)| format!("{k}={v}")).collect();
    Ok(Response::new(Body::full(pairs.join(";"))))
}

async fn upload(req: Request<Body>, _ctx: Ctx) -> Result<Response<Body>, Error> {
    let limits = MultipartLimits {
        max_body: 4096,
        max_part: 1024,
        ..MultipartLimits::default()
    };
    let mut form = Multipart::from_request(req, limits)?;
    let mut seen = Vec::new();
    while let Some(mut part) = form.next_part().await? {
        let name = part.name().unwrap_or("-").to_owned();
        let file = part.file_name().unwrap_or("-").to_owned();
        let mut len = 0;
        while let Some(chunk) = part.chunk().await? {
            len += chunk.len();
        }
        seen.push(format!("{name}:{file}:{len}"));
    }
    Ok(Response::new(Body::full(seen.join(" "))))
}

/// The names of the parts, their content left unread.
async fn names(req: Request<Body>, _ctx: Ctx) -> Result<Response<Body>, Error> {
    let mut form = Multipart::from_request(req, MultipartLimits::default())?;
    let mut names = Vec::new();
    while let Some(part) = form.next_part().await? {
        names.push(part.name().unwrap_or("-").to_owned());
    }
    Ok(Response::new(Body::full(names.join(","))))
}

fn app() -> Router {
    Router::new()
        .route("/search", router::get(search))
        .route("/greet", router::post(greet))
        .route("/upload", router::post(upload))
        .route("/names", router::post(names))
}

/// One curl request with `args`: the status and the body.
async fn curl_at(addr: SocketAddr, path: &str, args: &[&str]) -> (u16, String) {
    let url = format!("http://{addr}{path}");
    curl_status(args.iter().copied().chain([url.as_str()])).await
}

#[tokio::test]
async fn query_strings_decoded_over_h1_and_h2() {
    let (_server, addr) = start_with(config(), app()).await;
    let path = "/search?q=red+fox%21&tag=a&tag=b%26c&empty";
    let want = "q=red fox! tags=a,b&c";
    let mut one = h1(TcpStream::connect(addr).await.unwrap()).await;
    let (status, _, body) = read(bounded(one.send_request(get(path))).await.unwrap()).await;
    assert_eq!((status.as_u16(), body.as_str()), (200, want));
    let mut two = h2(TcpStream::connect(addr).await.unwrap()).await;
    let (status, _, body) = read(bounded(two.send_request(get(path))).await.unwrap()).await;
    assert_eq!((status.as_u16(), body.as_str()), (200, want));
    // Not UTF-8 once decoded: 400.
    let bad = get("/search?q=%ff");
    assert_eq!(
        read(bounded(one.send_request(bad)).await.unwrap()).await.0,
        400
    );
}

#[tokio::test]
async fn urlencoded_bodies_bounded_and_typed() {
    let (_server, addr) = start_with(config(), app()).await;
    let got = curl_at(
        addr,
        "/greet",
        &[
            "-d",
            "name=Ann+Lee",
            "--data-urlencode",
            "note=1+1=2 & more",
        ],
    )
    .await;
    assert_eq!(got, (200, "name=Ann Lee;note=1+1=2 & more".to_owned()));
    let got = curl_at(
        addr,
        "/greet",
        &["--http2-prior-knowledge", "-d", "a=%C3%A9"],
    )
    .await;
    assert_eq!(got, (200, "a=é".to_owned()));
    let long = format!("x={}", "y".repeat(200));
    // Over the limit, told by Content-Length, then found while reading a
    // chunked body.
    assert_eq!(curl_at(addr, "/greet", &["-d", &long]).await.0, 413);
    let chunked = ["-H", "transfer-encoding: chunked", "-d", &long];
    assert_eq!(curl_at(addr, "/greet", &chunked).await.0, 413);
    let json = ["-H", "content-type: application/json", "-d", "{}"];
    let (status, body) = curl_at(addr, "/greet", &json).await;
    assert_eq!(
        (status, body.as_str()),
        (
            415,
            "expected a body of type application/x-www-form-urlencoded\n"
        )
    );
}

#[tokio::test]
async fn multipart_forms_streamed_and_bounded() {
    let (_server, addr) = start_with(config(), app()).await;
    let dir = tempfile::tempdir().unwrap();
    let small = dir.path().join("small.bin");
    std::fs::write(&small, vec![7u8; 1000]).unwrap();
    let large = dir.path().join("large.bin");
    std::fs::write(&large, vec![7u8; 1025]).unwrap();
    let file = format!("file=@{}", small.display());
    let got = curl_at(addr, "/upload", &["-F", "title=hello", "-F", &file]).await;
    assert_eq!(got, (200, "title:-:5 file:small.bin:1000".to_owned()));
    let got = curl_at(addr, "/upload", &["--http2-prior-knowledge", "-F", &file]).await;
    assert_eq!(got, (200, "file:small.bin:1000".to_owned()));
    // One part over its bound; a body over the whole bound (five parts of
    // 1000 bytes, sent chunked so that only reading finds it).
    let big = format!("file=@{}", large.display());
    assert_eq!(curl_at(addr, "/upload", &["-F", &big]).await.0, 413);
    let mut many = vec!["-H", "transfer-encoding: chunked"];
    for _ in 0..5 {
        many.extend(["-F", file.as_str()]);
    }
    assert_eq!(curl_at(addr, "/upload", &many).await.0, 413);
    let no_boundary = ["-H", "content-type: multipart/form-data", "-d", "x"];
    assert_eq!(curl_at(addr, "/upload", &no_boundary).await.0, 400);
    assert_eq!(curl_at(addr, "/upload", &["-d", "a=b"]).await.0, 415);
}

#[tokio::test]
async fn multipart_heads_bounded_and_unread_parts_skipped() {
    let (_server, addr) = start_with(config(), app()).await;
    let dir = tempfile::tempdir().unwrap();
    // A first part of 1 MiB the handler never reads, well over the 16 KiB
    // a part's head may take: read through, not taken for a head.
    let large = dir.path().join("large.bin");
    std::fs::write(&large, vec![7u8; 1 << 20]).unwrap();
    let file = format!("file=@{}", large.display());
    let got = curl_at(addr, "/names", &["-F", &file, "-F", "title=t"]).await;
    assert_eq!(got, (200, "file,title".to_owned()));
    let h2 = ["--http2-prior-knowledge", "-F", &file, "-F", "title=t"];
    assert_eq!(
        curl_at(addr, "/names", &h2).await,
        (200, "file,title".to_owned())
    );
    // A part's headers that never end (1 MiB, well within the 16 MiB body
    // bound): refused at the head bound, over HTTP/1.1 and HTTP/2.
    let endless = dir.path().join("endless");
    let mut body = b"--X\r\nContent-Disposition: form-data; name=\"a\"\r\nX-Pad: ".to_vec();
    body.resize(1 << 20, b'a');
    std::fs::write(&endless, &body).unwrap();
    let data = format!("@{}", endless.display());
    let want = "form preamble or part headers longer than 16384 bytes\n";
    let args = [
        "-H",
        "content-type: multipart/form-data; boundary=X",
        "--data-binary",
        &data,
    ];
    let (status, text) = curl_at(addr, "/names", &args).await;
    assert_eq!((status, text.as_str()), (400, want));
    // Over HTTP/2 with hyper's client: curl takes the stream's reset that
    // follows the early answer (RFC 9113 section 8.1) for an error.
    let io = hyper_util::rt::TokioIo::new(TcpStream::connect(addr).await.unwrap());
    let exec = hyper_util::rt::TokioExecutor::new();
    let (mut two, conn) = hyper::client::conn::http2::handshake(exec, io)
        .await
        .unwrap();
    tokio::spawn(conn);
    let req = Request::post("/names")
        .header("content-type", "multipart/form-data; boundary=X")
        .body(http_body_util::Full::new(bytes::Bytes::from(body)))
        .unwrap();
    let (status, _, text) = read(bounded(two.send_request(req)).await.unwrap()).await;
    assert_eq!((status.as_u16(), text.as_str()), (400, want));
}

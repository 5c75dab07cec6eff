//! Helpers for httpout's real-socket tests: start a server on 127.0.0.1:0,
//! talk to it with hyper's client (HTTP/1.1, h2c, TLS) or raw bytes, always
//! bounded in time.

pub mod media;
pub mod player;

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Empty};
use httpout_core::{Body, Ctx, Error, Handler, Running, Server, ServerConfig};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

/// Every test step is bounded by this.
pub const LIMIT: Duration = Duration::from_secs(10);

/// Asserts that `elapsed` is `want`, to 50 ms over at most: for tests in
/// virtual time (`start_paused`), where a deadline is met exactly.
pub fn assert_about(elapsed: Duration, want: Duration) {
    assert!(
        elapsed >= want && elapsed <= want + Duration::from_millis(50),
        "took {elapsed:?}, expected {want:?}"
    );
}

/// Runs `fut` or panics after [`LIMIT`].
pub async fn bounded<F: std::future::Future>(fut: F) -> F::Output {
    tokio::time::timeout(LIMIT, fut)
        .await
        .expect("step timed out")
}

/// Runs curl with `-sS --max-time 10` and `args`, bounded by [`LIMIT`]:
/// its standard output. Panics (the test fails) when curl is missing or
/// exits with an error.
pub async fn curl<S: AsRef<std::ffi::OsStr>>(args: impl IntoIterator<Item = S>) -> String {
    let out = bounded(
        tokio::process::Command::new("curl")
            .args(["-sS", "--max-time", "10"])
            .args(args)
            .output(),
    )
    .await
    .expect("curl must be installed");
    assert!(
        out.status.success(),
        "curl: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("curl's output is UTF-8")
}

/// [`curl`] with `args` and the body written to standard output: the
/// status and the body.
pub async fn curl_status<S: AsRef<std::ffi::OsStr>>(
    args: impl IntoIterator<Item = S>,
) -> (u16, String) {
    let mut all: Vec<std::ffi::OsString> = ["-o", "-", "-w", "\n%{http_code}"]
        .iter()
        .map(Into::into)
        .collect();
    all.extend(args.into_iter().map(|a| a.as_ref().to_owned()));
    let text = curl(all).await;
    let (body, status) = text.rsplit_once('\n').expect("curl wrote the status");
    (status.parse().expect("a status"), body.to_owned())
}

/// The test handler: `/slow` answers after 500 ms, `/missing` is a 404,
/// `/endless` streams 64 KiB chunks forever, anything else echoes the path
/// it was given.
pub async fn echo(_req: Request<Body>, ctx: Ctx) -> Result<Response<Body>, Error> {
    match ctx.path.to_string().as_str() {
        "/slow" => {
            tokio::time::sleep(Duration::from_millis(500)).await;
            Ok(Response::new(Body::full("slow done")))
        }
        "/missing" => Err(Error::NotFound),
        "/endless" => {
            let chunk = Bytes::from(vec![0u8; 64 * 1024]);
            let frames = futures_util::stream::repeat_with(move || {
                Ok::<_, std::io::Error>(http_body::Frame::data(chunk.clone()))
            });
            Ok(Response::new(Body::new(http_body_util::StreamBody::new(
                frames,
            ))))
        }
        p => Ok(Response::new(Body::full(format!("path={p}")))),
    }
}

/// A config listening on 127.0.0.1:0.
pub fn config() -> ServerConfig {
    ServerConfig::default()
}

/// Starts a server with `config` and the echo handler; returns it and its
/// first TCP address.
pub async fn start(config: ServerConfig) -> (Running, SocketAddr) {
    start_with(config, echo).await
}

/// Starts a server with `config` and `handler`; returns it and its first
/// TCP address.
pub async fn start_with(config: ServerConfig, handler: impl Handler) -> (Running, SocketAddr) {
    let server = Server::bind(config).await.expect("bind");
    let addr = server.local_addrs()[0]
        .tcp_addr()
        .unwrap_or_else(|| "0.0.0.0:0".parse().unwrap());
    (server.serve(handler), addr)
}

/// An HTTP/1.1 client connection over any stream.
pub async fn h1<I>(io: I) -> hyper::client::conn::http1::SendRequest<Empty<Bytes>>
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(io))
        .await
        .expect("h1 handshake");
    tokio::spawn(conn);
    send
}

/// An HTTP/2 client connection (prior knowledge) over any stream.
pub async fn h2<I>(io: I) -> hyper::client::conn::http2::SendRequest<Empty<Bytes>>
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (send, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(io))
            .await
            .expect("h2 handshake");
    tokio::spawn(conn);
    send
}

/// A GET request for `path`.
pub fn get(path: &str) -> Request<Empty<Bytes>> {
    request("GET", path, &[])
}

/// A request with a method, a path and headers (no body).
pub fn request(method: &str, path: &str, headers: &[(&str, &str)]) -> Request<Empty<Bytes>> {
    let mut req = Request::builder()
        .method(method)
        .uri(path)
        .header("host", "127.0.0.1");
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    req.body(Empty::new()).unwrap()
}

/// Collects a response's status, headers and body bytes.
pub async fn read_bytes(
    res: Response<hyper::body::Incoming>,
) -> (StatusCode, http::HeaderMap, Bytes) {
    let (parts, body) = res.into_parts();
    let bytes = bounded(body.collect()).await.expect("body").to_bytes();
    (parts.status, parts.headers, bytes)
}

/// Collects a response's status, headers and body.
pub async fn read(res: Response<hyper::body::Incoming>) -> (StatusCode, http::HeaderMap, String) {
    let (parts, body) = res.into_parts();
    let bytes = bounded(body.collect()).await.expect("body").to_bytes();
    (
        parts.status,
        parts.headers,
        String::from_utf8_lossy(&bytes).into_owned(),
    )
}

/// Sends raw bytes on a new connection and reads until the server closes it.
pub async fn raw(addr: SocketAddr, request: &[u8]) -> String {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(request).await.unwrap();
    let mut out = Vec::new();
    bounded(s.read_to_end(&mut out)).await.unwrap();
    String::from_utf8_lossy(&out).into_owned()
}

/// Reads from `s` until `needle` has been seen (bounded).
pub async fn read_until(s: &mut TcpStream, needle: &str) -> String {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    bounded(async {
        while !String::from_utf8_lossy(&out).contains(needle) {
            let n = s.read(&mut buf).await.unwrap();
            assert!(
                n > 0,
                "closed before {needle:?}: {}",
                String::from_utf8_lossy(&out)
            );
            out.extend_from_slice(&buf[..n]);
        }
    })
    .await;
    String::from_utf8_lossy(&out).into_owned()
}

/// A self-signed certificate for 127.0.0.1 / localhost, as PEM files in `dir`.
pub fn self_signed(
    dir: &std::path::Path,
    name: &str,
) -> (std::path::PathBuf, std::path::PathBuf, Vec<u8>) {
    let cert =
        rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
    let cert_path = dir.join(format!("{name}.crt"));
    let key_path = dir.join(format!("{name}.key"));
    std::fs::write(&cert_path, cert.cert.pem()).unwrap();
    std::fs::write(&key_path, cert.key_pair.serialize_pem()).unwrap();
    (cert_path, key_path, cert.cert.der().to_vec())
}

/// A TLS client trusting `cert_der`, offering `alpn`.
pub async fn tls_connect(
    addr: SocketAddr,
    cert_der: &[u8],
    alpn: &[&[u8]],
) -> tokio_rustls::client::TlsStream<TcpStream> {
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(rustls_pki_types::CertificateDer::from(cert_der.to_vec()))
        .unwrap();
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    let connector = tokio_rustls::TlsConnector::from(std::sync::Arc::new(config));
    let tcp = TcpStream::connect(addr).await.unwrap();
    let name = rustls_pki_types::ServerName::try_from("127.0.0.1").unwrap();
    bounded(connector.connect(name, tcp))
        .await
        .expect("tls handshake")
}

/// Reads one HTTP/1.1 response with a Content-Length from `s`: (head, body).
pub async fn read_response(s: &mut TcpStream) -> (String, String) {
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    bounded(async {
        while !buf.ends_with(b"\r\n\r\n") {
            let n = s.read(&mut byte).await.unwrap();
            assert!(n > 0, "closed mid-head: {}", String::from_utf8_lossy(&buf));
            buf.push(byte[0]);
        }
    })
    .await;
    let head = String::from_utf8_lossy(&buf).into_owned();
    let len: usize = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-length:")
                .map(|v| v.trim().parse().unwrap())
        })
        .unwrap_or(0);
    let mut body = vec![0u8; len];
    bounded(s.read_exact(&mut body)).await.unwrap();
    (head, String::from_utf8_lossy(&body).into_owned())
}

/// One part of a `multipart/byteranges` body: its headers (lower-case
/// names) and its bytes.
#[derive(Debug)]
pub struct Part {
    /// Header lines as (name, value).
    pub headers: Vec<(String, String)>,
    /// The part's content.
    pub body: Vec<u8>,
}

/// Parses a `multipart/byteranges` body (RFC 9110 §14.6, RFC 2046 §5.1)
/// with the given boundary; panics on anything malformed.
pub fn parse_multipart(body: &[u8], boundary: &str) -> Vec<Part> {
    let delimiter = format!("\r\n--{boundary}").into_bytes();
    // The first delimiter may come without its leading CRLF.
    let mut data = Vec::with_capacity(body.len() + 2);
    if !body.starts_with(b"\r\n") {
        data.extend_from_slice(b"\r\n");
    }
    data.extend_from_slice(body);
    let mut parts = Vec::new();
    let mut pos = find(&data, &delimiter, 0).expect("first delimiter");
    loop {
        pos += delimiter.len();
        if data[pos..].starts_with(b"--") {
            break;
        }
        assert!(
            data[pos..].starts_with(b"\r\n"),
            "delimiter not followed by CRLF"
        );
        pos += 2;
        let head_end = find(&data, b"\r\n\r\n", pos).expect("part head");
        let headers = String::from_utf8_lossy(&data[pos..head_end])
            .lines()
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
            .collect();
        let start = head_end + 4;
        let next = find(&data, &delimiter, start).expect("closing delimiter");
        parts.push(Part {
            headers,
            body: data[start..next].to_vec(),
        });
        pos = next;
    }
    parts
}

fn find(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    hay.get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|i| i + from)
}

impl Part {
    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

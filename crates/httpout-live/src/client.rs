//! The live sink's HTTP client calls (relays' upstreams, URL
//! authentication): one request on a new HTTP/1.1 connection with hyper's
//! client, the connection driven by its own task until the response body
//! is read or dropped.

use bytes::Bytes;
use http::header::{AUTHORIZATION, HOST, USER_AGENT};
use http::{HeaderValue, Request, Response, Uri};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use crate::relay::IcyStatus;

/// Why a request could not be sent.
#[derive(Debug)]
pub(crate) enum SendError {
    Connect(std::io::Error),
    Http(hyper::Error),
}

impl std::fmt::Display for SendError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Connect(e) => write!(f, "cannot connect: {e}"),
            Self::Http(e) => write!(f, "{e}"),
        }
    }
}

/// Sends `req` to `uri`'s host (an `http://` URI) on a new connection,
/// with `Host` and `User-Agent` set; the response head, its body to read.
/// A SHOUTcast `ICY 200 OK` status line reads as `HTTP/1.0 200 OK`.
pub(crate) async fn send(
    uri: &Uri,
    mut req: Request<Full<Bytes>>,
) -> Result<Response<Incoming>, SendError> {
    let host = uri.host().unwrap_or_default();
    let port = uri.port_u16().unwrap_or(80);
    let tcp = TcpStream::connect((host.trim_matches(['[', ']']), port))
        .await
        .map_err(SendError::Connect)?;
    let _ = tcp.set_nodelay(true);
    let (mut sender, conn) = hyper::client::conn::http1::Builder::new()
        .handshake(TokioIo::new(IcyStatus::new(tcp)))
        .await
        .map_err(SendError::Http)?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    // `Host` without the URL's credentials; those become Basic ones.
    let authority = uri.authority().map_or(host, |a| a.as_str());
    let (creds, host_port) = match authority.rsplit_once('@') {
        Some((c, h)) => (Some(c), h),
        None => (None, authority),
    };
    if let Ok(v) = HeaderValue::from_str(host_port) {
        req.headers_mut().insert(HOST, v);
    }
    if let (Some(creds), false) = (creds, req.headers().contains_key(AUTHORIZATION)) {
        use base64::Engine as _;
        let creds = percent_encoding::percent_decode_str(creds).decode_utf8_lossy();
        let token = base64::engine::general_purpose::STANDARD.encode(creds.as_bytes());
        if let Ok(v) = HeaderValue::from_str(&format!("Basic {token}")) {
            req.headers_mut().insert(AUTHORIZATION, v);
        }
    }
    req.headers_mut().insert(
        USER_AGENT,
        HeaderValue::from_static(concat!("httpout/", env!("CARGO_PKG_VERSION"))),
    );
    sender.send_request(req).await.map_err(SendError::Http)
}

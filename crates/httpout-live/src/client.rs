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
    let (host_port, basic) = host_and_credentials(uri.authority().map_or(host, |a| a.as_str()));
    if let Ok(v) = HeaderValue::from_str(host_port) {
        req.headers_mut().insert(HOST, v);
    }
    if let (Some(v), false) = (basic, req.headers().contains_key(AUTHORIZATION)) {
        req.headers_mut().insert(AUTHORIZATION, v);
    }
    req.headers_mut().insert(
        USER_AGENT,
        HeaderValue::from_static(concat!("httpout/", env!("CARGO_PKG_VERSION"))),
    );
    sender.send_request(req).await.map_err(SendError::Http)
}

/// An authority's `host[:port]` (for `Host`) and its credentials, if it
/// has `USER:PASS@`, as a Basic `Authorization` value (never in `Host`).
fn host_and_credentials(authority: &str) -> (&str, Option<HeaderValue>) {
    use base64::Engine as _;
    let Some((creds, host)) = authority.rsplit_once('@') else {
        return (authority, None);
    };
    let creds = percent_encoding::percent_decode_str(creds).decode_utf8_lossy();
    let token = base64::engine::general_purpose::STANDARD.encode(creds.as_bytes());
    (host, HeaderValue::from_str(&format!("Basic {token}")).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_leave_the_host_for_a_basic_header() {
        let uri: Uri = "http://admin:s%40cret@radio.example:8000/a"
            .parse()
            .unwrap();
        let (host, basic) = host_and_credentials(uri.authority().unwrap().as_str());
        assert_eq!(host, "radio.example:8000");
        assert_eq!(basic.unwrap(), "Basic YWRtaW46c0BjcmV0");
        assert_eq!(host_and_credentials("radio.example").0, "radio.example");
    }
}

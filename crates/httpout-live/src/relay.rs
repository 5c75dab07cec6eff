//! The client side of a relay (`-i http://OTHER/live.mp3 -o .../MOUNT`):
//! one GET to another Icecast, SHOUTcast, httpout or any HTTP server, asking
//! for in-band titles (`Icy-MetaData: 1`), read with hyper's HTTP/1 client
//! (HTTP/1.0 and 1.1, chunked, with a length or to the close). A SHOUTcast
//! v1 server answers `ICY 200 OK`, which no HTTP parser takes: [`IcyStatus`]
//! shows hyper `HTTP/1.0 200 OK` instead. Redirects are followed (3 at
//! most); `https://` upstreams are not supported yet.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::Bytes;
use http::header::{CONTENT_TYPE, LOCATION};
use http::{Request, StatusCode, Uri};
use http_body_util::Full;
use hyper::body::Incoming;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::client;
use crate::icy::StreamMeta;

/// How long connecting and getting the response head may take.
const CONNECT_LIMIT: Duration = Duration::from_secs(10);
/// Redirects followed at most.
const MAX_REDIRECTS: usize = 3;
/// The largest `icy-metaint` taken (Icecast's and SHOUTcast's are 8 192
/// to 32 768).
const MAX_METAINT: usize = 1 << 20;

/// Why an upstream could not be read.
#[derive(Debug, thiserror::Error)]
pub(crate) enum RelayError {
    #[error("{0} is not an http:// URL with a host (https:// upstreams are not supported yet)")]
    BadUrl(String),
    #[error("cannot connect to {0}: {1}")]
    Connect(String, io::Error),
    #[error("{0} did not answer within {CONNECT_LIMIT:?}")]
    Timeout(String),
    #[error("{0}: {1}")]
    Http(String, hyper::Error),
    #[error("{0} answered {1}")]
    Status(String, StatusCode),
    #[error("{0}: too many redirects")]
    Redirects(String),
}

/// A connected upstream: what it says of the stream, and its body.
pub(crate) struct Upstream {
    /// The `Content-Type` it gave, if any.
    pub(crate) content_type: Option<String>,
    /// Its `icy-*` headers (name, genre, url, ...), carried over.
    pub(crate) meta: StreamMeta,
    /// Audio bytes between its metadata blocks, when it interleaves them.
    pub(crate) metaint: Option<usize>,
    pub(crate) body: Incoming,
}

/// `url` with its password hidden (`http://user:***@host/...`), for logs
/// and the banner.
pub fn redacted(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    match authority.rsplit_once('@') {
        Some((creds, host)) => {
            let user = creds.split(':').next().unwrap_or_default();
            format!("{scheme}://{user}:***@{host}{path}")
        }
        None => url.to_owned(),
    }
}

/// Checks a relay URL as `-i` gives it.
pub(crate) fn parse_url(url: &str) -> Result<Uri, RelayError> {
    let uri: Uri = url
        .parse()
        .map_err(|_| RelayError::BadUrl(url.to_owned()))?;
    if uri.scheme_str() != Some("http") || uri.host().is_none_or(str::is_empty) {
        return Err(RelayError::BadUrl(url.to_owned()));
    }
    Ok(uri)
}

/// Connects to `uri` and reads the response head, following redirects.
pub(crate) async fn connect(uri: &Uri) -> Result<Upstream, RelayError> {
    let mut uri = uri.clone();
    for _ in 0..=MAX_REDIRECTS {
        let shown = redacted(&uri.to_string());
        let res = tokio::time::timeout(CONNECT_LIMIT, get(&uri))
            .await
            .map_err(|_| RelayError::Timeout(shown.clone()))??;
        let status = res.status();
        if status.is_redirection() {
            let next = res
                .headers()
                .get(LOCATION)
                .and_then(|l| l.to_str().ok())
                .ok_or_else(|| RelayError::Status(shown.clone(), status))?;
            uri = resolve(&uri, next).ok_or_else(|| RelayError::BadUrl(next.to_owned()))?;
            continue;
        }
        if status != StatusCode::OK {
            return Err(RelayError::Status(shown, status));
        }
        let headers = res.headers();
        let mut meta = StreamMeta::default();
        for (name, value) in headers {
            let name = name.as_str();
            if name.starts_with("icy-") && name != "icy-metaint" || name == "ice-audio-info" {
                if let Ok(v) = value.to_str() {
                    meta.set(name, v);
                }
            }
        }
        let metaint = headers
            .get("icy-metaint")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<usize>().ok())
            .filter(|n| (1..=MAX_METAINT).contains(n));
        let content_type = headers
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        return Ok(Upstream {
            content_type,
            meta,
            metaint,
            body: res.into_body(),
        });
    }
    Err(RelayError::Redirects(redacted(&uri.to_string())))
}

/// A `Location` relative to `base`, as an absolute http:// URI.
fn resolve(base: &Uri, location: &str) -> Option<Uri> {
    if location.starts_with("http://") {
        return parse_url(location).ok();
    }
    let authority = base.authority()?;
    let path = if location.starts_with('/') {
        location.to_owned()
    } else {
        let dir = base.path().rsplit_once('/').map_or("", |(d, _)| d);
        format!("{dir}/{location}")
    };
    format!("http://{authority}{path}").parse().ok()
}

/// One GET of `uri` on a new connection, asking for in-band titles.
async fn get(uri: &Uri) -> Result<http::Response<Incoming>, RelayError> {
    let shown = redacted(&uri.to_string());
    let req = Request::get(uri.path_and_query().map_or("/", |p| p.as_str()))
        .header("icy-metadata", "1")
        .body(Full::new(Bytes::new()))
        .map_err(|_| RelayError::BadUrl(shown.clone()))?;
    client::send(uri, req).await.map_err(|e| match e {
        client::SendError::Connect(e) => RelayError::Connect(shown, e),
        client::SendError::Http(e) => RelayError::Http(shown, e),
    })
}

/// A socket whose response starts `ICY ` shown to hyper as `HTTP/1.0 `.
pub(crate) struct IcyStatus<T> {
    inner: T,
    /// Bytes to hand out before reading on: the start of the response,
    /// rewritten.
    pending: Vec<u8>,
    /// Whether the start has been looked at.
    checked: bool,
}

impl<T> IcyStatus<T> {
    pub(crate) fn new(inner: T) -> Self {
        Self {
            inner,
            pending: Vec::new(),
            checked: false,
        }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for IcyStatus<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        while !this.checked {
            // The first four bytes decide.
            let mut first = [0u8; 64];
            let mut read = ReadBuf::new(&mut first);
            ready!(Pin::new(&mut this.inner).poll_read(cx, &mut read))?;
            let got = read.filled();
            this.pending.extend_from_slice(got);
            if got.is_empty() || this.pending.len() >= 4 {
                this.checked = true;
                if this.pending.starts_with(b"ICY ") {
                    this.pending.splice(..3, b"HTTP/1.0".iter().copied());
                }
            }
        }
        if !this.pending.is_empty() {
            let n = this.pending.len().min(buf.remaining());
            buf.put_slice(&this.pending[..n]);
            this.pending.drain(..n);
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut this.inner).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for IcyStatus<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt as _;

    #[tokio::test]
    async fn an_icy_status_line_reads_as_http_1_0() {
        for (wire, seen) in [
            (&b"ICY 200 OK\r\n\r\n"[..], &b"HTTP/1.0 200 OK\r\n\r\n"[..]),
            (b"HTTP/1.1 200 OK\r\n\r\n", b"HTTP/1.1 200 OK\r\n\r\n"),
            (b"IC", b"IC"),
        ] {
            // One byte at a time: the check waits for four.
            let reader = tokio_test_reader(wire);
            let mut out = Vec::new();
            IcyStatus::new(reader).read_to_end(&mut out).await.unwrap();
            assert_eq!(out, seen);
        }
    }

    /// A reader giving `bytes` one at a time.
    fn tokio_test_reader(bytes: &[u8]) -> impl AsyncRead + Unpin {
        struct OneByOne(Vec<u8>);
        impl AsyncRead for OneByOne {
            fn poll_read(
                mut self: Pin<&mut Self>,
                _: &mut Context<'_>,
                buf: &mut ReadBuf<'_>,
            ) -> Poll<io::Result<()>> {
                if !self.0.is_empty() {
                    buf.put_slice(&[self.0.remove(0)]);
                }
                Poll::Ready(Ok(()))
            }
        }
        OneByOne(bytes.to_vec())
    }

    #[test]
    fn passwords_are_hidden() {
        assert_eq!(
            redacted("http://admin:s3cret@radio.example:8000/live.mp3"),
            "http://admin:***@radio.example:8000/live.mp3"
        );
        assert_eq!(
            redacted("http://radio.example/a@b"),
            "http://radio.example/a@b"
        );
    }

    #[test]
    fn urls_and_redirects() {
        assert!(parse_url("http://radio.example:8000/live.mp3").is_ok());
        assert!(parse_url("https://radio.example/live.mp3").is_err());
        assert!(parse_url("live.mp3").is_err());
        let base: Uri = "http://a.example:8000/x/live.mp3".parse().unwrap();
        assert_eq!(
            resolve(&base, "/other.mp3").unwrap().to_string(),
            "http://a.example:8000/other.mp3"
        );
        assert_eq!(
            resolve(&base, "b.mp3").unwrap().to_string(),
            "http://a.example:8000/x/b.mp3"
        );
        assert_eq!(
            resolve(&base, "http://b.example/c.mp3")
                .unwrap()
                .to_string(),
            "http://b.example/c.mp3"
        );
    }
}

//! `TRACE` (RFC 9110 §9.3.8), for every mode: with `--trace`, the request
//! as the server received it, echoed as `message/http`; without it, 405
//! (like Apache's `TraceEnable off`: a page that can make a browser send
//! TRACE could read its credentials back, cross-site tracing).
//!
//! The echo leaves out the headers that carry credentials
//! (`Authorization`, `Proxy-Authorization`, `Cookie`), so even an allowed
//! TRACE gives nothing away. A TRACE with content is 400: a client must
//! not send any. Up to [`DRAIN_LIMIT`] of it is read first, so that an
//! HTTP/2 client gets the 400 rather than a reset of a stream it is still
//! sending on.

use std::time::Duration;

use http::header::{
    AUTHORIZATION, CACHE_CONTROL, CONTENT_LENGTH, CONTENT_TYPE, COOKIE, HeaderName,
    PROXY_AUTHORIZATION, TRANSFER_ENCODING,
};
use http::{HeaderValue, Method, Request, Response};
use http_body::Body as _;
use http_body_util::BodyExt as _;

use crate::body::Body;
use crate::error::Error;
use crate::handler::Allow;

/// Bytes of a TRACE's content read (and dropped) before its 400.
const DRAIN_LIMIT: usize = 64 * 1024;
/// How long that reading may take.
const DRAIN_TIME: Duration = Duration::from_secs(5);

/// Headers never echoed: they carry credentials.
const HIDDEN: [HeaderName; 3] = [AUTHORIZATION, PROXY_AUTHORIZATION, COOKIE];

/// The answer to a `TRACE` request: the echo when `enabled`; otherwise
/// 405 with the resource's `Allow` (a resource that declares no methods
/// gets the request like any other method it does not know).
pub(super) async fn answer(
    req: &mut Request<Body>,
    allow: &Allow,
    enabled: bool,
) -> Option<Result<Response<Body>, Error>> {
    if enabled {
        let answer = echo(req);
        if answer.is_err() {
            drain(req.body_mut()).await;
        }
        return Some(answer);
    }
    let allow = allow.header()?;
    Some(Err(Error::MethodNotAllowed { allow }))
}

/// Reads and drops up to [`DRAIN_LIMIT`] bytes of `body`, for at most
/// [`DRAIN_TIME`].
async fn drain(body: &mut Body) {
    let read = async {
        let mut seen = 0;
        while let Some(Ok(frame)) = body.frame().await {
            seen += frame.data_ref().map_or(0, bytes::Bytes::len);
            if seen > DRAIN_LIMIT {
                break;
            }
        }
    };
    let _ = tokio::time::timeout(DRAIN_TIME, read).await;
}

/// The request line and headers as `message/http`, credentials left out;
/// 400 when the request has content.
fn echo(req: &Request<Body>) -> Result<Response<Body>, Error> {
    let headers = req.headers();
    let declared = headers.contains_key(TRANSFER_ENCODING)
        || headers
            .get(CONTENT_LENGTH)
            .is_some_and(|v| v.as_bytes() != b"0");
    if declared || !req.body().is_end_stream() {
        return Err(Error::BadRequest(
            "a TRACE request must not have content (RFC 9110 §9.3.8)".into(),
        ));
    }
    let target = req.uri().path_and_query().map_or("/", |p| p.as_str());
    let mut out = format!("{} {target} {:?}\r\n", Method::TRACE, req.version()).into_bytes();
    // HTTP/2 carries the host as `:authority`, which is not a header.
    if !headers.contains_key(http::header::HOST) {
        if let Some(authority) = req.uri().authority() {
            out.extend_from_slice(format!("host: {authority}\r\n").as_bytes());
        }
    }
    for (name, value) in headers {
        if HIDDEN.contains(name) {
            continue;
        }
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
    let mut res = Response::new(Body::full(out));
    let h = res.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static("message/http"));
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(res)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trace(headers: &[(&str, &str)], body: Body) -> Request<Body> {
        let mut b = Request::builder().method("TRACE").uri("/a/b?c=1");
        for (n, v) in headers {
            b = b.header(*n, *v);
        }
        b.body(body).unwrap()
    }

    #[tokio::test]
    async fn the_echo_leaves_out_credentials() {
        let req = trace(
            &[
                ("host", "example"),
                ("authorization", "Basic c2VjcmV0"),
                ("proxy-authorization", "Basic c2VjcmV0"),
                ("cookie", "session=secret"),
                ("x-kept", "yes"),
            ],
            Body::empty(),
        );
        let mut req = req;
        let res = answer(&mut req, &Allow::any(), true)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(res.headers()[CONTENT_TYPE], "message/http");
        let text = res.into_body().collect().await.unwrap().to_bytes();
        let text = String::from_utf8(text.to_vec()).unwrap();
        assert!(text.starts_with("TRACE /a/b?c=1 HTTP/1.1\r\n"), "{text}");
        assert!(text.contains("host: example\r\n") && text.contains("x-kept: yes\r\n"));
        assert!(!text.contains("secret"), "{text}");
        assert!(text.ends_with("\r\n\r\n"), "{text}");
    }

    #[tokio::test]
    async fn content_is_refused_and_off_is_405() {
        let mut req = trace(&[("content-length", "3")], Body::full("abc"));
        let refused = answer(&mut req, &Allow::any(), true).await;
        assert_eq!(refused.unwrap().unwrap_err().status(), 400);
        assert!(req.body().is_end_stream(), "the content was read");
        let mut req = trace(&[], Body::empty());
        let allow = Allow::only([Method::GET, Method::HEAD]);
        let refused = answer(&mut req, &allow, false).await;
        assert_eq!(refused.unwrap().unwrap_err().status(), 405);
        assert!(answer(&mut req, &Allow::any(), false).await.is_none());
    }
}

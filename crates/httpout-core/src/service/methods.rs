//! The one step that answers by method, for every handler that declares
//! its methods ([`Handler::allow`](crate::Handler::allow)): `OPTIONS` (with
//! the CORS preflight answers), 405/501 for a method outside the set, and
//! HEAD responses without their body.

use http::header::{
    ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS, ACCESS_CONTROL_MAX_AGE,
    ACCESS_CONTROL_REQUEST_HEADERS, ACCESS_CONTROL_REQUEST_METHOD, ALLOW, CONTENT_LENGTH,
};
use http::{HeaderValue, Method, Request, Response, StatusCode};

use crate::body::Body;
use crate::error::Error;
use crate::handler::Allow;
use crate::path::SafePath;

/// How long a browser may cache a preflight's answer.
const PREFLIGHT_MAX_AGE: HeaderValue = HeaderValue::from_static("86400");

/// The engine's answer to `req` from the resource's `allow`, or `None`
/// when the handler answers: `OPTIONS` is 204 with `Allow` (and the
/// resource's [`Allow::options_headers`] unless it is a preflight), and for a CORS
/// preflight (`cors`: the server's policy applies to this request) the
/// methods and the asked headers allowed; `*` takes `OPTIONS` only; other
/// methods outside `allow` are 405 (501 when HTTP does not define them).
pub(super) fn answer(
    req: &Request<Body>,
    path: &SafePath,
    allow: &Allow,
    cors: bool,
) -> Option<Result<Response<Body>, Error>> {
    let method = req.method();
    // The common case, an accepted method, builds no `Allow` header.
    if *method != Method::OPTIONS && !path.is_asterisk() && allow.contains(method) {
        return None;
    }
    let header = allow.header()?;
    if *method == Method::OPTIONS {
        let mut res = options(req, header, cors);
        if !(cors && req.headers().contains_key(ACCESS_CONTROL_REQUEST_METHOD)) {
            for (name, value) in allow.options_headers() {
                res.headers_mut().insert(name, value.clone());
            }
        }
        return Some(Ok(res));
    }
    Some(Err(allow.refuse(method)))
}

/// `OPTIONS` on a resource or `*`: `Allow`, and for a CORS preflight the
/// `Access-Control-Allow-*` answers (`Allow-Origin` is added with the
/// common headers).
fn options(req: &Request<Body>, allow: HeaderValue, cors: bool) -> Response<Body> {
    let mut res = Response::new(Body::empty());
    *res.status_mut() = StatusCode::NO_CONTENT;
    let h = res.headers_mut();
    if cors && req.headers().contains_key(ACCESS_CONTROL_REQUEST_METHOD) {
        h.insert(ACCESS_CONTROL_ALLOW_METHODS, allow.clone());
        if let Some(asked) = req.headers().get(ACCESS_CONTROL_REQUEST_HEADERS) {
            h.insert(ACCESS_CONTROL_ALLOW_HEADERS, asked.clone());
        }
        h.insert(ACCESS_CONTROL_MAX_AGE, PREFLIGHT_MAX_AGE);
    }
    h.insert(ALLOW, allow);
    res
}

/// RFC 9110 §9.3.2: a HEAD response has no content. hyper drops it on
/// HTTP/1.1 but not on HTTP/2, so it is dropped here for both, keeping
/// the `Content-Length` the body would have had. Handlers build the same
/// response for HEAD as for GET (bodies are lazy: nothing is read).
pub(super) fn strip_body(res: &mut Response<Body>) {
    use http_body::Body as _;
    if let Some(len) = res.body().size_hint().exact() {
        if len > 0 {
            res.headers_mut()
                .entry(CONTENT_LENGTH)
                .or_insert_with(|| HeaderValue::from(len));
        }
    }
    *res.body_mut() = Body::empty();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(method: &str, headers: &[(&str, &str)]) -> Request<Body> {
        let mut b = Request::builder().method(method).uri("/x");
        for (n, v) in headers {
            b = b.header(*n, *v);
        }
        b.body(Body::empty()).unwrap()
    }

    fn path() -> SafePath {
        SafePath::parse("/x").unwrap()
    }

    #[test]
    fn any_leaves_every_method_to_the_handler() {
        for m in ["GET", "OPTIONS", "BREW"] {
            assert!(answer(&req(m, &[]), &path(), &Allow::any(), true).is_none());
        }
    }

    #[test]
    fn options_405_and_501_from_the_declared_methods() {
        let allow = Allow::only([Method::PUT, Method::POST, Method::OPTIONS]);
        let res = answer(&req("OPTIONS", &[]), &path(), &allow, true)
            .unwrap()
            .unwrap();
        assert_eq!(res.status(), 204);
        assert_eq!(res.headers()[ALLOW], "PUT, POST, OPTIONS");
        assert!(!res.headers().contains_key(ACCESS_CONTROL_ALLOW_METHODS));
        assert!(answer(&req("PUT", &[]), &path(), &allow, true).is_none());
        let refused = answer(&req("GET", &[]), &path(), &allow, true).unwrap();
        assert_eq!(refused.unwrap_err().status(), 405);
        let refused = answer(&req("BREW", &[]), &path(), &allow, true).unwrap();
        assert_eq!(refused.unwrap_err().status(), 501);
        let star = SafePath::parse("*").unwrap();
        let refused = answer(&req("PUT", &[]), &star, &allow, true).unwrap();
        assert_eq!(refused.unwrap_err().status(), 405);
    }

    #[test]
    fn options_carries_the_resource_s_headers_but_not_a_preflight() {
        let limit = http::HeaderName::from_static("upload-limit");
        let allow = Allow::only([Method::PUT, Method::OPTIONS])
            .with_options_header(limit.clone(), HeaderValue::from_static("max-size=10"));
        let res = answer(&req("OPTIONS", &[]), &path(), &allow, true)
            .unwrap()
            .unwrap();
        assert_eq!(res.headers()[&limit], "max-size=10");
        assert_eq!(res.headers()[ALLOW], "PUT, OPTIONS");
        let preflight = req("OPTIONS", &[("access-control-request-method", "PUT")]);
        let res = answer(&preflight, &path(), &allow, true).unwrap().unwrap();
        assert!(!res.headers().contains_key(&limit));
        let both = allow.union(Allow::only([Method::GET]));
        assert_eq!(both.options_headers().len(), 1);
    }

    #[test]
    fn a_preflight_gets_the_methods_and_the_asked_headers() {
        let allow = Allow::only([Method::PUT, Method::OPTIONS]);
        let preflight = req(
            "OPTIONS",
            &[
                ("origin", "https://app.example"),
                ("access-control-request-method", "PUT"),
                ("access-control-request-headers", "content-type,x-custom"),
            ],
        );
        let res = answer(&preflight, &path(), &allow, true).unwrap().unwrap();
        let h = res.headers();
        assert_eq!(h[ACCESS_CONTROL_ALLOW_METHODS], "PUT, OPTIONS");
        assert_eq!(h[ACCESS_CONTROL_ALLOW_HEADERS], "content-type,x-custom");
        assert_eq!(h[ACCESS_CONTROL_MAX_AGE], "86400");
        // CORS off: a plain OPTIONS answer.
        let res = answer(&preflight, &path(), &allow, false).unwrap().unwrap();
        assert!(!res.headers().contains_key(ACCESS_CONTROL_ALLOW_METHODS));
    }
}

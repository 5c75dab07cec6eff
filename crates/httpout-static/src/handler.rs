//! Method dispatch for the static server, and OPTIONS (with CORS preflight).

use http::header::{
    ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS, ACCESS_CONTROL_MAX_AGE,
    ACCESS_CONTROL_REQUEST_HEADERS, ACCESS_CONTROL_REQUEST_METHOD, ALLOW, ORIGIN,
};
use http::request::Parts;
use http::{HeaderValue, Method, Response, StatusCode};
use httpout_core::{Body, Cors, Ctx, Error};

use crate::StaticConfig;

/// Methods this server knows; others are 501 rather than 405 (RFC 9110 §15.6.2).
fn is_known(method: &Method) -> bool {
    matches!(
        *method,
        Method::GET
            | Method::HEAD
            | Method::POST
            | Method::PUT
            | Method::DELETE
            | Method::OPTIONS
            | Method::PATCH
            | Method::TRACE
            | Method::CONNECT
    )
}

/// The error for a method the resource does not accept.
pub(crate) fn not_allowed(method: &Method, allow: HeaderValue) -> Error {
    if is_known(method) {
        Error::MethodNotAllowed { allow }
    } else {
        Error::NotImplemented
    }
}

/// OPTIONS on a resource or `*`: `Allow`, and for a CORS preflight the
/// `Access-Control-Allow-*` answers (the core adds `Allow-Origin`).
pub(crate) fn options(
    config: &StaticConfig,
    req: &Parts,
    _ctx: &Ctx,
    allow: HeaderValue,
) -> Response<Body> {
    let mut res = Response::new(Body::empty());
    *res.status_mut() = StatusCode::NO_CONTENT;
    let h = res.headers_mut();
    let cors = match config.cors {
        Cors::On => true,
        Cors::Off => false,
        Cors::Auto => req.headers.contains_key(ORIGIN),
    };
    if cors && req.headers.contains_key(ACCESS_CONTROL_REQUEST_METHOD) {
        h.insert(ACCESS_CONTROL_ALLOW_METHODS, allow.clone());
        if let Some(asked) = req.headers.get(ACCESS_CONTROL_REQUEST_HEADERS) {
            h.insert(ACCESS_CONTROL_ALLOW_HEADERS, asked.clone());
        }
        h.insert(ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static("86400"));
    }
    h.insert(ALLOW, allow);
    res
}

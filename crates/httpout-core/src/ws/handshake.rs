//! The opening handshake: an HTTP/1.1 `Upgrade: websocket` (RFC 6455
//! §4.2) or an HTTP/2 extended CONNECT (RFC 8441), checked, answered, and
//! the connection handed to the socket's task once hyper lets it go.

use std::future::Future;

use base64::Engine as _;
use http::header::{
    CONNECTION, HeaderValue, SEC_WEBSOCKET_ACCEPT, SEC_WEBSOCKET_KEY, SEC_WEBSOCKET_PROTOCOL,
    SEC_WEBSOCKET_VERSION, UPGRADE,
};
use http::{Method, Request, Response, StatusCode, Version};
use hyper::ext::Protocol;
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;
use sha1::{Digest, Sha1};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};

use super::config::Config;
use super::driver;
use super::socket::{Shared, Socket};
use crate::body::Body;
use crate::conn::state::UpgradeLink;
use crate::error::Error;

/// The GUID of RFC 6455 §1.3, hashed with the client's key.
const GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
/// tungstenite's read buffer per socket (its default, 128 KiB, is
/// allocated up front: 1 000 idle sockets would hold 128 MiB).
const READ_BUFFER: usize = 4 * 1024;

/// A WebSocket handshake, checked and ready to accept: make it from the
/// request with [`Upgrade::new`], return [`Upgrade::on_socket`]'s response
/// from the handler, and the socket reaches your function once the
/// connection is switched.
///
/// Over HTTP/1.1 the client asks with `GET` and `Upgrade: websocket` and
/// gets `101 Switching Protocols`; over HTTP/2 (RFC 8441) with an extended
/// `CONNECT` whose `:protocol` is `websocket`, and gets `200`: the socket
/// is that stream, and the connection's other streams go on beside it.
/// The socket lives on after the handler returned; it keeps its
/// connection's place in `maxc`/`maxp`, is closed with 1001 when idle for
/// the server's `timeout` (a ping is sent after half of it) or when the
/// server shuts down gracefully, and dropped when shutdown is forced.
///
/// ```
/// use httpout_core::ws::{Message, Upgrade};
/// use httpout_core::{Body, Ctx, Error};
/// use http::{Request, Response};
///
/// async fn echo(mut req: Request<Body>, _ctx: Ctx) -> Result<Response<Body>, Error> {
///     let upgrade = Upgrade::new(&mut req)?; // 426 or 400 if not a handshake
///     Ok(upgrade.on_socket(|mut socket| async move {
///         while let Some(msg) = socket.recv().await {
///             if socket.send(msg).await.is_err() {
///                 break;
///             }
///         }
///     }))
/// }
/// # fn takes(_: impl httpout_core::Handler) {}
/// # takes(echo);
/// ```
#[derive(Debug)]
pub struct Upgrade {
    on: OnUpgrade,
    link: Option<UpgradeLink>,
    /// `Sec-WebSocket-Accept` (HTTP/1.1); `None` over HTTP/2.
    accept: Option<HeaderValue>,
    offered: Vec<String>,
    protocol: Option<HeaderValue>,
    config: Config,
}

impl Upgrade {
    /// Whether `req` asks for a WebSocket (`Upgrade: websocket` or an
    /// HTTP/2 CONNECT for `websocket`), valid or not: a resource that also
    /// answers plain requests tells them apart with this.
    ///
    /// ```
    /// use httpout_core::ws::Upgrade;
    ///
    /// let req = http::Request::get("/chat").header("upgrade", "websocket").body(()).unwrap();
    /// assert!(Upgrade::is_websocket(&req));
    /// assert!(!Upgrade::is_websocket(&http::Request::get("/chat").body(()).unwrap()));
    /// ```
    pub fn is_websocket<B>(req: &Request<B>) -> bool {
        if req.method() == Method::CONNECT {
            return req
                .extensions()
                .get::<Protocol>()
                .is_some_and(|p| p.as_str().eq_ignore_ascii_case("websocket"));
        }
        has_token(req, UPGRADE, "websocket")
    }

    /// Checks the handshake of `req` and takes the connection's upgrade
    /// from it. A request that is no WebSocket handshake, or asks for a
    /// version other than 13, is [`Error::UpgradeRequired`] (426); a
    /// malformed one [`Error::BadRequest`] (400).
    ///
    /// ```
    /// use httpout_core::ws::Upgrade;
    /// use http::StatusCode;
    ///
    /// let mut plain = http::Request::get("/chat").body(()).unwrap();
    /// let refused = Upgrade::new(&mut plain).unwrap_err();
    /// assert_eq!(refused.status(), StatusCode::UPGRADE_REQUIRED);
    /// ```
    pub fn new<B>(req: &mut Request<B>) -> Result<Self, Error> {
        if !Self::is_websocket(req) {
            return Err(Error::UpgradeRequired(
                "this resource is a WebSocket: ask with Upgrade: websocket".into(),
            ));
        }
        let h2 = req.method() == Method::CONNECT;
        if !h2 {
            if req.method() != Method::GET {
                return Err(Error::bad_request("a WebSocket handshake is a GET"));
            }
            if req.version() < Version::HTTP_11 {
                return Err(Error::bad_request("a WebSocket handshake needs HTTP/1.1"));
            }
            if !has_token(req, CONNECTION, "upgrade") {
                return Err(Error::bad_request(
                    "a WebSocket handshake needs Connection: Upgrade",
                ));
            }
        }
        if req
            .headers()
            .get(SEC_WEBSOCKET_VERSION)
            .is_none_or(|v| v.as_bytes() != b"13")
        {
            return Err(Error::UpgradeRequired("WebSocket version 13 only".into()));
        }
        let accept = if h2 {
            None
        } else {
            let key = req
                .headers()
                .get(SEC_WEBSOCKET_KEY)
                .filter(|key| {
                    base64::engine::general_purpose::STANDARD
                        .decode(key.as_bytes())
                        .is_ok_and(|k| k.len() == 16)
                })
                .ok_or_else(|| Error::bad_request("bad or missing Sec-WebSocket-Key"))?;
            Some(accept_key(key.as_bytes()))
        };
        let offered = req
            .headers()
            .get_all(SEC_WEBSOCKET_PROTOCOL)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(str::to_owned)
            .collect();
        let on = req
            .extensions_mut()
            .remove::<OnUpgrade>()
            .ok_or_else(|| Error::bad_request("this connection cannot be upgraded"))?;
        Ok(Self {
            on,
            link: req.extensions_mut().remove::<UpgradeLink>(),
            accept,
            offered,
            protocol: None,
            config: Config::default(),
        })
    }

    /// The subprotocols the client offered (`Sec-WebSocket-Protocol`), in
    /// its order of preference.
    ///
    /// ```
    /// use httpout_core::ws::Upgrade;
    /// use httpout_core::{Body, Ctx, Error};
    /// use http::{Request, Response, StatusCode};
    ///
    /// async fn handler(mut req: Request<Body>, _ctx: Ctx) -> Result<Response<Body>, Error> {
    ///     let upgrade = Upgrade::new(&mut req)?;
    ///     if !upgrade.offered_protocols().iter().any(|p| p == "chat.v2") {
    ///         let mut res = Response::new(Body::full("speak chat.v2\n"));
    ///         *res.status_mut() = StatusCode::BAD_REQUEST;
    ///         return Ok(res);
    ///     }
    ///     Ok(upgrade.protocol("chat.v2").on_socket(|_socket| async {}))
    /// }
    /// # fn takes(_: impl httpout_core::Handler) {}
    /// # takes(handler);
    /// ```
    pub fn offered_protocols(&self) -> &[String] {
        &self.offered
    }

    /// Accepts `name` as the subprotocol, if the client offered it
    /// (otherwise none is named, and the client decides whether to go on).
    ///
    /// ```no_run
    /// # fn f(upgrade: httpout_core::ws::Upgrade) {
    /// let upgrade = upgrade.protocol("chat.v2");
    /// # }
    /// ```
    #[must_use]
    pub fn protocol(mut self, name: &str) -> Self {
        if self.offered.iter().any(|p| p == name) {
            self.protocol = HeaderValue::from_str(name).ok();
        }
        self
    }

    /// The socket's limits (the default: [`Config::default`]).
    ///
    /// ```
    /// use httpout_core::ws::{Config, Upgrade};
    /// use httpout_core::{Body, Ctx, Error};
    /// use http::{Request, Response};
    ///
    /// async fn handler(mut req: Request<Body>, _ctx: Ctx) -> Result<Response<Body>, Error> {
    ///     let small = Config::default().max_message(4096);
    ///     Ok(Upgrade::new(&mut req)?.config(small).on_socket(|_socket| async {}))
    /// }
    /// # fn takes(_: impl httpout_core::Handler) {}
    /// # takes(handler);
    /// ```
    #[must_use]
    pub fn config(mut self, config: Config) -> Self {
        self.config = config;
        self
    }

    /// The response that accepts the handshake (return it from the
    /// handler); `on_socket` runs with the socket in a task of its own once
    /// the connection is switched (never, if the client goes first).
    ///
    /// ```
    /// use httpout_core::ws::{Message, Upgrade};
    /// use httpout_core::{Body, Ctx, Error};
    /// use http::{Request, Response};
    ///
    /// async fn handler(mut req: Request<Body>, _ctx: Ctx) -> Result<Response<Body>, Error> {
    ///     let upgrade = Upgrade::new(&mut req)?;
    ///     // 101 over HTTP/1.1, 200 over HTTP/2; the socket comes after.
    ///     Ok(upgrade.on_socket(|mut socket| async move {
    ///         let _ = socket.send(Message::text("welcome")).await;
    ///     }))
    /// }
    /// # fn takes(_: impl httpout_core::Handler) {}
    /// # takes(handler);
    /// ```
    pub fn on_socket<F, Fut>(self, on_socket: F) -> Response<Body>
    where
        F: FnOnce(Socket) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let mut res = Response::new(Body::empty());
        *res.status_mut() = match self.accept {
            Some(_) => StatusCode::SWITCHING_PROTOCOLS,
            None => StatusCode::OK,
        };
        let headers = res.headers_mut();
        if let Some(accept) = &self.accept {
            {
                headers.insert(UPGRADE, HeaderValue::from_static("websocket"));
                headers.insert(CONNECTION, HeaderValue::from_static("upgrade"));
                headers.insert(SEC_WEBSOCKET_ACCEPT, accept.clone());
            }
        }
        if let Some(protocol) = self.protocol {
            headers.insert(SEC_WEBSOCKET_PROTOCOL, protocol);
        }
        // Counted on the connection from now: no gap between the response
        // and the switch in which the connection could be cut as idle.
        let held = self.link.as_ref().map(UpgradeLink::hold);
        let (timeout, phase) = self
            .link
            .map_or((None, None), |link| (link.timeout, Some(link.phase)));
        let config = self.config;
        let on = self.on;
        tokio::spawn(async move {
            let _held = held;
            let upgraded = match on.await {
                Ok(upgraded) => upgraded,
                Err(e) => {
                    tracing::debug!(target: "httpout::ws", "upgrade failed: {e}");
                    return;
                }
            };
            let ws_config = WebSocketConfig::default()
                .read_buffer_size(READ_BUFFER)
                .write_buffer_size(0)
                .max_write_buffer_size(config.max_message_len().saturating_mul(2).max(1 << 20))
                .max_message_size(Some(config.max_message_len()))
                .max_frame_size(Some(config.max_message_len()));
            let ws = WebSocketStream::from_raw_socket(
                TokioIo::new(upgraded),
                Role::Server,
                Some(ws_config),
            )
            .await;
            let shared = Shared::new(&config);
            let socket = Socket::new(&shared);
            tokio::spawn(on_socket(socket));
            driver::run(ws, shared, timeout, phase).await;
        });
        res
    }
}

/// `Sec-WebSocket-Accept` for `key` (RFC 6455 §4.2.2).
fn accept_key(key: &[u8]) -> HeaderValue {
    let mut sha1 = Sha1::new();
    sha1.update(key);
    sha1.update(GUID.as_bytes());
    let accept = base64::engine::general_purpose::STANDARD.encode(sha1.finalize());
    HeaderValue::from_str(&accept).expect("base64 is a valid header value")
}

/// Whether a comma-separated header of `req` lists `token`.
fn has_token<B>(req: &Request<B>, name: http::header::HeaderName, token: &str) -> bool {
    req.headers()
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| t.trim().eq_ignore_ascii_case(token))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_key_is_rfc_6455s_example() {
        // RFC 6455 §1.3.
        let accept = accept_key(b"dGhlIHNhbXBsZSBub25jZQ==");
        assert_eq!(accept, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    }

    #[test]
    fn refusals_are_426_or_400() {
        let mut plain = Request::get("/").body(()).unwrap();
        let e = Upgrade::new(&mut plain).unwrap_err();
        assert_eq!(e.status(), StatusCode::UPGRADE_REQUIRED);
        let mut v8 = Request::get("/")
            .header("upgrade", "websocket")
            .header("connection", "Upgrade")
            .header("sec-websocket-version", "8")
            .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")
            .body(())
            .unwrap();
        assert_eq!(
            Upgrade::new(&mut v8).unwrap_err().status(),
            StatusCode::UPGRADE_REQUIRED
        );
        let mut no_key = Request::get("/")
            .header("upgrade", "websocket")
            .header("connection", "keep-alive, Upgrade")
            .header("sec-websocket-version", "13")
            .body(())
            .unwrap();
        assert_eq!(
            Upgrade::new(&mut no_key).unwrap_err().status(),
            StatusCode::BAD_REQUEST
        );
        let mut short_key = Request::get("/")
            .header("upgrade", "websocket")
            .header("connection", "Upgrade")
            .header("sec-websocket-version", "13")
            .header("sec-websocket-key", "c2hvcnQ=")
            .body(())
            .unwrap();
        assert_eq!(
            Upgrade::new(&mut short_key).unwrap_err().status(),
            StatusCode::BAD_REQUEST
        );
    }
}

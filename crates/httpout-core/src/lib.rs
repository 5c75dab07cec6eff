//! httpout-core: the engine under every httpout mode, and a library other
//! Rust programs can embed.
//!
//! It binds listeners (TCP, TLS, Unix sockets), serves HTTP/1.1 and HTTP/2 on
//! each (h2c by prior knowledge, ALPN `h2` over TLS), enforces connection
//! limits and timeouts, decodes request paths once, and hands each request to
//! a [`Handler`]. Modes (static files, live sink, file sink, source) are
//! handlers mounted on a [`Router`].
//!
//! # Request path
//! 1. accept: `listen` — `maxc`/`maxp` admission, TCP_NODELAY;
//! 2. TLS: `tls` — handshake within `timeout`, ALPN;
//! 3. connection: `conn` — a mode's [`ConnHook`], hyper's h1 or h2 (told
//!    by the first bytes), idle, first-request and write-stall deadlines,
//!    graceful shutdown; long plain HTTP/1.1 bodies written outside hyper
//!    (`writev`, `sendfile`);
//! 4. admit: `service` — request log start, [`SafePath`] (decode once),
//!    access;
//! 5. methods: `service::methods` — `OPTIONS`, CORS preflights, 405/501
//!    from the handler's [`Allow`];
//! 6. route: [`Router`] — exact path, `{name}` pattern, regular
//!    expression, longest mount prefix → handler; authorisation per prefix
//!    ([`Router::auth`]);
//! 7. mode: the mount's [`Handler`] decides and builds a response;
//! 8. body: [`Body`], pulled by hyper with backpressure;
//! 9. finish: HEAD bodies dropped; `response` — `Server`, `hdrs`,
//!    `Server-UTC`, CORS, `Connection: close`; [`Error`] → status in
//!    [`Error::into_response`]; request log end, and a server error's
//!    cause, when the body is done.
//!
//! # Layout
//! - [`config`]: [`ServerConfig`] and its value types ([`ListenSpec`],
//!   [`Cors`], [`ReqLog`], [`ServerTokens`]), [`ConfigError`]; no clap;
//! - `options` (feature `cli`): `CoreArgs`, the engine's clap option group,
//!   and the value parsers of every mode's group;
//! - layers, each file importing only from below it: `server` → `listen`
//!   (with `limit`, `tls`) → `conn` (`mod`: the loop; `io`: the hook and
//!   the write watch) → `service` (`mod`: one request; `methods`;
//!   `tracked`: its end) → `conn::state` (the connection's deadlines) and
//!   the value types; `response`, `reqlog`: the common headers and the log;
//! - [`ConnHook`], [`Io`]: the hook a mode installs for its clients' quirks;
//! - [`metrics`]: the [`Metrics`] registry (Prometheus), updated by the
//!   engine and the modes; `service::builtin` serves it and the health check;
//! - [`ws`]: WebSockets (an [`ws::Upgrade`] accepted by a handler, a
//!   [`ws::Socket`] and its [`ws::Sender`]s);
//! - [`timeout`]: the one rule for `--timeout` (0: none);
//! - [`media_type`]: the one table of media types by file name (and
//!   [`media_type::MediaTypes`], a `mime.types` file over it); [`html`]: escaping
//!   for generated pages;
//! - `path`: [`SafePath`]; [`router`]: [`Router`], [`router::MethodRouter`]
//!   ([`router::get`], ...), [`router::Params`]; `handler`: [`Handler`], [`Ctx`];
//! - for handlers: [`form`] (query strings, urlencoded and multipart forms,
//!   bounded) and [`session`] (cookie sessions in memory or in a data
//!   directory);
//! - `body`: [`Body`]; `error`: [`Error`], [`StartError`]; `server`: [`Server`], [`Running`];
//!   `run`: [`serve`] (a server in one call, its own runtime) and
//!   [`Running::run_for`].
//!
//! # Example
//! ```
//! use httpout_core::{Body, Ctx, Error, Router, Server, ServerConfig};
//! use http::{Request, Response};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let hello = |_req: Request<Body>, ctx: Ctx| async move {
//!     Ok::<_, Error>(Response::new(Body::full(format!("hello from {}\n", ctx.mount))))
//! };
//! let server = Server::bind(ServerConfig::default()).await?; // http://127.0.0.1:0
//! let addr = server.local_addrs()[0].clone();
//! let running = server.serve(Router::new().mount("/hello", hello));
//! println!("serving on {addr}");
//! running.handle().shutdown(std::time::Duration::from_secs(1)).await;
//! # Ok(()) }
//! ```

pub mod auth;
pub mod html;
pub mod media_type;
pub mod metrics;
#[cfg(feature = "cli")]
pub mod options;

mod body;
pub mod config;
mod conn;
mod current;
mod error;
pub mod form;
mod handler;
mod hook;
mod limit;
mod listen;
mod path;
mod proxy;
mod reqlog;
mod response;
pub mod router;
mod run;
mod server;
mod service;
pub mod session;
pub mod timeout;
mod tls;
pub mod utc;
pub mod ws;

pub use body::{Body, BoxError};
pub use config::SERVER_NAME;
pub use config::{
    Cidr, ClientCa, ConfigError, Cors, ListenSpec, ReqLog, ServerConfig, ServerTokens, TlsFiles,
};
pub use conn::lean::{FILE_MIN as LEAN_FILE_MIN, FileRegion, LongLived};
pub use conn::state::{SendBuffer, StallLimit};
pub use error::{Error, StartError};
pub use handler::{Allow, Ctx, Handler, HandlerFuture};
pub use hook::{ConnHook, Io};
pub use listen::Inherited;
pub use metrics::Metrics;
pub use path::SafePath;
pub use reqlog::log_server_error;
pub use response::SERVER_UTC;
pub use router::Router;
pub use run::{DEFAULT_GRACE, serve};
pub use server::{PreparedReload, Running, Server, Shutdown, ShutdownHandle};

/// Re-exported so embedders name the same types.
pub use http;
/// Re-exported for [`Router::regex_compiled`].
pub use regex;

//! The engine's configuration: built by an embedder, or by the command
//! line's `CoreArgs` (`options`, with the `cli` feature). Nothing here
//! knows the command line.

mod error;
mod server_tokens;
mod value;

pub use error::ConfigError;
pub use server_tokens::{SERVER_NAME, ServerTokens};
pub use value::{Cidr, Cors, ListenSpec, ReqLog};

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use http::{HeaderName, HeaderValue};

use crate::auth::Access;
use crate::hook::ConnHook;
use crate::metrics::Metrics;

/// PEM files for TLS listeners.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// Certificate chain (`cert`).
    pub cert: PathBuf,
    /// Private key (`pkey`).
    pub key: PathBuf,
    /// CA certificates that sign client certificates (`ca`): none, no
    /// client certificate is asked for.
    pub ca: Option<ClientCa>,
}

/// Client certificates (mutual TLS): who signs them, whether required.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientCa {
    /// PEM bundle of the CA certificates (`ca`).
    pub file: PathBuf,
    /// Ask for a certificate without requiring one (`ca_optional`):
    /// clients without one are anonymous; one that does not verify still
    /// fails the handshake.
    pub optional: bool,
}

/// Everything the engine needs to know: listeners, limits, common headers.
///
/// `ServerConfig::default()` listens on `http://127.0.0.1:0` with the
/// reference's defaults.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Listeners to open. Default: `http://127.0.0.1:0`.
    pub listeners: Vec<ListenSpec>,
    /// When a TCP listener's port is taken, try the next ones upward, to
    /// 65535, until one binds (`--port=scan:START`, Net::HTTPServer's
    /// `port => "scan"`); [`crate::Server::local_addrs`] tells which. Port
    /// 0 is never scanned. Default false: a taken port is an error.
    pub port_scan: bool,
    /// Certificate and key for `https://` listeners. Default: none.
    pub tls: Option<TlsFiles>,
    /// Maximum connections in all, 0 unlimited. Default 100.
    pub maxc: u32,
    /// Maximum connections per peer IP, 0 unlimited. Default 6.
    pub maxp: u32,
    /// Idle keep-alive, request-header, TLS-handshake and response-stall
    /// timeout; `None` disables it. Default 30 s.
    pub timeout: Option<Duration>,
    /// Deadline of a connection's first request head, from accept, when
    /// shorter than `timeout` (a client that connects must ask soon; one
    /// that keeps its connection open between requests gets `timeout`);
    /// `None`: `timeout`. Default 10 s.
    pub header_timeout: Option<Duration>,
    /// New connections per second from one peer address, 0 unlimited; over
    /// it a connection is answered 503 like one over `maxp`. Default 0.
    pub max_conn_rate: u32,
    /// Close every HTTP/1 connection after one response. Default false.
    pub close: bool,
    /// Close an HTTP/1 connection after this many consecutive error
    /// responses, 0 never. Default 20.
    pub max_client_errors: u32,
    /// Extra headers on every response (`hdrs`). Default none.
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// The `Server` header of responses whose handler set none
    /// (`server_tokens`). Default `httpout/VERSION`.
    pub server_tokens: ServerTokens,
    /// Add `Server-UTC` to every response. Default false.
    pub sutc: bool,
    /// Answer `TRACE` with the request echoed (`message/http`, credentials
    /// and cookies removed); otherwise 405. Default false (it can leak
    /// credentials through cross-site tracing).
    pub trace: bool,
    /// CORS policy. Default auto.
    pub cors: Cors,
    /// Request log on stderr. Default none.
    pub reqlog: Option<ReqLog>,
    /// Access rules, users and credentials checks. Default none: everything
    /// is open.
    pub access: Option<Arc<Access>>,
    /// Peers whose `Forwarded` / `X-Forwarded-*` headers are believed
    /// (`trusted_proxies`): from them, the client's address, scheme and
    /// host are taken from those headers, and `maxp` counts requests per
    /// client address instead of connections per peer (`max_conn_rate`
    /// does not apply to them). Default none: those headers are ignored.
    pub trusted_proxies: Vec<Cidr>,
    /// A mode's protocol quirks: an adapter under hyper on every
    /// connection, methods that write (the live sink installs its Icecast
    /// source clients' this way). Default none.
    pub conn_hook: Option<Arc<dyn ConnHook>>,
    /// The metrics this server updates; share one among the servers of a
    /// process. Default: a registry of its own.
    pub metrics: Arc<Metrics>,
    /// Path answering [`ServerConfig::metrics`] in the Prometheus text
    /// format (`/metrics`), to the addresses of `metrics_allow` only.
    /// Default none: not served.
    pub metrics_path: Option<String>,
    /// Client addresses the metrics path answers; others get 403. The
    /// client is the one a trusted proxy names (`trusted_proxies`), not
    /// the proxy. Unix socket peers are always allowed. Default: loopback
    /// (127.0.0.0/8, ::1).
    pub metrics_allow: Vec<Cidr>,
    /// Path of the readiness check (`/healthz`): 200 `ok` while serving,
    /// 503 once shutdown has begun, to everyone, without access checks or
    /// a request log line. Default none.
    pub health_path: Option<String>,
    /// Path of the clock for DASH/HLS players (`/time`): the time now to
    /// the millisecond (`urn:mpeg:dash:utc:http-iso:2014`,
    /// `http-xsdate:2014`), and its `Date` on HEAD (`http-head:2014`), to
    /// everyone, never cached. Default none.
    pub utc_timing_path: Option<String>,
}

/// The default of [`ServerConfig::metrics_allow`]: loopback.
pub fn loopback() -> Vec<Cidr> {
    ["127.0.0.0/8", "::1/128"]
        .iter()
        .map(|net| net.parse().expect("valid networks"))
        .collect()
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listeners: vec![ListenSpec::Http(([127, 0, 0, 1], 0).into())],
            port_scan: false,
            tls: None,
            maxc: 100,
            maxp: 6,
            timeout: Some(Duration::from_secs(30)),
            header_timeout: Some(Duration::from_secs(10)),
            max_conn_rate: 0,
            close: false,
            max_client_errors: 20,
            headers: Vec::new(),
            server_tokens: ServerTokens::default(),
            sutc: false,
            trace: false,
            cors: Cors::Auto,
            reqlog: None,
            access: None,
            trusted_proxies: Vec::new(),
            conn_hook: None,
            metrics: Arc::default(),
            metrics_path: None,
            metrics_allow: loopback(),
            health_path: None,
            utc_timing_path: None,
        }
    }
}

//! The engine's configuration, resolved from [`Options`] or built by an embedder.

use std::path::PathBuf;
use std::time::Duration;

use http::{HeaderName, HeaderValue};

use std::sync::Arc;

use crate::auth::Access;
use crate::auth::rules::Rules;
use crate::auth::users::Users;
use crate::options::Options;
use crate::options::value::{Cors, ListenSpec, ReqLog};

/// PEM files for TLS listeners.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// Certificate chain (`cert`).
    pub cert: PathBuf,
    /// Private key (`pkey`).
    pub key: PathBuf,
}

/// Everything the engine needs to know: listeners, limits, common headers.
///
/// `ServerConfig::default()` listens on `http://127.0.0.1:0` with the
/// reference's defaults; [`ServerConfig::from_options`] takes a parsed command line.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Listeners to open. Default: `http://127.0.0.1:0`.
    pub listeners: Vec<ListenSpec>,
    /// Certificate and key for `https://` listeners. Default: none.
    pub tls: Option<TlsFiles>,
    /// Maximum connections in all, 0 unlimited. Default 100.
    pub maxc: u32,
    /// Maximum connections per peer IP, 0 unlimited. Default 6.
    pub maxp: u32,
    /// Idle keep-alive, request-header and TLS-handshake timeout; `None`
    /// disables it. Default 30 s.
    pub timeout: Option<Duration>,
    /// Close every HTTP/1 connection after one response. Default false.
    pub close: bool,
    /// Close an HTTP/1 connection after this many consecutive error
    /// responses, 0 never. Default 20.
    pub max_client_errors: u32,
    /// Extra headers on every response (`hdrs`). Default none.
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// Add `Server-UTC` to every response. Default false.
    pub sutc: bool,
    /// CORS policy. Default auto.
    pub cors: Cors,
    /// Request log on stderr. Default none.
    pub reqlog: Option<ReqLog>,
    /// Access rules, users and credentials checks. Default none: everything
    /// is open.
    pub access: Option<Arc<Access>>,
    /// Read Icecast source clients' bodies, which run to the end of the
    /// connection without a length (see `source_body.rs`). Default false.
    pub source_clients: bool,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listeners: vec![ListenSpec::Http(([127, 0, 0, 1], 0).into())],
            tls: None,
            maxc: 100,
            maxp: 6,
            timeout: Some(Duration::from_secs(30)),
            close: false,
            max_client_errors: 20,
            headers: Vec::new(),
            sutc: false,
            cors: Cors::Auto,
            reqlog: None,
            access: None,
            source_clients: false,
        }
    }
}

impl ServerConfig {
    /// The engine part of a parsed command line.
    pub fn from_options(opts: &Options) -> Result<Self, String> {
        Ok(Self {
            listeners: opts.listeners(),
            tls: match (&opts.cert, &opts.pkey) {
                (Some(cert), Some(key)) => Some(TlsFiles {
                    cert: cert.clone(),
                    key: key.clone(),
                }),
                _ => None,
            },
            maxc: opts.maxc,
            maxp: opts.maxp,
            timeout: crate::timeout::from_secs(opts.timeout),
            close: opts.close,
            max_client_errors: opts.max_client_errors,
            // Set by whoever mounts a live sink (the CLI does).
            source_clients: false,
            headers: opts.headers()?,
            sutc: opts.sutc,
            cors: opts.cors,
            reqlog: opts.reqlog.clone(),
            access: access_from_options(opts)?,
        })
    }
}

/// The access policy of the options: rules files among `rdirs`, `--users`,
/// `--auth_file`; `None` when there is nothing to check.
fn access_from_options(opts: &Options) -> Result<Option<Arc<Access>>, String> {
    let mut rules = Rules::default();
    for entry in opts.rdirs.iter().filter(|p| p.is_file()) {
        rules
            .load(entry)
            .map_err(|e| format!("invalid value '{}' for --rdirs: {e}", entry.display()))?;
    }
    let users = match &opts.users {
        Some(path) => Users::load(path)
            .map_err(|e| format!("invalid value '{}' for --users: {e}", path.display()))?,
        None if rules.restricts() => {
            return Err(
                "--rdirs has a rules file that restricts access, but no --users file was given"
                    .into(),
            );
        }
        None => Users::default(),
    };
    let auth_lines = match &opts.auth_file {
        Some(path) => Some(
            Access::load_auth_file(path)
                .map_err(|e| format!("invalid value '{}' for --auth_file: {e}", path.display()))?,
        ),
        None => None,
    };
    if rules.sections().is_empty() && auth_lines.is_none() {
        return Ok(None);
    }
    Access::new(rules, users, auth_lines)
        .map(|a| Some(Arc::new(a)))
        .map_err(|e| format!("invalid value for --users: {e}"))
}

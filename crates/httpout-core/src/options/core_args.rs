//! The engine's options: listeners, limits, common headers, access.

use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;

use clap::Args;
use http::{HeaderName, HeaderValue};

use super::value::{
    Port, parse_cidr, parse_digest, parse_ifce, parse_listen, parse_port_spec, parse_reqlog,
    parse_resource_path, parse_seconds, parse_server_tokens, parse_u32,
};
use crate::auth::rules::Rules;
use crate::auth::users::Users;
use crate::auth::{Access, AccessOptions, Algorithm};
use crate::config::{
    Cidr, ClientCa, ConfigError, Cors, ListenSpec, ReqLog, ServerConfig, ServerTokens, TlsFiles,
};

/// The engine's options (see `docs/options.md`).
#[derive(Debug, Clone, PartialEq, Eq, Args)]
pub struct CoreArgs {
    // ----- Listening -----
    /// Server port; 0 picks a free one; `scan:START`: the first free port from START up (to 65535). Default 8080 unless an `-o` URL gives one.
    #[arg(long, value_name = "PORT", value_parser = parse_port_spec, help_heading = "Listening")]
    pub port: Option<Port>,

    /// Network interface (IP address) to bind; all interfaces when unset.
    #[arg(long, value_name = "IP", value_parser = parse_ifce, help_heading = "Listening")]
    pub ifce: Option<IpAddr>,

    /// Listeners, comma-separated: `http://IP:PORT`, `https://IP:PORT`, `unix:PATH`, `proxy+http(s)://IP:PORT` (PROXY protocol first); replaces ifce/port.
    #[arg(long, value_name = "LIST", value_delimiter = ',', value_parser = parse_listen, help_heading = "Listening")]
    pub listen: Vec<ListenSpec>,

    /// Certificate chain file in PEM format; enables HTTPS with `pkey`.
    #[arg(long, value_name = "PATH", help_heading = "Listening")]
    pub cert: Option<PathBuf>,

    /// Private key file in PEM format for `cert`.
    #[arg(long, value_name = "PATH", help_heading = "Listening")]
    pub pkey: Option<PathBuf>,

    /// CA certificates (PEM bundle) that sign client certificates: HTTPS clients must present one (mutual TLS); its subject's CN is the user for rules.
    #[arg(long, value_name = "PATH", help_heading = "Listening")]
    pub ca: Option<PathBuf>,

    /// With `ca`: a client certificate is asked for but not required; clients without one are anonymous.
    #[arg(
        long = "ca_optional",
        alias = "ca-optional",
        value_name = "BOOL",
        default_value = "false",
        help_heading = "Listening"
    )]
    pub ca_optional: bool,

    // ----- Connections -----
    /// Maximum number of connections, 0 is unlimited.
    #[arg(long, value_name = "N", value_parser = parse_u32, default_value = "100", help_heading = "Connections")]
    pub maxc: u32,

    /// Maximum number of connections for one peer address, 0 is unlimited.
    #[arg(long, value_name = "N", value_parser = parse_u32, default_value = "6", help_heading = "Connections")]
    pub maxp: u32,

    /// Timeout in seconds for idle persistent connections and request headers (0 disables).
    #[arg(long, value_name = "SECONDS", value_parser = parse_seconds, default_value = "30", help_heading = "Connections")]
    pub timeout: u64,

    /// Seconds a new connection has to send its first request head (0: `timeout`); shorter of the two applies.
    #[arg(long = "header_timeout", alias = "header-timeout", value_name = "SECONDS", value_parser = parse_seconds, default_value = "10", help_heading = "Connections")]
    pub header_timeout: u64,

    /// New connections per second accepted from one peer address, 0 is unlimited (over it: 503).
    #[arg(long = "max_conn_rate", alias = "max-conn-rate", value_name = "N", value_parser = parse_u32, default_value = "0", help_heading = "Connections")]
    pub max_conn_rate: u32,

    /// Proxies whose `Forwarded`/`X-Forwarded-*` headers give the client (networks, comma-separated); maxp then counts requests per client.
    #[arg(long = "trusted_proxies", alias = "trusted-proxies", value_name = "CIDR,...", value_delimiter = ',', value_parser = parse_cidr, help_heading = "Connections")]
    pub trusted_proxies: Vec<Cidr>,

    /// Close the HTTP connection after each request.
    #[arg(
        long,
        value_name = "BOOL",
        default_value = "false",
        help_heading = "Connections"
    )]
    pub close: bool,

    /// Disconnect an HTTP/1.1 client after this many consecutive error responses (0 never).
    #[arg(long = "max_client_errors", alias = "max-client-errors", value_name = "N", value_parser = parse_u32, default_value = "20", help_heading = "Connections")]
    pub max_client_errors: u32,

    /// Seconds given to in-flight requests to finish on SIGINT/SIGTERM before the process exits.
    #[arg(long, value_name = "SECONDS", value_parser = parse_seconds, default_value = "10", help_heading = "Connections")]
    pub grace: u64,

    /// Serve this many seconds, then exit 0 as on SIGTERM (in-flight requests get `grace`); unset: until a signal.
    #[arg(long = "run_for", alias = "run-for", value_name = "SECONDS", value_parser = parse_run_for, help_heading = "Connections")]
    pub run_for: Option<u64>,

    // ----- Responses -----
    /// Additional headers on every response, comma-separated: name,value,name,value...
    #[arg(
        long,
        value_name = "LIST",
        value_delimiter = ',',
        help_heading = "Responses"
    )]
    pub hdrs: Vec<String>,

    /// Products added to `Server: httpout/VERSION`, separated by `;` (`myapp/1.2;beta`); `off`: `Server: httpout`, without version.
    #[arg(long = "server_tokens", alias = "server-tokens", value_name = "TOKENS", value_parser = parse_server_tokens, help_heading = "Responses")]
    pub server_tokens: Option<ServerTokens>,

    /// Insert the server clock as `Server-UTC: <ms since the epoch>` in responses.
    #[arg(
        long,
        value_name = "BOOL",
        default_value = "false",
        help_heading = "Responses"
    )]
    pub sutc: bool,

    /// Answer TRACE with the request echoed as `message/http` (without `Authorization`, `Proxy-Authorization`, `Cookie`); off: 405.
    #[arg(
        long,
        value_name = "BOOL",
        default_value = "false",
        help_heading = "Responses"
    )]
    pub trace: bool,

    /// CORS headers allowing all origins: off, on, or auto (when the request has an `Origin`).
    #[arg(long, value_enum, value_name = "MODE", default_value_t = Cors::Auto, help_heading = "Responses")]
    pub cors: Cors,

    /// Short request log on stderr: `*` or methods (comma-separated), `REC` for writes, `-` prefix: no end line.
    #[arg(long, value_name = "LIST", value_parser = parse_reqlog, help_heading = "Responses")]
    pub reqlog: Option<ReqLog>,

    // ----- Access -----
    /// Users file (argon2id hashes), managed with `httpout users`; needed by rules files.
    #[arg(long, value_name = "PATH", help_heading = "Access")]
    pub users: Option<PathBuf>,

    /// File of accepted `Authorization` header values, one per line (simple mode).
    #[arg(
        long = "auth_file",
        alias = "auth-file",
        value_name = "PATH",
        help_heading = "Access"
    )]
    pub auth_file: Option<PathBuf>,

    /// Digest algorithms offered, in the order of the challenges: `sha-256`, `md5` (weak; for clients that know no other: Python's urllib takes only the first challenge).
    #[arg(long, value_name = "LIST", value_delimiter = ',', value_parser = parse_digest, default_value = "sha-256", help_heading = "Access")]
    pub digest: Vec<Algorithm>,

    // ----- Operations -----
    /// Path serving the metrics in the Prometheus text format (e.g. `/metrics`), to `metrics_allow` only; off when unset.
    #[arg(long, value_name = "PATH", value_parser = parse_resource_path, help_heading = "Operations")]
    pub metrics: Option<String>,

    /// Addresses allowed to read `metrics`, comma-separated CIDR blocks or addresses; others get 403.
    #[arg(long = "metrics_allow", alias = "metrics-allow", value_name = "CIDR,...", value_delimiter = ',', value_parser = parse_cidr, default_values = ["127.0.0.0/8", "::1/128"], help_heading = "Operations")]
    pub metrics_allow: Vec<Cidr>,

    /// Path of the readiness check (e.g. `/healthz`): 200 `ok` while serving, 503 once stopping; open to all, not logged.
    #[arg(long, value_name = "PATH", value_parser = parse_resource_path, help_heading = "Operations")]
    pub health: Option<String>,

    /// Path of a clock for DASH/HLS players (e.g. `/time`): the time to the millisecond (`urn:mpeg:dash:utc:http-iso:2014`), `Date` on HEAD; open to all.
    #[arg(long = "utc_timing", alias = "utc-timing", value_name = "PATH", value_parser = parse_resource_path, help_heading = "Operations")]
    pub utc_timing: Option<String>,
}

/// Parses `--run_for`: whole seconds, at least 1.
fn parse_run_for(s: &str) -> Result<u64, String> {
    parse_seconds(s)
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| "expected a whole number of seconds from 1 to a year, e.g. 60".into())
}

impl CoreArgs {
    /// The rules that span several of these options.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.cert.is_some() != self.pkey.is_some() {
            return Err(ConfigError::option(
                "--cert",
                "and --pkey go together: give both PEM files, or neither",
            ));
        }
        let https = self.listen.iter().any(ListenSpec::is_tls);
        if https && self.cert.is_none() {
            return Err(ConfigError::option(
                "--listen",
                "has an https:// (or proxy+https://) listener but no --cert/--pkey were given",
            ));
        }
        if self.ca.is_some() && self.cert.is_none() {
            return Err(ConfigError::option(
                "--ca",
                "asks for client certificates, which need TLS: give --cert and --pkey too",
            ));
        }
        if self.ca_optional && self.ca.is_none() {
            return Err(ConfigError::option(
                "--ca_optional",
                "needs --ca, the CA certificates that sign the client certificates",
            ));
        }
        if let Some(twice) = self
            .digest
            .iter()
            .enumerate()
            .find(|(i, a)| self.digest[..*i].contains(a))
        {
            return Err(ConfigError::invalid(
                "--digest",
                self.digest
                    .iter()
                    .map(|a| a.token().to_ascii_lowercase())
                    .collect::<Vec<_>>()
                    .join(","),
                format!(
                    "names {} twice: expected sha-256 and md5 at most once each",
                    twice.1
                ),
            ));
        }
        if !self.listen.is_empty() && (self.port.is_some() || self.ifce.is_some()) {
            return Err(ConfigError::option(
                "--listen",
                "replaces --ifce and --port: give one or the other",
            ));
        }
        if self.metrics.is_some() && self.metrics == self.health {
            return Err(ConfigError::option(
                "--health",
                "and --metrics name the same path: give each its own",
            ));
        }
        if self.utc_timing.is_some()
            && (self.utc_timing == self.metrics || self.utc_timing == self.health)
        {
            return Err(ConfigError::option(
                "--utc_timing",
                "names the same path as --metrics or --health: give each its own",
            ));
        }
        self.headers().map(|_| ())
    }

    /// The `hdrs` option as (name, value) pairs; errors say which item is wrong.
    pub fn headers(&self) -> Result<Vec<(HeaderName, HeaderValue)>, ConfigError> {
        if self.hdrs.len() % 2 != 0 {
            return Err(ConfigError::invalid(
                "--hdrs",
                self.hdrs.join(","),
                format!(
                    "expected name,value pairs, got an odd number of items ({})",
                    self.hdrs.len()
                ),
            ));
        }
        self.hdrs
            .chunks(2)
            .map(|pair| {
                let name = HeaderName::from_bytes(pair[0].trim().as_bytes()).map_err(|_| {
                    ConfigError::invalid("--hdrs", &pair[0], "expected a header name")
                })?;
                let value = HeaderValue::from_str(pair[1].trim()).map_err(|_| {
                    ConfigError::invalid(
                        "--hdrs",
                        &pair[1],
                        "expected a header value (visible ASCII)",
                    )
                })?;
                Ok((name, value))
            })
            .collect()
    }

    /// The listeners to open: `--listen` as given, else one from `ifce`
    /// (all interfaces when unset) and `--port` (else `default_port`),
    /// HTTPS when `cert` is set.
    pub fn listeners(&self, default_port: u16) -> Vec<ListenSpec> {
        if !self.listen.is_empty() {
            return self.listen.clone();
        }
        let ip = self.ifce.unwrap_or(IpAddr::V6(Ipv6Addr::UNSPECIFIED));
        let addr = SocketAddr::new(ip, self.port.map_or(default_port, |p| p.number));
        if self.cert.is_some() {
            vec![ListenSpec::Https(addr)]
        } else {
            vec![ListenSpec::Http(addr)]
        }
    }

    /// The engine's configuration for `listeners`, with access checked by
    /// `rules` (the rules files among `--rdirs`, read once by the caller),
    /// `--users` and `--auth_file`.
    pub fn server_config(
        &self,
        listeners: Vec<ListenSpec>,
        rules: &Rules,
    ) -> Result<ServerConfig, ConfigError> {
        Ok(ServerConfig {
            listeners,
            port_scan: self.port.is_some_and(|p| p.scan),
            tls: match (&self.cert, &self.pkey) {
                (Some(cert), Some(key)) => Some(TlsFiles {
                    cert: cert.clone(),
                    key: key.clone(),
                    ca: self.ca.as_ref().map(|file| ClientCa {
                        file: file.clone(),
                        optional: self.ca_optional,
                    }),
                }),
                _ => None,
            },
            maxc: self.maxc,
            maxp: self.maxp,
            timeout: crate::timeout::from_secs(self.timeout),
            header_timeout: crate::timeout::from_secs(self.header_timeout),
            max_conn_rate: self.max_conn_rate,
            close: self.close,
            max_client_errors: self.max_client_errors,
            // Set by whoever mounts a live sink (the CLI does).
            conn_hook: None,
            headers: self.headers()?,
            server_tokens: self.server_tokens.clone().unwrap_or_default(),
            sutc: self.sutc,
            trace: self.trace,
            cors: self.cors,
            reqlog: self.reqlog.clone(),
            access: self.access(rules)?,
            // The CLI shares one registry among its servers.
            metrics: Arc::default(),
            metrics_path: self.metrics.clone(),
            metrics_allow: self.metrics_allow.clone(),
            health_path: self.health.clone(),
            utc_timing_path: self.utc_timing.clone(),
            trusted_proxies: self.trusted_proxies.clone(),
        })
    }

    /// The access policy: `rules`, `--users`, `--auth_file`; `None` when
    /// there is nothing to check.
    fn access(&self, rules: &Rules) -> Result<Option<Arc<Access>>, ConfigError> {
        let users = match &self.users {
            Some(path) => {
                Users::load(path).map_err(|e| ConfigError::invalid("--users", path.display(), e))?
            }
            // Certificate users need no users file.
            None if rules.restricts() && self.ca.is_none() => {
                return Err(ConfigError::option(
                    "--rdirs",
                    "has a rules file that restricts access, but no --users file was given",
                ));
            }
            None => Users::default(),
        };
        let auth_lines = match &self.auth_file {
            Some(path) => Some(
                Access::load_auth_file(path)
                    .map_err(|e| ConfigError::invalid("--auth_file", path.display(), e))?,
            ),
            None => None,
        };
        if rules.sections().is_empty() && auth_lines.is_none() {
            return Ok(None);
        }
        let options = AccessOptions {
            auth_lines,
            digest: self.digest.clone(),
            certificates: self.ca.is_some(),
        };
        Access::with_options(rules.clone(), users, options)
            .map(|a| Some(Arc::new(a)))
            .map_err(|e| ConfigError::option("--users", e))
    }
}

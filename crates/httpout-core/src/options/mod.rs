//! The options table: every option of GPAC's httpout filter, defined once.
//!
//! [`Options`] is a clap-derive struct; each field's doc comment is its
//! `--help` line and its line in `docs/options.md` ([`markdown`]). Options are
//! given as long flags (`--rdirs=out --port 8080`), as a GPAC filter string
//! (`httpout:rdirs=out:port=8080`) or as suffixes of an output URL
//! (`-o http://localhost:8080/live.mp3:hold`); the last two are rewritten into
//! long flags by [`gpac::rewrite`] before clap runs, so all three give the same
//! [`Options`].
//!
//! Names, types and defaults follow the reference unless `docs/options.md`
//! says why ours differ (`port` defaults to 8080, sizes take K/M/G suffixes).

pub mod gpac;
pub mod value;

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::fmt::Write as _;
use std::path::PathBuf;

use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::parser::ValueSource;
use clap::{ArgAction, CommandFactory, FromArgMatches, Parser};
use http::{HeaderName, HeaderValue};

use value::{
    Amount, Cors, HMode, ListenSpec, ReqLog, SinkKind, parse_amount, parse_bitrate, parse_bool,
    parse_i64, parse_ifce, parse_listen, parse_millis, parse_port, parse_reqlog, parse_seconds,
    parse_size, parse_u32,
};

/// Port used when neither `--port`, `--listen` nor an `-o` URL gives one.
pub const DEFAULT_PORT: u16 = 8080;

/// Every httpout option. See the crate docs and `docs/options.md`.
#[derive(Debug, Clone, PartialEq, Parser)]
#[command(
    name = "httpout",
    version,
    about = "Media HTTP server: static files, live relay, low-latency file sink, push client, source mode.",
    long_about = None,
    after_help = "Options can also be given GPAC-style: `httpout httpout:rdirs=out:port=8080`, or as \
                  suffixes of an output URL: `-o http://localhost:8080/live.mp3:hold`.\n\
                  Sizes take K, M or G suffixes (binary). Boolean flags alone mean true (`--dlist`), \
                  or take a value (`--dlist=false`)."
)]
pub struct Options {
    // ----- Inputs and outputs -----
    /// Input to serve: a file, a FIFO, or `-` for stdin (live sink, file sink, push).
    #[arg(
        short = 'i',
        long = "input",
        value_name = "SOURCE",
        help_heading = "Inputs and outputs"
    )]
    pub inputs: Vec<String>,

    /// Output URL (`http://HOST:PORT/NAME`), optionally followed by `:opt=value` suffixes.
    #[arg(
        short = 'o',
        long = "output",
        value_name = "URL",
        help_heading = "Inputs and outputs"
    )]
    pub outputs: Vec<String>,

    /// Location of the destination resource (push mode).
    #[arg(long, value_name = "URL", help_heading = "Inputs and outputs")]
    pub dst: Option<String>,

    /// Run mode: `default` (server), `push` (upload to `dst`) or `source` (uploads become inputs).
    #[arg(long, value_enum, value_name = "MODE", default_value_t = HMode::Default, help_heading = "Inputs and outputs")]
    pub hmode: HMode,

    // ----- Listening -----
    /// Server port; 0 picks a free one. Default 8080 unless an `-o` URL gives one.
    #[arg(long, value_name = "PORT", value_parser = parse_port, help_heading = "Listening")]
    pub port: Option<u16>,

    /// Network interface (IP address) to bind; all interfaces when unset.
    #[arg(long, value_name = "IP", value_parser = parse_ifce, help_heading = "Listening")]
    pub ifce: Option<std::net::IpAddr>,

    /// Listeners, comma-separated: `http://IP:PORT`, `https://IP:PORT`, `unix:PATH` (replaces ifce/port).
    #[arg(long, value_name = "LIST", value_delimiter = ',', value_parser = parse_listen, help_heading = "Listening")]
    pub listen: Vec<ListenSpec>,

    /// Certificate chain file in PEM format; enables HTTPS with `pkey`.
    #[arg(long, value_name = "PATH", help_heading = "Listening")]
    pub cert: Option<PathBuf>,

    /// Private key file in PEM format for `cert`.
    #[arg(long, value_name = "PATH", help_heading = "Listening")]
    pub pkey: Option<PathBuf>,

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

    /// Close the HTTP connection after each request.
    #[arg(long, value_name = "BOOL", value_parser = parse_bool, action = ArgAction::Set, num_args = 0..=1,
          require_equals = true, default_value = "false", default_missing_value = "true", help_heading = "Connections")]
    pub close: bool,

    /// Disconnect an HTTP/1.1 client after this many consecutive error responses (0 never).
    #[arg(long = "max_client_errors", alias = "max-client-errors", value_name = "N", value_parser = parse_u32, default_value = "20", help_heading = "Connections")]
    pub max_client_errors: u32,

    /// Seconds given to in-flight requests to finish on SIGINT/SIGTERM before the process exits.
    #[arg(long, value_name = "SECONDS", value_parser = parse_seconds, default_value = "10", help_heading = "Connections")]
    pub grace: u64,

    /// Bytes read from a file per step (512 to 16M); files up to this size are read at once.
    #[arg(long = "block_size", alias = "block-size", value_name = "SIZE", value_parser = parse_size, default_value = "64K", help_heading = "Connections")]
    pub block_size: u64,

    // ----- Responses -----
    /// Additional headers on every response, comma-separated: name,value,name,value...
    #[arg(
        long,
        value_name = "LIST",
        value_delimiter = ',',
        help_heading = "Responses"
    )]
    pub hdrs: Vec<String>,

    /// Insert the server clock as `Server-UTC: <ms since the epoch>` in responses.
    #[arg(long, value_name = "BOOL", value_parser = parse_bool, action = ArgAction::Set, num_args = 0..=1,
          require_equals = true, default_value = "false", default_missing_value = "true", help_heading = "Responses")]
    pub sutc: bool,

    /// CORS headers allowing all origins: off, on, or auto (when the request has an `Origin`).
    #[arg(long, value_enum, value_name = "MODE", default_value_t = Cors::Auto, help_heading = "Responses")]
    pub cors: Cors,

    /// Short request log on stderr: `*` or methods (comma-separated), `REC` for writes, `-` prefix: no end line.
    #[arg(long, value_name = "LIST", value_parser = parse_reqlog, help_heading = "Responses")]
    pub reqlog: Option<ReqLog>,

    /// `Cache-Control` value for served files; `none` drops Cache-Control and ETag.
    #[arg(
        long = "cache_control",
        alias = "cache-control",
        value_name = "STR",
        help_heading = "Responses"
    )]
    pub cache_control: Option<String>,

    /// User agent of the push client.
    #[arg(long = "user_agent", alias = "user-agent", value_name = "STR", default_value = concat!("httpout/", env!("CARGO_PKG_VERSION")), help_heading = "Responses")]
    pub user_agent: String,

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

    // ----- Static server -----
    /// Directories (or rules files) to expose for read, comma-separated; `gmem`: a private in-memory directory.
    #[arg(
        long,
        value_name = "LIST",
        value_delimiter = ',',
        help_heading = "Static server"
    )]
    pub rdirs: Vec<PathBuf>,

    /// Directory to expose for write (PUT, POST, DELETE); `gmem`: the in-memory directory.
    #[arg(long, value_name = "PATH", help_heading = "Static server")]
    pub wdir: Option<PathBuf>,

    /// Enable HTML listing for GET requests on directories.
    #[arg(long, value_name = "BOOL", value_parser = parse_bool, action = ArgAction::Set, num_args = 0..=1,
          require_equals = true, default_value = "false", default_missing_value = "true", help_heading = "Static server")]
    pub dlist: bool,

    /// Ignore byte ranges in GET (reply 200 to range requests).
    #[arg(long, value_name = "BOOL", value_parser = parse_bool, action = ArgAction::Set, num_args = 0..=1,
          require_equals = true, default_value = "false", default_missing_value = "true", help_heading = "Static server")]
    pub norange: bool,

    /// Largest uncompressed size compressed on the fly for text files; 0 disables compression.
    #[arg(long, value_name = "SIZE", value_parser = parse_size, default_value = "50000", help_heading = "Static server")]
    pub zmax: u64,

    /// Milliseconds a GET for a missing file waits for an upload of it to start (0: 404 at once).
    #[arg(long = "wait_new", alias = "wait-new", value_name = "MS", value_parser = parse_millis, default_value = "0", help_heading = "Static server")]
    pub wait_new: u64,

    /// Maximum upload size in bytes.
    #[arg(long, value_name = "SIZE", value_parser = parse_size, default_value = "50M", help_heading = "Static server")]
    pub maxs: u64,

    /// Serve, list and accept uploads of names starting with `.` (dotfiles); off by default.
    #[arg(long, value_name = "BOOL", value_parser = parse_bool, action = ArgAction::Set, num_args = 0..=1,
          require_equals = true, default_value = "false", default_missing_value = "true", help_heading = "Static server")]
    pub hidden: bool,

    /// Sync each upload's data before its rename and the directory after it (survives a power loss).
    #[arg(long, value_name = "BOOL", value_parser = parse_bool, action = ArgAction::Set, num_args = 0..=1,
          require_equals = true, default_value = "false", default_missing_value = "true", help_heading = "Static server")]
    pub fsync: bool,

    // ----- Sinks -----
    /// What `-i SOURCE -o URL` pairs feed: `file` (written to the first of `rdirs`), `live` (relayed to listeners), `auto` (file when `rdirs` is given).
    #[arg(long, value_enum, value_name = "KIND", default_value_t = SinkKind::Auto, help_heading = "Sinks")]
    pub sink: SinkKind,

    /// Hold input until the first client connects (live sink).
    #[arg(long, value_name = "BOOL", value_parser = parse_bool, action = ArgAction::Set, num_args = 0..=1,
          require_equals = true, default_value = "false", default_missing_value = "true", help_heading = "Sinks")]
    pub hold: bool,

    /// Accept requests on an input already sent while it is not over (live sink).
    #[arg(long, value_name = "BOOL", value_parser = parse_bool, action = ArgAction::Set, num_args = 0..=1,
          require_equals = true, default_value = "false", default_missing_value = "true", help_heading = "Sinks")]
    pub reopen: bool,

    /// Exit once all inputs are done and clients have disconnected.
    #[arg(long, value_name = "BOOL", value_parser = parse_bool, action = ArgAction::Set, num_args = 0..=1,
          require_equals = true, default_value = "false", default_missing_value = "true", help_heading = "Sinks")]
    pub quit: bool,

    /// Insert ICE meta-data in response headers (live sink).
    #[arg(long, value_name = "BOOL", value_parser = parse_bool, action = ArgAction::Set, num_args = 0..=1,
          require_equals = true, default_value = "false", default_missing_value = "true", help_heading = "Sinks")]
    pub ice: bool,

    /// How far a live listener may fall behind before it is dropped: bytes (`512K`) or seconds of media (`10s`).
    #[arg(long = "max_async_buf", alias = "max-async-buf", value_name = "SIZE|TIME", value_parser = parse_amount, default_value = "512K", help_heading = "Sinks")]
    pub max_async_buf: Amount,

    /// What a new live listener gets at once from before the live point: bytes (`64K`) or seconds of media (`2s`); 0 for none.
    #[arg(long, value_name = "SIZE|TIME", value_parser = parse_amount, default_value = "64K", help_heading = "Sinks")]
    pub burst: Amount,

    /// Password of HTTP source clients (user `source`, PUT/POST/SOURCE to a mount); enables live ingest over HTTP.
    #[arg(
        long = "source_password",
        alias = "source-password",
        value_name = "STR",
        help_heading = "Sinks"
    )]
    pub source_password: Option<String>,

    /// Send live file inputs at their media rate (MP3/ADTS frame durations, TS PCR, else `rate`).
    #[arg(long, value_name = "BOOL", value_parser = parse_bool, action = ArgAction::Set, num_args = 0..=1,
          require_equals = true, default_value = "false", default_missing_value = "true", help_heading = "Sinks")]
    pub rt: bool,

    /// Bit rate of live inputs whose format gives no timing (bits/s, e.g. 128k); used by `rt` and by seconds in `burst`.
    #[arg(long, value_name = "BITS", value_parser = parse_bitrate, help_heading = "Sinks")]
    pub rate: Option<u64>,

    /// Audio bytes between in-band ICY metadata blocks for listeners sending `Icy-MetaData: 1`; 0 disables.
    #[arg(long, value_name = "N", value_parser = parse_u32, default_value = "16000", help_heading = "Sinks")]
    pub metaint: u32,

    /// Initial stream title of live mounts (ICY `StreamTitle`), until a source updates it.
    #[arg(long, value_name = "STR", help_heading = "Sinks")]
    pub title: Option<String>,

    /// Extra ICE value for live listeners, `NAME=VALUE` (also written `--ice-NAME=VALUE`): sent as `icy-NAME`.
    #[arg(
        long = "ice_hdr",
        alias = "ice-hdr",
        value_name = "NAME=VALUE",
        help_heading = "Sinks"
    )]
    pub ice_hdr: Vec<String>,

    /// Segments kept per stream after each upload: in memory (gmem) at most N (at least 1); on disk -N keeps the last N, N ≥ 0 all.
    #[arg(long = "max_cache_segs", alias = "max-cache-segs", value_name = "N", value_parser = parse_i64, default_value = "5", allow_negative_numbers = true, help_heading = "Sinks")]
    pub max_cache_segs: i64,

    /// Extension of the input, regardless of its file name (sets the served media type).
    #[arg(long, value_name = "EXT", help_heading = "Sinks")]
    pub ext: Option<String>,

    /// Media type of the input (live sink `Content-Type`).
    #[arg(long, value_name = "TYPE", help_heading = "Sinks")]
    pub mime: Option<String>,

    // ----- Source mode -----
    /// Source mode: a shell command run per upload, the body on its stdin (`201` on exit 0, else `502`).
    #[arg(long, value_name = "COMMAND", help_heading = "Source mode")]
    pub exec: Option<String>,

    // ----- Push client -----
    /// Use POST instead of PUT for uploads (push mode).
    #[arg(long, value_name = "BOOL", value_parser = parse_bool, action = ArgAction::Set, num_args = 0..=1,
          require_equals = true, default_value = "false", default_missing_value = "true", help_heading = "Push client")]
    pub post: bool,

    /// Keep the input alive when an upload fails (push mode).
    #[arg(long, value_name = "BOOL", value_parser = parse_bool, action = ArgAction::Set, num_args = 0..=1,
          require_equals = true, default_value = "true", default_missing_value = "true", help_heading = "Push client")]
    pub ka: bool,

    /// Use chunked transfer-encoding when possible (push mode).
    #[arg(long, value_name = "BOOL", value_parser = parse_bool, action = ArgAction::Set, num_args = 0..=1,
          require_equals = true, default_value = "true", default_missing_value = "true", help_heading = "Push client")]
    pub cte: bool,

    /// Push mode: after pushing a directory, follow it and push files as they are written.
    #[arg(long, value_name = "BOOL", value_parser = parse_bool, action = ArgAction::Set, num_args = 0..=1,
          require_equals = true, default_value = "false", default_missing_value = "true", help_heading = "Push client")]
    pub watch: bool,

    /// Push mode: delete the remote copy of a pushed file removed locally (with `watch`).
    #[arg(long, value_name = "BOOL", value_parser = parse_bool, action = ArgAction::Set, num_args = 0..=1,
          require_equals = true, default_value = "false", default_missing_value = "true", help_heading = "Push client")]
    pub delete: bool,

    /// Push mode: extra trusted CA certificates (PEM) besides the system's.
    #[arg(long, value_name = "PATH", help_heading = "Push client")]
    pub cafile: Option<PathBuf>,

    /// Push mode: uploads of complete files at once, at most.
    #[arg(long, value_name = "N", value_parser = parse_u32, default_value = "4", help_heading = "Push client")]
    pub jobs: u32,

    // ----- GPAC only -----
    /// GPAC's blocking-IO switch. Not supported: httpout's I/O is always asynchronous.
    #[arg(long, value_name = "BOOL", value_parser = parse_bool, action = ArgAction::Set, num_args = 0..=1,
          require_equals = true, default_value = "false", default_missing_value = "true", help_heading = "GPAC only")]
    pub blockio: bool,

    /// GPAC's JavaScript request hook. Not supported: embed httpout-core as a library instead.
    #[arg(long, value_name = "PATH", help_heading = "GPAC only")]
    pub js: Option<String>,

    /// Options given on the command line (clap ids), to refuse those that
    /// no mode in use reads.
    #[arg(skip)]
    pub given: BTreeSet<String>,

    /// Per `-o` output in order, the options its URL suffixes give, as long
    /// flags (`-o URL:hold` → `["--hold"]`); they apply to that output (and
    /// its server) only: see [`Options::scoped`].
    #[arg(skip)]
    pub output_flags: Vec<Vec<String>>,

    /// Per `-i` input in order, the options its `:#NAME=VALUE` properties
    /// give, as long flags (`-i a.mp3:#ice-Genre=Rock` →
    /// `["--ice_hdr=Genre=Rock"]`).
    #[arg(skip)]
    pub input_flags: Vec<Vec<String>>,

    /// The command line as clap read it (suffixes taken out), re-read with
    /// scoped flags by [`Options::scoped`].
    #[arg(skip)]
    argv: Vec<OsString>,
}

/// Which part of httpout an option belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Area {
    /// The engine: listeners, limits, common headers.
    Core,
    /// Static server, read side (`rdirs`, `dlist`, ...).
    Static,
    /// Static server, write side (`wdir`, `maxs`).
    StaticWrite,
    /// Live sink or file sink (`-i`/`-o` inputs).
    Sink,
    /// Push client (`hmode=push`).
    Push,
    /// Source mode (`hmode=source`: `exec`).
    Source,
    /// GPAC features with no httpout equivalent.
    Unsupported,
}

/// The area an option (by clap id, i.e. field name) belongs to.
pub fn area(id: &str) -> Area {
    match id {
        "rdirs" | "dlist" | "norange" | "zmax" | "cache_control" | "wait_new"
        | "max_cache_segs" | "hidden" => Area::Static,
        "wdir" | "maxs" | "fsync" => Area::StaticWrite,
        "inputs" | "outputs" | "hold" | "reopen" | "quit" | "ice" | "max_async_buf" | "ext"
        | "mime" | "sink" | "burst" | "source_password" | "rt" | "rate" | "metaint" | "title"
        | "ice_hdr" => Area::Sink,
        "dst" | "post" | "ka" | "cte" | "user_agent" | "watch" | "delete" | "cafile" | "jobs" => {
            Area::Push
        }
        "exec" => Area::Source,
        "blockio" | "js" => Area::Unsupported,
        _ => Area::Core,
    }
}

impl Default for Options {
    fn default() -> Self {
        Self::try_parse_args(["httpout"]).expect("the defaults are valid")
    }
}

impl Options {
    /// Parses a command line (`args[0]` is the program name): rewrites GPAC
    /// strings, runs clap, records which options were given and checks the
    /// rules that span several options.
    pub fn try_parse_args<I, T>(args: I) -> Result<Self, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<OsString>,
    {
        let longs: Vec<String> = Self::command()
            .get_arguments()
            .filter_map(|a| a.get_long().map(str::to_owned))
            .collect();
        let rewritten = gpac::rewrite(args, |name| {
            name.starts_with("ice-") || longs.iter().any(|l| l == name)
        });
        let mut opts = Self::parse_flags(rewritten.args)?;
        opts.output_flags = rewritten.outputs;
        opts.input_flags = rewritten.inputs;
        // Suffixes are checked now, so that a bad one is a start-up error.
        for i in 0..opts.outputs.len().max(opts.inputs.len()) {
            opts.pair(i)?;
        }
        Ok(opts)
    }

    /// Runs clap on long flags; records which options were given and
    /// checks the rules that span several options.
    fn parse_flags(argv: Vec<OsString>) -> Result<Self, clap::Error> {
        let matches = Self::command().try_get_matches_from(&argv)?;
        let mut opts = Self::from_arg_matches(&matches)?;
        opts.given = matches
            .ids()
            .filter(|id| matches.value_source(id.as_str()) == Some(ValueSource::CommandLine))
            .map(|id| id.as_str().to_owned())
            .collect();
        opts.argv = argv;
        opts.validate()
    }

    /// These options with `flags` (long flags, as in [`Options::output_flags`])
    /// added after the command line's own, so that they win.
    pub fn scoped(&self, flags: &[String]) -> Result<Self, clap::Error> {
        if flags.is_empty() {
            return Ok(self.clone());
        }
        let argv = self
            .argv
            .iter()
            .cloned()
            .chain(flags.iter().map(OsString::from))
            .collect();
        let mut opts = Self::parse_flags(argv)?;
        opts.argv.clone_from(&self.argv);
        opts.output_flags.clone_from(&self.output_flags);
        opts.input_flags.clone_from(&self.input_flags);
        Ok(opts)
    }

    /// The options of the `index`-th `-i`/`-o` pair: the command line's,
    /// then its input's properties, then its output's suffixes.
    pub fn pair(&self, index: usize) -> Result<Self, clap::Error> {
        let none = Vec::new();
        let flags: Vec<String> = self
            .input_flags
            .get(index)
            .unwrap_or(&none)
            .iter()
            .chain(self.output_flags.get(index).unwrap_or(&none))
            .cloned()
            .collect();
        self.scoped(&flags)
    }

    /// The clap id of a long flag (`--max-client-errors=3` →
    /// `max_client_errors`), or `None` for an unknown one.
    pub fn flag_id(flag: &str) -> Option<String> {
        let name = flag.trim_start_matches('-');
        let name = name.split('=').next().unwrap_or(name);
        Self::command()
            .get_arguments()
            .find(|a| {
                a.get_long() == Some(name)
                    || a.get_all_aliases().is_some_and(|al| al.contains(&name))
            })
            .map(|a| a.get_id().to_string())
    }

    /// Cross-option rules; each error names the options involved.
    fn validate(self) -> Result<Self, clap::Error> {
        let fail = |msg: String| Self::command().error(ErrorKind::ArgumentConflict, msg);
        if self.cert.is_some() != self.pkey.is_some() {
            return Err(fail(
                "--cert and --pkey go together: give both PEM files, or neither".into(),
            ));
        }
        let https = self
            .listen
            .iter()
            .any(|l| matches!(l, ListenSpec::Https(_)));
        if https && self.cert.is_none() {
            return Err(fail(
                "--listen has an https:// listener but no --cert/--pkey were given".into(),
            ));
        }
        if !self.listen.is_empty() && (self.port.is_some() || self.ifce.is_some()) {
            return Err(fail(
                "--listen replaces --ifce and --port: give one or the other".into(),
            ));
        }
        self.headers().map_err(fail)?;
        Ok(self)
    }

    /// The `hdrs` option as (name, value) pairs; errors say which item is wrong.
    pub fn headers(&self) -> Result<Vec<(HeaderName, HeaderValue)>, String> {
        if self.hdrs.len() % 2 != 0 {
            return Err(format!(
                "invalid value '{}' for --hdrs: expected name,value pairs, got an odd number of items ({})",
                self.hdrs.join(","),
                self.hdrs.len()
            ));
        }
        self.hdrs
            .chunks(2)
            .map(|pair| {
                let name = HeaderName::from_bytes(pair[0].trim().as_bytes()).map_err(|_| {
                    format!(
                        "invalid value '{}' for --hdrs: expected a header name",
                        pair[0]
                    )
                })?;
                let value = HeaderValue::from_str(pair[1].trim()).map_err(|_| {
                    format!(
                        "invalid value '{}' for --hdrs: expected a header value (visible ASCII)",
                        pair[1]
                    )
                })?;
                Ok((name, value))
            })
            .collect()
    }

    /// The listeners to open: `--listen` as given, else one from `ifce` and
    /// the port (HTTPS when `cert` is set).
    pub fn listeners(&self) -> Vec<ListenSpec> {
        if !self.listen.is_empty() {
            return self.listen.clone();
        }
        let ip = self
            .ifce
            .unwrap_or(std::net::IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED));
        let addr = std::net::SocketAddr::new(ip, self.effective_port());
        if self.cert.is_some() {
            vec![ListenSpec::Https(addr)]
        } else {
            vec![ListenSpec::Http(addr)]
        }
    }

    /// `--port`, else the port of the first `-o` URL, else [`DEFAULT_PORT`].
    pub fn effective_port(&self) -> u16 {
        self.port
            .or_else(|| self.outputs.iter().find_map(|u| url_port(u)))
            .unwrap_or(DEFAULT_PORT)
    }
}

/// The port of an `http(s)://` URL, with the scheme's default.
fn url_port(url: &str) -> Option<u16> {
    let (default, rest) = if let Some(r) = url.strip_prefix("http://") {
        (80, r)
    } else {
        (443, url.strip_prefix("https://")?)
    };
    let authority = rest.split('/').next().unwrap_or(rest);
    let after_host = match authority.rfind(']') {
        Some(i) => &authority[i + 1..],
        None => authority,
    };
    match after_host.rsplit_once(':') {
        Some((_, port)) => port.parse().ok(),
        None => Some(default),
    }
}

/// Renders a clap error as one line naming the option, the value and what was
/// expected (no usage block, no trailing hints). `--help`/`--version` output is
/// returned unchanged.
pub fn error_line(err: &clap::Error) -> String {
    let ctx = |kind| match err.get(kind) {
        Some(ContextValue::String(s)) => Some(s.clone()),
        _ => None,
    };
    let arg = ctx(ContextKind::InvalidArg)
        .map(|a| a.split([' ', '=', '[']).next().unwrap_or(&a).to_owned());
    match err.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => err.to_string(),
        ErrorKind::InvalidValue | ErrorKind::ValueValidation => {
            let arg = arg.unwrap_or_default();
            let value = ctx(ContextKind::InvalidValue).unwrap_or_default();
            let expected =
                if let Some(ContextValue::Strings(valid)) = err.get(ContextKind::ValidValue) {
                    format!("expected one of {}", valid.join(", "))
                } else if let Some(src) = std::error::Error::source(err) {
                    src.to_string()
                } else if value.is_empty() {
                    "a value is required".to_owned()
                } else {
                    "invalid value".to_owned()
                };
            format!("invalid value '{value}' for {arg}: {expected}")
        }
        ErrorKind::UnknownArgument => {
            let mut line = format!("unknown option '{}'", arg.unwrap_or_default());
            if let Some(ContextValue::Strings(s)) = err.get(ContextKind::SuggestedArg) {
                let _ = write!(line, " (did you mean '{}'?)", s.join("', '"));
            }
            line + "; see httpout --help"
        }
        _ => {
            let text = err.render().to_string();
            let first = text.lines().next().unwrap_or_default();
            first.trim_start_matches("error: ").to_owned()
        }
    }
}

/// docs/options.md, generated from the options table itself.
pub fn markdown() -> String {
    let cmd = Options::command();
    let mut out = String::from(
        "# httpout options\n\n\
         Generated from the options table (`crates/httpout-core/src/options/mod.rs`) by \
         `UPDATE_DOCS=1 cargo test -p httpout-core --test options_doc`; a test fails when this \
         file drifts from the code.\n\n\
         Every option can be given as a long flag (`--port=8080` or `--port 8080`), in a GPAC \
         filter string (`httpout:port=8080`), or as a suffix of an output URL \
         (`-o http://localhost:8080/live.mp3:hold`). A suffix applies to its own output only; \
         the server's options among them (`port`, `maxc`, `cert`, `hdrs`...) to that output's \
         server. An input takes GPAC's properties the same way: \
         `-i 'music.mp3:#ice-Genre=Rock'`. Lists are comma-separated. Sizes take \
         `K`, `M` or `G` suffixes, binary (`50M` = 52 428 800 bytes). A boolean flag alone means \
         true (`--dlist`); `--dlist=false` turns it off.\n",
    );
    let mut heading = None;
    for arg in cmd.get_arguments() {
        let Some(long) = arg.get_long() else { continue };
        if matches!(long, "help" | "version") {
            continue;
        }
        if arg.get_help_heading() != heading {
            heading = arg.get_help_heading();
            let _ = write!(
                out,
                "\n## {}\n\n| option | value | default | meaning |\n|---|---|---|---|\n",
                heading.unwrap_or("Other")
            );
        }
        let short = arg
            .get_short()
            .map(|c| format!("`-{c}`, "))
            .unwrap_or_default();
        let value = arg
            .get_value_names()
            .map(|v| v.join(" "))
            .unwrap_or_default();
        let possible: Vec<String> = arg
            .get_possible_values()
            .iter()
            .map(|p| p.get_name().to_owned())
            .collect();
        let value = if possible.is_empty() {
            value
        } else {
            format!("{value}: {}", possible.join(" \\| "))
        };
        let default = arg
            .get_default_values()
            .iter()
            .map(|d| d.to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join(",");
        let help = arg.get_help().map(ToString::to_string).unwrap_or_default();
        let _ = writeln!(
            out,
            "| {short}`--{long}` | {value} | {} | {} |",
            if default.is_empty() {
                "–".to_owned()
            } else {
                format!("`{default}`")
            },
            help.replace('|', "\\|")
        );
    }
    out.push_str(include_str!("notes.md"));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Options, String> {
        Options::try_parse_args(args.iter().copied()).map_err(|e| error_line(&e))
    }

    #[test]
    fn defaults_follow_the_reference() {
        let o = Options::default();
        assert_eq!((o.maxc, o.maxp, o.timeout), (100, 6, 30));
        assert_eq!((o.zmax, o.maxs, o.block_size), (50_000, 50 << 20, 64 << 10));
        assert_eq!((o.max_client_errors, o.max_cache_segs), (20, 5));
        // Ours: Icecast's queue and burst (docs/options.md says why).
        assert_eq!(o.max_async_buf, Amount::Bytes(512 << 10));
        assert_eq!(o.burst, Amount::Bytes(64 << 10));
        assert!(o.ka && o.cte && !o.close && !o.dlist);
        assert_eq!(o.cors, Cors::Auto);
        assert_eq!(o.effective_port(), DEFAULT_PORT);
        assert!(o.given.is_empty());
    }

    #[test]
    fn live_values_parse_as_sizes_or_durations() {
        let o = parse(&[
            "httpout",
            "--burst=2s",
            "--max_async_buf=500ms",
            "--rate=128k",
        ])
        .unwrap();
        assert_eq!(o.burst, Amount::Time(std::time::Duration::from_secs(2)));
        assert_eq!(
            o.max_async_buf,
            Amount::Time(std::time::Duration::from_millis(500))
        );
        assert_eq!(o.rate, Some(128_000));
        let o = parse(&[
            "httpout",
            "-o",
            "http://127.0.0.1:8000/live.mp3:ice:ice-genre=Cool Rock",
            "--ice-name=Radio",
        ])
        .unwrap()
        .pair(0)
        .unwrap();
        assert!(o.ice);
        assert_eq!(o.ice_hdr, ["name=Radio", "genre=Cool Rock"]);
        let e = parse(&["httpout", "--burst=fast"]).unwrap_err();
        assert!(e.contains("--burst") && e.contains("2s"), "{e}");
        let e = parse(&["httpout", "--rate=0"]).unwrap_err();
        assert!(e.contains("--rate"), "{e}");
    }

    #[test]
    fn three_syntaxes_agree() {
        let flags = parse(&[
            "httpout",
            "--port=9000",
            "--sutc",
            "--cors=on",
            "--maxc",
            "7",
        ])
        .unwrap();
        let gpac = parse(&["httpout", "httpout:port=9000:sutc:cors=on:maxc=7"]).unwrap();
        let url = parse(&[
            "httpout",
            "-o",
            "http://127.0.0.1:9000/x.mp3:sutc:cors=on:maxc=7",
        ])
        .unwrap();
        let plain = |mut o: Options| {
            o.argv.clear();
            o.output_flags.clear();
            o.outputs.clear();
            o.given.remove("outputs");
            o
        };
        assert_eq!(plain(flags.clone()), plain(gpac));
        // The URL's suffixes are its output's: not the command line's...
        assert!(!url.sutc && url.maxc == 100);
        assert_eq!(url.effective_port(), 9000);
        // ...but that output's options are the same as the flags'.
        let mut scoped = plain(url.pair(0).unwrap());
        scoped.given.insert("port".into());
        scoped.port = Some(9000);
        assert_eq!(plain(flags), scoped);
    }

    #[test]
    fn suffixes_apply_to_their_pair_only() {
        let o = parse(&[
            "httpout",
            "-i",
            "a.mp3",
            "-o",
            "http://127.0.0.1:1/a.mp3",
            "-i",
            "b.aac:#ice-Name=B",
            "-o",
            "http://127.0.0.1:2/b.aac:ice-Genre=Rock:sink=live",
            "--ice-url=http://radio",
        ])
        .unwrap();
        let a = o.pair(0).unwrap();
        let b = o.pair(1).unwrap();
        assert_eq!(a.ice_hdr, ["url=http://radio"]);
        assert_eq!(b.ice_hdr, ["url=http://radio", "Name=B", "Genre=Rock"]);
        assert_eq!((a.sink, b.sink), (SinkKind::Auto, SinkKind::Live));
        assert_eq!(
            Options::flag_id("--max-client-errors=3").as_deref(),
            Some("max_client_errors")
        );
        assert_eq!(Options::flag_id("--bogus"), None);
        // A bad suffix is a start-up error naming the option.
        let e = parse(&["httpout", "-o", "http://h:1/a.mp3:maxc=lots"]).unwrap_err();
        assert!(e.contains("'lots' for --maxc"), "{e}");
        let e = parse(&["httpout", "httpout:port=18161:foo=bar"]).unwrap_err();
        assert!(e.starts_with("unknown option '--foo'"), "{e}");
    }

    #[test]
    fn booleans_lists_sizes() {
        let o = parse(&[
            "x",
            "--dlist",
            "--norange=false",
            "--rdirs=a,b",
            "--maxs=2M",
        ])
        .unwrap();
        assert!(o.dlist && !o.norange);
        assert_eq!(o.rdirs, [PathBuf::from("a"), PathBuf::from("b")]);
        assert_eq!(o.maxs, 2 << 20);
        assert!(o.given.contains("dlist") && o.given.contains("rdirs"));
        let o = parse(&["x", "--max_cache_segs", "-3"]).unwrap();
        assert_eq!(o.max_cache_segs, -3);
    }

    #[test]
    fn errors_are_one_line_and_name_the_option() {
        let cases = [
            (
                &["x", "--port=abc"][..],
                "invalid value 'abc' for --port: expected a port number",
            ),
            (
                &["x", "--maxc=-1"],
                "invalid value '-1' for --maxc: expected a whole number",
            ),
            (
                &["x", "--cors=maybe"],
                "invalid value 'maybe' for --cors: expected one of off, on, auto",
            ),
            (&["x", "--bogus"], "unknown option '--bogus'"),
            (
                &["x", "--dlist=maybe"],
                "invalid value 'maybe' for --dlist: expected true or false",
            ),
            (&["x", "--hdrs=a,b,c"], "expected name,value pairs"),
            (&["x", "--hdrs=bad name,v"], "expected a header name"),
            (&["x", "--cert=c.pem"], "--cert and --pkey go together"),
            (
                &["x", "--listen=ftp://x"],
                "invalid value 'ftp://x' for --listen: expected http://IP:PORT",
            ),
            (&["x", "--timeout="], "for --timeout"),
            (&["x", "httpout:maxc=no"], "invalid value 'no' for --maxc"),
        ];
        for (args, want) in cases {
            let err = parse(args).unwrap_err();
            assert!(err.contains(want), "{args:?}: {err}");
            assert!(!err.contains('\n'), "{args:?}: not one line: {err}");
        }
    }

    #[test]
    fn listeners_default_and_explicit() {
        let o = parse(&["x", "--ifce=127.0.0.1", "--port=0"]).unwrap();
        assert_eq!(
            o.listeners(),
            [ListenSpec::Http("127.0.0.1:0".parse().unwrap())]
        );
        let o = parse(&["x", "--listen=http://127.0.0.1:1,unix:/tmp/s"]).unwrap();
        assert_eq!(o.listeners().len(), 2);
        assert!(parse(&["x", "--listen=http://127.0.0.1:1", "--port=3"]).is_err());
    }

    #[test]
    fn url_ports() {
        assert_eq!(url_port("http://h/x"), Some(80));
        assert_eq!(url_port("https://h/x"), Some(443));
        assert_eq!(url_port("http://[::1]:81/x"), Some(81));
        assert_eq!(url_port("http://h:82"), Some(82));
        assert_eq!(url_port("file.mp3"), None);
    }

    /// Random GPAC strings and flags never panic the parser.
    #[test]
    fn random_option_strings_never_panic() {
        const PIECES: &[&str] = &[
            "httpout:", ":", "=", "port", "maxc", "rdirs", "-o", "http://", "[::1]", "/", "a",
            "--", "-1", "50M", ",", "cors", "on", "gpac", "listen", "unix:", "hdrs",
        ];
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..5_000 {
            let mut args = vec!["httpout".to_owned()];
            let mut arg = String::new();
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let mut bits = seed;
            for _ in 0..(seed % 12) {
                arg.push_str(PIECES[(bits % PIECES.len() as u64) as usize]);
                bits = bits.rotate_right(5);
                if bits % 5 == 0 {
                    args.push(std::mem::take(&mut arg));
                }
            }
            args.push(arg);
            if let Err(e) = Options::try_parse_args(&args) {
                assert!(!error_line(&e).is_empty());
            }
        }
    }
}

//! The command line: every option, composed from the groups the modes own
//! (`CoreArgs` in the engine, `StaticArgs`, `LiveArgs`, `FileSinkArgs`,
//! `PushArgs`, `SourceArgs` next to their modes), plus what only the
//! command line decides (`-i`, `-o`, `hmode`) and the GPAC internals it
//! refuses.
//!
//! Options are given as long flags (`--rdirs=out --port 8080`), as a GPAC
//! filter string (`httpout:rdirs=out:port=8080`) or as suffixes of an output
//! URL (`-o http://localhost:8080/live.mp3:hold`); the last two are
//! rewritten into long flags by [`gpac::rewrite`] before clap runs, so all
//! three give the same [`Options`]. A suffix applies to its own output
//! ([`Options::pair`]).
//!
//! Which group an option belongs to ([`Group`], [`group_of`]) is read from
//! the groups themselves: adding an option touches its group and its
//! consumer only. Names, types and defaults follow the reference unless
//! `docs/options.md` says why ours differ.

mod config_file;
// docs/options.md is generated, and checked, by the tests.
#[cfg(test)]
mod docs;
pub(crate) mod error;
pub(crate) mod gpac;
pub(crate) mod layers;
mod logs;
pub(crate) mod print;
// Property tests of the GPAC string rewriting.
#[cfg(test)]
mod fuzz_gpac;

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::path::PathBuf;

use clap::parser::ValueSource;
use clap::{Args, Command, CommandFactory, FromArgMatches, Parser};
use httpout_core::options::{CoreArgs, boolean_flags};
use httpout_filesink::FileSinkArgs;
use httpout_live::LiveArgs;
use httpout_push::PushArgs;
use httpout_source::SourceArgs;
use httpout_static::StaticArgs;

pub(crate) use error::{config_error, error_line};
use logs::LogArgs;

/// `httpout --version`: the version and what this build carries.
const LONG_VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    "\nprotocols: HTTP/1.1, HTTP/2 (h2c, TLS ALPN), TLS 1.2 and 1.3 (rustls, ring)",
    "\nfeatures: gzip, deflate, br and zstd compression; argon2id users; Icecast source clients and ICY metadata; inotify live edge; PUT/POST uploads with range and multipart",
);

/// Port used when neither `--port`, `--listen` nor an `-o` URL gives one.
pub(crate) const DEFAULT_PORT: u16 = 8080;

/// How the process runs (`hmode`), as in the reference.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub(crate) enum HMode {
    /// Server mode: static files, live sink, file sink.
    #[default]
    Default,
    /// Client mode: upload inputs to `dst` with PUT or POST.
    Push,
    /// Incoming PUT/POST bodies become input streams.
    Source,
}

/// GPAC internals with no httpout equivalent: parsed so that GPAC command
/// lines get a clear answer, refused at start.
#[derive(Debug, Clone, PartialEq, Eq, Args)]
pub(crate) struct GpacOnlyArgs {
    /// GPAC's blocking-IO switch. Not supported: httpout's I/O is always asynchronous.
    #[arg(
        long,
        value_name = "BOOL",
        default_value = "false",
        help_heading = "GPAC only"
    )]
    pub(crate) blockio: bool,

    /// GPAC's JavaScript request hook. Not supported: embed httpout-core as a library instead.
    #[arg(long, value_name = "PATH", help_heading = "GPAC only")]
    pub(crate) js: Option<String>,
}

/// Every httpout option. See the module docs and `docs/options.md`.
#[derive(Debug, Clone, PartialEq, Parser)]
#[command(
    name = "httpout",
    version,
    long_version = LONG_VERSION,
    about = "Media HTTP server: static files, live relay, low-latency file sink, push client, source mode.",
    long_about = None,
    after_help = "Options can also be given GPAC-style: `httpout httpout:rdirs=out:port=8080`, or as \
                  suffixes of an output URL: `-o http://localhost:8080/live.mp3:hold`.\n\
                  Sizes take K, M or G suffixes (binary). Boolean flags alone mean true (`--dlist`), \
                  or take a value (`--dlist=false`)."
)]
pub(crate) struct Options {
    /// Input to serve: a file, a FIFO, `-` for stdin (live sink, file sink, push), or another server's live stream `http://HOST/MOUNT` (live sink: a relay).
    #[arg(
        short = 'i',
        long = "input",
        value_name = "SOURCE",
        help_heading = "Inputs and outputs"
    )]
    pub(crate) inputs: Vec<String>,

    /// Output URL (`http://HOST:PORT/NAME`), optionally followed by `:opt=value` suffixes.
    #[arg(
        short = 'o',
        long = "output",
        value_name = "URL",
        help_heading = "Inputs and outputs"
    )]
    pub(crate) outputs: Vec<String>,

    /// Run mode: `default` (server), `push` (upload to `dst`) or `source` (uploads become inputs).
    #[arg(long, value_enum, value_name = "MODE", default_value_t = HMode::Default, help_heading = "Inputs and outputs")]
    pub(crate) hmode: HMode,

    /// The engine's options.
    #[command(flatten)]
    pub(crate) core: CoreArgs,

    /// Logs and the access log.
    #[command(flatten)]
    pub(crate) logs: LogArgs,

    /// The static server's options.
    #[command(flatten)]
    pub(crate) statics: StaticArgs,

    /// What `-i`/`-o` pairs feed.
    #[command(flatten)]
    pub(crate) filesink: FileSinkArgs,

    /// The live sink's options.
    #[command(flatten)]
    pub(crate) live: LiveArgs,

    /// Source mode's options.
    #[command(flatten)]
    pub(crate) source: SourceArgs,

    /// The push client's options.
    #[command(flatten)]
    pub(crate) push: PushArgs,

    /// GPAC internals, refused.
    #[command(flatten)]
    pub(crate) gpac: GpacOnlyArgs,

    /// TOML file of options (same names; `[[pair]]` tables for `-i`/`-o`); `HTTPOUT_<OPTION>` variables and the command line override it.
    #[arg(long, value_name = "FILE", help_heading = "Configuration")]
    pub(crate) config: Option<PathBuf>,

    /// Print the effective settings (as a config file, each with where it came from) and exit.
    #[arg(long = "print-config", help_heading = "Configuration")]
    pub(crate) print_config: bool,

    /// Where the options came from besides the command line (`--config`,
    /// `HTTPOUT_<OPTION>`), for `--print-config`; warnings to log.
    #[arg(skip)]
    pub(crate) layers: Layers,

    /// Options given on the command line (clap ids), to refuse those that
    /// no mode in use reads.
    #[arg(skip)]
    pub(crate) given: BTreeSet<String>,

    /// Per `-o` output in order, the options its URL suffixes give, as long
    /// flags (`-o URL:hold` → `["--hold"]`); they apply to that output (and
    /// its server) only: see [`Options::scoped`].
    #[arg(skip)]
    pub(crate) output_flags: Vec<Vec<String>>,

    /// Per `-i` input in order, the options its `:#NAME=VALUE` properties
    /// give, as long flags (`-i a.mp3:#ice-Genre=Rock` →
    /// `["--ice_hdr=Genre=Rock"]`).
    #[arg(skip)]
    pub(crate) input_flags: Vec<Vec<String>>,

    /// The command line as clap read it (suffixes taken out), re-read with
    /// scoped flags by [`Options::scoped`].
    #[arg(skip)]
    argv: Vec<OsString>,
}

/// What the config file and the environment gave ([`layers::merge`]).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Layers {
    /// Options (clap ids) the config file gave.
    pub(crate) from_file: BTreeSet<String>,
    /// Options (clap ids) `HTTPOUT_<OPTION>` variables gave.
    pub(crate) from_env: BTreeSet<String>,
    /// How many of the first outputs are the file's `[[pair]]` tables.
    pub(crate) file_pairs: usize,
    /// Unknown `HTTPOUT_` variables, to warn about once logging runs.
    pub(crate) warnings: Vec<String>,
}

/// The clap command of the whole table, boolean flags shaped.
pub(crate) fn command() -> Command {
    boolean_flags(Options::command())
}

/// Which part of httpout reads an option: the group it is declared in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Group {
    /// `-i`, `-o`, `hmode`: the command line's composition.
    CommandLine,
    /// The engine: listeners, limits, common headers, access.
    Core,
    /// The static server (`rdirs`, `wdir`, ...).
    Static,
    /// What `-i`/`-o` pairs feed (`sink`).
    FileSink,
    /// The live sink.
    Live,
    /// Source mode.
    Source,
    /// The push client.
    Push,
    /// GPAC features with no httpout equivalent.
    GpacOnly,
}

/// The group an option (by clap id, i.e. field name) is declared in.
pub(crate) fn group_of(id: &str) -> Group {
    fn declares<T: Args>(id: &str) -> bool {
        T::augment_args(Command::new("group"))
            .get_arguments()
            .any(|a| a.get_id() == id)
    }
    if declares::<CoreArgs>(id) {
        Group::Core
    } else if declares::<StaticArgs>(id) {
        Group::Static
    } else if declares::<FileSinkArgs>(id) {
        Group::FileSink
    } else if declares::<LiveArgs>(id) {
        Group::Live
    } else if declares::<SourceArgs>(id) {
        Group::Source
    } else if declares::<PushArgs>(id) {
        Group::Push
    } else if declares::<GpacOnlyArgs>(id) {
        Group::GpacOnly
    } else {
        Group::CommandLine
    }
}

impl Default for Options {
    fn default() -> Self {
        Self::try_parse_args(["httpout"]).expect("the defaults are valid")
    }
}

impl Options {
    /// Parses a command line (`args[0]` is the program name) alone: no
    /// config file, no environment. See [`Options::try_parse_layers`].
    pub(crate) fn try_parse_args<I, T>(args: I) -> Result<Self, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<OsString>,
    {
        Self::parse_merged(args.into_iter().map(Into::into).collect(), &[])
    }

    /// Parses a command line over the config file it names and the
    /// `HTTPOUT_<OPTION>` variables of `env` ([`layers`]).
    pub(crate) fn try_parse_layers(
        args: Vec<OsString>,
        env: &[(String, String)],
    ) -> Result<Self, clap::Error> {
        let merged = layers::merge(args, env)?;
        let mut opts = Self::parse_merged(merged.args, &merged.pair_flags)?;
        opts.config = merged.file;
        opts.layers = Layers {
            from_file: merged.from_file,
            from_env: merged.from_env,
            file_pairs: merged.pair_flags.len(),
            warnings: merged.warnings,
        };
        Ok(opts)
    }

    /// Rewrites GPAC strings, runs clap, records which options were given
    /// and checks the rules that span several options. The first outputs
    /// get `pair_flags` (a config file's `[[pair]]` options) before their
    /// own suffixes.
    fn parse_merged(args: Vec<OsString>, pair_flags: &[Vec<String>]) -> Result<Self, clap::Error> {
        let rewritten = gpac::rewrite(args, layers::is_option);
        let mut opts = Self::parse_flags(rewritten.args)?;
        opts.output_flags = rewritten.outputs;
        opts.input_flags = rewritten.inputs;
        for (own, file) in opts.output_flags.iter_mut().zip(pair_flags) {
            let file = file
                .iter()
                .map(|f| gpac::ice_value(f.into()).to_string_lossy().into_owned());
            own.splice(0..0, file);
        }
        // Suffixes are checked now, so that a bad one is a start-up error.
        for i in 0..opts.outputs.len().max(opts.inputs.len()) {
            opts.pair(i)?;
        }
        Ok(opts)
    }

    /// Runs clap on long flags; records which options were given and
    /// checks the rules that span several options.
    fn parse_flags(argv: Vec<OsString>) -> Result<Self, clap::Error> {
        let matches = command().try_get_matches_from(&argv)?;
        let mut opts = Self::from_arg_matches(&matches)?;
        opts.given = matches
            .ids()
            .filter(|id| matches.value_source(id.as_str()) == Some(ValueSource::CommandLine))
            .map(|id| id.as_str().to_owned())
            .collect();
        opts.argv = argv;
        opts.core.validate().map_err(|e| {
            command().error(clap::error::ErrorKind::ArgumentConflict, e.to_string())
        })?;
        Ok(opts)
    }

    /// These options with `flags` (long flags, as in [`Options::output_flags`])
    /// added after the command line's own, so that they win.
    pub(crate) fn scoped(&self, flags: &[String]) -> Result<Self, clap::Error> {
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
        opts.config.clone_from(&self.config);
        opts.layers.clone_from(&self.layers);
        Ok(opts)
    }

    /// The options of the `index`-th `-i`/`-o` pair: the command line's,
    /// then its input's properties, then its output's suffixes.
    pub(crate) fn pair(&self, index: usize) -> Result<Self, clap::Error> {
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
    pub(crate) fn flag_id(flag: &str) -> Option<String> {
        let name = flag.trim_start_matches('-');
        let name = name.split('=').next().unwrap_or(name);
        command()
            .get_arguments()
            .find(|a| {
                a.get_long() == Some(name)
                    || a.get_all_aliases().is_some_and(|al| al.contains(&name))
            })
            .map(|a| a.get_id().to_string())
    }

    /// The listeners of the command line when no `-o` URL decides them:
    /// `--listen`, else `--ifce` and `--port` (else the first `-o` URL's
    /// port, else [`DEFAULT_PORT`]).
    pub(crate) fn listeners(&self) -> Vec<httpout_core::ListenSpec> {
        self.core.listeners(self.effective_port())
    }

    /// `--port`, else the port of the first `-o` URL, else [`DEFAULT_PORT`].
    pub(crate) fn effective_port(&self) -> u16 {
        self.core
            .port
            .map(|p| p.number)
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

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use httpout_core::{Cors, ListenSpec};
    use httpout_filesink::SinkKind;
    use httpout_live::Amount;

    use super::*;

    fn parse(args: &[&str]) -> Result<Options, String> {
        Options::try_parse_args(args.iter().copied()).map_err(|e| error_line(&e))
    }

    #[test]
    fn defaults_follow_the_reference() {
        let o = Options::default();
        assert_eq!((o.core.maxc, o.core.maxp, o.core.timeout), (100, 6, 30));
        assert_eq!(
            (o.statics.zmax, o.statics.maxs, o.statics.block_size),
            (50_000, 50 << 20, 64 << 10)
        );
        assert_eq!(
            (o.core.max_client_errors, o.statics.max_cache_segs),
            (20, 5)
        );
        // Ours: Icecast's queue and burst (docs/options.md says why).
        assert_eq!(o.live.max_async_buf, Amount::Bytes(512 << 10));
        assert_eq!(o.live.burst, Amount::Bytes(64 << 10));
        assert!(o.push.ka && o.push.cte && !o.core.close && !o.statics.dlist);
        assert_eq!(o.core.cors, Cors::Auto);
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
        assert_eq!(
            o.live.burst,
            Amount::Time(std::time::Duration::from_secs(2))
        );
        assert_eq!(
            o.live.max_async_buf,
            Amount::Time(std::time::Duration::from_millis(500))
        );
        assert_eq!(o.live.rate, Some(128_000));
        let o = parse(&[
            "httpout",
            "-o",
            "http://127.0.0.1:8000/live.mp3:ice:ice-genre=Cool Rock",
            "--ice-name=Radio",
        ])
        .unwrap()
        .pair(0)
        .unwrap();
        assert!(o.live.ice);
        assert_eq!(o.live.ice_hdr, ["name=Radio", "genre=Cool Rock"]);
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
        assert!(!url.core.sutc && url.core.maxc == 100);
        assert_eq!(url.effective_port(), 9000);
        // ...but that output's options are the same as the flags'.
        let mut scoped = plain(url.pair(0).unwrap());
        scoped.given.insert("port".into());
        scoped.core.port = Some(httpout_core::options::value::Port {
            number: 9000,
            scan: false,
        });
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
        assert_eq!(a.live.ice_hdr, ["url=http://radio"]);
        assert_eq!(b.live.ice_hdr, ["url=http://radio", "Name=B", "Genre=Rock"]);
        assert_eq!(
            (a.filesink.sink, b.filesink.sink),
            (SinkKind::Auto, SinkKind::Live)
        );
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
        assert!(o.statics.dlist && !o.statics.norange);
        assert_eq!(o.statics.rdirs, [PathBuf::from("a"), PathBuf::from("b")]);
        assert_eq!(o.statics.maxs, 2 << 20);
        assert!(o.given.contains("dlist") && o.given.contains("rdirs"));
        let o = parse(&["x", "--max_cache_segs", "-3"]).unwrap();
        assert_eq!(o.statics.max_cache_segs, -3);
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

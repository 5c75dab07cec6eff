//! The file sink's options, a clap group the `httpout` binary flattens
//! beside the others. (Where it writes is the first of `--rdirs`; how long
//! it keeps segments is the static server's `--max_cache_segs`.)

use clap::Args;

/// What `-i SOURCE -o URL` pairs feed (`sink`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum SinkKind {
    /// The file sink when `rdirs` is given (as GPAC), the live sink otherwise.
    #[default]
    Auto,
    /// The live sink: each input relayed to the listeners of its URL.
    Live,
    /// The file sink: each input written into the first read directory.
    File,
}

/// The file sink's options (see `docs/options.md`).
#[derive(Debug, Clone, PartialEq, Eq, Args)]
pub struct FileSinkArgs {
    /// What `-i SOURCE -o URL` pairs feed: `file` (written to the first of `rdirs`), `live` (relayed to listeners), `auto` (file when `rdirs` is given).
    #[arg(long, value_enum, value_name = "KIND", default_value_t = SinkKind::Auto, help_heading = "Sinks")]
    pub sink: SinkKind,
}

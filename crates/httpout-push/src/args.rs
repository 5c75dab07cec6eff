//! The push client's options, a clap group the `httpout` binary flattens
//! beside the others.

use std::path::PathBuf;

use clap::Args;
use httpout_core::options::value::parse_u32;

/// The push client's options (see `docs/options.md`).
#[derive(Debug, Clone, PartialEq, Eq, Args)]
pub struct PushArgs {
    /// Location of the destination resource (push mode); `URL1,URL2`: each destination gets every file on its own (redundant ingest).
    #[arg(long, value_name = "URL[,URL...]", help_heading = "Push client")]
    pub dst: Option<String>,

    /// Use POST instead of PUT for uploads (push mode).
    #[arg(
        long,
        value_name = "BOOL",
        default_value = "false",
        help_heading = "Push client"
    )]
    pub post: bool,

    /// Keep the input alive when an upload fails (push mode).
    #[arg(
        long,
        value_name = "BOOL",
        default_value = "true",
        help_heading = "Push client"
    )]
    pub ka: bool,

    /// Use chunked transfer-encoding when possible (push mode).
    #[arg(
        long,
        value_name = "BOOL",
        default_value = "true",
        help_heading = "Push client"
    )]
    pub cte: bool,

    /// Push mode: after pushing a directory, follow it and push files as they are written.
    #[arg(
        long,
        value_name = "BOOL",
        default_value = "false",
        help_heading = "Push client"
    )]
    pub watch: bool,

    /// Push mode: delete the remote copy of a pushed file removed locally (with `watch`).
    #[arg(
        long,
        value_name = "BOOL",
        default_value = "false",
        help_heading = "Push client"
    )]
    pub delete: bool,

    /// Push mode: extra trusted CA certificates (PEM) besides the system's.
    #[arg(long, value_name = "PATH", help_heading = "Push client")]
    pub cafile: Option<PathBuf>,

    /// Push mode: uploads of complete files at once, at most.
    #[arg(long, value_name = "N", value_parser = parse_u32, default_value = "4", help_heading = "Push client")]
    pub jobs: u32,

    /// User agent of the push client.
    #[arg(long = "user_agent", alias = "user-agent", value_name = "STR", default_value = concat!("httpout/", env!("CARGO_PKG_VERSION")), help_heading = "Push client")]
    pub user_agent: String,
}

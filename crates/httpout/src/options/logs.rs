//! The logging options: read by the binary alone (the subscriber and the
//! access log's writer, `crate::log`).

use std::path::PathBuf;

use clap::Args;

use crate::log::{LogFormat, Settings, parse_filter};

/// `--log`, `--access_log`, `--log_format`.
#[derive(Debug, Clone, PartialEq, Eq, Args)]
pub(crate) struct LogArgs {
    /// Which events reach standard error: a level (`debug`) or `ZONE=LEVEL,...` (`auth=debug,live=trace`; zones conn, tls, http, access, auth, static, live, push, follow, log stand for `httpout::ZONE`; other targets such as `rustls` are given whole). Default `RUST_LOG`, else `info`. Given, lines carry a timestamp, level and target.
    #[arg(long, value_name = "FILTER", value_parser = parse_filter, help_heading = "Logs")]
    pub(crate) log: Option<String>,

    /// Where the access log goes: a file (appended to; reopened on SIGUSR1) or `-` for standard error. Given without `--reqlog`, every request is logged.
    #[arg(
        long = "access_log",
        alias = "access-log",
        value_name = "PATH",
        help_heading = "Logs"
    )]
    pub(crate) access_log: Option<String>,

    /// The access log's lines: `gpac` (the `reqlog` lines), `common`, `combined` (Apache/nginx) or `json` (one object per line), the last three one line per request at its end. Not `gpac` without `--reqlog`: every request is logged.
    #[arg(long = "log_format", alias = "log-format", value_enum, value_name = "FORMAT", default_value_t = LogFormat::Gpac, help_heading = "Logs")]
    pub(crate) log_format: LogFormat,
}

impl LogArgs {
    /// What `crate::log` needs.
    pub(crate) fn settings(&self) -> Settings {
        Settings {
            filter: self.log.clone(),
            access_log: self
                .access_log
                .as_deref()
                .filter(|p| *p != "-")
                .map(PathBuf::from),
            format: self.log_format,
        }
    }
}

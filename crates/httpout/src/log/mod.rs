//! Where the libraries' `tracing` events go, and the access log.
//!
//! Standard error carries one line per event, `httpout: MESSAGE`, the form
//! scripts read since the first version; with `--log` the lines are
//! `TIMESTAMP LEVEL TARGET: MESSAGE` instead. Levels from `INFO` up are
//! shown unless `--log` (or `RUST_LOG` without it) says otherwise, an
//! `EnvFilter` whose short zone names (`auth=debug`) stand for
//! `httpout::auth` ([`ZONES`], [`parse_filter`]). Crates that log through
//! `log` (rustls) are bridged into the same events.
//!
//! The access log (`httpout::access`: `reqlog`, `--access_log`,
//! `--log_format`) has its own writer: [`access`].
//!
//! Writing never blocks the thread that logs: both go through [`Lossy`]
//! writers, which drop lines rather than wait and report how many.

mod access;
pub(crate) mod format;
mod lossy;

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use tracing::{Event, Subscriber};
use tracing_subscriber::filter::{EnvFilter, FilterExt, LevelFilter, filter_fn};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::layer::{Layer, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::registry::Registry;
use tracing_subscriber::reload;
use tracing_subscriber::util::SubscriberInitExt;

use access::AccessLayer;
pub(crate) use format::LogFormat;
use lossy::{Dest, Lossy};

/// `httpout: ` and the event's message (and fields, if any).
struct Line;

impl<S, N> FormatEvent<S, N> for Line
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        writer.write_str("httpout: ")?;
        ctx.field_format().format_fields(writer.by_ref(), event)?;
        writeln!(writer)
    }
}

/// The short names `--log` accepts for the engine's and modes' targets:
/// `auth` stands for `httpout::auth`. Any other target (`rustls`, `hyper`,
/// `httpout::auth`) is given whole.
pub(crate) const ZONES: &[&str] = &[
    "conn", "tls", "http", "access", "auth", "static", "live", "push", "follow", "log",
];

/// `--log`'s value: an `EnvFilter` (`info`, `auth=debug,live=trace`,
/// `rustls=debug`) with short zone names expanded; an error says what is
/// wrong with it.
pub(crate) fn parse_filter(s: &str) -> Result<String, String> {
    let expanded = s
        .split(',')
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .map(|directive| {
            let (target, level) = match directive.split_once('=') {
                Some((t, l)) => (t, Some(l)),
                None => (directive, None),
            };
            let target = if ZONES.contains(&target) {
                format!("httpout::{target}")
            } else {
                target.to_owned()
            };
            match level {
                Some(l) => format!("{target}={l}"),
                None => target,
            }
        })
        .collect::<Vec<_>>()
        .join(",");
    EnvFilter::builder().parse(&expanded).map_err(|e| {
        format!(
            "expected LEVEL or ZONE=LEVEL,... (zones: {}; levels: error, warn, info, debug, trace, off): {e}",
            ZONES.join(", ")
        )
    })?;
    Ok(expanded)
}

/// What the command line says about logging.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Settings {
    /// `--log`, expanded ([`parse_filter`]).
    pub(crate) filter: Option<String>,
    /// `--access_log`: a file, or `None` (or `-`) for standard error.
    pub(crate) access_log: Option<PathBuf>,
    /// `--log_format`.
    pub(crate) format: LogFormat,
}

impl Settings {
    /// Whether an access log was asked for beyond `reqlog`'s own lines.
    fn wants_access(&self) -> bool {
        self.access_log.is_some() || self.format != LogFormat::Gpac
    }

    /// The engine's request log as these settings need it: every request
    /// when an access log is asked for and `reqlog` is not given; always
    /// the end lines in the formats that are one line per request.
    pub(crate) fn apply(&self, reqlog: &mut Option<httpout_core::ReqLog>) {
        if reqlog.is_none() && self.wants_access() {
            *reqlog = Some(httpout_core::ReqLog {
                methods: None,
                rec: false,
                log_end: true,
            });
        }
        if let Some(r) = reqlog {
            r.log_end |= self.format != LogFormat::Gpac;
        }
    }
}

/// The running writers; dropping it writes what is queued (waiting a
/// bounded time).
pub(crate) struct Logging {
    stderr: Lossy,
    /// The access log file, if any.
    file: Option<Lossy>,
    /// Where a reload puts a new `--log` filter.
    filter: reload::Handle<EnvFilter, Registry>,
}

impl Logging {
    /// A new `--log` filter (a reload); the format, the access log and
    /// its file stay as they started.
    pub(crate) fn set_filter(&self, settings: &Settings) {
        let filter = filter(settings.filter.clone(), &mut None);
        if let Err(e) = self.filter.reload(filter) {
            tracing::warn!(target: "httpout::log", "the log filter was not reloaded: {e}");
        }
    }

    /// Reopens the access log file (`SIGUSR1`, after logrotate moved it).
    pub(crate) fn reopen(&self) {
        if let Some(file) = &self.file {
            file.reopen();
        }
    }
}

impl Drop for Logging {
    fn drop(&mut self) {
        let limit = Duration::from_secs(2);
        if let Some(file) = &self.file {
            file.close(limit);
        }
        self.stderr.close(limit);
    }
}

/// The filter of `--log` (expanded), else of `RUST_LOG` (a bad one is
/// ignored, said in `warning`), else INFO.
fn filter(directives: Option<String>, warning: &mut Option<String>) -> EnvFilter {
    let directives = directives.or_else(|| {
        let env = std::env::var("RUST_LOG").ok()?;
        parse_filter(&env)
            .map_err(|e| *warning = Some(format!("warning: RUST_LOG ignored: {e}")))
            .ok()
    });
    // `--log=auth=debug` turns a zone on: the rest stays at INFO unless a
    // bare level is given too (`--log=warn,auth=debug`).
    let directives = directives.unwrap_or_default();
    let has_level = directives
        .split(',')
        .any(|d| !d.trim().is_empty() && !d.contains('='));
    let directives = if has_level || directives.is_empty() {
        directives
    } else {
        format!("info,{directives}")
    };
    EnvFilter::builder()
        .with_default_directive(LevelFilter::INFO.into())
        .parse_lossy(directives)
}

/// Installs the one subscriber of the process. `RUST_LOG` applies when
/// `--log` is absent (a bad one is reported and ignored). An error is the
/// line to print (the access log file cannot be opened).
pub(crate) fn init(settings: &Settings) -> Result<Logging, String> {
    let stderr = Lossy::open(Dest::Stderr).map_err(|e| format!("cannot start logging: {e}"))?;
    let mut warning = None;
    let (filter, filter_handle) = reload::Layer::new(filter(settings.filter.clone(), &mut warning));
    let file = match &settings.access_log {
        Some(path) => Some(Lossy::open(Dest::File(path.clone())).map_err(|e| {
            format!(
                "--access_log={}: expected a file that can be written ({e})",
                path.display()
            )
        })?),
        None => None,
    };
    let general: Box<dyn Layer<Registry> + Send + Sync> = if settings.filter.is_some() {
        Box::new(
            tracing_subscriber::fmt::layer()
                .with_ansi(false)
                .with_writer(stderr.clone()),
        )
    } else {
        Box::new(
            tracing_subscriber::fmt::layer()
                .with_ansi(false)
                .event_format(Line)
                .with_writer(stderr.clone()),
        )
    };
    let access = AccessLayer {
        format: settings.format,
        out: file.clone().unwrap_or_else(|| stderr.clone()),
        stderr: stderr.clone(),
    };
    let installed = tracing_subscriber::registry()
        .with(general.with_filter(filter.and(filter_fn(|m| m.target() != access::TARGET))))
        .with(access.with_filter(filter_fn(|m| m.target() == access::TARGET)))
        .try_init();
    if let Err(e) = installed {
        return Err(format!("cannot start logging: {e}"));
    }
    if let Some(w) = warning {
        tracing::warn!(target: "httpout::log", "{w}");
    }
    Ok(Logging {
        stderr,
        file,
        filter: filter_handle,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zones_stand_for_httpout_targets() {
        assert_eq!(
            parse_filter("auth=debug,live=trace").unwrap(),
            "httpout::auth=debug,httpout::live=trace"
        );
        assert_eq!(parse_filter("debug").unwrap(), "debug");
        assert_eq!(parse_filter("tls").unwrap(), "httpout::tls");
        assert_eq!(
            parse_filter("warn, rustls=debug,httpout::conn=trace").unwrap(),
            "warn,rustls=debug,httpout::conn=trace"
        );
        let bad = parse_filter("auth=loud").unwrap_err();
        assert!(bad.contains("zones: conn, tls"), "{bad}");
    }

    #[test]
    fn an_access_log_logs_every_request_to_its_end() {
        let mut reqlog = None;
        Settings::default().apply(&mut reqlog);
        assert_eq!(reqlog, None, "nothing asked, nothing logged");
        let combined = Settings {
            format: LogFormat::Combined,
            ..Settings::default()
        };
        combined.apply(&mut reqlog);
        let all = reqlog.clone().unwrap();
        assert!(all.methods.is_none() && all.log_end && !all.rec);
        let mut no_end = Some("-PUT".parse().unwrap());
        combined.apply(&mut no_end);
        assert!(no_end.unwrap().log_end);
        let mut gpac_no_end = Some("-PUT".parse().unwrap());
        Settings {
            access_log: Some("/tmp/x".into()),
            ..Settings::default()
        }
        .apply(&mut gpac_no_end);
        assert!(!gpac_no_end.unwrap().log_end, "gpac keeps reqlog's `-`");
    }
}

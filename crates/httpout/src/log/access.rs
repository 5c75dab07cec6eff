//! The access log: the engine's `httpout::access` events (request start and
//! end lines, `REC` lines), written as `--log_format` says to
//! `--access_log` (standard error by default), through a [`Lossy`] writer
//! so that a slow destination never holds a request.
//!
//! In the `gpac` format every event is written as its message, as the
//! request log always was. In the other formats a request is one line at
//! its end; start lines are left out and `REC` lines (files written, which
//! are not requests) go to the main log on standard error.

use std::time::SystemTime;

use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::layer::{Context, Layer};

use super::format::{self, Entry, LogFormat};
use super::lossy::Lossy;

/// The target of the engine's access events.
pub(crate) const TARGET: &str = "httpout::access";

/// Writes `httpout::access` events (filter it to that target).
pub(crate) struct AccessLayer {
    pub(crate) format: LogFormat,
    /// `--access_log`'s destination.
    pub(crate) out: Lossy,
    /// Standard error, for the lines that are not requests.
    pub(crate) stderr: Lossy,
}

impl<S: Subscriber> Layer<S> for AccessLayer {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let mut fields = Fields::default();
        event.record(&mut fields);
        let gpac = || format!("httpout: {}\n", fields.message).into_bytes();
        match (self.format, fields.kind) {
            (LogFormat::Gpac, _) => self.out.send(gpac()),
            (_, Kind::End) => {
                if let Some(line) = format::line(self.format, &fields.entry, SystemTime::now()) {
                    self.out.send(line.into_bytes());
                }
            }
            (_, Kind::Start) => {}
            (_, Kind::Other) => self.stderr.send(gpac()),
        }
    }
}

/// Which of the engine's access events this is.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// A request's start line (`start` field).
    Start,
    /// A request's end (`status` field).
    End,
    /// Anything else (`REC` lines).
    #[default]
    Other,
}

/// An event's message and access fields.
#[derive(Default)]
struct Fields {
    message: String,
    kind: Kind,
    entry: Entry,
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.set(field.name(), value.to_owned());
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        match field.name() {
            "status" => {
                self.entry.status = value;
                self.kind = Kind::End;
            }
            "bytes" => self.entry.bytes = value,
            "duration_us" => self.entry.duration_us = value,
            _ => {}
        }
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        match field.name() {
            "start" if self.kind == Kind::Other => self.kind = Kind::Start,
            "complete" => self.entry.complete = value,
            _ => {}
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        // `%` fields (and the message) arrive here as their `Display`.
        self.set(field.name(), format!("{value:?}"));
    }
}

impl Fields {
    fn set(&mut self, name: &str, text: String) {
        match name {
            "message" => self.message = text,
            "client" => self.entry.client = text,
            "user" => self.entry.user = Some(text),
            "method" => self.entry.method = text,
            "path" => self.entry.path = text,
            "protocol" => self.entry.protocol = text,
            "referer" => self.entry.referer = Some(text),
            "user_agent" => self.entry.user_agent = Some(text),
            _ => {}
        }
    }
}

//! httpout-source: source mode (`--hmode=source`). Incoming `PUT`/`POST`
//! bodies are not stored: each is handed, as it streams in, to a [`Sink`]:
//!
//! - [`Sink::Stdout`] (`-o -`): bodies written to standard output in
//!   arrival order, one upload at a time (the others wait their turn);
//! - [`Sink::Exec`] (`--exec='ffmpeg -i - ...'`): a command started per
//!   upload (`sh -c`), the body on its standard input, the request facts in
//!   `HTTPOUT_*` environment variables; its exit status decides the answer:
//!   `201` with its standard output (the last 64 KiB) on success, `502` with
//!   the tail of its standard error otherwise. At most `exec_max` commands
//!   run at once ([`SourceHandler::with_exec_max`]; the number of cores by
//!   default); later uploads wait their turn in arrival order, unread (TCP
//!   holds their clients back), up to [`QUEUED_PER_SLOT`] per slot, beyond
//!   which they are answered `503`. Once the command exits its output
//!   pipes are read for [`PIPE_GRACE`] more at most, so a background
//!   process that keeps them open cannot hold the answer;
//! - [`Sink::Channel`]: a Rust stream of [`Upload`]s for programs embedding
//!   the server, each with its request head and a body read with
//!   backpressure; the program answers with [`Done::send`].
//!
//! Backpressure runs end to end: the body is read only as fast as the sink
//! takes it, so a slow consumer slows the uploader through TCP flow control
//! and memory stays one frame per upload.

mod args;
pub use args::SourceArgs;
mod error;
mod sink;

pub use error::SourceError;
pub use sink::{Done, PIPE_GRACE, QUEUED_PER_SLOT, Upload};

use std::sync::Arc;
use std::time::Duration;

use http::{Method, Request};
use httpout_core::{Allow, Body, Ctx, Error, Handler, HandlerFuture, SafePath};
use tokio::sync::mpsc;

/// Where uploads go.
#[derive(Debug, Clone)]
pub enum Sink {
    /// Standard output, one upload at a time.
    Stdout,
    /// A shell command per upload, the body on its standard input.
    Exec(String),
    /// A stream of [`Upload`]s (see [`Sink::channel`]).
    Channel(mpsc::Sender<Upload>),
}

impl Sink {
    /// A [`Sink::Channel`] holding at most `capacity` uploads not yet
    /// taken, and the receiving end.
    pub fn channel(capacity: usize) -> (Self, mpsc::Receiver<Upload>) {
        let (tx, rx) = mpsc::channel(capacity.max(1));
        (Self::Channel(tx), rx)
    }
}

/// Takes uploads into a [`Sink`].
#[derive(Debug, Clone)]
pub struct SourceHandler {
    inner: Arc<sink::Inner>,
}

impl SourceHandler {
    /// Uploads go to `sink`; an uploader that sends nothing for `timeout`
    /// is answered 408 (stdout and exec sinks). Commands of
    /// [`Sink::Exec`] run as many at once as the machine has cores.
    pub fn new(sink: Sink, timeout: Option<Duration>) -> Self {
        Self::with_exec_max(sink, timeout, 0)
    }

    /// [`SourceHandler::new`] with at most `exec_max` commands of
    /// [`Sink::Exec`] at once (`--exec_max`; 0 means the number of cores).
    pub fn with_exec_max(sink: Sink, timeout: Option<Duration>, exec_max: usize) -> Self {
        let exec_max = match exec_max {
            0 => std::thread::available_parallelism().map_or(1, usize::from),
            n => n,
        };
        Self {
            inner: Arc::new(sink::Inner::new(sink, timeout, exec_max)),
        }
    }
}

impl Handler for SourceHandler {
    /// `PUT`, `POST`, `OPTIONS`: the engine answers `OPTIONS` (and a
    /// browser's CORS preflight), 405 and 501.
    fn allow(&self, _path: &SafePath) -> Allow {
        Allow::only([Method::PUT, Method::POST, Method::OPTIONS])
    }

    fn handle(&self, req: Request<Body>, ctx: Ctx) -> HandlerFuture {
        let inner = Arc::clone(&self.inner);
        let allow = self.allow(&ctx.path);
        Box::pin(async move {
            match *req.method() {
                Method::PUT | Method::POST => inner.take(req, ctx).await.map_err(Error::from),
                // Called directly, not through the engine: what it would answer.
                _ => Err(allow.refuse(req.method())),
            }
        })
    }
}

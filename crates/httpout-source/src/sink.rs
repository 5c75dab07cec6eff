//! The three sinks: standard output, a command per upload, a channel.

use std::net::SocketAddr;
use std::process::Stdio;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http::header::CONTENT_TYPE;
use http::request::Parts;
use http::{HeaderValue, Request, Response, StatusCode};
use http_body_util::BodyExt as _;
use httpout_core::{Body, Ctx};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::{Mutex, Semaphore, oneshot, watch};
use tokio::task::JoinHandle;

use crate::Sink;
use crate::error::SourceError;

/// What a command's standard output may give back in the answer.
const STDOUT_TAIL: usize = 64 * 1024;
/// What a failed command's standard error may give back.
const STDERR_TAIL: usize = 4 * 1024;
/// Uploads that may wait for a command slot, per slot; past them, `503`.
pub const QUEUED_PER_SLOT: usize = 4;
/// How long a command's output pipes are still read after it exits: what
/// a process it left in the background writes later is not waited for.
pub const PIPE_GRACE: Duration = Duration::from_secs(1);

/// One upload handed to an embedding program ([`Sink::Channel`]).
#[derive(Debug)]
pub struct Upload {
    /// The request head: method, URI, headers.
    pub head: Parts,
    /// The uploader's address (`None` on a Unix socket).
    pub peer: Option<SocketAddr>,
    /// The body, read from the uploader as fast as it is polled.
    pub body: Body,
    /// The answer: send the status once the body is handled.
    pub done: Done,
}

/// Answers an [`Upload`]; dropping it unanswered gives the uploader 502.
#[derive(Debug)]
pub struct Done(oneshot::Sender<StatusCode>);

impl Done {
    /// Answers the uploader with `status` (and no body).
    pub fn send(self, status: StatusCode) {
        let _ = self.0.send(status);
    }
}

#[derive(Debug)]
pub(crate) struct Inner {
    sink: Sink,
    timeout: Option<Duration>,
    /// Standard output, taken by one upload at a time, in arrival order
    /// (tokio's mutex is fair).
    stdout: Mutex<tokio::io::Stdout>,
    /// Command slots (`exec_max`), taken in arrival order.
    slots: Semaphore,
    /// Uploads waiting for a slot, at most `exec_max` × [`QUEUED_PER_SLOT`].
    queued: AtomicUsize,
    queue_max: usize,
}

impl Inner {
    pub(crate) fn new(sink: Sink, timeout: Option<Duration>, exec_max: usize) -> Self {
        let exec_max = exec_max.max(1);
        Self {
            sink,
            timeout,
            stdout: Mutex::new(tokio::io::stdout()),
            slots: Semaphore::new(exec_max),
            queued: AtomicUsize::new(0),
            queue_max: exec_max.saturating_mul(QUEUED_PER_SLOT),
        }
    }

    /// A command slot: at once when one is free, else after the uploads
    /// queued before; `Busy` when the queue is full.
    async fn slot(&self) -> Result<tokio::sync::SemaphorePermit<'_>, SourceError> {
        if let Ok(permit) = self.slots.try_acquire() {
            return Ok(permit);
        }
        let waiting = self.queued.fetch_add(1, Ordering::AcqRel);
        // Counted out however the wait ends (its client may leave).
        let _queued = Queued(&self.queued);
        if waiting >= self.queue_max {
            return Err(SourceError::Busy);
        }
        self.slots.acquire().await.map_err(|_| SourceError::Closed)
    }

    pub(crate) async fn take(
        &self,
        req: Request<Body>,
        ctx: Ctx,
    ) -> Result<Response<Body>, SourceError> {
        match &self.sink {
            Sink::Stdout => {
                let mut out = self.stdout.lock().await;
                self.copy(req.into_body(), &mut *out).await?;
                out.flush()
                    .await
                    .map_err(|e| SourceError::Consumer(format!("standard output: {e}")))?;
                Ok(status(StatusCode::CREATED, Bytes::new()))
            }
            Sink::Exec(cmd) => self.exec(cmd, req, &ctx).await,
            Sink::Channel(tx) => {
                let (head, body) = req.into_parts();
                let (done, answer) = oneshot::channel();
                let upload = Upload {
                    head,
                    peer: ctx.peer,
                    body,
                    done: Done(done),
                };
                tx.send(upload).await.map_err(|_| SourceError::Closed)?;
                let code = answer.await.map_err(|_| {
                    SourceError::Consumer("the upload was dropped unanswered".to_owned())
                })?;
                Ok(status(code, Bytes::new()))
            }
        }
    }

    /// Copies the body into `out`; `Ok(false)` when `out` stopped taking
    /// bytes (a command that exited early), which is not an upload error.
    async fn copy<W: AsyncWrite + Unpin>(
        &self,
        mut body: Body,
        out: &mut W,
    ) -> Result<bool, SourceError> {
        loop {
            let frame = match httpout_core::timeout::within(self.timeout, body.frame()).await {
                None => return Err(SourceError::Stalled),
                Some(None) => return Ok(true),
                Some(Some(Err(e))) => return Err(SourceError::Aborted(e.to_string())),
                Some(Some(Ok(frame))) => frame,
            };
            if let Ok(data) = frame.into_data() {
                if let Err(e) = out.write_all(&data).await {
                    if e.kind() == std::io::ErrorKind::BrokenPipe {
                        return Ok(false);
                    }
                    return Err(SourceError::Consumer(format!("writing the upload: {e}")));
                }
            }
        }
    }

    /// Runs `cmd` with the body on its standard input.
    async fn exec(
        &self,
        cmd: &str,
        req: Request<Body>,
        ctx: &Ctx,
    ) -> Result<Response<Body>, SourceError> {
        let _slot = self.slot().await?;
        let (parts, body) = req.into_parts();
        let header = |name: http::HeaderName| {
            parts
                .headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned()
        };
        let mut child = tokio::process::Command::new("sh")
            .arg("-c")
            .arg(cmd)
            .env("HTTPOUT_METHOD", parts.method.as_str())
            .env("HTTPOUT_PATH", ctx.path.to_string())
            .env("HTTPOUT_CONTENT_TYPE", header(CONTENT_TYPE))
            .env(
                "HTTPOUT_CONTENT_LENGTH",
                header(http::header::CONTENT_LENGTH),
            )
            .env(
                "HTTPOUT_PEER",
                ctx.peer.map(|p| p.to_string()).unwrap_or_default(),
            )
            .env("HTTPOUT_USER", ctx.user.clone().unwrap_or_default())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(SourceError::Spawn)?;
        let (stop, stopped) = watch::channel(false);
        let out = tokio::spawn(tail(child.stdout.take(), STDOUT_TAIL, stopped.clone()));
        let err = tokio::spawn(tail(child.stderr.take(), STDERR_TAIL, stopped));
        let mut stdin = child.stdin.take().expect("stdin is piped");
        let copied = self.copy(body, &mut stdin).await;
        drop(stdin);
        if let Err(e) = copied {
            let _ = child.start_kill();
            let _ = stop.send(true);
            return Err(e);
        }
        let exit = child.wait().await.map_err(SourceError::Spawn)?;
        // The pipes end when the command exits, unless a process it left
        // behind still holds them: then what was read within the grace.
        let grace = tokio::time::sleep(PIPE_GRACE);
        tokio::pin!(grace);
        let out = until(out, grace.as_mut(), &stop).await;
        let err = until(err, grace.as_mut(), &stop).await;
        if exit.success() {
            Ok(status(StatusCode::CREATED, out))
        } else {
            let text = String::from_utf8_lossy(&err);
            Err(SourceError::Consumer(format!(
                "{cmd:?} {exit}: {}",
                text.trim_end()
            )))
        }
    }
}

/// Counts an upload out of the queue when dropped.
struct Queued<'a>(&'a AtomicUsize);

impl Drop for Queued<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// The result of a pipe reader, or, once `grace` is over, what it read
/// until told to `stop`.
async fn until(
    reader: JoinHandle<Bytes>,
    grace: std::pin::Pin<&mut tokio::time::Sleep>,
    stop: &watch::Sender<bool>,
) -> Bytes {
    tokio::pin!(reader);
    tokio::select! {
        read = &mut reader => return read.unwrap_or_default(),
        () = grace => {}
    }
    let _ = stop.send(true);
    reader.await.unwrap_or_default()
}

/// The last `max` bytes of a pipe, read to its end or until `stop`.
async fn tail<R: AsyncRead + Unpin>(
    pipe: Option<R>,
    max: usize,
    mut stop: watch::Receiver<bool>,
) -> Bytes {
    let Some(mut pipe) = pipe else {
        return Bytes::new();
    };
    let mut kept = Vec::new();
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = tokio::select! {
            read = pipe.read(&mut buf) => match read {
                Ok(n) if n > 0 => n,
                _ => break,
            },
            _ = stop.wait_for(|s| *s) => break,
        };
        kept.extend_from_slice(&buf[..n]);
        if kept.len() > 2 * max {
            kept.drain(..kept.len() - max);
        }
    }
    if kept.len() > max {
        kept.drain(..kept.len() - max);
    }
    Bytes::from(kept)
}

fn status(code: StatusCode, body: Bytes) -> Response<Body> {
    let mut res = Response::new(Body::full(body));
    *res.status_mut() = code;
    res.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    res
}

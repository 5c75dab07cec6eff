//! The three sinks: standard output, a command per upload, a channel.

use std::net::SocketAddr;
use std::process::Stdio;
use std::time::Duration;

use bytes::Bytes;
use http::header::CONTENT_TYPE;
use http::request::Parts;
use http::{HeaderValue, Request, Response, StatusCode};
use http_body_util::BodyExt as _;
use httpout_core::{Body, Ctx};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::{Mutex, oneshot};

use crate::Sink;
use crate::error::SourceError;

/// What a command's standard output may give back in the answer.
const STDOUT_TAIL: usize = 64 * 1024;
/// What a failed command's standard error may give back.
const STDERR_TAIL: usize = 4 * 1024;

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
}

impl Inner {
    pub(crate) fn new(sink: Sink, timeout: Option<Duration>) -> Self {
        Self {
            sink,
            timeout,
            stdout: Mutex::new(tokio::io::stdout()),
        }
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
        let out = tokio::spawn(tail(child.stdout.take(), STDOUT_TAIL));
        let err = tokio::spawn(tail(child.stderr.take(), STDERR_TAIL));
        let mut stdin = child.stdin.take().expect("stdin is piped");
        let copied = self.copy(body, &mut stdin).await;
        drop(stdin);
        if let Err(e) = copied {
            let _ = child.start_kill();
            return Err(e);
        }
        let exit = child.wait().await.map_err(SourceError::Spawn)?;
        let out = out.await.unwrap_or_default();
        let err = err.await.unwrap_or_default();
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

/// The last `max` bytes of a pipe, read to its end.
async fn tail<R: AsyncRead + Unpin>(pipe: Option<R>, max: usize) -> Bytes {
    let Some(mut pipe) = pipe else {
        return Bytes::new();
    };
    let mut kept = Vec::new();
    let mut buf = vec![0u8; 16 * 1024];
    while let Ok(n) = pipe.read(&mut buf).await {
        if n == 0 {
            break;
        }
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

//! httpout-push: the push client (`--hmode=push`). Local bytes go to a
//! remote origin by PUT (or POST), over HTTP/1.1 or HTTP/2, with TLS.
//!
//! - a file: one upload with a `Content-Length`;
//! - `-` (stdin) or a FIFO: one chunked upload that streams as input comes
//!   (with `--cte=false`, spooled to a temporary file first and sent with
//!   a length);
//! - a directory: every file under it, to the destination plus its relative
//!   path, a bounded number at once over kept-alive connections; with
//!   `--watch` the directory is then followed ([`watch`]): new files are
//!   uploaded as they appear, a file still being written is sent chunk by
//!   chunk as it grows and ends when its writer closes it (a packager's
//!   `NAME.tmp` is sent as `NAME`, and ends at its rename).
//!
//! Failures (refused connection, 5xx, 408, 429, an origin silent for
//! `--timeout`) are retried with back-off;
//! each file ends confirmed by a 2xx or reported with the URL, the status
//! and the start of the origin's answer. Never a silent loss. A stop
//! (SIGINT/SIGTERM) ends retries at once and uploads in progress within
//! half a second; what was not confirmed is reported as not pushed.

mod args;
pub use args::PushArgs;
mod client;
mod error;
mod retry;
pub mod watch;

pub use error::PushError;

use std::io::{Seek as _, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use futures_util::TryStreamExt as _;
use http::{HeaderName, HeaderValue, Method, Uri};
use http_body_util::StreamBody;
use httpout_core::Body;
use httpout_core::metrics::PushOutcome;
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWriteExt};
use tokio_util::io::ReaderStream;
use tokio_util::sync::CancellationToken;

use crate::client::Client;

/// What to push and how.
#[derive(Debug, Clone)]
pub struct PushConfig {
    /// The destination: a file URL for a single input, a directory URL
    /// (a trailing `/` is implied) for a directory.
    pub dst: Uri,
    /// POST instead of PUT (`post`).
    pub post: bool,
    /// Chunked uploads for inputs of unknown length (`cte`).
    pub cte: bool,
    /// Go on with other files when one fails (`ka`).
    pub ka: bool,
    /// `User-Agent` (`user_agent`).
    pub user_agent: String,
    /// Extra request headers (`hdrs`).
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// Extra trusted roots, PEM (`cafile`).
    pub cafile: Option<PathBuf>,
    /// Follow a directory after the first pass (`watch`).
    pub watch: bool,
    /// Delete remote copies of files removed locally (`delete`).
    pub delete: bool,
    /// Uploads at once, at most (`jobs`).
    pub jobs: usize,
    /// How long the origin may leave an upload without progress (taking
    /// its body, or answering once it has it all), and each read of its
    /// answer (the engine's `--timeout`; `None`: no limit). Running out is
    /// a network failure: retried.
    pub timeout: Option<std::time::Duration>,
    /// Draw a progress line (bytes, rate, ETA) on stderr for single
    /// uploads; the CLI sets it when stderr is a terminal.
    pub progress: bool,
    /// Where successes, retries and failures are counted
    /// (`httpout_push_attempts_total`).
    pub metrics: Arc<httpout_core::Metrics>,
}

/// What a push did.
#[derive(Debug, Default)]
pub struct Report {
    /// Files (or streams) confirmed by a 2xx.
    pub uploaded: AtomicU64,
    /// Bytes confirmed.
    pub bytes: AtomicU64,
    /// Files that failed for good (each was reported on stderr).
    pub failed: AtomicU64,
}

/// Pushes inputs to an origin.
#[derive(Debug, Clone)]
pub struct Pusher {
    client: Client,
    config: Arc<PushConfig>,
    report: Arc<Report>,
    /// Cancelled by the caller to stop ([`Pusher::run`]'s `stop`).
    stop: CancellationToken,
}

impl Pusher {
    /// A pusher; errors name the bad setting.
    pub fn new(config: PushConfig) -> Result<Self, PushError> {
        let method = if config.post {
            Method::POST
        } else {
            Method::PUT
        };
        let client = Client::new(
            method,
            &config.user_agent,
            config.headers.clone(),
            config.cafile.as_deref(),
            config.timeout,
        )?;
        Ok(Self {
            client,
            config: Arc::new(config),
            report: Arc::new(Report::default()),
            stop: CancellationToken::new(),
        })
    }

    /// What was done so far.
    pub fn report(&self) -> &Report {
        &self.report
    }

    /// Pushes `source` (`-`, a file, a FIFO or a directory). With `watch`,
    /// a directory is followed until `stop` is cancelled. Cancelling `stop`
    /// also ends retries at once and uploads in progress within half a
    /// second; they are reported as not pushed. Returns an
    /// error when a file failed for good (after the others, with `ka`) or
    /// was not pushed before the stop.
    pub async fn run(&self, source: &str, stop: CancellationToken) -> Result<(), PushError> {
        let pusher = Self {
            stop,
            ..self.clone()
        };
        pusher.run_source(source).await
    }

    async fn run_source(&self, source: &str) -> Result<(), PushError> {
        if source == "-" {
            return self.stream(Box::new(tokio::io::stdin()), "stdin").await;
        }
        let path = Path::new(source);
        let meta = std::fs::metadata(path).map_err(|e| PushError::Input {
            path: source.to_owned(),
            source: e,
        })?;
        if meta.is_dir() {
            return watch::push_dir(self, path).await;
        }
        if meta.is_file() {
            let dst = self.config.dst.clone();
            return self.single_file(path, &dst).await;
        }
        // A FIFO (or a character device): a stream.
        let file = tokio::fs::File::open(path)
            .await
            .map_err(|e| PushError::Input {
                path: source.to_owned(),
                source: e,
            })?;
        self.stream(Box::new(file), source).await
    }

    /// Uploads a complete file with its length, retrying, with a progress
    /// line when asked.
    async fn single_file(&self, path: &Path, uri: &Uri) -> Result<(), PushError> {
        let file = std::fs::File::open(path).map_err(|e| input(path, e));
        self.account(match file {
            Ok(file) => self.single_handle(&file, path, uri).await,
            Err(e) => Err(e),
        })
    }

    /// [`Pusher::single_file`] for an open file (`path` names it in
    /// messages and for its media type); not counted yet.
    async fn single_handle(
        &self,
        file: &std::fs::File,
        path: &Path,
        uri: &Uri,
    ) -> Result<u64, PushError> {
        let len = file.metadata().map(|m| m.len()).ok();
        let bar = self.progress_bar(len);
        let sent = self.handle_with(file, path, uri, bar.as_ref()).await;
        if let Some(bar) = bar {
            bar.finish_and_clear();
        }
        sent
    }

    /// A progress line on stderr, when asked: a bar with ETA for a known
    /// length, bytes and rate for a stream.
    fn progress_bar(&self, len: Option<u64>) -> Option<indicatif::ProgressBar> {
        if !self.config.progress {
            return None;
        }
        let (bar, template) = match len {
            Some(n) => (
                indicatif::ProgressBar::new(n),
                "{bar:30} {bytes}/{total_bytes} {binary_bytes_per_sec} ETA {eta}",
            ),
            None => (
                indicatif::ProgressBar::new_spinner(),
                "{spinner} {bytes} {binary_bytes_per_sec} {elapsed}",
            ),
        };
        if let Ok(style) = indicatif::ProgressStyle::with_template(template) {
            bar.set_style(style);
        }
        bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
        Some(bar)
    }

    /// Uploads a complete file with its length, retrying. When confirmed:
    /// the length sent and the modification time when it was opened, for
    /// "already pushed" checks; a failure is counted and reported.
    pub(crate) async fn file(&self, path: &Path, uri: &Uri) -> Option<watch::Stamp> {
        let opened = std::fs::File::open(path)
            .and_then(|f| Ok((f.metadata()?.modified()?, f)))
            .map_err(|e| input(path, e));
        let sent = match opened {
            Ok((modified, file)) => self
                .handle_with(&file, path, uri, None)
                .await
                .map(|len| (len, modified)),
            Err(e) => Err(e),
        };
        let stamp = sent.as_ref().ok().copied();
        let _ = self.account(sent.map(|(len, _)| len));
        stamp
    }

    /// Uploads the whole of an open file with its length, retrying, each
    /// attempt from its start: the bytes sent.
    async fn handle_with(
        &self,
        file: &std::fs::File,
        path: &Path,
        uri: &Uri,
        bar: Option<&indicatif::ProgressBar>,
    ) -> Result<u64, PushError> {
        let content_type = content_type(path);
        retry::run(&self.stop, uri, &self.config.metrics, || async {
            let mut file = file.try_clone().map_err(|e| input(path, e))?;
            file.seek(SeekFrom::Start(0)).map_err(|e| input(path, e))?;
            let len = file.metadata().map_err(|e| input(path, e))?.len();
            if let Some(bar) = bar {
                bar.set_position(0);
            }
            let file = tokio::fs::File::from_std(file);
            let body = counted_body(file.take(len), bar.cloned()).with_exact_size(len);
            self.client
                .upload(uri, body, content_type)
                .await
                .map(|_| len)
        })
        .await
    }

    /// Uploads a stream of unknown length: chunked, or spooled first with
    /// `cte=false`.
    async fn stream(
        &self,
        mut reader: Box<dyn AsyncRead + Unpin + Send>,
        name: &str,
    ) -> Result<(), PushError> {
        let uri = self.config.dst.clone();
        if !self.config.cte {
            let sent = retry::until_stopped(&self.stop, &uri, async {
                let spool = spool(&mut reader).await.map_err(|e| input(name, e))?;
                Ok(spool)
            })
            .await;
            return self.account(match sent {
                Ok(spool) => {
                    let named = Path::new(self.config.dst.path());
                    self.single_handle(&spool, named, &uri).await
                }
                Err(e) => Err(e),
            });
        }
        // A stream is read once: no retry once it has started.
        let bar = self
            .progress_bar(None)
            .unwrap_or_else(indicatif::ProgressBar::hidden);
        let body = counted_body(reader, Some(bar.clone()));
        let upload = self
            .client
            .upload(&uri, body, content_type(self.config.dst.path()));
        let sent = retry::until_stopped(&self.stop, &uri, upload)
            .await
            .map(|_| bar.position());
        bar.finish_and_clear();
        self.account(sent)
    }

    /// Counts an outcome; a failure is reported on stderr.
    fn account(&self, sent: Result<u64, PushError>) -> Result<(), PushError> {
        match sent {
            Ok(n) => {
                self.config.metrics.push(PushOutcome::Success);
                self.report.uploaded.fetch_add(1, Ordering::Relaxed);
                self.report.bytes.fetch_add(n, Ordering::Relaxed);
                Ok(())
            }
            Err(e) => {
                self.config.metrics.push(PushOutcome::Failure);
                self.report.failed.fetch_add(1, Ordering::Relaxed);
                tracing::error!(target: "httpout::push", "push failed: {e}");
                Err(e)
            }
        }
    }
}

/// Copies a stream into a spool file that has no name (`O_TMPFILE` in
/// `$TMPDIR`, or a random name created exclusively and unlinked at once):
/// nothing another user can guess or plant a link at.
async fn spool(reader: &mut (dyn AsyncRead + Unpin + Send)) -> std::io::Result<std::fs::File> {
    let file = tokio::task::spawn_blocking(tempfile::tempfile)
        .await
        .map_err(std::io::Error::other)??;
    let mut spool = tokio::fs::File::from_std(file);
    tokio::io::copy(reader, &mut spool).await?;
    spool.flush().await?;
    Ok(spool.into_std().await)
}

/// An error reading the input `path`.
fn input(path: impl AsRef<Path>, source: std::io::Error) -> PushError {
    PushError::Input {
        path: path.as_ref().display().to_string(),
        source,
    }
}

/// A body reading `reader` block by block, counting into `bar`.
fn counted_body(
    reader: impl AsyncRead + Send + 'static,
    bar: Option<indicatif::ProgressBar>,
) -> Body {
    Body::new(StreamBody::new(
        ReaderStream::with_capacity(reader, 64 * 1024)
            .inspect_ok(move |b: &Bytes| {
                if let Some(bar) = &bar {
                    bar.inc(b.len() as u64);
                }
            })
            .map_ok(http_body::Frame::data),
    ))
}

/// The media type of a name, for the origin's benefit: one of the
/// streaming and web types of [`httpout_core::media_type::ours`], else none
/// (the origin decides).
fn content_type(name: impl AsRef<Path>) -> Option<&'static str> {
    httpout_core::media_type::ours(name.as_ref().to_str()?)
}

/// `base` (a directory URL) joined with a relative path, each segment
/// percent-encoded.
pub(crate) fn join(base: &Uri, rel: &Path) -> Result<Uri, PushError> {
    const SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'.')
        .remove(b'_')
        .remove(b'~');
    let mut out = base.to_string();
    if !out.ends_with('/') {
        out.push('/');
    }
    let segments: Vec<String> = rel
        .components()
        .map(|c| {
            percent_encoding::utf8_percent_encode(&c.as_os_str().to_string_lossy(), SEGMENT)
                .to_string()
        })
        .collect();
    out.push_str(&segments.join("/"));
    out.parse()
        .map_err(|e| PushError::Config(format!("{out}: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;
    use tokio::net::TcpListener;

    /// The settings of a test push to `dst`: one job, no watch, no limit.
    pub(crate) fn config(dst: &str) -> PushConfig {
        PushConfig {
            dst: dst.parse().unwrap(),
            post: false,
            cte: true,
            ka: true,
            user_agent: "test".to_owned(),
            headers: Vec::new(),
            cafile: None,
            watch: false,
            delete: false,
            jobs: 1,
            progress: false,
            timeout: None,
            metrics: Arc::default(),
        }
    }

    /// Reads a request with a `Content-Length` body from `s`.
    async fn read_request(s: &mut tokio::net::TcpStream) -> String {
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            let n = s.read(&mut buf).await.unwrap();
            assert!(n > 0, "closed mid-request");
            got.extend_from_slice(&buf[..n]);
            let text = String::from_utf8_lossy(&got).into_owned();
            if let Some((head, body)) = text.split_once("\r\n\r\n") {
                let len: usize = head
                    .lines()
                    .find_map(|l| {
                        l.to_ascii_lowercase()
                            .strip_prefix("content-length:")
                            .map(|v| v.trim().parse().unwrap())
                    })
                    .unwrap_or(0);
                if body.len() >= len {
                    return text;
                }
            }
        }
    }

    /// An origin that accepts and never answers is cut after `timeout`
    /// and retried like a network failure: the next attempt lands.
    #[tokio::test]
    async fn a_silent_origin_times_out_and_the_upload_is_retried() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let origin = tokio::spawn(async move {
            // First connection: read the upload, answer nothing, hold it.
            let (mut silent, _) = listener.accept().await.unwrap();
            let first = read_request(&mut silent).await;
            // Second: answer 201.
            let (mut s, _) = listener.accept().await.unwrap();
            let second = read_request(&mut s).await;
            s.write_all(b"HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n")
                .await
                .unwrap();
            drop(silent);
            (first, second)
        });
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a.bin");
        std::fs::write(&file, b"payload").unwrap();
        let pusher = Pusher::new(PushConfig {
            timeout: Some(Duration::from_secs(1)),
            ..config(&format!("http://{addr}/in/a.bin"))
        })
        .unwrap();
        // Before: no timeout, the push waited for ever (past this bound).
        let pushed = tokio::time::timeout(
            Duration::from_secs(20),
            pusher.run(file.to_str().unwrap(), CancellationToken::new()),
        )
        .await
        .expect("the silent origin was not cut");
        pushed.unwrap();
        let (first, second) = origin.await.unwrap();
        assert!(
            first.starts_with("PUT /in/a.bin") && first.ends_with("payload"),
            "{first}"
        );
        assert!(second.starts_with("PUT /in/a.bin") && second.ends_with("payload"));
        assert_eq!(pusher.report().uploaded.load(Ordering::Relaxed), 1);
    }

    /// The response's body is bounded too: a head then silence is cut.
    #[tokio::test]
    async fn a_silent_answer_body_times_out() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            read_request(&mut s).await;
            s.write_all(b"HTTP/1.1 500 Oops\r\nContent-Length: 100\r\n\r\npartial")
                .await
                .unwrap();
            tokio::time::sleep(Duration::from_secs(30)).await;
        });
        let client = Client::new(
            Method::PUT,
            "test",
            Vec::new(),
            None,
            Some(Duration::from_secs(1)),
        )
        .unwrap();
        let uri: Uri = format!("http://{addr}/x").parse().unwrap();
        let got = tokio::time::timeout(
            Duration::from_secs(10),
            client.upload(&uri, Body::full("x"), None),
        )
        .await
        .expect("the silent answer was not cut");
        let err = got.unwrap_err();
        assert!(err.retryable(), "{err}");
        assert!(err.to_string().contains("no answer within 1 s"), "{err}");
    }
}

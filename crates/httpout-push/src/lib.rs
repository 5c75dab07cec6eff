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
//!
//! Redundant ingest (`--dst=URL1,URL2`): every input goes to each
//! destination on its own lane — its connections, retries, failures and
//! report — and no destination waits for another: a watched directory is
//! followed and read from disk by each, a complete file is read by each,
//! and a stream (stdin, FIFO) is read once and handed to each through a
//! bounded queue (`fanout`): one that falls further behind is cut.

mod args;
pub use args::PushArgs;
mod client;
pub mod destinations;
mod error;
mod fanout;
mod lane;
mod retry;
pub mod watch;

pub use destinations::DstError;
pub use error::PushError;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use bytes::Bytes;
use futures_util::TryStreamExt as _;
use http::{HeaderName, HeaderValue, Method, Uri};
use http_body_util::StreamBody;
use httpout_core::Body;
use tokio::io::{AsyncRead, AsyncWriteExt};
use tokio_util::io::ReaderStream;
use tokio_util::sync::CancellationToken;

use crate::client::Client;
use crate::lane::Lane;

/// What to push and how.
#[derive(Debug, Clone)]
pub struct PushConfig {
    /// The destinations (`--dst=URL1,URL2`, at least one), each a file URL
    /// for a single input, a directory URL (a trailing `/` is implied) for
    /// a directory. Each gets every file, on its own.
    pub destinations: Vec<Uri>,
    /// POST instead of PUT (`post`).
    pub post: bool,
    /// Chunked uploads for inputs of unknown length (`cte`).
    pub cte: bool,
    /// Go on with other files when one fails (`ka`); per destination.
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
    /// Uploads at once, at most, per destination (`jobs`).
    pub jobs: usize,
    /// How long the origin may leave an upload without progress (taking
    /// its body, or answering once it has it all), and each read of its
    /// answer (the engine's `--timeout`; `None`: no limit). Running out is
    /// a network failure: retried.
    pub timeout: Option<std::time::Duration>,
    /// Draw a progress line (bytes, rate, ETA) on stderr for single
    /// uploads to one destination; the CLI sets it when stderr is a
    /// terminal.
    pub progress: bool,
    /// Where successes, retries and failures are counted
    /// (`httpout_push_attempts_total`, and by destination
    /// `httpout_push_destination_attempts_total`).
    pub metrics: Arc<httpout_core::Metrics>,
}

/// What a push did, for one destination.
#[derive(Debug, Default)]
pub struct Report {
    /// Files (or streams) confirmed by a 2xx.
    pub uploaded: AtomicU64,
    /// Bytes confirmed.
    pub bytes: AtomicU64,
    /// Files that failed for good (each was reported on stderr).
    pub failed: AtomicU64,
}

/// Pushes inputs to one origin or several (redundant ingest), each
/// destination on its own: its connections, retries and failures.
#[derive(Debug, Clone)]
pub struct Pusher {
    lanes: Vec<Lane>,
}

impl Pusher {
    /// A pusher; errors name the bad setting.
    pub fn new(config: PushConfig) -> Result<Self, PushError> {
        if config.destinations.is_empty() {
            return Err(PushError::Config("--dst: no destination".to_owned()));
        }
        let method = if config.post {
            Method::POST
        } else {
            Method::PUT
        };
        let tls = client::tls_config(config.cafile.as_deref())?;
        let config = Arc::new(config);
        let progress = config.progress && config.destinations.len() == 1;
        let lanes = config
            .destinations
            .iter()
            .map(|dst| {
                let client = Client::with_tls(
                    method.clone(),
                    &config.user_agent,
                    config.headers.clone(),
                    tls.clone(),
                    config.timeout,
                )?;
                Ok(Lane {
                    dst: dst.clone(),
                    client,
                    config: Arc::clone(&config),
                    report: Arc::new(Report::default()),
                    counters: config.metrics.push_destination(&destinations::label(dst)),
                    progress,
                    stop: CancellationToken::new(),
                })
            })
            .collect::<Result<_, PushError>>()?;
        Ok(Self { lanes })
    }

    /// What was done so far, by destination (named without credentials),
    /// in the order given.
    pub fn reports(&self) -> Vec<(String, &Report)> {
        self.lanes
            .iter()
            .map(|l| (destinations::label(&l.dst), &*l.report))
            .collect()
    }

    /// Pushes `source` (`-`, a file, a FIFO or a directory) to every
    /// destination, each on its own. With `watch`, a directory is followed
    /// until `stop` is cancelled. Cancelling `stop` also ends retries at
    /// once and uploads in progress within half a second; they are
    /// reported as not pushed. Returns an error when a file failed for
    /// good at some destination (after the others, with `ka`) or was not
    /// pushed before the stop.
    pub async fn run(&self, source: &str, stop: CancellationToken) -> Result<(), PushError> {
        let lanes: Vec<Lane> = self
            .lanes
            .iter()
            .map(|l| Lane {
                stop: stop.clone(),
                ..l.clone()
            })
            .collect();
        if source == "-" {
            return fanout::stream(&lanes, Box::new(tokio::io::stdin()), "stdin").await;
        }
        let path = Path::new(source);
        let meta = std::fs::metadata(path).map_err(|e| PushError::Input {
            path: source.to_owned(),
            source: e,
        })?;
        if meta.is_dir() {
            return all(lanes.iter().map(|l| watch::push_dir(l, path))).await;
        }
        if meta.is_file() {
            return all(lanes.iter().map(|l| l.single_file(path))).await;
        }
        // A FIFO (or a character device): a stream.
        let file = tokio::fs::File::open(path)
            .await
            .map_err(|e| PushError::Input {
                path: source.to_owned(),
                source: e,
            })?;
        fanout::stream(&lanes, Box::new(file), source).await
    }
}

/// Runs every destination's work at once, to its end: the first failure,
/// if any (each was reported already).
async fn all(
    work: impl IntoIterator<Item = impl std::future::Future<Output = Result<(), PushError>>>,
) -> Result<(), PushError> {
    futures_util::future::join_all(work)
        .await
        .into_iter()
        .find(Result::is_err)
        .unwrap_or(Ok(()))
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

/// A body of the first `len` bytes of `file`, read at offsets (not from
/// the file's shared position) block by block, counting into `bar`.
fn at_offsets(file: std::fs::File, len: u64, bar: Option<indicatif::ProgressBar>) -> Body {
    const BLOCK: u64 = 64 * 1024;
    let file = Arc::new(file);
    let blocks = futures_util::stream::try_unfold(0u64, move |at| {
        let (file, bar) = (Arc::clone(&file), bar.clone());
        async move {
            if at >= len {
                return Ok(None);
            }
            let want = usize::try_from(BLOCK.min(len - at)).unwrap_or(64 * 1024);
            let block = tokio::task::spawn_blocking(move || {
                let mut buf = vec![0u8; want];
                let n = std::os::unix::fs::FileExt::read_at(&*file, &mut buf, at)?;
                buf.truncate(n);
                Ok::<_, std::io::Error>(buf)
            })
            .await
            .map_err(std::io::Error::other)??;
            if block.is_empty() {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "the file shrank while it was sent",
                ));
            }
            if let Some(bar) = &bar {
                bar.inc(block.len() as u64);
            }
            let next = at + block.len() as u64;
            Ok(Some((http_body::Frame::data(Bytes::from(block)), next)))
        }
    });
    Body::new(StreamBody::new(blocks))
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
    use std::sync::atomic::Ordering;
    use std::time::Duration;
    use tokio::io::AsyncReadExt as _;
    use tokio::net::TcpListener;

    /// The settings of a test push to `dst`: one job, no watch, no limit.
    pub(crate) fn config(dst: &str) -> PushConfig {
        PushConfig {
            destinations: vec![dst.parse().unwrap()],
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
        assert_eq!(pusher.reports()[0].1.uploaded.load(Ordering::Relaxed), 1);
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

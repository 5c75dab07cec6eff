//! One destination's uploads: its own client (its own connections), its
//! own retries and back-off, its own [`Report`] and metrics series. With
//! `--dst=URL1,URL2` each destination is a lane of its own, run beside the
//! others: nothing one lane waits for holds another.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use http::Uri;
use httpout_core::metrics::{PushCounters, PushOutcome};
use tokio::io::AsyncRead;
use tokio_util::sync::CancellationToken;

use crate::client::Client;
use crate::{PushConfig, PushError, Report, content_type, counted_body, input, retry, spool};

/// The uploads to one destination.
#[derive(Debug, Clone)]
pub(crate) struct Lane {
    /// The destination: a file URL for a single input, a directory URL for
    /// a directory.
    pub(crate) dst: Uri,
    /// The destination's own client and connections.
    pub(crate) client: Client,
    pub(crate) config: Arc<PushConfig>,
    /// What reached this destination, and what did not.
    pub(crate) report: Arc<Report>,
    /// This destination's series of `httpout_push_*attempts_total`.
    pub(crate) counters: PushCounters,
    /// Draw a progress line (one destination on a terminal only).
    pub(crate) progress: bool,
    /// Cancelled by the caller to stop.
    pub(crate) stop: CancellationToken,
}

impl Lane {
    /// Uploads a complete file with its length, retrying, with a progress
    /// line when asked.
    pub(crate) async fn single_file(&self, path: &Path) -> Result<(), PushError> {
        let file = std::fs::File::open(path).map_err(|e| input(path, e));
        self.account(match file {
            Ok(file) => self.single_handle(&file, path).await,
            Err(e) => Err(e),
        })
    }

    /// [`Lane::single_file`] for an open file (`path` names it in
    /// messages and for its media type); not counted yet.
    pub(crate) async fn single_handle(
        &self,
        file: &std::fs::File,
        path: &Path,
    ) -> Result<u64, PushError> {
        let len = file.metadata().map(|m| m.len()).ok();
        let bar = self.progress_bar(len);
        let sent = self.handle_with(file, path, &self.dst, bar.as_ref()).await;
        if let Some(bar) = bar {
            bar.finish_and_clear();
        }
        sent
    }

    /// A progress line on stderr, when asked: a bar with ETA for a known
    /// length, bytes and rate for a stream.
    fn progress_bar(&self, len: Option<u64>) -> Option<indicatif::ProgressBar> {
        if !self.progress {
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
    pub(crate) async fn file(&self, path: &Path, uri: &Uri) -> Option<crate::watch::Stamp> {
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
    /// attempt from its start: the bytes sent. The file is read at
    /// offsets, not from its shared position, so several lanes may send
    /// the same open file (a spooled stream) at once.
    async fn handle_with(
        &self,
        file: &std::fs::File,
        path: &Path,
        uri: &Uri,
        bar: Option<&indicatif::ProgressBar>,
    ) -> Result<u64, PushError> {
        let content_type = content_type(path);
        retry::run(&self.stop, uri, &self.counters, || async {
            let file = file.try_clone().map_err(|e| input(path, e))?;
            let len = file.metadata().map_err(|e| input(path, e))?.len();
            if let Some(bar) = bar {
                bar.set_position(0);
            }
            let body = crate::at_offsets(file, len, bar.cloned()).with_exact_size(len);
            self.client
                .upload(uri, body, content_type)
                .await
                .map(|_| len)
        })
        .await
    }

    /// Uploads a stream of unknown length to this destination alone:
    /// chunked, or spooled first with `cte=false`.
    pub(crate) async fn stream(
        &self,
        mut reader: Box<dyn AsyncRead + Unpin + Send>,
        name: &str,
    ) -> Result<(), PushError> {
        let uri = self.dst.clone();
        if !self.config.cte {
            let sent = retry::until_stopped(&self.stop, &uri, async {
                let spool = spool(&mut reader).await.map_err(|e| input(name, e))?;
                Ok(spool)
            })
            .await;
            return self.account(match sent {
                Ok(spool) => self.single_handle(&spool, Path::new(uri.path())).await,
                Err(e) => Err(e),
            });
        }
        // A stream is read once: no retry once it has started.
        let bar = self
            .progress_bar(None)
            .unwrap_or_else(indicatif::ProgressBar::hidden);
        let body = counted_body(reader, Some(bar.clone()));
        let upload = self.client.upload(&uri, body, content_type(uri.path()));
        let sent = retry::until_stopped(&self.stop, &uri, upload)
            .await
            .map(|_| bar.position());
        bar.finish_and_clear();
        self.account(sent)
    }

    /// Counts an outcome; a failure is reported on stderr.
    pub(crate) fn account(&self, sent: Result<u64, PushError>) -> Result<(), PushError> {
        match sent {
            Ok(n) => {
                self.counters.count(PushOutcome::Success);
                self.report.uploaded.fetch_add(1, Ordering::Relaxed);
                self.report.bytes.fetch_add(n, Ordering::Relaxed);
                Ok(())
            }
            Err(e) => {
                self.counters.count(PushOutcome::Failure);
                self.report.failed.fetch_add(1, Ordering::Relaxed);
                tracing::error!(target: "httpout::push", "push failed: {e}");
                Err(e)
            }
        }
    }
}

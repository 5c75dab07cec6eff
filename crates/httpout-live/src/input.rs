//! `-i SOURCE -o http://HOST:PORT/MOUNT`: a file, a FIFO or stdin (`-`)
//! relayed to the listeners of MOUNT.
//!
//! Without `rt` the input is read as fast as it comes (a live encoder on a
//! FIFO or stdin sets the pace); with `rt` a file is sent at its media rate.
//! Without `hold`, what nobody listens to is dropped (a new listener still
//! gets the burst); with `hold`, reading waits while no listener is
//! connected. When the input ends the mount ends, unless `reopen`: then a
//! FIFO waits for its next writer and a file (with `rt`) plays again, the
//! listeners staying connected.

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt};

use crate::LiveConfig;
use crate::hub::{Facts, Hub, Phase, Stream};
use crate::icy::StreamMeta;
use crate::ingest::Publisher;
use crate::media::Format;

/// Bytes read from an input at a time.
const READ_SIZE: usize = 16 * 1024;

/// One live input and the stream it feeds.
#[derive(Debug)]
pub struct Input {
    source: String,
    stream: Arc<Stream>,
    format: Format,
    config: LiveConfig,
}

impl Input {
    /// Declares `mount` (e.g. `/live.mp3`) in `hub`, fed by `source`:
    /// listeners may connect at once and wait for the first bytes.
    pub fn declare(hub: &Hub, config: &LiveConfig, source: &str, mount: &str) -> Self {
        let named = config.ext.as_ref().map_or_else(
            || {
                if source == "-" {
                    mount.to_owned()
                } else {
                    source.to_owned()
                }
            },
            |ext| format!("input.{ext}"),
        );
        let format = Format::from_path(&named);
        let content_type = config
            .mime
            .clone()
            .or_else(|| format.mime().map(str::to_owned))
            .or_else(|| mime_guess::from_path(&named).first_raw().map(str::to_owned))
            .unwrap_or_else(|| "application/octet-stream".to_owned());
        let facts = Facts::new(content_type, StreamMeta::default(), config.title.as_deref());
        Self {
            source: source.to_owned(),
            stream: hub.declare(mount, facts),
            format,
            config: config.clone(),
        }
    }

    /// Relays the input until it ends (and, with `reopen`, again); then
    /// ends the mount. Errors are logged.
    pub async fn run(self) {
        let path = self.stream.path().to_owned();
        let stdin = self.source == "-";
        loop {
            let (reader, regular) = match open(&self.source).await {
                Ok(r) => r,
                Err(e) => {
                    eprintln!("httpout: input {} for {path}: {e}", self.source);
                    break;
                }
            };
            self.stream.set_phase(Phase::Live);
            let sent = self.relay(reader).await;
            eprintln!(
                "httpout: input {} for {path} ended ({sent} bytes)",
                self.source
            );
            if !self.config.reopen || stdin {
                break;
            }
            if regular && (!self.config.rt || sent == 0) {
                eprintln!(
                    "httpout: input {}: reopen plays a file again only with --rt (and when it is not empty)",
                    self.source
                );
                break;
            }
            self.stream.set_phase(Phase::Waiting);
            // A FIFO opened again waits for its next writer; a short pause
            // keeps a writer that opens and closes at once from spinning.
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        self.stream.set_phase(Phase::Ended);
    }

    async fn relay(&self, mut reader: Box<dyn AsyncRead + Unpin + Send>) -> u64 {
        let mut publisher = Publisher::new(
            Arc::clone(&self.stream),
            self.format,
            self.config.rt,
            &self.config,
        );
        let mut buf = vec![0u8; READ_SIZE];
        let mut sent = 0u64;
        loop {
            let read = tokio::select! {
                read = reader.read(&mut buf) => read,
                () = crate::handler::sleep_until_some(publisher.deadline()) => {
                    publisher.flush().await;
                    continue;
                }
            };
            match read {
                Ok(0) => break,
                Ok(n) => {
                    sent += n as u64;
                    publisher.write(&buf[..n]).await;
                }
                Err(e) => {
                    eprintln!("httpout: input {}: {e}", self.source);
                    break;
                }
            }
        }
        publisher.finish().await;
        sent
    }
}

/// Opens an input; tells whether it is a regular file.
async fn open(source: &str) -> std::io::Result<(Box<dyn AsyncRead + Unpin + Send>, bool)> {
    if source == "-" {
        return Ok((Box::new(tokio::io::stdin()), false));
    }
    // Opening a FIFO blocks until a writer comes: tokio does it off the
    // async workers.
    let file = tokio::fs::File::open(source).await?;
    let regular = file.metadata().await?.is_file();
    Ok((Box::new(file), regular))
}

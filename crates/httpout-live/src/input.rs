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
    /// Checks, before anything listens, that `source` can feed a mount
    /// with these settings: it exists, `reopen` can play it again, `rt`
    /// can pace it. The error names the option and says what would work.
    pub fn check(config: &LiveConfig, source: &str) -> Result<(), httpout_core::ConfigError> {
        use httpout_core::ConfigError;
        if source == "-" {
            return Ok(());
        }
        let meta = std::fs::metadata(source)
            .map_err(|e| ConfigError::invalid("-i", source, io_reason(&e)))?;
        let regular = meta.is_file();
        if config.reopen && regular && !config.rt {
            return Err(ConfigError::option(
                "--reopen",
                format!(
                    "plays the file '{source}' again only when it is paced: add --rt \
                     (or feed a FIFO, which --reopen waits on for its next writer)"
                ),
            ));
        }
        if config.rt
            && regular
            && config.rate.is_none()
            && format_of(config, source).0 == Format::Other
        {
            return Err(ConfigError::option(
                "--rt",
                format!(
                    "cannot pace '{source}': its format gives no timing (httpout reads MP3, \
                     AAC in ADTS and MPEG-TS); give --rate=BITS (e.g. 128k), or --ext/--mime \
                     if the name does not say the format"
                ),
            ));
        }
        Ok(())
    }

    /// Declares `mount` (e.g. `/live.mp3`) in `hub`, fed by `source`:
    /// listeners may connect at once and wait for the first bytes.
    pub fn declare(hub: &Hub, config: &LiveConfig, source: &str, mount: &str) -> Self {
        let named = if source == "-" { mount } else { source };
        let (format, content_type) = format_of(config, named);
        let mut meta = StreamMeta::default();
        for (name, value) in &config.ice_values {
            meta.set(&format!("icy-{name}"), value);
        }
        let facts = Facts::new(content_type, meta, config.title.as_deref());
        Self {
            source: source.to_owned(),
            stream: hub.declare(mount, facts),
            format,
            config: config.clone(),
        }
    }

    /// How the mount's listeners see this input, for the start-up banner.
    pub fn describe(&self) -> String {
        let mut how = vec!["live"];
        if self.config.rt {
            how.push("paced");
        }
        if self.config.hold {
            how.push("held");
        }
        if self.config.reopen {
            how.push("reopened");
        }
        format!(
            "{} <- -i {} ({})",
            self.stream.path(),
            self.source,
            how.join(", ")
        )
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
                    tracing::error!(target: "httpout::live", "input {} for {path}: {e}", self.source);
                    break;
                }
            };
            self.stream.set_phase(Phase::Live);
            let sent = self.relay(reader).await;
            tracing::info!(
                target: "httpout::live",
                "input {} for {path} ended ({sent} bytes)",
                self.source
            );
            if !self.config.reopen || stdin {
                break;
            }
            if regular && (!self.config.rt || sent == 0) {
                tracing::warn!(
                    target: "httpout::live",
                    "input {}: reopen plays a file again only with --rt (and when it is not empty)",
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
                    tracing::error!(target: "httpout::live", "input {}: {e}", self.source);
                    break;
                }
            }
        }
        publisher.finish().await;
        sent
    }
}

/// An I/O error as a user reads it.
fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file".to_owned(),
        std::io::ErrorKind::PermissionDenied => "permission denied".to_owned(),
        _ => e.to_string(),
    }
}

/// The framer and media type of an input named `name` (a file name, or the
/// mount for stdin): `mime` wins, then `ext`, then the name's extension.
fn format_of(config: &LiveConfig, name: &str) -> (Format, String) {
    let named = config
        .ext
        .as_ref()
        .map_or_else(|| name.to_owned(), |ext| format!("input.{ext}"));
    let format = match config.mime.as_deref().map(Format::from_mime) {
        Some(f) if f != Format::Other => f,
        _ => Format::from_path(&named),
    };
    let content_type = config
        .mime
        .clone()
        .or_else(|| format.mime().map(str::to_owned))
        .unwrap_or_else(|| httpout_core::media_type::for_path(&named).to_owned());
    (format, content_type)
}

/// Opens an input; tells whether it is a regular file.
///
/// A FIFO is opened without blocking (a blocking `open` waits for a writer
/// on a thread that shutdown cannot take back): reads then wait for data
/// in the reactor, and end when the writer closes. Standard input that is
/// a pipe is read the same way; only a terminal or a file is read through
/// tokio's blocking stdin.
async fn open(source: &str) -> std::io::Result<(Box<dyn AsyncRead + Unpin + Send>, bool)> {
    use std::os::unix::fs::FileTypeExt;
    if source == "-" {
        return Ok((httpout_store::fifo::stdin()?, false));
    }
    let kind = tokio::fs::metadata(source).await?.file_type();
    if kind.is_fifo() {
        return Ok((Box::new(httpout_store::fifo::open(source.as_ref())?), false));
    }
    let file = tokio::fs::File::open(source).await?;
    Ok((Box::new(file), kind.is_file()))
}

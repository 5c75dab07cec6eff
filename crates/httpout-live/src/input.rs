//! `-i SOURCE -o http://HOST:PORT/MOUNT`: a file, a FIFO, stdin (`-`) or
//! another server's stream (`http://...`, a relay) sent to the listeners of
//! MOUNT.
//!
//! A relay reconnects when its upstream drops or cannot be reached, after
//! 1 s, then twice as long each time up to 30 s (back to 1 s once a
//! connection held for a minute); the mount waits meanwhile, its listeners
//! kept (or moved to its fallback). The upstream's `icy-*` headers and
//! in-band titles are carried over. With `hold` a relay is on demand: it
//! connects when the first listener comes and lets go
//! [`ON_DEMAND_LINGER`] after the last leaves.
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
use crate::relay;

/// Bytes read from an input at a time.
const READ_SIZE: usize = 16 * 1024;
/// A relay's first wait before reconnecting, and its longest.
const RETRY_FIRST: Duration = Duration::from_secs(1);
const RETRY_MAX: Duration = Duration::from_secs(30);
/// A relay connection that held this long resets the back-off.
const RETRY_RESET: Duration = Duration::from_secs(60);
/// A relay's upstream that sends nothing this long is let go (and tried
/// again), when `--timeout` gives no other time.
const RELAY_STALL: Duration = Duration::from_secs(30);
/// An on-demand relay (`hold`) lets its upstream go this long after its
/// last listener left.
pub const ON_DEMAND_LINGER: Duration = Duration::from_secs(10);

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
        if is_url(source) {
            return relay::parse_url(source)
                .map(|_| ())
                .map_err(|e| ConfigError::invalid("-i", source, e.to_string()));
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
        let named = if source == "-" || is_url(source) {
            mount
        } else {
            source
        };
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
        let mut how = vec![if is_url(&self.source) {
            "relayed"
        } else {
            "live"
        }];
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
            relay::redacted(&self.source),
            how.join(", ")
        )
    }

    /// Relays the input until it ends (and, with `reopen`, again); then
    /// ends the mount. Errors are logged.
    pub async fn run(self) {
        if is_url(&self.source) {
            return self.run_relay().await;
        }
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

impl Input {
    /// Relays the upstream at `self.source`, reconnecting, until shutdown.
    async fn run_relay(self) {
        let path = self.stream.path().to_owned();
        let Ok(uri) = relay::parse_url(&self.source) else {
            // Checked at start (`Input::check`).
            self.stream.set_phase(Phase::Ended);
            return;
        };
        let mut wait = RETRY_FIRST;
        loop {
            if self.config.hold {
                self.stream.wait_for_listener().await;
            }
            let shown = relay::redacted(&self.source);
            match relay::connect(&uri).await {
                Ok(upstream) => {
                    tracing::info!(target: "httpout::live", "relay {shown} for {path}: connected");
                    let since = tokio::time::Instant::now();
                    let (sent, why, idle) = self.relay_upstream(upstream).await;
                    tracing::info!(
                        target: "httpout::live",
                        "relay {shown} for {path}: {why} ({sent} bytes)"
                    );
                    if since.elapsed() >= RETRY_RESET || idle {
                        wait = RETRY_FIRST;
                    }
                    if idle {
                        // Let go for want of listeners: nothing failed,
                        // the next listener gets it at once.
                        self.stream.set_phase(Phase::Waiting);
                        continue;
                    }
                }
                Err(e) => {
                    tracing::warn!(
                        target: "httpout::live",
                        "relay for {path}: {e}; trying again in {} s",
                        wait.as_secs()
                    );
                }
            }
            self.stream.set_phase(Phase::Waiting);
            tokio::time::sleep(wait).await;
            wait = (wait * 2).min(RETRY_MAX);
        }
    }

    /// Publishes one upstream connection's stream until it ends: the bytes
    /// sent, why it ended, and whether it was let go for want of
    /// listeners (on demand).
    async fn relay_upstream(&self, upstream: relay::Upstream) -> (u64, String, bool) {
        use http_body_util::BodyExt as _;
        let (format, content_type) =
            match (&self.config.mime, &self.config.ext, &upstream.content_type) {
                (None, None, Some(ct)) if Format::from_mime(ct) != Format::Other => {
                    (Format::from_mime(ct), ct.clone())
                }
                (None, None, Some(ct)) => (self.format, ct.clone()),
                _ => (self.format, self.stream.facts().content_type),
            };
        self.stream.update_facts(|f| {
            let title = f.meta.title.clone();
            let mut meta = upstream.meta.clone();
            for (name, value) in &self.config.ice_values {
                meta.set(&format!("icy-{name}"), value);
            }
            meta.title = title;
            meta.title_seq = f.meta.title_seq;
            f.content_type = content_type;
            f.meta = meta;
        });
        self.stream.set_phase(Phase::Live);
        // On demand, the relay lets its upstream go rather than holding
        // it unread (what `hold` does to a file).
        let unheld = LiveConfig {
            hold: false,
            ..self.config.clone()
        };
        let mut publisher = Publisher::new(Arc::clone(&self.stream), format, false, &unheld);
        let mut icy = upstream.metaint.map(crate::icy::Deinterleave::new);
        let mut body = upstream.body;
        let mut audio = Vec::with_capacity(READ_SIZE);
        let mut sent = 0u64;
        let mut alone_since: Option<tokio::time::Instant> = None;
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        // One deadline for the upstream's silence, moved only by data (a
        // black-holed upstream is let go even while listeners wait).
        let stall = self.config.source_timeout.unwrap_or(RELAY_STALL);
        let silence = tokio::time::sleep(stall);
        tokio::pin!(silence);
        let mut idle = false;
        let why = loop {
            let next = tokio::select! {
                next = body.frame() => next,
                () = &mut silence => break format!("upstream sent nothing for {} s", stall.as_secs()),
                () = crate::handler::sleep_until_some(publisher.deadline()) => {
                    publisher.flush().await;
                    continue;
                }
                _ = tick.tick(), if self.config.hold => {
                    if self.stream.wanted() {
                        alone_since = None;
                    } else if alone_since.get_or_insert_with(tokio::time::Instant::now).elapsed()
                        >= ON_DEMAND_LINGER
                    {
                        idle = true;
                        break "no listener left, let go (on demand)".to_owned();
                    }
                    continue;
                }
            };
            let data = match next {
                Some(Ok(frame)) => match frame.into_data() {
                    Ok(data) => data,
                    Err(_) => continue,
                },
                None => break "upstream ended".to_owned(),
                Some(Err(e)) => break format!("upstream failed: {e}"),
            };
            silence.as_mut().reset(tokio::time::Instant::now() + stall);
            sent += data.len() as u64;
            match &mut icy {
                Some(icy) => {
                    audio.clear();
                    for title in icy.split(&data, &mut audio) {
                        self.stream.update_facts(|f| f.meta.set_title(&title));
                    }
                    publisher.write(&audio).await;
                }
                None => publisher.write(&data).await,
            }
        };
        publisher.finish().await;
        (sent, why, idle)
    }
}

/// Whether an input is another server's stream.
fn is_url(source: &str) -> bool {
    source.starts_with("http://") || source.starts_with("https://")
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

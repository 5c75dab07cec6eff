//! httpout-live: the live sink, an Icecast-style relay of live inputs to
//! every listener of their URL.
//!
//! ```text
//!  -i file / FIFO / stdin ─┐                      ┌─▶ listener (cursor) ─▶ burst, then live
//!  PUT/POST/SOURCE client ─┼─▶ Publisher ─▶ Ring ─┼─▶ listener (cursor) ─▶ + ICY blocks
//!                          │   frame, pace,       └─▶ listener behind the ring's front: dropped
//!                          │   batch into chunks
//! ```
//!
//! - [`Hub`]: the mounts; each [`Stream`] holds a ring of recent chunks
//!   (shared [`bytes::Bytes`]) sized by `max_async_buf`; memory is the ring
//!   whatever the listeners do.
//! - A listener starts `burst` before the live point, on a frame boundary,
//!   and reads at its own pace; one that falls past the ring's front is
//!   dropped, counted and logged, and one that stops reading is cut by its
//!   connection's stall limit ([`httpout_core::StallLimit`]).
//! - [`media`]: MP3/ADTS frame and TS packet boundaries, durations, PCR.
//! - Inputs: `-i` sources ([`input`]), optionally paced at their media rate
//!   (`rt`); HTTP source clients ([`LiveHandler`]: PUT/POST, Icecast's
//!   `SOURCE`, Basic `source:PASSWORD`); [`SourceClients`], the engine hook
//!   that frames their length-less bodies and makes `SOURCE` a write.
//! - ICE/ICY headers and in-band `StreamTitle` blocks (`icy.rs`
//!   internals), `/admin/metadata` updates, `/status-json.xsl` and
//!   `/status.xsl` pages as Icecast has them.

mod admin;
mod args;
mod auth_url;
mod client;
mod error;
mod handler;
mod hooks;
mod hub;
mod icy;
mod ingest;
pub mod input;
mod listener;
mod master;
pub mod media;
mod mounts;
mod relay;
mod source_clients;
mod status;
mod utc;

pub use args::{Amount, LiveArgs, parse_amount, parse_bitrate};
pub use auth_url::AUTH_TIMEOUT;
pub use error::LiveError;
pub use handler::LiveHandler;
pub use hooks::DumpSpec;
pub use hub::{Hub, Stream};
pub use master::Master;
pub use mounts::{Charset, KEYS as MOUNT_KEYS, MountSettings, Mounts};
pub use relay::redacted;
pub use source_clients::SourceClients;

use std::sync::Arc;
use std::time::Duration;

use httpout_core::ConfigError;
use httpout_core::options::CoreArgs;

/// The live sink's settings, from the options.
#[derive(Debug, Clone)]
pub struct LiveConfig {
    /// What a new listener gets from before the live point (`burst`).
    pub burst: Amount,
    /// How far a listener may fall behind (`max_async_buf`).
    pub max_lag: Amount,
    /// Inputs wait while no listener is connected (`hold`).
    pub hold: bool,
    /// Mounts and listeners survive the end of an input (`reopen`).
    pub reopen: bool,
    /// Computed ICE headers (`ice`).
    pub ice: bool,
    /// Extra ICE values (`--ice-NAME=VALUE`), sent as `icy-NAME`.
    pub ice_values: Vec<(String, String)>,
    /// In-band metadata interval; 0 offers none (`metaint`).
    pub metaint: u32,
    /// Initial stream title (`title`).
    pub title: Option<String>,
    /// Password of HTTP source clients (`source_password`).
    pub source_password: Option<String>,
    /// User and password of the admin API (`admin_user`,
    /// `admin_password`); `None`: the API is off.
    pub admin: Option<(String, String)>,
    /// Pace file inputs at their media rate (`rt`).
    pub rt: bool,
    /// Bit rate of inputs whose format has no timing (`rate`).
    pub rate: Option<u64>,
    /// Media type of `-i` inputs (`mime`), else from `ext` or the name.
    pub mime: Option<String>,
    /// Extension standing for the `-i` inputs' format (`ext`).
    pub ext: Option<String>,
    /// A source that sends nothing for this long is ended (`timeout`;
    /// `None`: never).
    pub source_timeout: Option<Duration>,
    /// Frames arriving (or, paced, due) within this long go out to
    /// listeners together (`batch`).
    pub batch: Duration,
    /// Per-mount settings (`mount`).
    pub mounts: Arc<Mounts>,
}

impl LiveConfig {
    /// The settings the options give; errors name the option.
    pub fn from_args(core: &CoreArgs, opts: &LiveArgs) -> Result<Self, ConfigError> {
        check_burst("--burst", opts.burst, "--max_async_buf", opts.max_async_buf)?;
        let mounts = Mounts::from_options(&opts.mount)?;
        for (path, m) in mounts.iter() {
            let burst = m.burst.unwrap_or(opts.burst);
            let lag = m.max_lag.unwrap_or(opts.max_async_buf);
            check_burst(
                &format!("--mount={path}:burst"),
                burst,
                "its max_async_buf",
                lag,
            )?;
        }
        let mut ice_values = Vec::new();
        for item in &opts.ice_hdr {
            let (name, value) = item
                .split_once('=')
                .filter(|(n, _)| {
                    !n.is_empty()
                        && http::HeaderName::from_bytes(format!("icy-{n}").as_bytes()).is_ok()
                })
                .filter(|(_, v)| http::HeaderValue::from_str(v).is_ok())
                .ok_or_else(|| {
                    ConfigError::invalid(
                        "--ice_hdr",
                        item,
                        "expected NAME=VALUE (a header name and value)",
                    )
                })?;
            ice_values.push((name.to_ascii_lowercase(), value.to_owned()));
        }
        if let Some(mime) = &opts.mime {
            http::HeaderValue::from_str(mime)
                .map_err(|_| ConfigError::invalid("--mime", mime, "expected a media type"))?;
        }
        Ok(Self {
            burst: opts.burst,
            max_lag: opts.max_async_buf,
            hold: opts.hold,
            reopen: opts.reopen,
            ice: opts.ice,
            ice_values,
            metaint: opts.metaint,
            title: opts.title.clone(),
            source_password: opts.source_password.clone(),
            admin: opts
                .admin_password
                .clone()
                .map(|p| (opts.admin_user.clone(), p)),
            rt: opts.rt,
            rate: opts.rate,
            mime: opts.mime.clone(),
            ext: opts.ext.clone(),
            source_timeout: httpout_core::timeout::from_secs(core.timeout),
            batch: Duration::from_millis(u64::from(opts.batch)),
            mounts: Arc::new(mounts),
        })
    }

    /// The settings of mount `path`, if it has its own.
    pub fn mount(&self, path: &str) -> Option<&MountSettings> {
        self.mounts.get(path)
    }

    /// `burst` at `path`: the mount's own, else the server's.
    pub fn burst_at(&self, path: &str) -> Amount {
        self.mount(path).and_then(|m| m.burst).unwrap_or(self.burst)
    }

    /// `max_async_buf` at `path`: the mount's own, else the server's.
    pub fn max_lag_at(&self, path: &str) -> Amount {
        self.mount(path)
            .and_then(|m| m.max_lag)
            .unwrap_or(self.max_lag)
    }
}

/// A burst must be smaller than the lag limit, or new listeners would be
/// dropped at once.
fn check_burst(
    option: &str,
    burst: Amount,
    lag_name: &str,
    lag: Amount,
) -> Result<(), ConfigError> {
    let too_big = match (burst, lag) {
        (Amount::Bytes(b), Amount::Bytes(q)) => b >= q,
        (Amount::Time(b), Amount::Time(q)) => b >= q,
        _ => false,
    };
    if too_big {
        return Err(ConfigError::invalid(
            option,
            show(burst),
            format!(
                "must be smaller than {lag_name} ({}), or new listeners would be dropped at once",
                show(lag)
            ),
        ));
    }
    Ok(())
}

fn show(a: Amount) -> String {
    match a {
        Amount::Bytes(n) => format!("{n} bytes"),
        Amount::Time(t) => format!("{} s", t.as_secs_f64()),
    }
}

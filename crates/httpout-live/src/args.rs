//! The live sink's options, a clap group the `httpout` binary flattens
//! beside the others, and the amounts of stream they take (bytes or
//! seconds of media).

use clap::Args;
use httpout_core::options::value::{parse_size, parse_u32};

/// An amount of stream: bytes, or seconds of media (`burst`, `max_async_buf`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Amount {
    /// A number of bytes.
    Bytes(u64),
    /// A span of media time, converted to bytes with the stream's own rate.
    Time(std::time::Duration),
}

/// Parses an [`Amount`]: a size as [`parse_size`] takes it (`64K`), or a
/// duration of media ending in `s` or `ms` (`2s`, `1.5s`, `500ms`).
pub fn parse_amount(s: &str) -> Result<Amount, String> {
    const EXPECTED: &str = "expected a size (e.g. 64K) or a duration of media (e.g. 2s, 500ms)";
    let t = s.trim().to_ascii_lowercase();
    let secs = if let Some(ms) = t.strip_suffix("ms") {
        Some(ms.trim().parse::<f64>().map(|v| v / 1000.0))
    } else {
        t.strip_suffix('s').map(|v| v.trim().parse::<f64>())
    };
    match secs {
        Some(Ok(v)) if v.is_finite() && (0.0..=3600.0).contains(&v) => {
            Ok(Amount::Time(std::time::Duration::from_secs_f64(v)))
        }
        Some(_) => Err(format!("{EXPECTED}; durations go up to 3600s")),
        None => parse_size(&t)
            .map(Amount::Bytes)
            .map_err(|_| EXPECTED.to_owned()),
    }
}

/// A batch time: 1 to 5000 milliseconds.
fn parse_batch(s: &str) -> Result<u32, String> {
    match parse_u32(s) {
        Ok(ms) if (1..=5000).contains(&ms) => Ok(ms),
        _ => Err("expected milliseconds from 1 to 5000".to_owned()),
    }
}

/// A master interval: 1 to 86400 seconds.
fn parse_interval(s: &str) -> Result<u32, String> {
    match parse_u32(s) {
        Ok(n) if (1..=86_400).contains(&n) => Ok(n),
        _ => Err("expected seconds from 1 to 86400".to_owned()),
    }
}

/// Parses a bit rate in bits per second with an optional decimal suffix:
/// `k` (1000) or `M` (1 000 000), e.g. `128k`.
pub fn parse_bitrate(s: &str) -> Result<u64, String> {
    const EXPECTED: &str =
        "expected a bit rate in bits/s, optionally with a k or M suffix (e.g. 128k)";
    let t = s.trim().trim_end_matches("bps").trim_end_matches("bit/s");
    let (digits, mult) = match t.chars().last() {
        Some('k' | 'K') => (&t[..t.len() - 1], 1000u64),
        Some('m' | 'M') => (&t[..t.len() - 1], 1_000_000),
        _ => (t, 1),
    };
    digits
        .trim()
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(mult))
        .filter(|n| (1..=10_000_000_000).contains(n))
        .ok_or_else(|| EXPECTED.to_owned())
}

/// The live sink's options (see `docs/options.md`).
#[derive(Debug, Clone, PartialEq, Eq, Args)]
pub struct LiveArgs {
    /// Hold input until the first client connects (live sink).
    #[arg(
        long,
        value_name = "BOOL",
        default_value = "false",
        help_heading = "Sinks"
    )]
    pub hold: bool,

    /// Accept requests on an input already sent while it is not over (live sink).
    #[arg(
        long,
        value_name = "BOOL",
        default_value = "false",
        help_heading = "Sinks"
    )]
    pub reopen: bool,

    /// Exit once all inputs are done and clients have disconnected.
    #[arg(
        long,
        value_name = "BOOL",
        default_value = "false",
        help_heading = "Sinks"
    )]
    pub quit: bool,

    /// Insert ICE meta-data in response headers (live sink).
    #[arg(
        long,
        value_name = "BOOL",
        default_value = "false",
        help_heading = "Sinks"
    )]
    pub ice: bool,

    /// How far a live listener may fall behind before it is dropped: bytes (`512K`) or seconds of media (`10s`).
    #[arg(long = "max_async_buf", alias = "max-async-buf", value_name = "SIZE|TIME", value_parser = parse_amount, default_value = "512K", help_heading = "Sinks")]
    pub max_async_buf: Amount,

    /// What a new live listener gets at once from before the live point: bytes (`64K`) or seconds of media (`2s`); 0 for none.
    #[arg(long, value_name = "SIZE|TIME", value_parser = parse_amount, default_value = "64K", help_heading = "Sinks")]
    pub burst: Amount,

    /// Milliseconds of frames a live stream gathers before listeners are sent them, in one write each: lower for less latency, higher for less CPU per listener.
    #[arg(long, value_name = "MS", value_parser = parse_batch, default_value = "250", help_heading = "Sinks")]
    pub batch: u32,

    /// Password of HTTP source clients (user `source`, PUT/POST/SOURCE to a mount); enables live ingest over HTTP.
    #[arg(
        long = "source_password",
        alias = "source-password",
        value_name = "STR",
        help_heading = "Sinks"
    )]
    pub source_password: Option<String>,

    /// Password of the live sink's admin API (Icecast's `/admin/...`, Basic with --admin_user); the API is off without it.
    #[arg(
        long = "admin_password",
        alias = "admin-password",
        value_name = "STR",
        help_heading = "Sinks"
    )]
    pub admin_password: Option<String>,

    /// User name of the live sink's admin API.
    #[arg(
        long = "admin_user",
        alias = "admin-user",
        value_name = "STR",
        default_value = "admin",
        help_heading = "Sinks"
    )]
    pub admin_user: String,

    /// Relay every mount of an Icecast or httpout master, `http://USER:PASSWORD@HOST:PORT` (its admin credentials), and follow new ones.
    #[arg(long, value_name = "URL", help_heading = "Sinks")]
    pub master: Option<String>,

    /// Seconds between two reads of the master's mount list.
    #[arg(long = "master_interval", alias = "master-interval", value_name = "SECS", value_parser = parse_interval, default_value = "120", help_heading = "Sinks")]
    pub master_interval: u32,

    /// Send live file inputs at their media rate (MP3/ADTS frame durations, TS PCR, else `rate`).
    #[arg(
        long,
        value_name = "BOOL",
        default_value = "false",
        help_heading = "Sinks"
    )]
    pub rt: bool,

    /// Bit rate of live inputs whose format gives no timing (bits/s, e.g. 128k); used by `rt` and by seconds in `burst`.
    #[arg(long, value_name = "BITS", value_parser = parse_bitrate, help_heading = "Sinks")]
    pub rate: Option<u64>,

    /// Audio bytes between in-band ICY metadata blocks for listeners sending `Icy-MetaData: 1`; 0 disables.
    #[arg(long, value_name = "N", value_parser = parse_u32, default_value = "16000", help_heading = "Sinks")]
    pub metaint: u32,

    /// Initial stream title of live mounts (ICY `StreamTitle`), until a source updates it.
    #[arg(long, value_name = "STR", help_heading = "Sinks")]
    pub title: Option<String>,

    /// Extra ICE value for live listeners, `NAME=VALUE` (also written `--ice-NAME=VALUE`): sent as `icy-NAME`.
    #[arg(
        long = "ice_hdr",
        alias = "ice-hdr",
        value_name = "NAME=VALUE",
        help_heading = "Sinks"
    )]
    pub ice_hdr: Vec<String>,

    /// Settings of one live mount, `PATH:KEY=VALUE[:KEY=VALUE...]` (repeatable): fallback, fallback_override, max_listeners, intro, user, password, burst, max_async_buf, hidden, public, name, genre, description, url, charset, dump_file, on_connect, on_disconnect, auth_url.
    #[arg(long, value_name = "PATH:KEY=VALUE:...", help_heading = "Sinks")]
    pub mount: Vec<String>,

    /// Extension of the input, regardless of its file name (sets the served media type).
    #[arg(long, value_name = "EXT", help_heading = "Sinks")]
    pub ext: Option<String>,

    /// Media type of the input (live sink `Content-Type`, and how it is framed and paced).
    #[arg(long, value_name = "TYPE", help_heading = "Sinks")]
    pub mime: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_and_bitrates() {
        assert_eq!(parse_amount("64K"), Ok(Amount::Bytes(64 << 10)));
        assert_eq!(
            parse_amount("500ms"),
            Ok(Amount::Time(std::time::Duration::from_millis(500)))
        );
        assert!(parse_amount("2h").is_err());
        assert_eq!(parse_bitrate("128k"), Ok(128_000));
        assert!(parse_bitrate("0").is_err());
    }
}

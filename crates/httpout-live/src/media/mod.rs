//! Frame splitting of live streams: MP3 (MPEG audio), AAC in ADTS and MPEG-2
//! transport streams.
//!
//! The [`Framer`] cuts an input's bytes into [`Unit`]s at frame (packet)
//! boundaries, so that a file input can be paced at its media rate, a new
//! listener's burst can start on a frame, and the stream's audio facts
//! ([`AudioInfo`]) are known.
//!
//! - A frame is taken once its header is valid and either the header of the
//!   frame after it confirms it (same version, layer and sampling rate) or
//!   it follows a frame right away; bytes that are no frame (`ID3v2` tags,
//!   garbage) come out as junk units, coalesced up to 64 KiB.
//! - Every byte pushed comes out exactly once, in order; what the framer
//!   holds is at most a frame and the next header, plus junk under 64 KiB.
//!
//! Layout: `framer` (the [`Framer`] and its junk), `mp3`, `adts` (frame
//! headers, read into one `FrameHeader` type), `ts` (packets), `tests`.

mod adts;
mod framer;
mod mp3;
mod ts;

use std::time::Duration;

use bytes::Bytes;

pub use framer::Framer;

/// Stream formats the framer knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// MPEG-1/2/2.5 audio, Layers I, II and III.
    Mp3,
    /// AAC in ADTS frames.
    Adts,
    /// MPEG-2 transport stream.
    Ts,
    /// Anything else: passed through as it comes.
    Other,
}

impl Format {
    /// From a media type: `audio/mpeg`, `audio/mp3`, `audio/mpa` → Mp3;
    /// `audio/aac`, `audio/aacp`, `audio/x-aac`, `audio/adts` → Adts;
    /// `video/mp2t`, `audio/mp2t` → Ts (any case, parameters after `;`
    /// ignored); else Other.
    #[must_use]
    pub fn from_mime(mime: &str) -> Self {
        let essence = mime.split(';').next().unwrap_or_default().trim();
        let is = |names: &[&str]| names.iter().any(|n| essence.eq_ignore_ascii_case(n));
        if is(&["audio/mpeg", "audio/mp3", "audio/mpa"]) {
            Self::Mp3
        } else if is(&["audio/aac", "audio/aacp", "audio/x-aac", "audio/adts"]) {
            Self::Adts
        } else if is(&["video/mp2t", "audio/mp2t"]) {
            Self::Ts
        } else {
            Self::Other
        }
    }

    /// From a file name's extension (any case): `mp3`, `mp2`, `mpga` → Mp3;
    /// `aac`, `adts` → Adts; `ts`, `m2ts`, `mts`, `trp` → Ts; else Other.
    #[must_use]
    pub fn from_path(path: &str) -> Self {
        let name = path.rsplit(['/', '\\']).next().unwrap_or_default();
        let Some((_, ext)) = name.rsplit_once('.') else {
            return Self::Other;
        };
        let is = |names: &[&str]| names.iter().any(|n| ext.eq_ignore_ascii_case(n));
        if is(&["mp3", "mp2", "mpga"]) {
            Self::Mp3
        } else if is(&["aac", "adts"]) {
            Self::Adts
        } else if is(&["ts", "m2ts", "mts", "trp"]) {
            Self::Ts
        } else {
            Self::Other
        }
    }

    /// The media type served to listeners: `audio/mpeg`, `audio/aac`,
    /// `video/mp2t`; None for Other.
    #[must_use]
    pub fn mime(self) -> Option<&'static str> {
        match self {
            Self::Mp3 => Some("audio/mpeg"),
            Self::Adts => Some("audio/aac"),
            Self::Ts => Some("video/mp2t"),
            Self::Other => None,
        }
    }
}

/// Audio facts from the last valid frame header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AudioInfo {
    /// Samples per second (for HE-AAC in ADTS, the AAC core's: half the
    /// output rate).
    pub sample_rate: u32,
    /// Channels (ADTS: 0 when the channel configuration is in the payload).
    pub channels: u8,
    /// Bits per second (MP3: from the header, None for free-format; ADTS:
    /// estimated from frame sizes, may be None until a few frames are seen).
    pub bitrate: Option<u32>,
}

/// A run of bytes released by the framer.
#[derive(Debug, Clone, PartialEq)]
pub struct Unit {
    /// The bytes (whole frames when `sync` is true).
    pub bytes: Bytes,
    /// Media duration of these bytes when the format tells it (MP3, ADTS
    /// frames); None for TS and Other and for junk.
    pub duration: Option<Duration>,
    /// TS only: the PCR (27 MHz ticks) carried by the first packet of this
    /// unit.
    pub pcr: Option<u64>,
    /// True when the unit begins at a frame (MP3/ADTS) or packet (TS)
    /// boundary, so a listener may start here. Junk bytes between frames
    /// (ID3 tags, garbage) form units with sync false and duration None.
    pub sync: bool,
}

/// What reading a header from the bytes seen so far tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Probe<T> {
    /// The bytes so far could begin one; more are needed to tell.
    NeedMore,
    /// Not one.
    Invalid,
    /// One, read.
    Valid(T),
}

/// The second byte of a frame that starts with the `0xFF` of an MPEG audio
/// sync word (MP3 and ADTS both do), when it is there and `mask` of it is
/// `want`: the check both frame parsers begin with. `Err` is the parser's
/// answer when it is not.
fn sync_byte<T>(b: &[u8], mask: u8, want: u8) -> Result<u8, Probe<T>> {
    match (b.first(), b.get(1)) {
        (Some(&b0), _) if b0 != 0xFF => Err(Probe::Invalid),
        (Some(_), Some(&b1)) if b1 & mask == want => Ok(b1),
        (Some(_), Some(_)) => Err(Probe::Invalid),
        _ => Err(Probe::NeedMore),
    }
}

/// What the framer reads in an MP3 or ADTS frame header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FrameHeader {
    /// Samples per second (ADTS: of the AAC core; HE-AAC doubles it on
    /// output).
    pub(crate) sample_rate: u32,
    /// Channels (ADTS: 0 when a program config element in the payload
    /// tells).
    pub(crate) channels: u8,
    /// Bytes in the frame, header included.
    pub(crate) len: usize,
    /// Samples per channel in the frame.
    pub(crate) samples: u32,
    /// The header's fields that the next frame of the same stream repeats.
    pub(crate) key: u32,
    /// Bits per second, when the header tells (MP3; not ADTS).
    pub(crate) bitrate: Option<u32>,
}

impl FrameHeader {
    /// Media duration of the frame.
    pub(crate) fn duration(&self) -> Duration {
        let rate = u64::from(self.sample_rate.max(1));
        Duration::from_nanos(u64::from(self.samples) * 1_000_000_000 / rate)
    }
}

/// The frame syntax of an audio format.
trait AudioFrame {
    /// The longest frame.
    const MAX_FRAME: usize;
    /// Reads the frame header at the start of `b`.
    fn parse(b: &[u8]) -> Probe<FrameHeader>;
}

#[cfg(test)]
mod tests;

//! The [`Framer`]: an input's bytes cut into [`Unit`]s at frame (packet)
//! boundaries, junk coalesced ([`Junk`]).

use std::time::Duration;

use bytes::Bytes;

use super::{AudioFrame, AudioInfo, Format, FrameHeader, Probe, Unit, adts, mp3, ts};

/// Junk is released at the latest when this much is held; a TS unit never
/// exceeds it.
pub(super) const UNIT_MAX: usize = 64 * 1024;

/// Whether `next`, the bytes after a frame, confirm that frame: the header
/// of a frame with the same `key`, or an ID3 tag (`TAG` of `ID3v1` at the end
/// of a file, `ID3` of `ID3v2`).
fn confirm<H: AudioFrame>(next: &[u8], key: u32) -> Probe<()> {
    for tag in [b"TAG", b"ID3"] {
        let n = next.len().min(tag.len());
        if next.first() == tag.first() && next.get(..n) == tag.get(..n) {
            return if n == tag.len() {
                Probe::Valid(())
            } else {
                Probe::NeedMore
            };
        }
    }
    match H::parse(next) {
        Probe::NeedMore => Probe::NeedMore,
        Probe::Valid(h) if h.key == key => Probe::Valid(()),
        _ => Probe::Invalid,
    }
}

/// The length of the `ID3v2` tag at the start of `b`, header and footer
/// included.
pub(super) fn id3_len(b: &[u8]) -> Probe<u64> {
    // "ID3", version and revision below 0xFF, flags, 4 bytes of 7 bits.
    let ok = |i: usize, c: u8| match i {
        0 => c == b'I',
        1 => c == b'D',
        2 => c == b'3',
        3 | 4 => c != 0xFF,
        5 => true,
        _ => c < 0x80,
    };
    if !b.iter().take(10).enumerate().all(|(i, &c)| ok(i, c)) {
        return Probe::Invalid;
    }
    let Some(&[_, _, _, major, _, flags, s0, s1, s2, s3]) = b.first_chunk::<10>() else {
        return Probe::NeedMore;
    };
    let size = [s0, s1, s2, s3]
        .iter()
        .fold(0_u64, |n, &c| (n << 7) | u64::from(c));
    let footer = if major >= 4 && flags & 0x10 != 0 {
        10
    } else {
        0
    };
    Probe::Valid(10 + size + footer)
}

/// Drops the room a large push left in `buf`, keeping enough for a frame
/// of `max_frame` bytes.
fn shrink(buf: &mut Vec<u8>, max_frame: usize) {
    if buf.capacity() > UNIT_MAX + 2 * max_frame {
        buf.shrink_to(2 * max_frame);
    }
}

/// Junk waiting to be released, coalesced up to [`UNIT_MAX`].
#[derive(Debug, Default)]
struct Junk(Vec<u8>);

impl Junk {
    /// Adds `data`, releasing each [`UNIT_MAX`] gathered.
    fn add(&mut self, mut data: &[u8], out: &mut Vec<Unit>) {
        while !data.is_empty() {
            let n = (UNIT_MAX - self.0.len()).min(data.len());
            let (now, later) = data.split_at(n);
            let (len, room) = (self.0.len(), self.0.capacity());
            if len + n > room {
                // Grow as a Vec does, but never past a unit.
                let want = (len + n).max(2 * room).min(UNIT_MAX);
                self.0.reserve_exact(want - len);
            }
            self.0.extend_from_slice(now);
            data = later;
            if self.0.len() >= UNIT_MAX {
                self.flush(out);
            }
        }
    }

    /// Releases what is held.
    fn flush(&mut self, out: &mut Vec<Unit>) {
        if !self.0.is_empty() {
            out.push(Unit {
                bytes: Bytes::from(std::mem::take(&mut self.0)),
                duration: None,
                pcr: None,
                sync: false,
            });
        }
    }
}

/// Splits a byte stream into units; holds an incomplete frame until the
/// rest arrives.
#[derive(Debug)]
pub struct Framer {
    /// The format being split.
    format: Format,
    /// Bytes not yet decided: a frame or packet that is incomplete or waits
    /// for the next header, or the start of a header or tag.
    buf: Vec<u8>,
    /// Decided junk not yet released.
    junk: Junk,
    /// Bytes of an `ID3v2` tag still to pass as junk.
    skip: u64,
    /// The key of the frame just taken (TS: 0 after a packet), when the
    /// bytes at the front of `buf` follow it right away; a frame matching
    /// it needs no confirmation.
    lock: Option<u32>,
    /// Facts of the last frame.
    info: Option<AudioInfo>,
    /// Bytes and media time of the frames taken, for the ADTS bit rate.
    total: (u64, Duration),
}

impl Framer {
    /// A framer for `format`.
    #[must_use]
    pub fn new(format: Format) -> Self {
        Self {
            format,
            buf: Vec::new(),
            junk: Junk::default(),
            skip: 0,
            lock: None,
            info: None,
            total: (0, Duration::ZERO),
        }
    }

    /// The format being split.
    #[must_use]
    pub fn format(&self) -> Format {
        self.format
    }

    /// Feeds bytes (any split: one byte at a time works); appends to `out`
    /// the units now complete, in order.
    ///
    /// MP3 and ADTS units do not depend on how the input is split; TS
    /// units are released at the end of each call (so the latency is one
    /// call), one starting at every packet that carries a PCR.
    pub fn push(&mut self, data: &[u8], out: &mut Vec<Unit>) {
        if data.is_empty() {
            return;
        }
        if self.format == Format::Other {
            out.push(Unit {
                bytes: Bytes::copy_from_slice(data),
                duration: None,
                pcr: None,
                sync: true,
            });
            return;
        }
        self.buf.extend_from_slice(data);
        match self.format {
            Format::Mp3 => self.split_audio::<mp3::Mp3>(out),
            Format::Adts => self.split_audio::<adts::Adts>(out),
            Format::Ts => self.split_ts(out),
            Format::Other => {}
        }
    }

    /// End of input: what is held (a truncated last frame, junk) as a
    /// final unit with sync false and no duration; None if nothing is held.
    ///
    /// A last frame still waiting for the next header to confirm it, held
    /// alone, comes out as the frame it is (sync true, its duration or
    /// PCR). The framer is then ready for a new stream.
    pub fn finish(&mut self) -> Option<Unit> {
        let junk = std::mem::take(&mut self.junk.0);
        let buf = std::mem::take(&mut self.buf);
        self.skip = 0;
        self.lock = None;
        if junk.is_empty() {
            let whole = match self.format {
                Format::Mp3 => self.whole_frame::<mp3::Mp3>(&buf),
                Format::Adts => self.whole_frame::<adts::Adts>(&buf),
                Format::Ts => {
                    (buf.len() == ts::PACKET && buf.first() == Some(&ts::SYNC)).then(|| Unit {
                        bytes: Bytes::copy_from_slice(&buf),
                        duration: None,
                        pcr: ts::pcr(&buf),
                        sync: true,
                    })
                }
                Format::Other => None,
            };
            if whole.is_some() {
                return whole;
            }
        }
        let mut all = junk;
        all.extend_from_slice(&buf);
        (!all.is_empty()).then(|| Unit {
            bytes: Bytes::from(all),
            duration: None,
            pcr: None,
            sync: false,
        })
    }

    /// Audio facts of the last valid MP3/ADTS frame (None for TS/Other or
    /// before the first frame).
    #[must_use]
    pub fn info(&self) -> Option<AudioInfo> {
        self.info
    }

    /// `buf` as a unit if it is exactly one valid frame.
    fn whole_frame<H: AudioFrame>(&mut self, buf: &[u8]) -> Option<Unit> {
        match H::parse(buf) {
            Probe::Valid(h) if h.len == buf.len() => {
                self.note(&h);
                Some(Unit {
                    bytes: Bytes::copy_from_slice(buf),
                    duration: Some(h.duration()),
                    pcr: None,
                    sync: true,
                })
            }
            _ => None,
        }
    }

    /// Records a frame taken.
    fn note(&mut self, h: &FrameHeader) {
        let bytes = self.total.0.saturating_add(h.len as u64);
        let time = self.total.1.saturating_add(h.duration());
        self.total = (bytes, time);
        let measured = (!time.is_zero()).then(|| {
            let bps = u128::from(bytes) * 8 * 1_000_000_000 / time.as_nanos();
            u32::try_from(bps).unwrap_or(u32::MAX)
        });
        self.info = Some(AudioInfo {
            sample_rate: h.sample_rate,
            channels: h.channels,
            bitrate: h.bitrate.or(measured),
        });
    }

    /// Takes the frames and junk that `buf` decides.
    fn split_audio<H: AudioFrame>(&mut self, out: &mut Vec<Unit>) {
        let mut pos = 0;
        while let Some(rest) = self.buf.get(pos..).filter(|r| !r.is_empty()) {
            if self.skip > 0 {
                let n = usize::try_from(self.skip).map_or(rest.len(), |s| s.min(rest.len()));
                self.junk.add(&rest[..n], out);
                self.skip -= n as u64;
                pos += n;
                continue;
            }
            let frame = match H::parse(rest) {
                Probe::NeedMore => break,
                Probe::Invalid => None,
                Probe::Valid(h) => {
                    let Some(next) = rest.get(h.len..) else {
                        break;
                    };
                    if self.lock == Some(h.key) {
                        Some(h)
                    } else {
                        match confirm::<H>(next, h.key) {
                            Probe::NeedMore => break,
                            Probe::Invalid => None,
                            Probe::Valid(()) => Some(h),
                        }
                    }
                }
            };
            if let Some(h) = frame {
                let len = h.len;
                self.junk.flush(out);
                out.push(Unit {
                    bytes: Bytes::copy_from_slice(&rest[..len]),
                    duration: Some(h.duration()),
                    pcr: None,
                    sync: true,
                });
                self.note(&h);
                self.lock = Some(h.key);
                pos += len;
                continue;
            }
            match id3_len(rest) {
                Probe::NeedMore => break,
                Probe::Valid(n) => {
                    self.skip = n;
                    self.lock = None;
                    continue;
                }
                Probe::Invalid => {}
            }
            // This byte begins nothing; neither does any up to the next
            // that could begin a frame or a tag.
            let n = rest[1..]
                .iter()
                .position(|&b| b == 0xFF || b == b'I')
                .map_or(rest.len(), |i| i + 1);
            self.junk.add(&rest[..n], out);
            self.lock = None;
            pos += n;
        }
        self.buf.drain(..pos);
        shrink(&mut self.buf, H::MAX_FRAME);
    }

    /// Takes the packets and junk that `buf` decides; releases the packets.
    fn split_ts(&mut self, out: &mut Vec<Unit>) {
        /// Releases the packets of `buf[start..end]`, the first carrying `pcr`.
        fn release(
            buf: &[u8],
            (start, end, pcr): (usize, usize, Option<u64>),
            out: &mut Vec<Unit>,
        ) {
            out.push(Unit {
                bytes: Bytes::copy_from_slice(&buf[start..end]),
                duration: None,
                pcr,
                sync: true,
            });
        }
        let mut pos = 0;
        let mut run: Option<(usize, usize, Option<u64>)> = None;
        while let Some(rest) = self.buf.get(pos..).filter(|r| !r.is_empty()) {
            let packet = if rest[0] != ts::SYNC {
                Some(false)
            } else if rest.len() < ts::PACKET {
                None
            } else if self.lock.is_some() {
                Some(true)
            } else {
                rest.get(ts::PACKET).map(|&b| b == ts::SYNC)
            };
            match packet {
                None => break,
                Some(true) => {
                    self.junk.flush(out);
                    let pcr = ts::pcr(&rest[..ts::PACKET]);
                    if let Some(r @ (start, end, _)) = run
                        && (pcr.is_some() || end - start + ts::PACKET > UNIT_MAX)
                    {
                        release(&self.buf, r, out);
                        run = None;
                    }
                    run = Some(match run {
                        Some((start, end, p)) => (start, end + ts::PACKET, p),
                        None => (pos, pos + ts::PACKET, pcr),
                    });
                    self.lock = Some(0);
                    pos += ts::PACKET;
                }
                Some(false) => {
                    if let Some(r) = run.take() {
                        release(&self.buf, r, out);
                    }
                    let n = rest[1..]
                        .iter()
                        .position(|&b| b == ts::SYNC)
                        .map_or(rest.len(), |i| i + 1);
                    self.junk.add(&self.buf[pos..pos + n], out);
                    self.lock = None;
                    pos += n;
                }
            }
        }
        if let Some(r) = run {
            release(&self.buf, r, out);
        }
        self.buf.drain(..pos);
        shrink(&mut self.buf, ts::PACKET);
    }

    /// Bytes held.
    #[cfg(test)]
    pub(super) fn held(&self) -> usize {
        self.buf.len() + self.junk.0.len()
    }

    /// Bytes of room held in buffers.
    #[cfg(test)]
    pub(super) fn room(&self) -> usize {
        self.buf.capacity() + self.junk.0.capacity()
    }
}

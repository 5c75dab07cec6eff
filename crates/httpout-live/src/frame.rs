//! Cutting a live stream into frames: MPEG audio (MP3) and ADTS (AAC)
//! frame headers, MPEG-2 TS packets and their PCR.
//!
//! The framer tells where a listener may start (a frame or packet
//! boundary), how long each frame plays (pacing, bursts in seconds), and
//! the audio facts for `ice-audio-info`. It never holds more than a frame
//! and the next header; bytes that are not frames (ID3 tags, garbage) pass
//! through as "junk" units, so the output is always exactly the input.

use std::time::Duration;

use bytes::{Buf, Bytes, BytesMut};

/// Stream formats the framer knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// MPEG-1/2/2.5 audio, layers I to III (MP3).
    Mp3,
    /// AAC in ADTS frames.
    Adts,
    /// MPEG-2 transport stream.
    Ts,
    /// Anything else: passed through as it comes.
    Other,
}

impl Format {
    /// The format a media type names (parameters and case ignored).
    pub fn from_mime(mime: &str) -> Self {
        let base = mime
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        match base.as_str() {
            "audio/mpeg" | "audio/mp3" | "audio/mpa" | "audio/mpeg3" => Self::Mp3,
            "audio/aac" | "audio/aacp" | "audio/x-aac" | "audio/adts" => Self::Adts,
            "video/mp2t" | "audio/mp2t" => Self::Ts,
            _ => Self::Other,
        }
    }

    /// The format a file name's extension names.
    pub fn from_path(path: &str) -> Self {
        let ext = path
            .rsplit_once('.')
            .map_or("", |(_, e)| e)
            .to_ascii_lowercase();
        match ext.as_str() {
            "mp3" | "mp2" | "mpga" => Self::Mp3,
            "aac" | "adts" => Self::Adts,
            "ts" | "m2ts" | "mts" | "trp" => Self::Ts,
            _ => Self::Other,
        }
    }

    /// The media type listeners are told, when the format has one.
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
    /// Samples per second.
    pub sample_rate: u32,
    /// Channels (2 for stereo modes).
    pub channels: u8,
    /// Bits per second: the header's for MP3, measured for ADTS.
    pub bitrate: Option<u32>,
}

/// A run of bytes released by the framer.
#[derive(Debug, Clone, PartialEq)]
pub struct Unit {
    /// The bytes: one frame, a run of TS packets, or junk.
    pub bytes: Bytes,
    /// How long these bytes play, when the format says (MP3, ADTS).
    pub duration: Option<Duration>,
    /// TS: the PCR (27 MHz) of the unit's first packet.
    pub pcr: Option<u64>,
    /// Begins at a frame or packet boundary: a listener may start here.
    pub sync: bool,
}

/// One parsed audio frame header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Header {
    len: usize,
    samples: u32,
    sample_rate: u32,
    channels: u8,
    bitrate: Option<u32>,
    /// Fields that stay the same from frame to frame in one stream.
    key: u32,
}

const MP3_RATES: [[u32; 3]; 3] = [
    [11_025, 12_000, 8_000],
    [22_050, 24_000, 16_000],
    [44_100, 48_000, 32_000],
];
const MP3_KBPS: [[u16; 14]; 5] = [
    [
        32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448,
    ], // V1 L1
    [
        32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384,
    ], // V1 L2
    [
        32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320,
    ], // V1 L3
    [
        32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256,
    ], // V2 L1
    [8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160], // V2 L2, L3
];

/// An MPEG audio frame header at the start of `b`.
fn mp3_header(b: &[u8]) -> Option<Header> {
    let &[b0, b1, b2, b3, ..] = b else {
        return None;
    };
    if b0 != 0xFF || b1 & 0xE0 != 0xE0 {
        return None;
    }
    let version = (b1 >> 3) & 3; // 0: 2.5, 2: 2, 3: 1
    let layer = 4 - ((b1 >> 1) & 3); // 1, 2, 3 (4: reserved)
    let bitrate_idx = usize::from(b2 >> 4);
    let rate_idx = usize::from((b2 >> 2) & 3);
    if version == 1 || layer == 4 || bitrate_idx == 0 || bitrate_idx == 15 || rate_idx == 3 {
        return None;
    }
    let v1 = version == 3;
    let sample_rate = MP3_RATES[match version {
        0 => 0,
        2 => 1,
        _ => 2,
    }][rate_idx];
    let table = match (v1, layer) {
        (true, l) => l as usize - 1,
        (false, 1) => 3,
        (false, _) => 4,
    };
    let bitrate = u32::from(MP3_KBPS[table][bitrate_idx - 1]) * 1000;
    let pad = u32::from((b2 >> 1) & 1);
    let (len, samples) = match layer {
        1 => ((12 * bitrate / sample_rate + pad) * 4, 384),
        2 => (144 * bitrate / sample_rate + pad, 1152),
        _ if v1 => (144 * bitrate / sample_rate + pad, 1152),
        _ => (72 * bitrate / sample_rate + pad, 576),
    };
    Some(Header {
        len: len as usize,
        samples,
        sample_rate,
        channels: if b3 >> 6 == 3 { 1 } else { 2 },
        bitrate: Some(bitrate),
        key: u32::from(b1 & 0xFE) << 8 | u32::from(b2 & 0x0C),
    })
}

const ADTS_RATES: [u32; 13] = [
    96_000, 88_200, 64_000, 48_000, 44_100, 32_000, 24_000, 22_050, 16_000, 12_000, 11_025, 8_000,
    7_350,
];

/// An ADTS frame header at the start of `b`.
fn adts_header(b: &[u8]) -> Option<Header> {
    let &[b0, b1, b2, b3, b4, b5, b6, ..] = b else {
        return None;
    };
    if b0 != 0xFF || b1 & 0xF6 != 0xF0 {
        return None;
    }
    let rate_idx = usize::from((b2 >> 2) & 0xF);
    let sample_rate = *ADTS_RATES.get(rate_idx)?;
    let channels = ((b2 & 1) << 2) | (b3 >> 6);
    let len = (usize::from(b3 & 3) << 11) | (usize::from(b4) << 3) | usize::from(b5 >> 5);
    let header_len = if b1 & 1 == 1 { 7 } else { 9 };
    if len < header_len {
        return None;
    }
    Some(Header {
        len,
        samples: 1024 * (u32::from(b6 & 3) + 1),
        sample_rate,
        channels: if channels == 7 { 8 } else { channels },
        bitrate: None,
        key: u32::from(b2 & 0xFD) << 8 | u32::from(b3 >> 6),
    })
}

/// The PCR of a TS packet, if it carries one.
fn pcr(p: &[u8]) -> Option<u64> {
    if p.len() < 12 || p[3] & 0x20 == 0 || p[4] < 7 || p[5] & 0x10 == 0 {
        return None;
    }
    let base = (u64::from(p[6]) << 25)
        | (u64::from(p[7]) << 17)
        | (u64::from(p[8]) << 9)
        | (u64::from(p[9]) << 1)
        | (u64::from(p[10]) >> 7);
    let ext = (u64::from(p[10] & 1) << 8) | u64::from(p[11]);
    Some(base * 300 + ext)
}

/// TS packet size.
const PACKET: usize = 188;
/// Junk and TS runs are released at this size at the latest.
const MAX_RUN: usize = 64 * 1024;
/// An ID3v2 tag larger than this is not waited for (it is passed as junk).
const MAX_TAG: usize = 1 << 20;

/// Splits a byte stream into [`Unit`]s; holds an incomplete frame until
/// the rest arrives.
#[derive(Debug)]
pub struct Framer {
    format: Format,
    held: BytesMut,
    junk: BytesMut,
    info: Option<AudioInfo>,
    /// ADTS: bytes and seconds seen, for the measured bit rate.
    measured: (u64, f64),
    /// The last bytes out were a whole frame: the next header is expected
    /// right here and needs no confirmation by the one after it.
    in_sync: bool,
}

impl Framer {
    /// A framer for `format`.
    pub fn new(format: Format) -> Self {
        Self {
            format,
            held: BytesMut::new(),
            junk: BytesMut::new(),
            info: None,
            measured: (0, 0.0),
            in_sync: false,
        }
    }

    /// The format being split.
    pub fn format(&self) -> Format {
        self.format
    }

    /// Audio facts of the last valid MP3/ADTS frame.
    pub fn info(&self) -> Option<AudioInfo> {
        self.info
    }

    /// Feeds bytes (any split); appends the units now complete, in order.
    pub fn push(&mut self, data: &[u8], out: &mut Vec<Unit>) {
        if self.format == Format::Other {
            if !data.is_empty() {
                out.push(Unit {
                    bytes: Bytes::copy_from_slice(data),
                    duration: None,
                    pcr: None,
                    sync: true,
                });
            }
            return;
        }
        self.held.extend_from_slice(data);
        match self.format {
            Format::Ts => self.split_ts(out, false),
            _ => self.split_audio(out, false),
        }
        self.flush_junk(out);
    }

    /// End of input: what is held, as final units; `None` when nothing is.
    pub fn finish(&mut self) -> Option<Unit> {
        let mut out = Vec::new();
        match self.format {
            Format::Ts => self.split_ts(&mut out, true),
            Format::Mp3 | Format::Adts => self.split_audio(&mut out, true),
            Format::Other => {}
        }
        let rest = self.held.split();
        self.junk.extend_from_slice(&rest);
        self.flush_junk(&mut out);
        if out.is_empty() {
            return None;
        }
        if out.len() == 1 {
            return out.pop();
        }
        // Several units at the end: one, keeping the first one's facts.
        let first = &out[0];
        let (sync, pcr) = (first.sync, first.pcr);
        let duration = out.iter().filter_map(|u| u.duration).reduce(|a, b| a + b);
        let mut bytes = BytesMut::new();
        for u in &out {
            bytes.extend_from_slice(&u.bytes);
        }
        Some(Unit {
            bytes: bytes.freeze(),
            duration,
            pcr,
            sync,
        })
    }

    fn flush_junk(&mut self, out: &mut Vec<Unit>) {
        if !self.junk.is_empty() {
            out.push(Unit {
                bytes: self.junk.split().freeze(),
                duration: None,
                pcr: None,
                sync: false,
            });
        }
    }

    fn skip_junk(&mut self, n: usize, out: &mut Vec<Unit>) {
        self.in_sync = false;
        let n = n.min(self.held.len());
        let bytes = self.held.split_to(n);
        self.junk.extend_from_slice(&bytes);
        if self.junk.len() >= MAX_RUN {
            self.flush_junk(out);
        }
    }

    fn header(&self, b: &[u8]) -> Option<Header> {
        match self.format {
            Format::Mp3 => mp3_header(b),
            _ => adts_header(b),
        }
    }

    fn split_audio(&mut self, out: &mut Vec<Unit>, end: bool) {
        let min = if self.format == Format::Mp3 { 4 } else { 7 };
        while self.held.len() >= min {
            if self.format == Format::Mp3 && self.held.starts_with(b"ID3") {
                if self.held.len() < 10 {
                    if end {
                        break;
                    }
                    return;
                }
                let h = &self.held;
                let size = (usize::from(h[6] & 0x7F) << 21)
                    | (usize::from(h[7] & 0x7F) << 14)
                    | (usize::from(h[8] & 0x7F) << 7)
                    | usize::from(h[9] & 0x7F);
                let total = 10 + size + if h[5] & 0x10 != 0 { 10 } else { 0 };
                if total <= MAX_TAG && self.held.len() < total && !end {
                    return;
                }
                self.skip_junk(total.min(MAX_TAG), out);
                continue;
            }
            let Some(h) = self.header(&self.held) else {
                // Skip to the next possible sync byte.
                let next = self.held[1..]
                    .iter()
                    .position(|&b| b == 0xFF)
                    .map_or(self.held.len(), |i| i + 1);
                self.skip_junk(next, out);
                continue;
            };
            if self.held.len() < h.len {
                if end {
                    break;
                }
                return;
            }
            // Out of sync, the next header must agree, when it is there to
            // see (a false sync inside audio data rarely has a successor).
            if !self.in_sync {
                if self.held.len() >= h.len + min {
                    let next = self.header(&self.held[h.len..]);
                    if next.is_none_or(|n| n.key != h.key) {
                        self.skip_junk(1, out);
                        continue;
                    }
                } else if !end {
                    return;
                }
            }
            self.flush_junk(out);
            let frame = self.held.split_to(h.len).freeze();
            let secs = f64::from(h.samples) / f64::from(h.sample_rate);
            let bitrate = h.bitrate.or_else(|| {
                self.measured.0 += frame.len() as u64;
                self.measured.1 += secs;
                Some((self.measured.0 as f64 * 8.0 / self.measured.1) as u32)
            });
            self.in_sync = true;
            self.info = Some(AudioInfo {
                sample_rate: h.sample_rate,
                channels: h.channels,
                bitrate,
            });
            out.push(Unit {
                bytes: frame,
                duration: Some(Duration::from_secs_f64(secs)),
                pcr: None,
                sync: true,
            });
        }
    }

    fn split_ts(&mut self, out: &mut Vec<Unit>, end: bool) {
        let mut run = BytesMut::new();
        let mut run_pcr = None;
        loop {
            if self.held.first().is_some_and(|&b| b != 0x47) {
                self.emit_run(&mut run, &mut run_pcr, out);
                let next = self.held.iter().position(|&b| b == 0x47);
                self.skip_junk(next.unwrap_or(self.held.len()), out);
                continue;
            }
            if self.held.len() < PACKET {
                break;
            }
            if self.held.len() > PACKET && self.held[PACKET] != 0x47 {
                self.emit_run(&mut run, &mut run_pcr, out);
                self.skip_junk(1, out);
                continue;
            }
            if self.held.len() == PACKET && !end {
                // Cannot tell yet whether the next packet lines up.
                break;
            }
            let packet_pcr = pcr(&self.held[..PACKET]);
            if !run.is_empty() && (packet_pcr.is_some() || run.len() + PACKET > MAX_RUN) {
                self.emit_run(&mut run, &mut run_pcr, out);
            }
            if run.is_empty() {
                self.flush_junk(out);
                run_pcr = packet_pcr;
            }
            run.extend_from_slice(&self.held[..PACKET]);
            self.held.advance(PACKET);
        }
        self.emit_run(&mut run, &mut run_pcr, out);
    }

    fn emit_run(&mut self, run: &mut BytesMut, pcr: &mut Option<u64>, out: &mut Vec<Unit>) {
        if run.is_empty() {
            return;
        }
        self.flush_junk(out);
        out.push(Unit {
            bytes: run.split().freeze(),
            duration: None,
            pcr: pcr.take(),
            sync: true,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A deterministic pseudo-random sequence (no rand crate).
    struct Lcg(u64);

    impl Lcg {
        fn next(&mut self) -> u64 {
            self.0 = self
                .0
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            self.0 >> 33
        }
    }

    /// Feeds `input` in pieces of at most `max` bytes; returns the units.
    fn split(format: Format, input: &[u8], max: usize, seed: u64) -> Vec<Unit> {
        let mut f = Framer::new(format);
        let mut rng = Lcg(seed);
        let mut out = Vec::new();
        let mut at = 0;
        while at < input.len() {
            let n = (1 + rng.next() as usize % max).min(input.len() - at);
            f.push(&input[at..at + n], &mut out);
            assert!(f.held.len() <= 9000 + max, "held {}", f.held.len());
            at += n;
        }
        out.extend(f.finish());
        out
    }

    fn joined(units: &[Unit]) -> Vec<u8> {
        units.iter().flat_map(|u| u.bytes.iter().copied()).collect()
    }

    fn mp3_frame(i: usize, pad: bool) -> Vec<u8> {
        let mut f = vec![0xFF, 0xFB, 0x90 | if pad { 2 } else { 0 }, 0x44];
        let len = if pad { 418 } else { 417 };
        f.extend(std::iter::repeat_n((i % 200) as u8, len - 4));
        f
    }

    fn adts_frame(len: usize) -> Vec<u8> {
        // AAC LC, 44.1 kHz (index 4), stereo, no CRC, one raw block.
        let mut f = vec![
            0xFF,
            0xF1,
            (1 << 6) | (4 << 2),
            (2 << 6) | ((len >> 11) & 3) as u8,
            ((len >> 3) & 0xFF) as u8,
            (((len & 7) << 5) as u8) | 0x1F,
            0xFC,
        ];
        f.extend(std::iter::repeat_n(0x21, len - 7));
        f
    }

    fn ts_packet(pcr: Option<u64>) -> Vec<u8> {
        let mut p = vec![0x47, 0x01, 0x00, 0x10];
        if let Some(v) = pcr {
            let (base, ext) = (v / 300, v % 300);
            p[3] = 0x30;
            p.extend([
                7,
                0x10,
                (base >> 25) as u8,
                (base >> 17) as u8,
                (base >> 9) as u8,
                (base >> 1) as u8,
                (((base & 1) << 7) as u8) | 0x7E | ((ext >> 8) as u8),
                ext as u8,
            ]);
        }
        p.resize(PACKET, 0x55);
        p
    }

    #[test]
    fn mp3_frames_come_out_whole_with_their_duration() {
        let mut input = b"ID3\x03\x00\x00\x00\x00\x00\x05hello".to_vec();
        for i in 0..50 {
            input.extend(mp3_frame(i, i % 3 == 0));
        }
        input.extend(b"garbage\xFF\x00trailing");
        for max in [1, 7, 500, 100_000] {
            let units = split(Format::Mp3, &input, max, 7);
            assert!(joined(&units) == input, "max {max}: bytes differ");
            let frames: Vec<_> = units.iter().filter(|u| u.sync).collect();
            assert_eq!(frames.len(), 50, "max {max}");
            assert!(
                frames
                    .iter()
                    .all(|u| u.bytes.len() == 417 || u.bytes.len() == 418)
            );
            assert!(frames.iter().all(|u| u.bytes[..2] == [0xFF, 0xFB]));
            let d: Duration = frames.iter().filter_map(|u| u.duration).sum();
            assert!((d.as_secs_f64() - 50.0 * 1152.0 / 44100.0).abs() < 1e-6);
            assert_eq!(&units[0].bytes[..], b"ID3\x03\x00\x00\x00\x00\x00\x05hello");
        }
        let mut f = Framer::new(Format::Mp3);
        f.push(
            &[mp3_frame(0, false), mp3_frame(1, false)].concat(),
            &mut Vec::new(),
        );
        assert_eq!(
            f.info(),
            Some(AudioInfo {
                sample_rate: 44_100,
                channels: 2,
                bitrate: Some(128_000)
            })
        );
    }

    #[test]
    fn adts_frames_and_ts_packets_split_on_their_boundaries() {
        let mut input = Vec::new();
        for i in 0..40 {
            input.extend(adts_frame(200 + i * 7));
        }
        let units = split(Format::Adts, &input, 333, 3);
        assert!(joined(&units) == input);
        assert_eq!(units.iter().filter(|u| u.sync).count(), 40);
        let d: Duration = units.iter().filter_map(|u| u.duration).sum();
        assert!((d.as_secs_f64() - 40.0 * 1024.0 / 44100.0).abs() < 1e-6);

        let mut ts = Vec::new();
        for i in 0..30u64 {
            ts.extend(ts_packet((i % 10 == 0).then_some(i * 2_700_000)));
        }
        let units = split(Format::Ts, &ts, 1000, 5);
        assert!(joined(&units) == ts);
        assert!(units.iter().all(|u| u.sync && u.bytes.len() % PACKET == 0));
        let pcrs: Vec<u64> = units.iter().filter_map(|u| u.pcr).collect();
        assert_eq!(pcrs, [0, 27_000_000, 54_000_000]);
    }

    #[test]
    fn fuzzed_input_never_panics_and_is_passed_whole() {
        let mut rng = Lcg(42);
        let noise: Vec<u8> = (0..400_000).map(|_| rng.next() as u8).collect();
        let mut real = Vec::new();
        for i in 0..200 {
            real.extend(mp3_frame(i, false));
            real.extend(adts_frame(300));
            real.extend(ts_packet(Some(i as u64 * 1000)));
        }
        for format in [Format::Mp3, Format::Adts, Format::Ts, Format::Other] {
            assert!(
                joined(&split(format, &noise, 5000, 1)) == noise,
                "{format:?}"
            );
            let mut mutated = real.clone();
            for _ in 0..2000 {
                let at = rng.next() as usize % mutated.len();
                mutated[at] = rng.next() as u8;
            }
            assert!(
                joined(&split(format, &mutated, 700, 9)) == mutated,
                "{format:?}"
            );
        }
    }

    /// Real streams made by ffmpeg: durations add up, bytes are all there.
    #[test]
    fn ffmpeg_streams_split_into_frames_that_last_their_length() {
        let dir = std::env::temp_dir().join(format!("httpout-framer-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for (format, args, file) in [
            (
                Format::Mp3,
                &["-c:a", "libmp3lame", "-b:a", "128k"][..],
                "a.mp3",
            ),
            (
                Format::Adts,
                &["-c:a", "aac", "-b:a", "96k", "-f", "adts"][..],
                "a.aac",
            ),
            (Format::Ts, &["-c:a", "mp2", "-f", "mpegts"][..], "a.ts"),
        ] {
            let path = dir.join(file);
            let made = std::process::Command::new("ffmpeg")
                .args(["-v", "error", "-y", "-f", "lavfi", "-i", "sine=duration=2"])
                .args(args)
                .arg(&path)
                .status();
            if !made.is_ok_and(|s| s.success()) {
                eprintln!("ffmpeg missing: skipped");
                return;
            }
            let input = std::fs::read(&path).unwrap();
            for max in [1, 4096] {
                let units = split(format, &input, max, 11);
                assert!(joined(&units) == input, "{file}");
                if format == Format::Ts {
                    let pcrs: Vec<u64> = units.iter().filter_map(|u| u.pcr).collect();
                    assert!(
                        pcrs.len() > 5 && pcrs.windows(2).all(|w| w[0] < w[1]),
                        "{file}"
                    );
                } else {
                    let d: Duration = units.iter().filter_map(|u| u.duration).sum();
                    let secs = d.as_secs_f64();
                    assert!((1.94..2.1).contains(&secs), "{file}: {secs}");
                }
            }
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}

//! MPEG audio frame headers: MPEG-1 (ISO/IEC 11172-3), MPEG-2 lower
//! sampling frequencies (ISO/IEC 13818-3) and the unofficial MPEG-2.5,
//! Layers I, II and III.
//!
//! ```text
//! AAAAAAAA AAABBCCD EEEEFFGH IIJJKLMM
//! A sync (11 bits set)   B version   C layer   D protection absent
//! E bitrate index        F sampling frequency  G padding  H private
//! I channel mode         J mode extension      K copyright L original  M emphasis
//! ```

use super::{AudioFrame, FrameHeader, Probe};

/// The longest frame: MPEG-2.5 Layer II at 160 kbit/s, 8000 Hz, padded
/// (144 × 160000 / 8000 + 1).
pub(crate) const MAX_FRAME: usize = 2881;

/// Bit rates in kbit/s of MPEG-1 by layer (I, II, III) and `bitrate_index`;
/// index 0 is the free format and 15 is forbidden.
const BITRATES_V1: [[u16; 15]; 3] = [
    [
        0, 32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448,
    ],
    [
        0, 32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384,
    ],
    [
        0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320,
    ],
];

/// Bit rates in kbit/s of MPEG-2 and MPEG-2.5 by layer (I; II and III).
const BITRATES_V2: [[u16; 15]; 2] = [
    [
        0, 32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256,
    ],
    [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160],
];

/// Sampling frequencies by version (MPEG-1, MPEG-2, MPEG-2.5) and
/// `sampling_frequency` index (3 is reserved).
const RATES: [[u32; 3]; 3] = [
    [44_100, 48_000, 32_000],
    [22_050, 24_000, 16_000],
    [11_025, 12_000, 8_000],
];

/// A frame header: what the framer reads, and the version and layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Header {
    /// 0 for MPEG-1, 1 for MPEG-2, 2 for MPEG-2.5.
    version: u8,
    /// 1, 2 or 3.
    layer: u8,
    /// Length, samples, rate, channels, bit rate and key (version, layer
    /// and sampling frequency bits).
    frame: FrameHeader,
}

/// Reads the frame header at the start of `b`; `NeedMore` while the bytes
/// seen so far could still begin one.
pub(crate) fn parse(b: &[u8]) -> Probe<Header> {
    // The sync word's last 3 bits.
    let b1 = match super::sync_byte(b, 0xE0, 0xE0) {
        Ok(b1) => b1,
        Err(probe) => return probe,
    };
    let version: u8 = match (b1 >> 3) & 3 {
        3 => 0,
        2 => 1,
        0 => 2,
        _ => return Probe::Invalid,
    };
    let layer: u8 = match (b1 >> 1) & 3 {
        3 => 1,
        2 => 2,
        1 => 3,
        _ => return Probe::Invalid,
    };
    let Some(&b2) = b.get(2) else {
        return Probe::NeedMore;
    };
    let bitrate_index = usize::from(b2 >> 4);
    let rate_index = usize::from((b2 >> 2) & 3);
    // Free format (0) would need the next sync to size the frame: junk.
    if bitrate_index == 0 || bitrate_index == 15 || rate_index == 3 {
        return Probe::Invalid;
    }
    let Some(&b3) = b.get(3) else {
        return Probe::NeedMore;
    };
    let kbps = if version == 0 {
        BITRATES_V1[usize::from(layer - 1)][bitrate_index]
    } else {
        BITRATES_V2[usize::from(layer != 1)][bitrate_index]
    };
    let bitrate = u32::from(kbps) * 1000;
    let sample_rate = RATES[usize::from(version)][rate_index];
    let padding = u32::from((b2 >> 1) & 1);
    let (len, samples) = match (layer, version) {
        (1, _) => ((12 * bitrate / sample_rate + padding) * 4, 384),
        (2, _) | (3, 0) => (144 * bitrate / sample_rate + padding, 1152),
        _ => (72 * bitrate / sample_rate + padding, 576),
    };
    Probe::Valid(Header {
        version,
        layer,
        frame: FrameHeader {
            sample_rate,
            channels: if b3 >> 6 == 3 { 1 } else { 2 },
            len: len as usize,
            samples,
            key: (u32::from(b1 & 0x1E) << 8) | u32::from(b2 & 0x0C),
            bitrate: Some(bitrate),
        },
    })
}

/// MPEG audio, for the framer.
pub(crate) struct Mp3;

impl AudioFrame for Mp3 {
    const MAX_FRAME: usize = MAX_FRAME;
    fn parse(b: &[u8]) -> Probe<FrameHeader> {
        match parse(b) {
            Probe::Valid(h) => Probe::Valid(h.frame),
            Probe::NeedMore => Probe::NeedMore,
            Probe::Invalid => Probe::Invalid,
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A frame with header bytes `b1 b2 b3` after 0xFF, `len` bytes long,
    /// its payload free of 0xFF.
    pub(crate) fn frame(b1: u8, b2: u8, b3: u8, len: usize) -> Vec<u8> {
        let mut f = vec![0xFF, b1, b2, b3];
        f.extend((4..len).map(|i| (i % 251) as u8));
        f
    }

    /// MPEG-1 Layer III, 128 kbit/s, 44100 Hz, joint stereo.
    pub(crate) fn mpeg1_l3(padding: bool) -> Vec<u8> {
        let len = if padding { 418 } else { 417 };
        frame(0xFB, 0x90 | (u8::from(padding) << 1), 0x64, len)
    }

    /// MPEG-2 Layer III, 64 kbit/s, 22050 Hz, single channel.
    pub(crate) fn mpeg2_l3() -> Vec<u8> {
        frame(0xF3, 0x80, 0xC4, 208)
    }

    fn full(b: &[u8]) -> Header {
        match parse(b) {
            Probe::Valid(h) => h,
            other => panic!("not a header: {other:?}"),
        }
    }

    fn header(b: &[u8]) -> FrameHeader {
        full(b).frame
    }

    #[test]
    fn mpeg1_layer3() {
        let h = header(&[0xFF, 0xFB, 0x90, 0x64]);
        assert_eq!(h.len, 417);
        assert_eq!(h.bitrate, Some(128_000));
        assert_eq!(h.sample_rate, 44_100);
        assert_eq!(h.channels, 2);
        assert_eq!(h.samples, 1152);
        assert_eq!(header(&[0xFF, 0xFB, 0x92, 0x64]).len, 418);
        // 320 kbit/s 32000 Hz padded.
        assert_eq!(header(&[0xFF, 0xFB, 0xEA, 0x00]).len, 1441);
        let d = header(&mpeg1_l3(false)).duration();
        assert_eq!(d.as_nanos(), 26_122_448);
    }

    #[test]
    fn mpeg2_and_25() {
        let h = header(&mpeg2_l3());
        assert_eq!(
            (h.len, h.sample_rate, h.channels, h.samples),
            (208, 22_050, 1, 576)
        );
        assert_eq!(h.bitrate, Some(64_000));
        // MPEG-2.5 Layer III 8 kbit/s 8000 Hz.
        let h = header(&[0xFF, 0xE3, 0x18, 0x00]);
        assert_eq!((h.len, h.sample_rate, h.samples), (72, 8_000, 576));
        // MPEG-2.5 Layer II 160 kbit/s 8000 Hz padded: the longest frame.
        let h = header(&[0xFF, 0xE5, 0xEA, 0x00]);
        assert_eq!((h.len, h.samples), (MAX_FRAME, 1152));
    }

    #[test]
    fn layers_1_and_2() {
        // MPEG-1 Layer I 384 kbit/s 48000 Hz.
        let h = full(&[0xFF, 0xFF, 0xC4, 0x00]);
        assert_eq!((h.frame.len, h.frame.samples, h.layer), (384, 384, 1));
        // Padded Layer I adds a 4-byte slot.
        assert_eq!(header(&[0xFF, 0xFF, 0xC6, 0x00]).len, 388);
        // MPEG-1 Layer II 192 kbit/s 48000 Hz.
        let h = full(&[0xFF, 0xFD, 0xA4, 0x00]);
        assert_eq!(
            (h.frame.len, h.frame.samples, h.layer, h.version),
            (576, 1152, 2, 0)
        );
        // MPEG-2 Layer I 256 kbit/s 16000 Hz.
        assert_eq!(header(&[0xFF, 0xF7, 0xE8, 0x00]).len, 768);
    }

    #[test]
    fn invalid_and_partial() {
        assert_eq!(parse(&[]), Probe::NeedMore);
        assert_eq!(parse(&[0xFF]), Probe::NeedMore);
        assert_eq!(parse(&[0xFF, 0xFB]), Probe::NeedMore);
        assert_eq!(parse(&[0xFF, 0xFB, 0x90]), Probe::NeedMore);
        assert_eq!(parse(&[0xFE]), Probe::Invalid);
        assert_eq!(parse(&[0xFF, 0xDB]), Probe::Invalid); // sync short
        assert_eq!(parse(&[0xFF, 0xEB]), Probe::Invalid); // version 01
        assert_eq!(parse(&[0xFF, 0xF9]), Probe::Invalid); // layer 00
        assert_eq!(parse(&[0xFF, 0xFB, 0x00]), Probe::Invalid); // free format
        assert_eq!(parse(&[0xFF, 0xFB, 0xF0]), Probe::Invalid); // bitrate 15
        assert_eq!(parse(&[0xFF, 0xFB, 0x9C]), Probe::Invalid); // rate 3
    }

    #[test]
    fn every_header_is_bounded() {
        for b1 in 0xE0..=0xFF_u8 {
            for b2 in 0..=0xFF_u8 {
                if let Probe::Valid(h) = parse(&[0xFF, b1, b2, 0]) {
                    assert!(h.frame.len > 4 && h.frame.len <= MAX_FRAME, "{b1:x} {b2:x}");
                }
            }
        }
    }
}

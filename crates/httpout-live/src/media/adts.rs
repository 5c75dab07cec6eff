//! AAC ADTS frame headers (ISO/IEC 13818-7, also ISO/IEC 14496-3).
//!
//! ```text
//! AAAAAAAA AAAABCCD EEFFFFGH HHIJKLMM MMMMMMMM MMMOOOOO OOOOOOPP (QQQQQQQQ QQQQQQQQ)
//! A syncword (12 bits set)  B ID  C layer (00)  D protection absent
//! E profile  F sampling frequency index  G private  H channel configuration
//! I original  J home  K copyright id bit  L copyright id start
//! M frame length (header included)  O buffer fullness
//! P raw data blocks in the frame − 1  Q CRC when protection is present
//! ```

use super::{AudioFrame, FrameHeader, Probe};

/// The longest frame `frame_length`'s 13 bits allow.
pub(crate) const MAX_FRAME: usize = 8191;

/// Samples per second by `sampling_frequency_index` (13 and 14 are
/// reserved, 15 is an escape ADTS cannot use).
const RATES: [u32; 13] = [
    96_000, 88_200, 64_000, 48_000, 44_100, 32_000, 24_000, 22_050, 16_000, 12_000, 11_025, 8_000,
    7_350,
];

/// Reads the frame header at the start of `b`; `NeedMore` while the bytes
/// seen so far could still begin one.
pub(crate) fn parse(b: &[u8]) -> Probe<FrameHeader> {
    // Syncword's last 4 bits, layer 00.
    let b1 = match super::sync_byte(b, 0xF6, 0xF0) {
        Ok(b1) => b1,
        Err(probe) => return probe,
    };
    let Some(&b2) = b.get(2) else {
        return Probe::NeedMore;
    };
    let rate_index = usize::from((b2 >> 2) & 0x0F);
    let Some(&sample_rate) = RATES.get(rate_index) else {
        return Probe::Invalid;
    };
    let (Some(&b3), Some(&b4), Some(&b5)) = (b.get(3), b.get(4), b.get(5)) else {
        return Probe::NeedMore;
    };
    let config = ((b2 & 1) << 2) | (b3 >> 6);
    let len = (usize::from(b3 & 3) << 11) | (usize::from(b4) << 3) | usize::from(b5 >> 5);
    let header_len = if b1 & 1 == 1 { 7 } else { 9 };
    if len <= header_len {
        return Probe::Invalid;
    }
    let Some(&b6) = b.get(6) else {
        return Probe::NeedMore;
    };
    Probe::Valid(FrameHeader {
        sample_rate,
        channels: if config == 7 { 8 } else { config },
        len,
        samples: 1024 * (u32::from(b6 & 3) + 1),
        key: (u32::from(b1 & 0x08) << 16) | (u32::from(b2 & 0x3D) << 8) | u32::from(b3 & 0xC0),
        bitrate: None,
    })
}

/// ADTS, for the framer.
pub(crate) struct Adts;

impl AudioFrame for Adts {
    const MAX_FRAME: usize = MAX_FRAME;
    fn parse(b: &[u8]) -> Probe<FrameHeader> {
        parse(b)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// An ADTS frame: MPEG-4 AAC LC, `rate_index`, channel configuration
    /// `config`, `blocks` raw data blocks, no CRC, `len` bytes long with a
    /// payload free of 0xFF.
    pub(crate) fn frame(rate_index: u8, config: u8, blocks: u8, len: usize) -> Vec<u8> {
        assert!((8..=MAX_FRAME).contains(&len));
        let l = len as u32;
        let mut f = vec![
            0xFF,
            0xF1,
            (1 << 6) | (rate_index << 2) | (config >> 2),
            ((config & 3) << 6) | ((l >> 11) as u8 & 3),
            (l >> 3) as u8,
            (((l & 7) as u8) << 5) | 0x1F,
            0xFC | ((blocks - 1) & 3),
        ];
        f.extend((7..len).map(|i| (i % 239) as u8));
        f
    }

    /// 44100 Hz stereo, one raw data block.
    pub(crate) fn stereo_44k(len: usize) -> Vec<u8> {
        frame(4, 2, 1, len)
    }

    fn header(b: &[u8]) -> FrameHeader {
        match parse(b) {
            Probe::Valid(h) => h,
            other => panic!("not a header: {other:?}"),
        }
    }

    #[test]
    fn fields() {
        let h = header(&stereo_44k(371));
        assert_eq!(
            (h.sample_rate, h.channels, h.len, h.samples),
            (44_100, 2, 371, 1024)
        );
        assert_eq!(h.duration().as_nanos(), 23_219_954);
        let h = header(&frame(3, 7, 4, MAX_FRAME));
        assert_eq!(
            (h.sample_rate, h.channels, h.len, h.samples),
            (48_000, 8, 8191, 4096)
        );
        let h = header(&frame(11, 1, 1, 8));
        assert_eq!((h.sample_rate, h.channels, h.len), (8_000, 1, 8));
        assert_ne!(
            header(&frame(4, 1, 1, 100)).key,
            header(&frame(4, 2, 1, 100)).key
        );
        assert_ne!(
            header(&frame(3, 2, 1, 100)).key,
            header(&frame(4, 2, 1, 100)).key
        );
        assert_eq!(
            header(&frame(4, 2, 1, 100)).key,
            header(&frame(4, 2, 2, 900)).key
        );
    }

    #[test]
    fn crc_header_is_longer() {
        let mut f = stereo_44k(9);
        f[1] = 0xF0; // protection present: 9-byte header
        assert_eq!(parse(&f), Probe::Invalid);
        let mut f = stereo_44k(10);
        f[1] = 0xF0;
        assert_eq!(header(&f).len, 10);
    }

    #[test]
    fn invalid_and_partial() {
        let f = stereo_44k(300);
        for n in 0..7 {
            assert_eq!(parse(&f[..n]), Probe::NeedMore, "{n}");
        }
        assert_eq!(parse(&[0xFF, 0xFB]), Probe::Invalid); // MP3 layer bits
        assert_eq!(parse(&[0xFF, 0xE1]), Probe::Invalid);
        assert_eq!(parse(&[0xFF, 0xF1, 0x50 | (13 << 2)]), Probe::Invalid);
        assert_eq!(parse(&[0xFF, 0xF1, 0x50 | (15 << 2)]), Probe::Invalid);
        let mut short = stereo_44k(300);
        short[3] &= 0xFC;
        short[4] = 0;
        short[5] = 0xDF; // frame_length 6
        assert_eq!(parse(&short), Probe::Invalid);
    }
}

//! Property tests of `media::Framer::push`, through its public API only.
//!
//! 10 000 cases per property and run (`cargo test -p httpout-live --test
//! fuzz_framer`), on streams made of generated MP3 and ADTS frames, TS
//! packets, ID3 tags and junk, pushed in arbitrary pieces:
//! - every byte pushed comes out exactly once, in order, and what the
//!   framer holds stays bounded;
//! - MP3 and ADTS units do not depend on how the input is split;
//! - a stream of whole frames comes out as exactly those frames, each
//!   with its duration, none lost at the end.

use std::time::Duration;

use httpout_live::media::{Format, Framer, Unit};
use proptest::prelude::*;

/// Junk is released at the latest at this size (`UNIT_MAX`).
const UNIT_MAX: usize = 64 * 1024;

/// MPEG-1 Layer III bit rates (kbit/s) by index, and sampling rates.
const MP3_KBPS: [u32; 15] = [
    0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320,
];
const MP3_RATES: [u32; 3] = [44_100, 48_000, 32_000];
/// ADTS sampling rates by index (the first 12).
const ADTS_RATES: [u32; 12] = [
    96_000, 88_200, 64_000, 48_000, 44_100, 32_000, 24_000, 22_050, 16_000, 12_000, 11_025, 8_000,
];

/// One MPEG-1 Layer III frame (no CRC) and its duration.
fn mp3_frame(bitrate: usize, rate: usize, padding: bool, fill: u8) -> (Vec<u8>, Duration) {
    let len = (144_000 * MP3_KBPS[bitrate] / MP3_RATES[rate]) as usize + usize::from(padding);
    let mut f = vec![fill; len];
    f[..4].copy_from_slice(&[
        0xFF,
        0xFB,
        ((bitrate as u8) << 4) | ((rate as u8) << 2) | (u8::from(padding) << 1),
        0x44,
    ]);
    let d = Duration::from_nanos(1152 * 1_000_000_000 / u64::from(MP3_RATES[rate]));
    (f, d)
}

/// One ADTS frame (MPEG-4 AAC LC, no CRC, one raw block) and its duration.
fn adts_frame(rate: usize, channels: u8, payload: usize, fill: u8) -> (Vec<u8>, Duration) {
    let len = 7 + payload;
    let mut f = vec![fill; len];
    f[..7].copy_from_slice(&[
        0xFF,
        0xF1,
        (1 << 6) | ((rate as u8) << 2) | (channels >> 2),
        ((channels & 3) << 6) | ((len >> 11) as u8 & 3),
        (len >> 3) as u8,
        ((len as u8 & 7) << 5) | 0x1F,
        0xFC,
    ]);
    let d = Duration::from_nanos(1024 * 1_000_000_000 / u64::from(ADTS_RATES[rate]));
    (f, d)
}

/// One TS packet, with or without a PCR.
fn ts_packet(pcr: Option<u64>, fill: u8) -> Vec<u8> {
    let mut p = vec![fill; 188];
    p[..4].copy_from_slice(&[0x47, 0x01, 0x00, 0x10]);
    if let Some(pcr) = pcr {
        // Adaptation field with a PCR: base (33 bits) and extension 0.
        p[3] = 0x30;
        p[4] = 7;
        p[5] = 0x10;
        let base = pcr / 300;
        p[6] = (base >> 25) as u8;
        p[7] = (base >> 17) as u8;
        p[8] = (base >> 9) as u8;
        p[9] = (base >> 1) as u8;
        p[10] = ((base as u8 & 1) << 7) | 0x7E;
        p[11] = 0;
    }
    p
}

/// A piece of a stream.
#[derive(Debug, Clone)]
enum Piece {
    Frame(usize, usize, bool, u8),
    Junk(Vec<u8>),
    Id3(Vec<u8>),
}

fn piece() -> impl Strategy<Value = Piece> {
    prop_oneof![
        8 => (1usize..15, 0usize..3, any::<bool>(), any::<u8>())
            .prop_map(|(b, r, p, f)| Piece::Frame(b, r, p, f)),
        1 => prop::collection::vec(any::<u8>(), 0..300).prop_map(Piece::Junk),
        1 => prop::collection::vec(any::<u8>(), 0..40).prop_map(Piece::Id3),
    ]
}

/// The bytes of a stream of `format` made of `pieces`: frames of one
/// stream (the first frame's rate) with junk and ID3 tags between them.
fn build(format: Format, pieces: &[Piece]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut first_rate = None;
    for (i, p) in pieces.iter().enumerate() {
        match p {
            Piece::Frame(b, r, pad, fill) => {
                let r = *first_rate.get_or_insert(*r);
                match format {
                    Format::Mp3 => out.extend(mp3_frame(*b, r, *pad, *fill).0),
                    Format::Adts => out.extend(adts_frame(r * 3, 2, b * 37, *fill).0),
                    _ => out.extend(ts_packet((*pad).then_some(i as u64 * 2_700_000), *fill)),
                }
            }
            Piece::Junk(j) => out.extend_from_slice(j),
            Piece::Id3(body) => {
                let n = body.len() as u32;
                out.extend_from_slice(b"ID3\x04\x00\x00");
                out.extend([
                    (n >> 21) as u8 & 0x7F,
                    (n >> 14) as u8 & 0x7F,
                    (n >> 7) as u8 & 0x7F,
                    n as u8 & 0x7F,
                ]);
                out.extend_from_slice(body);
            }
        }
    }
    out
}

/// Pushes `data` cut at `cuts` (sorted offsets); the units, then what
/// `finish` gives. Checks the bound on what is held after each push.
fn run(format: Format, data: &[u8], cuts: &[usize]) -> Result<Vec<Unit>, TestCaseError> {
    let mut framer = Framer::new(format);
    let mut units = Vec::new();
    let (mut pushed, mut out) = (0usize, 0usize);
    let mut at = 0;
    for &cut in cuts.iter().chain(std::iter::once(&data.len())) {
        let cut = cut.clamp(at, data.len());
        framer.push(&data[at..cut], &mut units);
        pushed += cut - at;
        at = cut;
        out = units.iter().map(|u| u.bytes.len()).sum::<usize>();
        // At most junk under a unit, a frame and the next header.
        prop_assert!(
            pushed - out <= UNIT_MAX + 2 * 8192,
            "holds {} bytes",
            pushed - out
        );
    }
    let _ = out;
    units.extend(framer.finish());
    for u in &units {
        prop_assert!(!u.bytes.is_empty(), "an empty unit");
        if !u.sync {
            prop_assert!(u.duration.is_none() && u.pcr.is_none());
        }
        if format == Format::Ts && u.sync {
            prop_assert_eq!(u.bytes[0], 0x47);
        }
    }
    Ok(units)
}

fn format() -> impl Strategy<Value = Format> {
    prop::sample::select(&[Format::Mp3, Format::Adts, Format::Ts, Format::Other][..])
}

fn concat(units: &[Unit]) -> Vec<u8> {
    units.iter().flat_map(|u| u.bytes.iter().copied()).collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(10_000))]

    /// Every byte comes out once, in order, whatever the pieces.
    #[test]
    fn every_byte_comes_out_once_in_order(
        format in format(),
        pieces in prop::collection::vec(piece(), 0..16),
        mut cuts in prop::collection::vec(0usize..20_000, 0..12),
    ) {
        let data = build(format, &pieces);
        cuts.sort_unstable();
        let units = run(format, &data, &cuts)?;
        prop_assert_eq!(concat(&units), data);
    }

    /// Arbitrary bytes too (nothing to sync on, false syncs, huge junk).
    #[test]
    fn arbitrary_bytes_come_out_once(
        format in format(),
        data in prop::collection::vec(any::<u8>(), 0..1024),
        mut cuts in prop::collection::vec(0usize..1024, 0..12),
    ) {
        cuts.sort_unstable();
        let units = run(format, &data, &cuts)?;
        prop_assert_eq!(concat(&units), data);
    }

    /// MP3 and ADTS units do not depend on how the input is split.
    #[test]
    fn audio_units_do_not_depend_on_the_split(
        adts in any::<bool>(),
        pieces in prop::collection::vec(piece(), 0..16),
        mut cuts in prop::collection::vec(0usize..20_000, 1..12),
    ) {
        let format = if adts { Format::Adts } else { Format::Mp3 };
        let data = build(format, &pieces);
        cuts.sort_unstable();
        let whole = run(format, &data, &[])?;
        let split = run(format, &data, &cuts)?;
        prop_assert_eq!(whole, split);
    }

    /// Whole frames of one stream come out as exactly those frames, each
    /// with its duration; the last one too, at `finish`.
    #[test]
    fn whole_frames_come_out_as_frames(
        adts in any::<bool>(),
        frames in prop::collection::vec((1usize..15, any::<bool>(), any::<u8>()), 1..20),
        rate in 0usize..3,
        mut cuts in prop::collection::vec(0usize..20_000, 0..12),
    ) {
        let made: Vec<(Vec<u8>, Duration)> = frames
            .iter()
            .map(|&(b, pad, fill)| if adts {
                adts_frame(rate * 3, 2, b * 37 + usize::from(pad), fill)
            } else {
                mp3_frame(b, rate, pad, fill)
            })
            .collect();
        let data: Vec<u8> = made.iter().flat_map(|(f, _)| f.iter().copied()).collect();
        cuts.sort_unstable();
        let format = if adts { Format::Adts } else { Format::Mp3 };
        let units = run(format, &data, &cuts)?;
        prop_assert_eq!(units.len(), made.len());
        for (u, (f, d)) in units.iter().zip(&made) {
            prop_assert!(u.sync);
            prop_assert_eq!(&u.bytes[..], &f[..]);
            prop_assert_eq!(u.duration, Some(*d));
        }
    }
}

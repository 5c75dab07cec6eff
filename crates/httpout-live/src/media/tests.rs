//! The framer's tests: every byte out once, in order, whatever the split;
//! frames, junk and tags; the formats' corner cases.

use super::framer::{UNIT_MAX, id3_len};
use super::*;

/// A deterministic pseudo-random sequence.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }

    /// A number in `0..n`.
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }

    /// A chunk size: mostly small, sometimes large.
    fn chunk(&mut self) -> usize {
        match self.below(4) {
            0 => 1 + self.below(8),
            1 => 1 + self.below(200),
            2 => 1 + self.below(3000),
            _ => 1 + self.below(20_000),
        }
    }
}

/// The most a framer of `format` holds between calls.
fn held_max(format: Format) -> usize {
    UNIT_MAX
        + match format {
            Format::Mp3 => mp3::MAX_FRAME + 10,
            Format::Adts => adts::MAX_FRAME + 10,
            Format::Ts => ts::PACKET + 1,
            Format::Other => 0,
        }
}

/// Splits `data` pushed in `chunks`, checking what is held, finish
/// included.
fn split_by(format: Format, data: &[u8], chunks: &mut dyn FnMut() -> usize) -> Vec<Unit> {
    let mut framer = Framer::new(format);
    let mut out = Vec::new();
    let mut rest = data;
    while !rest.is_empty() {
        let (now, later) = rest.split_at(chunks().clamp(1, rest.len()));
        framer.push(now, &mut out);
        assert!(
            framer.held() <= held_max(format),
            "{format:?} holds {}",
            framer.held()
        );
        let room = framer.room();
        assert!(room <= 2 * held_max(format), "{format:?} keeps {room}");
        rest = later;
    }
    out.extend(framer.finish());
    assert_eq!(framer.held(), 0);
    assert!(framer.finish().is_none());
    out
}

fn split(format: Format, data: &[u8]) -> Vec<Unit> {
    split_by(format, data, &mut || usize::MAX)
}

fn concat(units: &[Unit]) -> Vec<u8> {
    units.iter().flat_map(|u| u.bytes.iter().copied()).collect()
}

fn total(units: &[Unit]) -> Duration {
    units.iter().filter_map(|u| u.duration).sum()
}

/// Splits `data` whole, a byte at a time and in pseudo-random chunks:
/// all bytes come out; MP3 and ADTS units are the same each way.
fn split_every_way(format: Format, data: &[u8]) -> Vec<Unit> {
    let whole = split(format, data);
    assert_eq!(concat(&whole), data);
    let bytewise = split_by(format, data, &mut || 1);
    assert_eq!(concat(&bytewise), data);
    let mut lcg = Lcg(data.len() as u64);
    let chunked = split_by(format, data, &mut || lcg.chunk());
    assert_eq!(concat(&chunked), data);
    if matches!(format, Format::Mp3 | Format::Adts) {
        assert_eq!(bytewise, whole);
        assert_eq!(chunked, whole);
    } else {
        let pcrs = |u: &[Unit]| u.iter().filter_map(|u| u.pcr).collect::<Vec<_>>();
        assert_eq!(pcrs(&bytewise), pcrs(&whole));
        assert_eq!(pcrs(&chunked), pcrs(&whole));
    }
    whole
}

fn sizes(units: &[Unit]) -> Vec<(usize, bool)> {
    units.iter().map(|u| (u.bytes.len(), u.sync)).collect()
}

#[test]
fn formats() {
    assert_eq!(Format::from_mime("audio/mpeg"), Format::Mp3);
    assert_eq!(Format::from_mime(" Audio/MP3 ; charset=x"), Format::Mp3);
    assert_eq!(Format::from_mime("audio/mpa"), Format::Mp3);
    assert_eq!(Format::from_mime("audio/aacp"), Format::Adts);
    assert_eq!(Format::from_mime("audio/x-aac"), Format::Adts);
    assert_eq!(Format::from_mime("audio/adts"), Format::Adts);
    assert_eq!(Format::from_mime("AUDIO/AAC"), Format::Adts);
    assert_eq!(Format::from_mime("video/MP2T"), Format::Ts);
    assert_eq!(Format::from_mime("audio/mp2t;x=1"), Format::Ts);
    assert_eq!(Format::from_mime("audio/ogg"), Format::Other);
    assert_eq!(Format::from_mime(""), Format::Other);
    assert_eq!(Format::from_path("/a/b/song.MP3"), Format::Mp3);
    assert_eq!(Format::from_path("x.mp2"), Format::Mp3);
    assert_eq!(Format::from_path("x.mpga"), Format::Mp3);
    assert_eq!(Format::from_path("x.aac"), Format::Adts);
    assert_eq!(Format::from_path("x.ADTS"), Format::Adts);
    for p in ["x.ts", "x.m2ts", "x.MTS", "dir/x.trp"] {
        assert_eq!(Format::from_path(p), Format::Ts, "{p}");
    }
    assert_eq!(Format::from_path("mp3"), Format::Other);
    assert_eq!(Format::from_path("dir.mp3/file"), Format::Other);
    assert_eq!(Format::from_path("x.ogg"), Format::Other);
    assert_eq!(Format::from_path(""), Format::Other);
    assert_eq!(Format::Mp3.mime(), Some("audio/mpeg"));
    assert_eq!(Format::Adts.mime(), Some("audio/aac"));
    assert_eq!(Format::Ts.mime(), Some("video/mp2t"));
    assert_eq!(Format::Other.mime(), None);
    assert_eq!(Framer::new(Format::Adts).format(), Format::Adts);
}

/// `n` MPEG-1 Layer III frames at 128 kbit/s, 44100 Hz, padded as a
/// real encoder pads them.
fn mp3_frames(n: usize) -> Vec<Vec<u8>> {
    (0..n).map(|i| mp3::tests::mpeg1_l3(i % 3 != 2)).collect()
}

#[test]
fn mp3_frames_split() {
    let frames = mp3_frames(20);
    let data = frames.concat();
    let units = split_every_way(Format::Mp3, &data);
    assert_eq!(units.len(), 20);
    for (u, f) in units.iter().zip(&frames) {
        assert_eq!(u.bytes, f[..]);
        assert!(u.sync);
        assert_eq!(u.pcr, None);
        assert_eq!(u.duration, Some(Duration::from_nanos(26_122_448)));
    }
    assert_eq!(units[1].bytes.len(), 418);
    assert_eq!(units[2].bytes.len(), 417);
    assert_eq!(total(&units), Duration::from_nanos(26_122_448 * 20));
}

#[test]
fn mp3_info_and_latency() {
    let mut framer = Framer::new(Format::Mp3);
    let mut out = Vec::new();
    let one = mp3::tests::mpeg1_l3(false);
    framer.push(&one, &mut out);
    // The first frame waits for the next header to confirm it.
    assert!(out.is_empty());
    assert_eq!(framer.info(), None);
    framer.push(&one[..3], &mut out);
    assert!(out.is_empty());
    // Confirmed, it comes out, and the second, following it, is whole.
    framer.push(&one[3..], &mut out);
    assert_eq!(out.len(), 2);
    let info = AudioInfo {
        sample_rate: 44_100,
        channels: 2,
        bitrate: Some(128_000),
    };
    assert_eq!(framer.info(), Some(info));
    // Once locked, a frame comes out as soon as it is whole.
    framer.push(&one[..416], &mut out);
    assert_eq!(out.len(), 2);
    framer.push(&one[416..], &mut out);
    assert_eq!(out.len(), 3);
    assert!(framer.finish().is_none());
}

#[test]
fn mpeg2_layer3() {
    let frame = mp3::tests::mpeg2_l3();
    let units = split_every_way(Format::Mp3, &frame.repeat(10));
    assert_eq!(units.len(), 10);
    assert!(units.iter().all(|u| u.sync && u.bytes.len() == 208));
    assert_eq!(total(&units), Duration::from_nanos(26_122_448 * 10));
    let mut framer = Framer::new(Format::Mp3);
    framer.push(&frame.repeat(2), &mut Vec::new());
    let info = AudioInfo {
        sample_rate: 22_050,
        channels: 1,
        bitrate: Some(64_000),
    };
    assert_eq!(framer.info(), Some(info));
}

#[test]
fn mp3_last_frame_comes_out_at_finish() {
    let frame = mp3::tests::mpeg1_l3(true);
    let mut framer = Framer::new(Format::Mp3);
    let mut out = Vec::new();
    framer.push(&frame, &mut out);
    assert!(out.is_empty());
    let unit = framer.finish().expect("the frame");
    assert!(unit.sync);
    assert_eq!(unit.bytes, frame[..]);
    assert_eq!(unit.duration, Some(Duration::from_nanos(26_122_448)));
    assert_eq!(framer.info().map(|i| i.sample_rate), Some(44_100));
    // A truncated last frame comes out as junk.
    let data = [frame.clone(), frame[..100].to_vec()].concat();
    let units = split_every_way(Format::Mp3, &data);
    assert_eq!(sizes(&units), [(418, true), (100, false)]);
    assert_eq!(units[1].duration, None);
}

#[test]
fn mp3_id3_and_junk() {
    let mut tag = b"ID3\x04\x00\x00\x00\x00\x01\x10".to_vec(); // 144 bytes of frames
    tag.extend((0..144).map(|i| if i % 7 == 0 { 0xFF } else { 0xFB }));
    let frames = mp3_frames(6);
    let mut data = tag.clone();
    data.extend(frames[..3].concat());
    data.extend_from_slice(b"garbage\xFF\xFB\x90\x64 more");
    data.extend(frames[3..].concat());
    data.extend_from_slice(&b"TAG"[..]);
    data.extend([b'x'; 125]);
    let units = split_every_way(Format::Mp3, &data);
    assert_eq!(
        sizes(&units),
        [
            (154, false),
            (418, true),
            (418, true),
            (417, true),
            (16, false),
            (418, true),
            (418, true),
            (417, true),
            (128, false)
        ]
    );
    assert_eq!(units[0].bytes, tag[..]);
    assert!(
        units
            .iter()
            .filter(|u| !u.sync)
            .all(|u| u.duration.is_none())
    );
}

#[test]
fn id3_footer_and_sizes() {
    assert_eq!(
        id3_len(b"ID3\x04\x00\x10\x00\x00\x01\x00"),
        Probe::Valid(10 + 128 + 10)
    );
    assert_eq!(
        id3_len(b"ID3\x03\x00\x10\x7F\x7F\x7F\x7F"),
        Probe::Valid(10 + (1 << 28) - 1)
    );
    assert_eq!(id3_len(b"ID3\x03\x00\x00\x00\x80"), Probe::Invalid);
    assert_eq!(id3_len(b"ID3\xFF"), Probe::Invalid);
    assert_eq!(id3_len(b"ID"), Probe::NeedMore);
    assert_eq!(id3_len(b"IE"), Probe::Invalid);
    // A large tag passes through as junk units of at most 64 KiB.
    let mut data = b"ID3\x03\x00\x00\x00\x08\x00\x00".to_vec(); // 128 KiB
    data.extend(std::iter::repeat_n(0xFF, 128 * 1024));
    data.extend(mp3_frames(2).concat());
    let units = split_every_way(Format::Mp3, &data);
    assert_eq!(
        sizes(&units),
        [
            (65_536, false),
            (65_536, false),
            (10, false),
            (418, true),
            (418, true)
        ]
    );
}

#[test]
fn false_syncs_are_junk() {
    // A valid header whose next header is not where it says.
    let mut data = vec![0xFF, 0xFB, 0x90, 0x64];
    data.extend([0; 500]);
    data.extend(mp3_frames(3).concat());
    let units = split_every_way(Format::Mp3, &data);
    assert_eq!(
        sizes(&units),
        [(504, false), (418, true), (418, true), (417, true)]
    );
    // Another stream's header does not confirm a frame.
    let data = [
        mp3::tests::mpeg2_l3(),
        mp3::tests::mpeg1_l3(false),
        mp3::tests::mpeg1_l3(false),
    ]
    .concat();
    let units = split_every_way(Format::Mp3, &data);
    assert_eq!(sizes(&units), [(208, false), (417, true), (417, true)]);
}

#[test]
fn junk_is_released_by_64k() {
    let data = vec![0_u8; 200_000];
    let mut framer = Framer::new(Format::Mp3);
    let mut out = Vec::new();
    framer.push(&data, &mut out);
    assert_eq!(sizes(&out), [(65_536, false); 3]);
    assert_eq!(framer.held(), 200_000 - 3 * 65_536);
    let last = framer.finish().expect("the rest");
    assert_eq!((last.bytes.len(), last.sync), (200_000 - 3 * 65_536, false));
}

#[test]
fn adts_frames_split() {
    let lens = [371, 380, 360, 402, 371, 8191, 12, 371];
    let frames: Vec<_> = lens.iter().map(|&n| adts::tests::stereo_44k(n)).collect();
    let data = frames.concat();
    let units = split_every_way(Format::Adts, &data);
    assert_eq!(units.len(), lens.len());
    for (u, f) in units.iter().zip(&frames) {
        assert_eq!(u.bytes, f[..]);
        assert!(u.sync);
        assert_eq!(u.duration, Some(Duration::from_nanos(23_219_954)));
    }
    let mut framer = Framer::new(Format::Adts);
    let mut out = Vec::new();
    framer.push(&frames[0], &mut out);
    framer.push(&frames[1][..7], &mut out);
    assert_eq!(out.len(), 1);
    // 371 bytes per 1024 samples at 44100 Hz.
    let info = framer.info().expect("info");
    assert_eq!((info.sample_rate, info.channels), (44_100, 2));
    let bitrate = info.bitrate.expect("bitrate");
    assert!((127_800..=127_830).contains(&bitrate), "{bitrate}");
    framer.push(&frames[1][7..], &mut out);
    framer.push(&frames[2..].concat(), &mut out);
    assert_eq!(out.len(), lens.len());
    let bitrate = framer.info().and_then(|i| i.bitrate).expect("bitrate");
    let expect = (lens.iter().sum::<usize>() * 8 * 44_100 / (1024 * lens.len())) as u32;
    assert!(bitrate.abs_diff(expect) < 10, "{bitrate} {expect}");
}

#[test]
fn adts_blocks_resync_and_finish() {
    let four = adts::tests::frame(3, 1, 4, 1000);
    let mut data = b"ID3\x04\x00\x00\x00\x00\x00\x05hello".to_vec();
    data.extend(four.repeat(2));
    data.extend([0xFF, 0xF1, 0x50, 0x80, 0x20, 0x1F, 0xFC, 1, 2, 3]);
    data.extend(four.repeat(2));
    let units = split_every_way(Format::Adts, &data);
    assert_eq!(
        sizes(&units),
        [
            (15, false),
            (1000, true),
            (1000, true),
            (10, false),
            (1000, true),
            (1000, true)
        ]
    );
    let d = Duration::from_nanos(4096 * 1_000_000_000 / 48_000);
    assert_eq!(total(&units), d * 4);
    let mut framer = Framer::new(Format::Adts);
    framer.push(&data, &mut Vec::new());
    assert_eq!(
        framer.info().map(|i| (i.sample_rate, i.channels)),
        Some((48_000, 1))
    );
}

/// A TS stream of `n` packets with a PCR every `every` packets.
fn ts_stream(n: usize, every: usize) -> Vec<u8> {
    (0..n)
        .flat_map(|i| {
            let pcr = (i % every == 0).then_some(i as u64 * 27_000);
            ts::tests::packet(256, i as u8, pcr)
        })
        .collect()
}

#[test]
fn ts_units_start_at_pcrs() {
    let data = ts_stream(40, 10);
    let mut framer = Framer::new(Format::Ts);
    let mut out = Vec::new();
    // The first packet waits for the next sync byte.
    framer.push(&data[..188], &mut out);
    assert!(out.is_empty());
    framer.push(&data[188..], &mut out);
    assert_eq!(framer.held(), 0);
    assert_eq!(sizes(&out), [(1880, true); 4]);
    let pcrs: Vec<_> = out.iter().map(|u| u.pcr).collect();
    assert_eq!(pcrs, [Some(0), Some(270_000), Some(540_000), Some(810_000)]);
    assert!(out.iter().all(|u| u.duration.is_none()));
    assert_eq!(framer.info(), None);
    let units = split_every_way(Format::Ts, &data);
    assert_eq!(units.iter().filter(|u| u.pcr.is_some()).count(), 4);
    assert!(units.iter().all(|u| u.sync && u.bytes.len() % 188 == 0));
    // Units end with each call, whatever the PCRs.
    let mut framer = Framer::new(Format::Ts);
    let mut out = Vec::new();
    framer.push(&data[..188 * 5 + 10], &mut out);
    assert_eq!(sizes(&out), [(940, true)]);
    framer.push(&data[188 * 5 + 10..188 * 15], &mut out);
    assert_eq!(sizes(&out), [(940, true), (940, true), (940, true)]);
    assert_eq!(out[1].pcr, None);
    assert_eq!(out[2].pcr, Some(270_000));
}

#[test]
fn ts_units_are_capped() {
    let data = ts_stream(1000, 2000);
    let units = split(Format::Ts, &data);
    let cap = UNIT_MAX / 188 * 188;
    assert_eq!(
        sizes(&units),
        [(cap, true), (cap, true), (1000 * 188 - 2 * cap, true)]
    );
    assert_eq!(units[0].pcr, Some(0));
    assert_eq!(units[1].pcr, None);
}

#[test]
fn ts_resync() {
    let packets = ts_stream(12, 3);
    let mut data = b"\x47junk".to_vec();
    data.extend_from_slice(&packets[..188 * 6]);
    data.extend_from_slice(&packets[188 * 6 + 100..]); // a torn packet
    let units = split_every_way(Format::Ts, &data);
    let s = sizes(&units);
    assert_eq!(s[0], (5, false));
    let junk: Vec<_> = s
        .iter()
        .filter(|(_, sync)| !sync)
        .map(|&(n, _)| n)
        .collect();
    assert_eq!(junk, [5, 88]);
    let pcrs: Vec<_> = units.iter().filter_map(|u| u.pcr).collect();
    assert_eq!(pcrs, [0, 81_000, 243_000]);
    // A whole last packet comes out at finish; a torn one as junk.
    let mut framer = Framer::new(Format::Ts);
    framer.push(&packets[..188], &mut Vec::new());
    let unit = framer.finish().expect("packet");
    assert_eq!(
        (unit.sync, unit.pcr, unit.bytes.len()),
        (true, Some(0), 188)
    );
    framer.push(&packets[..100], &mut Vec::new());
    let unit = framer.finish().expect("packet");
    assert_eq!((unit.sync, unit.pcr, unit.bytes.len()), (false, None, 100));
}

#[test]
fn other_passes_through() {
    let mut framer = Framer::new(Format::Other);
    let mut out = Vec::new();
    framer.push(b"", &mut out);
    framer.push(b"abc", &mut out);
    framer.push(b"de", &mut out);
    assert_eq!(sizes(&out), [(3, true), (2, true)]);
    assert!(framer.finish().is_none());
    assert_eq!(framer.info(), None);
}

/// What `ffmpeg` encodes of a 2-second sine with `args`, written to a
/// pipe or, with `ext`, to a (seekable) file. A test that needs it fails,
/// naming ffmpeg, when ffmpeg is missing or cannot encode: it never
/// passes without having run.
fn ffmpeg(args: &[&str], ext: Option<&str>) -> Vec<u8> {
    static RUNS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let file = ext.map(|ext| {
        let run = RUNS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let name = format!("httpout-live-media-{}-{run}.{ext}", std::process::id());
        std::env::temp_dir().join(name)
    });
    let out = std::process::Command::new("ffmpeg")
        .args([
            "-hide_banner",
            "-loglevel",
            "error",
            "-nostdin",
            "-f",
            "lavfi",
            "-i",
        ])
        .arg("sine=frequency=440:duration=2")
        .args(args)
        .arg(file.as_deref().map_or("-".as_ref(), |f| f.as_os_str()))
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap_or_else(|e| {
            panic!("this test needs ffmpeg (scripts/test.sh installs it): cannot run ffmpeg: {e}")
        });
    let data = match &file {
        Some(f) => {
            let data = std::fs::read(f);
            let _ = std::fs::remove_file(f);
            data.unwrap_or_default()
        }
        None => out.stdout,
    };
    assert!(
        out.status.success() && !data.is_empty(),
        "ffmpeg {args:?} made nothing ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    data
}

/// Real streams made by ffmpeg: (format, bytes).
fn real_streams() -> Vec<(Format, Vec<u8>)> {
    let mp3 = &["-c:a", "libmp3lame", "-b:a", "128k", "-f", "mp3", "-y"][..];
    [
        (Format::Mp3, mp3, None),
        // With a Xing/Info frame, which ffmpeg writes only when it can
        // seek back.
        (Format::Mp3, mp3, Some("mp3")),
        (Format::Adts, &["-c:a", "aac", "-f", "adts"][..], None),
        (Format::Ts, &["-f", "mpegts"][..], None),
    ]
    .into_iter()
    .map(|(f, args, ext)| (f, ffmpeg(args, ext)))
    .collect()
}

#[test]
fn real_streams_from_ffmpeg() {
    let mut infos = 0;
    for (format, data) in real_streams() {
        let units = split_every_way(format, &data);
        match format {
            Format::Mp3 | Format::Adts => {
                // An MP3 Xing/Info frame is a frame, of silence.
                let info_frame = |u: &&Unit| {
                    u.bytes
                        .get(..64)
                        .is_some_and(|b| b.windows(4).any(|w| w == b"Info" || w == b"Xing"))
                };
                let secs = total(&units).as_secs_f64()
                    - units
                        .iter()
                        .filter(info_frame)
                        .filter_map(|u| u.duration)
                        .sum::<Duration>()
                        .as_secs_f64();
                assert!((secs - 2.0).abs() < 0.06, "{format:?}: {secs} s");
                let mut framer = Framer::new(format);
                framer.push(&data, &mut Vec::new());
                let info = framer.info().expect("info");
                assert_eq!((info.sample_rate, info.channels), (44_100, 1), "{format:?}");
                let bitrate = info.bitrate.expect("bitrate");
                assert!(
                    (20_000..=200_000).contains(&bitrate),
                    "{format:?}: {bitrate}"
                );
                // Junk only in tags.
                let junk: usize = units
                    .iter()
                    .filter(|u| !u.sync)
                    .map(|u| u.bytes.len())
                    .sum();
                assert!(junk < 200, "{format:?}: {junk} bytes of junk");
            }
            _ => {
                assert!(units.iter().all(|u| u.sync && u.bytes.len() % 188 == 0));
                let pcrs: Vec<_> = units.iter().filter_map(|u| u.pcr).collect();
                assert!(pcrs.len() > 10, "{} PCRs", pcrs.len());
                assert!(pcrs.windows(2).all(|w| w[0] < w[1]), "{pcrs:?}");
                let span = (pcrs[pcrs.len() - 1] - pcrs[0]) as f64 / 27e6;
                assert!((1.0..2.5).contains(&span), "{span} s of PCR");
            }
        }
        if format == Format::Mp3 {
            assert!(!units[0].sync && units[0].bytes.starts_with(b"ID3"));
            assert!(units[1].sync);
            infos += usize::from(units[1].bytes.windows(4).any(|w| w == b"Info"));
        }
    }
    assert_eq!(infos, 1, "one MP3 has an Info frame");
}

#[test]
fn fuzz() {
    let mut lcg = Lcg(0x5EED);
    let noise = lcg.bytes(2 << 20);
    let mut inputs = vec![noise];
    // Made-up streams and real ones (ffmpeg is required, as above).
    let mut streams = vec![
        (Format::Mp3, mp3_frames(100).concat()),
        (
            Format::Adts,
            (0..100)
                .flat_map(|i| adts::tests::stereo_44k(300 + i))
                .collect(),
        ),
        (Format::Ts, ts_stream(300, 7)),
    ];
    streams.extend(real_streams());
    for (_, data) in &streams {
        for rate in [50, 500, 5000] {
            let mut m = data.clone();
            for _ in 0..m.len() / rate + 1 {
                let i = lcg.below(m.len());
                m[i] = lcg.next() as u8;
            }
            inputs.push(m);
        }
    }
    for data in &inputs {
        for format in [Format::Mp3, Format::Adts, Format::Ts, Format::Other] {
            let units = split_by(format, data, &mut || lcg.chunk());
            assert!(concat(&units) == *data, "{format:?}: bytes lost");
            assert!(units.iter().all(|u| !u.bytes.is_empty()));
            assert!(
                units
                    .iter()
                    .filter(|u| !u.sync)
                    .all(|u| u.duration.is_none() && u.pcr.is_none())
            );
        }
    }
    // Mutated streams still yield frames of their own format.
    for (format, data) in &streams {
        let mut m = data.clone();
        for _ in 0..m.len() / 500 {
            let i = lcg.below(m.len());
            m[i] ^= 0x5A;
        }
        let units = split_by(*format, &m, &mut || lcg.chunk());
        let sync = units.iter().filter(|u| u.sync).count();
        assert!(
            sync * 2 > units.len(),
            "{format:?}: {sync} of {}",
            units.len()
        );
    }
}

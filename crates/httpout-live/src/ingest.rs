//! From input bytes to published chunks: framing, pacing, batching.
//!
//! Every input — an `-i` file, FIFO or stdin, or an HTTP source client's
//! body — goes through a [`Publisher`]: the [`Framer`] cuts the bytes at
//! frame (MP3, ADTS) or packet (TS) boundaries so that a listener's burst
//! starts on one; with `rt`, the [`Pacer`] releases each frame at its media
//! time; frames released together become one chunk of the ring.
//!
//! Frames are batched: a chunk goes out when the batch time (`batch`,
//! 250 ms by default) has passed since its first frame came, or when it
//! reaches [`CHUNK_MAX`]. Each chunk is one wake-up and one write per
//! listener, and a write's cost is mostly the kernel's, whatever its size,
//! so batching is what keeps the cost per listener low (a 128 kbit/s MP3
//! source writes a 418-byte frame every 26 ms: 38 writes per listener per
//! second unbatched, 4 batched; see docs/benchmarks.md).

use std::time::Duration;

use tokio::time::Instant;

use crate::args::Amount;
use bytes::{Bytes, BytesMut};
use tokio::time::sleep_until;

use crate::hooks::{self, Dump, Event};
use crate::hub::Stream;
use crate::media::{Format, Framer, Unit};

/// A chunk is at most this long (a listener's burst is cut on chunk starts).
const CHUNK_MAX: usize = 16 * 1024;
/// PCR ticks per second.
const PCR_HZ: f64 = 27_000_000.0;
/// A PCR step larger than this (or backwards) is a discontinuity.
const PCR_JUMP: Duration = Duration::from_secs(5);

/// Releases frames at their media time (`rt`).
#[derive(Debug)]
pub(crate) struct Pacer {
    start: Option<Instant>,
    /// Media time of the next unit.
    media: Duration,
    /// Media time and value of the last PCR.
    last_pcr: Option<(Duration, u64)>,
    /// Bits per second for formats without timing.
    rate: Option<u64>,
}

impl Pacer {
    pub(crate) fn new(rate: Option<u64>) -> Self {
        Self {
            start: None,
            media: Duration::ZERO,
            last_pcr: None,
            rate,
        }
    }

    /// Moves the schedule `by` later (after `hold` paused the input).
    fn delay(&mut self, by: Duration) {
        if let Some(start) = &mut self.start {
            *start += by;
        }
    }

    /// When `unit` is due; `None` when nothing tells its time.
    fn due(&mut self, unit: &Unit) -> Option<Instant> {
        let start = *self.start.get_or_insert_with(Instant::now);
        if let Some(pcr) = unit.pcr {
            self.media = match self.last_pcr {
                Some((at, last)) => {
                    let step = Duration::from_secs_f64(pcr.saturating_sub(last) as f64 / PCR_HZ);
                    if pcr < last || step > PCR_JUMP {
                        at
                    } else {
                        at + step
                    }
                }
                None => self.media,
            };
            self.last_pcr = Some((self.media, pcr));
            return Some(start + self.media);
        }
        let due = start + self.media;
        if let Some(d) = unit.duration {
            self.media += d;
        } else if let Some(rate) = self.rate {
            self.media += Duration::from_secs_f64(unit.bytes.len() as f64 * 8.0 / rate as f64);
        } else if self.last_pcr.is_none() {
            return None;
        }
        Some(due)
    }
}

/// Feeds one stream.
#[derive(Debug)]
pub(crate) struct Publisher {
    stream: std::sync::Arc<Stream>,
    framer: Framer,
    pacer: Option<Pacer>,
    units: Vec<Unit>,
    pending: Vec<Unit>,
    pending_bytes: usize,
    /// When the first pending frame came (unpaced inputs).
    batch_since: Option<Instant>,
    /// Frames within this long of each other go out together.
    batch: Duration,
    keep: Amount,
    hold: bool,
    rate: Option<u64>,
    last_publish: Instant,
    /// Media time of the last PCR published (TS chunk durations).
    last_pcr: Option<u64>,
    /// Bytes and media time published, for the stream's byte rate.
    measured: (u64, Duration),
    /// The mount's record of what this source sent (`dump_file`).
    dump: Option<Dump>,
    /// The mount's `on_disconnect` program, run at [`Publisher::finish`].
    on_disconnect: Option<String>,
    /// The mount's `auth_url`, told `mount_remove` at the end.
    auth_url: Option<http::Uri>,
}

impl Publisher {
    pub(crate) fn new(
        stream: std::sync::Arc<Stream>,
        format: Format,
        pace: bool,
        config: &crate::LiveConfig,
    ) -> Self {
        let own = config.mount(stream.path());
        if let Some(program) = own.and_then(|m| m.on_connect.as_deref()) {
            hooks::run(program, stream.path(), Event::Connect);
        }
        let auth_url = own.and_then(|m| m.auth_url.clone());
        if let Some(url) = &auth_url {
            let form = vec![
                ("action", "mount_add".to_owned()),
                ("mount", stream.path().to_owned()),
            ];
            crate::auth_url::notify(url, form);
        }
        Self {
            dump: own
                .and_then(|m| m.dump.as_ref())
                .map(|spec| Dump::start(spec, stream.path())),
            on_disconnect: own.and_then(|m| m.on_disconnect.clone()),
            auth_url,
            keep: config.max_lag_at(stream.path()),
            stream,
            framer: Framer::new(format),
            pacer: pace.then(|| Pacer::new(config.rate)),
            units: Vec::new(),
            pending: Vec::new(),
            pending_bytes: 0,
            batch_since: None,
            batch: config.batch,
            hold: config.hold,
            rate: config.rate,
            last_publish: Instant::now(),
            last_pcr: None,
            measured: (0, Duration::ZERO),
        }
    }

    /// Frames `data` and publishes what is due.
    pub(crate) async fn write(&mut self, data: &[u8]) {
        let mut units = std::mem::take(&mut self.units);
        self.framer.push(data, &mut units);
        for unit in units.drain(..) {
            let due = self.pacer.as_mut().and_then(|p| p.due(&unit));
            if let Some(due) = due {
                // Frames due within a batch of now go out together: when
                // one is due later, send what is held and sleep until it is
                // due; it and those due within a batch after it make the
                // next chunk.
                if due > Instant::now() + self.batch {
                    self.flush().await;
                    sleep_until(due).await;
                }
            }
            self.pending_bytes += unit.bytes.len();
            self.pending.push(unit);
        }
        self.units = units;
        if self.pacer.is_none() && !self.pending.is_empty() {
            let since = *self.batch_since.get_or_insert_with(Instant::now);
            if self.pending_bytes >= CHUNK_MAX || since.elapsed() >= self.batch {
                self.flush().await;
            }
        }
    }

    /// When the pending batch of an unpaced input is due; the caller
    /// calls [`Publisher::flush`] then if no data came meanwhile.
    pub(crate) fn deadline(&self) -> Option<tokio::time::Instant> {
        self.batch_since.map(|t| t + self.batch)
    }

    /// Publishes what is held, at the end of the input. Of framed audio
    /// (MP3, ADTS) only whole frames: a truncated last frame (a source cut
    /// off mid-frame) would be a glitch to every listener, and would leave
    /// one that moves to a fallback next mid-frame.
    pub(crate) async fn finish(&mut self) {
        let framed = matches!(self.framer.format(), Format::Mp3 | Format::Adts);
        match self.framer.finish() {
            Some(unit) if framed && !unit.sync => {
                tracing::debug!(
                    target: "httpout::live",
                    "{}: {} bytes after the last whole frame dropped",
                    self.stream.path(),
                    unit.bytes.len()
                );
            }
            Some(unit) => self.pending.push(unit),
            None => {}
        }
        self.flush().await;
        // The record whole before `on_disconnect` runs (it may take it).
        if let Some(dump) = self.dump.take() {
            dump.close().await;
        }
        if let Some(program) = self.on_disconnect.take() {
            hooks::run(&program, self.stream.path(), Event::Disconnect);
        }
        if let Some(url) = self.auth_url.take() {
            let form = vec![
                ("action", "mount_remove".to_owned()),
                ("mount", self.stream.path().to_owned()),
            ];
            crate::auth_url::notify(&url, form);
        }
    }

    /// Publishes the pending units as chunks of at most [`CHUNK_MAX`].
    pub(crate) async fn flush(&mut self) {
        self.batch_since = None;
        self.pending_bytes = 0;
        if self.pending.is_empty() {
            return;
        }
        if self.hold && self.stream.listeners() == 0 {
            let paused = Instant::now();
            self.stream.wait_for_listener().await;
            if let Some(p) = &mut self.pacer {
                p.delay(paused.elapsed());
            }
        }
        let audio = self.framer.info();
        let pending = std::mem::take(&mut self.pending);
        let wall = self.last_publish.elapsed();
        self.last_publish = Instant::now();
        let total: usize = pending.iter().map(|u| u.bytes.len()).sum();
        let mut chunk = BytesMut::new();
        let mut sync = false;
        let mut time: Option<Duration> = None;
        for unit in pending {
            if !chunk.is_empty() && chunk.len() + unit.bytes.len() > CHUNK_MAX {
                let bytes = chunk.split().freeze();
                self.emit(bytes, sync, time, wall, total);
                time = None;
            }
            if chunk.is_empty() {
                sync = unit.sync;
            }
            chunk.extend_from_slice(&unit.bytes);
            if let Some(d) = unit.duration {
                time = Some(time.unwrap_or_default() + d);
            }
            if let Some(pcr) = unit.pcr {
                if let Some(last) = self.last_pcr.filter(|l| *l <= pcr) {
                    let step = Duration::from_secs_f64((pcr - last) as f64 / PCR_HZ);
                    if step <= PCR_JUMP {
                        time = Some(time.unwrap_or_default() + step);
                    }
                }
                self.last_pcr = Some(pcr);
            }
        }
        if !chunk.is_empty() {
            self.emit(chunk.freeze(), sync, time, wall, total);
        }
        if audio.is_some() {
            self.stream.update_facts(|f| f.audio = audio);
        }
    }

    /// Publishes one chunk; its duration is the media's, else one from
    /// `rate`, else its share of the wall time since the last publish.
    fn emit(
        &mut self,
        bytes: Bytes,
        sync: bool,
        media: Option<Duration>,
        wall: Duration,
        total: usize,
    ) {
        let len = bytes.len();
        let duration = media.unwrap_or_else(|| match self.rate {
            Some(rate) => Duration::from_secs_f64(len as f64 * 8.0 / rate as f64),
            None => wall.mul_f64(len as f64 / total.max(1) as f64),
        });
        self.measured.0 += len as u64;
        self.measured.1 += duration;
        if self.measured.1 >= Duration::from_secs(1) {
            let rate = (self.measured.0 as f64 / self.measured.1.as_secs_f64()) as u64;
            self.stream.update_facts(|f| f.byte_rate = Some(rate));
            self.measured = (0, Duration::ZERO);
        }
        if let Some(dump) = &self.dump {
            dump.record(&bytes);
        }
        self.stream.publish(bytes, sync, duration, self.keep);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit(len: usize, ms: Option<u64>, pcr: Option<u64>) -> Unit {
        Unit {
            bytes: Bytes::from(vec![0; len]),
            duration: ms.map(Duration::from_millis),
            pcr,
            sync: true,
        }
    }

    #[test]
    fn pacer_follows_frame_durations_pcr_and_rate() {
        let mut p = Pacer::new(None);
        let t0 = p.due(&unit(100, Some(26), None)).unwrap();
        let t1 = p.due(&unit(100, Some(26), None)).unwrap();
        assert_eq!(t1 - t0, Duration::from_millis(26));

        let mut p = Pacer::new(None);
        let a = p.due(&unit(188, None, Some(27_000_000))).unwrap();
        let b = p.due(&unit(188, None, None)).unwrap();
        let c = p
            .due(&unit(188, None, Some(27_000_000 + 13_500_000)))
            .unwrap();
        assert_eq!(b, a);
        assert_eq!(c - a, Duration::from_millis(500));
        // A PCR going backwards (a loop) continues from where it was.
        let d = p.due(&unit(188, None, Some(0))).unwrap();
        assert_eq!(d, c);

        let mut p = Pacer::new(Some(8000));
        let a = p.due(&unit(500, None, None)).unwrap();
        let b = p.due(&unit(500, None, None)).unwrap();
        assert_eq!(b - a, Duration::from_millis(500));
        assert!(Pacer::new(None).due(&unit(10, None, None)).is_none());
    }
}

/// Pacing and batching, without waiting in real time (issue 13).
///
/// The pacer and the batch timer read tokio's clock: these tests fix the
/// times they depend on (the pacer's start, when a batch began), and the
/// paced write runs under `start_paused`, where its sleeps take no real
/// time.
#[cfg(test)]
mod timing {
    use std::sync::Arc;

    use super::*;
    use crate::hub::{Facts, Hub};
    use crate::icy::StreamMeta;

    /// A 128 kbit/s, 44.1 kHz MP3 frame: 417 bytes, 1152 samples.
    const FRAME: usize = 417;
    const FRAME_TIME: Duration = Duration::from_nanos(1152 * 1_000_000_000 / 44_100);

    fn mp3(n: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(n * FRAME);
        for i in 0..n {
            out.extend_from_slice(&[0xFF, 0xFB, 0x90, 0x00]);
            out.extend(std::iter::repeat_n((i % 200) as u8, FRAME - 4));
        }
        out
    }

    fn publisher(pace: bool) -> (Arc<Stream>, Publisher) {
        let config = crate::LiveConfig {
            burst: Amount::Bytes(0),
            max_lag: Amount::Bytes(8 << 20),
            hold: false,
            reopen: false,
            ice: false,
            ice_values: Vec::new(),
            metaint: 0,
            title: None,
            source_password: None,
            admin: None,
            rt: pace,
            rate: None,
            mime: None,
            ext: None,
            source_timeout: None,
            batch: Duration::from_millis(250),
            mounts: Default::default(),
        };
        let hub = Hub::new();
        let facts = Facts::new("audio/mpeg".into(), StreamMeta::default(), None);
        let stream = hub.declare("/t.mp3", facts);
        let p = Publisher::new(Arc::clone(&stream), Format::Mp3, pace, &config);
        (stream, p)
    }

    /// The published chunks, in order.
    fn chunks(stream: &Stream) -> Vec<Bytes> {
        let rx = stream.subscribe();
        let ring = rx.borrow();
        let mut out = Vec::new();
        let mut cursor = ring.front();
        while let Some(b) = ring.read_from(cursor, 0) {
            cursor += b.len() as u64;
            out.push(b);
        }
        out
    }

    #[test]
    fn the_pacer_schedules_frames_at_media_time_from_its_start() {
        let mut p = Pacer::new(None);
        let t0 = Instant::now();
        p.start = Some(t0);
        let unit = |n: usize| Unit {
            bytes: Bytes::from(vec![0; n]),
            duration: Some(FRAME_TIME),
            pcr: None,
            sync: true,
        };
        for i in 0..10u32 {
            assert_eq!(p.due(&unit(FRAME)), Some(t0 + FRAME_TIME * i));
        }
        // `hold` paused the input for 3 s: the schedule moves with it.
        p.delay(Duration::from_secs(3));
        assert_eq!(
            p.due(&unit(FRAME)),
            Some(t0 + Duration::from_secs(3) + FRAME_TIME * 10)
        );
    }

    #[tokio::test]
    async fn unpaced_frames_wait_for_the_batch_time_or_a_full_chunk() {
        let (stream, mut p) = publisher(false);
        // A batch that began "later" never times out: only size flushes it.
        p.batch_since = Some(Instant::now() + Duration::from_secs(3600));
        p.write(&mp3(10)).await;
        assert!(
            chunks(&stream).is_empty(),
            "held: under the batch time and CHUNK_MAX"
        );
        assert!(p.deadline().is_some());
        p.write(&mp3(40)).await;
        let sizes: Vec<usize> = chunks(&stream).iter().map(Bytes::len).collect();
        assert!(!sizes.is_empty(), "a full chunk goes out at once");
        assert!(sizes.iter().all(|&n| n <= CHUNK_MAX), "{sizes:?}");
        // A batch that began BATCH ago goes out with the next write.
        let before = chunks(&stream).len();
        p.batch_since = Some(Instant::now() - p.batch);
        p.write(&mp3(1)).await;
        assert!(chunks(&stream).len() > before, "flushed on time");
        assert_eq!(p.deadline(), None);
        p.finish().await;
        let all: Vec<u8> = chunks(&stream).concat();
        // 10 + 40 + 1 frames; the framer holds the last until `finish`.
        assert_eq!(all.len(), 51 * FRAME);
    }

    #[tokio::test(start_paused = true)]
    async fn a_truncated_last_frame_is_not_published() {
        let (stream, mut p) = publisher(false);
        let mut data = mp3(5);
        data.extend_from_slice(&mp3(1)[..FRAME / 2]);
        p.write(&data).await;
        p.finish().await;
        assert_eq!(chunks(&stream).concat(), mp3(5));
    }

    #[tokio::test(start_paused = true)]
    async fn a_paced_input_is_published_whole_in_order_and_in_bounded_chunks() {
        let (stream, mut p) = publisher(true);
        let data = mp3(200); // 5.2 s of media
        let started = tokio::time::Instant::now();
        for piece in data.chunks(1000) {
            p.write(piece).await;
        }
        p.finish().await;
        assert!(
            started.elapsed() >= Duration::from_secs(2),
            "paced: the sleeps ran in virtual time ({:?})",
            started.elapsed()
        );
        let published = chunks(&stream);
        assert!(published.iter().all(|c| c.len() <= CHUNK_MAX));
        assert!(published.len() > 1, "released over time, not at once");
        assert_eq!(published.concat(), data);
    }
}

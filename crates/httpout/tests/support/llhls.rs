//! An LL-HLS packager for the tests, as a live encoder's packager works:
//! a fragmented MP4 (made by ffmpeg, `httpout_test::media::fragmented_mp4`)
//! is cut at its top-level boxes into the init segment (`ftyp`+`moov`) and
//! parts (one `moof`+`mdat` each), the parts grouped into segments at key
//! frames, and everything is published to the origin by HTTP PUT in real
//! time: each part when its media time has passed (`segN.partM.m4s`), each
//! segment once whole (`segN.m4s`), and after every part a new media
//! playlist (`live.m3u8`) as Apple's LL-HLS specification shows (RFC 8216bis
//! §4.4.4.9, appendix examples): `EXT-X-SERVER-CONTROL` with blocking
//! reload and skips, `EXT-X-PART-INF`, `EXT-X-PART` for the last segments,
//! and an `EXT-X-PRELOAD-HINT` for the next part.
//!
//! The origin sees what it sees from a real packager: a player asks for the
//! hinted part before it exists, and for playlists newer than the origin
//! has (`_HLS_msn`/`_HLS_part`), which an LL-HLS origin holds.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// A fragmented MP4 cut at its top-level boxes.
#[derive(Debug)]
pub(crate) struct Fmp4 {
    /// `ftyp` and `moov`: the init segment (`EXT-X-MAP`).
    pub(crate) init: Vec<u8>,
    /// The media timescale (`mdhd`), ticks per second.
    pub(crate) timescale: u32,
    /// Each `moof` with its `mdat`, in order.
    pub(crate) fragments: Vec<Fragment>,
}

/// One `moof`+`mdat`: an LL-HLS part.
#[derive(Debug, Clone)]
pub(crate) struct Fragment {
    /// The boxes as in the file.
    pub(crate) bytes: Vec<u8>,
    /// Its decode time (`tfdt`), in timescale ticks.
    pub(crate) start: u64,
    /// Until the next fragment's start (the last one: as long as the one
    /// before it), in ticks.
    pub(crate) duration: u64,
    /// Whether its first sample is a sync sample (a key frame): it starts a
    /// segment, and its part is `INDEPENDENT=YES`.
    pub(crate) independent: bool,
}

/// The top-level boxes of `bytes`: (type, whole box).
fn boxes(bytes: &[u8]) -> Vec<([u8; 4], &[u8])> {
    let mut out = Vec::new();
    let mut at = 0;
    while at + 8 <= bytes.len() {
        let size32 = u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap());
        let kind: [u8; 4] = bytes[at + 4..at + 8].try_into().unwrap();
        let size = match size32 {
            0 => bytes.len() - at,
            1 => {
                let large = u64::from_be_bytes(bytes[at + 8..at + 16].try_into().unwrap());
                usize::try_from(large).unwrap()
            }
            n => n as usize,
        };
        assert!(
            size >= 8 && at + size <= bytes.len(),
            "MP4 box {kind:?} at {at}"
        );
        out.push((kind, &bytes[at..at + size]));
        at += size;
    }
    out
}

/// The payload (after the header) of the box found by following `path`
/// from the boxes of `bytes`.
fn find<'a>(bytes: &'a [u8], path: &[&[u8; 4]]) -> Option<&'a [u8]> {
    let (first, rest) = path.split_first()?;
    let (_, whole) = boxes(bytes).into_iter().find(|(k, _)| k == *first)?;
    let payload = &whole[8..];
    if rest.is_empty() {
        Some(payload)
    } else {
        find(payload, rest)
    }
}

fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes(b[at..at + 4].try_into().unwrap())
}

fn be64(b: &[u8], at: usize) -> u64 {
    u64::from_be_bytes(b[at..at + 8].try_into().unwrap())
}

/// Whether sample flags (ISO/IEC 14496-12 §8.8.3.1) say a sync sample.
fn is_sync(flags: u32) -> bool {
    flags & 0x0001_0000 == 0
}

impl Fmp4 {
    /// Cuts `bytes`, a fragmented MP4 of one track; panics on anything
    /// else (the test made the file).
    pub(crate) fn parse(bytes: &[u8]) -> Self {
        let mut init = Vec::new();
        let mut fragments = Vec::new();
        let mut moof: Option<&[u8]> = None;
        for (kind, whole) in boxes(bytes) {
            match &kind {
                b"ftyp" | b"moov" => init.extend_from_slice(whole),
                b"moof" => moof = Some(whole),
                b"mdat" => {
                    let moof = moof.take().expect("an mdat after its moof");
                    let traf = find(&moof[8..], &[b"traf"]).expect("traf");
                    let tfdt = find(traf, &[b"tfdt"]).expect("tfdt");
                    let start = if tfdt[0] == 1 {
                        be64(tfdt, 4)
                    } else {
                        u64::from(be32(tfdt, 4))
                    };
                    let trun = find(traf, &[b"trun"]).expect("trun");
                    let flags = be32(trun, 0) & 0x00ff_ffff;
                    let first = if flags & 0x4 != 0 {
                        // After the sample count and the data offset.
                        Some(be32(trun, if flags & 0x1 != 0 { 12 } else { 8 }))
                    } else {
                        None
                    };
                    let tfhd = find(traf, &[b"tfhd"]).expect("tfhd");
                    let tf = be32(tfhd, 0) & 0x00ff_ffff;
                    let default = (tf & 0x20 != 0).then(|| {
                        let mut at = 8;
                        for (bit, len) in [(0x1, 8), (0x2, 4), (0x8, 4), (0x10, 4)] {
                            if tf & bit != 0 {
                                at += len;
                            }
                        }
                        be32(tfhd, at)
                    });
                    let mut bytes = moof.to_vec();
                    bytes.extend_from_slice(whole);
                    fragments.push(Fragment {
                        bytes,
                        start,
                        duration: 0,
                        independent: first.or(default).is_some_and(is_sync),
                    });
                }
                _ => {}
            }
        }
        let mdhd = find(&init, &[b"moov", b"trak", b"mdia", b"mdhd"]).expect("mdhd");
        let timescale = if mdhd[0] == 1 {
            be32(mdhd, 20)
        } else {
            be32(mdhd, 12)
        };
        for i in 0..fragments.len() {
            fragments[i].duration = match fragments.get(i + 1) {
                Some(next) => next.start - fragments[i].start,
                None if i > 0 => fragments[i - 1].duration,
                None => u64::from(timescale),
            };
        }
        assert!(!init.is_empty() && !fragments.is_empty(), "not an fMP4");
        assert!(fragments[0].independent, "the first part has no key frame");
        Self {
            init,
            timescale,
            fragments,
        }
    }

    /// Seconds of `ticks`.
    fn secs(&self, ticks: u64) -> f64 {
        ticks as f64 / f64::from(self.timescale)
    }
}

/// How the packager uploads a part.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Upload {
    /// One PUT with `Content-Length` once the part is complete (and the
    /// segment, once whole): a GET for the hinted part comes before it
    /// exists, so the origin must hold it (`--wait_new`, or an origin
    /// that holds GETs for the preload hint).
    Whole,
    /// As LL-HLS packagers do: a chunked PUT of the hinted part opened
    /// when it is hinted, its bytes sent when they are ready; likewise the
    /// segment's PUT is opened with its first part and gets each part in
    /// turn. The origin serves both from the live edge meanwhile.
    Streamed,
}

/// What the packager publishes.
#[derive(Debug, Clone)]
pub(crate) struct Options {
    /// `127.0.0.1:PORT` of the origin.
    pub(crate) host: String,
    /// The URL path of the directory (`/live`): files go to `DIR/NAME`.
    pub(crate) dir: String,
    /// Segments in the playlist's sliding window.
    pub(crate) window: usize,
    /// Complete segments whose parts are listed too (the spec recommends
    /// removing parts older than three target durations).
    pub(crate) part_segments: usize,
    /// Media published at once at the start, as from a stream that was
    /// already running (the player need not wait for a first window).
    pub(crate) backlog: Duration,
    /// How parts are uploaded.
    pub(crate) upload: Upload,
}

/// What the packager did.
#[derive(Debug, Default, Clone)]
pub(crate) struct Stats {
    /// Parts, segments and playlists uploaded.
    pub(crate) parts: usize,
    pub(crate) segments: usize,
    pub(crate) playlists: usize,
    /// How late, at worst, a part was released after its media time (the
    /// backlog, released at once, aside).
    pub(crate) worst_lateness: Duration,
    /// The uploads that failed (the first few).
    pub(crate) errors: Vec<String>,
}

/// The packager running on its thread; stopped when dropped.
#[derive(Debug)]
pub(crate) struct Publisher {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<Stats>>,
}

impl Publisher {
    /// Publishes `media` with `options` in real time on a thread, until
    /// its end (then the playlist gets `EXT-X-ENDLIST`) or [`Self::finish`].
    pub(crate) fn start(media: Fmp4, options: Options) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = std::thread::spawn(move || publish(&media, &options, &flag));
        Self {
            stop,
            thread: Some(thread),
        }
    }

    /// Stops publishing (at the next part) and returns what it did.
    pub(crate) fn finish(mut self) -> Stats {
        self.stop.store(true, Ordering::Relaxed);
        self.thread
            .take()
            .expect("not finished yet")
            .join()
            .expect("the packager thread")
    }
}

impl Drop for Publisher {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// An HTTP/1.1 PUT on its own connection (`Connection: close`), bounded
/// in time.
struct Put {
    stream: TcpStream,
    chunked: bool,
    what: String,
}

impl Put {
    /// Sends the request head: a chunked body (`len` `None`) or one of
    /// `len` bytes.
    fn open(host: &str, path: &str, len: Option<usize>) -> Result<Self, String> {
        let what = format!("PUT {path}");
        let stream = TcpStream::connect(host).map_err(|e| format!("{what}: {e}"))?;
        stream
            .set_write_timeout(Some(Duration::from_secs(10)))
            .and_then(|()| stream.set_read_timeout(Some(Duration::from_secs(10))))
            .map_err(|e| format!("{what}: {e}"))?;
        let _ = stream.set_nodelay(true);
        let length = match len {
            Some(n) => format!("Content-Length: {n}"),
            None => "Transfer-Encoding: chunked".to_owned(),
        };
        let mut put = Self {
            stream,
            chunked: len.is_none(),
            what,
        };
        let head =
            format!("PUT {path} HTTP/1.1\r\nHost: {host}\r\n{length}\r\nConnection: close\r\n\r\n");
        put.write(head.as_bytes())?;
        Ok(put)
    }

    fn write(&mut self, bytes: &[u8]) -> Result<(), String> {
        self.stream
            .write_all(bytes)
            .map_err(|e| format!("{}: {e}", self.what))
    }

    /// Sends `bytes` of the body (one chunk when chunked).
    fn send(&mut self, bytes: &[u8]) -> Result<(), String> {
        if self.chunked {
            if bytes.is_empty() {
                return Ok(());
            }
            self.write(format!("{:x}\r\n", bytes.len()).as_bytes())?;
            self.write(bytes)?;
            self.write(b"\r\n")
        } else {
            self.write(bytes)
        }
    }

    /// Ends the body and reads the answer: `Ok` for a 2xx.
    fn finish(mut self) -> Result<(), String> {
        if self.chunked {
            self.write(b"0\r\n\r\n")?;
        }
        let mut head = Vec::new();
        let mut buf = [0u8; 1024];
        while !head.windows(4).any(|w| w == b"\r\n\r\n") {
            match self.stream.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => head.extend_from_slice(&buf[..n]),
                Err(e) => return Err(format!("{}: {e}", self.what)),
            }
        }
        let head = String::from_utf8_lossy(&head);
        let status = head.split(' ').nth(1).unwrap_or("");
        if status.starts_with('2') {
            Ok(())
        } else {
            Err(format!(
                "{}: {}",
                self.what,
                head.lines().next().unwrap_or("")
            ))
        }
    }
}

/// One whole PUT of `body`.
fn put(host: &str, path: &str, body: &[u8]) -> Result<(), String> {
    let mut put = Put::open(host, path, Some(body.len()))?;
    put.send(body)?;
    put.finish()
}

/// A part as the playlist lists it.
#[derive(Debug, Clone)]
struct PartEntry {
    uri: String,
    duration: f64,
    independent: bool,
}

/// A segment as the playlist lists it.
#[derive(Debug, Clone)]
struct SegmentEntry {
    msn: u64,
    /// Its first media time, as wall-clock milliseconds since the epoch.
    pdt_ms: u128,
    duration: f64,
    parts: Vec<PartEntry>,
}

/// `YYYY-MM-DDTHH:MM:SS.mmmZ` of `ms` milliseconds since the epoch.
pub(crate) fn rfc3339(ms: u128) -> String {
    let secs = u64::try_from(ms / 1000).unwrap();
    let days = i64::try_from(secs / 86_400).unwrap();
    let rem = secs % 86_400;
    // Days to civil date (H. Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60,
        ms % 1000
    )
}

/// The media playlist: the last `window` complete segments (parts for the
/// last `part_segments` of them), the parts of the segment in progress,
/// and the hint for `next` (none at the end, which gets `EXT-X-ENDLIST`).
fn playlist(
    done: &[SegmentEntry],
    current: &SegmentEntry,
    options: &Options,
    next: Option<&str>,
) -> String {
    let mut m3u8 = String::from(
        "#EXTM3U\n#EXT-X-VERSION:9\n#EXT-X-TARGETDURATION:1\n\
         #EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=0.6,CAN-SKIP-UNTIL=6.0\n\
         #EXT-X-PART-INF:PART-TARGET=0.2\n",
    );
    let shown = &done[done.len().saturating_sub(options.window)..];
    let first = shown.first().unwrap_or(current).msn;
    m3u8.push_str(&format!(
        "#EXT-X-MEDIA-SEQUENCE:{first}\n#EXT-X-MAP:URI=\"init.mp4\"\n"
    ));
    let with_parts = shown.len().saturating_sub(options.part_segments);
    let segment = |m3u8: &mut String, s: &SegmentEntry, parts: bool| {
        m3u8.push_str(&format!("#EXT-X-PROGRAM-DATE-TIME:{}\n", rfc3339(s.pdt_ms)));
        if parts {
            for p in &s.parts {
                m3u8.push_str(&format!(
                    "#EXT-X-PART:DURATION={:.3},URI=\"{}\"{}\n",
                    p.duration,
                    p.uri,
                    if p.independent {
                        ",INDEPENDENT=YES"
                    } else {
                        ""
                    }
                ));
            }
        }
    };
    for (i, s) in shown.iter().enumerate() {
        segment(&mut m3u8, s, i >= with_parts);
        m3u8.push_str(&format!("#EXTINF:{:.3},\nseg{}.m4s\n", s.duration, s.msn));
    }
    if !current.parts.is_empty() {
        segment(&mut m3u8, current, true);
    }
    match next {
        Some(uri) => m3u8.push_str(&format!("#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"{uri}\"\n")),
        None => m3u8.push_str("#EXT-X-ENDLIST\n"),
    }
    m3u8
}

/// The packager's loop (see the module's documentation).
fn publish(media: &Fmp4, options: &Options, stop: &AtomicBool) -> Stats {
    let mut stats = Stats::default();
    let fail = |stats: &mut Stats, e: String| {
        if stats.errors.len() < 10 {
            stats.errors.push(e);
        }
    };
    let path = |name: &str| format!("{}/{name}", options.dir);
    if let Err(e) = put(&options.host, &path("init.mp4"), &media.init) {
        fail(&mut stats, e);
        return stats;
    }
    // The media's first instant, as a monotonic and as a wall-clock time.
    let started = Instant::now();
    let t0 = started - options.backlog;
    let wall0 = SystemTime::now().duration_since(UNIX_EPOCH).unwrap() - options.backlog;
    let origin = media.fragments[0].start;
    let wall_ms = |ticks: u64| wall0.as_millis() + (media.secs(ticks - origin) * 1000.0) as u128;
    // The names of the parts, in order: (msn, part index).
    let mut names = Vec::with_capacity(media.fragments.len());
    let (mut msn, mut index) = (0u64, 0usize);
    for (i, f) in media.fragments.iter().enumerate() {
        if i > 0 && f.independent {
            msn += 1;
            index = 0;
        }
        names.push((msn, index));
        index += 1;
    }
    let part_name = |i: usize| format!("seg{}.part{}.m4s", names[i].0, names[i].1);
    let last_of_segment = |i: usize| {
        media
            .fragments
            .get(i + 1)
            .is_none_or(|next| next.independent)
    };
    let mut done: Vec<SegmentEntry> = Vec::new();
    let mut current = SegmentEntry {
        msn: 0,
        pdt_ms: wall_ms(origin),
        duration: 0.0,
        parts: Vec::new(),
    };
    // Streamed uploads open ahead of their bytes.
    let mut part_put: Option<Put> = None;
    let mut segment_put: Option<Put> = None;
    let open = |name: &str| Put::open(&options.host, &path(name), None);
    if options.upload == Upload::Streamed {
        segment_put = open("seg0.m4s").map_err(|e| fail(&mut stats, e)).ok();
        part_put = open(&part_name(0)).map_err(|e| fail(&mut stats, e)).ok();
    }
    for (i, f) in media.fragments.iter().enumerate() {
        let release = t0 + Duration::from_secs_f64(media.secs(f.start + f.duration - origin));
        while Instant::now() < release {
            if stop.load(Ordering::Relaxed) {
                return stats;
            }
            std::thread::sleep((release - Instant::now()).min(Duration::from_millis(50)));
        }
        if stop.load(Ordering::Relaxed) {
            return stats;
        }
        if release > started {
            stats.worst_lateness = stats.worst_lateness.max(Instant::now() - release);
        }
        let name = part_name(i);
        let end = last_of_segment(i);
        // The part, then the segment once whole.
        let sent = match part_put.take() {
            Some(mut p) => p.send(&f.bytes).and_then(|()| p.finish()),
            None => put(&options.host, &path(&name), &f.bytes),
        };
        match sent {
            Ok(()) => stats.parts += 1,
            Err(e) => fail(&mut stats, e),
        }
        current.parts.push(PartEntry {
            uri: name,
            duration: media.secs(f.duration),
            independent: f.independent,
        });
        current.duration += media.secs(f.duration);
        if let Some(s) = segment_put.as_mut() {
            if let Err(e) = s.send(&f.bytes) {
                fail(&mut stats, e);
            }
        }
        if end {
            let sent = match segment_put.take() {
                Some(s) => s.finish(),
                None => {
                    let first = i + 1 - current.parts.len();
                    let whole: Vec<u8> = media.fragments[first..=i]
                        .iter()
                        .flat_map(|f| f.bytes.iter().copied())
                        .collect();
                    put(
                        &options.host,
                        &path(&format!("seg{}.m4s", current.msn)),
                        &whole,
                    )
                }
            };
            match sent {
                Ok(()) => stats.segments += 1,
                Err(e) => fail(&mut stats, e),
            }
            let next_msn = current.msn + 1;
            let next_pdt = media
                .fragments
                .get(i + 1)
                .map_or(current.pdt_ms, |n| wall_ms(n.start));
            done.push(std::mem::replace(
                &mut current,
                SegmentEntry {
                    msn: next_msn,
                    pdt_ms: next_pdt,
                    duration: 0.0,
                    parts: Vec::new(),
                },
            ));
        }
        // The next part's upload opens before the playlist hints it.
        let next = (i + 1 < media.fragments.len()).then(|| part_name(i + 1));
        if let (Some(next), Upload::Streamed) = (&next, options.upload) {
            if end {
                segment_put = open(&format!("seg{}.m4s", current.msn))
                    .map_err(|e| fail(&mut stats, e))
                    .ok();
            }
            part_put = open(next).map_err(|e| fail(&mut stats, e)).ok();
        }
        let m3u8 = playlist(&done, &current, options, next.as_deref());
        match put(&options.host, &path("live.m3u8"), m3u8.as_bytes()) {
            Ok(()) => stats.playlists += 1,
            Err(e) => fail(&mut stats, e),
        }
    }
    stats
}

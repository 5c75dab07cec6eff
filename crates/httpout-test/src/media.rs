//! The ffmpeg and ffprobe command lines the tests use, one function per
//! kind: tone generators, a live source client, a low-latency DASH
//! packager, decoders and probes. A missing tool fails the test with a
//! message naming it (`scripts/test.sh` installs ffmpeg, which brings
//! ffprobe); every run is bounded in time; a tool left running in the
//! background is killed when its [`Job`] is dropped.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How long a tool run to its end ([`decode`], [`probe`], the tones...) may
/// take.
pub const TOOL_LIMIT: Duration = Duration::from_secs(30);

/// `ffmpeg` or `ffprobe`, quiet but for errors, never reading stdin.
fn tool(name: &'static str) -> Command {
    let mut cmd = Command::new(name);
    cmd.stdin(Stdio::null());
    if name == "ffmpeg" {
        cmd.args(["-hide_banner", "-nostdin", "-loglevel", "error"]);
    } else {
        cmd.args(["-v", "error"]);
    }
    cmd
}

/// Reads a pipe to its end on a thread.
fn drain(pipe: Option<impl Read + Send + 'static>) -> Option<JoinHandle<Vec<u8>>> {
    pipe.map(|mut pipe| {
        std::thread::spawn(move || {
            let mut all = Vec::new();
            let _ = pipe.read_to_end(&mut all);
            all
        })
    })
}

/// A tool running in the background: what it writes is kept, and it is
/// killed (and reaped) when dropped.
#[derive(Debug)]
pub struct Job {
    name: &'static str,
    child: Child,
    stdout: Option<JoinHandle<Vec<u8>>>,
    stderr: Option<JoinHandle<Vec<u8>>>,
}

impl Job {
    /// Starts `cmd` (made by [`tool`]) with its output piped; panics, naming
    /// the tool, when it cannot run.
    fn start(name: &'static str, cmd: &mut Command) -> Self {
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("{name} cannot run ({e}): is it installed? (scripts/test.sh installs it)")
            });
        let stdout = drain(child.stdout.take());
        let stderr = drain(child.stderr.take());
        Self {
            name,
            child,
            stdout,
            stderr,
        }
    }

    /// The process id (for signals).
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// Waits for the tool to exit, at most `limit` (past it, kills it and
    /// panics naming it): its exit status, standard output and error.
    pub fn wait(&mut self, limit: Duration) -> (ExitStatus, String, String) {
        let deadline = Instant::now() + limit;
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("wait for a tool") {
                break status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!("{} did not finish within {limit:?}", self.name);
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let text = |pipe: Option<JoinHandle<Vec<u8>>>| {
            let bytes = pipe.map(|t| t.join().unwrap_or_default());
            String::from_utf8_lossy(&bytes.unwrap_or_default()).into_owned()
        };
        (status, text(self.stdout.take()), text(self.stderr.take()))
    }

    /// Waits (at most `limit`) for a clean end: standard output, or what
    /// went wrong (a failure, or any message on standard error).
    pub fn finish(&mut self, limit: Duration) -> Result<String, String> {
        let (status, out, err) = self.wait(limit);
        if status.success() && err.trim().is_empty() {
            Ok(out)
        } else {
            Err(format!("{} ({status}): {}", self.name, err.trim()))
        }
    }
}

impl Drop for Job {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `cmd` (a [`tool`] `name`) to a clean end (bounded by
/// [`TOOL_LIMIT`]): its standard output, or what went wrong.
fn run(name: &'static str, cmd: &mut Command) -> Result<String, String> {
    Job::start(name, cmd).finish(TOOL_LIMIT)
}

/// ffmpeg encoding `secs` seconds of a 440 Hz sine, 44.1 kHz, with the
/// `codec` options, then `extra` ones, into `output`.
fn tone(secs: u32, codec: &[&str], extra: &[&str], output: &OsStr) -> Result<String, String> {
    let mut cmd = tool("ffmpeg");
    cmd.args(["-y", "-f", "lavfi", "-i"])
        .arg(format!("sine=frequency=440:duration={secs}"))
        .args(["-ar", "44100"])
        .args(codec)
        .args(extra)
        .arg(output);
    run("ffmpeg", &mut cmd)
}

/// The MP3 options of the tones, at `rate` (`128k`).
fn mp3(rate: &str) -> [&str; 6] {
    ["-c:a", "libmp3lame", "-b:a", rate, "-f", "mp3"]
}

/// Makes `dir/name`, an MP3 of `secs` seconds of a 440 Hz sine at `kbps`
/// kbit/s (44.1 kHz), with ffmpeg.
pub fn mp3_tone(dir: &Path, name: &str, secs: u32, kbps: u32) -> PathBuf {
    let path = dir.join(name);
    let rate = format!("{kbps}k");
    tone(secs, &mp3(&rate), &[], path.as_os_str())
        .unwrap_or_else(|e| panic!("making {}: {e}", path.display()));
    path
}

/// Makes `dir/name`, an AAC stream in ADTS of `secs` seconds of a 440 Hz
/// sine at `kbps` kbit/s (44.1 kHz), with ffmpeg.
pub fn aac_tone(dir: &Path, name: &str, secs: u32, kbps: u32) -> PathBuf {
    let path = dir.join(name);
    let rate = format!("{kbps}k");
    let codec = ["-c:a", "aac", "-b:a", &rate, "-f", "adts"];
    tone(secs, &codec, &[], path.as_os_str())
        .unwrap_or_else(|e| panic!("making {}: {e}", path.display()));
    path
}

/// ffmpeg encoding the tone of [`mp3_tone`] and uploading it, as it
/// encodes, to `url` with one PUT; panics with what ffmpeg said if it fails.
pub fn put_mp3_tone(url: &str, secs: u32, kbps: u32) {
    let rate = format!("{kbps}k");
    tone(secs, &mp3(&rate), &["-method", "PUT"], OsStr::new(url))
        .unwrap_or_else(|e| panic!("PUT of a tone to {url}: {e}"));
}

/// ffmpeg as a live source client: the MP3 file `input` sent unchanged at
/// its media rate (`-re`) as `audio/mpeg` to `output`, the protocol's
/// options and its URL (`icecast://source:PASS@HOST/mount`, or `-method
/// PUT` and an `http://` URL).
pub fn mp3_source(input: &Path, output: &[&str]) -> Job {
    let mut cmd = tool("ffmpeg");
    cmd.arg("-re")
        .arg("-i")
        .arg(input)
        .args(["-c", "copy", "-f", "mp3", "-content_type", "audio/mpeg"])
        .args(output);
    Job::start("ffmpeg", &mut cmd)
}

/// ffmpeg packaging `secs` seconds of a 320x240, 25 fps test pattern
/// (H.264, a key frame every second) as low-latency DASH, at the media
/// rate, as a live packager does: `segment`-second segments written
/// fragment by fragment (`-streaming 1 -ldash 1`, each as `NAME.tmp`
/// renamed when complete on disk), numbered templates, five segments in
/// the manifest; then `extra` options (`-method PUT`) and `output`, a local
/// `live.mpd` or its URL.
pub fn ll_dash(secs: u32, segment: u32, extra: &[&str], output: impl AsRef<OsStr>) -> Job {
    let mut cmd = tool("ffmpeg");
    cmd.args(["-re", "-f", "lavfi", "-i", "testsrc=size=320x240:rate=25"])
        .args(["-t", &secs.to_string()])
        .args([
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-tune",
            "zerolatency",
        ])
        .args([
            "-g",
            "25",
            "-f",
            "dash",
            "-seg_duration",
            &segment.to_string(),
        ])
        .args(["-streaming", "1", "-ldash", "1"])
        .args([
            "-use_template",
            "1",
            "-use_timeline",
            "0",
            "-window_size",
            "5",
        ])
        .args(extra)
        .arg(output);
    Job::start("ffmpeg", &mut cmd)
}

/// ffmpeg packaging `secs` seconds of the same test pattern as HLS at the
/// media rate: one-second fMP4 segments, five in the media playlist, then
/// `extra` options (`-method PUT`) and `output`, a local `live.m3u8` or
/// its URL.
pub fn hls(secs: u32, extra: &[&str], output: impl AsRef<OsStr>) -> Job {
    let mut cmd = tool("ffmpeg");
    cmd.args(["-re", "-f", "lavfi", "-i", "testsrc=size=320x240:rate=25"])
        .args(["-t", &secs.to_string()])
        .args([
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-tune",
            "zerolatency",
        ])
        .args([
            "-g",
            "25",
            "-f",
            "hls",
            "-hls_time",
            "1",
            "-hls_list_size",
            "5",
        ])
        .args(["-hls_segment_type", "fmp4"])
        .args(extra)
        .arg(output);
    Job::start("ffmpeg", &mut cmd)
}

/// ffmpeg decodes `input` (a file or a URL), only its first `secs` seconds
/// when given: `Ok`, or what ffmpeg reported (any message is a failure).
pub fn decode(input: impl AsRef<OsStr>, secs: Option<u32>) -> Result<(), String> {
    let mut cmd = tool("ffmpeg");
    cmd.arg("-i").arg(input);
    if let Some(secs) = secs {
        cmd.args(["-t", &secs.to_string()]);
    }
    cmd.args(["-f", "null", "-"]);
    run("ffmpeg", &mut cmd).map(drop)
}

/// ffprobe's `-show_entries ENTRIES` of `input` (a file or a URL, read as a
/// player reads it), one `key=value` a line (tags as `TAG:key=value`); or
/// what ffprobe reported (any message is a failure).
pub fn probe(input: impl AsRef<OsStr>, entries: &str) -> Result<String, String> {
    let mut cmd = tool("ffprobe");
    cmd.args(["-show_entries", entries, "-of", "default=nw=1"])
        .arg(input);
    run("ffprobe", &mut cmd)
}

/// The value of `key` in [`probe`]'s answer.
pub fn field<'a>(probed: &'a str, key: &str) -> Option<&'a str> {
    probed
        .lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix('='))
}

/// Decodes all of the file `path`: ffprobe finds one stream of `codec`, and
/// ffmpeg decodes it without a message. Its duration in seconds, or what
/// went wrong.
pub fn decode_seconds(path: &Path, codec: &str) -> Result<f64, String> {
    let probed = probe(path, "stream=codec_name:format=duration")?;
    if field(&probed, "codec_name") != Some(codec) {
        return Err(format!("ffprobe found no {codec} stream: {probed}"));
    }
    decode(path, None)?;
    field(&probed, "duration")
        .and_then(|d| d.parse().ok())
        .ok_or_else(|| format!("ffprobe gave no duration: {probed}"))
}

/// The format tags ffprobe reads at `url` as a player does (it asks for
/// ICY metadata): an Icecast stream's `icy-*` headers and its in-band
/// `StreamTitle`. Panics with what ffprobe said if it fails.
pub fn probe_tags(url: &str) -> BTreeMap<String, String> {
    let probed = probe(url, "format_tags").unwrap_or_else(|e| panic!("probing {url}: {e}"));
    probed
        .lines()
        .filter_map(|l| l.strip_prefix("TAG:")?.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

/// Makes `dir/name`, `secs` seconds of a 640x360, 25 fps test pattern
/// (H.264, a key frame every second exactly: `-g 25`, no scene-cut key
/// frames) as a fragmented MP4 of 200 ms fragments: `ftyp` and an empty
/// `moov` (the init segment), then one `moof`+`mdat` per five frames, each
/// fragment starting a second with its key frame. What an LL-HLS packager
/// cuts into parts (see the tests' `support/llhls.rs`).
pub fn fragmented_mp4(dir: &Path, name: &str, secs: u32) -> PathBuf {
    let path = dir.join(name);
    let mut cmd = tool("ffmpeg");
    cmd.args(["-y", "-f", "lavfi", "-i", "testsrc=size=640x360:rate=25"])
        .args(["-t", &secs.to_string()])
        .args([
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-tune",
            "zerolatency",
        ])
        .args([
            "-pix_fmt",
            "yuv420p",
            "-g",
            "25",
            "-keyint_min",
            "25",
            "-sc_threshold",
            "0",
        ])
        .args([
            "-movflags",
            "+frag_keyframe+empty_moov+default_base_moof",
            "-frag_duration",
            "200000",
            "-f",
            "mp4",
        ])
        .arg(&path);
    run("ffmpeg", &mut cmd).unwrap_or_else(|e| panic!("making {}: {e}", path.display()));
    path
}

//! What a mount does when a source comes and goes: its `on_connect` and
//! `on_disconnect` programs, run as Icecast runs them (the program, with
//! the mount as its one argument, no shell), and its `dump_file`, a record
//! of what the source sent.
//!
//! Programs are not waited for: each runs at most [`HOOK_LIMIT`] (then it
//! is killed), at most [`MAX_RUNNING`] at once (more are skipped and
//! logged), with `HTTPOUT_MOUNT` and `HTTPOUT_EVENT` in its environment.

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use tokio::io::AsyncWriteExt as _;
use tokio::sync::mpsc;

use crate::utc::Utc;

/// How long a hook program may run.
pub(crate) const HOOK_LIMIT: Duration = Duration::from_secs(60);
/// Hook programs running at once, at most.
const MAX_RUNNING: usize = 16;
/// Chunks waiting for a slow disk before a dump drops them.
const DUMP_QUEUE: usize = 256;

static RUNNING: AtomicUsize = AtomicUsize::new(0);

/// A source's arrival or departure.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Event {
    Connect,
    Disconnect,
}

/// Runs `program MOUNT` for `event`, in the background.
pub(crate) fn run(program: &str, mount: &str, event: Event) {
    if RUNNING.fetch_add(1, Ordering::AcqRel) >= MAX_RUNNING {
        RUNNING.fetch_sub(1, Ordering::AcqRel);
        tracing::warn!(
            target: "httpout::live",
            "{mount}: {program} not run: {MAX_RUNNING} hook programs already running"
        );
        return;
    }
    let name = match event {
        Event::Connect => "connect",
        Event::Disconnect => "disconnect",
    };
    let spawned = tokio::process::Command::new(program)
        .arg(mount)
        .env("HTTPOUT_MOUNT", mount)
        .env("HTTPOUT_EVENT", name)
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn();
    let (program, mount) = (program.to_owned(), mount.to_owned());
    match spawned {
        Ok(mut child) => {
            tokio::spawn(async move {
                match tokio::time::timeout(HOOK_LIMIT, child.wait()).await {
                    Ok(Ok(status)) if status.success() => {}
                    Ok(Ok(status)) => tracing::warn!(
                        target: "httpout::live",
                        "{mount}: on_{name} {program} ended with {status}"
                    ),
                    Ok(Err(e)) => {
                        tracing::warn!(target: "httpout::live", "{mount}: on_{name} {program}: {e}")
                    }
                    Err(_) => tracing::warn!(
                        target: "httpout::live",
                        "{mount}: on_{name} {program} still running after {HOOK_LIMIT:?}, killed"
                    ),
                }
                RUNNING.fetch_sub(1, Ordering::AcqRel);
            });
        }
        Err(e) => {
            RUNNING.fetch_sub(1, Ordering::AcqRel);
            tracing::warn!(target: "httpout::live", "{mount}: cannot run on_{name} {program}: {e}");
        }
    }
}

/// How a mount's dump is written: a path template, and when to start a new
/// file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DumpSpec {
    /// The file name; `%Y %m %d %H %M %S` are the UTC time the file is
    /// opened.
    pub template: String,
    /// A new file once this many bytes are written.
    pub max_bytes: Option<u64>,
    /// A new file after this long.
    pub every: Option<Duration>,
}

impl DumpSpec {
    /// Parses `PATH[,max=SIZE][,every=DURATION]` (`every` in `s`, `m`,
    /// `h`).
    pub fn parse(v: &str) -> Result<Self, String> {
        let mut parts = v.split(',');
        let template = parts.next().unwrap_or_default().to_owned();
        if template.is_empty() || template.ends_with('/') {
            return Err(format!("'{v}': expected PATH[,max=SIZE][,every=DURATION]"));
        }
        let mut spec = Self {
            template,
            max_bytes: None,
            every: None,
        };
        for part in parts {
            match part.split_once('=') {
                Some(("max", size)) => {
                    let n = httpout_core::options::value::parse_size(size)
                        .map_err(|_| format!("max: '{size}' is not a size (e.g. 100M)"))?;
                    spec.max_bytes = Some(n.max(1));
                }
                Some(("every", d)) => spec.every = Some(parse_duration(d)?),
                _ => return Err(format!("'{part}': expected max=SIZE or every=DURATION")),
            }
        }
        Ok(spec)
    }

    /// The file name for a file opened at `at`.
    fn name(&self, at: SystemTime) -> PathBuf {
        let t = Utc::from(at);
        let name = self
            .template
            .replace("%Y", &t.year.to_string())
            .replace("%m", &format!("{:02}", t.month))
            .replace("%d", &format!("{:02}", t.day))
            .replace("%H", &format!("{:02}", t.hour))
            .replace("%M", &format!("{:02}", t.minute))
            .replace("%S", &format!("{:02}", t.second));
        PathBuf::from(name)
    }
}

fn parse_duration(d: &str) -> Result<Duration, String> {
    let bad = || format!("every: '{d}' is not a duration (e.g. 30m, 1h)");
    let (n, unit) = [("s", 1u64), ("m", 60), ("h", 3600)]
        .iter()
        .find_map(|(suffix, unit)| d.strip_suffix(suffix).map(|n| (n, *unit)))
        .ok_or_else(bad)?;
    let secs = n
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(unit))
        .filter(|s| *s <= 366 * 24 * 3600)
        .ok_or_else(bad)?;
    if secs == 0 {
        return Err("every: must be more than 0".to_owned());
    }
    Ok(Duration::from_secs(secs))
}

/// A running dump: chunks sent to it are written by its own task.
#[derive(Debug)]
pub(crate) struct Dump {
    tx: mpsc::Sender<Bytes>,
    /// The writer, done once the channel is closed and drained.
    writer: tokio::task::JoinHandle<()>,
    dropped: AtomicUsize,
    mount: String,
}

impl Dump {
    /// Starts the dump of one source connection to `mount`.
    pub(crate) fn start(spec: &DumpSpec, mount: &str) -> Self {
        let (tx, rx) = mpsc::channel(DUMP_QUEUE);
        Self {
            tx,
            writer: tokio::spawn(write(spec.clone(), mount.to_owned(), rx)),
            dropped: AtomicUsize::new(0),
            mount: mount.to_owned(),
        }
    }

    /// Ends the record: returns once every chunk is written and the file
    /// flushed (an `on_disconnect` program run after it finds the file
    /// whole).
    pub(crate) async fn close(self) {
        drop(self.tx);
        let _ = self.writer.await;
    }

    /// Records a chunk (whole frames, as published); a disk that cannot
    /// keep up loses chunks, counted, rather than holding the source.
    pub(crate) fn record(&self, chunk: &Bytes) {
        if self.tx.try_send(chunk.clone()).is_err()
            && self.dropped.fetch_add(1, Ordering::Relaxed) == 0
        {
            tracing::warn!(
                target: "httpout::live",
                "{}: the dump file cannot keep up; chunks are dropped from it",
                self.mount
            );
        }
    }
}

/// Writes the chunks of one source connection, starting new files as the
/// spec says; a name already taken gets `.1`, `.2`, ... before its
/// extension rather than being overwritten.
async fn write(spec: DumpSpec, mount: String, mut rx: mpsc::Receiver<Bytes>) {
    let mut current: Option<(tokio::fs::File, u64, tokio::time::Instant)> = None;
    while let Some(chunk) = rx.recv().await {
        let rotate = current.as_ref().is_some_and(|(_, written, since)| {
            spec.max_bytes.is_some_and(|m| *written >= m)
                || spec.every.is_some_and(|e| since.elapsed() >= e)
        });
        if rotate {
            if let Some((mut f, _, _)) = current.take() {
                let _ = f.flush().await;
            }
        }
        if current.is_none() {
            match open_new(&spec).await {
                Ok((file, path)) => {
                    tracing::info!(target: "httpout::live", "{mount}: recording to {}", path.display());
                    current = Some((file, 0, tokio::time::Instant::now()));
                }
                Err(e) => {
                    tracing::error!(target: "httpout::live", "{mount}: cannot open the dump file: {e}");
                    return;
                }
            }
        }
        if let Some((file, written, _)) = &mut current {
            if let Err(e) = file.write_all(&chunk).await {
                tracing::error!(target: "httpout::live", "{mount}: dump file: {e}");
                return;
            }
            *written += chunk.len() as u64;
        }
    }
    if let Some((mut f, _, _)) = current {
        let _ = f.flush().await;
    }
}

async fn open_new(spec: &DumpSpec) -> std::io::Result<(tokio::fs::File, PathBuf)> {
    let base = spec.name(SystemTime::now());
    let mut path = base.clone();
    for n in 1..=1000 {
        match tokio::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .await
        {
            Ok(f) => return Ok((f, path)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                let stem = base.file_stem().unwrap_or_default().to_string_lossy();
                let name = match base.extension() {
                    Some(ext) => format!("{stem}.{n}.{}", ext.to_string_lossy()),
                    None => format!("{stem}.{n}"),
                };
                path = base.with_file_name(name);
            }
            Err(e) => return Err(e),
        }
    }
    Err(std::io::Error::other("1000 dump files of that name exist"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dump_specs_parse_and_names_expand() {
        let s = DumpSpec::parse("/rec/live-%Y%m%d-%H%M%S.mp3,max=1M,every=1h").unwrap();
        assert_eq!(s.max_bytes, Some(1 << 20));
        assert_eq!(s.every, Some(Duration::from_secs(3600)));
        let at = SystemTime::UNIX_EPOCH + Duration::from_secs(1_796_458_939);
        assert_eq!(s.name(at), PathBuf::from("/rec/live-20261205-082219.mp3"));
        assert!(DumpSpec::parse("/rec/a.mp3,every=0h").is_err());
        assert!(DumpSpec::parse("/rec/a.mp3,every=5é").is_err());
        assert!(DumpSpec::parse("/rec/a.mp3,every=99999999999999999h").is_err());
        assert!(DumpSpec::parse("/rec/a.mp3,size=3").is_err());
        assert!(DumpSpec::parse("").is_err());
    }

    #[tokio::test]
    async fn a_dump_rotates_by_size_without_overwriting() {
        let dir = tempfile::tempdir().unwrap();
        let spec = DumpSpec::parse(&format!("{}/rec.mp3,max=1000", dir.path().display())).unwrap();
        let dump = Dump::start(&spec, "/live.mp3");
        for _ in 0..5 {
            dump.record(&Bytes::from(vec![7u8; 600]));
        }
        dump.close().await;
        let mut names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        // 600 + 600 (past 1000: new file), 600 + 600, 600.
        assert_eq!(names, ["rec.1.mp3", "rec.2.mp3", "rec.mp3"]);
        let size = |n: &str| std::fs::metadata(dir.path().join(n)).unwrap().len();
        assert_eq!(
            size("rec.mp3") + size("rec.1.mp3") + size("rec.2.mp3"),
            3000
        );
    }
}

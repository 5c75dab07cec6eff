//! A writer that never blocks its callers: lines go through a bounded
//! queue to one thread that writes them; when the queue is full (standard
//! error not read, a slow disk) the line is dropped and counted. Once the
//! thread has caught up (the queue is empty) it reports how many were
//! dropped. A file destination can be reopened (`SIGUSR1`, logrotate).

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender, TryRecvError, TrySendError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tracing_subscriber::fmt::MakeWriter;

/// Lines the queue holds before dropping: a few hundred KiB of log, a
/// burst the writer absorbs while its reader is slow.
pub(crate) const QUEUE_LINES: usize = 4096;

/// What travels to the writer thread.
enum Msg {
    Line(Vec<u8>),
    /// Look at the reopen flag.
    Wake,
    Stop,
}

/// Where the lines go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Dest {
    /// Standard error; drops are reported there as `httpout: N log lines
    /// dropped`.
    Stderr,
    /// A file opened for appending; drops are reported through `tracing`
    /// (on standard error), not in the file.
    File(PathBuf),
}

/// A cloneable handle on one writer thread.
#[derive(Clone)]
pub(crate) struct Lossy {
    tx: SyncSender<Msg>,
    shared: Arc<Shared>,
}

struct Shared {
    dropped: AtomicU64,
    reopen: AtomicBool,
    /// Signalled when the thread is done.
    done: Mutex<Option<Receiver<()>>>,
}

impl Lossy {
    /// Opens `dest` and starts its thread.
    pub(crate) fn open(dest: Dest) -> io::Result<Self> {
        let sink = Sink::open(dest)?;
        let (tx, rx) = mpsc::sync_channel(QUEUE_LINES);
        let (done_tx, done_rx) = mpsc::channel();
        let shared = Arc::new(Shared {
            dropped: AtomicU64::new(0),
            reopen: AtomicBool::new(false),
            done: Mutex::new(Some(done_rx)),
        });
        let thread_shared = Arc::clone(&shared);
        std::thread::Builder::new()
            .name("httpout-log".into())
            .spawn(move || {
                run(&rx, sink, &thread_shared);
                let _ = done_tx.send(());
            })?;
        Ok(Self { tx, shared })
    }

    /// Queues one line (with its newline); drops it when the queue is full.
    pub(crate) fn send(&self, line: Vec<u8>) {
        if line.is_empty() {
            return;
        }
        if let Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) =
            self.tx.try_send(Msg::Line(line))
        {
            self.shared.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Lines dropped so far.
    #[cfg(test)]
    pub(crate) fn dropped(&self) -> u64 {
        self.shared.dropped.load(Ordering::Relaxed)
    }

    /// Reopens a file destination before the next line (nothing for
    /// standard error).
    pub(crate) fn reopen(&self) {
        self.shared.reopen.store(true, Ordering::Relaxed);
        // A full queue wakes the thread anyway.
        let _ = self.tx.try_send(Msg::Wake);
    }

    /// Writes what is queued and stops the thread, waiting at most `limit`
    /// (standard error may never be read).
    pub(crate) fn close(&self, limit: Duration) {
        let deadline = Instant::now() + limit;
        loop {
            match self.tx.try_send(Msg::Stop) {
                Ok(()) | Err(TrySendError::Disconnected(_)) => break,
                Err(TrySendError::Full(_)) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(10));
                }
                Err(TrySendError::Full(_)) => return,
            }
        }
        let done = self
            .shared
            .done
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        if let Some(done) = done {
            let left = deadline.saturating_duration_since(Instant::now());
            if let Err(RecvTimeoutError::Timeout) = done.recv_timeout(left) {
                // Still blocked on its destination: the process exits anyway.
            }
        }
    }
}

/// The writer thread: writes lines; each time the queue is empty, flushes
/// and reports the lines dropped since the last report.
fn run(rx: &Receiver<Msg>, mut sink: Sink, shared: &Shared) {
    let mut reported = 0;
    loop {
        let msg = match rx.try_recv() {
            Ok(msg) => msg,
            Err(TryRecvError::Empty) => {
                sink.caught_up(shared, &mut reported);
                match rx.recv() {
                    Ok(msg) => msg,
                    Err(_) => break,
                }
            }
            Err(TryRecvError::Disconnected) => break,
        };
        if shared.reopen.swap(false, Ordering::Relaxed) {
            sink.reopen();
        }
        match msg {
            Msg::Line(line) => sink.write(&line),
            Msg::Wake => {}
            Msg::Stop => break,
        }
    }
    sink.caught_up(shared, &mut reported);
}

/// The open destination.
struct Sink {
    dest: Dest,
    out: BufWriter<Box<dyn Write + Send>>,
}

impl Sink {
    fn open(dest: Dest) -> io::Result<Self> {
        let out: Box<dyn Write + Send> = match &dest {
            Dest::Stderr => Box::new(io::stderr()),
            Dest::File(path) => Box::new(append(path)?),
        };
        Ok(Self {
            dest,
            out: BufWriter::new(out),
        })
    }

    fn write(&mut self, line: &[u8]) {
        // A failed write (disk full, closed stderr) loses the line: there
        // is nowhere better to say so.
        let _ = self.out.write_all(line);
    }

    /// The queue is empty: flush, and say how many lines were dropped.
    fn caught_up(&mut self, shared: &Shared, reported: &mut u64) {
        let dropped = shared.dropped.load(Ordering::Relaxed);
        let new = dropped - *reported;
        if new > 0 {
            *reported = dropped;
            match &self.dest {
                Dest::Stderr => {
                    self.write(format!("httpout: {new} log lines dropped\n").as_bytes())
                }
                Dest::File(path) => tracing::warn!(
                    target: "httpout::log",
                    "{new} access log lines dropped ({} was not written fast enough)",
                    path.display()
                ),
            }
        }
        let _ = self.out.flush();
    }

    fn reopen(&mut self) {
        let Dest::File(path) = &self.dest else {
            return;
        };
        let _ = self.out.flush();
        match append(path) {
            Ok(file) => self.out = BufWriter::new(Box::new(file)),
            Err(e) => tracing::error!(
                target: "httpout::log",
                "cannot reopen {}: {e}; still writing to the file it replaced",
                path.display()
            ),
        }
    }
}

/// `path` opened for appending, created if missing.
pub(crate) fn append(path: &Path) -> io::Result<File> {
    File::options().create(true).append(true).open(path)
}

/// One event's text, queued as one line when the formatter is done.
pub(crate) struct LineBuf<'a> {
    buf: Vec<u8>,
    to: &'a Lossy,
}

impl Write for LineBuf<'_> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Drop for LineBuf<'_> {
    fn drop(&mut self) {
        self.to.send(std::mem::take(&mut self.buf));
    }
}

impl<'a> MakeWriter<'a> for Lossy {
    type Writer = LineBuf<'a>;

    fn make_writer(&'a self) -> Self::Writer {
        LineBuf {
            buf: Vec::new(),
            to: self,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_reach_the_file_and_a_reopen_starts_a_new_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.log");
        let log = Lossy::open(Dest::File(path.clone())).unwrap();
        log.send(b"one\n".to_vec());
        // Wait (bounded) for the thread to write it.
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::fs::read_to_string(&path).unwrap() != "one\n" {
            assert!(Instant::now() < deadline, "line not written");
            std::thread::sleep(Duration::from_millis(10));
        }
        let rotated = dir.path().join("a.log.1");
        std::fs::rename(&path, &rotated).unwrap();
        log.reopen();
        log.send(b"two\n".to_vec());
        log.close(Duration::from_secs(10));
        assert_eq!(std::fs::read_to_string(&rotated).unwrap(), "one\n");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "two\n");
        assert_eq!(log.dropped(), 0);
    }
}

//! httpout-filesink: `-i SOURCE -o http://HOST:PORT/NAME --rdirs=DIR` writes
//! SOURCE (a file, a FIFO, or `-` for stdin) to `DIR/NAME` while the static
//! server serves it from the live edge (see httpout-static's growing
//! responses): readers get what is written at once, then each block as it
//! is read from the input, until the input ends.
//!
//! The file is written like an upload: into a temporary file beside the
//! target, renamed into place when the input ends; an input error leaves the
//! previous version and ends live readers in an error.
//!
//! Files written into a read directory by other processes are followed too
//! ([`follow()`]), so a local packager makes a live origin without HTTP ingest.
//!
//! # Layout
//! - [`Source`]: where the bytes come from;
//! - [`write_input`]: the copy loop;
//! - [`mod@follow`]: local writers followed with inotify.

mod args;
pub use args::{FileSinkArgs, SinkKind};
pub mod follow;

pub use follow::follow;

use std::io;
use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::sync::Arc;

use httpout_store::{Live, WriteRoot};
use tokio::io::{AsyncRead, AsyncReadExt};

/// An input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// Standard input (`-`).
    Stdin,
    /// A file or a FIFO.
    Path(PathBuf),
}

impl Source {
    /// `-` is stdin, anything else a path.
    pub fn parse(s: &str) -> Self {
        if s == "-" {
            Self::Stdin
        } else {
            Self::Path(PathBuf::from(s))
        }
    }
}

/// Copies `source` into `target` (segments below `root`), registered in
/// `live` while it is written, `block` bytes at a time. Returns the bytes
/// written.
pub async fn write_input(
    source: &Source,
    root: &WriteRoot,
    target: &[String],
    live: &Arc<Live>,
    block: usize,
) -> io::Result<u64> {
    let mut reader = open(source).await?;
    let (name, dirs) = target.split_last().ok_or_else(|| {
        io::Error::new(io::ErrorKind::InvalidInput, "the output URL names no file")
    })?;
    let mut buf = vec![0u8; block];
    // The file appears (live) with the input's first bytes: a FIFO may
    // wait long for its writer.
    let mut n = reader.read(&mut buf).await?;
    let parent = root.dir(dirs, true).map_err(io::Error::other)?;
    let mut temp = parent.create_temp(name).map_err(io::Error::other)?;
    let path: PathBuf = root.path().join(target.iter().collect::<PathBuf>());
    let writer = live.begin(path, temp.file().try_clone()?);
    let mut written = 0u64;
    while n > 0 {
        temp.file().write_all_at(&buf[..n], written)?;
        written += n as u64;
        writer.advance(n as u64);
        n = reader.read(&mut buf).await?;
    }
    temp.commit().map_err(io::Error::other)?;
    writer.done();
    Ok(written)
}

/// Opens an input: a FIFO or stdin without ever blocking a thread on it
/// (see [`httpout_store::fifo`]), a file as a file.
async fn open(source: &Source) -> io::Result<Box<dyn AsyncRead + Unpin + Send>> {
    use std::os::unix::fs::FileTypeExt;
    match source {
        Source::Stdin => httpout_store::fifo::stdin(),
        Source::Path(p) if tokio::fs::metadata(p).await?.file_type().is_fifo() => {
            Ok(Box::new(httpout_store::fifo::open(p)?))
        }
        Source::Path(p) => Ok(Box::new(tokio::fs::File::open(p).await?)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_fifo_is_followed_live_and_committed() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("in.fifo");
        assert!(
            std::process::Command::new("mkfifo")
                .arg(&fifo)
                .status()
                .unwrap()
                .success()
        );
        let root = WriteRoot::new(dir.path().join("out")).unwrap();
        let live = Live::new();
        let target = vec!["live".to_owned(), "a.ts".to_owned()];
        let feeder = {
            let fifo = fifo.clone();
            std::thread::spawn(move || {
                use std::io::Write;
                let mut f = std::fs::OpenOptions::new().write(true).open(fifo).unwrap();
                f.write_all(b"part one, ").unwrap();
                std::thread::sleep(std::time::Duration::from_millis(200));
                f.write_all(b"part two").unwrap();
            })
        };
        let copy = {
            let (root, live, target) = (root.clone(), Arc::clone(&live), target.clone());
            tokio::spawn(async move {
                write_input(&Source::Path(fifo), &root, &target, &live, 4096).await
            })
        };
        let final_path = root.path().join("live/a.ts");
        let mut follower = tokio::time::timeout(
            std::time::Duration::from_secs(5),
            live.wait_for(&final_path, std::time::Duration::from_secs(5)),
        )
        .await
        .unwrap()
        .expect("registered while written");
        tokio::time::timeout(
            std::time::Duration::from_secs(5),
            follower.progress.wait_for(|p| p.len >= 10),
        )
        .await
        .unwrap()
        .unwrap();
        assert!(
            !final_path.exists(),
            "not under its final name before the end"
        );
        feeder.join().unwrap();
        assert_eq!(copy.await.unwrap().unwrap(), 18);
        assert_eq!(std::fs::read(&final_path).unwrap(), b"part one, part two");
        assert_eq!(follower.progress.borrow().state, httpout_store::State::Done);
    }
}

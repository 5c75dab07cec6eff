//! Inputs that are pipes: FIFOs and standard input, read without ever
//! blocking a thread.
//!
//! A blocking `open()` of a FIFO waits for its writer on a thread that
//! shutdown cannot take back, and tokio's `stdin()` reads on one too: with
//! no writer, SIGTERM would wait forever for either. These open the pipe
//! non-blocking and read it in the reactor: a read waits for data (or for a
//! first writer), and ends (`Ok(0)`) when the last writer closes.

use std::path::Path;

use tokio::io::AsyncRead;
use tokio::net::unix::pipe;

/// Opens the FIFO at `path` for reading, without waiting for a writer.
pub fn open(path: &Path) -> std::io::Result<pipe::Receiver> {
    pipe::OpenOptions::new().open_receiver(path)
}

/// Standard input as a reader: a pipe or FIFO is read in the reactor (so
/// an idle one never holds up shutdown); a terminal or a file through
/// tokio's stdin.
pub fn stdin() -> std::io::Result<Box<dyn AsyncRead + Unpin + Send>> {
    use std::os::fd::AsFd;
    let fd = std::io::stdin().as_fd().try_clone_to_owned()?;
    match pipe::Receiver::from_owned_fd(fd) {
        Ok(pipe) => Ok(Box::new(pipe)),
        // Not a pipe: a terminal or a regular file.
        Err(_) => Ok(Box::new(tokio::io::stdin())),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tokio::io::AsyncReadExt;

    use super::*;

    fn mkfifo(path: &Path) {
        let status = std::process::Command::new("mkfifo")
            .arg(path)
            .status()
            .expect("mkfifo (coreutils) must be installed");
        assert!(status.success());
    }

    #[tokio::test]
    async fn a_fifo_without_writer_opens_at_once_and_reads_what_comes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("in.fifo");
        mkfifo(&path);
        // Opening does not wait for a writer (a blocking open would hang here).
        let mut rx = tokio::time::timeout(Duration::from_secs(5), async { open(&path) })
            .await
            .expect("open returns at once")
            .unwrap();
        let mut buf = [0u8; 16];
        // No writer yet: the read waits instead of reporting the end.
        let early = tokio::time::timeout(Duration::from_millis(300), rx.read(&mut buf)).await;
        assert!(
            early.is_err(),
            "a read before any writer must wait, got {early:?}"
        );
        let writer = std::thread::spawn({
            let path = path.clone();
            move || std::fs::write(path, b"hello").unwrap()
        });
        let mut got = Vec::new();
        tokio::time::timeout(Duration::from_secs(10), rx.read_to_end(&mut got))
            .await
            .expect("the writer's close ends the read")
            .unwrap();
        writer.join().unwrap();
        assert_eq!(got, b"hello");
    }
}

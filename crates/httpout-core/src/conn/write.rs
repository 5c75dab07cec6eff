//! Writes a [`Handoff`] (a response taken out of hyper, see
//! [`lean`](super::lean)) on its TCP socket: the head, then the body as
//! frames gathered into one `writev`, or a file region with `sendfile`.
//!
//! A [`Writer`] is a small poll-driven state (about a hundred bytes, no
//! buffer of its own while it waits): a live listener between two chunks
//! holds its body (its place in the stream) and nothing else. Writes the
//! socket refuses are reported to the connection's state, whose watchdog
//! cuts a reader that stops reading as it does under hyper.
//!
//! A file region is sent corked (`TCP_CORK`, nginx's `tcp_nopush`): the
//! head and the file's first bytes share full-sized segments, and the
//! kernel never pushes a partial one between two `sendfile` calls. The
//! cork is pulled once the region is sent, which flushes its tail.

use std::future::Future;
use std::io::{self, IoSlice};
use std::os::fd::AsFd;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use bytes::{Buf, Bytes};
use tokio::net::TcpStream;
use tokio::task::coop;

use super::lean::{FileRegion, Handoff, LeanBody, Source};
use super::state::ConnState;

/// Frames gathered into one `writev` at most (a listener catching up).
const GATHER: usize = 16;
/// Buffers per `writev` (Linux takes 1024; a few dozen is plenty).
const MAX_IOVECS: usize = 64;

/// How a handed-off response ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ended {
    /// Whole, and the connection may serve another request.
    KeepAlive,
    /// The connection closes: the last response, a failed body, or a
    /// client gone.
    Close,
}

/// A handed-off response being written.
pub(crate) struct Writer {
    socket: Arc<TcpStream>,
    state: Arc<ConnState>,
    body: Box<dyn LeanBody>,
    /// Bytes to write before anything else (the head, framed frames);
    /// freed, not kept, once written.
    queue: Vec<Bytes>,
    /// What is left of a file region to send.
    file: Option<FileLeft>,
    chunked: bool,
    keep_alive: bool,
    /// The body has ended (its last bytes may still be queued).
    body_done: bool,
    /// `TCP_CORK` is set and must be cleared once the file is sent.
    corked: bool,
}

struct FileLeft {
    file: Arc<std::fs::File>,
    offset: u64,
    end: u64,
}

impl Writer {
    pub(crate) fn new(socket: Arc<TcpStream>, state: Arc<ConnState>, handoff: Handoff) -> Self {
        let file = match handoff.source {
            Source::Frames => None,
            Source::File(FileRegion { file, offset, len }) => Some(FileLeft {
                file,
                offset,
                end: offset + len,
            }),
        };
        // A cork that cannot be set only costs some smaller segments.
        let corked = file.is_some() && rustix::net::sockopt::set_tcp_cork(&*socket, true).is_ok();
        Self {
            corked,
            socket,
            state,
            body: handoff.body,
            queue: vec![Bytes::from(handoff.head)],
            file,
            chunked: handoff.chunked,
            keep_alive: handoff.keep_alive,
            body_done: false,
        }
    }

    /// Writes the queue until it is empty.
    fn poll_queue(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while !self.queue.is_empty() {
            ready!(self.socket.poll_write_ready(cx))?;
            let mut iovecs = [IoSlice::new(&[]); MAX_IOVECS];
            let n = self.queue.len().min(MAX_IOVECS);
            for (slot, b) in iovecs.iter_mut().zip(&self.queue[..n]) {
                *slot = IoSlice::new(b);
            }
            match self.socket.try_write_vectored(&iovecs[..n]) {
                Ok(0) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Ok(mut written) => {
                    self.state.write_done();
                    let mut done = 0;
                    for b in &mut self.queue {
                        if written < b.len() {
                            b.advance(written);
                            break;
                        }
                        written -= b.len();
                        done += 1;
                    }
                    self.queue.drain(..done);
                }
                // Readiness was stale: cleared by the attempt, wait again.
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.state.write_refused(),
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
        self.queue = Vec::new();
        Poll::Ready(Ok(()))
    }

    /// Sends the file region with `sendfile`, telling the body as it goes.
    /// A file that shrinks under it is an error: the length was promised.
    fn poll_file(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while let Some(left) = &mut self.file {
            if left.offset >= left.end {
                self.file = None;
                self.body.sent_all();
                break;
            }
            // A fast client must not keep the worker to itself.
            let coop = ready!(coop::poll_proceed(cx));
            ready!(self.socket.poll_write_ready(cx))?;
            // Linux sends at most about 2 GiB per call.
            let count = usize::try_from(left.end - left.offset)
                .unwrap_or(usize::MAX)
                .min(1 << 30);
            let sent = self.socket.try_io(tokio::io::Interest::WRITABLE, || {
                rustix::fs::sendfile(
                    self.socket.as_fd(),
                    &*left.file,
                    Some(&mut left.offset),
                    count,
                )
                .map_err(io::Error::from)
            });
            match sent {
                Ok(0) => {
                    return Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "file shrank while being sent",
                    )));
                }
                Ok(n) => {
                    coop.made_progress();
                    self.state.write_done();
                    self.body.sent_directly(n as u64);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.state.write_refused(),
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
        Poll::Ready(Ok(()))
    }

    /// Pulls the cork: what is still held goes out now.
    fn uncork(&self) -> io::Result<()> {
        rustix::net::sockopt::set_tcp_cork(&*self.socket, false).map_err(io::Error::from)
    }

    /// Queues the body's frames that are ready (waiting for at least one):
    /// `Ok(())` when some are queued or the body has ended.
    fn poll_frames(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), ()>> {
        let mut frames = 0;
        while frames < GATHER {
            match Pin::new(&mut *self.body).poll_frame(cx) {
                Poll::Pending if frames == 0 => return Poll::Pending,
                Poll::Pending => break,
                Poll::Ready(None) => {
                    if self.chunked {
                        self.queue.push(Bytes::from_static(b"0\r\n\r\n"));
                    }
                    self.body_done = true;
                    break;
                }
                Poll::Ready(Some(Err(_))) => return Poll::Ready(Err(())),
                Poll::Ready(Some(Ok(frame))) => {
                    let Ok(data) = frame.into_data() else {
                        continue; // trailers: not sent on HTTP/1.1
                    };
                    if data.is_empty() {
                        continue;
                    }
                    frames += 1;
                    if self.chunked {
                        self.queue
                            .push(Bytes::from(format!("{:x}\r\n", data.len())));
                        self.queue.push(data);
                        self.queue.push(Bytes::from_static(b"\r\n"));
                    } else {
                        self.queue.push(data);
                    }
                }
            }
        }
        Poll::Ready(Ok(()))
    }
}

impl Future for Writer {
    type Output = Ended;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Ended> {
        let this = &mut *self;
        loop {
            if ready!(this.poll_queue(cx)).is_err() {
                return Poll::Ready(Ended::Close);
            }
            if this.file.is_some() {
                if ready!(this.poll_file(cx)).is_err() {
                    return Poll::Ready(Ended::Close);
                }
                this.body_done = true;
                if std::mem::take(&mut this.corked) && this.uncork().is_err() {
                    return Poll::Ready(Ended::Close);
                }
            }
            if this.body_done {
                let ended = if this.keep_alive {
                    Ended::KeepAlive
                } else {
                    Ended::Close
                };
                return Poll::Ready(ended);
            }
            if ready!(this.poll_frames(cx)).is_err() {
                return Poll::Ready(Ended::Close);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write as _;

    use tokio::io::AsyncReadExt as _;
    use tokio::net::TcpListener;

    use super::*;
    use crate::body::BoxError;

    /// A body whose bytes all go out with `sendfile`.
    struct Sent;

    impl http_body::Body for Sent {
        type Data = Bytes;
        type Error = BoxError;

        fn poll_frame(
            self: Pin<&mut Self>,
            _: &mut Context<'_>,
        ) -> Poll<Option<Result<http_body::Frame<Bytes>, BoxError>>> {
            Poll::Ready(None)
        }
    }

    impl LeanBody for Sent {
        fn sent_directly(&mut self, _: u64) {}
        fn sent_all(&mut self) {}
    }

    #[tokio::test]
    async fn a_file_goes_out_corked_and_the_cork_is_pulled_at_its_end() {
        let mut file = tempfile::tempfile().unwrap();
        let content: Vec<u8> = (0..300_001u32).map(|i| i as u8).collect();
        file.write_all(&content).unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let mut client = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let socket = Arc::new(listener.accept().await.unwrap().0);
        socket.set_nodelay(true).unwrap();
        let state = Arc::new(ConnState::new(None, None, Some(Arc::clone(&socket)), true));
        let handoff = Handoff {
            head: b"HTTP/1.1 200 OK\r\n\r\n".to_vec(),
            body: Box::new(Sent),
            source: Source::File(FileRegion {
                file: Arc::new(file),
                offset: 1,
                len: 300_000,
            }),
            chunked: false,
            keep_alive: true,
        };
        let writer = Writer::new(Arc::clone(&socket), state, handoff);
        assert!(writer.corked);
        assert!(rustix::net::sockopt::tcp_cork(&*socket).unwrap());
        let reading = tokio::spawn(async move {
            let mut got = vec![0; 19 + 300_000];
            client.read_exact(&mut got).await.unwrap();
            got
        });
        assert_eq!(writer.await, Ended::KeepAlive);
        // Uncorked: the next response (or its tail) is not held back.
        assert!(!rustix::net::sockopt::tcp_cork(&*socket).unwrap());
        let got = reading.await.unwrap();
        assert_eq!(&got[..19], b"HTTP/1.1 200 OK\r\n\r\n");
        assert!(got[19..] == content[1..]);
    }
}

//! The connection's byte stream under hyper: the mode's hook (if any)
//! applied, and writes watched for stalls.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::state::ConnState;
use crate::hook::{ConnHook, Io};

/// `io` as hyper gets it: wrapped by `hook`, then by [`Activity`].
pub(crate) fn wrap(
    io: Box<dyn Io>,
    hook: Option<&dyn ConnHook>,
    state: Arc<ConnState>,
) -> Activity {
    let inner = match hook {
        Some(hook) => hook.wrap(io),
        None => io,
    };
    Activity { inner, state }
}

/// A byte stream that records in its connection's state whether writes are
/// going through (see [`ConnState::write_refused`]).
pub(crate) struct Activity {
    inner: Box<dyn Io>,
    state: Arc<ConnState>,
}

impl AsyncRead for Activity {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for Activity {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let poll = Pin::new(&mut self.inner).poll_write(cx, buf);
        note_write(&self.state, &poll);
        poll
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let poll = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        note_write(&self.state, &poll);
        poll
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    /// hyper flushes once its write buffer is empty: a response parked
    /// for the connection to serve outside hyper may then go.
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let poll = Pin::new(&mut self.inner).poll_flush(cx);
        if poll.is_ready() {
            self.state.flushed();
        }
        poll
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

fn note_write(state: &ConnState, poll: &Poll<io::Result<usize>>) {
    match poll {
        Poll::Pending => state.write_refused(),
        Poll::Ready(_) => state.write_done(),
    }
}

/// A TCP socket hyper (or TLS) reads and writes while the connection keeps
/// a handle on it for socket options a response asks for
/// ([`SendBuffer`](super::state::SendBuffer)): tokio's stream behind an
/// `Arc`, driven by its readiness and non-blocking `try_*` calls.
pub(crate) struct SharedTcp(pub(crate) Arc<tokio::net::TcpStream>);

impl AsyncRead for SharedTcp {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        loop {
            std::task::ready!(self.0.poll_read_ready(cx))?;
            // Straight into the unfilled part, uninitialised as it may be
            // (`try_read_buf` advances `buf` by what was read): h2 and
            // hyper hand over their whole spare read buffer, and zeroing it
            // first (`initialize_unfilled`) cost a memset of it per read,
            // 3 % of the server's CPU with HTTP/2 WebSockets (bench/h2ws.sh).
            match self.0.try_read_buf(buf) {
                Ok(_) => return Poll::Ready(Ok(())),
                // Readiness was stale: cleared now, wait again.
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
    }
}

impl AsyncWrite for SharedTcp {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        loop {
            std::task::ready!(self.0.poll_write_ready(cx))?;
            match self.0.try_write(buf) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                other => return Poll::Ready(other),
            }
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        loop {
            std::task::ready!(self.0.poll_write_ready(cx))?;
            match self.0.try_write_vectored(bufs) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                other => return Poll::Ready(other),
            }
        }
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match rustix::net::shutdown(&*self.0, rustix::net::Shutdown::Write) {
            Ok(()) | Err(rustix::io::Errno::NOTCONN) => Poll::Ready(Ok(())),
            Err(e) => Poll::Ready(Err(e.into())),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::mem::MaybeUninit;

    use tokio::io::AsyncWriteExt;
    use tokio::net::{TcpListener, TcpStream};

    use super::*;

    /// A read fills (and so initialises) only what it read, not the rest
    /// of the caller's buffer: no memset of the spare buffer per read.
    #[tokio::test]
    async fn a_read_initialises_only_what_it_read() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let mut client = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let (server, _) = listener.accept().await.unwrap();
        client.write_all(b"0123456789").await.unwrap();
        let mut tcp = SharedTcp(Arc::new(server));
        let mut storage = [MaybeUninit::<u8>::uninit(); 16 * 1024];
        let mut buf = ReadBuf::uninit(&mut storage);
        // Loopback may deliver the ten bytes in more than one read.
        while buf.filled().len() < 10 {
            let before = buf.filled().len();
            let read = std::future::poll_fn(|cx| Pin::new(&mut tcp).poll_read(cx, &mut buf));
            tokio::time::timeout(std::time::Duration::from_secs(10), read)
                .await
                .expect("no bytes in 10 s")
                .unwrap();
            assert!(buf.filled().len() > before, "closed early");
        }
        assert_eq!(buf.filled(), b"0123456789");
        assert_eq!(buf.initialized().len(), 10);
    }
}

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

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
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

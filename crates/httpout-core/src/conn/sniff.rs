//! Which protocol a connection speaks: HTTP/2 when it opens with the
//! HTTP/2 connection preface (h2c by prior knowledge, or h2 after ALPN),
//! HTTP/1.1 otherwise; and the bytes read to tell, given back to hyper
//! ([`Rewind`]).

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Buf, Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, ReadBuf};

use super::io::Activity;

/// What an HTTP/2 client sends first (RFC 9113, section 3.4).
const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// Reads until the first bytes are, or cannot be, the HTTP/2 preface:
/// true for HTTP/2. The bytes read come first out of the returned stream.
pub(crate) async fn sniff(mut io: Activity) -> io::Result<(bool, Rewind)> {
    let mut buf = BytesMut::with_capacity(PREFACE.len());
    while buf.len() < PREFACE.len() {
        if io.read_buf(&mut buf).await? == 0 {
            break; // hyper sees the end of the stream
        }
        let n = buf.len().min(PREFACE.len());
        if buf[..n] != PREFACE[..n] {
            return Ok((false, Rewind::new(buf.freeze(), io)));
        }
    }
    let h2 = buf.len() >= PREFACE.len();
    Ok((h2, Rewind::new(buf.freeze(), io)))
}

/// A connection's byte stream with bytes already read from it put back in
/// front.
pub(crate) struct Rewind {
    prefix: Bytes,
    inner: Activity,
}

impl Rewind {
    pub(crate) fn new(prefix: Bytes, inner: Activity) -> Self {
        Self { prefix, inner }
    }

    /// The stream with `read` (bytes hyper read and did not use) put back
    /// in front of what this one still had. Copied: `read` is a view of
    /// hyper's whole read buffer, which must not outlive hyper.
    pub(crate) fn rewound(self, read: &[u8]) -> Self {
        if read.is_empty() {
            return self;
        }
        let mut both = BytesMut::with_capacity(read.len() + self.prefix.len());
        both.extend_from_slice(read);
        both.extend_from_slice(&self.prefix);
        Self::new(both.freeze(), self.inner)
    }
}

impl AsyncRead for Rewind {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if !self.prefix.is_empty() {
            let n = self.prefix.len().min(buf.remaining());
            buf.put_slice(&self.prefix[..n]);
            self.prefix.advance(n);
            if self.prefix.is_empty() {
                self.prefix = Bytes::new(); // let its buffer go
            }
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for Rewind {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
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

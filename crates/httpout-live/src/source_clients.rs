//! Icecast source clients, installed in the engine as a
//! [`ConnHook`]: their length-less request bodies made readable by hyper,
//! and `SOURCE` counted as a write method by the access rules.
//!
//! Icecast source clients — ffmpeg's `icecast://` output, libshout, and the
//! legacy `SOURCE` method — send a request head with neither
//! `Content-Length` nor `Transfer-Encoding`, then stream the audio until
//! they close the connection. HTTP/1.1 says such a request has no body
//! (RFC 9112 §6.3), so hyper would read the audio as the next request.
//!
//! With [`SourceClients`] in `ServerConfig::conn_hook` (the CLI installs it
//! when the live sink runs), this adapter sits under hyper on the read side
//! of each connection and
//! looks at the first request head only: if it is a `SOURCE`, or a
//! `PUT`/`POST` carrying an `ice-*` header, and it has no length of its
//! own, `Transfer-Encoding: chunked` is added to the head (and the version
//! made HTTP/1.1), and every byte that follows is framed as chunks until
//! the client closes its side, which ends the body cleanly. Anything else
//! passes through untouched.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::{Buf, BytesMut};
use http::Method;
use httpout_core::{ConnHook, Io};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// The live sink's [`ConnHook`]: an Icecast source client's body without a
/// length (a connection's first request head is a `SOURCE`, or a `PUT` or
/// `POST` with an `ice-*` header, and has neither `Content-Length` nor
/// `Transfer-Encoding`) is framed as chunks under hyper until the client
/// closes; `SOURCE` needs write rights in the access rules.
#[derive(Debug, Clone, Copy, Default)]
pub struct SourceClients;

impl SourceClients {
    /// The hook, ready for `ServerConfig::conn_hook`.
    pub fn hook() -> Arc<dyn ConnHook> {
        Arc::new(Self)
    }
}

impl ConnHook for SourceClients {
    fn wrap(&self, io: Box<dyn Io>) -> Box<dyn Io> {
        Box::new(SourceBody::new(io))
    }

    /// Only the read side is rewritten: listeners' streams may be written
    /// straight to the socket.
    fn writes_pass_through(&self) -> bool {
        true
    }

    /// `SOURCE`, the legacy Icecast upload method, asks for write rights.
    fn writes(&self, method: &Method) -> bool {
        method.as_str() == "SOURCE"
    }
}

/// A request head longer than this is not looked at (it passes through).
const MAX_HEAD: usize = 64 * 1024;

/// Where the adapter is in the connection.
#[derive(Debug)]
enum Stage {
    /// Collecting the first request head.
    Head,
    /// Framing a source client's body as chunks.
    Chunking,
    /// The last chunk is out: only EOF remains.
    Done,
    /// Not a source client: bytes pass through.
    Pass,
}

/// A connection's byte stream with a source client's body framed as
/// chunks (see the module docs).
struct SourceBody<I> {
    inner: I,
    stage: Stage,
    /// Bytes read from `inner` not handed to hyper yet (the head).
    pending: BytesMut,
    /// Bytes ready for hyper (rewritten head, chunk framing).
    out: BytesMut,
}

impl<I> SourceBody<I> {
    /// Wraps `inner`, looking at its first request head.
    fn new(inner: I) -> Self {
        Self {
            inner,
            stage: Stage::Head,
            pending: BytesMut::new(),
            out: BytesMut::new(),
        }
    }
}

/// The head rewritten for a source client, or `None` when it is not one.
fn rewrite(head: &[u8]) -> Option<Vec<u8>> {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut req = httparse::Request::new(&mut headers);
    let httparse::Status::Complete(len) = req.parse(head).ok()? else {
        return None;
    };
    let method = req.method?;
    let has = |name: &str| {
        req.headers
            .iter()
            .any(|h| h.name.eq_ignore_ascii_case(name))
    };
    let ice = req
        .headers
        .iter()
        .any(|h| h.name.len() > 4 && h.name[..4].eq_ignore_ascii_case("ice-"));
    let source = method == "SOURCE" || ((method == "PUT" || method == "POST") && ice);
    if !source || has("content-length") || has("transfer-encoding") {
        return None;
    }
    let mut out = Vec::with_capacity(len + 32);
    out.extend_from_slice(format!("{method} {} HTTP/1.1\r\n", req.path.unwrap_or("/")).as_bytes());
    for h in req.headers.iter() {
        out.extend_from_slice(h.name.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(h.value);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"Transfer-Encoding: chunked\r\n\r\n");
    Some(out)
}

/// Appends `data` to `out` as one chunk.
fn chunk(out: &mut BytesMut, data: &[u8]) {
    if !data.is_empty() {
        out.extend_from_slice(format!("{:x}\r\n", data.len()).as_bytes());
        out.extend_from_slice(data);
        out.extend_from_slice(b"\r\n");
    }
}

impl<I: AsyncRead + Unpin> AsyncRead for SourceBody<I> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            if !this.out.is_empty() {
                let n = this.out.len().min(buf.remaining());
                buf.put_slice(&this.out[..n]);
                this.out.advance(n);
                if this.out.is_empty() && matches!(this.stage, Stage::Pass | Stage::Done) {
                    // All handed over: a listener's connection, open for
                    // hours and maybe never read again, keeps no buffer.
                    this.out = BytesMut::new();
                    this.pending = BytesMut::new();
                }
                return Poll::Ready(Ok(()));
            }
            match this.stage {
                Stage::Pass | Stage::Done => {
                    // Nothing more to rewrite (the buffers went with the
                    // last bytes they held).
                    return Pin::new(&mut this.inner).poll_read(cx, buf);
                }
                Stage::Head | Stage::Chunking => {}
            }
            let mut tmp = [0u8; 16 * 1024];
            let mut rb = ReadBuf::new(&mut tmp);
            std::task::ready!(Pin::new(&mut this.inner).poll_read(cx, &mut rb))?;
            let got = rb.filled();
            match this.stage {
                Stage::Chunking if got.is_empty() => {
                    this.out.extend_from_slice(b"0\r\n\r\n");
                    this.stage = Stage::Done;
                }
                Stage::Chunking => chunk(&mut this.out, got),
                Stage::Head if got.is_empty() => {
                    // Closed before a full head: hand over what came.
                    let rest = this.pending.split();
                    this.out.extend_from_slice(&rest);
                    this.stage = Stage::Pass;
                    if this.out.is_empty() {
                        return Poll::Ready(Ok(()));
                    }
                }
                Stage::Head => {
                    this.pending.extend_from_slice(got);
                    let end = this.pending.windows(4).position(|w| w == b"\r\n\r\n");
                    match end {
                        Some(i) => {
                            let head = this.pending.split_to(i + 4);
                            match rewrite(&head) {
                                Some(new_head) => {
                                    this.out.extend_from_slice(&new_head);
                                    let body = this.pending.split();
                                    chunk(&mut this.out, &body);
                                    this.stage = Stage::Chunking;
                                }
                                None => {
                                    this.out.extend_from_slice(&head);
                                    let rest = this.pending.split();
                                    this.out.extend_from_slice(&rest);
                                    this.stage = Stage::Pass;
                                }
                            }
                        }
                        None if this.pending.len() > MAX_HEAD => {
                            let rest = this.pending.split();
                            this.out.extend_from_slice(&rest);
                            this.stage = Stage::Pass;
                        }
                        None => {}
                    }
                }
                Stage::Pass | Stage::Done => unreachable!("handled above"),
            }
        }
    }
}

impl<I: AsyncWrite + Unpin> AsyncWrite for SourceBody<I> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;

    /// `input` written in pieces of `step` bytes, read through the adapter
    /// (`enabled`) or straight.
    async fn through(input: &[u8], enabled: bool, step: usize) -> Vec<u8> {
        let (mut tx, rx) = tokio::io::duplex(64);
        let data = input.to_vec();
        let writer = tokio::spawn(async move {
            use tokio::io::AsyncWriteExt;
            for piece in data.chunks(step) {
                tx.write_all(piece).await.unwrap();
            }
        });
        let mut out = Vec::new();
        if enabled {
            SourceBody::new(rx).read_to_end(&mut out).await.unwrap();
        } else {
            let mut rx = rx;
            rx.read_to_end(&mut out).await.unwrap();
        }
        writer.await.unwrap();
        out
    }

    #[tokio::test]
    async fn a_source_body_becomes_chunks_until_close() {
        let req = b"PUT /live.mp3 HTTP/1.1\r\nHost: x\r\nIce-Public: 0\r\n\r\nABCDEFGHIJ";
        for step in [1, 3, 1000] {
            let out = String::from_utf8(through(req, true, step).await).unwrap();
            assert!(
                out.starts_with(
                    "PUT /live.mp3 HTTP/1.1\r\nHost: x\r\nIce-Public: 0\r\nTransfer-Encoding: chunked\r\n\r\n"
                ),
                "{out:?}"
            );
            let body = &out[out.find("\r\n\r\n").unwrap() + 4..];
            let mut decoded = String::new();
            let mut rest = body;
            loop {
                let (size, tail) = rest.split_once("\r\n").unwrap();
                let n = usize::from_str_radix(size, 16).unwrap();
                if n == 0 {
                    assert_eq!(tail, "\r\n");
                    break;
                }
                decoded.push_str(&tail[..n]);
                rest = &tail[n + 2..];
            }
            assert_eq!(decoded, "ABCDEFGHIJ");
        }
        let legacy = through(b"SOURCE /a HTTP/1.0\r\n\r\nxy", true, 5).await;
        assert!(String::from_utf8_lossy(&legacy).starts_with("SOURCE /a HTTP/1.1\r\n"));
    }

    #[tokio::test]
    async fn other_requests_pass_through() {
        let cases: [&[u8]; 5] = [
            b"GET / HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\n\r\n",
            b"PUT /f HTTP/1.1\r\nContent-Length: 3\r\nIce-Name: x\r\n\r\nabc",
            b"PUT /f HTTP/1.1\r\nHost: x\r\n\r\n",
            b"garbage without end",
            b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00",
        ];
        for case in cases {
            assert_eq!(through(case, true, 2).await, case);
            assert_eq!(through(case, false, 7).await, case);
        }
    }
}

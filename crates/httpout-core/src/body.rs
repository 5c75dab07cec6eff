//! The one body type of the workspace.
//!
//! Every handler takes a `Request<Body>` and returns a `Response<Body>`.
//! [`Body`] is a boxed, streaming [`http_body::Body`] of [`Bytes`] frames: a
//! file, a live stream or an upload is pulled frame by frame by hyper, so a
//! slow peer slows only its own stream and nothing is held in memory whole.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Frame, SizeHint};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Empty, Full};

/// The error type carried by bodies: any error, boxed.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A streaming HTTP body (request or response).
#[derive(Debug)]
pub struct Body(UnsyncBoxBody<Bytes, BoxError>);

impl Body {
    /// Wraps any body whose data is [`Bytes`].
    pub fn new<B>(body: B) -> Self
    where
        B: http_body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<BoxError>,
    {
        Self(body.map_err(Into::into).boxed_unsync())
    }

    /// A body with no bytes (exact size 0).
    pub fn empty() -> Self {
        Self::new(Empty::<Bytes>::new())
    }

    /// A body of bytes already in memory (small bodies: messages, listings).
    pub fn full(bytes: impl Into<Bytes>) -> Self {
        Self::new(Full::new(bytes.into()))
    }

    /// Declares the exact length of a streaming body, so that hyper sends
    /// `Content-Length` (HTTP/1.1 and HTTP/2) instead of chunked framing. A
    /// body that then yields fewer bytes ends in an error, never in a short
    /// "complete" response.
    pub fn with_exact_size(self, len: u64) -> Self {
        Self::new(ExactSize {
            inner: self,
            remaining: len,
        })
    }
}

/// See [`Body::with_exact_size`].
struct ExactSize {
    inner: Body,
    remaining: u64,
}

impl http_body::Body for ExactSize {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let poll = Pin::new(&mut self.inner).poll_frame(cx);
        match &poll {
            Poll::Ready(Some(Ok(frame))) => {
                let n = frame.data_ref().map_or(0, |d| d.len() as u64);
                match self.remaining.checked_sub(n) {
                    Some(left) => self.remaining = left,
                    None => return Poll::Ready(Some(Err("body longer than declared".into()))),
                }
            }
            Poll::Ready(None) if self.remaining > 0 => {
                return Poll::Ready(Some(Err("body shorter than declared".into())));
            }
            _ => {}
        }
        poll
    }

    fn is_end_stream(&self) -> bool {
        self.remaining == 0
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.remaining)
    }
}

impl Default for Body {
    fn default() -> Self {
        Self::empty()
    }
}

impl From<hyper::body::Incoming> for Body {
    fn from(incoming: hyper::body::Incoming) -> Self {
        Self::new(incoming)
    }
}

impl http_body::Body for Body {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        Pin::new(&mut self.0).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.0.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.0.size_hint()
    }
}

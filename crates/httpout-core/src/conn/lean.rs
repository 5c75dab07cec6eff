//! Long response bodies taken out of hyper: what a response hands over
//! when its body will outlive the usual request (a live listener, a large
//! file), and the response head written for it.
//!
//! On a plain-TCP HTTP/1.1 connection, once the service has built such a
//! response it does not give it to hyper: it parks a [`Handoff`] in the
//! connection's state, hyper flushes what it still had to write, and the
//! connection leaves hyper (its buffers and its task's machinery are
//! freed). The connection then writes the head and the body itself
//! (`conn/write.rs`): frames pulled from the body and written with one
//! `writev` each, or the file region sent with `sendfile`. When the body
//! ends and the connection may be kept alive, hyper serves the next
//! request, starting with the bytes it had already read.
//!
//! HTTP/2 and TLS responses, HEAD, HTTP/1.0, and requests with a body keep
//! hyper's path: the extensions below are then ignored.

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::SystemTime;

use bytes::Bytes;
use http::header::{CONNECTION, CONTENT_LENGTH, DATE, TRANSFER_ENCODING};
use http::{HeaderMap, HeaderValue, StatusCode};

use crate::body::BoxError;

/// A response extension: this response's body is long-lived (a live
/// stream): on plain-TCP HTTP/1.1 the connection serves it outside hyper,
/// with no per-connection buffers beyond the body's own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LongLived;

/// A response extension: this response's body is exactly `len` bytes of
/// `file` from `offset` (a whole file, or a single range, as stored). On
/// plain-TCP HTTP/1.1, when the region is at least [`FILE_MIN`] bytes, the
/// connection sends it with `sendfile` (no copy through user space) instead
/// of reading the body; the body must still give the same bytes, for
/// HTTP/2 and TLS.
#[derive(Debug, Clone)]
pub struct FileRegion {
    /// The open file.
    pub file: Arc<std::fs::File>,
    /// Where the body starts in the file.
    pub offset: u64,
    /// The body's length.
    pub len: u64,
}

/// Smaller file bodies stay with hyper: below this, leaving hyper and
/// coming back costs more than the copy it saves.
pub const FILE_MIN: u64 = 256 * 1024;

/// A response body as the connection writes it outside hyper: polled for
/// frames like any body, or told what was sent for it directly.
pub(crate) trait LeanBody:
    http_body::Body<Data = Bytes, Error = BoxError> + Send + Unpin + 'static
{
    /// `n` bytes of the body went out without the body being polled
    /// (`sendfile`).
    fn sent_directly(&mut self, n: u64);

    /// The body went out whole without being polled.
    fn sent_all(&mut self);
}

/// What the body is made of.
pub(crate) enum Source {
    /// Frames pulled from the body.
    Frames,
    /// A file region sent with `sendfile`.
    File(FileRegion),
}

/// A response the connection serves outside hyper.
pub(crate) struct Handoff {
    /// Status line and header fields, with the blank line.
    pub(crate) head: Vec<u8>,
    pub(crate) body: Box<dyn LeanBody>,
    pub(crate) source: Source,
    /// The body is sent as chunks (its length is not known).
    pub(crate) chunked: bool,
    /// The connection may serve another request after this one.
    pub(crate) keep_alive: bool,
}

impl std::fmt::Debug for Handoff {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Handoff")
            .field("head", &String::from_utf8_lossy(&self.head))
            .field("file", &matches!(self.source, Source::File(_)))
            .field("chunked", &self.chunked)
            .field("keep_alive", &self.keep_alive)
            .finish_non_exhaustive()
    }
}

/// Whether a field value lists `token` (`Connection: close`).
pub(crate) fn has_token(headers: &HeaderMap, name: http::HeaderName, token: &str) -> bool {
    headers.get_all(name).iter().any(|v| {
        v.to_str()
            .is_ok_and(|s| s.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
    })
}

/// The handoff of a response with this status and these headers, whose
/// body has `exact` bytes if known: the head HTTP/1.1 frames it with
/// (`Content-Length`, else chunked; `Connection: close` when it is the
/// last; `Date` when the handler set none, as hyper would).
pub(crate) fn head(
    status: StatusCode,
    headers: &mut HeaderMap,
    exact: Option<u64>,
    keep_alive: bool,
) -> (Vec<u8>, bool) {
    let chunked = !headers.contains_key(CONTENT_LENGTH) && exact.is_none();
    if let (false, Some(len)) = (headers.contains_key(CONTENT_LENGTH), exact) {
        headers.insert(CONTENT_LENGTH, HeaderValue::from(len));
    }
    headers.remove(TRANSFER_ENCODING);
    if chunked {
        headers.insert(TRANSFER_ENCODING, HeaderValue::from_static("chunked"));
    }
    if !keep_alive && !has_token(headers, CONNECTION, "close") {
        headers.append(CONNECTION, HeaderValue::from_static("close"));
    }
    if !headers.contains_key(DATE) {
        let now = httpdate::fmt_http_date(SystemTime::now());
        headers.insert(
            DATE,
            HeaderValue::from_str(&now).expect("an HTTP date is ASCII"),
        );
    }
    let mut out = String::with_capacity(64 + headers.len() * 40);
    let reason = status.canonical_reason().unwrap_or("<none>");
    let _ = write!(out, "HTTP/1.1 {} {reason}\r\n", status.as_str());
    let mut head = out.into_bytes();
    for (name, value) in headers.iter() {
        head.extend_from_slice(name.as_str().as_bytes());
        head.extend_from_slice(b": ");
        head.extend_from_slice(value.as_bytes());
        head.extend_from_slice(b"\r\n");
    }
    head.extend_from_slice(b"\r\n");
    (head, chunked)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_head_of_unknown_length_is_chunked_and_dated() {
        let mut headers = HeaderMap::new();
        headers.insert("content-type", HeaderValue::from_static("audio/mpeg"));
        let (head, chunked) = head(StatusCode::OK, &mut headers, None, true);
        let text = String::from_utf8(head).unwrap();
        assert!(chunked);
        assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
        assert!(text.contains("\r\ncontent-type: audio/mpeg\r\n"), "{text}");
        assert!(
            text.contains("\r\ntransfer-encoding: chunked\r\n"),
            "{text}"
        );
        assert!(text.contains("\r\ndate: "), "{text}");
        assert!(!text.contains("connection"), "{text}");
        assert!(text.ends_with("\r\n\r\n"), "{text}");
    }

    #[test]
    fn a_head_of_known_length_says_it_and_closes_when_asked() {
        let mut headers = HeaderMap::new();
        let (head, chunked) = head(StatusCode::PARTIAL_CONTENT, &mut headers, Some(42), false);
        let text = String::from_utf8(head).unwrap();
        assert!(!chunked);
        assert!(
            text.starts_with("HTTP/1.1 206 Partial Content\r\n"),
            "{text}"
        );
        assert!(text.contains("\r\ncontent-length: 42\r\n"), "{text}");
        assert!(text.contains("\r\nconnection: close\r\n"), "{text}");
        assert!(!text.contains("transfer-encoding"), "{text}");
    }

    #[test]
    fn connection_tokens_are_found_in_lists() {
        let mut headers = HeaderMap::new();
        headers.insert(CONNECTION, HeaderValue::from_static("Keep-Alive, Close"));
        assert!(has_token(&headers, CONNECTION, "close"));
        assert!(!has_token(&headers, CONNECTION, "upgrade"));
    }
}

//! What travels on a WebSocket: text and binary messages, and the close
//! frame that ends it.

use bytes::Bytes;

pub use tokio_tungstenite::tungstenite::Utf8Bytes;

/// A WebSocket message, whole (fragments are joined on receipt). Cloning
/// is cheap: the payload is shared, so one message broadcast to many
/// sockets is one allocation.
///
/// ```
/// use httpout_core::ws::Message;
///
/// let hello = Message::text("hello");
/// assert_eq!(hello.as_text(), Some("hello"));
/// assert_eq!(Message::binary(vec![1, 2, 3]).len(), 3);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// A text message (valid UTF-8, checked on receipt).
    Text(Utf8Bytes),
    /// A binary message.
    Binary(Bytes),
}

impl Message {
    /// A text message.
    ///
    /// ```
    /// use httpout_core::ws::Message;
    /// let msg = Message::text(format!("{} users online", 3));
    /// assert_eq!(msg.as_text(), Some("3 users online"));
    /// ```
    pub fn text(text: impl Into<Utf8Bytes>) -> Self {
        Self::Text(text.into())
    }

    /// A binary message.
    ///
    /// ```
    /// use httpout_core::ws::Message;
    /// let msg = Message::binary(vec![0xde, 0xad]);
    /// assert_eq!(msg.as_text(), None);
    /// assert_eq!(msg.into_bytes().as_ref(), [0xde, 0xad]);
    /// ```
    pub fn binary(data: impl Into<Bytes>) -> Self {
        Self::Binary(data.into())
    }

    /// The payload's length in bytes.
    ///
    /// ```
    /// use httpout_core::ws::Message;
    /// assert_eq!(Message::text("héllo").len(), 6); // bytes, not characters
    /// ```
    pub fn len(&self) -> usize {
        match self {
            Self::Text(t) => t.len(),
            Self::Binary(b) => b.len(),
        }
    }

    /// Whether the payload is empty.
    ///
    /// ```
    /// use httpout_core::ws::Message;
    /// assert!(Message::binary(Vec::new()).is_empty());
    /// assert!(!Message::text("x").is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The text, for a text message.
    ///
    /// ```
    /// use httpout_core::ws::Message;
    /// assert_eq!(Message::text("ping").as_text(), Some("ping"));
    /// assert_eq!(Message::binary(&b"ping"[..]).as_text(), None);
    /// ```
    pub fn as_text(&self) -> Option<&str> {
        match self {
            Self::Text(t) => Some(t.as_str()),
            Self::Binary(_) => None,
        }
    }

    /// The payload's bytes, text or binary.
    ///
    /// ```
    /// use httpout_core::ws::Message;
    /// assert_eq!(Message::text("ok").into_bytes().as_ref(), b"ok");
    /// ```
    pub fn into_bytes(self) -> Bytes {
        match self {
            Self::Text(t) => t.into(),
            Self::Binary(b) => b,
        }
    }
}

/// Why a WebSocket closed: a close code (RFC 6455 §7.4) and a reason of
/// at most 123 bytes.
///
/// ```
/// use httpout_core::ws::{CloseFrame, close};
///
/// let bye = CloseFrame::new(close::NORMAL, "bye");
/// assert_eq!(bye.code, 1000);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloseFrame {
    /// The close code (1000 normal, 1001 going away, 1008 policy, 1009
    /// too big; 4000-4999 for applications).
    pub code: u16,
    /// The reason, for people.
    pub reason: String,
}

impl CloseFrame {
    /// A close frame; the reason is cut to 123 bytes (on a character
    /// boundary), what a control frame can carry.
    ///
    /// ```
    /// use httpout_core::ws::{CloseFrame, close};
    /// let frame = CloseFrame::new(close::GOING_AWAY, "é".repeat(100));
    /// assert_eq!(frame.code, 1001);
    /// assert_eq!(frame.reason.len(), 122); // 61 whole characters of 2 bytes
    /// ```
    pub fn new(code: u16, reason: impl Into<String>) -> Self {
        let mut reason = reason.into();
        if reason.len() > 123 {
            let mut end = 123;
            while !reason.is_char_boundary(end) {
                end -= 1;
            }
            reason.truncate(end);
        }
        Self { code, reason }
    }
}

/// Close codes the server sends (RFC 6455 §7.4.1).
///
/// ```
/// use httpout_core::ws::{close, CloseFrame};
/// // An application's own code sits in 4000-4999, above the standard ones.
/// let frame = CloseFrame::new(4001, "kicked");
/// assert!(frame.code > close::INTERNAL);
/// ```
pub mod close {
    /// The purpose of the connection is fulfilled.
    ///
    /// ```
    /// assert_eq!(httpout_core::ws::close::NORMAL, 1000);
    /// ```
    pub const NORMAL: u16 = 1000;
    /// The server is shutting down, or the socket was idle for `timeout`.
    ///
    /// ```
    /// assert_eq!(httpout_core::ws::close::GOING_AWAY, 1001);
    /// ```
    pub const GOING_AWAY: u16 = 1001;
    /// A protocol error (a malformed frame).
    ///
    /// ```
    /// assert_eq!(httpout_core::ws::close::PROTOCOL, 1002);
    /// ```
    pub const PROTOCOL: u16 = 1002;
    /// A text message that is not UTF-8.
    ///
    /// ```
    /// assert_eq!(httpout_core::ws::close::INVALID_DATA, 1007);
    /// ```
    pub const INVALID_DATA: u16 = 1007;
    /// The client read too slowly: the socket's send queue overflowed.
    ///
    /// ```
    /// assert_eq!(httpout_core::ws::close::POLICY, 1008);
    /// ```
    pub const POLICY: u16 = 1008;
    /// A message larger than the socket's limit.
    ///
    /// ```
    /// assert_eq!(httpout_core::ws::close::TOO_BIG, 1009);
    /// ```
    pub const TOO_BIG: u16 = 1009;
    /// The server failed.
    ///
    /// ```
    /// assert_eq!(httpout_core::ws::close::INTERNAL, 1011);
    /// ```
    pub const INTERNAL: u16 = 1011;
}

//! WebSockets: a handler accepts an upgrade ([`Upgrade`]) and gets a
//! [`Socket`] to [`Socket::recv`] and [`Socket::send`] on, and
//! [`Sender`]s that send on it from any task or thread.
//!
//! The handshake is RFC 6455's over HTTP/1.1 (`101 Switching Protocols`),
//! or RFC 8441's extended CONNECT over HTTP/2 (the engine announces
//! `SETTINGS_ENABLE_CONNECT_PROTOCOL`). Frames are tokio-tungstenite's;
//! each socket has a task of its own that reads and writes them, and the
//! handler's side talks to it through two queues bounded in bytes
//! ([`Config`]):
//! - received messages wait for [`Socket::recv`] up to
//!   [`Config::recv_queue`], then the socket stops reading;
//! - messages to send wait up to [`Config::send_queue`]: beyond it,
//!   [`Socket::send`] waits for room, and [`Sender::send`], which never
//!   waits, closes the socket with 1008 (a client that reads too slowly
//!   cannot make the server's memory grow);
//! - a message over [`Config::max_message`] closes the socket with 1009
//!   (received) or is refused (sent);
//! - pings are answered; a socket the client has been silent on for half
//!   the server's `timeout` is pinged, and closed with 1001 at `timeout`;
//! - graceful shutdown closes every socket with 1001; a forced one drops
//!   them.
//!
//! No extension (`permessage-deflate`) is negotiated.

mod config;
mod driver;
mod handshake;
mod message;
mod queue;
mod socket;

pub use config::Config;
pub use handshake::Upgrade;
pub use message::{CloseFrame, Message, Utf8Bytes, close};
pub use socket::{SendError, Sender, Socket};

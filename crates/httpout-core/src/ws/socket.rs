//! The handler's side of a WebSocket: the [`Socket`] that receives and
//! sends, and [`Sender`]s that send from any task or thread.

use std::future::poll_fn;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use super::config::Config;
use super::message::{CloseFrame, Message, close};
use super::queue::{Queue, Refused};

/// What a socket's task and its handles share.
#[derive(Debug)]
pub(super) struct Shared {
    /// Messages to send, pushed by the handles, taken by the socket's task.
    pub(super) out: Queue,
    /// Messages received, pushed by the socket's task, taken by
    /// [`Socket::recv`].
    pub(super) inbound: Queue,
    /// The [`Socket`] and [`Sender`]s alive: none left closes the socket.
    handles: AtomicUsize,
    /// The close the server's side asked for (the first one counts).
    asked: Mutex<Option<CloseFrame>>,
    /// How the socket closed, once it has.
    closed: OnceLock<CloseFrame>,
    max_message: usize,
}

impl Shared {
    pub(super) fn new(config: &Config) -> Arc<Self> {
        Arc::new(Self {
            out: Queue::new(config.send_queue_len()),
            inbound: Queue::new(config.recv_queue_len()),
            handles: AtomicUsize::new(0),
            asked: Mutex::new(None),
            closed: OnceLock::new(),
            max_message: config.max_message_len(),
        })
    }

    /// Asks the socket's task to close with `frame` (unless a close was
    /// asked already): after the queued messages, or at once if `discard`.
    pub(super) fn ask_close(&self, frame: CloseFrame, discard: bool) {
        {
            let mut asked = self.asked.lock().unwrap_or_else(PoisonError::into_inner);
            if asked.is_none() {
                *asked = Some(frame);
            }
        }
        // Wakes the socket's task.
        self.out.close(discard);
    }

    /// The close asked for, if any (see [`Shared::ask_close`]).
    pub(super) fn asked(&self) -> Option<CloseFrame> {
        self.asked
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The socket has closed, for the reason `frame` (the peer's close
    /// frame, or the server's).
    pub(super) fn closed(&self, frame: CloseFrame) {
        let _ = self.closed.set(frame);
        self.out.close(true);
        self.inbound.close(false);
    }

    fn handle(self: &Arc<Self>) -> Arc<Self> {
        self.handles.fetch_add(1, Ordering::AcqRel);
        Arc::clone(self)
    }

    fn release(&self) {
        if self.handles.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.ask_close(CloseFrame::new(close::NORMAL, ""), false);
        }
    }
}

/// One WebSocket, as its handler sees it: [`Socket::recv`] the client's
/// messages, [`Socket::send`] yours. Pings are answered and sent, and the
/// close handshake done, by the socket's own task; this handle only sees
/// text and binary messages. Dropping it (and every [`Sender`]) closes
/// the socket with 1000.
///
/// ```
/// use httpout_core::ws::Socket;
///
/// // An echo: what the client sends comes back until it closes.
/// async fn echo(mut socket: Socket) {
///     while let Some(msg) = socket.recv().await {
///         if socket.send(msg).await.is_err() {
///             break;
///         }
///     }
/// }
/// ```
#[derive(Debug)]
pub struct Socket {
    shared: Arc<Shared>,
}

impl Socket {
    pub(super) fn new(shared: &Arc<Shared>) -> Self {
        Self {
            shared: shared.handle(),
        }
    }

    /// The client's next message; `None` once the socket is closed (see
    /// [`Socket::close_frame`] for why). Messages the handler does not
    /// take wait in a small queue ([`Config::recv_queue`]), then the socket
    /// stops reading.
    ///
    /// ```
    /// use httpout_core::ws::Socket;
    ///
    /// // Counts the client's messages until it closes.
    /// async fn count(mut socket: Socket) -> usize {
    ///     let mut n = 0;
    ///     while socket.recv().await.is_some() {
    ///         n += 1;
    ///     }
    ///     n
    /// }
    /// ```
    pub async fn recv(&mut self) -> Option<Message> {
        poll_fn(|cx| self.shared.inbound.poll_take(cx)).await
    }

    /// Sends `msg`, waiting while the send queue is full (the client reads
    /// slowly): the handler keeps the client's pace instead of being cut.
    ///
    /// ```
    /// use httpout_core::ws::{Message, SendError, Socket};
    ///
    /// async fn greet(mut socket: Socket) -> Result<(), SendError> {
    ///     socket.send(Message::text("hello")).await?;
    ///     socket.send(Message::binary(vec![1, 2, 3])).await
    /// }
    /// ```
    pub async fn send(&mut self, msg: Message) -> Result<(), SendError> {
        if msg.len() > self.shared.max_message {
            return Err(SendError::TooBig);
        }
        let mut slot = Some(msg);
        poll_fn(|cx| self.shared.out.poll_push(cx, &mut slot))
            .await
            .map_err(|_| SendError::Closed)
    }

    /// A handle that sends on this socket from anywhere (another task, a
    /// thread without a runtime).
    ///
    /// ```
    /// use httpout_core::ws::{Message, Socket};
    ///
    /// async fn notify(socket: Socket) {
    ///     let sender = socket.sender();
    ///     tokio::spawn(async move {
    ///         let _ = sender.send(Message::text("done"));
    ///     });
    /// }
    /// ```
    pub fn sender(&self) -> Sender {
        Sender {
            shared: self.shared.handle(),
        }
    }

    /// Closes the socket with `code` and `reason` once the queued messages
    /// are sent; [`Socket::recv`] returns `None` once the client has
    /// answered (or failed to in time).
    ///
    /// ```
    /// use httpout_core::ws::{close, Socket};
    ///
    /// async fn one_answer(mut socket: Socket) {
    ///     if let Some(_question) = socket.recv().await {
    ///         socket.close(close::NORMAL, "answered");
    ///     }
    /// }
    /// ```
    pub fn close(&self, code: u16, reason: &str) {
        self.shared.ask_close(CloseFrame::new(code, reason), false);
    }

    /// Why the socket closed: the client's close frame (1005 if it gave no
    /// code, 1006 if the connection ended without one), or the server's;
    /// `None` while it is open.
    ///
    /// ```
    /// use httpout_core::ws::Socket;
    ///
    /// async fn watch(mut socket: Socket) {
    ///     while socket.recv().await.is_some() {}
    ///     if let Some(frame) = socket.close_frame() {
    ///         tracing::info!("closed with {}: {}", frame.code, frame.reason);
    ///     }
    /// }
    /// ```
    pub fn close_frame(&self) -> Option<CloseFrame> {
        self.shared.closed.get().cloned()
    }
}

impl Drop for Socket {
    fn drop(&mut self) {
        // Nobody reads any more: what arrives is dropped.
        self.shared.inbound.close(true);
        self.shared.release();
    }
}

/// Sends on a [`Socket`] from any task or thread (phttp's "send from
/// another thread"); cheap to clone. [`Sender::send`] never waits: a
/// message that does not fit in the socket's send queue
/// ([`Config::send_queue`]) closes the socket with 1008, so that a client
/// that reads too slowly cannot make the server's memory grow.
///
/// ```
/// use httpout_core::ws::{Message, Socket};
///
/// // A clock ticking from a plain thread until the client goes.
/// async fn ticks(mut socket: Socket) {
///     let sender = socket.sender();
///     std::thread::spawn(move || {
///         for n in 0.. {
///             if sender.send(Message::text(format!("tick {n}"))).is_err() {
///                 break;
///             }
///             std::thread::sleep(std::time::Duration::from_secs(1));
///         }
///     });
///     while socket.recv().await.is_some() {}
/// }
/// ```
#[derive(Debug)]
pub struct Sender {
    shared: Arc<Shared>,
}

impl Sender {
    /// Queues `msg` to be sent. [`SendError::Overflow`] (and the socket
    /// closes with 1008) when the send queue is full,
    /// [`SendError::Closed`] once the socket is closed,
    /// [`SendError::TooBig`] for a message over [`Config::max_message`].
    ///
    /// ```
    /// use httpout_core::ws::{Message, SendError, Sender};
    ///
    /// fn announce(sender: &Sender) -> Result<(), SendError> {
    ///     sender.send(Message::text("the show starts"))
    /// }
    /// ```
    pub fn send(&self, msg: Message) -> Result<(), SendError> {
        if msg.len() > self.shared.max_message {
            return Err(SendError::TooBig);
        }
        match self.shared.out.try_push(msg) {
            Ok(()) => Ok(()),
            Err(Refused::Closed(_)) => Err(SendError::Closed),
            Err(Refused::Full(_)) => {
                tracing::debug!(target: "httpout::ws", "send queue full: closing with 1008");
                self.shared
                    .ask_close(CloseFrame::new(close::POLICY, "client too slow"), true);
                Err(SendError::Overflow)
            }
        }
    }

    /// Whether the socket is closed (or closing): sends will fail.
    ///
    /// ```
    /// use httpout_core::ws::{Message, Sender};
    ///
    /// fn broadcast(senders: &mut Vec<Sender>, msg: &Message) {
    ///     senders.retain(|s| !s.is_closed());
    ///     for s in senders.iter() {
    ///         let _ = s.send(msg.clone());
    ///     }
    /// }
    /// ```
    pub fn is_closed(&self) -> bool {
        self.shared.asked().is_some() || self.shared.closed.get().is_some()
    }

    /// Closes the socket as [`Socket::close`] does.
    ///
    /// ```
    /// use httpout_core::ws::Sender;
    ///
    /// // Closes every socket of a room with an application's own code.
    /// fn close_room(senders: &[Sender]) {
    ///     for s in senders {
    ///         s.close(4000, "room closed");
    ///     }
    /// }
    /// ```
    pub fn close(&self, code: u16, reason: &str) {
        self.shared.ask_close(CloseFrame::new(code, reason), false);
    }
}

impl Clone for Sender {
    fn clone(&self) -> Self {
        Self {
            shared: self.shared.handle(),
        }
    }
}

impl Drop for Sender {
    fn drop(&mut self) {
        self.shared.release();
    }
}

/// Why a message was not queued.
///
/// ```
/// use httpout_core::ws::{Message, SendError, Sender};
///
/// fn push(sender: &Sender, text: &str) -> bool {
///     match sender.send(Message::text(text)) {
///         Ok(()) => true,
///         Err(SendError::TooBig) => sender.send(Message::text("(too long)")).is_ok(),
///         Err(_) => false, // closed, or closing because the client is too slow
///     }
/// }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SendError {
    /// The socket is closed or closing.
    #[error("the WebSocket is closed")]
    Closed,
    /// The send queue was full: the socket is closing with 1008.
    #[error("the WebSocket's send queue is full (client too slow): closing")]
    Overflow,
    /// The message is over the socket's [`Config::max_message`].
    #[error("message larger than the WebSocket's limit")]
    TooBig,
}

//! A WebSocket's limits.

/// The limits of one WebSocket. The idle limit is the server's `timeout`.
///
/// ```
/// use httpout_core::ws::Config;
///
/// let config = Config::default().max_message(1 << 20).send_queue(256 * 1024);
/// assert_eq!(config.max_message_len(), 1 << 20);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Config {
    max_message: usize,
    send_queue: usize,
    recv_queue: usize,
}

impl Default for Config {
    /// Messages of up to 16 MiB; 1 MiB queued to send; 64 KiB received
    /// ahead of the handler.
    fn default() -> Self {
        Self {
            max_message: 16 << 20,
            send_queue: 1 << 20,
            recv_queue: 64 << 10,
        }
    }
}

impl Config {
    /// The largest message, in bytes, received (the client gets close
    /// code 1009 beyond it) or sent (a larger one is refused).
    ///
    /// ```
    /// use httpout_core::ws::Config;
    /// assert_eq!(Config::default().max_message(64 * 1024).max_message_len(), 64 * 1024);
    /// assert_eq!(Config::default().max_message(0).max_message_len(), 1); // at least one byte
    /// ```
    #[must_use]
    pub fn max_message(mut self, bytes: usize) -> Self {
        self.max_message = bytes.max(1);
        self
    }

    /// How many bytes of messages may wait for a slow client. A message is
    /// always accepted into an empty queue; one that does not fit closes
    /// the socket with 1008 when sent by [`Sender::send`](super::Sender::send),
    /// or waits for room in [`Socket::send`](super::Socket::send).
    ///
    /// ```
    /// use httpout_core::ws::Config;
    /// // A feed that drops a client as soon as it falls 64 KiB behind.
    /// let config = Config::default().send_queue(64 * 1024);
    /// assert_ne!(config, Config::default());
    /// ```
    #[must_use]
    pub fn send_queue(mut self, bytes: usize) -> Self {
        self.send_queue = bytes;
        self
    }

    /// How many bytes of received messages may wait for the handler's
    /// [`Socket::recv`](super::Socket::recv) before the socket stops
    /// reading (the client then waits, as TCP makes it).
    ///
    /// ```
    /// use httpout_core::ws::Config;
    /// // A handler that reads slowly holds at most 16 KiB of the client's messages.
    /// let config = Config::default().recv_queue(16 * 1024);
    /// assert_ne!(config, Config::default());
    /// ```
    #[must_use]
    pub fn recv_queue(mut self, bytes: usize) -> Self {
        self.recv_queue = bytes;
        self
    }

    /// The largest message ([`Config::max_message`]).
    ///
    /// ```
    /// use httpout_core::ws::Config;
    /// assert_eq!(Config::default().max_message_len(), 16 << 20);
    /// ```
    pub fn max_message_len(&self) -> usize {
        self.max_message
    }

    pub(super) fn send_queue_len(&self) -> usize {
        self.send_queue
    }

    pub(super) fn recv_queue_len(&self) -> usize {
        self.recv_queue
    }
}

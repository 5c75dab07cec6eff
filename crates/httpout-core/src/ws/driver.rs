//! A socket's own task: reads frames and hands messages to the handler,
//! writes the queued messages, answers and sends pings, does the close
//! handshake, and closes an idle socket (`timeout`) or one whose server
//! shuts down.

use std::future::poll_fn;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_util::{Sink, Stream};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::watch;
use tokio::time::{Instant, sleep_until};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::error::{CapacityError, Error as WsError, ProtocolError};
use tokio_tungstenite::tungstenite::protocol::CloseFrame as WsCloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{Bytes, Message as WsMessage};

use super::message::{CloseFrame, Message, close};
use super::socket::Shared;
use crate::conn::state::Phase;

/// The longest wait for the client's side of the close handshake (or for
/// the close frame to be written), when `timeout` is longer or none.
const CLOSE_WAIT: Duration = Duration::from_secs(10);

/// Runs the socket until it closes, then tells the handles why.
pub(super) async fn run<S>(
    ws: WebSocketStream<S>,
    shared: Arc<Shared>,
    timeout: Option<Duration>,
    mut phase: Option<watch::Receiver<Phase>>,
) where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let close_wait = timeout.map_or(CLOSE_WAIT, |t| t.min(CLOSE_WAIT));
    let mut io = Io {
        ws,
        shared: Arc::clone(&shared),
        incoming: None,
        flushing: false,
        closing: false,
        close_sent: false,
        ping_due: false,
        read_failed: false,
        peer_close: None,
    };
    let mut heard = Instant::now();
    let mut pinged = false;
    let mut closing_since: Option<Instant> = None;
    // Accepted while the server was already shutting down.
    if phase
        .as_ref()
        .is_some_and(|rx| *rx.borrow() != Phase::Running)
    {
        shared.ask_close(
            CloseFrame::new(close::GOING_AWAY, "server shutting down"),
            true,
        );
    }
    let ended = loop {
        // Idle: a ping after half the timeout of silence, a close after it.
        let deadline = match closing_since {
            Some(since) => Some(since + close_wait),
            None => timeout.map(|t| if pinged { heard + t } else { heard + t / 2 }),
        };
        let event = tokio::select! {
            event = poll_fn(|cx| io.poll(cx)) => event,
            () = sleep_until(deadline.unwrap_or_else(Instant::now)), if deadline.is_some() => {
                Event::Deadline
            }
            phase = next_phase(&mut phase) => match phase {
                Phase::Force => break None,
                _ => Event::Shutdown,
            },
        };
        match event {
            Event::Heard => {
                heard = Instant::now();
                pinged = false;
            }
            Event::Closing => {
                closing_since.get_or_insert_with(Instant::now);
            }
            Event::Ended => break io.peer_close.take(),
            Event::Failed(frame) => shared.ask_close(frame, true),
            Event::Shutdown => {
                shared.ask_close(
                    CloseFrame::new(close::GOING_AWAY, "server shutting down"),
                    true,
                );
            }
            Event::Deadline if closing_since.is_some() => break None,
            Event::Deadline if pinged => {
                shared.ask_close(CloseFrame::new(close::GOING_AWAY, "idle"), true);
            }
            Event::Deadline => {
                pinged = true;
                io.ping_due = true;
            }
        }
    };
    let frame = ended
        .or_else(|| shared.asked())
        .unwrap_or_else(|| CloseFrame::new(1006, ""));
    tracing::debug!(target: "httpout::ws", "closed: {} {}", frame.code, frame.reason);
    shared.closed(frame);
}

/// The server's next change of phase (never, without a server).
async fn next_phase(phase: &mut Option<watch::Receiver<Phase>>) -> Phase {
    let Some(rx) = phase else {
        return std::future::pending().await;
    };
    match rx.changed().await {
        Ok(()) => *rx.borrow_and_update(),
        // The server is gone.
        Err(_) => Phase::Force,
    }
}

/// What woke the socket's task.
enum Event {
    /// The client sent something (the idle clock restarts).
    Heard,
    /// A close was asked: the handshake's clock starts.
    Closing,
    /// The connection is over (the close handshake done, or the
    /// connection lost).
    Ended,
    /// The client broke a rule: close with this.
    Failed(CloseFrame),
    /// The server shuts down gracefully.
    Shutdown,
    /// The idle or close deadline passed.
    Deadline,
}

/// The WebSocket and what is in transit.
struct Io<S> {
    ws: WebSocketStream<S>,
    shared: Arc<Shared>,
    /// A message read, not yet taken into the handler's queue (the socket
    /// reads no more until it is).
    incoming: Option<Message>,
    /// A frame was given to the WebSocket and not yet flushed.
    flushing: bool,
    /// A close was asked and reported.
    closing: bool,
    /// The close frame was given to the WebSocket: nothing else may follow.
    close_sent: bool,
    ping_due: bool,
    /// Reading failed: nothing more is read.
    read_failed: bool,
    /// The client's close frame.
    peer_close: Option<CloseFrame>,
}

impl<S> Io<S>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    fn poll(&mut self, cx: &mut Context<'_>) -> Poll<Event> {
        loop {
            let mut progress = false;
            if self.incoming.is_some() {
                // A closed queue (no handler reads) drops the message.
                if self
                    .shared
                    .inbound
                    .poll_push(cx, &mut self.incoming)
                    .is_ready()
                {
                    return Poll::Ready(Event::Heard);
                }
            }
            match self.poll_write(cx) {
                Poll::Ready(Ok(())) => progress = true,
                Poll::Ready(Err(())) => return Poll::Ready(Event::Ended),
                Poll::Pending => {}
            }
            if !self.closing && self.shared.asked().is_some() {
                self.closing = true;
                return Poll::Ready(Event::Closing);
            }
            if self.incoming.is_none() && !self.read_failed {
                if let Poll::Ready(event) = self.poll_read(cx) {
                    return Poll::Ready(event);
                }
            }
            if !progress {
                return Poll::Pending;
            }
        }
    }

    /// Flushes, or gives the WebSocket the next frame: a ping, a queued
    /// message, the close. `Ready(Ok)`: progress; `Ready(Err)`: the
    /// connection is gone.
    fn poll_write(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), ()>> {
        let mut ws = Pin::new(&mut self.ws);
        if self.flushing {
            return match ws.poll_flush(cx) {
                Poll::Ready(Ok(())) => {
                    self.flushing = false;
                    Poll::Ready(Ok(()))
                }
                Poll::Ready(Err(e)) => {
                    tracing::debug!(target: "httpout::ws", "write failed: {e}");
                    Poll::Ready(Err(()))
                }
                Poll::Pending => Poll::Pending,
            };
        }
        if self.close_sent {
            return Poll::Pending;
        }
        match ws.as_mut().poll_ready(cx) {
            Poll::Ready(Ok(())) => {}
            Poll::Ready(Err(_)) => return Poll::Ready(Err(())),
            Poll::Pending => return Poll::Pending,
        }
        let frame = if self.ping_due {
            self.ping_due = false;
            WsMessage::Ping(Bytes::new())
        } else {
            match self.shared.out.poll_take(cx) {
                Poll::Ready(Some(Message::Text(t))) => WsMessage::Text(t),
                Poll::Ready(Some(Message::Binary(b))) => WsMessage::Binary(b),
                // Closed and empty: a close was asked.
                Poll::Ready(None) => match self.shared.asked() {
                    Some(frame) => {
                        self.close_sent = true;
                        WsMessage::Close(Some(WsCloseFrame {
                            code: CloseCode::from(frame.code),
                            reason: frame.reason.into(),
                        }))
                    }
                    None => return Poll::Pending,
                },
                Poll::Pending => return Poll::Pending,
            }
        };
        match ws.start_send(frame) {
            Ok(()) => {
                self.flushing = true;
                Poll::Ready(Ok(()))
            }
            Err(e) => {
                tracing::debug!(target: "httpout::ws", "write failed: {e}");
                Poll::Ready(Err(()))
            }
        }
    }

    fn poll_read(&mut self, cx: &mut Context<'_>) -> Poll<Event> {
        loop {
            let next = match Pin::new(&mut self.ws).poll_next(cx) {
                Poll::Ready(next) => next,
                Poll::Pending => return Poll::Pending,
            };
            let msg = match next {
                Some(Ok(msg)) => msg,
                Some(Err(e)) => {
                    self.read_failed = true;
                    return Poll::Ready(failure(&e));
                }
                None => return Poll::Ready(Event::Ended),
            };
            match msg {
                WsMessage::Text(t) => self.incoming = Some(Message::Text(t)),
                WsMessage::Binary(b) => self.incoming = Some(Message::Binary(b)),
                // tungstenite queued the pong; it goes with the next flush.
                WsMessage::Ping(_) => self.flushing = true,
                WsMessage::Pong(_) => {}
                WsMessage::Close(frame) => {
                    // tungstenite answers it; the stream ends after.
                    self.peer_close = Some(frame.map_or_else(
                        || CloseFrame::new(1005, ""),
                        |f| CloseFrame::new(u16::from(f.code), f.reason.as_str()),
                    ));
                    self.close_sent = true;
                    self.flushing = true;
                    if !self.closing {
                        self.shared
                            .ask_close(CloseFrame::new(close::NORMAL, ""), false);
                    }
                    continue;
                }
                WsMessage::Frame(_) => continue,
            }
            return Poll::Ready(Event::Heard);
        }
    }
}

/// The close for a read error, or the end for a lost connection.
fn failure(e: &WsError) -> Event {
    let (code, reason) = match e {
        WsError::Capacity(CapacityError::MessageTooLong { .. }) => {
            (close::TOO_BIG, "message too big")
        }
        WsError::Capacity(_) => (close::TOO_BIG, "frame too big"),
        WsError::Utf8(_) => (close::INVALID_DATA, "text is not UTF-8"),
        // The client went without a close frame: nobody to tell.
        WsError::Protocol(ProtocolError::ResetWithoutClosingHandshake) => {
            return Event::Ended;
        }
        WsError::Protocol(_) => (close::PROTOCOL, "protocol error"),
        _ => {
            tracing::debug!(target: "httpout::ws", "read failed: {e}");
            return Event::Ended;
        }
    };
    tracing::debug!(target: "httpout::ws", "closing with {code}: {e}");
    Event::Failed(CloseFrame::new(code, reason))
}

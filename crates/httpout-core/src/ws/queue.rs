//! A queue of messages bounded in bytes, between a socket's task and
//! the handler's side (its [`Socket`](super::Socket) and
//! [`Sender`](super::Sender)s), in either direction.

use std::collections::VecDeque;
use std::sync::{Mutex, PoisonError};
use std::task::{Context, Poll};

use futures_util::task::AtomicWaker;

use super::message::Message;

/// Messages and their bytes, at most `limit` bytes but always one message.
#[derive(Debug)]
pub(super) struct Queue {
    inner: Mutex<Inner>,
    limit: usize,
    /// The one taker, woken by a push or a close.
    taker: AtomicWaker,
    /// The one pusher that waits for room, woken by a take or a close.
    room: AtomicWaker,
}

#[derive(Debug, Default)]
struct Inner {
    items: VecDeque<Message>,
    bytes: usize,
    closed: bool,
}

/// Why a push did not go in.
#[derive(Debug)]
pub(super) enum Refused {
    /// The queue is over its limit.
    Full(Message),
    /// The queue is closed.
    Closed(Message),
}

impl Queue {
    pub(super) fn new(limit: usize) -> Self {
        Self {
            inner: Mutex::new(Inner::default()),
            limit,
            taker: AtomicWaker::new(),
            room: AtomicWaker::new(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queues `msg` if it fits (an empty queue takes any message).
    pub(super) fn try_push(&self, msg: Message) -> Result<(), Refused> {
        let mut inner = self.lock();
        if inner.closed {
            return Err(Refused::Closed(msg));
        }
        let len = msg.len();
        if !inner.items.is_empty() && inner.bytes.saturating_add(len) > self.limit {
            return Err(Refused::Full(msg));
        }
        inner.bytes += len;
        inner.items.push_back(msg);
        drop(inner);
        self.taker.wake();
        Ok(())
    }

    /// Queues what `slot` holds once it fits, emptying `slot`; `Ready(Err)`
    /// with the message when the queue is closed.
    pub(super) fn poll_push(
        &self,
        cx: &mut Context<'_>,
        slot: &mut Option<Message>,
    ) -> Poll<Result<(), Message>> {
        let Some(msg) = slot.take() else {
            return Poll::Ready(Ok(()));
        };
        self.room.register(cx.waker());
        match self.try_push(msg) {
            Ok(()) => Poll::Ready(Ok(())),
            Err(Refused::Closed(msg)) => Poll::Ready(Err(msg)),
            Err(Refused::Full(msg)) => {
                *slot = Some(msg);
                Poll::Pending
            }
        }
    }

    /// The next message; `None` once the queue is closed and empty.
    pub(super) fn poll_take(&self, cx: &mut Context<'_>) -> Poll<Option<Message>> {
        self.taker.register(cx.waker());
        let mut inner = self.lock();
        match inner.items.pop_front() {
            Some(msg) => {
                inner.bytes -= msg.len();
                drop(inner);
                self.room.wake();
                Poll::Ready(Some(msg))
            }
            None if inner.closed => Poll::Ready(None),
            None => Poll::Pending,
        }
    }

    /// Refuses further pushes, drops what is queued if `discard`, and
    /// wakes both sides.
    pub(super) fn close(&self, discard: bool) {
        let mut inner = self.lock();
        inner.closed = true;
        if discard {
            inner.items.clear();
            inner.bytes = 0;
        }
        drop(inner);
        self.taker.wake();
        self.room.wake();
    }

    /// Bytes queued.
    #[cfg(test)]
    fn bytes(&self) -> usize {
        self.lock().bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::task::Waker;

    #[test]
    fn bounded_in_bytes_but_an_empty_queue_takes_any_message() {
        let q = Queue::new(10);
        q.try_push(Message::binary(vec![0; 100])).unwrap();
        assert!(matches!(
            q.try_push(Message::binary(vec![0; 1])),
            Err(Refused::Full(_))
        ));
        let mut cx = Context::from_waker(Waker::noop());
        assert!(matches!(q.poll_take(&mut cx), Poll::Ready(Some(m)) if m.len() == 100));
        q.try_push(Message::text("12345")).unwrap();
        q.try_push(Message::text("12345")).unwrap();
        assert!(matches!(
            q.try_push(Message::text("1")),
            Err(Refused::Full(_))
        ));
        assert_eq!(q.bytes(), 10);
        q.close(false);
        assert!(matches!(
            q.try_push(Message::text("1")),
            Err(Refused::Closed(_))
        ));
        assert!(matches!(q.poll_take(&mut cx), Poll::Ready(Some(_))));
        assert!(matches!(q.poll_take(&mut cx), Poll::Ready(Some(_))));
        assert!(matches!(q.poll_take(&mut cx), Poll::Ready(None)));
    }
}

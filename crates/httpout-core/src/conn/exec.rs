//! The executor hyper spawns each HTTP/2 stream's task on: tokio's, with
//! a [`Cancel`] the task can be ended by. The handle is in reach of the
//! service through a task-local ([`STREAM_CANCEL`]), so the request's
//! [`Stream`](super::state::Stream) carries it to the connection's
//! watchdog, which ends a stream hyper has stopped sending (no
//! flow-control window) without touching the others. Dropping the task
//! drops the stream's handles: h2 resets it (`RST_STREAM`, `CANCEL`).

use std::future::Future;
use std::sync::Arc;

use super::state::{Cancel, STREAM_CANCEL};

/// Spawns on the current tokio runtime, each task cancellable.
#[derive(Debug, Clone, Copy)]
pub(crate) struct StreamExec;

impl<F> hyper::rt::Executor<F> for StreamExec
where
    F: Future<Output = ()> + Send + 'static,
{
    fn execute(&self, fut: F) {
        let cancel = Arc::new(Cancel::default());
        let task = Arc::clone(&cancel);
        tokio::spawn(STREAM_CANCEL.scope(task, async move {
            tokio::select! {
                () = fut => {}
                () = cancel.fired() => {}
            }
        }));
    }
}

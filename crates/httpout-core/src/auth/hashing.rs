//! argon2 runs off the async workers, into a fixed pool of memory.
//!
//! Each argon2id check fills `m` KiB of memory (19 MiB for the hashes
//! httpout makes). Allocated per check, the blocks were freed to the C
//! allocator, which kept them: guessing passwords took the server from
//! 7 MB to 1.3 GB. Here at most [`MAX_HASHING`] checks run at once, each in
//! one of as many buffers, allocated on first use and reused for ever: the
//! memory is `MAX_HASHING` × the largest `m` of the users file, whatever the
//! number of attempts.

use std::sync::{Arc, Mutex, PoisonError};

use argon2::Block;
use tokio::sync::Semaphore;

/// argon2 checks running at the same time, at most (and buffers kept).
pub const MAX_HASHING: usize = 4;

/// The buffers, and the permits that bound their use.
#[derive(Debug)]
pub(crate) struct Hashing {
    permits: Arc<Semaphore>,
    free: Mutex<Vec<Vec<Block>>>,
    /// Blocks (KiB) of each buffer.
    blocks: usize,
}

impl Hashing {
    /// A pool of [`MAX_HASHING`] buffers of `blocks` KiB each.
    pub(crate) fn new(blocks: usize) -> Self {
        Self {
            permits: Arc::new(Semaphore::new(MAX_HASHING)),
            free: Mutex::new(Vec::with_capacity(MAX_HASHING)),
            blocks,
        }
    }

    /// Runs `work` in the blocking pool with a buffer, once one is free;
    /// `None` if the task failed. The permit and the buffer go with the
    /// task: a caller that goes away does not free them before it ends.
    pub(crate) async fn run<T: Send + 'static>(
        self: &Arc<Self>,
        work: impl FnOnce(&mut [Block]) -> T + Send + 'static,
    ) -> Option<T> {
        let permit = Arc::clone(&self.permits).acquire_owned().await.ok()?;
        let this = Arc::clone(self);
        tokio::task::spawn_blocking(move || {
            let mut memory = this.take();
            let out = work(&mut memory);
            this.free
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(memory);
            drop(permit);
            out
        })
        .await
        .ok()
    }

    /// A free buffer, or a new one (at most [`MAX_HASHING`] exist: one per
    /// permit).
    fn take(&self) -> Vec<Block> {
        let reused = self
            .free
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        reused.unwrap_or_else(|| vec![Block::new(); self.blocks])
    }

    /// Buffers allocated so far (for tests).
    #[cfg(test)]
    fn allocated(&self) -> usize {
        self.free
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn never_more_buffers_than_permits() {
        let pool = Arc::new(Hashing::new(8));
        let runs: Vec<_> = (0..32)
            .map(|i| {
                let pool = Arc::clone(&pool);
                tokio::spawn(async move {
                    pool.run(move |m| {
                        m[0] = Block::new();
                        std::thread::sleep(std::time::Duration::from_millis(5));
                        i
                    })
                    .await
                })
            })
            .collect();
        // Callers that go away early do not free their permit early.
        for (i, r) in runs.into_iter().enumerate() {
            if i % 3 == 0 {
                r.abort();
            } else {
                let _ = r.await;
            }
        }
        // Every permit back means every buffer back.
        let _all = pool.permits.acquire_many(MAX_HASHING as u32).await.unwrap();
        assert!(pool.allocated() <= MAX_HASHING, "{}", pool.allocated());
    }
}

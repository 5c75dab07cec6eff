//! A stream (stdin, a FIFO) to several destinations: read once, each
//! block handed to every destination's upload through its own bounded
//! queue. The input is read as fast as the fastest destination takes it;
//! a destination whose queue is full — more than [`LAG_MAX`] bytes behind
//! the fastest — is cut ([`PushError::Lagged`]) and the others go on. So a
//! destination that refuses, fails or stalls never holds the others back,
//! and memory stays bounded whatever it does.
//!
//! With one destination the stream goes straight to its upload, as it
//! always did. With `cte=false` the stream is spooled once and every
//! destination sends the spool, each at its own pace.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use futures_util::StreamExt as _;
use http_body_util::StreamBody;
use httpout_core::Body;
use tokio::io::{AsyncRead, AsyncReadExt as _};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::lane::Lane;
use crate::{PushError, all, content_type, input, retry, spool};

/// How far (bytes) a destination may fall behind the fastest before it is
/// cut: 16 MiB, some seconds of any live stream.
pub(crate) const LAG_MAX: usize = 16 * 1024 * 1024;

/// The blocks the input is read in.
const BLOCK: usize = 64 * 1024;

/// A block of the input, or its read error, for one destination.
type Block = Result<Bytes, std::io::Error>;

/// Pushes a stream to every lane; see the module's documentation.
pub(crate) async fn stream(
    lanes: &[Lane],
    reader: Box<dyn AsyncRead + Unpin + Send>,
    name: &str,
) -> Result<(), PushError> {
    match lanes {
        [one] => one.stream(reader, name).await,
        _ if !lanes[0].config.cte => spooled(lanes, reader, name).await,
        _ => chunked(lanes, reader, LAG_MAX).await,
    }
}

/// `cte=false`: the stream spooled once, then sent by each lane whole.
async fn spooled(
    lanes: &[Lane],
    mut reader: Box<dyn AsyncRead + Unpin + Send>,
    name: &str,
) -> Result<(), PushError> {
    let first = &lanes[0];
    let spooled = retry::until_stopped(&first.stop, &first.dst, async {
        spool(&mut reader).await.map_err(|e| input(name, e))
    })
    .await;
    let spool = match spooled {
        Ok(spool) => spool,
        Err(e) => {
            // Nothing reached any destination: each reports it.
            for lane in lanes {
                let _ = lane.account(Err(for_lane(&e, lane)));
            }
            return Err(e);
        }
    };
    all(lanes.iter().map(|lane| {
        let spool = &spool;
        async move {
            let sent = lane.single_handle(spool, Path::new(lane.dst.path())).await;
            lane.account(sent)
        }
    }))
    .await
}

/// A failure to spool the input, as `lane` reports it: a stop names the
/// lane's URL, an input error is the same error.
fn for_lane(e: &PushError, lane: &Lane) -> PushError {
    match e {
        PushError::Stopped { .. } => PushError::Stopped {
            url: lane.dst.to_string(),
        },
        PushError::Input { path, source } => PushError::Input {
            path: path.clone(),
            source: std::io::Error::new(source.kind(), source.to_string()),
        },
        other => PushError::Config(other.to_string()),
    }
}

/// One lane's end of the fan-out.
struct Queue {
    tx: Option<mpsc::Sender<Block>>,
    /// Cancelled when the lane fell too far behind: its upload is cut.
    lagged: CancellationToken,
}

/// Chunked uploads, one per lane, fed from one read of the input; a lane
/// more than `lag_max` bytes behind the fastest is cut.
pub(crate) async fn chunked(
    lanes: &[Lane],
    mut reader: Box<dyn AsyncRead + Unpin + Send>,
    lag_max: usize,
) -> Result<(), PushError> {
    let depth = (lag_max / BLOCK).max(1);
    let mut queues = Vec::with_capacity(lanes.len());
    let mut uploads = Vec::with_capacity(lanes.len());
    for lane in lanes {
        let (tx, rx) = mpsc::channel::<Block>(depth);
        let lagged = CancellationToken::new();
        queues.push(Queue {
            tx: Some(tx),
            lagged: lagged.clone(),
        });
        uploads.push(upload(lane, rx, lagged, depth * BLOCK));
    }
    let uploads = all(uploads);
    tokio::pin!(uploads);
    tokio::select! {
        // Every upload ended (done, failed or cut): nothing left to read for.
        done = &mut uploads => return done,
        () = feed(&mut reader, &mut queues) => {}
    }
    // The input ended: the queues are closed, each upload ends when it has
    // sent what its queue holds.
    drop(queues);
    uploads.await
}

/// One lane's chunked upload of what its queue receives; cut at once when
/// `lagged` is cancelled.
async fn upload(
    lane: &Lane,
    rx: mpsc::Receiver<Block>,
    lagged: CancellationToken,
    max: usize,
) -> Result<(), PushError> {
    let counted = Arc::new(AtomicU64::new(0));
    let body = {
        let counted = Arc::clone(&counted);
        let blocks = tokio_stream_of(rx).map(move |block| {
            block.map(|b| {
                counted.fetch_add(b.len() as u64, Ordering::Relaxed);
                http_body::Frame::data(b)
            })
        });
        Body::new(StreamBody::new(blocks))
    };
    let uri = &lane.dst;
    let sent = retry::until_stopped(&lane.stop, uri, async {
        tokio::select! {
            done = lane.client.upload(uri, body, content_type(uri.path())) => done,
            () = lagged.cancelled() => Err(PushError::Lagged { url: uri.to_string(), max }),
        }
    })
    .await
    .map(|_| counted.load(Ordering::Relaxed));
    lane.account(sent)
}

/// The blocks of a queue as a stream, ending when it is closed and empty.
fn tokio_stream_of(rx: mpsc::Receiver<Block>) -> impl futures_util::Stream<Item = Block> {
    futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|b| (b, rx)) })
}

/// Reads the input to its end, block by block, at the pace of the fastest
/// open queue; a queue that is full when a block comes is cut. Ends early
/// when every queue is gone (their uploads ended).
async fn feed(reader: &mut (dyn AsyncRead + Unpin + Send), queues: &mut [Queue]) {
    let mut buf = vec![0u8; BLOCK];
    loop {
        let open: Vec<usize> = (0..queues.len())
            .filter(|&i| queues[i].tx.is_some())
            .collect();
        if open.is_empty() {
            return;
        }
        // Wait for room in some queue: the fastest destination paces the
        // reading, the others keep up or are cut.
        let mut gone = Vec::new();
        {
            let waits = open.iter().map(|&i| {
                let tx = queues[i].tx.as_ref().expect("open");
                Box::pin(tx.reserve())
            });
            let (room, k, _) = futures_util::future::select_all(waits).await;
            let leader = open[k];
            let Ok(permit) = room else {
                // That upload ended: its queue is gone.
                drop(room);
                queues[leader].tx = None;
                continue;
            };
            let read = reader.read(&mut buf).await;
            let block = match read {
                Ok(0) => return,
                Ok(n) => Ok(Bytes::copy_from_slice(&buf[..n])),
                Err(e) => Err(e),
            };
            let failed = block.as_ref().err().map(|e| (e.kind(), e.to_string()));
            let copy = |b: &Block| match b {
                Ok(bytes) => Ok(bytes.clone()),
                Err(e) => Err(std::io::Error::new(e.kind(), e.to_string())),
            };
            for &i in &open {
                if i == leader {
                    continue;
                }
                let tx = queues[i].tx.as_ref().expect("open");
                match tx.try_send(copy(&block)) {
                    Ok(()) => {}
                    Err(mpsc::error::TrySendError::Full(_)) => {
                        queues[i].lagged.cancel();
                        gone.push(i);
                    }
                    Err(mpsc::error::TrySendError::Closed(_)) => gone.push(i),
                }
            }
            permit.send(block);
            if failed.is_some() {
                // A read error ends the input; each upload fails with it.
                return;
            }
        }
        for i in gone {
            queues[i].tx = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// A queue's receiving end, drained into a vector until it closes.
    async fn drain(mut rx: mpsc::Receiver<Block>) -> Vec<u8> {
        let mut out = Vec::new();
        while let Some(Ok(b)) = rx.recv().await {
            out.extend_from_slice(&b);
        }
        out
    }

    fn queue(depth: usize) -> (Queue, mpsc::Receiver<Block>, CancellationToken) {
        let (tx, rx) = mpsc::channel(depth);
        let lagged = CancellationToken::new();
        (
            Queue {
                tx: Some(tx),
                lagged: lagged.clone(),
            },
            rx,
            lagged,
        )
    }

    /// A queue nobody reads is cut once full; the one that reads gets
    /// every byte, and the input is read to its end.
    #[tokio::test]
    async fn a_queue_that_is_not_read_is_cut_and_the_other_gets_everything() {
        let data: Vec<u8> = (0..BLOCK * 20).map(|i| (i % 251) as u8).collect();
        let (fast, fast_rx, fast_lagged) = queue(2);
        let (stalled, _stalled_rx, stalled_lagged) = queue(2);
        let mut queues = [fast, stalled];
        let reading = {
            let data = data.clone();
            async move {
                // A pipe: the reader gets the input in blocks as written.
                let (mut w, mut r) = tokio::io::duplex(BLOCK);
                let writer = tokio::spawn(async move {
                    tokio::io::AsyncWriteExt::write_all(&mut w, &data)
                        .await
                        .unwrap();
                });
                feed(&mut r, &mut queues).await;
                writer.await.unwrap();
                drop(queues);
            }
        };
        let (got, ()) = tokio::time::timeout(Duration::from_secs(20), async {
            tokio::join!(drain(fast_rx), reading)
        })
        .await
        .expect("the stalled queue held the input back");
        assert!(got == data, "the fast queue got {} bytes", got.len());
        assert!(stalled_lagged.is_cancelled(), "the stalled queue was cut");
        assert!(!fast_lagged.is_cancelled());
    }

    /// Two queues read at once, never further behind than their depth:
    /// neither is cut, both get every byte.
    #[tokio::test]
    async fn queues_that_keep_up_get_every_byte() {
        let data: Vec<u8> = (0..BLOCK * 10).map(|i| (i % 13) as u8).collect();
        let (a, a_rx, a_lagged) = queue(16);
        let (b, b_rx, b_lagged) = queue(16);
        let mut queues = [a, b];
        let mut input: &[u8] = &data;
        let reading = async {
            feed(&mut input, &mut queues).await;
            drop(queues);
        };
        let (x, y, ()) = tokio::time::timeout(Duration::from_secs(20), async {
            tokio::join!(drain(a_rx), drain(b_rx), reading)
        })
        .await
        .expect("the feed did not end");
        assert!(x == data && y == data);
        assert!(!a_lagged.is_cancelled() && !b_lagged.is_cancelled());
    }
}

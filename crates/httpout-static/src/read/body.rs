//! Response bodies read from files: in `block_size` pieces, never whole
//! (except files small enough to have been read at open time).

use std::collections::VecDeque;
use std::io;
use std::os::unix::fs::FileExt;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_compression::Level;
use async_compression::tokio::bufread::{BrotliEncoder, DeflateEncoder, GzipEncoder, ZstdEncoder};
use bytes::Bytes;
use futures_util::stream::{self, StreamExt};
use http_body_util::StreamBody;
use httpout_core::Body;
use httpout_store::{LiveFile, State};
use tokio::fs::File;
use tokio::io::BufReader;
use tokio::task::JoinHandle;
use tokio_util::io::ReaderStream;

use super::encoding::Coding;

/// A piece of a response: bytes in memory, or a byte range of the file.
#[derive(Debug, Clone)]
pub(crate) enum Piece {
    Bytes(Bytes),
    File { offset: u64, len: u64 },
}

impl Piece {
    pub(crate) fn len(&self) -> u64 {
        match self {
            Self::Bytes(b) => b.len() as u64,
            Self::File { len, .. } => *len,
        }
    }
}

/// How far a response's read size may grow beyond `block_size`.
const MAX_GROWTH: u64 = 4;

/// How many responses at a time may use grown reads: beyond that, everyone
/// reads `block_size`. Under load (many clients) reads lag because the pool
/// is busy, not because one client is fast; this keeps memory where it was.
const MAX_GROWN: usize = 16;

/// Responses currently using grown reads.
static GROWN: AtomicUsize = AtomicUsize::new(0);

/// Streams `pieces` (file ranges read with positional reads in the blocking
/// pool, the next block read while the current one is sent). Reads start at
/// `block` bytes and double, up to [`MAX_GROWTH`] times `block`, each time the
/// socket wanted data before the read-ahead was ready: a fast client gets
/// large reads (fewer trips to the pool). At most [`MAX_GROWN`] responses
/// grow at a time; at most two reads per response are in memory. Memory is
/// thus bounded by `maxc` × 2 × `block_size` plus 16 × 2 × 4 × `block_size`. The body has an exact size: a file that
/// shrinks under it ends in an error, never in a short response passed off
/// as complete.
pub(crate) fn pieces(file: Arc<std::fs::File>, pieces: Vec<Piece>, block: usize) -> Body {
    let total: u64 = pieces.iter().map(Piece::len).sum();
    let state = Reader {
        file,
        pieces: pieces.into(),
        block: block as u64,
        max_block: block as u64 * MAX_GROWTH,
        grown: false,
        pending: None,
    };
    let frames = stream::unfold(state, |mut st| async move {
        let data = st.next_chunk().await?;
        Some((data.map(http_body::Frame::data), st))
    });
    Body::new(StreamBody::new(frames)).with_exact_size(total)
}

/// The state of a [`pieces`] body.
struct Reader {
    file: Arc<std::fs::File>,
    pieces: VecDeque<Piece>,
    /// The current read size.
    block: u64,
    /// The largest read size.
    max_block: u64,
    /// Whether this response holds one of the [`MAX_GROWN`] places.
    grown: bool,
    /// The read of the block that comes next, already started.
    pending: Option<JoinHandle<io::Result<Bytes>>>,
}

impl Reader {
    async fn next_chunk(&mut self) -> Option<io::Result<Bytes>> {
        let result = match self.pending.take() {
            Some(read) => {
                if !read.is_finished() && self.block < self.max_block && self.may_grow() {
                    // The reader is the bottleneck: read more per trip.
                    self.block = (self.block * 2).min(self.max_block);
                }
                read.await.map_err(io::Error::other).and_then(|r| r)
            }
            None => match self.pieces.pop_front()? {
                Piece::Bytes(b) => return Some(Ok(b)),
                Piece::File { offset, len } => {
                    self.pieces.push_front(Piece::File { offset, len });
                    let read = self.start_read()?;
                    read.await.map_err(io::Error::other).and_then(|r| r)
                }
            },
        };
        if result.is_ok() {
            // Read ahead while this block is being sent.
            self.pending = self.start_read();
        }
        Some(result)
    }

    /// Takes one of the places for grown reads, if one is free.
    fn may_grow(&mut self) -> bool {
        if !self.grown {
            self.grown = GROWN
                .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                    (n < MAX_GROWN).then_some(n + 1)
                })
                .is_ok();
        }
        self.grown
    }

    /// Starts reading the next block if the next piece is a file range.
    fn start_read(&mut self) -> Option<JoinHandle<io::Result<Bytes>>> {
        let Some(Piece::File { offset, len }) = self.pieces.front_mut() else {
            return None;
        };
        let (at, n) = (*offset, (*len).min(self.block));
        *offset += n;
        *len -= n;
        if *len == 0 {
            self.pieces.pop_front();
        }
        let file = Arc::clone(&self.file);
        Some(tokio::task::spawn_blocking(move || {
            read_exact_at(&file, at, n as usize)
        }))
    }
}

impl Drop for Reader {
    fn drop(&mut self) {
        if self.grown {
            GROWN.fetch_sub(1, Ordering::AcqRel);
        }
    }
}

fn read_exact_at(file: &std::fs::File, offset: u64, len: usize) -> io::Result<Bytes> {
    let mut buf = vec![0u8; len];
    let mut done = 0;
    while done < len {
        match file.read_at(&mut buf[done..], offset + done as u64) {
            Ok(0) => {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "file shrank while being sent",
                ));
            }
            Ok(n) => done += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(Bytes::from(buf))
}

/// Compresses a whole file on the fly with `coding` (size unknown: chunked
/// on HTTP/1.1).
pub(crate) fn compressed(file: std::fs::File, coding: Coding, block: usize) -> Body {
    let input = BufReader::with_capacity(block, File::from_std(file));
    match coding {
        Coding::Gzip => stream_of(GzipEncoder::with_quality(input, Level::Default), block),
        Coding::Deflate => stream_of(DeflateEncoder::with_quality(input, Level::Default), block),
        // Brotli's default (11) is far too slow for serving; 4 is nginx-brotli's usual choice.
        Coding::Br => stream_of(BrotliEncoder::with_quality(input, Level::Precise(4)), block),
        Coding::Zstd => stream_of(ZstdEncoder::with_quality(input, Level::Default), block),
    }
}

/// Compresses bytes already in memory (small files).
pub(crate) fn compressed_bytes(bytes: Bytes, coding: Coding) -> Body {
    let input = std::io::Cursor::new(bytes);
    match coding {
        Coding::Gzip => stream_of(GzipEncoder::with_quality(input, Level::Default), 16 * 1024),
        Coding::Deflate => stream_of(
            DeflateEncoder::with_quality(input, Level::Default),
            16 * 1024,
        ),
        Coding::Br => stream_of(
            BrotliEncoder::with_quality(input, Level::Precise(4)),
            16 * 1024,
        ),
        Coding::Zstd => stream_of(ZstdEncoder::with_quality(input, Level::Default), 16 * 1024),
    }
}

fn stream_of<R>(reader: R, block: usize) -> Body
where
    R: tokio::io::AsyncRead + Send + 'static,
{
    let frames = ReaderStream::with_capacity(reader, block).map(|r| r.map(http_body::Frame::data));
    Body::new(StreamBody::new(frames))
}

/// Follows a file being written from `start` to `end` (exclusive; `None`:
/// until the writer finishes): the bytes already there at once, then each
/// piece as the writer reports it, woken by the writer (no polling). An
/// aborted writer ends the body in an error. Reads are `pread`s of bytes just
/// written (in the page cache), done on the worker.
pub(crate) fn growing(live: LiveFile, start: u64, end: Option<u64>, block: usize) -> Body {
    struct Follow {
        live: LiveFile,
        start: u64,
        pos: u64,
        end: Option<u64>,
        block: u64,
        failed: bool,
    }
    let state = Follow {
        live,
        start,
        pos: start,
        end,
        block: block as u64,
        failed: false,
    };
    let frames = stream::unfold(state, |mut st| async move {
        if st.failed {
            return None;
        }
        loop {
            let progress = *st.live.progress.borrow_and_update();
            let limit = st.end.map_or(progress.len, |e| e.min(progress.len));
            if st.pos < limit {
                let n = (limit - st.pos).min(st.block);
                let data = read_exact_at(&st.live.file, st.pos, n as usize);
                st.pos += n;
                st.failed = data.is_err();
                return Some((data.map(http_body::Frame::data), st));
            }
            if st.end.is_some_and(|e| st.pos >= e) {
                return None;
            }
            let aborted = match progress.state {
                // A range that starts past the final end: the 206 head is
                // gone already, so end in an error rather than a clean,
                // empty part (a later request gets the 416).
                State::Done if st.start > 0 && st.start >= progress.len => true,
                State::Done => return None,
                State::Aborted => true,
                State::Writing => st.live.progress.changed().await.is_err(),
            };
            if aborted {
                st.failed = true;
                let err =
                    io::Error::new(io::ErrorKind::ConnectionAborted, "the upload was aborted");
                return Some((Err(err), st));
            }
        }
    });
    let body = Body::new(StreamBody::new(frames));
    match end {
        Some(end) => body.with_exact_size(end.saturating_sub(start)),
        None => body,
    }
}

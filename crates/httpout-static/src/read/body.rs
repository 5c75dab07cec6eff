//! Response bodies read from files: in `block_size` pieces, never whole
//! (except files small enough to have been read at open time).

use std::collections::VecDeque;
use std::io::SeekFrom;

use async_compression::Level;
use async_compression::tokio::bufread::{BrotliEncoder, DeflateEncoder, GzipEncoder, ZstdEncoder};
use bytes::{Bytes, BytesMut};
use futures_util::stream::{self, StreamExt};
use http_body_util::StreamBody;
use httpout_core::Body;
use tokio::fs::File;
use tokio::io::{AsyncReadExt, AsyncSeekExt, BufReader};
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

/// Streams `pieces` (file ranges read `block` bytes at a time); the body has
/// an exact size, so a file that shrinks under it ends in an error, never in
/// a short response passed off as complete.
pub(crate) fn pieces(file: std::fs::File, pieces: Vec<Piece>, block: usize) -> Body {
    struct State {
        file: File,
        pieces: VecDeque<Piece>,
        positioned: bool,
        block: usize,
    }
    let total: u64 = pieces.iter().map(Piece::len).sum();
    let state = State {
        file: File::from_std(file),
        pieces: pieces.into(),
        positioned: false,
        block,
    };
    let frames = stream::unfold(state, |mut st| async move {
        let next = match st.pieces.front_mut()? {
            Piece::Bytes(_) => match st.pieces.pop_front() {
                Some(Piece::Bytes(b)) => Ok(b),
                _ => unreachable!("front was Bytes"),
            },
            Piece::File { offset, len } => {
                read_block(&mut st.file, offset, len, &mut st.positioned, st.block).await
            }
        };
        if matches!(st.pieces.front(), Some(Piece::File { len: 0, .. })) {
            st.pieces.pop_front();
            st.positioned = false;
        }
        Some((next.map(http_body::Frame::data), st))
    });
    Body::new(StreamBody::new(frames)).with_exact_size(total)
}

async fn read_block(
    file: &mut File,
    offset: &mut u64,
    len: &mut u64,
    positioned: &mut bool,
    block: usize,
) -> std::io::Result<Bytes> {
    if !*positioned {
        file.seek(SeekFrom::Start(*offset)).await?;
        *positioned = true;
    }
    let want = (*len).min(block as u64) as usize;
    let mut buf = BytesMut::with_capacity(want);
    while buf.len() < want {
        let n = file.read_buf(&mut buf).await?;
        if n == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "file shrank while being sent",
            ));
        }
    }
    *offset += want as u64;
    *len -= want as u64;
    Ok(buf.freeze())
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

//! ICE/ICY: the informational headers of a live stream and the in-band
//! `StreamTitle` metadata (the de-facto SHOUTcast/Icecast protocol).
//!
//! Headers: a source client's `ice-name`, `ice-genre`, `ice-description`,
//! `ice-url`, `ice-public`, `ice-bitrate` become the listeners' `icy-name`,
//! `icy-genre`, `icy-description`, `icy-url`, `icy-pub`, `icy-br`, as
//! Icecast does; `ice-audio-info` passes through.
//!
//! In-band metadata, only for a listener that sent `Icy-MetaData: 1`: the
//! response says `icy-metaint: N`, and after every N bytes of stream comes
//! one block: a length byte L, then L×16 bytes of
//! `StreamTitle='...';` padded with NULs; a lone `\0` when the title has
//! not changed since the listener's last block.

use bytes::{BufMut, Bytes, BytesMut};
use http::{HeaderMap, HeaderName, HeaderValue};

use crate::media::AudioInfo;

/// The longest metadata text a block can carry (255 × 16 bytes).
const MAX_BLOCK: usize = 255 * 16;

/// What listeners are told about a stream.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct StreamMeta {
    /// `icy-*` headers, in order, from the source client or the options.
    pub(crate) headers: Vec<(String, String)>,
    /// The current `StreamTitle`.
    pub(crate) title: Option<String>,
    /// Bumped on each title change, so listeners know when to resend it.
    pub(crate) title_seq: u64,
}

impl StreamMeta {
    /// The ICE values a source client's request headers carry.
    pub(crate) fn from_source(headers: &HeaderMap) -> Self {
        let mut meta = Self::default();
        for (name, value) in headers {
            let Ok(value) = value.to_str() else { continue };
            let name = name.as_str();
            let Some(key) = name.strip_prefix("ice-") else {
                continue;
            };
            let out = match key {
                "password" => continue,
                "public" => "icy-pub".to_owned(),
                "bitrate" => "icy-br".to_owned(),
                "audio-info" => "ice-audio-info".to_owned(),
                other => format!("icy-{other}"),
            };
            meta.set(&out, value);
        }
        meta
    }

    /// Sets a header, replacing an earlier value of the same name.
    pub(crate) fn set(&mut self, name: &str, value: &str) {
        let name = name.to_ascii_lowercase();
        if HeaderName::from_bytes(name.as_bytes()).is_err() || HeaderValue::from_str(value).is_err()
        {
            return;
        }
        match self.headers.iter_mut().find(|(n, _)| *n == name) {
            Some(slot) => slot.1 = value.to_owned(),
            None => self.headers.push((name, value.to_owned())),
        }
    }

    fn has(&self, name: &str) -> bool {
        self.headers.iter().any(|(n, _)| n == name)
    }

    /// Adds what `--ice` computes when the source did not say it:
    /// `icy-pub: 1`, `icy-br` and `ice-audio-info` from the frame headers.
    pub(crate) fn add_computed(&mut self, audio: Option<AudioInfo>) {
        if !self.has("icy-pub") {
            self.set("icy-pub", "1");
        }
        let Some(a) = audio else { return };
        if let (Some(br), false) = (a.bitrate, self.has("icy-br")) {
            self.set("icy-br", &(br / 1000).to_string());
        }
        if !self.has("ice-audio-info") {
            let mut info = format!("samplerate={};channels={}", a.sample_rate, a.channels);
            if let Some(br) = a.bitrate {
                info.push_str(&format!(";bitrate={}", br / 1000));
            }
            self.set("ice-audio-info", &info);
        }
    }

    /// Writes the headers into a response.
    pub(crate) fn write_headers(&self, out: &mut HeaderMap) {
        for (name, value) in &self.headers {
            if let (Ok(n), Ok(v)) = (
                HeaderName::from_bytes(name.as_bytes()),
                HeaderValue::from_str(value),
            ) {
                out.insert(n, v);
            }
        }
    }

    /// Replaces the title (a source's metadata update).
    pub(crate) fn set_title(&mut self, title: &str) {
        let clean: String = title.chars().filter(|c| !c.is_control()).collect();
        if self.title.as_deref() != Some(&clean) {
            self.title = Some(clean);
            self.title_seq += 1;
        }
    }
}

/// A metadata block for `title`: length byte, text, NUL padding.
pub(crate) fn block(title: &str) -> Bytes {
    let mut text = format!("StreamTitle='{}';", title.replace('\'', "’"));
    if text.len() > MAX_BLOCK {
        let mut cut = MAX_BLOCK - 2;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
        text.push_str("';");
    }
    let blocks = text.len().div_ceil(16);
    let mut out = BytesMut::with_capacity(1 + blocks * 16);
    out.put_u8(blocks as u8);
    out.put_slice(text.as_bytes());
    out.resize(1 + blocks * 16, 0);
    out.freeze()
}

/// Interleaves metadata blocks into one listener's stream.
#[derive(Debug)]
pub(crate) struct Interleave {
    metaint: usize,
    /// Stream bytes left before the next block.
    until: usize,
    /// The title sequence this listener last got (`u64::MAX`: none yet).
    sent_seq: u64,
}

impl Interleave {
    pub(crate) fn new(metaint: u32) -> Self {
        Self {
            metaint: metaint as usize,
            until: metaint as usize,
            sent_seq: u64::MAX,
        }
    }

    /// Sends the current title at the next block, whatever was sent
    /// before (the listener moved to another stream).
    pub(crate) fn resend_title(&mut self) {
        self.sent_seq = u64::MAX;
    }

    /// `data` with blocks inserted where they fall; `meta` gives the
    /// current title when a block is due.
    pub(crate) fn apply(&mut self, data: Bytes, meta: impl Fn() -> (Option<String>, u64)) -> Bytes {
        if data.len() < self.until {
            self.until -= data.len();
            return data;
        }
        let mut out = BytesMut::with_capacity(data.len() + 64);
        let mut rest = data;
        while rest.len() >= self.until {
            out.put_slice(&rest.split_to(self.until));
            let (title, seq) = meta();
            match title {
                Some(t) if seq != self.sent_seq => {
                    out.put_slice(&block(&t));
                    self.sent_seq = seq;
                }
                _ => out.put_u8(0),
            }
            self.until = self.metaint;
        }
        self.until -= rest.len();
        out.put_slice(&rest);
        out.freeze()
    }
}

/// Takes the metadata blocks out of an upstream's interleaved stream (a
/// relay that asked for `Icy-MetaData: 1`): the audio goes on, each
/// `StreamTitle` is reported. Works across any split of the input.
#[derive(Debug)]
pub(crate) struct Deinterleave {
    metaint: usize,
    /// Audio bytes left before the next block.
    until: usize,
    /// The block being read: its length once known, and its bytes.
    block: Option<(usize, Vec<u8>)>,
}

impl Deinterleave {
    pub(crate) fn new(metaint: usize) -> Self {
        Self {
            metaint,
            until: metaint,
            block: None,
        }
    }

    /// Splits `data`: the audio is appended to `audio`; the titles of
    /// blocks completed in it are returned, in order.
    pub(crate) fn split(&mut self, mut data: &[u8], audio: &mut Vec<u8>) -> Vec<String> {
        let mut titles = Vec::new();
        while !data.is_empty() {
            match &mut self.block {
                None if self.until > 0 => {
                    let n = self.until.min(data.len());
                    audio.extend_from_slice(&data[..n]);
                    self.until -= n;
                    data = &data[n..];
                }
                None => {
                    self.block = Some((usize::from(data[0]) * 16, Vec::new()));
                    data = &data[1..];
                }
                Some((len, bytes)) => {
                    let n = (*len - bytes.len()).min(data.len());
                    bytes.extend_from_slice(&data[..n]);
                    data = &data[n..];
                }
            }
            if let Some((len, bytes)) = &self.block {
                if bytes.len() == *len {
                    if let Some(t) = stream_title(bytes) {
                        titles.push(t);
                    }
                    self.block = None;
                    self.until = self.metaint;
                }
            }
        }
        titles
    }
}

/// The `StreamTitle` of a metadata block's text, if it has one.
fn stream_title(block: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(block);
    let text = text.trim_end_matches('\0');
    let start = text.find("StreamTitle='")? + "StreamTitle='".len();
    let rest = &text[start..];
    // The title ends at the `';` that ends the field (a title may hold `'`).
    let end = rest.find("';").unwrap_or(rest.len());
    Some(rest[..end].to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deinterleaving_gives_back_the_audio_and_the_titles() {
        let audio: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
        let mut il = Interleave::new(1000);
        let mut sent = Vec::new();
        for (i, piece) in audio.chunks(700).enumerate() {
            let title = if i < 5 { "One" } else { "It's Two" };
            let seq = u64::from(i >= 5);
            sent.extend_from_slice(&il.apply(Bytes::copy_from_slice(piece), || {
                (Some(title.to_owned()), seq)
            }));
        }
        for split in [1, 13, 1000, 4096] {
            let mut de = Deinterleave::new(1000);
            let (mut back, mut titles) = (Vec::new(), Vec::new());
            for piece in sent.chunks(split) {
                titles.extend(de.split(piece, &mut back));
            }
            assert_eq!(back, audio, "split {split}");
            assert_eq!(titles, ["One", "It’s Two"], "split {split}");
        }
    }

    /// Splits an interleaved stream back into audio and titles.
    fn split(mut data: &[u8], metaint: usize) -> (Vec<u8>, Vec<String>) {
        let (mut audio, mut titles) = (Vec::new(), Vec::new());
        while data.len() > metaint {
            audio.extend_from_slice(&data[..metaint]);
            let len = data[metaint] as usize * 16;
            let text = &data[metaint + 1..metaint + 1 + len];
            if len > 0 {
                titles.push(
                    String::from_utf8_lossy(text)
                        .trim_end_matches('\0')
                        .to_owned(),
                );
            }
            data = &data[metaint + 1 + len..];
        }
        audio.extend_from_slice(data);
        (audio, titles)
    }

    #[test]
    fn blocks_fall_every_metaint_bytes_whatever_the_chunks() {
        let audio: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
        for chunk in [1, 7, 100, 999, 4096] {
            let mut il = Interleave::new(1000);
            let mut out = Vec::new();
            let mut seq = 0;
            for (i, piece) in audio.chunks(chunk).enumerate() {
                if i == 3 {
                    seq = 1;
                }
                let title = if seq == 0 { "One" } else { "Two - Ü" };
                out.extend_from_slice(&il.apply(Bytes::copy_from_slice(piece), || {
                    (Some(title.to_owned()), seq)
                }));
            }
            let (back, titles) = split(&out, 1000);
            assert_eq!(back, audio, "chunk {chunk}");
            assert!(titles[0].starts_with("StreamTitle='"), "{titles:?}");
            assert!(
                titles.len() <= 2,
                "unchanged titles are not resent: {titles:?}"
            );
        }
    }

    #[test]
    fn a_long_title_is_cut_to_one_block() {
        let b = block(&"é".repeat(5000));
        assert_eq!(b.len(), 1 + 255 * 16);
        assert_eq!(b[0], 255);
        assert!(
            std::str::from_utf8(&b[1..])
                .unwrap()
                .trim_end_matches('\0')
                .ends_with("';")
        );
    }

    #[test]
    fn source_headers_become_icy_headers() {
        let mut h = HeaderMap::new();
        h.insert("ice-name", HeaderValue::from_static("Radio"));
        h.insert("ice-public", HeaderValue::from_static("0"));
        h.insert("ice-bitrate", HeaderValue::from_static("128"));
        h.insert("ice-password", HeaderValue::from_static("secret"));
        h.insert(
            "ice-audio-info",
            HeaderValue::from_static("samplerate=44100"),
        );
        let m = StreamMeta::from_source(&h);
        let names: Vec<_> = m.headers.iter().map(|(n, _)| n.as_str()).collect();
        assert!(names.contains(&"icy-name") && names.contains(&"icy-pub"));
        assert!(names.contains(&"icy-br") && names.contains(&"ice-audio-info"));
        assert!(!names.iter().any(|n| n.contains("password")));
    }
}

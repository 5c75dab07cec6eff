//! The id of an upload: 128 random bits written as 32 lower-case hex
//! digits. It names the upload in the uploads endpoint (`/.uploads/ID`),
//! in the `Upload-Id` response header and in resumable uploads' URLs, so
//! it must not be guessable: whoever holds it may read the upload's
//! progress or append to it.

use std::fmt;
use std::str::FromStr;

/// An upload's id; see the module docs.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct UploadId([u8; 16]);

impl UploadId {
    /// A fresh id from the operating system's random source.
    pub(crate) fn random() -> Self {
        let mut bytes = [0u8; 16];
        // The OS source fails only where nothing could run (no getrandom
        // syscall and no /dev/urandom); an upload id must not be guessable,
        // so there is no fallback.
        getrandom::fill(&mut bytes).expect("the OS random source");
        Self(bytes)
    }
}

impl fmt::Display for UploadId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for UploadId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "UploadId({self})")
    }
}

/// Not 32 lower-case hex digits.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct BadUploadId;

impl FromStr for UploadId {
    type Err = BadUploadId;

    fn from_str(s: &str) -> Result<Self, BadUploadId> {
        let s = s.as_bytes();
        if s.len() != 32 {
            return Err(BadUploadId);
        }
        let digit = |c: u8| match c {
            b'0'..=b'9' => Ok(c - b'0'),
            b'a'..=b'f' => Ok(c - b'a' + 10),
            _ => Err(BadUploadId),
        };
        let mut bytes = [0u8; 16];
        for (i, pair) in s.chunks_exact(2).enumerate() {
            bytes[i] = digit(pair[0])? << 4 | digit(pair[1])?;
        }
        Ok(Self(bytes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_differ() {
        let a = UploadId::random();
        let b = UploadId::random();
        assert_ne!(a, b);
        let text = a.to_string();
        assert_eq!(text.len(), 32);
        assert_eq!(text.parse::<UploadId>(), Ok(a));
    }

    #[test]
    fn only_32_lower_case_hex_digits_are_ids() {
        for bad in ["", "00", &"A".repeat(32), &"g".repeat(32), &"0".repeat(33)] {
            assert_eq!(bad.parse::<UploadId>(), Err(BadUploadId), "{bad}");
        }
        assert!(
            "0123456789abcdef0123456789abcdef"
                .parse::<UploadId>()
                .is_ok()
        );
    }
}

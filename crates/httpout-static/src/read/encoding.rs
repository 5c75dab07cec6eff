//! Content codings: what the client accepts (`Accept-Encoding` with
//! q-values, RFC 9110 §12.5.3) and the compressors that produce them.

use http::HeaderMap;
use http::header::ACCEPT_ENCODING;

/// A content coding httpout can send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Coding {
    Br,
    Zstd,
    Gzip,
    Deflate,
}

impl Coding {
    /// Ours by preference when the client weighs them the same.
    pub(crate) const ALL: [Self; 4] = [Self::Br, Self::Zstd, Self::Gzip, Self::Deflate];

    /// The token in `Accept-Encoding` / `Content-Encoding`.
    pub(crate) fn token(self) -> &'static str {
        match self {
            Self::Br => "br",
            Self::Zstd => "zstd",
            Self::Gzip => "gzip",
            Self::Deflate => "deflate",
        }
    }

    /// The suffix of a precompressed sibling file (`file.css.gz`).
    pub(crate) fn sibling_suffix(self) -> Option<&'static str> {
        match self {
            Self::Br => Some(".br"),
            Self::Zstd => Some(".zst"),
            Self::Gzip => Some(".gz"),
            Self::Deflate => None,
        }
    }
}

/// The codings the client accepts, best first (q-value, then our order).
/// `*` covers codings not named; `q=0` refuses one.
pub(crate) fn accepted(headers: &HeaderMap) -> Vec<Coding> {
    let mut weights: Vec<(Coding, u16)> = Vec::new();
    let mut wildcard: Option<u16> = None;
    let mut named: Vec<(Coding, u16)> = Vec::new();
    for value in headers.get_all(ACCEPT_ENCODING) {
        let Ok(text) = value.to_str() else { continue };
        for item in text.split(',') {
            let mut parts = item.split(';');
            let token = parts.next().unwrap_or_default().trim().to_ascii_lowercase();
            let q = parts
                .find_map(|p| {
                    p.trim()
                        .strip_prefix("q=")
                        .or_else(|| p.trim().strip_prefix("Q="))
                })
                .map_or(1000, parse_q);
            if token == "*" {
                wildcard = Some(q);
            } else if let Some(c) = Coding::ALL
                .iter()
                .find(|c| c.token() == token || (token == "x-gzip" && **c == Coding::Gzip))
            {
                named.push((*c, q));
            }
        }
    }
    for c in Coding::ALL {
        let q = named
            .iter()
            .find(|(n, _)| *n == c)
            .map(|(_, q)| *q)
            .or(wildcard)
            .unwrap_or(0);
        if q > 0 {
            weights.push((c, q));
        }
    }
    // Stable sort keeps our preference among equal weights.
    weights.sort_by_key(|(_, q)| std::cmp::Reverse(*q));
    weights.into_iter().map(|(c, _)| c).collect()
}

/// A q-value in thousandths; malformed values count as 0 (refused).
fn parse_q(s: &str) -> u16 {
    s.trim()
        .parse::<f32>()
        .ok()
        .filter(|q| (0.0..=1.0).contains(q))
        .map_or(0, |q| (q * 1000.0).round() as u16)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn acc(v: &str) -> Vec<Coding> {
        let mut h = HeaderMap::new();
        h.insert(ACCEPT_ENCODING, v.parse().unwrap());
        accepted(&h)
    }

    #[test]
    fn q_values() {
        use Coding::*;
        assert_eq!(acc("gzip, deflate, br"), [Br, Gzip, Deflate]);
        assert_eq!(acc("gzip;q=1.0, br;q=0.5"), [Gzip, Br]);
        assert_eq!(acc("br;q=0, gzip"), [Gzip]);
        assert_eq!(acc("*"), [Br, Zstd, Gzip, Deflate]);
        assert_eq!(acc("*;q=0.1, gzip;q=0"), [Br, Zstd, Deflate]);
        assert_eq!(acc("identity"), []);
        assert_eq!(acc("gzip;q=bogus"), []);
        assert!(accepted(&HeaderMap::new()).is_empty());
    }
}

//! Validators (`ETag`, `Last-Modified`) and conditional requests, RFC 9110 §13.
//!
//! GPAC differs: its ETag is the unquoted mtime and it knows no
//! `Last-Modified`, `If-Modified-Since`, `If-Match` or `If-Range`.

use std::fs::Metadata;
use std::os::unix::fs::MetadataExt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::header::{IF_MATCH, IF_MODIFIED_SINCE, IF_NONE_MATCH, IF_RANGE, IF_UNMODIFIED_SINCE};
use http::{HeaderMap, HeaderValue, Method};

/// An entity tag, RFC 9110 §8.8.3.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ETag {
    weak: bool,
    /// The opaque tag, without quotes.
    tag: String,
}

impl ETag {
    /// A strong tag from size, modification time and inode: it changes when
    /// the file is replaced or rewritten.
    pub(crate) fn from_meta(meta: &Metadata) -> Self {
        Self {
            weak: false,
            tag: format!(
                "{:x}-{:x}-{:x}",
                meta.len(),
                // i128: no overflow for any date, before 1970 included.
                (i128::from(meta.mtime()) * 1_000_000_000 + i128::from(meta.mtime_nsec())) as u64,
                meta.ino()
            ),
        }
    }

    /// The tag of a content-coded variant of the same file: `"TAG-gzip"`,
    /// weak when the coding is done on the fly (its bytes may differ
    /// between encoder versions; nginx does the same).
    pub(crate) fn for_coding(&self, coding: &str, weak: bool) -> Self {
        Self {
            weak: weak || self.weak,
            tag: format!("{}-{coding}", self.tag),
        }
    }

    pub(crate) fn header(&self) -> HeaderValue {
        let text = if self.weak {
            format!("W/\"{}\"", self.tag)
        } else {
            format!("\"{}\"", self.tag)
        };
        HeaderValue::from_str(&text).expect("hex digits and dashes")
    }

    /// Strong comparison, §8.8.3.2: both strong and the same opaque tag.
    fn strong_eq(&self, other: &Self) -> bool {
        !self.weak && !other.weak && self.tag == other.tag
    }

    /// Weak comparison, §8.8.3.2: the same opaque tag.
    fn weak_eq(&self, other: &Self) -> bool {
        self.tag == other.tag
    }
}

/// Parses `*` or a list of entity tags (`If-Match`, `If-None-Match`);
/// `None` for `*`, an empty list when nothing parses.
fn parse_tag_list(value: &HeaderValue) -> Option<Vec<ETag>> {
    let s = value.to_str().unwrap_or_default().trim();
    if s == "*" {
        return None;
    }
    let mut out = Vec::new();
    let mut rest = s;
    loop {
        rest = rest.trim_start_matches([' ', '\t', ',']);
        if rest.is_empty() {
            break;
        }
        let (weak, r) = match rest.strip_prefix("W/") {
            Some(r) => (true, r),
            None => (false, rest),
        };
        let Some(r) = r.strip_prefix('"') else { break };
        let Some(end) = r.find('"') else { break };
        out.push(ETag {
            weak,
            tag: r[..end].to_owned(),
        });
        rest = &r[end + 1..];
    }
    Some(out)
}

/// What a representation can be checked against.
#[derive(Debug, Clone)]
pub(crate) struct Validators {
    pub(crate) etag: Option<ETag>,
    pub(crate) last_modified: Option<SystemTime>,
}

/// The outcome of the preconditions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Precondition {
    /// Serve the request.
    Proceed,
    /// 304 Not Modified.
    NotModified,
    /// 412 Precondition Failed.
    Failed,
}

/// Evaluates the preconditions in the order of RFC 9110 §13.2.2.
pub(crate) fn evaluate(method: &Method, headers: &HeaderMap, v: &Validators) -> Precondition {
    let safe = method == Method::GET || method == Method::HEAD;
    // 1. If-Match, strong comparison.
    if let Some(value) = headers.get(IF_MATCH) {
        let matched = match parse_tag_list(value) {
            None => true,
            Some(tags) => v
                .etag
                .as_ref()
                .is_some_and(|cur| tags.iter().any(|t| t.strong_eq(cur))),
        };
        if !matched {
            return Precondition::Failed;
        }
    } else if let (Some(since), Some(modified)) =
        (http_date(headers.get(IF_UNMODIFIED_SINCE)), v.last_modified)
    {
        // 2. If-Unmodified-Since, when If-Match is absent.
        if seconds(modified) > seconds(since) {
            return Precondition::Failed;
        }
    }
    // 3. If-None-Match, weak comparison.
    if let Some(value) = headers.get(IF_NONE_MATCH) {
        let matched = match parse_tag_list(value) {
            None => true,
            Some(tags) => v
                .etag
                .as_ref()
                .is_some_and(|cur| tags.iter().any(|t| t.weak_eq(cur))),
        };
        if matched {
            return if safe {
                Precondition::NotModified
            } else {
                Precondition::Failed
            };
        }
    } else if safe {
        // 4. If-Modified-Since, for GET/HEAD when If-None-Match is absent.
        if let (Some(since), Some(modified)) =
            (http_date(headers.get(IF_MODIFIED_SINCE)), v.last_modified)
        {
            if seconds(modified) <= seconds(since) {
                return Precondition::NotModified;
            }
        }
    }
    Precondition::Proceed
}

/// Whether a `Range` may be honoured under `If-Range` (§13.1.5): absent, or
/// a strong entity tag that matches, or the exact `Last-Modified` date.
pub(crate) fn if_range_allows(headers: &HeaderMap, v: &Validators) -> bool {
    let Some(value) = headers.get(IF_RANGE) else {
        return true;
    };
    let text = value.to_str().unwrap_or_default().trim();
    if text.starts_with('"') || text.starts_with("W/") {
        let tags = parse_tag_list(value).unwrap_or_default();
        return match (tags.first(), &v.etag) {
            (Some(t), Some(cur)) => t.strong_eq(cur),
            _ => false,
        };
    }
    match (httpdate::parse_http_date(text).ok(), v.last_modified) {
        (Some(date), Some(modified)) => seconds(date) == seconds(modified),
        _ => false,
    }
}

fn http_date(value: Option<&HeaderValue>) -> Option<SystemTime> {
    httpdate::parse_http_date(value?.to_str().ok()?).ok()
}

/// HTTP dates have one-second resolution.
fn seconds(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_secs()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v() -> Validators {
        Validators {
            etag: Some(ETag {
                weak: false,
                tag: "abc".into(),
            }),
            last_modified: Some(UNIX_EPOCH + Duration::from_secs(1_700_000_000)),
        }
    }

    fn eval(pairs: &[(&'static str, &str)], method: &Method) -> Precondition {
        let mut h = HeaderMap::new();
        for (k, val) in pairs {
            h.insert(*k, val.parse().unwrap());
        }
        evaluate(method, &h, &v())
    }

    #[test]
    fn order_of_rfc_9110() {
        use Precondition::*;
        let date = httpdate::fmt_http_date(UNIX_EPOCH + Duration::from_secs(1_700_000_000));
        let older = httpdate::fmt_http_date(UNIX_EPOCH + Duration::from_secs(1_600_000_000));
        assert_eq!(
            eval(&[("if-none-match", "\"abc\"")], &Method::GET),
            NotModified
        );
        assert_eq!(
            eval(&[("if-none-match", "W/\"abc\"")], &Method::HEAD),
            NotModified
        );
        assert_eq!(
            eval(&[("if-none-match", "\"x\", \"abc\"")], &Method::GET),
            NotModified
        );
        assert_eq!(eval(&[("if-none-match", "*")], &Method::GET), NotModified);
        assert_eq!(eval(&[("if-none-match", "\"x\"")], &Method::GET), Proceed);
        assert_eq!(eval(&[("if-none-match", "\"abc\"")], &Method::PUT), Failed);
        assert_eq!(eval(&[("if-match", "\"abc\"")], &Method::GET), Proceed);
        assert_eq!(eval(&[("if-match", "W/\"abc\"")], &Method::GET), Failed);
        assert_eq!(eval(&[("if-match", "\"nope\"")], &Method::GET), Failed);
        assert_eq!(
            eval(&[("if-modified-since", &date)], &Method::GET),
            NotModified
        );
        assert_eq!(
            eval(&[("if-modified-since", &older)], &Method::GET),
            Proceed
        );
        assert_eq!(
            eval(&[("if-unmodified-since", &older)], &Method::GET),
            Failed
        );
        assert_eq!(
            eval(&[("if-unmodified-since", &date)], &Method::GET),
            Proceed
        );
        // If-None-Match wins over If-Modified-Since.
        assert_eq!(
            eval(
                &[("if-none-match", "\"x\""), ("if-modified-since", &date)],
                &Method::GET
            ),
            Proceed
        );
        assert_eq!(
            eval(&[("if-modified-since", "garbage")], &Method::GET),
            Proceed
        );
    }

    #[test]
    fn if_range() {
        let mut h = HeaderMap::new();
        assert!(if_range_allows(&h, &v()));
        h.insert(IF_RANGE, "\"abc\"".parse().unwrap());
        assert!(if_range_allows(&h, &v()));
        h.insert(IF_RANGE, "W/\"abc\"".parse().unwrap());
        assert!(!if_range_allows(&h, &v()));
        let date = httpdate::fmt_http_date(UNIX_EPOCH + Duration::from_secs(1_700_000_000));
        h.insert(IF_RANGE, date.parse().unwrap());
        assert!(if_range_allows(&h, &v()));
        h.insert(IF_RANGE, "Tue, 15 Nov 1994 08:12:31 GMT".parse().unwrap());
        assert!(!if_range_allows(&h, &v()));
    }
}

//! Property tests of range decisions (`read/range.rs`), through the public
//! `StaticHandler` (no socket: the handler is called directly).
//!
//! 10 000 cases per property and run (`cargo test -p httpout-static --test
//! fuzz_range`): whatever the `Range` header, the answer is a 200 with the
//! whole file, a 206 whose `Content-Range` (or every part's) lies inside
//! the file and carries exactly those bytes, or a 416 naming the size; a
//! satisfiable single range is always honoured; several parts never add up
//! to more than the file.

use std::sync::OnceLock;

use http::{HeaderValue, Request, StatusCode};
use http_body_util::BodyExt;
use httpout_core::{Body, Ctx, Error, Handler, SafePath};
use httpout_static::{StaticConfig, StaticHandler};
use proptest::prelude::*;

/// File sizes served, each as `/f{SIZE}`.
const SIZES: &[u64] = &[0, 1, 2, 80, 200, 1000, 5000];

struct Fixture {
    handler: StaticHandler,
    rt: tokio::runtime::Runtime,
    _dir: tempfile::TempDir,
}

fn content(size: u64) -> Vec<u8> {
    (0..size).map(|i| (i * 7 % 251) as u8).collect()
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        for &size in SIZES {
            std::fs::write(dir.path().join(format!("f{size}")), content(size)).unwrap();
        }
        let config = StaticConfig {
            zmax: 0,
            ..StaticConfig::default()
        };
        Fixture {
            handler: StaticHandler::new(dir.path(), config).unwrap(),
            rt: tokio::runtime::Builder::new_current_thread()
                .build()
                .unwrap(),
            _dir: dir,
        }
    })
}

/// GET `/f{size}` with `range`: status, headers, body.
fn get(size: u64, range: Option<HeaderValue>) -> (StatusCode, http::HeaderMap, Vec<u8>) {
    let f = fixture();
    let path = format!("/f{size}");
    let mut req = Request::builder().uri(&path);
    if let Some(r) = range {
        req = req.header(http::header::RANGE, r);
    }
    let ctx = Ctx {
        peer: None,
        tls: false,
        path: SafePath::parse(&path).unwrap(),
        mount: SafePath::root(),
        user: None,
        metrics: Default::default(),
    };
    f.rt.block_on(async {
        let res = f
            .handler
            .handle(req.body(Body::empty()).unwrap(), ctx)
            .await
            .unwrap_or_else(Error::into_response);
        let (parts, body) = res.into_parts();
        let bytes = body.collect().await.expect("the whole body").to_bytes();
        (parts.status, parts.headers, bytes.to_vec())
    })
}

/// `bytes A-B/SIZE` → (A, B), checked against the file.
fn content_range(value: &str, size: u64) -> Result<(u64, u64), TestCaseError> {
    let spec = value
        .strip_prefix("bytes ")
        .ok_or_else(|| TestCaseError::fail(format!("Content-Range {value:?}")))?;
    let (range, total) = spec.split_once('/').unwrap();
    prop_assert_eq!(total.parse::<u64>().ok(), Some(size));
    let (a, b) = range.split_once('-').unwrap();
    let (a, b): (u64, u64) = (a.parse().unwrap(), b.parse().unwrap());
    prop_assert!(a <= b && b < size, "{} outside a file of {}", value, size);
    Ok((a, b))
}

/// A number near the interesting ones (0, the sizes, their neighbours) or any.
fn number() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => (0u64..6000).prop_map(|n| n.to_string()),
        2 => prop::sample::select(SIZES).prop_flat_map(|s| s.saturating_sub(2)..s + 2).prop_map(|n| n.to_string()),
        1 => any::<u64>().prop_map(|n| n.to_string()),
        1 => Just("18446744073709551616".to_owned()),
        1 => Just("007".to_owned()),
    ]
}

/// One range spec: `A-B`, `A-`, `-N`, or something broken.
fn spec() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => (number(), number()).prop_map(|(a, b)| format!("{a}-{b}")),
        2 => number().prop_map(|a| format!("{a}-")),
        2 => number().prop_map(|n| format!("-{n}")),
        1 => prop::sample::select(&["", "-", "--1", "a-b", " 1-2", "1 - 2", "1-2-3", "+1-2"][..]).prop_map(str::to_owned),
    ]
}

/// A `Range` header: mostly `bytes=` and specs, sometimes anything.
fn range() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        8 => (
            prop::sample::select(&["bytes=", "bytes=", "Bytes=", "bytes =", "items=", "bytes"][..]),
            prop::collection::vec(spec(), 0..8),
            prop::sample::select(&[",", ", ", " ,"][..]),
        )
            .prop_map(|(unit, specs, sep)| format!("{unit}{}", specs.join(sep)).into_bytes()),
        1 => (0usize..130).prop_map(|n| {
            let specs: Vec<String> = (0..n).map(|i| format!("{}-{}", i * 3, i * 3)).collect();
            format!("bytes={}", specs.join(",")).into_bytes()
        }),
        1 => prop::collection::vec(any::<u8>(), 0..40),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(10_000))]

    /// Every answer is the whole file, ranges inside the file with exactly
    /// their bytes, or a 416 naming the size.
    #[test]
    fn a_range_answer_never_lies_outside_the_file(size in prop::sample::select(SIZES), range in range()) {
        let Ok(value) = HeaderValue::from_bytes(&range) else { return Ok(()) };
        let file = content(size);
        let (status, headers, body) = get(size, Some(value));
        let header = |n: http::header::HeaderName| headers.get(n).map(|v| v.to_str().unwrap().to_owned());
        match status {
            StatusCode::OK => prop_assert_eq!(body, file),
            StatusCode::PARTIAL_CONTENT => {
                let ct = header(http::header::CONTENT_TYPE).unwrap_or_default();
                if let Some(boundary) = ct.strip_prefix("multipart/byteranges; boundary=") {
                    let parts = httpout_test::parse_multipart(&body, boundary);
                    prop_assert!(parts.len() >= 2, "{} parts", parts.len());
                    let mut total = 0;
                    for p in &parts {
                        let (a, b) = content_range(p.header("content-range").unwrap(), size)?;
                        prop_assert_eq!(&p.body[..], &file[a as usize..=b as usize]);
                        total += b - a + 1;
                    }
                    prop_assert!(total <= size, "parts add up to {} of {}", total, size);
                } else {
                    let (a, b) = content_range(&header(http::header::CONTENT_RANGE).unwrap(), size)?;
                    prop_assert_eq!(&body[..], &file[a as usize..=b as usize]);
                }
            }
            StatusCode::RANGE_NOT_SATISFIABLE => {
                prop_assert_eq!(header(http::header::CONTENT_RANGE), Some(format!("bytes */{size}")));
            }
            other => prop_assert!(false, "status {} for {:?}", other, String::from_utf8_lossy(&range)),
        }
    }

    /// One satisfiable range is honoured exactly: `A-B` from A to
    /// min(B, size-1), `A-` to the end, `-N` the last N bytes.
    #[test]
    fn a_single_satisfiable_range_is_served(size in prop::sample::select(&SIZES[1..]), a in 0u64..6000, len in 0u64..6000, form in 0u8..3) {
        let a = a % size;
        let (text, want) = match form {
            0 => (format!("bytes={a}-{}", a + len), a..(a + len + 1).min(size)),
            1 => (format!("bytes={a}-"), a..size),
            _ => {
                let n = len + 1;
                (format!("bytes=-{n}"), size - n.min(size)..size)
            }
        };
        let (status, headers, body) = get(size, Some(HeaderValue::from_str(&text).unwrap()));
        prop_assert_eq!(status, StatusCode::PARTIAL_CONTENT, "{}", text);
        let want_header = format!("bytes {}-{}/{size}", want.start, want.end - 1);
        prop_assert_eq!(headers[http::header::CONTENT_RANGE].to_str().unwrap(), want_header.as_str());
        prop_assert_eq!(&body[..], &content(size)[want.start as usize..want.end as usize]);
    }
}

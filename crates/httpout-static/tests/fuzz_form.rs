//! Property tests of form file-name sanitising (`write/form.rs`), through
//! the public `StaticHandler` with a write directory (no socket).
//!
//! 10 000 cases per run (`cargo test -p httpout-static --test fuzz_form`):
//! whatever file name a browser form carries (paths of any OS, `..`,
//! control characters, temporary-upload names, 300 bytes...), the upload
//! is refused with a 4xx or stored under a plain name directly in the
//! directory of the URL, with exactly the bytes sent; nothing is written
//! anywhere else and no temporary file stays behind.

use std::path::Path;
use std::sync::OnceLock;

use http::{Request, StatusCode};
use http_body_util::BodyExt;
use httpout_core::{Body, Ctx, Error, Handler, SafePath};
use httpout_static::{StaticConfig, StaticHandler};
use proptest::prelude::*;

struct Fixture {
    handler: StaticHandler,
    rt: tokio::runtime::Runtime,
    /// Holds `read/` and `write/`: nothing else may appear in it.
    dir: tempfile::TempDir,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("read")).unwrap();
        std::fs::create_dir(dir.path().join("write")).unwrap();
        let handler = StaticHandler::new(dir.path().join("read"), StaticConfig::default())
            .unwrap()
            .with_write_dir(dir.path().join("write"), 1 << 20, None)
            .unwrap();
        Fixture {
            handler,
            rt: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap(),
            dir,
        }
    })
}

/// POSTs a form with one file part named `filename` (as written in the
/// part's header) holding `data`.
fn post(filename: &[u8], data: &[u8]) -> (StatusCode, String) {
    let f = fixture();
    let mut body = Vec::new();
    body.extend_from_slice(b"--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"");
    body.extend_from_slice(filename);
    body.extend_from_slice(b"\"\r\nContent-Type: application/octet-stream\r\n\r\n");
    body.extend_from_slice(data);
    body.extend_from_slice(b"\r\n--XyZ--\r\n");
    let req = Request::post("/")
        .header("content-type", "multipart/form-data; boundary=XyZ")
        .body(Body::full(body))
        .unwrap();
    let ctx = Ctx {
        peer: None,
        tls: false,
        path: SafePath::root(),
        mount: SafePath::root(),
        user: None,
        metrics: Default::default(),
    };
    f.rt.block_on(async {
        let res = f
            .handler
            .handle(req, ctx)
            .await
            .unwrap_or_else(Error::into_response);
        let status = res.status();
        let text = res.into_body().collect().await.unwrap().to_bytes();
        (status, String::from_utf8_lossy(&text).into_owned())
    })
}

/// Names in `dir`.
fn names(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect()
}

/// Pieces of hostile and ordinary file names.
const PIECES: &[&str] = &[
    "a",
    "photo.jpg",
    ".",
    "..",
    "/",
    "\\",
    "../",
    "..\\",
    "C:",
    "/etc/passwd",
    " ",
    "\t",
    "\0",
    "\u{1}",
    "\u{7f}",
    "\u{85}",
    "é",
    "%2e%2e",
    "%2f",
    ".httpout-upload-",
    ".tmp",
    "\\\"",
    "'",
    ";",
    "=",
    "*",
    "?",
    "~",
    "\u{202e}",
];

fn filename() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        6 => prop::collection::vec(prop::sample::select(PIECES), 0..8)
            .prop_map(|p| p.concat().into_bytes()),
        1 => (1usize..300).prop_map(|n| "x".repeat(n).into_bytes()),
        1 => (0usize..4, 250usize..260).prop_map(|(k, n)| format!("{}{}", "é".repeat(k), "y".repeat(n)).into_bytes()),
        1 => prop::collection::vec(any::<u8>(), 0..24),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(10_000))]

    /// A form upload is refused (4xx) or stored under a plain name in the
    /// directory, with its bytes; nothing else is written.
    #[test]
    fn a_form_file_name_never_escapes_the_directory(
        name in filename(),
        data in prop::collection::vec(any::<u8>(), 0..64),
    ) {
        let f = fixture();
        let write = f.dir.path().join("write");
        let (status, text) = post(&name, &data);
        match status {
            StatusCode::CREATED => {
                let stored = text
                    .strip_prefix("stored ")
                    .and_then(|t| t.strip_suffix('\n'))
                    .unwrap_or_else(|| panic!("{text:?}"));
                prop_assert!(!stored.is_empty() && stored != "." && stored != "..");
                prop_assert!(!stored.contains(['/', '\\']) && !stored.chars().any(char::is_control), "{:?}", stored);
                prop_assert!(stored.len() <= 255 && !stored.starts_with('.'), "{:?}", stored);
                prop_assert_eq!(std::fs::read(write.join(stored)).unwrap(), data);
                std::fs::remove_file(write.join(stored)).unwrap();
            }
            s if s.is_client_error() => {}
            s => prop_assert!(false, "{} for {:?}: {}", s, String::from_utf8_lossy(&name), text),
        }
        // Nothing beside the two directories; nothing left in either.
        let mut top = names(f.dir.path());
        top.sort();
        prop_assert_eq!(top, ["read", "write"]);
        prop_assert_eq!(names(&write), Vec::<String>::new(), "after {:?}", String::from_utf8_lossy(&name));
        prop_assert_eq!(names(&f.dir.path().join("read")), Vec::<String>::new());
    }
}

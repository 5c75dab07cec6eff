//! TRACE (issue 18): 405 by default, the request echoed with `--trace`
//! minus its credentials, 400 with content; curl as the client over
//! HTTP/1.1 and HTTP/2 (prior knowledge).

mod support;

use support::{Httpout, curl};

fn server(extra: &[&str]) -> (tempfile::TempDir, Httpout) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("f.txt"), "file").unwrap();
    let rdirs = format!("--rdirs={}", dir.path().display());
    let mut args = vec!["--ifce=127.0.0.1", "--port=0", rdirs.as_str()];
    args.extend_from_slice(extra);
    let server = Httpout::start(&args, 1);
    (dir, server)
}

/// `curl -X TRACE` with the credentials a browser could send: the
/// response head (lower case) and body.
fn trace(url: &str, extra: &[&str]) -> (String, String) {
    let head = tempfile::NamedTempFile::new().unwrap();
    let mut args = vec![
        "-X",
        "TRACE",
        "-D",
        head.path().to_str().unwrap(),
        "-H",
        "Authorization: Basic c2VjcmV0LXRva2Vu",
        "-H",
        "Proxy-Authorization: Basic c2VjcmV0LXByb3h5",
        "-H",
        "Cookie: session=secret-cookie",
        "-H",
        "X-Probe: seen",
    ];
    args.extend_from_slice(extra);
    args.push(url);
    let out = curl(&args);
    (
        std::fs::read_to_string(head.path()).unwrap().to_lowercase(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[test]
fn trace_is_405_by_default() {
    let (_dir, server) = server(&[]);
    let url = format!("{}/f.txt", server.url());
    for version in ["--http1.1", "--http2-prior-knowledge"] {
        let (head, body) = trace(&url, &[version]);
        assert!(head.contains(" 405"), "{version}: {head}");
        assert!(head.contains("\nallow: get, head"), "{version}: {head}");
        assert!(!body.contains("secret"), "{body}");
    }
}

#[test]
fn trace_echoes_the_request_without_credentials() {
    let (_dir, server) = server(&["--trace"]);
    let url = format!("{}/f.txt?q=1", server.url());
    for (flag, version) in [
        ("--http1.1", "HTTP/1.1"),
        ("--http2-prior-knowledge", "HTTP/2.0"),
    ] {
        let (head, body) = trace(&url, &[flag]);
        assert!(head.contains(" 200"), "{flag}: {head}");
        assert!(head.contains("content-type: message/http"), "{head}");
        assert!(
            body.starts_with(&format!("TRACE /f.txt?q=1 {version}\r\n")),
            "{body}"
        );
        assert!(body.contains("x-probe: seen\r\n"), "{body}");
        assert!(body.contains("host: 127.0.0.1:"), "{body}");
        assert!(body.ends_with("\r\n\r\n"), "{body:?}");
        assert!(!body.contains("secret"), "{body}");
        let lower = body.to_lowercase();
        assert!(
            !lower.contains("authorization") && !lower.contains("cookie"),
            "{body}"
        );
    }
    // A TRACE with content is refused (RFC 9110 §9.3.8).
    for flag in ["--http1.1", "--http2-prior-knowledge"] {
        let (head, body) = trace(&url, &[flag, "--data-binary", "abc"]);
        assert!(head.contains(" 400"), "{flag}: {head}");
        assert!(!body.contains("secret"), "{body}");
    }
}

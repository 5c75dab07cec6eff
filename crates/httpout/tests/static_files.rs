//! The static server as users run it: the built binary and curl.

use std::path::Path;

mod support;

use httpout_test::parse_multipart;
use support::{Httpout, curl, self_signed};

fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 31 % 251) as u8).collect()
}

fn site() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("video.mp4"), pattern(300_000)).unwrap();
    std::fs::write(dir.path().join("live.mpd"), "<MPD>".repeat(1000)).unwrap();
    std::fs::create_dir(dir.path().join("segs")).unwrap();
    std::fs::write(dir.path().join("segs/seg_1.m4s"), pattern(10)).unwrap();
    dir
}

fn start(dir: &Path, extra: &[&str]) -> Httpout {
    let rdirs = format!("--rdirs={}", dir.display());
    let mut args = vec!["--ifce=127.0.0.1", "--port=0", rdirs.as_str()];
    args.extend_from_slice(extra);
    Httpout::start(&args, 1)
}

fn head_of(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).to_lowercase()
}

#[test]
fn curl_downloads_whole_files_over_h1_h2c_and_https() {
    let dir = site();
    let server = start(dir.path(), &[]);
    let out_file = dir.path().join("download");
    let url = format!("{}/video.mp4", server.url());
    for proto in ["--http1.1", "--http2-prior-knowledge"] {
        let out = curl(&[
            proto,
            "-o",
            &out_file.display().to_string(),
            "-w",
            "%{http_code} %{http_version}",
            &url,
        ]);
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            if proto == "--http1.1" {
                "200 1.1"
            } else {
                "200 2"
            }
        );
        assert_eq!(std::fs::read(&out_file).unwrap(), pattern(300_000));
    }
    let out = curl(&["-I", &url]);
    let head = head_of(&out);
    assert!(
        head.starts_with("http/1.1 200")
            && head.contains("content-length: 300000")
            && head.contains("content-type: video/mp4"),
        "{head}"
    );

    let certs = tempfile::tempdir().unwrap();
    let (cert, key) = self_signed(certs.path());
    let rdirs = format!("--rdirs={}", dir.path().display());
    let tls = Httpout::start(
        &[
            "--listen=https://127.0.0.1:0",
            &rdirs,
            &format!("--cert={}", cert.display()),
            &format!("--pkey={}", key.display()),
        ],
        1,
    );
    let url = format!("{}/video.mp4", tls.url());
    let out = curl(&[
        "--cacert",
        &cert.display().to_string(),
        "--http2",
        "-o",
        &out_file.display().to_string(),
        "-w",
        "%{http_version}",
        &url,
    ]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "2");
    assert_eq!(std::fs::read(&out_file).unwrap(), pattern(300_000));
}

#[test]
fn curl_multi_range_parts_match_the_file_byte_for_byte() {
    let dir = site();
    let server = start(dir.path(), &[]);
    let src = pattern(300_000);
    let url = format!("{}/video.mp4", server.url());
    for proto in ["--http1.1", "--http2-prior-knowledge"] {
        let headers = dir.path().join("h.txt");
        let out = curl(&[
            proto,
            "-r",
            "0-99,150000-150999,-10",
            "-D",
            &headers.display().to_string(),
            &url,
        ]);
        let head = std::fs::read_to_string(&headers).unwrap();
        assert!(
            head.contains(" 206") && head.to_lowercase().contains("multipart/byteranges"),
            "{head}"
        );
        let boundary = head
            .lines()
            .find_map(|l| l.split_once("boundary="))
            .map(|(_, b)| b.trim().to_owned())
            .expect("a boundary");
        let parts = parse_multipart(&out.stdout, &boundary);
        let want = [
            (0..100, "bytes 0-99/300000"),
            (150_000..151_000, "bytes 150000-150999/300000"),
            (299_990..300_000, "bytes 299990-299999/300000"),
        ];
        assert_eq!(parts.len(), 3, "{proto}");
        for (part, (range, cr)) in parts.iter().zip(want) {
            assert_eq!(part.header("content-range"), Some(cr));
            assert_eq!(part.header("content-type"), Some("video/mp4"));
            assert_eq!(part.body, src[range], "{proto} {cr}");
        }
    }
    let out = curl(&[
        "-r",
        "400000-",
        "-w",
        "%{http_code}",
        "-o",
        "/dev/null",
        &url,
    ]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "416");
}

#[test]
fn curl_compressed_listing_and_redirect() {
    let dir = site();
    let server = start(dir.path(), &["--dlist"]);
    let out = curl(&[
        "--compressed",
        "-D",
        "-",
        &format!("{}/live.mpd", server.url()),
    ]);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        text.to_lowercase().contains("content-encoding: "),
        "{text:.300}"
    );
    assert!(
        text.ends_with(&"<MPD>".repeat(1000)),
        "curl decoded the body"
    );
    let out = curl(&["-L", &format!("{}/segs", server.url())]);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("seg_1.m4s"),
        "listing after redirect"
    );
}

/// Issue 11 item 9: `Range: bytes=0-` (how players probe range support) is
/// answered 206 with `Content-Range`, as nginx does, not 200.
#[test]
fn curl_range_from_zero_is_206_with_content_range() {
    let dir = site();
    let server = start(dir.path(), &[]);
    let url = format!("{}/video.mp4", server.url());
    let out_file = dir.path().join("download");
    for proto in ["--http1.1", "--http2-prior-knowledge"] {
        for spec in ["0-", "0-299999", "0-149999,150000-"] {
            let out = curl(&[
                proto,
                "-r",
                spec,
                "-D",
                "-",
                "-o",
                &out_file.display().to_string(),
                &url,
            ]);
            let head = head_of(&out);
            assert!(
                head.lines().next().is_some_and(|l| l.contains(" 206")),
                "{proto} {spec}: {head}"
            );
            assert!(
                head.contains("content-range: bytes 0-299999/300000"),
                "{proto} {spec}: {head}"
            );
            assert_eq!(std::fs::read(&out_file).unwrap(), pattern(300_000));
        }
    }
}

/// Issue 11 item 5: `--rdirs=.` must not expose `.git/`, `.env` or
/// `.htpasswd`: dotfiles are 404 (files, directories, files still being
/// written by a local writer) and left out of HTML and JSON listings;
/// `.well-known/` and precompressed siblings keep working; `--hidden`
/// serves and lists them.
#[test]
fn dotfiles_are_neither_served_nor_listed_without_hidden() {
    let dir = site();
    let p = dir.path();
    std::fs::write(p.join(".env"), "SECRET=1").unwrap();
    std::fs::write(p.join(".htpasswd"), "alice:x").unwrap();
    std::fs::create_dir_all(p.join(".git")).unwrap();
    std::fs::write(p.join(".git/config"), "[core]").unwrap();
    std::fs::write(p.join(".git/index.html"), "index").unwrap();
    std::fs::create_dir_all(p.join("segs/.cache")).unwrap();
    std::fs::write(p.join("segs/.cache/x.m4s"), "x").unwrap();
    std::fs::create_dir_all(p.join(".well-known/acme-challenge")).unwrap();
    std::fs::write(p.join(".well-known/acme-challenge/tok"), "proof").unwrap();
    std::fs::write(p.join("app.js"), "identity").unwrap();
    std::fs::write(p.join("app.js.gz"), "not really gzip").unwrap();
    let server = start(p, &["--dlist"]);
    let get = |path: &str, extra: &[&str]| {
        let url = format!("{}{path}", server.url());
        let mut args = vec!["-w", "\n%{http_code}"];
        args.extend_from_slice(extra);
        args.push(&url);
        let out = String::from_utf8_lossy(&curl(&args).stdout).into_owned();
        let (body, code) = out.rsplit_once('\n').unwrap();
        (code.to_owned(), body.to_owned())
    };
    for path in [
        "/.env",
        "/.htpasswd",
        "/.git/config",
        "/.git/",
        "/.git",
        "/%2egit/config",
        "/segs/.cache/x.m4s",
        "/segs/.cache/",
    ] {
        assert_eq!(get(path, &["--path-as-is"]).0, "404", "{path}");
    }
    assert_eq!(
        get("/.well-known/acme-challenge/tok", &[]),
        ("200".into(), "proof".into())
    );
    let (code, body) = get("/app.js", &["-H", "Accept-Encoding: gzip"]);
    assert_eq!((code.as_str(), body.as_str()), ("200", "not really gzip"));
    for accept in ["text/html", "application/json"] {
        for listing in ["/", "/segs/"] {
            let (code, body) = get(listing, &["-H", &format!("Accept: {accept}")]);
            assert_eq!(code, "200");
            assert!(
                body.contains("video.mp4") || body.contains("seg_1.m4s"),
                "{body}"
            );
            for secret in [".env", ".git", ".htpasswd", ".cache", ".well-known"] {
                assert!(!body.contains(secret), "{listing} {accept}: {body}");
            }
        }
    }
    // A dotfile being written by a local writer (the live edge): 404 too,
    // while a visible file being written is served from the edge.
    let mut secret = std::fs::File::create(p.join(".growing.ts")).unwrap();
    let mut visible = std::fs::File::create(p.join("growing.ts")).unwrap();
    use std::io::Write;
    secret.write_all(b"secret bytes").unwrap();
    visible.write_all(b"visible bytes").unwrap();
    let mut served = false;
    for _ in 0..100 {
        let (code, body) = get("/growing.ts", &["--max-time", "1"]);
        if code == "200" || body.starts_with("visible") {
            served = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(served, "the visible file is served while written");
    // Answered at once (curl's 10 s would end a served growing file).
    assert_eq!(get("/.growing.ts", &[]).0, "404");
    drop((secret, visible));

    // --hidden opts in.
    let open = start(p, &["--dlist", "--hidden"]);
    let url = |path: &str| format!("{}{path}", open.url());
    let out = curl(&[&url("/.env")]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "SECRET=1");
    let out = curl(&[
        "-w",
        "%{http_code}",
        "-o",
        "/dev/null",
        &url("/.git/config"),
    ]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "200");
    let listing = String::from_utf8_lossy(&curl(&[&url("/")]).stdout).into_owned();
    assert!(
        listing.contains(".env") && listing.contains(".git/"),
        "{listing}"
    );
}

//! The command line's side of issue 19: `--run_for`, `--port=scan:START`,
//! `--server_tokens`, `--index` and `--mime_types`, on the built binary
//! over real sockets (curl, raw TCP), and their bad values (one line,
//! exit 2).

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use support::{Httpout, curl, run_to_exit};

/// The response head of `curl ARGS URL` (lower case).
fn head(args: &[&str], url: &str) -> String {
    let mut all = vec!["-D", "-", "-o", "/dev/null"];
    all.extend_from_slice(args);
    all.push(url);
    let out = curl(&all);
    assert!(out.status.success(), "curl {all:?}: {out:?}");
    String::from_utf8_lossy(&out.stdout).to_lowercase()
}

/// The body of a GET of `url`.
fn body(url: &str) -> String {
    let out = curl(&[url]);
    assert!(out.status.success(), "curl {url}: {out:?}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn run_for_exits_0_after_the_time_with_an_upload_in_flight_finished() {
    let dir = tempfile::tempdir().unwrap();
    let wdir = format!("--wdir={}", dir.path().display());
    let seconds = 2;
    let begin = Instant::now();
    let server = Httpout::start(
        &[
            "--ifce=127.0.0.1",
            "--port=0",
            &wdir,
            &format!("--run_for={seconds}"),
            "--grace=60",
        ],
        1,
    );
    let addr = server.url().trim_start_matches("http://").to_owned();
    let mut s = TcpStream::connect(&addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    s.write_all(b"PUT /up.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nfirst")
        .unwrap();
    // The time is up while the upload waits for its second half.
    let err = server.stderr_once("(--run_for)");
    assert!(err.contains("ran for 2 s (--run_for)"), "{err}");
    assert!(begin.elapsed() >= Duration::from_secs(seconds));
    s.write_all(b"-last").unwrap();
    let mut response = String::new();
    let _ = s.read_to_string(&mut response);
    assert!(response.starts_with("HTTP/1.1 201"), "{response}");
    let (code, err) = server.wait_exit(Duration::from_secs(30));
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(
        std::fs::read_to_string(dir.path().join("up.txt")).unwrap(),
        "first-last"
    );
}

#[test]
fn port_scan_listens_on_the_next_free_port() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.txt"), "scanned").unwrap();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let start = taken.local_addr().unwrap().port();
    let server = Httpout::start(
        &[
            "--ifce=127.0.0.1",
            &format!("--port=scan:{start}"),
            &format!("--rdirs={}", dir.path().display()),
        ],
        1,
    );
    let port: u16 = server.url().rsplit(':').next().unwrap().parse().unwrap();
    assert!(port > start, "{} above the taken {start}", server.url());
    assert_eq!(body(&format!("{}/a.txt", server.url())), "scanned");
}

#[test]
fn server_tokens_on_http1_and_h2c_and_off() {
    let dir = tempfile::tempdir().unwrap();
    let rdirs = format!("--rdirs={}", dir.path().display());
    let version = env!("CARGO_PKG_VERSION");
    let server = Httpout::start(
        &[
            "--ifce=127.0.0.1",
            "--port=0",
            &rdirs,
            "--server_tokens=test/1.3; extra",
        ],
        1,
    );
    let url = format!("{}/none", server.url());
    let want = format!("server: httpout/{version} test/1.3 extra\r\n");
    assert!(head(&[], &url).contains(&want), "{}", head(&[], &url));
    let h2 = head(&["--http2-prior-knowledge"], &url);
    assert!(h2.starts_with("http/2 404") && h2.contains(&want), "{h2}");

    let off = Httpout::start(
        &[
            "--ifce=127.0.0.1",
            "--port=0",
            &rdirs,
            "--server_tokens=off",
        ],
        1,
    );
    let url = format!("{}/none", off.url());
    assert!(head(&[], &url).contains("server: httpout\r\n"));
    let h2 = head(&["--http2-prior-knowledge"], &url);
    assert!(h2.contains("server: httpout\r\n"), "{h2}");
}

#[test]
fn index_lists_the_index_files_in_order() {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in [
        ("both/index.htm", "both: index.htm"),
        ("both/default.html", "both: default.html"),
        ("both/index.html", "both: index.html"),
        ("htm/index.htm", "htm: index.htm"),
        ("html/index.html", "html: index.html"),
    ] {
        let path = dir.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    let server = Httpout::start(
        &[
            "--ifce=127.0.0.1",
            "--port=0",
            &format!("--rdirs={}", dir.path().display()),
            "--index=default.html,index.htm",
        ],
        1,
    );
    let url = server.url();
    assert_eq!(body(&format!("{url}/both/")), "both: default.html");
    assert_eq!(body(&format!("{url}/htm/")), "htm: index.htm");
    // index.html is no index file any more (and listings are off).
    assert!(head(&[], &format!("{url}/html/")).starts_with("http/1.1 403"));

    let none = Httpout::start(
        &[
            "--ifce=127.0.0.1",
            "--port=0",
            &format!("--rdirs={}", dir.path().display()),
            "--index=",
            "--dlist",
        ],
        1,
    );
    let listing = body(&format!("{}/both/", none.url()));
    assert!(
        listing.contains("default.html") && listing.contains("index.htm"),
        "`--index=`: a listing, no index file: {listing}"
    );
}

#[test]
fn mime_types_override_a_built_in_type_add_one_and_reload_on_sighup() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    std::fs::create_dir(&root).unwrap();
    for name in ["a.mp4", "b.newext", "c.mpd"] {
        std::fs::write(root.join(name), "x").unwrap();
    }
    let types = dir.path().join("mime.types");
    std::fs::write(
        &types,
        "# local types\nvideo/x-custom mp4\ntext/x-new  newext other\n",
    )
    .unwrap();
    let server = Httpout::start(
        &[
            "--ifce=127.0.0.1",
            "--port=0",
            &format!("--rdirs={}", root.display()),
            &format!("--mime_types={}", types.display()),
        ],
        1,
    );
    let url = server.url().to_owned();
    let content_type = |name: &str| {
        let h = head(&[], &format!("{url}/{name}"));
        h.lines()
            .find_map(|l| l.strip_prefix("content-type: "))
            .unwrap_or_default()
            .trim()
            .to_owned()
    };
    assert_eq!(content_type("a.mp4"), "video/x-custom");
    assert_eq!(content_type("b.newext"), "text/x-new");
    assert_eq!(content_type("c.mpd"), "application/dash+xml");

    std::fs::write(&types, "video/x-changed mp4\n").unwrap();
    server.signal("HUP");
    server.stderr_once("configuration reloaded");
    assert_eq!(content_type("a.mp4"), "video/x-changed");
    assert_eq!(content_type("b.newext"), "application/octet-stream");
}

#[test]
fn bad_values_are_one_line_and_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let root = format!("--rdirs={}", dir.path().display());
    let types = dir.path().join("bad.types");
    std::fs::write(&types, "# fine\ntext/x-a a\nnot a type\n").unwrap();
    let bad_types = format!("--mime_types={}", types.display());
    let at_line = format!("{}:3", types.display());
    let missing = format!("--mime_types={}", dir.path().join("none.types").display());
    let cases: Vec<(Vec<&str>, Vec<&str>)> = vec![
        (vec!["--run_for=0"], vec!["--run_for", "'0'"]),
        (vec!["--run_for=soon"], vec!["--run_for", "'soon'"]),
        (vec!["--port=scan:0"], vec!["--port", "scan:START"]),
        (vec!["--port=scan:x"], vec!["--port", "'scan:x'"]),
        (
            vec!["--server_tokens=a b"],
            vec!["--server_tokens", "\"a b\""],
        ),
        (
            vec!["--server_tokens=x/1/2"],
            vec!["--server_tokens", "x/1/2"],
        ),
        (
            vec!["--port=0", &root, "--index=../up.html"],
            vec!["--index", "'../up.html'"],
        ),
        (
            vec!["--port=0", &root, &bad_types],
            vec!["--mime_types", &at_line],
        ),
        (
            vec!["--port=0", &root, &missing],
            vec!["--mime_types", "none.types"],
        ),
    ];
    for (args, names) in cases {
        let (code, _, err) = run_to_exit(&args);
        assert_eq!(code, Some(2), "{args:?}: {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{args:?}: {err}");
        for name in names {
            assert!(err.contains(name), "{args:?}: {name} not in {err}");
        }
    }
}

//! Users, rules files and credentials, end to end: `httpout users` to
//! provision, the server with a rules file, curl with Basic and Digest.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

mod support;

use support::{Httpout, binary, curl};

/// `echo PASSWORD | httpout users --users=FILE ARGS...`
fn users(file: &Path, args: &[&str], stdin: &str) -> (Option<i32>, String) {
    let mut child = Command::new(binary())
        .arg("users")
        .arg(format!("--users={}", file.display()))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Commands that read no password may exit before reading: ignore EPIPE.
    let _ = child.stdin.take().unwrap().write_all(stdin.as_bytes());
    let out = child.wait_with_output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

/// A site with a rules file: /video (alice and bob read, group editors
/// write), /video/private (bob only), /open (anyone).
fn site() -> (tempfile::TempDir, Vec<String>) {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    std::fs::create_dir_all(p.join("media/private")).unwrap();
    std::fs::create_dir_all(p.join("open")).unwrap();
    std::fs::write(p.join("media/a.txt"), "movie").unwrap();
    std::fs::write(p.join("media/private/s.txt"), "secret").unwrap();
    std::fs::write(p.join("open/o.txt"), "open").unwrap();
    std::fs::write(
        p.join("rules.ini"),
        "[media]\nname=video\nru=alice,bob,carol\nwg=editors\n\n[media/private]\nru=bob\n\n[open]\nname=open\n",
    )
    .unwrap();
    let file = p.join("users.txt");
    for (name, pw) in [
        ("alice", "alice-pw"),
        ("bob", "bob-pw"),
        ("carol", "carol-pw"),
    ] {
        assert_eq!(users(&file, &["add", name], &format!("{pw}\n")).0, Some(0));
    }
    assert_eq!(
        users(&file, &["group", "add", "editors", "carol"], "").0,
        Some(0)
    );
    let args = vec![
        "--ifce=127.0.0.1".to_owned(),
        "--port=0".to_owned(),
        format!("--rdirs={}", p.join("rules.ini").display()),
        format!("--users={}", file.display()),
    ];
    (dir, args)
}

fn status(args: &[&str]) -> String {
    let mut all = vec!["-o", "/dev/null", "-w", "%{http_code}"];
    all.extend_from_slice(args);
    String::from_utf8_lossy(&curl(&all).stdout).into_owned()
}

#[test]
fn users_cli_stores_only_hashes() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("u");
    assert_eq!(users(&file, &["add", "alice"], "top-secret\n").0, Some(0));
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(
        text.contains("$argon2id$") && !text.contains("top-secret"),
        "{text}"
    );
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let (code, out) = users(&file, &["add", "alice"], "x\n");
    assert_eq!(code, Some(1), "{out}");
    assert_eq!(users(&file, &["passwd", "alice"], "new\n").0, Some(0));
    assert_eq!(
        users(&file, &["group", "add", "ops", "alice"], "").0,
        Some(0)
    );
    let (_, shown) = users(&file, &["show"], "");
    assert!(
        shown.contains("alice") && shown.contains("ops") && !shown.contains("argon2"),
        "{shown}"
    );
    assert_eq!(users(&file, &["del", "alice"], "").0, Some(0));
    assert_eq!(users(&file, &["del", "alice"], "").0, Some(1));
    assert_eq!(users(&file, &["frobnicate"], "").0, Some(2));
}

#[test]
fn basic_and_digest_with_rules() {
    let (dir, args) = site();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let server = Httpout::start(&args, 1);
    let url = |p: &str| format!("{}{p}", server.url());
    // No credentials: 401 with both challenges; wrong ones: 401.
    let out = curl(&["-D", "-", "-o", "/dev/null", &url("/video/a.txt")]);
    let head = String::from_utf8_lossy(&out.stdout).to_lowercase();
    assert!(head.starts_with("http/1.1 401"), "{head}");
    assert!(
        head.contains("www-authenticate: digest realm=\"httpout\"")
            && head.contains("algorithm=sha-256"),
        "{head}"
    );
    assert!(
        head.contains("www-authenticate: basic realm=\"httpout\""),
        "{head}"
    );
    assert_eq!(status(&["-u", "alice:wrong", &url("/video/a.txt")]), "401");
    assert_eq!(
        status(&["--digest", "-u", "alice:wrong", &url("/video/a.txt")]),
        "401"
    );
    // Right credentials, Basic and Digest (curl computes RFC 7616 SHA-256).
    let body = curl(&["-u", "alice:alice-pw", &url("/video/a.txt")]).stdout;
    assert_eq!(body, b"movie");
    let body = curl(&["--digest", "-u", "alice:alice-pw", &url("/video/a.txt")]).stdout;
    assert_eq!(body, b"movie");
    // The sub-directory section overrides its parent: alice is known but not listed.
    assert_eq!(
        status(&["-u", "alice:alice-pw", &url("/video/private/s.txt")]),
        "403"
    );
    assert_eq!(
        status(&["--digest", "-u", "bob:bob-pw", &url("/video/private/s.txt")]),
        "200"
    );
    // A sub-section that sets only `ru` keeps its parent's write rule: no
    // anonymous or unlisted writes or deletes there.
    assert_eq!(
        status(&["-T", "/dev/null", &url("/video/private/s.txt")]),
        "401"
    );
    assert_eq!(
        status(&["-X", "DELETE", &url("/video/private/s.txt")]),
        "401"
    );
    assert_eq!(
        status(&[
            "-u",
            "bob:bob-pw",
            "-X",
            "DELETE",
            &url("/video/private/s.txt")
        ]),
        "403"
    );
    assert_eq!(
        std::fs::read(dir.path().join("media/private/s.txt")).unwrap(),
        b"secret"
    );
    // Writes: the group editors (carol) may, alice (read-only) may not.
    let up = dir.path().join("up.txt");
    std::fs::write(&up, "uploaded").unwrap();
    let up = up.display().to_string();
    assert_eq!(
        status(&["-u", "alice:alice-pw", "-T", &up, &url("/video/new.txt")]),
        "403"
    );
    assert_eq!(
        status(&[
            "--digest",
            "-u",
            "carol:carol-pw",
            "-T",
            &up,
            &url("/video/new.txt")
        ]),
        "201"
    );
    assert_eq!(
        std::fs::read(dir.path().join("media/new.txt")).unwrap(),
        b"uploaded"
    );
    // An open section needs nothing; OPTIONS (CORS preflight) passes.
    assert_eq!(status(&[&url("/open/o.txt")]), "200");
    assert_eq!(status(&["-X", "OPTIONS", &url("/video/a.txt")]), "204");
}

#[test]
fn failed_attempts_are_rate_limited() {
    let (_dir, args) = site();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let server = Httpout::start(&args, 1);
    let url = format!("{}/video/a.txt", server.url());
    let codes: Vec<String> = (0..12)
        .map(|i| status(&["-u", &format!("alice:wrong{i}"), &url]))
        .collect();
    assert!(codes[..10].iter().all(|c| c == "401"), "{codes:?}");
    assert_eq!(codes[10], "429", "{codes:?}");
    // Even the right password waits out the window now.
    assert_eq!(status(&["-u", "alice:alice-pw", &url]), "429");
}

#[test]
fn auth_file_lines_must_match_exactly() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("f.txt"), "x").unwrap();
    let auth = dir.path().join("auth.txt");
    std::fs::write(&auth, "Bearer token-one\nBasic dXNlcjpwYXNz\n").unwrap();
    let server = Httpout::start(
        &[
            "--ifce=127.0.0.1",
            "--port=0",
            &format!("--rdirs={}", dir.path().display()),
            &format!("--auth_file={}", auth.display()),
        ],
        1,
    );
    let url = format!("{}/f.txt", server.url());
    assert_eq!(status(&[&url]), "401");
    assert_eq!(
        status(&["-H", "Authorization: Bearer token-one", &url]),
        "200"
    );
    assert_eq!(status(&["-u", "user:pass", &url]), "200");
    assert_eq!(
        status(&["-H", "Authorization: Bearer token-on", &url]),
        "401"
    );
}

#[test]
fn rules_without_users_file_are_refused_at_start() {
    let (dir, _) = site();
    let (code, _, err) = support::run_to_exit(&[
        "--port=0",
        &format!("--rdirs={}", dir.path().join("rules.ini").display()),
    ]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("--users"), "{err}");
}

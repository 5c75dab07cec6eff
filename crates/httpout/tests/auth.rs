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

/// Fetches `url` with Python's urllib and its `HTTPDigestAuthHandler`
/// (MD5 only; it answers the first `WWW-Authenticate` header): the status
/// and the body.
fn urllib_digest(url: &str, user: &str, password: &str) -> (String, String) {
    const SCRIPT: &str = r#"
import sys, urllib.error, urllib.request
url, user, password = sys.argv[1:4]
passwords = urllib.request.HTTPPasswordMgrWithDefaultRealm()
passwords.add_password(None, url, user, password)
opener = urllib.request.build_opener(urllib.request.HTTPDigestAuthHandler(passwords))
try:
    with opener.open(url, timeout=10) as r:
        print(r.status, r.read().decode(), end="")
except urllib.error.HTTPError as e:
    print(e.code, end="")
"#;
    let out = Command::new("python3")
        .args(["-c", SCRIPT, url, user, password])
        .output()
        .expect("python3 is installed (scripts/test.sh installs it)");
    assert!(
        out.status.success(),
        "urllib failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (status, body) = text.split_once(' ').unwrap_or((&text, ""));
    (status.to_owned(), body.to_owned())
}

#[test]
fn md5_digest_for_python_urllib_and_sha256_for_curl() {
    let (_dir, mut args) = site();
    args.push("--digest=md5,sha-256".to_owned());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let server = Httpout::start(&args, 1);
    let url = |p: &str| format!("{}{p}", server.url());
    // The challenges in the order asked, one nonce, then Basic.
    let out = curl(&["-D", "-", "-o", "/dev/null", &url("/video/a.txt")]);
    let head = String::from_utf8_lossy(&out.stdout).to_lowercase();
    let challenges: Vec<&str> = head
        .lines()
        .filter(|l| l.starts_with("www-authenticate:"))
        .collect();
    assert_eq!(challenges.len(), 3, "{head}");
    assert!(challenges[0].contains("algorithm=md5"), "{head}");
    assert!(challenges[1].contains("algorithm=sha-256"), "{head}");
    assert!(challenges[2].contains("basic"), "{head}");
    assert_eq!(
        urllib_digest(&url("/video/a.txt"), "alice", "alice-pw"),
        ("200".to_owned(), "movie".to_owned())
    );
    assert_eq!(
        urllib_digest(&url("/video/private/s.txt"), "bob", "bob-pw"),
        ("200".to_owned(), "secret".to_owned())
    );
    assert_eq!(
        urllib_digest(&url("/video/a.txt"), "carol", "wrong").0,
        "401"
    );
    // A known user without the right: 403, as with any scheme.
    assert_eq!(
        urllib_digest(&url("/video/private/s.txt"), "alice", "alice-pw").0,
        "403"
    );
    // curl answers the first Digest challenge: MD5 here.
    let body = curl(&["--digest", "-u", "alice:alice-pw", &url("/video/a.txt")]).stdout;
    assert_eq!(body, b"movie");
}

#[test]
fn sha256_first_by_default_and_md5_only_when_offered() {
    let (_dir, args) = site();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let server = Httpout::start(&args, 1);
    let url = format!("{}/video/a.txt", server.url());
    let out = curl(&["-D", "-", "-o", "/dev/null", &url]);
    let head = String::from_utf8_lossy(&out.stdout).to_lowercase();
    assert!(!head.contains("algorithm=md5"), "{head}");
    let body = curl(&["--digest", "-u", "alice:alice-pw", &url]).stdout;
    assert_eq!(body, b"movie", "curl's SHA-256 Digest still works");
    // A client that answers with MD5 anyway, right as the answer is, is
    // refused: MD5 is not offered.
    let nonce = head
        .split("nonce=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap()
        .to_owned();
    let md5 = |s: &str| {
        let out = Command::new("python3")
            .args([
                "-c",
                "import hashlib,sys; print(hashlib.md5(sys.argv[1].encode()).hexdigest(), end='')",
                s,
            ])
            .output()
            .expect("python3 is installed");
        String::from_utf8(out.stdout).unwrap()
    };
    let ha1 = md5("alice:httpout:alice-pw");
    let ha2 = md5("GET:/video/a.txt");
    let response = md5(&format!("{ha1}:{nonce}:00000001:c0ffee:auth:{ha2}"));
    let header = format!(
        "Authorization: Digest username=\"alice\", realm=\"httpout\", nonce=\"{nonce}\", \
         uri=\"/video/a.txt\", algorithm=MD5, response=\"{response}\", qop=auth, \
         nc=00000001, cnonce=\"c0ffee\""
    );
    assert_eq!(status(&["-H", &header, &url]), "401");
}

#[test]
fn a_users_file_without_md5_hashes_refuses_md5_until_the_password_changes() {
    let (dir, mut args) = site();
    args.push("--digest=md5".to_owned());
    let file = dir.path().join("users.txt");
    // As written before MD5 hashes were kept.
    let text = std::fs::read_to_string(&file).unwrap();
    let old: String = text
        .lines()
        .map(|l| l.split(" md5:").next().unwrap().to_owned() + "\n")
        .collect();
    assert_ne!(old, text);
    std::fs::write(&file, old).unwrap();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let server = Httpout::start(&args, 1);
    let url = format!("{}/video/a.txt", server.url());
    // urllib retries a few times before it gives up: one log line.
    assert_eq!(urllib_digest(&url, "alice", "alice-pw").0, "401");
    let log = server.stderr_once("no MD5 hash");
    assert_eq!(log.matches("no MD5 hash").count(), 1, "{log}");
    assert!(log.contains("httpout users passwd alice"), "{log}");
    drop(server);
    // The password changed: both hashes are written again.
    assert_eq!(users(&file, &["passwd", "alice"], "alice-pw\n").0, Some(0));
    assert!(std::fs::read_to_string(&file).unwrap().contains(" md5:"));
    let server = Httpout::start(&args, 1);
    let url = format!("{}/video/a.txt", server.url());
    assert_eq!(
        urllib_digest(&url, "alice", "alice-pw"),
        ("200".to_owned(), "movie".to_owned())
    );
}

#[test]
fn a_bad_digest_list_is_one_line_and_exit_2() {
    for (value, said) in [
        ("sha-1", "sha-1"),
        ("md5-sess", "md5-sess"),
        ("md5,md5", "twice"),
    ] {
        let (code, _, err) = support::run_to_exit(&["--port=0", &format!("--digest={value}")]);
        assert_eq!(code, Some(2), "{value}: {err}");
        let err = err.trim();
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(
            err.contains("--digest") && err.contains(said) && err.contains("sha-256"),
            "{err}"
        );
    }
}

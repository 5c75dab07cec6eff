//! Client certificates (mutual TLS, `--ca`, `--ca_optional`), end to end:
//! certificates made with rcgen, curl `--cert/--key` as the client, a rules
//! file that grants a directory to the certificate's user only.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

mod support;

use rcgen::{
    BasicConstraints, Certificate, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use support::{Httpout, curl};

/// A CA that signs client certificates into a directory.
struct Ca {
    cert: Certificate,
    key: KeyPair,
    pem: String,
}

impl Ca {
    fn new(name: &str) -> Self {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let key = KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        let pem = cert.pem();
        Self { cert, key, pem }
    }

    /// A client certificate for the subject CN `user`, written as
    /// `DIR/FILE.crt` and `DIR/FILE.key`: their paths.
    fn client(&self, user: &str, dir: &Path, file: &str) -> (String, String) {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.distinguished_name.push(DnType::CommonName, user);
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.cert, &self.key).unwrap();
        let (crt, pem) = (
            dir.join(format!("{file}.crt")),
            dir.join(format!("{file}.key")),
        );
        std::fs::write(&crt, cert.pem()).unwrap();
        std::fs::write(&pem, key.serialize_pem()).unwrap();
        (crt.display().to_string(), pem.display().to_string())
    }
}

/// A site: /private (alice only), /public (anyone), a trusted CA's bundle
/// in `ca.pem`, and certificates: alice and bob from it, alice from
/// another CA.
struct Site {
    dir: tempfile::TempDir,
    ca_file: PathBuf,
    alice: (String, String),
    bob: (String, String),
    forged: (String, String),
    args: Vec<String>,
}

fn site(extra: &[&str]) -> Site {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    std::fs::create_dir_all(p.join("private")).unwrap();
    std::fs::create_dir_all(p.join("public")).unwrap();
    std::fs::write(p.join("private/p.txt"), "for alice").unwrap();
    std::fs::write(p.join("public/o.txt"), "open").unwrap();
    std::fs::write(
        p.join("rules.ini"),
        "[private]\nname=private\nru=alice\n\n[public]\nname=public\n",
    )
    .unwrap();
    let (cert, key) = support::self_signed(p);
    let (trusted, other) = (Ca::new("trusted CA"), Ca::new("other CA"));
    let ca_file = p.join("ca.pem");
    std::fs::write(&ca_file, &trusted.pem).unwrap();
    let alice = trusted.client("alice", p, "alice");
    let bob = trusted.client("bob", p, "bob");
    let forged = other.client("alice", p, "forged");
    let mut args = vec![
        "--listen=https://127.0.0.1:0".to_owned(),
        format!("--cert={}", cert.display()),
        format!("--pkey={}", key.display()),
        format!("--ca={}", ca_file.display()),
        format!("--rdirs={}", p.join("rules.ini").display()),
        // Apache's combined format: the user is its third field.
        "--log_format=combined".to_owned(),
    ];
    args.extend(extra.iter().map(|a| (*a).to_owned()));
    Site {
        dir,
        ca_file,
        alice,
        bob,
        forged,
        args,
    }
}

fn start(site: &Site) -> Httpout {
    let args: Vec<&str> = site.args.iter().map(String::as_str).collect();
    Httpout::start(&args, 1)
}

/// curl over TLS (the server's certificate is self-signed: `-k`; HTTP/2
/// unless `extra` says otherwise) with an optional client certificate: (curl's exit code, `STATUS VERSION`, body).
fn get(url: &str, cert: Option<&(String, String)>, extra: &[&str]) -> (i32, String, String) {
    let body = tempfile::NamedTempFile::new().unwrap();
    let mut args = vec![
        "-k",
        "-o",
        body.path().to_str().unwrap(),
        "-w",
        "%{http_code} %{http_version}",
    ];
    if let Some((crt, key)) = cert {
        args.extend(["--cert", crt, "--key", key]);
    }
    args.extend_from_slice(extra);
    args.push(url);
    let out = curl(&args);
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        std::fs::read_to_string(body.path()).unwrap_or_default(),
    )
}

#[test]
fn a_required_certificate_names_the_user() {
    let site = site(&[]);
    let server = start(&site);
    let url = |p: &str| format!("{}{p}", server.url());
    // No certificate, or one from another CA: no TLS connection at all.
    for cert in [None, Some(&site.forged)] {
        let (code, status, _) = get(&url("/public/o.txt"), cert, &[]);
        assert_ne!(code, 0, "the handshake is refused: {status}");
        assert!(!status.starts_with("200"), "{status}");
    }
    // alice's certificate: she is the user, on HTTP/1.1 and HTTP/2.
    for (version, flag) in [("1.1", "--http1.1"), ("2", "--http2")] {
        let (code, status, body) = get(&url("/private/p.txt"), Some(&site.alice), &[flag]);
        assert_eq!(
            (code, status.as_str(), body.as_str()),
            (0, format!("200 {version}").as_str(), "for alice")
        );
    }
    // bob is verified too, but the rules grant him nothing there.
    let (_, status, _) = get(&url("/private/p.txt"), Some(&site.bob), &[]);
    assert!(status.starts_with("403"), "{status}");
    let (_, status, body) = get(&url("/public/o.txt"), Some(&site.bob), &[]);
    assert_eq!((status.as_str(), body.as_str()), ("200 2", "open"));
    // The certificate wins over credentials in `Authorization`.
    let (_, status, _) = get(
        &url("/private/p.txt"),
        Some(&site.bob),
        &["-u", "alice:whatever"],
    );
    assert!(status.starts_with("403"), "{status}");
    // The request log shows the user.
    let log = server.stderr_once("/public/o.txt");
    let user_of = |path: &str| {
        let line = log
            .lines()
            .find(|l| l.contains(path) && l.contains(" 200 "))
            .unwrap_or_else(|| panic!("no access line for {path}: {log}"));
        line.split(' ').nth(2).unwrap_or_default().to_owned()
    };
    assert_eq!(user_of("/private/p.txt"), "alice", "{log}");
    assert_eq!(user_of("/public/o.txt"), "bob", "{log}");
    drop(site.dir);
}

#[test]
fn an_optional_certificate_lets_others_in_anonymously() {
    let site = site(&["--ca_optional"]);
    let server = start(&site);
    let url = |p: &str| format!("{}{p}", server.url());
    let (code, status, body) = get(&url("/public/o.txt"), None, &[]);
    assert_eq!((code, status.as_str(), body.as_str()), (0, "200 2", "open"));
    // Anonymous on a restricted path: asked for credentials.
    let (_, status, _) = get(&url("/private/p.txt"), None, &[]);
    assert!(status.starts_with("401"), "{status}");
    let (_, status, body) = get(&url("/private/p.txt"), Some(&site.alice), &["--http2"]);
    assert_eq!((status.as_str(), body.as_str()), ("200 2", "for alice"));
    // A certificate that does not verify is still refused.
    let (code, status, _) = get(&url("/public/o.txt"), Some(&site.forged), &[]);
    assert_ne!(code, 0, "{status}");
}

#[test]
fn the_ca_bundle_reloads_on_sighup() {
    let site = site(&[]);
    let server = start(&site);
    let url = format!("{}/private/p.txt", server.url());
    let next = Ca::new("next CA");
    let carol = next.client("alice", site.dir.path(), "next-alice");
    assert_ne!(get(&url, Some(&carol), &[]).0, 0);
    std::fs::write(&site.ca_file, &next.pem).unwrap();
    server.signal("HUP");
    let log = server.stderr_once("configuration reloaded");
    assert!(log.contains("configuration reloaded"), "{log}");
    // New handshakes use the new bundle; bounded retries for the reload
    // to reach the listener.
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut last = get(&url, Some(&carol), &[]);
    while last.1 != "200 2" && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
        last = get(&url, Some(&carol), &[]);
    }
    assert_eq!((last.1.as_str(), last.2.as_str()), ("200 2", "for alice"));
    assert_ne!(get(&url, Some(&site.alice), &[]).0, 0, "the old CA is gone");
}

#[test]
fn bad_ca_settings_exit_2_naming_the_option() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = support::self_signed(dir.path());
    let not_pem = dir.path().join("not.pem");
    std::fs::write(&not_pem, "not a certificate\n").unwrap();
    let tls = [
        format!("--rdirs={}", dir.path().display()),
        "--listen=https://127.0.0.1:0".to_owned(),
        format!("--cert={}", cert.display()),
        format!("--pkey={}", key.display()),
    ];
    let cases: [(Vec<String>, &str); 3] = [
        (
            [&tls[..], &[format!("--ca={}", not_pem.display())]].concat(),
            "--ca",
        ),
        (
            vec!["--port=0".to_owned(), format!("--ca={}", cert.display())],
            "--ca",
        ),
        (
            [&tls[..], &["--ca_optional".to_owned()]].concat(),
            "--ca_optional",
        ),
    ];
    for (args, option) in cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let (code, _, err) = support::run_to_exit(&args);
        assert_eq!(code, Some(2), "{args:?}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{err}");
        assert!(err.contains(option), "{err}");
    }
}

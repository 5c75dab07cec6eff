//! Property tests of HTTP Digest parameters (`auth/digest.rs`), through the
//! public `Access::check` that every request goes through.
//!
//! 10 000 cases per property and run (`cargo test -p httpout-core --test
//! fuzz_digest`):
//! - arbitrary `Authorization: Digest ...` values never panic and never sign
//!   anyone in;
//! - the response a client computes signs in whatever the spelling of its
//!   parameters: any order, quoted or token, escapes, spaces, key case,
//!   unknown extras, user names with `"` and `\`;
//! - changing any one part of such a header (response, nonce, nc, cnonce,
//!   uri, user) makes it fail.

use std::sync::{Arc, OnceLock};

use http::{HeaderValue, Request};
use httpout_core::auth::Access;
use httpout_core::auth::rules::Rules;
use httpout_core::auth::users::{REALM, Users};
use httpout_core::{Error, SafePath};
use proptest::prelude::*;
use sha2::{Digest, Sha256};

/// Users whose names need escaping in a quoted string, and their passwords.
const USERS: &[(&str, &str)] = &[("alice", "s3cret"), ("q\"u\\o;te=x", "p w"), ("b", "")];

struct Fixture {
    access: Arc<Access>,
    rt: tokio::runtime::Runtime,
    nonce: String,
    _dir: tempfile::TempDir,
}

/// One policy for every case: `/` needs any signed-in user. Building it
/// hashes each password once (argon2), so it is shared.
fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("d")).unwrap();
        let file = dir.path().join("rules.ini");
        std::fs::write(&file, "[d]\nru=$ALL\n").unwrap();
        let mut rules = Rules::default();
        rules.load(&file).unwrap();
        let mut users = Users::default();
        for (name, password) in USERS {
            users.set_password(name, password).unwrap();
        }
        let access = Arc::new(Access::new(rules, users, None).unwrap());
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        // A nonce from the server's own challenge.
        let Err(Error::Unauthorized { challenges }) =
            rt.block_on(check(&access, "GET", "/x", None))
        else {
            panic!("no challenge without credentials")
        };
        let digest = challenges
            .iter()
            .map(|c| c.to_str().unwrap())
            .find(|c| c.starts_with("Digest "))
            .unwrap();
        let nonce = digest.split("nonce=\"").nth(1).unwrap();
        let nonce = nonce[..nonce.find('"').unwrap()].to_owned();
        Fixture {
            access,
            rt,
            nonce,
            _dir: dir,
        }
    })
}

async fn check(
    access: &Arc<Access>,
    method: &str,
    uri: &str,
    authorization: Option<HeaderValue>,
) -> Result<Option<String>, Error> {
    let mut req = Request::builder().method(method).uri(uri);
    if let Some(a) = authorization {
        req = req.header(http::header::AUTHORIZATION, a);
    }
    let (parts, ()) = req.body(()).unwrap().into_parts();
    let path = SafePath::parse(parts.uri.path()).unwrap();
    access.check(&parts, &path, None).await
}

fn sha256_hex(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A request a client signs: the parameters, in the order given.
#[derive(Debug, Clone)]
struct Signed {
    method: &'static str,
    uri: String,
    user: usize,
    nc: String,
    cnonce: String,
}

impl Signed {
    fn params(&self, nonce: &str) -> Vec<(&'static str, String)> {
        let (name, password) = USERS[self.user];
        let ha1 = sha256_hex(&format!("{name}:{REALM}:{password}"));
        let ha2 = sha256_hex(&format!("{}:{}", self.method, self.uri));
        let response = sha256_hex(&format!(
            "{ha1}:{nonce}:{}:{}:auth:{ha2}",
            self.nc, self.cnonce
        ));
        vec![
            ("username", name.to_owned()),
            ("realm", REALM.to_owned()),
            ("nonce", nonce.to_owned()),
            ("uri", self.uri.clone()),
            ("algorithm", "SHA-256".to_owned()),
            ("response", response),
            ("qop", "auth".to_owned()),
            ("nc", self.nc.clone()),
            ("cnonce", self.cnonce.clone()),
        ]
    }
}

/// How one parameter is spelled.
#[derive(Debug, Clone)]
struct Spelling {
    quote: bool,
    escape_all: bool,
    upper_key: bool,
    before: &'static str,
    after_eq: &'static str,
}

fn spelling() -> impl Strategy<Value = Spelling> {
    (
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
        prop::sample::select(&[", ", ",", " , ", ",\t", ",,  "][..]),
        prop::sample::select(&["", " ", "  "][..]),
    )
        .prop_map(
            |(quote, escape_all, upper_key, before, after_eq)| Spelling {
                quote,
                escape_all,
                upper_key,
                before,
                after_eq,
            },
        )
}

/// `key=value` as spelled; values that a token cannot carry are quoted.
fn spell(key: &str, value: &str, s: &Spelling) -> String {
    let key = if s.upper_key {
        key.to_ascii_uppercase()
    } else {
        key.to_owned()
    };
    let token_ok = !value.is_empty()
        && !value.starts_with('"')
        && !value.contains([',', ' ', '\t'])
        && !value.contains('\\');
    let value = if s.quote || !token_ok {
        let mut q = String::from("\"");
        for c in value.chars() {
            if s.escape_all || c == '"' || c == '\\' {
                q.push('\\');
            }
            q.push(c);
        }
        q.push('"');
        q
    } else {
        value.to_owned()
    };
    format!("{key}={}{value}", s.after_eq)
}

fn signed() -> impl Strategy<Value = Signed> {
    (
        prop::sample::select(&["GET", "HEAD"][..]),
        prop::collection::vec(
            prop::sample::select(&["a", "/", "b.mp4", "?", "x=1", "&", ",", "%20", ";"][..]),
            0..6,
        ),
        0..USERS.len(),
        0u32..,
        prop::collection::vec(
            prop::sample::select(&["a", "Z", "0", " ", ",", "\"", "\\", "=", ";"][..]),
            0..10,
        ),
    )
        .prop_map(|(method, uri, user, nc, cnonce)| Signed {
            method,
            uri: format!("/{}", uri.concat()),
            user,
            nc: format!("{nc:08x}"),
            cnonce: cnonce.concat(),
        })
}

/// The header for `params` in the order `order` gives, each as spelled.
fn header(params: &[(&'static str, String)], order: &[usize], spellings: &[Spelling]) -> String {
    let mut text = String::from("Digest ");
    for (n, &i) in order.iter().enumerate() {
        let (k, v) = &params[i % params.len()];
        let s = &spellings[n % spellings.len()];
        if n > 0 {
            text.push_str(s.before);
        }
        text.push_str(&spell(k, v, s));
    }
    text
}

fn run(signed: &Signed, authorization: &str) -> Result<Option<String>, Error> {
    let f = fixture();
    let value = HeaderValue::from_str(authorization).expect("visible ASCII");
    f.rt.block_on(check(&f.access, signed.method, &signed.uri, Some(value)))
}

/// Text a Digest header might be made of, with valid parts mixed in.
fn garbage() -> impl Strategy<Value = Vec<u8>> {
    let pieces: &[&[u8]] = &[
        b"Digest ",
        b"digest ",
        b"username=",
        b"alice",
        b"realm=",
        b"httpout",
        b"nonce=",
        b"uri=",
        b"/x",
        b"response=",
        b"qop=",
        b"auth",
        b"nc=",
        b"cnonce=",
        b"algorithm=",
        b"SHA-256",
        b"MD5",
        b"\"",
        b"\\",
        b",",
        b" ",
        b"=",
        b"\t",
        b"\xc3\xa9",
        b"\x00",
        b"\x7f",
        b"\r\n",
        b"00000001",
        b"deadbeef",
    ];
    prop_oneof![
        4 => prop::collection::vec(prop::sample::select(pieces), 0..30).prop_map(|p| p.concat()),
        1 => prop::collection::vec(any::<u8>(), 0..64),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(10_000))]

    /// A correctly computed response signs in, however the client spells
    /// the parameters (any order, quoting, escapes, spaces, key case,
    /// extra parameters).
    #[test]
    fn any_spelling_of_a_valid_response_signs_in(
        signed in signed(),
        order in Just((0..9).collect::<Vec<usize>>()).prop_shuffle(),
        spellings in prop::collection::vec(spelling(), 1..9),
        extra in prop::option::of((
            prop::sample::select(&["x", "opaque", "userhash", "charset", "stale"][..]),
            prop::collection::vec(prop::sample::select(&["a", " ", ",", "=", "\""][..]), 0..6),
        )),
    ) {
        let f = fixture();
        let mut params = signed.params(&f.nonce);
        let mut order = order;
        if let Some((k, v)) = extra {
            // Unknown parameters are ignored (but not one of ours twice).
            if !params.iter().any(|(p, _)| *p == k) {
                params.push((k, v.concat()));
                order.push(params.len() - 1);
            }
        }
        let text = header(&params, &order, &spellings);
        let got = run(&signed, &text);
        prop_assert_eq!(got.ok(), Some(Some(USERS[signed.user].0.to_owned())), "{}", text);
    }

    /// Changing any one parameter of a valid header makes it fail.
    #[test]
    fn any_change_fails(signed in signed(), which in 0usize..9, spellings in prop::collection::vec(spelling(), 1..9)) {
        let f = fixture();
        let mut params = signed.params(&f.nonce);
        let (key, value) = &mut params[which];
        match *key {
            // These compare case-insensitively or are decided elsewhere.
            "algorithm" => *value = "SHA-512".into(),
            "response" => {
                let flipped = if value.starts_with('0') { '1' } else { '0' };
                value.replace_range(..1, &flipped.to_string());
            }
            "username" => *value = format!("{value}x"),
            _ => value.push('x'),
        }
        let order: Vec<usize> = (0..9).collect();
        let text = header(&params, &order, &spellings);
        let got = run(&signed, &text);
        prop_assert!(matches!(got, Err(Error::Unauthorized { .. })), "{} -> {:?}", text, got);
    }

    /// Arbitrary bytes as the header never panic and never sign in.
    #[test]
    fn garbage_never_signs_in(bytes in garbage(), method in prop::sample::select(&["GET", "HEAD"][..])) {
        let f = fixture();
        let value = HeaderValue::from_bytes(&bytes).ok();
        let got = f.rt.block_on(check(&f.access, method, "/x", value));
        prop_assert!(matches!(got, Err(Error::Unauthorized { .. })), "{:?} -> {:?}", bytes, got);
    }
}

//! Property tests of the Icecast request-head rewrite (`source_clients.rs`),
//! through the public engine: a server with the [`SourceClients`] hook on a
//! Unix socket, and the same server without it.
//!
//! 10 000 cases per run (`cargo test -p httpout-live --test
//! fuzz_source_body`): a source client's length-less body (`SOURCE`, or
//! `PUT`/`POST` with an `ice-*` header), sent in arbitrary pieces until the
//! client closes, reaches the handler byte for byte; any other request
//! (lengths, chunked, GET, garbage) gets the same answer as from a server
//! without the rewrite.

use std::sync::OnceLock;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::BodyExt;
use httpout_core::{Body, Ctx, Error, ListenSpec, Running, Server, ServerConfig};
use httpout_live::SourceClients;
use proptest::prelude::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixStream;

/// Answers with what it saw: method, target, version, body.
async fn echo(req: Request<Body>, _ctx: Ctx) -> Result<Response<Body>, Error> {
    let head = format!("{} {} {:?}\n", req.method(), req.uri(), req.version());
    let body = req
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_else(|_| Bytes::from_static(b"<body error>"));
    let mut out = head.into_bytes();
    out.extend_from_slice(&body);
    Ok(Response::new(Body::full(out)))
}

struct Fixture {
    rt: tokio::runtime::Runtime,
    /// With the rewrite, without it.
    socks: [std::path::PathBuf; 2],
    _servers: Vec<Running>,
    _dir: tempfile::TempDir,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let socks = [dir.path().join("on.sock"), dir.path().join("off.sock")];
        let servers = rt.block_on(async {
            let mut servers = Vec::new();
            for (sock, on) in socks.iter().zip([true, false]) {
                let config = ServerConfig {
                    listeners: vec![ListenSpec::Unix(sock.clone())],
                    maxc: 0,
                    maxp: 0,
                    conn_hook: on.then(SourceClients::hook),
                    ..ServerConfig::default()
                };
                servers.push(Server::bind(config).await.unwrap().serve(echo));
            }
            servers
        });
        Fixture {
            rt,
            socks,
            _servers: servers,
            _dir: dir,
        }
    })
}

/// Sends `bytes` in the pieces `cuts` gives, closes the write side, and
/// reads everything the server answers (bounded in time).
fn exchange(sock: &std::path::Path, bytes: &[u8], cuts: &[usize]) -> Vec<u8> {
    fixture().rt.block_on(async {
        let talk = async {
            let mut s = UnixStream::connect(sock).await.unwrap();
            let mut at = 0;
            for &cut in cuts.iter().chain(std::iter::once(&bytes.len())) {
                let cut = cut.clamp(at, bytes.len());
                // The server may answer and close early (a 400): stop there.
                if s.write_all(&bytes[at..cut]).await.is_err() {
                    break;
                }
                at = cut;
            }
            let _ = s.shutdown().await;
            let mut out = Vec::new();
            let _ = s.read_to_end(&mut out).await;
            out
        };
        tokio::time::timeout(std::time::Duration::from_secs(60), talk)
            .await
            .expect("the server answers and closes")
    })
}

/// The answer without its `date` header (the only part that may differ).
fn without_date(answer: &[u8]) -> String {
    String::from_utf8_lossy(answer)
        .split("\r\n")
        .filter(|l| !l.to_ascii_lowercase().starts_with("date:"))
        .collect::<Vec<_>>()
        .join("\r\n")
}

/// A request head line's method for a source client.
fn source_head() -> impl Strategy<Value = String> {
    (
        prop::sample::select(&["SOURCE", "PUT", "POST"][..]),
        prop::sample::select(&["/live.mp3", "/a/b?x=1", "/"][..]),
        prop::sample::select(&["HTTP/1.0", "HTTP/1.1"][..]),
        prop::sample::select(&["Ice-Name", "ice-public", "ICE-Genre", "Ice-"][..]),
        prop::collection::vec(
            prop::sample::select(
                &[
                    "Host: x",
                    "Content-Type: audio/mpeg",
                    "User-Agent: t",
                    "X: ice-y",
                ][..],
            ),
            0..3,
        ),
    )
        .prop_map(|(m, path, v, ice, extra)| {
            let mut head = format!("{m} {path} {v}\r\n");
            for h in extra {
                head.push_str(&format!("{h}\r\n"));
            }
            // `Ice-` alone is no ice header: only SOURCE is then a source.
            head.push_str(&format!("{ice}: 1\r\n\r\n"));
            head
        })
}

/// A head that the rewrite must leave alone, or something that is no
/// head at all. (Not the HTTP/2 preface: what an HTTP/2 server writes
/// before it sees the close varies from run to run.)
fn other_request() -> impl Strategy<Value = Vec<u8>> {
    let pieces: &[&str] = &[
        "GET / HTTP/1.1\r\n",
        "PUT /f HTTP/1.1\r\n",
        "POST /f HTTP/1.1\r\n",
        "SOURCE /s HTTP/1.0\r\n",
        "Host: x\r\n",
        "Content-Length: 3\r\n",
        "Transfer-Encoding: chunked\r\n",
        "Ice-Name: n\r\n",
        "Connection: close\r\n",
        "\r\n",
        "abc",
        "3\r\nabc\r\n0\r\n\r\n",
        "\0",
        ":",
        " ",
        "\r\n\r\n",
    ];
    prop::collection::vec(prop::sample::select(pieces), 0..10)
        .prop_map(|p| p.concat().into_bytes())
        .prop_filter("a source client's head", |b| {
            // Without a length of its own, a SOURCE or an ice PUT/POST is
            // a source client: the other property covers those.
            let text = String::from_utf8_lossy(b).to_ascii_lowercase();
            // Empty lines before the request line are skipped (RFC 9112 §2.2).
            let text = text.trim_start_matches(['\r', '\n']);
            let head = text.split("\r\n\r\n").next().unwrap_or_default();
            let mut lines = head.split("\r\n");
            let first = lines.next().unwrap_or_default();
            let names: Vec<&str> = lines
                .filter_map(|l| l.split_once(':'))
                .map(|(n, _)| n)
                .collect();
            let has = |name: &str| names.contains(&name);
            let ice = names.iter().any(|n| n.len() > 4 && n.starts_with("ice-"));
            let source = first.starts_with("source ")
                || ((first.starts_with("put ") || first.starts_with("post ")) && ice);
            !source || has("content-length") || has("transfer-encoding")
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(10_000))]

    /// A source client's length-less body reaches the handler byte for
    /// byte, however it is split, and ends when the client closes.
    #[test]
    fn a_source_body_arrives_whole(
        head in source_head(),
        body in prop::collection::vec(any::<u8>(), 0..400),
        mut cuts in prop::collection::vec(0usize..500, 0..8),
    ) {
        let f = fixture();
        let mut bytes = head.clone().into_bytes();
        bytes.extend_from_slice(&body);
        cuts.sort_unstable();
        let answer = exchange(&f.socks[0], &bytes, &cuts);
        let is_source = head.starts_with("SOURCE ") || !head.contains("Ice-: 1");
        let text = String::from_utf8_lossy(&answer);
        if is_source {
            prop_assert!(text.starts_with("HTTP/1.1 200"), "{:?} -> {:?}", head, text);
            let start = answer.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
            let echoed = &answer[start..];
            let line_end = echoed.iter().position(|&b| b == b'\n').unwrap();
            let method = head.split(' ').next().unwrap();
            let want = format!("{method} ");
            prop_assert!(echoed.starts_with(want.as_bytes()));
            prop_assert_eq!(&echoed[line_end + 1..], &body[..]);
        } else {
            // Not a source: answered as without the rewrite.
            let plain = exchange(&f.socks[1], &bytes, &cuts);
            prop_assert_eq!(without_date(&answer), without_date(&plain));
        }
    }

    /// Anything else passes through: the same answer as without the rewrite.
    #[test]
    fn other_requests_pass_through(bytes in other_request(), mut cuts in prop::collection::vec(0usize..200, 0..6)) {
        let f = fixture();
        cuts.sort_unstable();
        let on = exchange(&f.socks[0], &bytes, &cuts);
        let off = exchange(&f.socks[1], &bytes, &cuts);
        prop_assert_eq!(without_date(&on), without_date(&off), "{:?}", String::from_utf8_lossy(&bytes));
    }
}

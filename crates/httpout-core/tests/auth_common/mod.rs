//! Shared by the `auth_*` tests: a server with a rules file and users, and
//! a GET with Basic credentials from a chosen loopback address, many at
//! once.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use base64::Engine as _;
use httpout_core::ServerConfig;
use httpout_core::auth::Access;
use httpout_core::auth::rules::Rules;
use httpout_core::auth::users::Users;
use httpout_test::start;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpSocket;

/// A server (echo handler, no connection limit per address) whose access
/// is the rules file `rules` with `users` (name, password); the temporary
/// directory holding the rules file goes with it.
pub(crate) async fn server(
    rules: &str,
    users: &[(&str, &str)],
) -> (httpout_core::Running, SocketAddr, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let rules_file = dir.path().join("rules.ini");
    std::fs::write(&rules_file, rules).unwrap();
    let mut loaded = Rules::default();
    loaded.load(&rules_file).unwrap();
    let mut list = Users::default();
    for (name, password) in users {
        list.set_password(name, password).unwrap();
    }
    let access = Arc::new(Access::new(loaded, list, None).unwrap());
    let config = ServerConfig {
        access: Some(access),
        maxc: 1000,
        maxp: 0,
        ..ServerConfig::default()
    };
    let (server, addr) = start(config).await;
    (server, addr, dir)
}

/// GET `path` from `source`, with Basic credentials when given; the status.
pub(crate) async fn get(
    addr: SocketAddr,
    source: IpAddr,
    path: &str,
    creds: Option<(&str, &str)>,
) -> u16 {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind(SocketAddr::new(source, 0)).unwrap();
    let mut s = socket.connect(addr).await.unwrap();
    let auth = creds.map_or_else(String::new, |(u, p)| {
        let token = base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"));
        format!("Authorization: Basic {token}\r\n")
    });
    let req = format!("GET {path} HTTP/1.1\r\nHost: x\r\n{auth}Connection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).await.unwrap();
    let text = String::from_utf8_lossy(&out);
    text.get(9..12)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("no status line: {text:?}"))
}

/// Sends `n` wrong guesses at once to `/priv/a`, the i-th from
/// `sources[i % len]` for the user `name(i)`; the statuses in order.
pub(crate) async fn guesses(
    addr: SocketAddr,
    sources: &[IpAddr],
    n: usize,
    name: impl Fn(usize) -> String,
) -> Vec<u16> {
    let tasks: Vec<_> = (0..n)
        .map(|i| {
            let user = name(i);
            let source = sources[i % sources.len()];
            tokio::spawn(async move {
                get(addr, source, "/priv/a", Some((&user, &format!("guess{i}")))).await
            })
        })
        .collect();
    let mut out = Vec::new();
    for t in tasks {
        out.push(httpout_test::bounded(t).await.unwrap());
    }
    out
}

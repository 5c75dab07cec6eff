//! Listeners and the accept loop.
//!
//! Each listener (TCP plain, TCP with TLS, Unix socket) runs one accept loop:
//! admit the connection against `maxc`/`maxp` ([`Limits`](crate::limit);
//! `maxc` alone for a peer in `trusted_proxies`, whose requests are counted
//! per client instead),
//! set TCP_NODELAY (live chunks must not wait for Nagle, hyper#1212), finish
//! the TLS handshake within `timeout` in the connection's own task, then
//! serve it (`conn::serve`). Over a limit, the connection gets a 503 whose
//! body names the limit and its value, and one log line says the same. Accept
//! errors that concern one connection are skipped; others (out of file
//! descriptors: EMFILE, ENFILE; out of memory) pause accepting for
//! [`ACCEPT_PAUSE`] instead of spinning, logged once a second at most:
//! new connections wait in the kernel's backlog meanwhile, and the
//! connections already open are not touched.

use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::net::{TcpListener, UnixListener};
use tokio::sync::watch;

use crate::auth::ClientCert;
use crate::config::{Cidr, ListenSpec, ServerConfig};
use crate::conn::{self, io::SharedTcp, state::Phase, state::Secured};
use crate::current::Current;
use crate::error::StartError;
use crate::hook::Io;
use crate::limit::{Limits, Refused};
use crate::proxy;
use crate::service;
use crate::tls::Tls;

/// What every accept loop of a server shares.
pub(crate) struct Shared {
    /// The configuration and connection state of the moment; a reload
    /// replaces them for the connections accepted after it.
    current: Current<Layer>,
    limits: Arc<Limits>,
    tls: Option<Arc<Tls>>,
}

/// What an accepted connection reads when it starts.
struct Layer {
    config: Arc<ServerConfig>,
    conns: Arc<conn::Shared>,
}

impl Shared {
    pub(crate) fn new(
        config: Arc<ServerConfig>,
        tls: Option<Arc<Tls>>,
        conns: Arc<conn::Shared>,
        limits: Arc<Limits>,
    ) -> Self {
        Self {
            limits,
            current: Current::new(Arc::new(Layer { config, conns })),
            tls,
        }
    }

    /// Connections accepted from now on get `config` and `conns`; those
    /// open keep theirs. The counts of open connections carry over.
    pub(crate) fn replace(&self, config: Arc<ServerConfig>, conns: Arc<conn::Shared>) {
        self.limits
            .update(config.maxc, config.maxp, config.max_conn_rate);
        self.current.store(Arc::new(Layer { config, conns }));
    }
}

/// A listening socket the process was given instead of binding one
/// (systemd socket activation, `LISTEN_FDS`), for [`Server::bind_inherited`](crate::Server::bind_inherited).
#[derive(Debug)]
pub enum Inherited {
    /// A TCP socket (IPv4 or IPv6).
    Tcp(std::net::TcpListener),
    /// A Unix stream socket.
    Unix(std::os::unix::net::UnixListener),
}

/// A bound listener.
#[derive(Debug)]
pub(crate) enum Listener {
    /// TCP; TLS when `tls` is set; a PROXY protocol header first when
    /// `proxy_protocol` is.
    Tcp {
        inner: TcpListener,
        tls: bool,
        proxy_protocol: bool,
    },
    /// A Unix domain socket; the file is removed when the loop ends, if it
    /// is still the one this listener created (`inode`; `None`: an
    /// inherited socket, whose file belongs to whoever made it).
    Unix {
        inner: UnixListener,
        path: PathBuf,
        inode: Option<u64>,
    },
}

/// Binds `spec`; returns the listener and its real address (port 0 resolved).
/// With `scan`, a TCP port that is taken (or not ours to bind) is followed
/// by the next ones, to 65535, until one binds.
pub(crate) fn bind(spec: &ListenSpec, scan: bool) -> Result<(Listener, ListenSpec), StartError> {
    let fail = |source| StartError::Bind {
        listener: spec.clone(),
        source,
    };
    match spec {
        ListenSpec::Http(addr)
        | ListenSpec::Https(addr)
        | ListenSpec::ProxyHttp(addr)
        | ListenSpec::ProxyHttps(addr) => {
            let std = if scan && addr.port() != 0 {
                scan_upward(*addr).map_err(|source| StartError::PortScan {
                    listener: spec.clone(),
                    source,
                })?
            } else {
                bind_tcp(*addr).map_err(fail)?
            };
            std.set_nonblocking(true).map_err(fail)?;
            let inner = TcpListener::from_std(std).map_err(fail)?;
            let local = inner.local_addr().map_err(fail)?;
            let listener = Listener::Tcp {
                inner,
                tls: spec.is_tls(),
                proxy_protocol: spec.is_proxy_protocol(),
            };
            Ok((listener, spec.with_addr(local)))
        }
        ListenSpec::Unix(path) => {
            remove_stale_socket(path).map_err(fail)?;
            let inner = UnixListener::bind(path).map_err(fail)?;
            let inode = std::fs::symlink_metadata(path).map_err(fail)?.ino();
            Ok((
                Listener::Unix {
                    inner,
                    path: path.clone(),
                    inode: Some(inode),
                },
                spec.clone(),
            ))
        }
    }
}

/// Binds a TCP address; `[::]` (the default, all interfaces) on a host
/// without IPv6: all IPv4 interfaces instead.
fn bind_tcp(addr: SocketAddr) -> io::Result<std::net::TcpListener> {
    match std::net::TcpListener::bind(addr) {
        Err(e) if addr.ip() == std::net::Ipv6Addr::UNSPECIFIED && is_no_ipv6(&e) => {
            std::net::TcpListener::bind((std::net::Ipv4Addr::UNSPECIFIED, addr.port()))
        }
        other => other,
    }
}

/// Binds `from`'s port or, while it is taken (or privileged), the next one
/// up, to 65535 at most; the error is the last port's.
fn scan_upward(from: SocketAddr) -> io::Result<std::net::TcpListener> {
    let mut addr = from;
    loop {
        match bind_tcp(addr) {
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::AddrInUse | io::ErrorKind::PermissionDenied
                ) && addr.port() < u16::MAX =>
            {
                addr.set_port(addr.port() + 1);
            }
            other => return other,
        }
    }
}

/// Adopts an inherited listening socket (systemd socket activation) as a
/// listener of `kind` (its scheme: `http`, `https`, `proxy+...`; the
/// address is the socket's own). A Unix socket serves plain HTTP.
pub(crate) fn adopt(
    kind: &ListenSpec,
    socket: Inherited,
) -> Result<(Listener, ListenSpec), StartError> {
    let fail = |source| StartError::Bind {
        listener: kind.clone(),
        source,
    };
    match socket {
        Inherited::Tcp(std) => {
            std.set_nonblocking(true).map_err(fail)?;
            let inner = TcpListener::from_std(std).map_err(fail)?;
            let local = inner.local_addr().map_err(fail)?;
            let real = match kind {
                ListenSpec::Unix(_) => ListenSpec::Http(local),
                other => other.with_addr(local),
            };
            let listener = Listener::Tcp {
                inner,
                tls: real.is_tls(),
                proxy_protocol: real.is_proxy_protocol(),
            };
            Ok((listener, real))
        }
        Inherited::Unix(std) => {
            std.set_nonblocking(true).map_err(fail)?;
            let inner = UnixListener::from_std(std).map_err(fail)?;
            let path = inner
                .local_addr()
                .ok()
                .and_then(|a| a.as_pathname().map(PathBuf::from))
                .unwrap_or_else(|| PathBuf::from("(unnamed)"));
            let real = ListenSpec::Unix(path.clone());
            Ok((
                Listener::Unix {
                    inner,
                    path,
                    inode: None,
                },
                real,
            ))
        }
    }
}

/// The errors of binding `[::]` where IPv6 is disabled.
fn is_no_ipv6(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(97 | 99)) // EAFNOSUPPORT, EADDRNOTAVAIL
}

/// Removes a socket file left by an earlier run. A socket something still
/// listens on is "address in use"; any other file is kept (binding then
/// fails the same way).
fn remove_stale_socket(path: &std::path::Path) -> io::Result<()> {
    use std::os::unix::fs::FileTypeExt;
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_socket() => {
            if std::os::unix::net::UnixStream::connect(path).is_ok() {
                return Err(io::Error::new(
                    io::ErrorKind::AddrInUse,
                    "another server listens on this socket",
                ));
            }
            std::fs::remove_file(path)
        }
        _ => Ok(()),
    }
}

/// Accepts connections until the phase leaves [`Phase::Running`].
pub(crate) async fn accept_loop(
    listener: Listener,
    shared: Arc<Shared>,
    mut phase: watch::Receiver<Phase>,
) {
    let mut errors = AcceptErrors::default();
    loop {
        let accepted = tokio::select! {
            a = accept(&listener) => a,
            _ = phase.wait_for(|p| *p != Phase::Running) => break,
        };
        let (stream, peer) = match accepted {
            Ok(ok) => ok,
            Err(e) => match errors.on_error(&e, tokio::time::Instant::now()) {
                None => continue,
                Some(pause) => {
                    tokio::select! {
                        () = tokio::time::sleep(pause) => continue,
                        _ = phase.wait_for(|p| *p != Phase::Running) => break,
                    }
                }
            },
        };
        let tls = match &listener {
            Listener::Tcp { tls: true, .. } => shared.tls.clone(),
            _ => None,
        };
        // The settings of this connection's whole life, read once: a reload
        // that comes while it is admitted does not change them half-way.
        let layer = shared.current.load();
        if matches!(
            listener,
            Listener::Tcp {
                proxy_protocol: true,
                ..
            }
        ) {
            // The client is known once the header is read: `maxc` now (the
            // connection waits in it), `maxp` then, for the header's address.
            match shared.limits.admit(None) {
                Ok(total) => {
                    let shared = Arc::clone(&shared);
                    let phase = phase.clone();
                    tokio::spawn(async move {
                        let Some(client) = proxy_header(&stream, peer, &layer.config).await else {
                            return;
                        };
                        match shared.limits.admit_peer(counted(&layer, client)) {
                            Ok(admission) => {
                                serve(stream, client, tls, (total, admission), &layer, phase);
                            }
                            Err(refused) => {
                                drop(total);
                                reject(stream, client, refused, tls, &shared, &layer, false);
                            }
                        }
                    });
                }
                Err(refused) => reject(stream, peer, refused, tls, &shared, &layer, true),
            }
            continue;
        }
        match shared.limits.admit(counted(&layer, peer)) {
            Ok(admission) => {
                serve(stream, peer, tls, admission, &layer, phase.clone());
            }
            Err(refused) => reject(stream, peer, refused, tls, &shared, &layer, false),
        }
    }
    if let Listener::Unix { path, inode, .. } = &listener {
        if std::fs::symlink_metadata(path).is_ok_and(|m| Some(m.ino()) == *inode) {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// The address `peer` counts as in `maxp` and `max_conn_rate`: none for
/// a Unix socket or a trusted proxy (whose requests count per client, in
/// `service`).
fn counted(layer: &Layer, peer: Option<SocketAddr>) -> Option<std::net::IpAddr> {
    peer.map(|p| p.ip())
        .filter(|ip| !Cidr::any_contains(&layer.config.trusted_proxies, *ip))
}

/// Serves an admitted connection in a task of its own (`held`: its
/// admission, kept until it closes): the TLS handshake on a TLS listener,
/// then HTTP.
///
/// A plain connection's task is [`conn::serve`] itself, nothing around it:
/// a task is as large as its largest state for its whole life (hours, for
/// a live listener). A TLS connection's task holds the handshake first,
/// boxed (its state is large), then the connection.
fn serve(
    stream: Stream,
    peer: Option<SocketAddr>,
    tls: Option<Arc<Tls>>,
    held: impl Send + 'static,
    layer: &Layer,
    phase: watch::Receiver<Phase>,
) {
    let metrics = &layer.config.metrics;
    let kept: conn::Kept = Box::new((held, metrics.connection()));
    let conns = Arc::clone(&layer.conns);
    let socket = stream.tcp();
    match tls {
        None => {
            let io = stream.into_io();
            tokio::spawn(conn::serve(io, socket, peer, None, conns, phase, kept));
        }
        Some(tls) => {
            let timeout = layer.config.timeout;
            let metrics = Arc::clone(metrics);
            tokio::spawn(async move {
                let Some((io, secured)) = Box::pin(open(stream, peer, Some(tls), timeout)).await
                else {
                    metrics.tls_failed();
                    return;
                };
                conn::serve(io, socket, peer, secured, conns, phase, kept).await;
            });
        }
    }
}

/// Reads the PROXY protocol header of a connection from `peer`, within
/// the first request head's deadline: the client it gives (`peer` itself
/// for a proxy's own `LOCAL`/`UNKNOWN` connection); `None`, logged, when
/// there is no valid header (the connection is then closed).
async fn proxy_header(
    stream: &Stream,
    peer: Option<SocketAddr>,
    config: &ServerConfig,
) -> Option<Option<SocketAddr>> {
    let Stream::Tcp(socket) = stream else {
        return Some(peer);
    };
    let deadline = match (config.header_timeout, config.timeout) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    match proxy::protocol::read(socket, deadline).await {
        Ok(client) => Some(client.or(peer)),
        Err(e) => {
            let who = peer.map_or_else(String::new, |p| format!(" from {p}"));
            tracing::info!(
                target: "httpout::conn",
                "closed a connection{who}: no valid PROXY protocol header ({e})"
            );
            None
        }
    }
}

/// An accepted socket.
enum Stream {
    /// Shared with the connection's state, for its socket options.
    Tcp(Arc<tokio::net::TcpStream>),
    Unix(tokio::net::UnixStream),
}

impl Stream {
    /// The TCP socket, shared.
    fn tcp(&self) -> Option<Arc<tokio::net::TcpStream>> {
        match self {
            Self::Tcp(s) => Some(Arc::clone(s)),
            Self::Unix(_) => None,
        }
    }

    /// The byte stream, as it is (no TLS).
    fn into_io(self) -> Box<dyn Io> {
        match self {
            Self::Tcp(s) => Box::new(SharedTcp(s)),
            Self::Unix(s) => Box::new(s),
        }
    }
}

async fn accept(listener: &Listener) -> io::Result<(Stream, Option<SocketAddr>)> {
    match listener {
        Listener::Tcp { inner, .. } => {
            let (s, peer) = inner.accept().await?;
            // Nagle would hold back small live chunks (hyper#1212).
            s.set_nodelay(true)?;
            Ok((Stream::Tcp(Arc::new(s)), Some(peer)))
        }
        Listener::Unix { inner, .. } => {
            let (s, _) = inner.accept().await?;
            Ok((Stream::Unix(s), None))
        }
    }
}

/// How long accepting pauses after an error that is not one connection's
/// (out of file descriptors or memory).
pub(crate) const ACCEPT_PAUSE: Duration = Duration::from_millis(250);

/// What the accept loop does about its errors: skip one connection's,
/// pause on the others, and log those once a second at most (with how
/// many were not logged).
#[derive(Debug, Default)]
struct AcceptErrors {
    last_log: Option<tokio::time::Instant>,
    unlogged: u64,
}

impl AcceptErrors {
    /// `None`: skip and accept the next one; `Some(pause)`: stop accepting
    /// for that long, then go on. Never ends the loop.
    fn on_error(&mut self, e: &io::Error, now: tokio::time::Instant) -> Option<Duration> {
        if is_per_connection(e) {
            return None;
        }
        let due = self
            .last_log
            .is_none_or(|t| now.duration_since(t) >= Duration::from_secs(1));
        if due {
            let more = match self.unlogged {
                0 => String::new(),
                n => format!(" ({n} more since the last line)"),
            };
            tracing::warn!(target: "httpout::conn", "{}{more}", accept_error_line(e));
            self.last_log = Some(now);
            self.unlogged = 0;
        } else {
            self.unlogged += 1;
        }
        Some(ACCEPT_PAUSE)
    }
}

/// The log line of an accept error that pauses accepting.
fn accept_error_line(e: &io::Error) -> String {
    let hint = match e.raw_os_error() {
        Some(24 | 23) => {
            ": out of file descriptors (raise the limit, `ulimit -n`, or lower --maxc)"
        }
        _ => "",
    };
    format!(
        "accept failed: {e}{hint}; new connections wait {} ms, open ones go on",
        ACCEPT_PAUSE.as_millis()
    )
}

/// Errors that concern one connection only: skip it and go on.
fn is_per_connection(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionRefused
            | io::ErrorKind::InvalidInput
    )
}

/// The connection's byte stream, after the TLS handshake (within
/// `timeout`) on a TLS listener, and what the handshake told (`None` for
/// plain connections); `None` when the handshake failed.
async fn open(
    stream: Stream,
    peer: Option<SocketAddr>,
    tls: Option<Arc<Tls>>,
    timeout: Option<Duration>,
) -> Option<(Box<dyn Io>, Option<Secured>)> {
    match (stream, tls) {
        (Stream::Tcp(s), Some(tls)) => {
            let io = handshake(&tls, SharedTcp(s), peer, timeout).await?;
            let secured = secured(&io, peer);
            Some((Box::new(io) as Box<dyn Io>, Some(secured)))
        }
        (stream, _) => Some((stream.into_io(), None)),
    }
}

/// What a finished handshake tells: the user of the client's certificate
/// (verified by rustls), if it sent one; one that names no user is logged.
fn secured(io: &tokio_rustls::server::TlsStream<SharedTcp>, peer: Option<SocketAddr>) -> Secured {
    let Some(cert) = io.get_ref().1.peer_certificates().and_then(<[_]>::first) else {
        return Secured::default();
    };
    let client = ClientCert::of(cert);
    if client.is_none() {
        tracing::info!(
            target: "httpout::tls",
            "the client certificate of {} names no user (its subject needs one CN that is a \
             valid user name): served as anonymous",
            crate::reqlog::Peer(peer)
        );
    }
    Secured { client }
}

/// The TLS handshake, within `timeout`; a failure is logged at `debug`
/// under `httpout::tls` (scanners and clients that give up are common:
/// `--log=tls=debug` shows them; rustls' own alerts come through the `log`
/// bridge under `rustls`).
async fn handshake(
    tls: &Tls,
    stream: SharedTcp,
    peer: Option<SocketAddr>,
    timeout: Option<Duration>,
) -> Option<tokio_rustls::server::TlsStream<SharedTcp>> {
    let peer = crate::reqlog::Peer(peer);
    let accept = tls.acceptor().accept(stream);
    let done = match timeout {
        Some(t) => match tokio::time::timeout(t, accept).await {
            Ok(done) => done,
            Err(_) => {
                tracing::debug!(target: "httpout::tls", "TLS handshake with {peer} timed out after {} s", t.as_secs());
                return None;
            }
        },
        None => accept.await,
    };
    match done {
        Ok(io) => {
            tracing::trace!(target: "httpout::tls", "TLS handshake with {peer} done");
            Some(io)
        }
        // A refused client certificate is the operator's business (a
        // client's CA or dates are wrong); other failures are common noise.
        Err(e) if is_client_cert_error(&e) => {
            tracing::info!(target: "httpout::tls", "TLS handshake with {peer} failed: {e}");
            None
        }
        Err(e) => {
            tracing::debug!(target: "httpout::tls", "TLS handshake with {peer} failed: {e}");
            None
        }
    }
}

/// Whether a failed handshake's error is about the client's certificate:
/// none given where one is required, or one that does not verify.
fn is_client_cert_error(e: &io::Error) -> bool {
    matches!(
        e.get_ref()
            .and_then(|inner| inner.downcast_ref::<rustls::Error>()),
        Some(rustls::Error::InvalidCertificate(_) | rustls::Error::NoCertificatesPresented)
    )
}

/// How long an over-limit connection may take to receive its 503.
const REJECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Answers an over-limit connection with 503 + `Retry-After` and closes it;
/// closes it at once when too many rejections are already in progress.
/// The body and a log line on stderr name the limit (`maxc` or `maxp`) and
/// its value. `proxy_header`: its PROXY protocol header is still to be
/// read (and skipped) first.
fn reject(
    stream: Stream,
    peer: Option<SocketAddr>,
    refused: Refused,
    tls: Option<Arc<Tls>>,
    shared: &Shared,
    layer: &Layer,
    proxy_header: bool,
) {
    layer.config.metrics.rejected(refused);
    let Ok(permit) = Arc::clone(&shared.limits.rejecting).try_acquire_owned() else {
        return; // dropping the stream closes it
    };
    tracing::warn!(target: "httpout::conn", "{}", log_line(peer, refused));
    let config = Arc::clone(&layer.config);
    tokio::spawn(async move {
        let _permit = permit;
        let answer = async move {
            if let (true, Stream::Tcp(socket)) = (proxy_header, &stream) {
                if proxy::protocol::read(socket, None).await.is_err() {
                    return;
                }
            }
            if let Some((io, _)) = open(stream, peer, tls, Some(REJECT_TIMEOUT)).await {
                serve_busy(io, config, refused).await;
            }
        };
        let _ = tokio::time::timeout(REJECT_TIMEOUT, answer).await;
    });
}

/// The log line of a refused connection: who, and which limit with its value.
fn log_line(peer: Option<SocketAddr>, refused: Refused) -> String {
    let who = peer.map_or_else(|| "a unix socket client".to_owned(), |p| p.to_string());
    let why = match (refused, peer) {
        (Refused::Maxp(n), Some(p)) => format!("too many connections from {} (maxp={n})", p.ip()),
        (Refused::Rate(n), Some(p)) => format!(
            "too many new connections from {} (max_conn_rate={n} per second)",
            p.ip()
        ),
        _ => refused.to_string(),
    };
    format!("503 to {who}: {why}")
}

async fn serve_busy(io: Box<dyn Io>, config: Arc<ServerConfig>, refused: Refused) {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder.http1().keep_alive(false);
    let svc = service_fn(move |req| {
        let res = service::busy(&config, &req, format!("{refused}\n"));
        async move { Ok::<_, Infallible>(res) }
    });
    let _ = builder.serve_connection(TokioIo::new(io), svc).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_log_line_names_the_peer_and_the_limit() {
        let peer: SocketAddr = "192.0.2.7:4242".parse().unwrap();
        assert_eq!(
            log_line(Some(peer), Refused::Maxp(6)),
            "503 to 192.0.2.7:4242: too many connections from 192.0.2.7 (maxp=6)"
        );
        assert_eq!(
            log_line(Some(peer), Refused::Maxc(100)),
            "503 to 192.0.2.7:4242: server full (maxc=100)"
        );
        assert_eq!(
            log_line(None, Refused::Maxc(1)),
            "503 to a unix socket client: server full (maxc=1)"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn out_of_file_descriptors_pauses_and_never_ends_the_loop() {
        let mut errors = AcceptErrors::default();
        let emfile = io::Error::from_raw_os_error(24);
        let enfile = io::Error::from_raw_os_error(23);
        let t0 = tokio::time::Instant::now();
        // Many in a row: each a pause (the loop goes on), one log line.
        for i in 0..100u64 {
            let e = if i % 2 == 0 { &emfile } else { &enfile };
            let at = t0 + Duration::from_millis(i);
            assert_eq!(errors.on_error(e, at), Some(ACCEPT_PAUSE));
        }
        assert_eq!(errors.last_log, Some(t0));
        assert_eq!(errors.unlogged, 99);
        // A second later: logged again.
        assert_eq!(
            errors.on_error(&emfile, t0 + Duration::from_secs(1)),
            Some(ACCEPT_PAUSE)
        );
        assert_eq!(errors.unlogged, 0);
        // One connection's error is skipped without a pause.
        let reset = io::Error::from(io::ErrorKind::ConnectionAborted);
        assert_eq!(errors.on_error(&reset, t0), None);
        assert!(accept_error_line(&emfile).contains("out of file descriptors"));
    }
}

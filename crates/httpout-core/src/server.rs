//! The embedding API: bind, serve a handler, shut down.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::sync::watch;

use crate::config::ListenSpec;
use crate::config::ServerConfig;
use crate::conn::{self, state::Phase};
use crate::error::StartError;
use crate::handler::Handler;
use crate::limit::Limits;
use crate::listen::{self, Inherited, Listener};
use crate::metrics::Metrics;
use crate::service;
use crate::tls::Tls;

/// A server whose listeners are bound but not yet accepting.
///
/// ```no_run
/// use httpout_core::{Body, Ctx, Error, Server, ServerConfig};
/// use http::{Request, Response};
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let server = Server::bind(ServerConfig::default()).await?;
/// println!("listening on {}", server.local_addrs()[0]);
/// let running = server.serve(|_req: Request<Body>, ctx: Ctx| async move {
///     Ok::<_, Error>(Response::new(Body::full(format!("you asked for {}\n", ctx.path))))
/// });
/// // ... later, from anywhere that holds a handle:
/// running.handle().shutdown(std::time::Duration::from_secs(5)).await;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct Server {
    config: ServerConfig,
    listeners: Vec<Listener>,
    addrs: Vec<ListenSpec>,
    tls: Option<Arc<Tls>>,
}

impl Server {
    /// Loads TLS files (if an `https://` listener needs them) and binds every
    /// listener. Warns on stderr when `maxc` connections could need more
    /// file descriptors than the process may open (`RLIMIT_NOFILE`). Connections that arrive before [`Server::serve`] wait in the
    /// kernel's backlog.
    pub async fn bind(config: ServerConfig) -> Result<Self, StartError> {
        Self::bind_inherited(config, Vec::new()).await
    }

    /// [`Server::bind`], with `sockets` (when there are any) instead of
    /// binding `config.listeners`: socket *i* serves as listener *i* of
    /// the list (its scheme: `http`, `https`, `proxy+http`, `proxy+https`;
    /// the address is the socket's own), and sockets past the end of the
    /// list as its last one. A Unix socket serves plain HTTP.
    pub async fn bind_inherited(
        config: ServerConfig,
        sockets: Vec<Inherited>,
    ) -> Result<Self, StartError> {
        let wants_tls = config.listeners.iter().any(ListenSpec::is_tls);
        let tls = match (&config.tls, wants_tls) {
            (Some(files), true) => Some(Arc::new(Tls::load(files)?)),
            (None, true) => {
                return Err(StartError::Config(
                    "an https:// listener needs --cert and --pkey".into(),
                ));
            }
            (_, false) => None,
        };
        let nofile = rustix::process::getrlimit(rustix::process::Resource::Nofile);
        if let Some(warning) =
            crate::limit::fd_warning(config.maxc, conn::H2_MAX_STREAMS, nofile.current)
        {
            tracing::warn!(target: "httpout::conn", "{warning}");
        }
        let mut listeners = Vec::new();
        let mut addrs = Vec::new();
        if sockets.is_empty() {
            for spec in &config.listeners {
                let (listener, addr) = listen::bind(spec, config.port_scan)?;
                listeners.push(listener);
                addrs.push(addr);
            }
        }
        let plain = ListenSpec::Http(([0, 0, 0, 0], 0).into());
        for (i, socket) in sockets.into_iter().enumerate() {
            let kind = config
                .listeners
                .get(i)
                .or(config.listeners.last())
                .unwrap_or(&plain);
            let (listener, addr) = listen::adopt(kind, socket)?;
            listeners.push(listener);
            addrs.push(addr);
        }
        Ok(Self {
            config,
            listeners,
            addrs,
            tls,
        })
    }

    /// The bound addresses, in the order of the configuration, with real
    /// ports (`http://127.0.0.1:40321` when port 0 was asked).
    pub fn local_addrs(&self) -> &[ListenSpec] {
        &self.addrs
    }

    /// Starts accepting on every listener (spawned on the current tokio
    /// runtime) and returns at once.
    pub fn serve(self, handler: impl Handler) -> Running {
        // One state per layer, each holding the one below: requests
        // (config, handler, limits), connections (hyper's builder, the mode's
        // hook), accept loops (limits, TLS). The configuration is shared,
        // never copied.
        let listeners = self.config.listeners.clone();
        let config = Arc::new(self.config);
        let metrics = Arc::clone(&config.metrics);
        let limits = Arc::new(Limits::new(config.maxc, config.maxp, config.max_conn_rate));
        let (phase_tx, phase_rx) = watch::channel(Phase::Running);
        let stopping = Arc::new(AtomicBool::new(false));
        let requests = Arc::new(service::Shared::new(
            Arc::clone(&config),
            Arc::new(handler),
            Arc::clone(&stopping),
            Arc::clone(&limits),
        ));
        let conns = Arc::new(conn::Shared::new(&config, Arc::clone(&requests)));
        let shared = Arc::new(listen::Shared::new(config, self.tls.clone(), conns, limits));
        for listener in self.listeners {
            tokio::spawn(listen::accept_loop(
                listener,
                Arc::clone(&shared),
                phase_rx.clone(),
            ));
        }
        Running {
            addrs: self.addrs,
            handle: ShutdownHandle {
                phase: Arc::new(phase_tx),
                stopping,
            },
            tls: self.tls,
            listeners,
            requests,
            accepts: shared,
            metrics,
        }
    }
}

/// A serving server. Dropping it (and every [`ShutdownHandle`]) closes every
/// listener and connection at once; [`ShutdownHandle::shutdown`] does it
/// gracefully.
pub struct Running {
    addrs: Vec<ListenSpec>,
    handle: ShutdownHandle,
    tls: Option<Arc<Tls>>,
    /// The listeners as configured (a reload may not change them).
    listeners: Vec<ListenSpec>,
    /// Where a reload puts the new configuration and handler.
    requests: Arc<service::Shared>,
    accepts: Arc<listen::Shared>,
    metrics: Arc<Metrics>,
}

impl std::fmt::Debug for Running {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Running")
            .field("addrs", &self.addrs)
            .field("tls", &self.tls)
            .finish_non_exhaustive()
    }
}

impl Running {
    /// The bound addresses (see [`Server::local_addrs`]).
    pub fn local_addrs(&self) -> &[ListenSpec] {
        &self.addrs
    }

    /// The metrics this server updates ([`ServerConfig::metrics`]): read
    /// them with [`Metrics::encode`] or [`Metrics::registry`].
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// A handle that can shut the server down from another task.
    pub fn handle(&self) -> ShutdownHandle {
        self.handle.clone()
    }

    /// Re-reads the certificate and key; new TLS handshakes use them,
    /// established connections are not touched. Returns `Ok(false)` when the
    /// server has no TLS listener. On error the old certificate stays.
    pub fn reload_tls(&self) -> Result<bool, StartError> {
        match &self.tls {
            Some(tls) => tls.reload().map(|()| true),
            None => Ok(false),
        }
    }

    /// Applies a new configuration and handler without closing anything:
    /// requests that start from now on (on new connections and on those
    /// already open) get `config` and `handler`; connections accepted from
    /// now on get its timeouts and limits; new TLS handshakes its
    /// certificate. Requests in flight, their bodies (a live listener, an
    /// upload) and open connections keep what they started with; the open
    /// connections count against the new `maxc`/`maxp`.
    ///
    /// The listeners cannot change (that needs a restart): a `config`
    /// whose `listeners` differ is refused, as is one whose certificate
    /// cannot be read. On error nothing has changed. The metrics registry
    /// carries over: `config.metrics` is replaced by the running one.
    ///
    /// To reload several servers all or nothing, [`Running::prepare_reload`]
    /// each, then [`Running::apply_reload`] each.
    pub fn reload(&self, config: ServerConfig, handler: impl Handler) -> Result<(), StartError> {
        let prepared = self.prepare_reload(config)?;
        self.apply_reload(prepared, handler);
        Ok(())
    }

    /// The part of [`Running::reload`] that can fail, with no effect:
    /// checks the listeners and reads the certificate.
    pub fn prepare_reload(&self, mut config: ServerConfig) -> Result<PreparedReload, StartError> {
        if config.listeners != self.listeners {
            return Err(StartError::Config(format!(
                "the listeners cannot change without a restart (running: {}; new: {})",
                list(&self.listeners),
                list(&config.listeners)
            )));
        }
        let tls = match &self.tls {
            Some(tls) => {
                let files = config.tls.as_ref().ok_or_else(|| {
                    StartError::Config("an https:// listener needs --cert and --pkey".into())
                })?;
                Some(tls.read(files)?)
            }
            None => None,
        };
        config.metrics = Arc::clone(&self.metrics);
        Ok(PreparedReload { config, tls })
    }

    /// The part of [`Running::reload`] that cannot fail: `prepared` (from
    /// this server's [`Running::prepare_reload`]) and `handler` in use.
    pub fn apply_reload(&self, prepared: PreparedReload, handler: impl Handler) {
        let PreparedReload { config, tls } = prepared;
        if let (Some(tls), Some(loaded)) = (&self.tls, tls) {
            tls.use_loaded(loaded);
        }
        let config = Arc::new(config);
        self.requests
            .replace(Arc::clone(&config), Arc::new(handler));
        let conns = Arc::new(conn::Shared::new(&config, Arc::clone(&self.requests)));
        self.accepts.replace(config, conns);
    }

    /// Waits until a shutdown started by a handle has finished.
    pub async fn stopped(&self) {
        self.handle.stopped().await;
    }
}

/// Shuts a [`Running`] server down; cheap to clone.
#[derive(Debug, Clone)]
pub struct ShutdownHandle {
    phase: Arc<watch::Sender<Phase>>,
    /// Told to requests (the health check) once shutdown has begun.
    stopping: Arc<AtomicBool>,
}

/// How a shutdown ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shutdown {
    /// Every connection finished within the grace period.
    Graceful,
    /// The grace period ran out; the remaining connections were closed.
    Forced,
}

impl ShutdownHandle {
    /// Stops accepting, lets in-flight requests finish for at most `grace`
    /// (HTTP/1 connections close after their current response, HTTP/2 ones
    /// get GOAWAY), then closes whatever is left.
    pub async fn shutdown(&self, grace: Duration) -> Shutdown {
        self.stopping.store(true, Ordering::Relaxed);
        self.phase.send_replace(Phase::Graceful);
        if tokio::time::timeout(grace, self.phase.closed())
            .await
            .is_ok()
        {
            return Shutdown::Graceful;
        }
        self.phase.send_replace(Phase::Force);
        let _ = tokio::time::timeout(Duration::from_secs(1), self.phase.closed()).await;
        Shutdown::Forced
    }

    /// Waits until a shutdown has been asked for and every connection is gone.
    pub async fn stopped(&self) {
        self.asked().await;
        self.phase.closed().await;
    }

    /// Waits until a shutdown has been asked for.
    pub(crate) async fn asked(&self) {
        let mut rx = self.phase.subscribe();
        let _ = rx.wait_for(|p| *p != Phase::Running).await;
    }
}

/// A reload checked and read ([`Running::prepare_reload`]), to apply with
/// [`Running::apply_reload`].
pub struct PreparedReload {
    config: ServerConfig,
    tls: Option<Arc<crate::tls::Loaded>>,
}

impl std::fmt::Debug for PreparedReload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PreparedReload")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// Listeners as one line.
fn list(specs: &[ListenSpec]) -> String {
    specs
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

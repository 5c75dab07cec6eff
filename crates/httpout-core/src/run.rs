//! A server in one call, and for a while: [`serve`] for programs without
//! tokio (phttp's `ListenAndRun`), [`Running::run_for`] for those that
//! serve between other work (Net::HTTPServer's `Process(5)`).

use std::net::ToSocketAddrs;
use std::time::Duration;

use crate::config::{ListenSpec, ServerConfig};
use crate::error::StartError;
use crate::handler::Handler;
use crate::server::{Running, Server, Shutdown};

/// How long [`serve`] and [`Running::run_for`] give requests in flight to
/// finish once they stop (the CLI's default `--grace`).
///
/// ```
/// assert_eq!(httpout_core::DEFAULT_GRACE, std::time::Duration::from_secs(10));
/// ```
pub const DEFAULT_GRACE: Duration = Duration::from_secs(10);

/// Serves `handler` on `addr` (`"127.0.0.1:8080"`, `("::1", 8080)`, a
/// [`std::net::SocketAddr`]; every address a name resolves to) with the
/// defaults of [`ServerConfig`], until Ctrl-C (SIGINT) or SIGTERM; then
/// lets requests in flight finish for [`DEFAULT_GRACE`] and returns.
/// Builds its own tokio runtime, so the caller needs none (called from
/// inside a runtime, it returns [`StartError::Config`]: a runtime cannot
/// block inside another). Logs one
/// `listening on URL` line per listener (`tracing`, target
/// `httpout::init`).
///
/// ```no_run
/// use httpout_core::{Body, Ctx, Error, http::{Request, Response}};
///
/// fn main() -> Result<(), httpout_core::StartError> {
///     httpout_core::serve("127.0.0.1:8080", |_req: Request<Body>, _ctx: Ctx| async {
///         Ok::<_, Error>(Response::new(Body::full("Hello!\n")))
///     })
/// }
/// ```
pub fn serve(addr: impl ToSocketAddrs, handler: impl Handler) -> Result<(), StartError> {
    if tokio::runtime::Handle::try_current().is_ok() {
        return Err(StartError::Config(
            "serve builds its own runtime and cannot run inside one: \
             use Server::bind(config).await?.serve(handler)"
                .into(),
        ));
    }
    let listeners: Vec<ListenSpec> = addr
        .to_socket_addrs()
        .map_err(|e| StartError::Config(format!("cannot resolve the address to serve: {e}")))?
        .map(ListenSpec::Http)
        .collect();
    if listeners.is_empty() {
        return Err(StartError::Config(
            "the address to serve resolves to nothing".into(),
        ));
    }
    let config = ServerConfig {
        listeners,
        ..ServerConfig::default()
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(StartError::Runtime)?;
    runtime.block_on(async {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate()).map_err(StartError::Runtime)?;
        let mut int = signal(SignalKind::interrupt()).map_err(StartError::Runtime)?;
        let running = Server::bind(config).await?.serve(handler);
        for addr in running.local_addrs() {
            tracing::info!(target: "httpout::init", "listening on {addr}");
        }
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
        running.handle().shutdown(DEFAULT_GRACE).await;
        Ok(())
    })
}

impl Running {
    /// Serves for `time`, then stops as [`crate::ShutdownHandle::shutdown`]
    /// does: no new connections, requests in flight finish within
    /// [`DEFAULT_GRACE`], what is left then is closed; returns how it
    /// ended. When a [`crate::ShutdownHandle`] stops the server first,
    /// returns once that shutdown is over: [`Shutdown::Graceful`] if every
    /// connection was gone within [`DEFAULT_GRACE`] (plus the second a
    /// forced close takes), [`Shutdown::Forced`] otherwise, without waiting
    /// longer (the handle's own call says how its shutdown ended).
    /// Net::HTTPServer's `Process(5)`, except that the server serves in the
    /// background from [`Server::serve`] on, not only during this call.
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), httpout_core::StartError> {
    /// use std::time::Duration;
    /// use httpout_core::{Body, Ctx, Error, Server, ServerConfig, Shutdown};
    /// use httpout_core::http::{Request, Response};
    ///
    /// let server = Server::bind(ServerConfig::default()).await?;
    /// let running = server.serve(|_req: Request<Body>, _ctx: Ctx| async {
    ///     Ok::<_, Error>(Response::new(Body::full("Hello!\n")))
    /// });
    /// assert_eq!(running.run_for(Duration::from_secs(5)).await, Shutdown::Graceful);
    /// # Ok(()) }
    /// ```
    pub async fn run_for(self, time: Duration) -> Shutdown {
        let handle = self.handle();
        tokio::select! {
            () = tokio::time::sleep(time) => handle.shutdown(DEFAULT_GRACE).await,
            () = handle.asked() => {
                // Another handle's shutdown: waited for as long as ours
                // would take, at most.
                let bound = DEFAULT_GRACE + Duration::from_secs(1);
                match tokio::time::timeout(bound, handle.stopped()).await {
                    Ok(()) => Shutdown::Graceful,
                    Err(_) => Shutdown::Forced,
                }
            }
        }
    }
}

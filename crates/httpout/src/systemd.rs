//! systemd integration: readiness notifications and socket activation.
//!
//! - [`notify`]: when `NOTIFY_SOCKET` is set (a `Type=notify` service),
//!   one datagram per state change: `READY=1` once every listener is bound
//!   and serving, `RELOADING=1` (with `MONOTONIC_USEC`) and `READY=1`
//!   around a SIGHUP reload, `STOPPING=1` when shutdown starts. Without
//!   `NOTIFY_SOCKET` nothing is sent.
//! - [`inherited`]: when `LISTEN_FDS` (and `LISTEN_PID`, this process) are
//!   set (a `.socket` unit), the sockets from fd 3 on are the listeners of
//!   the main server instead of binding any: socket *i* takes the scheme of
//!   the *i*-th `--listen` entry (`http` by default, `https` with `--cert`),
//!   sockets past the list that of its last entry; a Unix stream socket
//!   serves plain HTTP. `LISTEN_FDNAMES` is not read: the order of the
//!   `ListenStream=` lines is the order of `--listen`.

use std::os::unix::net::UnixDatagram;

use httpout_core::Inherited;

/// Sends `state` (`READY=1`, ...) to the service manager, if there is one
/// (`NOTIFY_SOCKET`); a failure is logged, never fatal.
pub(crate) fn notify(state: &str) {
    let Some(path) = std::env::var_os("NOTIFY_SOCKET") else {
        return;
    };
    if let Err(e) = send(&path, state) {
        tracing::warn!(target: "httpout::systemd", "sd_notify {state:?} to {}: {e}", path.to_string_lossy());
    }
}

fn send(path: &std::ffi::OsStr, state: &str) -> std::io::Result<()> {
    use std::os::unix::ffi::OsStrExt;
    let socket = UnixDatagram::unbound()?;
    match path.as_bytes().strip_prefix(b"@") {
        // An abstract socket (`@name`).
        Some(name) => {
            use std::os::linux::net::SocketAddrExt;
            let addr = std::os::unix::net::SocketAddr::from_abstract_name(name)?;
            socket.send_to_addr(state.as_bytes(), &addr)?;
        }
        None => {
            socket.send_to(state.as_bytes(), path)?;
        }
    }
    Ok(())
}

/// The `RELOADING=1` message, with the monotonic clock systemd asks for.
pub(crate) fn reloading() -> String {
    let now = rustix::time::clock_gettime(rustix::time::ClockId::Monotonic);
    let usec = u64::try_from(now.tv_sec).unwrap_or(0) * 1_000_000
        + u64::try_from(now.tv_nsec).unwrap_or(0) / 1_000;
    format!("RELOADING=1\nMONOTONIC_USEC={usec}")
}

/// The listening sockets passed by the service manager (`LISTEN_FDS`,
/// for this process: `LISTEN_PID`); empty without them. Call it first in
/// `main`, before any thread starts: it unsets those variables.
pub(crate) fn inherited() -> Result<Vec<Inherited>, String> {
    let mut fds = listenfd::ListenFd::from_env();
    (0..fds.len())
        .map(|i| {
            let fd = i + 3;
            if let Ok(Some(tcp)) = fds.take_tcp_listener(i) {
                return Ok(Inherited::Tcp(tcp));
            }
            match fds.take_unix_listener(i) {
                Ok(Some(unix)) => Ok(Inherited::Unix(unix)),
                Ok(None) => Err(format!("LISTEN_FDS: fd {fd} was already taken")),
                Err(e) => Err(format!(
                    "LISTEN_FDS: fd {fd} is not a listening TCP or Unix stream socket ({e})"
                )),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notifications_reach_a_path_and_an_abstract_socket() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify.sock");
        let receiver = UnixDatagram::bind(&path).unwrap();
        send(path.as_os_str(), "READY=1").unwrap();
        let mut buf = [0u8; 64];
        let n = receiver.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"READY=1");
        use std::os::linux::net::SocketAddrExt;
        let name = format!("httpout-test-{}", std::process::id());
        let addr = std::os::unix::net::SocketAddr::from_abstract_name(&name).unwrap();
        let abstract_rx = UnixDatagram::bind_addr(&addr).unwrap();
        send(std::ffi::OsStr::new(&format!("@{name}")), "STOPPING=1").unwrap();
        let n = abstract_rx.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"STOPPING=1");
        assert!(reloading().starts_with("RELOADING=1\nMONOTONIC_USEC="));
    }
}

//! Which servers to run, on which addresses, with which outputs: GPAC runs
//! one server per address its `-o` URLs name, each output with its own
//! suffix options; so does this.
//!
//! - The host of `-o http://HOST:PORT/...` is bound, not every interface
//!   (`localhost` is loopback only); `--ifce`, `--port` and `--listen` win
//!   when given.
//! - Outputs on the same address share one server; each other address gets
//!   a server of its own, serving its outputs only.
//! - The first output's server (or, with no outputs, the one `--ifce`,
//!   `--port` or `--listen` give) also serves `--rdirs`, `--wdir` and HTTP
//!   source clients: the main server.
//! - An output's suffix options apply to that output; those of them that
//!   are the server's (`port`, `maxc`, `cert`, `hdrs`, ...) apply to its
//!   server.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, ToSocketAddrs};

use crate::options::{Group, Options, config_error, group_of};
use httpout_core::{ConfigError, ListenSpec};

/// One `-i SOURCE -o URL` pair and its own options.
#[derive(Debug, Clone)]
pub(crate) struct Pair {
    /// Its place on the command line (the n-th `-i` and `-o`).
    pub(crate) index: usize,
    /// The input, its `:#PROP` properties taken off.
    pub(crate) input: String,
    /// The output URL, its suffixes taken off.
    pub(crate) output: String,
    /// The command line's options, then the input's and the output's own.
    pub(crate) opts: Options,
}

/// One server to run.
#[derive(Debug)]
pub(crate) struct ServerPlan {
    /// The command line's options and the server-wide suffixes of its outputs.
    pub(crate) opts: Options,
    /// Where it listens.
    pub(crate) listeners: Vec<ListenSpec>,
    /// The outputs it serves.
    pub(crate) pairs: Vec<Pair>,
    /// It also serves `--rdirs`, `--wdir` and HTTP source clients.
    pub(crate) main: bool,
}

/// The pairs of the command line with their options. `-i` and `-o` are
/// checked to go in pairs before this runs.
pub(crate) fn pairs(opts: &Options) -> Result<Vec<Pair>, ConfigError> {
    opts.inputs
        .iter()
        .zip(&opts.outputs)
        .enumerate()
        .map(|(i, (input, output))| {
            Ok(Pair {
                index: i,
                input: input.clone(),
                output: output.clone(),
                opts: opts.pair(i).map_err(|e| config_error(&e))?,
            })
        })
        .collect()
}

/// The servers the options ask for, the main one first.
pub(crate) fn servers(opts: &Options, pairs: Vec<Pair>) -> Result<Vec<ServerPlan>, ConfigError> {
    // A server's options: the command line's and its outputs' server-wide
    // suffixes.
    let plan = |listeners: Option<Vec<ListenSpec>>, pairs: Vec<Pair>, main: bool| {
        let flags: Vec<String> = pairs.iter().flat_map(|p| server_flags(opts, p)).collect();
        let opts = opts.scoped(&flags).map_err(|e| config_error(&e))?;
        Ok(ServerPlan {
            listeners: listeners.unwrap_or_else(|| opts.listeners()),
            opts,
            pairs,
            main,
        })
    };
    if pairs.is_empty() || !opts.core.listen.is_empty() {
        return Ok(vec![plan(None, pairs, true)?]);
    }
    let mut groups: Vec<(Vec<ListenSpec>, Vec<Pair>)> = Vec::new();
    for pair in pairs {
        let listeners = output_listeners(&pair)?;
        match groups.iter_mut().find(|(l, _)| *l == listeners) {
            Some((_, group)) => group.push(pair),
            None => groups.push((listeners, vec![pair])),
        }
    }
    groups
        .into_iter()
        .enumerate()
        .map(|(i, (listeners, pairs))| plan(Some(listeners), pairs, i == 0))
        .collect()
}

/// The suffix flags of a pair that are its server's (engine and static
/// server options), not the output's alone.
fn server_flags(opts: &Options, pair: &Pair) -> Vec<String> {
    let own = opts
        .output_flags
        .get(pair.index)
        .cloned()
        .unwrap_or_default();
    own.into_iter()
        .filter(|f| {
            Options::flag_id(f).is_some_and(|id| {
                matches!(group_of(&id), Group::Core | Group::Static) || id == "source_password"
            })
        })
        .collect()
}

/// The listeners of an output: its URL's host (or `--ifce`) and port (or
/// `--port`); HTTPS with `--cert`.
fn output_listeners(pair: &Pair) -> Result<Vec<ListenSpec>, ConfigError> {
    let url = &pair.output;
    let bad = || ConfigError::invalid("-o", url, "expected http://HOST:PORT/NAME");
    let (https, rest) = match url.strip_prefix("https://") {
        Some(rest) => (true, rest),
        None => (false, url.strip_prefix("http://").ok_or_else(bad)?),
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let (host, port) = split_authority(authority).ok_or_else(bad)?;
    let port = pair.opts.core.port.map_or_else(
        || port.unwrap_or(if https { 443 } else { 80 }),
        |p| p.number,
    );
    let tls = pair.opts.core.cert.is_some();
    if https && !tls {
        return Err(ConfigError::invalid(
            "-o",
            url,
            "an https:// output needs --cert and --pkey",
        ));
    }
    let ips = match pair.opts.core.ifce {
        Some(ip) => vec![ip],
        None => resolve(host, port).map_err(|e| {
            ConfigError::invalid("-o", url, format!("cannot resolve '{host}' ({e})"))
        })?,
    };
    // Port 0 picks a free port per socket: one address, so one port.
    let ips = if port == 0 { ips[..1].to_vec() } else { ips };
    Ok(ips
        .into_iter()
        .map(|ip| {
            let addr = SocketAddr::new(ip, port);
            if tls {
                ListenSpec::Https(addr)
            } else {
                ListenSpec::Http(addr)
            }
        })
        .collect())
}

/// `host`, `host:port`, `[v6]`, `[v6]:port`.
fn split_authority(authority: &str) -> Option<(&str, Option<u16>)> {
    let authority = authority.rsplit('@').next().unwrap_or(authority);
    let (host, port) = if let Some(rest) = authority.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        (host, after.strip_prefix(':'))
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        }
    };
    let port = match port {
        Some(p) => Some(p.parse().ok()?),
        None => None,
    };
    Some((host, port))
}

/// The addresses to bind for a host name: an IP as it is, `localhost` on
/// loopback only (IPv4, and IPv6 where the host has it), an empty host on
/// every interface, a name on the addresses it resolves to.
fn resolve(host: &str, port: u16) -> std::io::Result<Vec<IpAddr>> {
    if host.is_empty() {
        return Ok(vec![IpAddr::V6(Ipv6Addr::UNSPECIFIED)]);
    }
    if let Ok(ip) = host.parse() {
        return Ok(vec![ip]);
    }
    if host.eq_ignore_ascii_case("localhost") {
        let mut ips = vec![IpAddr::V4(Ipv4Addr::LOCALHOST)];
        if std::net::TcpListener::bind((Ipv6Addr::LOCALHOST, 0)).is_ok() {
            ips.push(IpAddr::V6(Ipv6Addr::LOCALHOST));
        }
        return Ok(ips);
    }
    let mut ips: Vec<IpAddr> = Vec::new();
    for addr in (host, port).to_socket_addrs()? {
        if !ips.contains(&addr.ip()) {
            ips.push(addr.ip());
        }
    }
    if ips.is_empty() {
        return Err(std::io::Error::other("no address"));
    }
    Ok(ips)
}

/// Whether a listener is reachable from every interface.
pub(crate) fn is_wildcard(spec: &ListenSpec) -> bool {
    spec.tcp_addr().is_some_and(|a| a.ip().is_unspecified())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(args: &[&str]) -> Result<Vec<ServerPlan>, String> {
        let opts = Options::try_parse_args(args.iter().copied())
            .map_err(|e| crate::options::error_line(&e))?;
        let pairs = pairs(&opts).map_err(|e| e.to_string())?;
        servers(&opts, pairs).map_err(|e| e.to_string())
    }

    fn addrs(p: &ServerPlan) -> Vec<String> {
        p.listeners.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn the_output_host_is_bound_not_every_interface() {
        let p = plan(&["x", "-i", "a.mp3", "-o", "http://127.0.0.1:18100/live.mp3"]).unwrap();
        assert_eq!(addrs(&p[0]), ["http://127.0.0.1:18100"]);
        let p = plan(&["x", "-i", "a.mp3", "-o", "http://localhost:18100/live.mp3"]).unwrap();
        assert!(p[0].listeners.iter().all(|l| match l {
            ListenSpec::Http(a) => a.ip().is_loopback(),
            _ => false,
        }));
        // --ifce and --port win.
        let p = plan(&[
            "x",
            "-i",
            "a.mp3",
            "-o",
            "http://localhost:1/a.mp3",
            "--ifce=::1",
            "--port=2",
        ])
        .unwrap();
        assert_eq!(addrs(&p[0]), ["http://[::1]:2"]);
        let p = plan(&["x", "-i", "a", "-o", "http://[::1]:3/a.mp3:port=4"]).unwrap();
        assert_eq!(addrs(&p[0]), ["http://[::1]:4"]);
    }

    #[test]
    fn each_address_gets_its_server_and_suffixes_stay_with_theirs() {
        let p = plan(&[
            "x",
            "-i",
            "a.mp3",
            "-o",
            "http://127.0.0.1:1/a.mp3:maxc=3",
            "-i",
            "b.aac",
            "-o",
            "http://127.0.0.1:2/b.aac:ice-Genre=Rock",
            "-i",
            "c.mp3",
            "-o",
            "http://127.0.0.1:1/c.mp3",
            "--rdirs=.",
        ])
        .unwrap();
        assert_eq!(p.len(), 2);
        assert!(p[0].main && !p[1].main);
        assert_eq!(addrs(&p[0]), ["http://127.0.0.1:1"]);
        assert_eq!(addrs(&p[1]), ["http://127.0.0.1:2"]);
        let outputs = |s: &ServerPlan| s.pairs.iter().map(|p| p.input.clone()).collect::<Vec<_>>();
        assert_eq!(outputs(&p[0]), ["a.mp3", "c.mp3"]);
        assert_eq!(outputs(&p[1]), ["b.aac"]);
        // maxc is the server's; the ICE value is b.aac's alone.
        assert_eq!((p[0].opts.core.maxc, p[1].opts.core.maxc), (3, 100));
        assert!(p[0].pairs.iter().all(|x| x.opts.live.ice_hdr.is_empty()));
        assert!(p[1].opts.live.ice_hdr.is_empty());
        assert_eq!(p[1].pairs[0].opts.live.ice_hdr, ["Genre=Rock"]);
    }

    #[test]
    fn listen_puts_every_output_on_its_listeners() {
        let p = plan(&[
            "x",
            "--listen=http://127.0.0.1:5",
            "-i",
            "a",
            "-o",
            "http://127.0.0.1:1/a.mp3",
            "-i",
            "b",
            "-o",
            "http://127.0.0.1:2/b.mp3",
        ])
        .unwrap();
        assert_eq!(p.len(), 1);
        assert_eq!(addrs(&p[0]), ["http://127.0.0.1:5"]);
    }

    #[test]
    fn https_outputs_need_a_certificate() {
        let e = plan(&["x", "-i", "a", "-o", "https://127.0.0.1:1/a.mp3"]).unwrap_err();
        assert!(e.contains("--cert"), "{e}");
    }

    #[test]
    fn authorities() {
        assert_eq!(split_authority("h:80"), Some(("h", Some(80))));
        assert_eq!(split_authority("[::1]:81"), Some(("::1", Some(81))));
        assert_eq!(split_authority("[::1]"), Some(("::1", None)));
        assert_eq!(split_authority("h"), Some(("h", None)));
        assert_eq!(split_authority("u:p@h:1"), Some(("h", Some(1))));
        assert_eq!(split_authority("h:x"), None);
    }
}

//! Icecast 2.4's admin API, answered as icecast2 answers it (element names
//! and nesting checked against icecast2 2.4.4 in
//! `crates/httpout/tests/live_admin.rs`):
//!
//! | request | answer |
//! |---|---|
//! | `/admin/stats` | `<icestats>` with the server's counters and a `<source mount>` per mount |
//! | `/admin/listmounts`, `/admin/streamlist` | `<source mount>` with `fallback`, `listeners`, `Connected`, `content-type` |
//! | `/admin/streamlist.txt` | one mount per line (what a slave's `--master` reads) |
//! | `/admin/listclients?mount=` | the mount's `<listener>`s: `IP`, `UserAgent`, `Connected`, `ID` (and our `BytesSent`) |
//! | `/admin/moveclients?mount=&destination=` | every listener of `mount` moves to `destination` |
//! | `/admin/killclient?mount=&id=` | listener `id` is disconnected |
//! | `/admin/killsource?mount=` | the mount's HTTP source is disconnected |
//! | `/admin/fallbacks?mount=&fallback=` | sets the mount's fallback (until the next reload) |
//!
//! Every request carries the admin's Basic credentials (`--admin_user`,
//! `--admin_password`); failures count against the same limits as
//! sign-ins (see [`httpout_core::auth::Failures`]).

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::SystemTime;

use http::header::{CACHE_CONTROL, CONTENT_TYPE, HOST};
use http::{HeaderValue, Request, Response};
use httpout_core::html::escape;
use httpout_core::{Body, Error};

use crate::LiveConfig;
use crate::error::LiveError;
use crate::hub::{Hub, Phase, Stream};
use crate::status::query_param;
use crate::utc::{Utc, iso8601};

/// The admin commands this module answers (`/admin/NAME`).
pub(crate) const COMMANDS: &[&str] = &[
    "stats",
    "listmounts",
    "streamlist",
    "streamlist.txt",
    "listclients",
    "moveclients",
    "killclient",
    "killsource",
    "fallbacks",
];

/// A tiny XML writer: elements and escaped text, no whitespace (as
/// icecast2 writes them).
struct Xml(String);

impl Xml {
    fn new() -> Self {
        Self(String::from("<?xml version=\"1.0\"?>\n"))
    }

    fn open(&mut self, tag: &str) -> &mut Self {
        let _ = write!(self.0, "<{tag}>");
        self
    }

    fn open_mount(&mut self, mount: &str) -> &mut Self {
        let _ = write!(self.0, "<source mount=\"{}\">", text(mount));
        self
    }

    fn close(&mut self, tag: &str) -> &mut Self {
        let _ = write!(self.0, "</{tag}>");
        self
    }

    fn leaf(&mut self, tag: &str, value: impl std::fmt::Display) -> &mut Self {
        let _ = write!(self.0, "<{tag}>{}</{tag}>", text(&value.to_string()));
        self
    }

    fn response(mut self) -> Response<Body> {
        self.0.push('\n');
        let mut res = Response::new(Body::full(self.0));
        res.headers_mut().insert(
            CONTENT_TYPE,
            HeaderValue::from_static("text/xml; charset=utf-8"),
        );
        res.headers_mut().insert(
            CACHE_CONTROL,
            HeaderValue::from_static("no-cache, no-store"),
        );
        res
    }
}

/// Text as XML 1.0 takes it: escaped, and the control characters it
/// forbids (a mount path may hold them) shown as U+FFFD.
fn text(s: &str) -> String {
    let clean: String = s
        .chars()
        .map(|c| {
            if c.is_control() && !matches!(c, '\t' | '\n' | '\r') {
                '\u{fffd}'
            } else {
                c
            }
        })
        .collect();
    escape(&clean)
}

/// Icecast's answer to a command: a message and 1 (done) or 0 (not).
fn ice_response(message: &str, done: bool) -> Response<Body> {
    let mut x = Xml::new();
    x.open("iceresponse")
        .leaf("message", message)
        .leaf("return", u8::from(done))
        .close("iceresponse");
    x.response()
}

/// `Sat, 05 Dec 2026 08:22:19 +0000` and `2026-12-05T08:22:19+0000`, as
/// icecast2 writes times.
fn times(t: SystemTime) -> (String, String) {
    let rfc = httpdate::fmt_http_date(t).replace(" GMT", " +0000");
    (rfc, iso8601(&Utc::from(t)))
}

/// Seconds since `t`.
fn since(t: SystemTime) -> u64 {
    SystemTime::now()
        .duration_since(t)
        .unwrap_or_default()
        .as_secs()
}

/// Answers `/admin/{command}`; the credentials were checked.
pub(crate) fn answer(
    hub: &Hub,
    config: &LiveConfig,
    command: &str,
    req: &Request<Body>,
) -> Result<Response<Body>, Error> {
    let query = req.uri().query().unwrap_or_default();
    let param = |name: &str| query_param(query, name).filter(|v| !v.is_empty());
    let required = |name: &str| param(name).ok_or(LiveError::BadRequest("Missing parameter"));
    let mount = |name: &str| -> Result<Arc<Stream>, Error> {
        let path = required(name)?;
        hub.get(&path)
            .filter(|s| s.phase() != Phase::Ended)
            .ok_or_else(|| LiveError::BadRequest("Source does not exist").into())
    };
    match command {
        "stats" => Ok(stats(hub, config, req, param("mount").as_deref())),
        "listmounts" | "streamlist" => Ok(list_mounts(hub)),
        "streamlist.txt" => {
            let mut text = String::new();
            // One path a line: a path with a control character or a
            // space would not read back as one.
            let listed = mounts(hub).into_iter().filter(|s| {
                !s.path()
                    .chars()
                    .any(|c| c.is_control() || c.is_whitespace())
            });
            for s in listed {
                text.push_str(s.path());
                text.push('\n');
            }
            let mut res = Response::new(Body::full(text));
            res.headers_mut().insert(
                CONTENT_TYPE,
                HeaderValue::from_static("text/plain; charset=utf-8"),
            );
            Ok(res)
        }
        "listclients" => Ok(list_clients(hub, &*mount("mount")?)),
        "moveclients" => {
            let from = mount("mount")?;
            let dest = required("destination")?;
            let to = hub
                .get(&dest)
                .filter(|s| s.phase() != Phase::Ended && !Arc::ptr_eq(s, &from))
                .ok_or(LiveError::BadRequest("No such destination"))?;
            let moved = from.move_clients(&to);
            tracing::info!(
                target: "httpout::live",
                "admin: {moved} listeners moved from {} to {}",
                from.path(),
                to.path()
            );
            Ok(ice_response(
                &format!("Clients moved from {} to {}", from.path(), to.path()),
                true,
            ))
        }
        "killclient" => {
            let stream = mount("mount")?;
            let id = required("id")?;
            let found = id.parse().is_ok_and(|id| stream.kill_client(id));
            Ok(if found {
                ice_response(&format!("Client {id} removed"), true)
            } else {
                ice_response(&format!("Client {id} not found"), false)
            })
        }
        "killsource" => {
            let stream = mount("mount")?;
            if stream.feed == crate::hub::Feed::Input {
                return Err(LiveError::FedByInput(stream.path().to_owned()).into());
            }
            stream.stop_source();
            Ok(ice_response("Source Removed", true))
        }
        "fallbacks" => {
            let path = required("mount")?;
            let fallback = required("fallback")?;
            hub.set_fallback(&path, Some(&fallback))?;
            tracing::info!(target: "httpout::live", "admin: {path} falls back to {fallback}");
            let mut res = Response::new(Body::full(
                "<html><head><title>Admin request successful</title></head>\
                 <body><p>Fallback configured</p></body></html>\n",
            ));
            res.headers_mut().insert(
                CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            );
            Ok(res)
        }
        _ => Err(LiveError::BadRequest("Unrecognised command").into()),
    }
}

/// The mounts the admin sees: every one not ended, hidden ones included.
fn mounts(hub: &Hub) -> Vec<Arc<Stream>> {
    hub.all()
        .into_iter()
        .filter(|s| s.phase() != Phase::Ended)
        .collect()
}

fn list_mounts(hub: &Hub) -> Response<Body> {
    let mut x = Xml::new();
    x.open("icestats");
    for s in mounts(hub) {
        x.open_mount(s.path())
            .leaf("fallback", hub.fallback_of(s.path()).unwrap_or_default())
            .leaf("listeners", s.listeners())
            .leaf("Connected", since(s.started()))
            .leaf("content-type", s.facts().content_type)
            .close("source");
    }
    x.close("icestats");
    x.response()
}

fn list_clients(hub: &Hub, stream: &Stream) -> Response<Body> {
    let mut x = Xml::new();
    let clients = stream.clients();
    x.open("icestats")
        .open_mount(stream.path())
        .leaf("Listeners", clients.len());
    for c in clients {
        x.open("listener")
            .leaf("IP", c.addr.map(|a| a.ip().to_string()).unwrap_or_default())
            .leaf("UserAgent", &c.user_agent)
            .leaf("Connected", c.connected(hub).as_secs())
            .leaf("ID", c.id)
            .leaf(
                "BytesSent",
                c.bytes.load(std::sync::atomic::Ordering::Relaxed),
            )
            .close("listener");
    }
    x.close("source").close("icestats");
    x.response()
}

fn stats(
    hub: &Hub,
    config: &LiveConfig,
    req: &Request<Body>,
    only: Option<&str>,
) -> Response<Body> {
    let all = mounts(hub);
    let host = req
        .headers()
        .get(HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost")
        .to_owned();
    let (start, start_iso) = times(hub.started_at());
    let mut x = Xml::new();
    x.open("icestats")
        .leaf("host", host.split(':').next().unwrap_or_default())
        .leaf("listener_connections", hub.listener_connections())
        .leaf("listeners", all.iter().map(|s| s.listeners()).sum::<u64>())
        .leaf("server_id", concat!("httpout/", env!("CARGO_PKG_VERSION")))
        .leaf("server_start", start)
        .leaf("server_start_iso8601", start_iso)
        .leaf("sources", all.iter().filter(|s| s.is_live()).count());
    for s in all.iter().filter(|s| only.is_none_or(|m| m == s.path())) {
        let facts = s.facts();
        let mut meta = facts.meta.clone();
        let own = config.mount(s.path());
        if let Some(own) = own {
            own.apply_identity(&mut meta);
        }
        let told = |name: &str| {
            meta.headers
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.clone())
        };
        let (started, started_iso) = times(s.started());
        x.open_mount(s.path());
        if let Some(genre) = told("icy-genre") {
            x.leaf("genre", genre);
        }
        x.leaf(
            "listener_peak",
            s.stats
                .listener_peak
                .load(std::sync::atomic::Ordering::Relaxed),
        )
        .leaf("listeners", s.listeners())
        .leaf("listenurl", format!("http://{host}{}", s.path()))
        .leaf(
            "max_listeners",
            own.and_then(|m| m.max_listeners)
                .map_or_else(|| "unlimited".to_owned(), |n| n.to_string()),
        )
        .leaf("public", told("icy-pub").unwrap_or_else(|| "0".to_owned()));
        if let Some(d) = told("icy-description") {
            x.leaf("server_description", d);
        }
        if let Some(n) = told("icy-name") {
            x.leaf("server_name", n);
        }
        x.leaf("server_type", &facts.content_type);
        if let Some(u) = told("icy-url") {
            x.leaf("server_url", u);
        }
        if let Some(ip) = facts.source_ip {
            x.leaf("source_ip", ip);
        }
        x.leaf("stream_start", started)
            .leaf("stream_start_iso8601", started_iso);
        if let Some(title) = &facts.meta.title {
            x.leaf("title", title);
        }
        x.leaf("total_bytes_read", s.bytes_in()).leaf(
            "total_bytes_sent",
            s.stats.bytes_out.load(std::sync::atomic::Ordering::Relaxed),
        );
        if let Some(agent) = &facts.source_agent {
            x.leaf("user_agent", agent);
        }
        x.close("source");
    }
    x.close("icestats");
    x.response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_written_as_icecast_writes_them() {
        let t = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_796_458_939);
        let (rfc, iso) = times(t);
        assert_eq!(rfc, "Sat, 05 Dec 2026 08:22:19 +0000");
        assert_eq!(iso, "2026-12-05T08:22:19+0000");
    }

    #[test]
    fn control_characters_do_not_break_the_xml() {
        assert_eq!(text("/a\u{1}b&"), "/a\u{fffd}b&amp;");
    }

    #[test]
    fn xml_text_is_escaped() {
        let mut x = Xml::new();
        x.open_mount("/a&b")
            .leaf("title", "<Rock & Roll>")
            .close("source");
        assert_eq!(
            x.0,
            "<?xml version=\"1.0\"?>\n<source mount=\"/a&amp;b\"><title>&lt;Rock &amp; Roll&gt;</title></source>"
        );
    }
}

//! Status pages at Icecast's paths: `/status-json.xsl` (JSON, Icecast's
//! `icestats` shape plus our counters) and `/status.xsl` (HTML).

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime};

use http::header::{CACHE_CONTROL, CONTENT_TYPE};
use http::{HeaderValue, Request, Response};
use httpout_core::html::escape;
use httpout_core::ws::{Message, Upgrade};
use httpout_core::{Body, Error};
use serde_json::{Value, json};

use crate::hub::{Hub, Phase, Stream};
use crate::mounts::Mounts;

/// The streams the public pages show: not ended, not `hidden`.
fn shown(hub: &Hub, mounts: &Mounts) -> Vec<std::sync::Arc<Stream>> {
    hub.all()
        .into_iter()
        .filter(|s| s.phase() != Phase::Ended)
        .filter(|s| !mounts.get(s.path()).is_some_and(|m| m.hidden))
        .collect()
}

/// The facts of one stream, as the JSON page shows them.
fn source(s: &Stream) -> Value {
    let facts = s.facts();
    let header = |name: &str| {
        facts
            .meta
            .headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
    };
    let phase = match s.phase() {
        Phase::Live => "live",
        Phase::Waiting => "waiting",
        Phase::Ended => "ended",
    };
    let started = httpdate::fmt_http_date(s.started());
    let uptime = SystemTime::now()
        .duration_since(s.started())
        .unwrap_or_default()
        .as_secs();
    json!({
        "mount": s.path(),
        "listenurl": s.path(),
        "listeners": s.listeners(),
        "listener_peak": s.stats.listener_peak.load(Ordering::Relaxed),
        "server_name": header("icy-name"),
        "server_description": header("icy-description"),
        "genre": header("icy-genre"),
        "server_url": header("icy-url"),
        "bitrate": facts.audio.and_then(|a| a.bitrate).map(|b| b / 1000),
        "audio_info": header("ice-audio-info"),
        "server_type": facts.content_type,
        "stream_start": started,
        "title": facts.meta.title,
        "state": phase,
        "uptime_seconds": uptime,
        "bytes_in": s.bytes_in(),
        "bytes_out": s.stats.bytes_out.load(Ordering::Relaxed),
        "listener_connections": s.stats.connections.load(Ordering::Relaxed),
        "listeners_dropped": s.stats.dropped.load(Ordering::Relaxed),
    })
}

fn page(body: String, content_type: &'static str) -> Response<Body> {
    let mut res = Response::new(Body::full(body));
    res.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    res.headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    res
}

/// `/status-json.xsl`: every stream that has not ended, but `hidden` ones.
pub(crate) fn json(hub: &Hub, mounts: &Mounts) -> Response<Body> {
    page(format!("{:#}\n", doc(hub, mounts)), "application/json")
}

/// The document of `/status-json.xsl`.
fn doc(hub: &Hub, mounts: &Mounts) -> Value {
    let sources: Vec<Value> = shown(hub, mounts).iter().map(|s| source(s)).collect();
    json!({
        "icestats": {
            "server_id": concat!("httpout/", env!("CARGO_PKG_VERSION")),
            "uptime_seconds": hub.uptime().as_secs(),
            "source": sources,
        }
    })
}

/// How often `/status-json.xsl` over a WebSocket sends the document.
pub(crate) const PUSH_INTERVAL: Duration = Duration::from_secs(1);

/// `/status-json.xsl` as a WebSocket: its document as a text message at
/// once and every [`PUSH_INTERVAL`], until the client goes.
pub(crate) fn push(
    req: &mut Request<Body>,
    hub: Hub,
    mounts: Arc<Mounts>,
) -> Result<Response<Body>, Error> {
    let upgrade = Upgrade::new(req)?;
    Ok(upgrade.on_socket(move |mut socket| async move {
        let mut ticks = tokio::time::interval(PUSH_INTERVAL);
        loop {
            tokio::select! {
                msg = socket.recv() => if msg.is_none() { return },
                _ = ticks.tick() => {
                    let text = doc(&hub, &mounts).to_string();
                    if socket.send(Message::text(text)).await.is_err() {
                        return;
                    }
                }
            }
        }
    }))
}

/// The status page's script: its rows follow `/status-json.xsl` over a
/// WebSocket (`status_page.js`).
const PAGE_SCRIPT: &str = include_str!("status_page.js");

/// `/status.xsl`: the same facts as a small HTML table, kept live by
/// [`PAGE_SCRIPT`] in a browser.
pub(crate) fn html(hub: &Hub, mounts: &Mounts) -> Response<Body> {
    let mut rows = String::new();
    for s in &shown(hub, mounts) {
        let v = source(s);
        let cell = |k: &str| match &v[k] {
            Value::Null => String::new(),
            Value::String(t) => escape(t),
            other => escape(&other.to_string()),
        };
        let bytes = |k: &str| v[k].as_u64().map_or_else(String::new, human_bytes);
        rows.push_str(&format!(
            "<tr><td><a href=\"{m}\">{m}</a></td><td>{}</td><td class=\"{state}\">{state}</td>             <td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td>             <td class=\"n\">{}</td><td class=\"n\">{}</td><td>{}</td></tr>\n",
            cell("server_name"),
            cell("server_type"),
            cell("listeners"),
            cell("listener_peak"),
            cell("listeners_dropped"),
            bytes("bytes_in"),
            bytes("bytes_out"),
            cell("title"),
            m = cell("mount"),
            state = cell("state"),
        ));
    }
    if rows.is_empty() {
        rows.push_str("<tr><td colspan=\"10\">No stream yet.</td></tr>\n");
    }
    let body = format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <noscript><meta http-equiv=\"refresh\" content=\"10\"></noscript>\
         <meta name=\"viewport\" content=\"width=device-width\"><title>httpout: live streams</title>\
         <style>body{{font-family:sans-serif;margin:1.5em}}table{{border-collapse:collapse}}\
         th,td{{border:1px solid #bbb;padding:.3em .6em;text-align:left}}th{{background:#eee}}\
         td.n{{text-align:right}}td.live{{color:#070}}td.waiting{{color:#a60}}</style></head>\
         <body><h1>Live streams</h1><p>Up {}; <span id=\"refresh\">refreshed every 10 s</span>. \
         <a href=\"/status-json.xsl\">JSON</a></p>\n<table id=\"streams\"><tr><th>mount</th><th>name</th>\
         <th>state</th><th>type</th><th>listeners</th><th>peak</th><th>dropped</th>\
         <th>received</th><th>sent</th><th>title</th></tr>\n{rows}</table>\n<script>\n{PAGE_SCRIPT}</script></body></html>\n",
        human_duration(hub.uptime().as_secs())
    );
    page(body, "text/html; charset=utf-8")
}

/// `1.5 MiB`.
fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

/// `2 h 5 min`.
fn human_duration(secs: u64) -> String {
    match secs {
        s if s < 60 => format!("{s} s"),
        s if s < 3600 => format!("{} min {} s", s / 60, s % 60),
        s => format!("{} h {} min", s / 3600, s % 3600 / 60),
    }
}

/// One parameter of a query string, `+` and percent-escapes decoded.
pub(crate) fn query_param(query: &str, name: &str) -> Option<String> {
    query_bytes(query, name).map(|v| String::from_utf8_lossy(&v).into_owned())
}

/// One parameter of a query string as bytes (`+` and percent-escapes
/// decoded), for values in another charset than UTF-8.
pub(crate) fn query_bytes(query: &str, name: &str) -> Option<Vec<u8>> {
    let decode =
        |s: &str| percent_encoding::percent_decode_str(&s.replace('+', " ")).collect::<Vec<u8>>();
    query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (decode(k) == name.as_bytes()).then(|| decode(v))
    })
}

#[cfg(test)]
mod tests {
    use super::query_param;

    #[test]
    fn sizes_and_times_read_well() {
        assert_eq!(super::human_bytes(999), "999 B");
        assert_eq!(super::human_bytes(1536), "1.5 KiB");
        assert_eq!(super::human_bytes(5 << 30), "5.0 GiB");
        assert_eq!(super::human_duration(59), "59 s");
        assert_eq!(super::human_duration(7500), "2 h 5 min");
    }

    #[test]
    fn query_params_are_decoded() {
        let q = "mount=%2Flive.mp3&mode=updinfo&song=A+%26+B%20-%20%C3%9C";
        assert_eq!(query_param(q, "mount").as_deref(), Some("/live.mp3"));
        assert_eq!(query_param(q, "song").as_deref(), Some("A & B - Ü"));
        assert_eq!(query_param(q, "title"), None);
        assert_eq!(query_param("", "x"), None);
    }
}

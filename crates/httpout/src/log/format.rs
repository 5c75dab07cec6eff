//! The access log's line formats (`--log_format`): GPAC's short lines as
//! they always were, Apache/nginx's `common` and `combined`, and JSON (one
//! object per line). Every text field from the request has its control
//! characters, quotes and backslashes escaped (JSON: by JSON's own rules),
//! so that a hostile `User-Agent` cannot forge or colour a line.

use std::fmt::Write as _;
use std::time::SystemTime;

use httpout_core::utc::Utc;

/// An access log's line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub(crate) enum LogFormat {
    /// GPAC's lines: `httpout: #ID PEER METHOD PATH STATUS BYTESB MSms`,
    /// with a start line per request as `reqlog` asks.
    #[default]
    Gpac,
    /// Common Log Format: `IP - USER [TIME] "REQUEST" STATUS BYTES`.
    Common,
    /// `common` plus `"REFERER" "USER-AGENT"` (Apache/nginx `combined`).
    Combined,
    /// One JSON object per line.
    Json,
}

/// One finished request, as the engine's `httpout::access` end event
/// describes it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Entry {
    /// The client's IP address (`unix` on a Unix socket).
    pub(crate) client: String,
    pub(crate) user: Option<String>,
    pub(crate) method: String,
    /// Path and query, as requested.
    pub(crate) path: String,
    pub(crate) protocol: String,
    pub(crate) status: u64,
    /// Response body bytes sent.
    pub(crate) bytes: u64,
    /// From arrival to the end of the response body (or its abort).
    pub(crate) duration_us: u64,
    pub(crate) referer: Option<String>,
    pub(crate) user_agent: Option<String>,
    /// Whether the whole response body was sent.
    pub(crate) complete: bool,
}

/// The line (with its newline) for `entry` in a request-per-line format;
/// `None` for [`LogFormat::Gpac`], whose lines are the engine's messages.
pub(crate) fn line(format: LogFormat, entry: &Entry, at: SystemTime) -> Option<String> {
    let t = Utc::from(at);
    let mut out = String::new();
    match format {
        LogFormat::Gpac => return None,
        LogFormat::Common | LogFormat::Combined => {
            let _ = write!(
                out,
                "{} - {} [{:02}/{}/{:04}:{:02}:{:02}:{:02} +0000] \"{} {} {}\" {} {}",
                escape(&entry.client),
                entry.user.as_deref().map_or_else(|| "-".into(), escape),
                t.day,
                MONTHS[usize::from(t.month - 1)],
                t.year,
                t.hour,
                t.minute,
                t.second,
                escape(&entry.method),
                escape(&entry.path),
                escape(&entry.protocol),
                entry.status,
                entry.bytes
            );
            if format == LogFormat::Combined {
                let quoted = |v: &Option<String>| v.as_deref().map_or_else(|| "-".into(), escape);
                let _ = write!(
                    out,
                    " \"{}\" \"{}\"",
                    quoted(&entry.referer),
                    quoted(&entry.user_agent)
                );
            }
        }
        LogFormat::Json => {
            let value = serde_json::json!({
                "time": t.rfc3339(),
                "client": entry.client,
                "user": entry.user,
                "method": entry.method,
                "path": entry.path,
                "protocol": entry.protocol,
                "status": entry.status,
                "bytes": entry.bytes,
                "duration_ms": entry.duration_us as f64 / 1000.0,
                "referer": entry.referer,
                "user_agent": entry.user_agent,
                "complete": entry.complete,
            });
            out = value.to_string();
        }
    }
    out.push('\n');
    Some(out)
}

/// `s` with `"` and `\` backslash-escaped and control characters as
/// `\xHH` (`\u{HHHH}` above ASCII), as Apache does in its access log.
pub(crate) fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_ascii_control() => {
                let _ = write!(out, "\\x{:02X}", u32::from(c));
            }
            c if c.is_control() => {
                let _ = write!(out, "\\u{{{:04X}}}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::*;

    /// 2000-10-10T13:55:36.250Z, the Apache documentation's example day.
    fn at() -> SystemTime {
        UNIX_EPOCH + Duration::from_millis(971_186_136_250)
    }

    fn entry() -> Entry {
        Entry {
            client: "127.0.0.1".into(),
            user: Some("frank".into()),
            method: "GET".into(),
            path: "/apache_pb.gif?x=1".into(),
            protocol: "HTTP/1.1".into(),
            status: 200,
            bytes: 2326,
            duration_us: 1_500,
            referer: Some("http://www.example.com/start.html".into()),
            user_agent: Some("Mozilla/4.08 [en] (Win98; I ;Nav)".into()),
            complete: true,
        }
    }

    #[test]
    fn common_and_combined() {
        assert_eq!(
            line(LogFormat::Common, &entry(), at()).unwrap(),
            "127.0.0.1 - frank [10/Oct/2000:13:55:36 +0000] \"GET /apache_pb.gif?x=1 HTTP/1.1\" 200 2326\n"
        );
        assert_eq!(
            line(LogFormat::Combined, &entry(), at()).unwrap(),
            "127.0.0.1 - frank [10/Oct/2000:13:55:36 +0000] \"GET /apache_pb.gif?x=1 HTTP/1.1\" 200 2326 \
             \"http://www.example.com/start.html\" \"Mozilla/4.08 [en] (Win98; I ;Nav)\"\n"
        );
        let anonymous = Entry {
            user: None,
            referer: None,
            user_agent: None,
            ..entry()
        };
        assert_eq!(
            line(LogFormat::Combined, &anonymous, at()).unwrap(),
            "127.0.0.1 - - [10/Oct/2000:13:55:36 +0000] \"GET /apache_pb.gif?x=1 HTTP/1.1\" 200 2326 \"-\" \"-\"\n"
        );
        assert_eq!(line(LogFormat::Gpac, &entry(), at()), None);
    }

    #[test]
    fn hostile_fields_are_escaped() {
        let hostile = Entry {
            path: "/a\"b\\c\n".into(),
            user_agent: Some("evil\u{1b}[31m\" \"x\r\n\u{85}".into()),
            ..entry()
        };
        let text = line(LogFormat::Combined, &hostile, at()).unwrap();
        assert_eq!(text.matches('\n').count(), 1, "{text}");
        assert!(!text.contains('\u{1b}') && !text.contains('\r'), "{text}");
        assert!(
            text.contains("\"GET /a\\\"b\\\\c\\x0A HTTP/1.1\""),
            "{text}"
        );
        assert!(
            text.ends_with("\"evil\\x1B[31m\\\" \\\"x\\x0D\\x0A\\u{0085}\"\n"),
            "{text}"
        );
        let json = line(LogFormat::Json, &hostile, at()).unwrap();
        assert_eq!(json.matches('\n').count(), 1, "{json}");
        let v: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(v["user_agent"], "evil\u{1b}[31m\" \"x\r\n\u{85}");
        assert_eq!(v["path"], "/a\"b\\c\n");
    }

    #[test]
    fn json_has_every_field() {
        let text = line(LogFormat::Json, &entry(), at()).unwrap();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["time"], "2000-10-10T13:55:36.250Z");
        assert_eq!(v["client"], "127.0.0.1");
        assert_eq!(v["user"], "frank");
        assert_eq!(v["method"], "GET");
        assert_eq!(v["path"], "/apache_pb.gif?x=1");
        assert_eq!(v["protocol"], "HTTP/1.1");
        assert_eq!(v["status"], 200);
        assert_eq!(v["bytes"], 2326);
        assert_eq!(v["duration_ms"], 1.5);
        assert_eq!(v["referer"], "http://www.example.com/start.html");
        assert_eq!(v["user_agent"], "Mozilla/4.08 [en] (Win98; I ;Nav)");
        assert_eq!(v["complete"], true);
        let anonymous = Entry {
            user: None,
            ..entry()
        };
        let v: serde_json::Value =
            serde_json::from_str(&line(LogFormat::Json, &anonymous, at()).unwrap()).unwrap();
        assert!(v["user"].is_null());
    }
}

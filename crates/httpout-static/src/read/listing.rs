//! Directory listings (`dlist`): an HTML page a browser reads, and the same
//! listing as JSON for `Accept: application/json`.

use std::fmt::Write as _;
use std::time::UNIX_EPOCH;

use http::HeaderMap;
use httpout_core::html::escape;
use httpout_store::DirEntryInfo;
use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};

/// Characters escaped in a path segment of an href (RFC 3986 pchar, minus
/// what browsers would misread).
pub(crate) const SEGMENT: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'/')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'`')
    .add(b'{')
    .add(b'}')
    .add(b'\\')
    .add(b'^')
    .add(b'|')
    .add(b'[')
    .add(b']')
    .add(b'\'')
    .add(b'&');

/// Whether the client prefers JSON over HTML.
pub(crate) fn wants_json(headers: &HeaderMap) -> bool {
    let accept = headers
        .get(http::header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    match (accept.find("application/json"), accept.find("text/html")) {
        (Some(j), Some(h)) => j < h,
        (Some(_), None) => true,
        _ => false,
    }
}

/// Directories first, then by name.
pub(crate) fn sort(entries: &mut [DirEntryInfo]) {
    entries.sort_by(|a, b| b.is_dir.cmp(&a.is_dir).then_with(|| a.name.cmp(&b.name)));
}

/// The script that sends each file of the upload form with a progress bar
/// (`upload_form.js`).
const UPLOAD_SCRIPT: &str = include_str!("upload_form.js");

/// The HTML page for the directory shown as `title` (decoded URL path),
/// with an upload form when the directory is writable: `upload_form` is
/// then the uploads endpoint's path, where the form's script reads each
/// upload's final state.
pub(crate) fn html(
    title: &str,
    entries: &[DirEntryInfo],
    parent: bool,
    upload_form: Option<&str>,
) -> String {
    let title = escape(title);
    let mut out = format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width\">\
         <title>Index of {title}</title>\
         <style>body{{font-family:sans-serif;margin:2em}}td{{padding:.15em 1.5em .15em 0}}\
         td.n{{text-align:right;font-variant-numeric:tabular-nums}}\
         #uploads progress{{width:12em}}#uploads .failed,#uploads .aborted{{color:#b00}}\
         #uploads .complete{{color:#070}}</style></head>\n\
         <body><h1>Index of {title}</h1>\n<table>\n\
         <tr><th align=left>Name</th><th align=right>Size</th><th align=left>Modified</th></tr>\n"
    );
    if parent {
        out.push_str("<tr><td><a href=\"../\">../</a></td><td></td><td></td></tr>\n");
    }
    for e in entries {
        let slash = if e.is_dir { "/" } else { "" };
        let href = utf8_percent_encode(&e.name, SEGMENT);
        let size = if e.is_dir {
            String::from("-")
        } else {
            e.size.to_string()
        };
        let modified = e.modified.map(httpdate::fmt_http_date).unwrap_or_default();
        let _ = writeln!(
            out,
            // `./` first: a name like `javascript:x` must stay a relative path.
            "<tr><td><a href=\"./{href}{slash}\">{}{slash}</a></td><td class=n>{size}</td><td>{modified}</td></tr>",
            escape(&e.name)
        );
    }
    out.push_str("</table>\n");
    if let Some(uploads) = upload_form {
        let _ = write!(
            out,
            "<form id=\"upload\" method=\"post\" action=\"./\" enctype=\"multipart/form-data\" data-uploads=\"{}\">\
             <p><input type=\"file\" name=\"file\" multiple> <button type=\"submit\">Upload</button></p></form>\n\
             <table id=\"uploads\"></table>\n<script>\n{UPLOAD_SCRIPT}</script>\n",
            escape(uploads)
        );
    }
    out.push_str("</body></html>\n");
    out
}

/// The same listing as JSON: `{"path": ..., "entries": [{"name", "type", "size", "modified"}]}`,
/// `modified` in seconds since the epoch.
pub(crate) fn json(path: &str, entries: &[DirEntryInfo]) -> String {
    let list: Vec<serde_json::Value> = entries
        .iter()
        .map(|e| {
            serde_json::json!({
                "name": e.name,
                "type": if e.is_dir { "dir" } else { "file" },
                "size": e.size,
                "modified": e.modified.and_then(|m| m.duration_since(UNIX_EPOCH).ok()).map(|d| d.as_secs()),
            })
        })
        .collect();
    serde_json::json!({ "path": path, "entries": list }).to_string() + "\n"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_escaped_and_dirs_first() {
        let mut entries = vec![
            DirEntryInfo {
                name: "z.txt".into(),
                is_dir: false,
                size: 3,
                modified: None,
            },
            DirEntryInfo {
                name: "<b>&\"x".into(),
                is_dir: false,
                size: 1,
                modified: None,
            },
            DirEntryInfo {
                name: "a dir".into(),
                is_dir: true,
                size: 0,
                modified: None,
            },
        ];
        sort(&mut entries);
        assert_eq!(entries[0].name, "a dir");
        let page = html("/x/<y>/", &entries, true, Some("/.up\"loads/"));
        assert!(page.contains("enctype=\"multipart/form-data\""));
        assert!(page.contains("data-uploads=\"/.up&quot;loads/\""));
        assert!(page.contains("upload.onprogress"));
        assert!(!html("/", &entries, false, None).contains("<form"));
        assert!(page.contains("href=\"./a%20dir/\""));
        assert!(page.contains("&lt;b&gt;&amp;&quot;x"));
        assert!(page.contains("href=\"./%3Cb%3E%26%22x\""));
        assert!(!page.contains("<y>"));
        let json: serde_json::Value = serde_json::from_str(&json("/x/", &entries)).unwrap();
        assert_eq!(json["entries"][0]["type"], "dir");
        assert_eq!(json["entries"][2]["size"], 3);
    }
}

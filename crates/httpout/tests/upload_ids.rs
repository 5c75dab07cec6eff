//! Upload ids, expected uploads and progress (issue 18), end to end with
//! curl: `Upload-Id` on every upload, `POST /.uploads/` to create one,
//! `GET /.uploads/ID` as JSON and as Server-Sent Events, `require_id`,
//! `require_placeholder` (admins and `ID.placeholder` files), owners,
//! `placeholder_ttl` and `progress_files`.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

mod support;

use support::{Httpout, add_user, curl};

fn text(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A response's header (lower-case name), from `curl -i` output.
fn header(response: &str, name: &str) -> Option<String> {
    response.lines().find_map(|l| {
        let (n, v) = l.split_once(':')?;
        n.eq_ignore_ascii_case(name).then(|| v.trim().to_owned())
    })
}

fn json(body: &str) -> serde_json::Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body:?}"))
}

/// `curl -si ARGS`: the status code and the whole response.
fn request(args: &[&str]) -> (u16, String) {
    let mut all = vec!["-si"];
    all.extend_from_slice(args);
    let out = text(&curl(&all));
    // Past a `100 Continue`, the final status line.
    let status = out
        .split("\r\n\r\n")
        .find(|part| !part.starts_with("HTTP/1.1 100"))
        .and_then(|head| head.split(' ').nth(1))
        .and_then(|code| code.parse().ok())
        .unwrap_or(0);
    (status, out)
}

fn body_of(response: &str) -> &str {
    response.rsplit("\r\n\r\n").next().unwrap_or("")
}

/// curl following `url`'s progress as Server-Sent Events (bounded: 60 s),
/// its output piped.
fn follow_events(url: &str) -> Child {
    Command::new("curl")
        .args([
            "-sN",
            "--max-time",
            "60",
            "-H",
            "Accept: text/event-stream",
            url,
        ])
        .stdout(Stdio::piped())
        .spawn()
        .expect("curl")
}

fn server(dir: &Path, extra: &[&str]) -> Httpout {
    let w = dir.join("w");
    let mut args = vec![
        "--ifce=127.0.0.1".to_owned(),
        "--port=0".to_owned(),
        format!("--wdir={}", w.display()),
    ];
    args.extend(extra.iter().map(|s| (*s).to_owned()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    Httpout::start(&args, 1)
}

/// `POST /.uploads/?QUERY`: the new id.
fn create(base: &str, query: &str, auth: &[&str]) -> String {
    let url = format!("{base}/.uploads/?{query}");
    let mut args = auth.to_vec();
    args.extend(["-X", "POST", url.as_str()]);
    let (status, res) = request(&args);
    assert_eq!(status, 201, "{res}");
    let v = json(body_of(&res));
    assert_eq!(
        header(&res, "upload-id").as_deref(),
        v["id"].as_str(),
        "{res}"
    );
    assert_eq!(
        header(&res, "location"),
        Some(format!("/.uploads/{}", v["id"].as_str().unwrap()))
    );
    v["id"].as_str().unwrap().to_owned()
}

#[test]
fn every_upload_gets_an_id_and_its_outcome_is_readable() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src.bin");
    std::fs::write(&src, vec![5u8; 10_000]).unwrap();
    let s = server(dir.path(), &[]);
    let src = src.display().to_string();
    let (status, res) = request(&["-T", &src, &format!("{}/a/b.bin", s.url())]);
    assert_eq!(status, 201, "{res}");
    let id = header(&res, "upload-id").expect("an Upload-Id header");
    assert_eq!(id.len(), 32);
    let (status, res) = request(&[&format!("{}/.uploads/{id}", s.url())]);
    assert_eq!(status, 200, "{res}");
    assert_eq!(
        header(&res, "content-type").as_deref(),
        Some("application/json")
    );
    let v = json(body_of(&res));
    assert_eq!(v["state"], "complete");
    assert_eq!(v["path"], "/a/b.bin");
    assert_eq!(
        (v["received"].as_u64(), v["expected"].as_u64()),
        (Some(10_000), Some(10_000))
    );
    assert_eq!(
        (v["percent"].as_u64(), v["code"].as_i64()),
        (Some(100), Some(127))
    );
    assert!(v["started"].as_str().unwrap().ends_with('Z'), "{v}");

    // A form with two files: an id each.
    let (status, res) = request(&[
        "-F",
        &format!("f1=@{src};filename=one.bin"),
        "-F",
        &format!("f2=@{src};filename=two.bin"),
        &format!("{}/forms/", s.url()),
    ]);
    assert!((200..300).contains(&status), "{res}");
    let ids: Vec<&str> = res
        .lines()
        .filter_map(|l| l.strip_prefix("upload-id: "))
        .map(str::trim)
        .collect();
    assert_eq!(ids.len(), 2, "{res}");
    for (id, name) in ids.iter().zip(["/forms/one.bin", "/forms/two.bin"]) {
        let v = json(&text(&curl(&["-s", &format!("{}/.uploads/{id}", s.url())])));
        assert_eq!(
            (v["state"].as_str(), v["path"].as_str()),
            (Some("complete"), Some(name))
        );
    }

    // Too large: failed, with the reason and HTTP::Server::Upload's code.
    let big = dir.path().join("big.bin");
    std::fs::write(&big, vec![1u8; 3000]).unwrap();
    let id = create(s.url(), "", &[]);
    drop(s);
    let s = server(dir.path(), &["--maxs=1000"]);
    let id2 = create(s.url(), "", &[]);
    assert_ne!(id, id2);
    // Chunked, so that the size is found while receiving.
    let (status, res) = request(&[
        "-H",
        "Transfer-Encoding: chunked",
        "-H",
        &format!("Upload-Id: {id2}"),
        "-T",
        &big.display().to_string(),
        &format!("{}/big.bin", s.url()),
    ]);
    assert_eq!(status, 413, "{res}");
    let v = json(&text(&curl(&[
        "-s",
        &format!("{}/.uploads/{id2}", s.url()),
    ])));
    assert_eq!(
        (v["state"].as_str(), v["code"].as_i64()),
        (Some("failed"), Some(-2)),
        "{v}"
    );
    assert!(v["reason"].as_str().is_some_and(|r| !r.is_empty()), "{v}");
    // Unknown and malformed ids.
    let (status, _) = request(&[&format!("{}/.uploads/{}", s.url(), "0".repeat(32))]);
    assert_eq!(status, 404);
    let (status, _) = request(&[&format!("{}/.uploads/nothex", s.url())]);
    assert_eq!(status, 404);
}

#[test]
fn require_id_takes_only_the_uploads_created_for_and_once() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src.bin");
    std::fs::write(&src, b"0123456789").unwrap();
    let src = src.display().to_string();
    let s = server(dir.path(), &["--require_id"]);
    let put = |path: &str, id: Option<&str>| {
        let url = format!("{}{path}", s.url());
        let h = id.map(|i| format!("Upload-Id: {i}"));
        let mut args = vec!["-T", src.as_str()];
        if let Some(h) = &h {
            args.extend(["-H", h.as_str()]);
        }
        args.push(url.as_str());
        request(&args)
    };
    let (status, res) = put("/x.bin", None);
    assert_eq!(status, 403, "{res}");
    assert!(
        body_of(&res).contains("POST to the uploads endpoint"),
        "{res}"
    );
    let id = create(
        s.url(),
        "name=/x.bin&size=10&type=application/octet-stream",
        &[],
    );
    // The expected name, size and type, and only once.
    assert_eq!(put("/y.bin", Some(&id)).0, 403);
    let typed = |content_type: &str| {
        request(&[
            "-T",
            &src,
            "-H",
            &format!("Upload-Id: {id}"),
            "-H",
            &format!("Content-Type: {content_type}"),
            &format!("{}/x.bin", s.url()),
        ])
    };
    let (status, res) = typed("text/plain");
    assert_eq!(status, 403, "{res}");
    assert!(body_of(&res).contains("text/plain"), "{res}");
    let (status, res) = typed("application/octet-stream");
    assert_eq!(status, 201, "{res}");
    assert_eq!(header(&res, "upload-id"), Some(id.clone()));
    assert_eq!(
        std::fs::read(dir.path().join("w/x.bin")).unwrap(),
        b"0123456789"
    );
    let (status, res) = put("/x.bin", Some(&id));
    assert_eq!(status, 403, "{res}");
    assert!(body_of(&res).contains("used already"), "{res}");
    // An id never made, and a malformed one.
    assert_eq!(put("/x.bin", Some(&"ab".repeat(16))).0, 403);
    assert_eq!(put("/x.bin", Some("xyz")).0, 400);
    // Forms name the id in the query (browsers cannot set headers).
    let id = create(s.url(), "", &[]);
    let (status, res) = request(&[
        "-F",
        &format!("f=@{src};filename=f.bin"),
        &format!("{}/d/?upload_id={id}", s.url()),
    ]);
    assert!((200..300).contains(&status), "{res}");
    assert_eq!(header(&res, "upload-id"), Some(id));
    // A bad size is a 400 at creation.
    let (status, _) = request(&["-X", "POST", &format!("{}/.uploads/?size=lots", s.url())]);
    assert_eq!(status, 400);
}

#[test]
fn placeholders_come_from_admins_and_files_and_expire() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    let users = p.join("users.txt");
    for (name, pw) in [
        ("root", "root-pw"),
        ("alice", "alice-pw"),
        ("bob", "bob-pw"),
    ] {
        add_user(&users, name, pw);
    }
    std::fs::create_dir_all(p.join("in")).unwrap();
    // The uploads endpoint and the upload directory ask for credentials.
    std::fs::write(
        p.join("rules.ini"),
        "[in]\nname=in\nru=$ALL\nwu=$ALL\n\n[nowhere]\nname=.uploads\nru=$ALL\nwu=$ALL\n",
    )
    .unwrap();
    let s = Httpout::start(
        &[
            "--ifce=127.0.0.1",
            "--port=0",
            &format!("--rdirs={}", p.join("rules.ini").display()),
            &format!("--users={}", users.display()),
            "--require_placeholder",
            "--uploads_admin=root",
            "--placeholder_ttl=2",
        ],
        1,
    );
    let src = p.join("src.bin");
    std::fs::write(&src, b"payload").unwrap();
    let src = src.display().to_string();
    let put_as = |user: &str, path: &str, id: &str| {
        request(&[
            "-u",
            user,
            "-T",
            &src,
            "-H",
            &format!("Upload-Id: {id}"),
            &format!("{}{path}", s.url()),
        ])
    };
    // alice's own id is no placeholder; root's is.
    let plain = create(s.url(), "", &["-u", "alice:alice-pw"]);
    let (status, res) = put_as("alice:alice-pw", "/in/a.bin", &plain);
    assert_eq!(status, 403, "{res}");
    assert!(body_of(&res).contains("placeholder"), "{res}");
    let placeholder = create(s.url(), "name=/in/a.bin", &["-u", "root:root-pw"]);
    let (status, res) = put_as("alice:alice-pw", "/in/a.bin", &placeholder);
    assert_eq!(status, 201, "{res}");
    // alice and root read it; bob does not (as if it did not exist).
    let get = |user: &str, id: &str| request(&["-u", user, &format!("{}/.uploads/{id}", s.url())]);
    assert_eq!(get("alice:alice-pw", &placeholder).0, 200);
    assert_eq!(get("root:root-pw", &placeholder).0, 200);
    assert_eq!(get("bob:bob-pw", &placeholder).0, 404);
    // Only admins list every upload.
    assert_eq!(
        request(&["-u", "bob:bob-pw", &format!("{}/.uploads/", s.url())]).0,
        403
    );
    let (status, res) = request(&["-u", "root:root-pw", &format!("{}/.uploads/", s.url())]);
    assert_eq!(status, 200, "{res}");
    assert!(json(body_of(&res)).as_array().unwrap().len() >= 2, "{res}");
    // A placeholder file in the write directory, naming the file expected.
    let id = "0123456789abcdef0123456789abcdef";
    let file = p.join("in").join(format!("{id}.placeholder"));
    std::fs::write(&file, "b.bin\n").unwrap();
    // Clients neither read nor write placeholder files.
    let url = format!("{}/in/{id}.placeholder", s.url());
    assert_eq!(request(&["-u", "bob:bob-pw", &url]).0, 404);
    let (status, res) = request(&[
        "-u",
        "bob:bob-pw",
        "-T",
        &src,
        &format!("{}/in/x.placeholder", s.url()),
    ]);
    assert_eq!(status, 403, "{res}");
    assert_eq!(put_as("bob:bob-pw", "/in/c.bin", id).0, 403);
    let (status, res) = put_as("bob:bob-pw", "/in/b.bin", id);
    assert_eq!(status, 201, "{res}");
    assert!(!file.exists(), "the placeholder file is removed once used");
    // Expired: an id and a file older than placeholder_ttl (2 s).
    let late = create(s.url(), "", &["-u", "root:root-pw"]);
    let id = "fedcba9876543210fedcba9876543210";
    let file = p.join("in").join(format!("{id}.placeholder"));
    std::fs::write(&file, "").unwrap();
    std::thread::sleep(Duration::from_millis(2500));
    let (status, res) = put_as("alice:alice-pw", "/in/d.bin", &late);
    assert_eq!(status, 403, "{res}");
    assert!(body_of(&res).contains("expired"), "{res}");
    assert_eq!(put_as("alice:alice-pw", "/in/d.bin", id).0, 403);
    assert!(!file.exists(), "an expired placeholder file is removed");
}

/// A slow upload (curl at `rate` bytes/s) of `size` bytes; returns the child.
fn slow_put(src: &Path, url: &str, id: &str, rate: &str) -> Child {
    Command::new("curl")
        .args([
            "-s",
            "-o",
            "/dev/null",
            "--limit-rate",
            rate,
            "-H",
            &format!("Upload-Id: {id}"),
            "-T",
            &src.display().to_string(),
            url,
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("curl")
}

#[test]
fn progress_streams_as_server_sent_events_until_the_end() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src.bin");
    std::fs::write(&src, vec![9u8; 3 << 20]).unwrap();
    let s = server(dir.path(), &[]);
    let id = create(s.url(), "name=/slow.bin", &[]);
    // The stream is opened first: it starts at "expected".
    let mut events = follow_events(&format!("{}/.uploads/{id}", s.url()));
    let mut lines = BufReader::new(events.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    assert_eq!(first, "event: progress");
    let mut upload = slow_put(&src, &format!("{}/slow.bin", s.url()), &id, "1M");
    let started = Instant::now();
    let mut seen: Vec<serde_json::Value> = Vec::new();
    for line in lines.by_ref().take(1000) {
        let line = line.unwrap();
        if let Some(data) = line.strip_prefix("data: ") {
            seen.push(json(data));
        }
    }
    let elapsed = started.elapsed();
    assert!(upload.wait().unwrap().success());
    assert!(
        events.wait().unwrap().success(),
        "the stream ends with the upload"
    );
    let states: Vec<&str> = seen.iter().filter_map(|v| v["state"].as_str()).collect();
    assert_eq!(states.first(), Some(&"expected"), "{states:?}");
    assert_eq!(states.last(), Some(&"complete"), "{states:?}");
    assert!(states.contains(&"receiving"), "{states:?}");
    let received: Vec<u64> = seen.iter().filter_map(|v| v["received"].as_u64()).collect();
    assert!(received.windows(2).all(|w| w[0] <= w[1]), "{received:?}");
    assert_eq!(received.last(), Some(&(3 << 20)));
    // Bounded rate: at most one event per 100 ms (plus the first and last).
    let most = (elapsed.as_millis() / 100) as usize + 3;
    assert!(seen.len() <= most, "{} events in {elapsed:?}", seen.len());
    // Several updates for a 3 s upload.
    assert!(seen.len() >= 4, "{seen:?}");
}

#[test]
fn progress_files_hold_the_code_and_go_at_the_end() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src.bin");
    std::fs::write(&src, vec![3u8; 4 << 20]).unwrap();
    let s = server(dir.path(), &["--progress_files"]);
    let id = create(s.url(), "", &[]);
    let w = dir.path().join("w/sub");
    let prog = w.join(format!(".httpout-upload-{id}.prog"));
    let mut upload = slow_put(&src, &format!("{}/sub/p.bin", s.url()), &id, "1M");
    // Bounded: the file appears with a code from 0 to 100, rising.
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut codes = Vec::new();
    while Instant::now() < deadline && codes.last().is_none_or(|c: &i8| *c < 30) {
        if let Ok(b) = std::fs::read(&prog) {
            assert_eq!(b.len(), 1, "one byte");
            codes.push(b[0] as i8);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(codes.iter().all(|c| (0..=100).contains(c)), "{codes:?}");
    assert!(codes.last().is_some_and(|c| *c >= 30), "{codes:?}");
    // Killed: aborted, and the file is gone.
    upload.kill().unwrap();
    upload.wait().unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let v = json(&text(&curl(&["-s", &format!("{}/.uploads/{id}", s.url())])));
        if v["state"] == "aborted" {
            assert_eq!(v["code"], -1);
            break;
        }
        assert!(Instant::now() < deadline, "not aborted: {v}");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(!prog.exists());
    assert!(!dir.path().join("w/sub/p.bin").exists(), "nothing stored");
}

#[test]
fn a_bad_uploads_option_is_one_line_and_exit_2() {
    for (arg, name) in [
        ("--uploads_path=nope", "--uploads_path"),
        ("--uploads_path=/", "--uploads_path"),
        ("--placeholder_ttl=0", "--placeholder_ttl"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let (code, _out, err) = support::run_to_exit(&[
            "--ifce=127.0.0.1",
            "--port=0",
            &format!("--wdir={}", dir.path().display()),
            arg,
        ]);
        assert_eq!(code, Some(2), "{arg}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{arg}: {err}");
        assert!(err.contains(name), "{arg}: {err}");
    }
}

/// A tus append of `data` at `offset` to the upload at `url`.
fn tus_append(url: &str, offset: &str, data: &str) -> (u16, String) {
    request(&[
        "-X",
        "PATCH",
        "-H",
        "Tus-Resumable: 1.0.0",
        "-H",
        "Content-Type: application/offset+octet-stream",
        "-H",
        &format!("Upload-Offset: {offset}"),
        "--data-binary",
        data,
        url,
    ])
}

/// A tus creation of `/t/r.bin`, 10 bytes.
fn tus_create(base: &str) -> (u16, String) {
    tus_create_with(base, "10", "filename ci5iaW4=", &[])
}

/// A tus creation in `/t/` of `length` bytes, with `Upload-Metadata:
/// metadata` and `headers` (`-H` values) added.
fn tus_create_with(base: &str, length: &str, metadata: &str, headers: &[&str]) -> (u16, String) {
    let (length, metadata) = (
        format!("Upload-Length: {length}"),
        format!("Upload-Metadata: {metadata}"),
    );
    let mut args = vec!["-X", "POST", "-H", "Tus-Resumable: 1.0.0"];
    args.extend(["-H", &length, "-H", &metadata]);
    for h in headers {
        args.extend(["-H", h]);
    }
    let url = format!("{base}/t/");
    args.push(&url);
    request(&args)
}

#[test]
fn a_resumable_upload_reports_its_progress_at_its_own_url() {
    let dir = tempfile::tempdir().unwrap();
    let s = server(dir.path(), &[]);
    // tus: create (10 bytes, "r.bin"), append 4, read, append the rest.
    let (status, res) = tus_create(s.url());
    assert_eq!(status, 201, "{res}");
    let location = header(&res, "location").expect("Location");
    assert!(location.starts_with("/.uploads/"), "{location}");
    let url = format!("{}{location}", s.url());
    let patch = |offset: &str, data: &str| tus_append(&url, offset, data);
    assert_eq!(patch("0", "0123").0, 204);
    let v = json(&text(&curl(&["-s", &url])));
    assert_eq!(v["state"], "suspended", "{v}");
    assert_eq!(
        (v["received"].as_u64(), v["offset"].as_u64()),
        (Some(4), Some(4)),
        "{v}"
    );
    assert_eq!(
        (v["expected"].as_u64(), v["percent"].as_u64()),
        (Some(10), Some(40)),
        "{v}"
    );
    assert_eq!(
        (v["protocol"].as_str(), v["path"].as_str()),
        (Some("tus"), Some("/t/r.bin"))
    );
    assert_eq!(patch("4", "456789").0, 204);
    let v = json(&text(&curl(&["-s", &url])));
    assert_eq!(
        (v["state"].as_str(), v["code"].as_i64()),
        (Some("complete"), Some(127)),
        "{v}"
    );
    assert_eq!(
        std::fs::read(dir.path().join("w/t/r.bin")).unwrap(),
        b"0123456789"
    );
}

#[test]
fn resumable_uploads_claim_expected_ids() {
    let dir = tempfile::tempdir().unwrap();
    let s = server(dir.path(), &["--require_placeholder"]);
    let tus_named = |id: &str, length: &str| {
        let metadata = "filename ci5iaW4=,filetype YXBwbGljYXRpb24vb2N0ZXQtc3RyZWFt";
        tus_create_with(s.url(), length, metadata, &[&format!("Upload-Id: {id}")])
    };
    // Naming no id: refused, saying how to get one.
    let (status, res) = tus_create(s.url());
    assert_eq!(status, 403, "{res}");
    assert!(
        body_of(&res).contains("POST to the uploads endpoint"),
        "{res}"
    );

    // A placeholder file for /t/r.bin, claimed by a tus creation: the
    // upload takes its id, and its events run until it ends.
    let id = "0123456789abcdef0123456789abcdef";
    let placeholder = dir.path().join(format!("w/{id}.placeholder"));
    std::fs::write(&placeholder, "t/r.bin\n").unwrap();
    let (status, res) = tus_named(id, "10");
    assert_eq!(status, 201, "{res}");
    assert_eq!(header(&res, "location"), Some(format!("/.uploads/{id}")));
    assert_eq!(header(&res, "upload-id").as_deref(), Some(id));
    assert!(!placeholder.exists(), "the upload holds the id now");
    let url = format!("{}/.uploads/{id}", s.url());
    let events = follow_events(&url);
    let append = |offset: &str, data: &str| tus_append(&url, offset, data).0;
    assert_eq!(append("0", "0123"), 204);
    assert_eq!(append("4", "456789"), 204);
    assert_eq!(
        std::fs::read(dir.path().join("w/t/r.bin")).unwrap(),
        b"0123456789"
    );
    let v = json(&text(&curl(&["-s", &url])));
    assert_eq!(
        (v["state"].as_str(), v["protocol"].as_str()),
        (Some("complete"), Some("tus")),
        "{v}"
    );
    let out = events.wait_with_output().unwrap();
    let stream = text(&out);
    let last = stream
        .lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .next_back()
        .map(json)
        .unwrap_or_else(|| panic!("no event: {stream:?}"));
    assert_eq!(last["state"], "complete", "{stream}");
    assert!(
        out.status.success(),
        "the stream ends with the upload: {stream}"
    );
    // Used: the id is the upload's now, not expected any more.
    assert_eq!(tus_named(id, "10").0, 403);

    // Under require_id, an id from a create call, its expected name and
    // size checked before the upload starts; named by an IETF upload in
    // the query.
    drop(s);
    let s = server(dir.path(), &["--require_id"]);
    let id = create(s.url(), "name=/t/i.bin&size=5", &[]);
    // Followed from before the upload: the registry's events, then the
    // resumable engine's once the upload is handed over.
    let mut events = follow_events(&format!("{}/.uploads/{id}", s.url()));
    // Its first event has come: the stream is there before the upload.
    let mut lines = BufReader::new(events.stdout.take().unwrap()).lines();
    let first = lines
        .by_ref()
        .map_while(Result::ok)
        .find_map(|l| l.strip_prefix("data: ").map(json))
        .expect("a first event");
    assert_eq!(first["state"], "expected", "{first}");
    let ietf = |path: &str, length: &str| {
        request(&[
            "-X",
            "PUT",
            "-H",
            "Upload-Complete: ?1",
            "-H",
            "Upload-Draft-Interop-Version: 6",
            "-H",
            &format!("Upload-Length: {length}"),
            "--data-binary",
            &"x".repeat(length.parse().unwrap()),
            &format!("{}{path}?upload_id={id}", s.url()),
        ])
    };
    let (status, res) = ietf("/t/other.bin", "5");
    assert_eq!(status, 403, "{res}");
    let (status, res) = ietf("/t/i.bin", "6");
    assert_eq!(status, 403, "{res}");
    assert!(body_of(&res).contains("5 bytes"), "{res}");
    let (status, res) = ietf("/t/i.bin", "5");
    assert!(matches!(status, 200 | 201 | 204), "{res}");
    assert_eq!(
        std::fs::read(dir.path().join("w/t/i.bin")).unwrap(),
        b"xxxxx"
    );
    let v = json(&text(&curl(&["-s", &format!("{}/.uploads/{id}", s.url())])));
    assert_eq!(
        (v["state"].as_str(), v["protocol"].as_str()),
        (Some("complete"), Some("ietf")),
        "{v}"
    );
    let states: Vec<serde_json::Value> = lines
        .map_while(Result::ok)
        .filter_map(|l| l.strip_prefix("data: ").map(json))
        .collect();
    assert!(
        events.wait().unwrap().success(),
        "the stream ends with the upload"
    );
    let last = states.last().expect("events after the first");
    assert_eq!(
        (last["state"].as_str(), last["protocol"].as_str()),
        (Some("complete"), Some("ietf")),
        "{states:?}"
    );
}

/// The progress stream as a WebSocket, read by Python's `websockets` (in
/// the venv `scripts/test.sh` makes): the same JSON, one message a change,
/// then a close 1000 when the upload ends.
#[test]
fn progress_streams_over_a_websocket_until_the_end() {
    let python =
        std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/pyenv/bin/python");
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src.bin");
    std::fs::write(&src, vec![9u8; 2 << 20]).unwrap();
    let s = server(dir.path(), &[]);
    let id = create(s.url(), "name=/ws.bin", &[]);
    let url = format!("{}/.uploads/{id}", s.url().replacen("http://", "ws://", 1));
    let script = r#"
import asyncio, sys
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed
async def main():
    async with connect(sys.argv[1], proxy=None, compression=None) as ws:
        try:
            while True:
                print(await asyncio.wait_for(ws.recv(), 60), flush=True)
        except ConnectionClosed as e:
            print(f"closed {e.rcvd.code}", flush=True)
asyncio.run(main())
"#;
    let mut client = Command::new(&python)
        .args(["-c", script, &url])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!(
                "{} with websockets (scripts/test.sh): {e}",
                python.display()
            )
        });
    let mut lines = BufReader::new(client.stdout.take().unwrap()).lines();
    let first = json(&lines.next().unwrap().unwrap());
    assert_eq!(first["state"], "expected", "{first}");
    let mut upload = slow_put(&src, &format!("{}/ws.bin", s.url()), &id, "1M");
    let rest: Vec<String> = lines.by_ref().take(1000).map(Result::unwrap).collect();
    assert!(upload.wait().unwrap().success());
    assert!(client.wait().unwrap().success(), "{rest:?}");
    assert_eq!(
        rest.last().map(String::as_str),
        Some("closed 1000"),
        "{rest:?}"
    );
    let seen: Vec<serde_json::Value> = rest[..rest.len() - 1].iter().map(|l| json(l)).collect();
    let states: Vec<&str> = seen.iter().filter_map(|v| v["state"].as_str()).collect();
    assert_eq!(states.last(), Some(&"complete"), "{states:?}");
    assert!(states.contains(&"receiving"), "{states:?}");
    let received: Vec<u64> = seen.iter().filter_map(|v| v["received"].as_u64()).collect();
    assert!(received.windows(2).all(|w| w[0] <= w[1]), "{received:?}");
    assert_eq!(received.last(), Some(&(2 << 20)));
}

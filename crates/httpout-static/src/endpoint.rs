//! The uploads endpoint (`--uploads_path`, default `/.uploads/`): create
//! an upload id, read an upload's progress, follow it live.
//!
//! | request | answer |
//! |---|---|
//! | `POST /.uploads/` (`name`, `size`, `type` in the query or an urlencoded or JSON body) | 201, `Location: /.uploads/ID`, `Upload-Id: ID`, JSON `{id, url, expires_in}`; a placeholder when an admin (`--uploads_admin`) asks |
//! | `GET /.uploads/ID` | JSON: `id`, `path`, `state` (`expected`, `receiving`, `complete`, `aborted`, `failed`), `received`, `expected`, `percent`, `code`, `started`, `rate`, `reason` |
//! | the same with `Accept: text/event-stream` | Server-Sent Events: one `progress` event per change (at most [`SSE_INTERVAL`] apart) until the upload ends |
//! | the same as a WebSocket | the same events, one text message of JSON each, then a close (1000) when the upload ends |
//! | `GET /.uploads/` | admins: every entry, as a JSON array |
//! | `HEAD`, `PATCH`, `DELETE /.uploads/ID`, `OPTIONS` | resumable uploads (tus, IETF draft): offset, append, cancel, discovery ([`crate::write::resumable`]) |
//!
//! A resumable upload's progress has the same fields, with the state
//! `suspended` between its requests, its `offset` (the bytes on disk, where
//! a client resumes) and `protocol`; its live stream samples it every
//! [`SSE_INTERVAL`] and sends what changed. The JSON of an IETF upload
//! carries the draft's offset-retrieval headers too (`Upload-Offset`,
//! `Upload-Complete`, ...): the draft lets a client GET the upload resource.
//!
//! The endpoint's URL is checked by the access rules like any other (the
//! section with the longest prefix; a rules section named `.uploads` sets
//! who may create and read). An upload started by a signed-in user is read
//! only by that user and the admins (others get 404, as for an id that
//! does not exist); an anonymous upload by whoever holds its id.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use futures_util::StreamExt as _;
use futures_util::stream::BoxStream;
use http::header::{ACCEPT, CACHE_CONTROL, CONTENT_TYPE, LOCATION};
use http::{HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt as _, StreamBody};
use httpout_core::ws::{Message, Upgrade, close};
use httpout_core::{Allow, Body, Ctx, Error, Handler, HandlerFuture, SafePath};
use serde_json::{Value, json};

use crate::write::registry::{
    Expected, Snapshot, State, UPLOAD_ID, Uploads, code_of, may_read, percent_of, query_value,
};
use crate::write::resumable::{self, Resumable, UploadState};
use crate::write::upload_id::UploadId;

/// Least time between two progress events of one stream.
pub(crate) const SSE_INTERVAL: Duration = Duration::from_millis(100);

/// A comment line is sent after this long without an event, so that
/// proxies and the server's own idle timeout keep the stream.
const SSE_KEEPALIVE: Duration = Duration::from_secs(15);

/// Largest body of a create call.
const CREATE_BODY_MAX: usize = 8 << 10;

/// The uploads endpoint; mounted by [`crate::mounts`] when there is a
/// write directory.
#[derive(Debug, Clone)]
pub struct UploadsEndpoint {
    uploads: Arc<Uploads>,
    resumable: Arc<Resumable>,
    /// Where it is mounted, with a final `/` (for `Location`).
    base: String,
}

impl UploadsEndpoint {
    /// The endpoint of `uploads`, mounted at `base`.
    pub(crate) fn new(uploads: Arc<Uploads>, resumable: Arc<Resumable>, base: &str) -> Self {
        let base = if base.ends_with('/') {
            base.to_owned()
        } else {
            format!("{base}/")
        };
        Self {
            uploads,
            resumable,
            base,
        }
    }
}

impl Handler for UploadsEndpoint {
    /// Every method comes here: OPTIONS is tus discovery, and the methods
    /// of an upload resource depend on the upload.
    fn allow(&self, _path: &SafePath) -> Allow {
        Allow::any()
    }

    fn handle(&self, req: Request<Body>, ctx: Ctx) -> HandlerFuture {
        let this = self.clone();
        Box::pin(async move {
            let segments = ctx.path.segments();
            match (req.method(), segments) {
                (&Method::POST, []) => this.create(req, &ctx).await,
                (&Method::GET | &Method::HEAD, []) => this.list(&ctx),
                (&Method::GET, [id]) => this.progress(req, &ctx, id),
                (&Method::OPTIONS, [] | [_])
                | (&Method::HEAD | &Method::PATCH | &Method::DELETE, [_]) => {
                    let id = segments.first().map_or("", String::as_str).to_owned();
                    let (parts, body) = req.into_parts();
                    let user = ctx.user.as_deref();
                    this.resumable.route(&parts, body, &id, user).await
                }
                (_, []) => {
                    Err(
                        Allow::only([Method::GET, Method::HEAD, Method::POST, Method::OPTIONS])
                            .refuse(req.method()),
                    )
                }
                (_, [_]) => Err(Allow::only([
                    Method::GET,
                    Method::HEAD,
                    Method::PATCH,
                    Method::DELETE,
                    Method::OPTIONS,
                ])
                .refuse(req.method())),
                _ => Err(Error::NotFound),
            }
        })
    }
}

impl UploadsEndpoint {
    /// `POST /.uploads/`: a new id, expecting what the parameters say.
    async fn create(&self, req: Request<Body>, ctx: &Ctx) -> Result<Response<Body>, Error> {
        let (parts, body) = req.into_parts();
        let query = parts.uri.query().unwrap_or("").to_owned();
        let body = read_small(body, CREATE_BODY_MAX).await?;
        let content_type = parts
            .headers
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_ascii_lowercase();
        let json_body: Option<Value> = if content_type.starts_with("application/json") {
            Some(
                serde_json::from_slice(&body)
                    .map_err(|e| Error::bad_request(format!("the JSON body is malformed: {e}")))?,
            )
        } else {
            None
        };
        let form = String::from_utf8_lossy(&body).into_owned();
        let get = |key: &str| -> Option<String> {
            if let Some(v) = json_body.as_ref().and_then(|j| j.get(key)) {
                return Some(match v {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                });
            }
            query_value(&query, key).or_else(|| {
                (json_body.is_none() && !form.is_empty())
                    .then(|| query_value(&form, key))
                    .flatten()
            })
        };
        let path = get("name")
            .map(|n| {
                SafePath::parse(&n)
                    .ok()
                    .filter(|p| !p.is_root())
                    .map(|p| p.to_string())
                    .ok_or_else(|| Error::bad_request("name must be the path of a file to upload"))
            })
            .transpose()?;
        let size = get("size")
            .map(|s| {
                s.trim()
                    .parse::<u64>()
                    .map_err(|_| Error::bad_request("size must be a number of bytes"))
            })
            .transpose()?;
        let expected = Expected {
            path,
            size,
            content_type: get("type").filter(|t| !t.is_empty()),
            in_root: false,
        };
        let user = ctx.user.clone();
        let admin = self.uploads.is_admin(user.as_deref());
        let entry = self.uploads.create(user, expected, admin)?;
        let url = format!("{}{}", self.base, entry.id);
        let ttl = self.uploads.options().placeholder_ttl.as_secs();
        let answer = json!({
            "id": entry.id.to_string(),
            "url": url,
            "placeholder": admin,
            "expires_in": ttl,
        });
        let mut res = json_response(StatusCode::CREATED, &answer);
        let h = res.headers_mut();
        h.insert(LOCATION, header_value(&url));
        h.insert(UPLOAD_ID, header_value(&entry.id.to_string()));
        Ok(res)
    }

    /// `GET /.uploads/`: every entry, for admins.
    fn list(&self, ctx: &Ctx) -> Result<Response<Body>, Error> {
        if !self.uploads.is_admin(ctx.user.as_deref()) {
            return Err(Error::Forbidden(
                "only uploads admins list every upload".into(),
            ));
        }
        let mut all: Vec<Value> = self.uploads.all().iter().map(to_json).collect();
        all.extend(self.resumable.list().iter().map(resumable_json));
        Ok(json_response(StatusCode::OK, &Value::Array(all)))
    }

    /// `GET /.uploads/ID`: its progress, once, as Server-Sent Events, or
    /// over a WebSocket (one text message of JSON per event).
    fn progress(
        &self,
        mut req: Request<Body>,
        ctx: &Ctx,
        id: &str,
    ) -> Result<Response<Body>, Error> {
        let id = id.parse::<UploadId>().map_err(|_| Error::NotFound)?;
        let websocket = Upgrade::is_websocket(&req);
        let wants_events = websocket
            || req
                .headers()
                .get_all(ACCEPT)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .any(|v| v.to_ascii_lowercase().contains("text/event-stream"));
        let events = match self.progress_of(&req, ctx, id, wants_events)? {
            Progress::Once(res) => return Ok(res),
            Progress::Events(events) => events,
        };
        if !websocket {
            return Ok(event_stream(events));
        }
        let upgrade = Upgrade::new(&mut req)?;
        Ok(upgrade.on_socket(|mut socket| async move {
            let mut events = events;
            while let Some(event) = events.next().await {
                let Event::Progress(value) = event else {
                    continue; // a keep-alive: WebSocket pings do that
                };
                if socket.send(Message::text(value.to_string())).await.is_err() {
                    return;
                }
            }
            socket.close(close::NORMAL, "upload ended");
            while socket.recv().await.is_some() {}
        }))
    }

    /// The progress of upload `id` as its JSON answer, or as its events
    /// when `wants_events`.
    fn progress_of(
        &self,
        req: &Request<Body>,
        ctx: &Ctx,
        id: UploadId,
        wants_events: bool,
    ) -> Result<Progress, Error> {
        let user = ctx.user.as_deref();
        let Some(entry) = self.uploads.get(&id) else {
            return self.resumable_progress(req, id, user, wants_events);
        };
        if !entry.readable_by(user, &self.uploads.options().admins) {
            return Err(Error::NotFound);
        }
        if !wants_events {
            let res = json_response(StatusCode::OK, &to_json(&entry.snapshot()));
            return Ok(Progress::Once(res));
        }
        // Until the upload ends, or is handed over to the resumable engine
        // (an expected id claimed by a tus or IETF creation): then its
        // events, under the same id.
        let changes = entry.subscribe();
        let events =
            futures_util::stream::unfold(Some((entry, changes, true)), |state| async move {
                let (entry, mut changes, first) = state?;
                if !first {
                    // At least the interval between events (a fast upload is
                    // not a flood), then the next change or a keep-alive.
                    tokio::time::sleep(SSE_INTERVAL).await;
                    if tokio::time::timeout(SSE_KEEPALIVE, changes.changed())
                        .await
                        .is_err()
                    {
                        let next = Some((entry, changes, false));
                        return Some((Event::KeepAlive, next));
                    }
                }
                changes.borrow_and_update();
                if entry.handed_over() {
                    return None;
                }
                let snapshot = entry.snapshot();
                let last = snapshot.state.is_final();
                Some((
                    Event::Progress(to_json(&snapshot)),
                    (!last).then_some((entry, changes, false)),
                ))
            });
        let then = resumable_events(Arc::clone(&self.resumable), id);
        Ok(Progress::Events(events.chain(then).boxed()))
    }

    /// The progress of resumable upload `id`, for its owner and admins.
    fn resumable_progress(
        &self,
        req: &Request<Body>,
        id: UploadId,
        user: Option<&str>,
        wants_events: bool,
    ) -> Result<Progress, Error> {
        let admins = &self.uploads.options().admins;
        let readable = |s: &resumable::Snapshot| may_read(s.owner.as_deref(), user, admins);
        let snapshot = self
            .resumable
            .get(id)
            .filter(readable)
            .ok_or(Error::NotFound)?;
        if !wants_events {
            let mut res = json_response(StatusCode::OK, &resumable_json(&snapshot));
            // The draft's offset retrieval by GET.
            self.resumable
                .standing(id, req.headers(), res.headers_mut());
            return Ok(Progress::Once(res));
        }
        let events = resumable_events(Arc::clone(&self.resumable), id);
        Ok(Progress::Events(events.boxed()))
    }
}

/// What `GET /.uploads/ID` answers with.
enum Progress {
    /// The upload's JSON, once.
    Once(Response<Body>),
    /// Its events, until it ends.
    Events(BoxStream<'static, Event>),
}

/// One item of a progress stream.
enum Event {
    /// The upload's JSON, changed.
    Progress(Value),
    /// Nothing changed for [`SSE_KEEPALIVE`].
    KeepAlive,
}

/// The events of resumable upload `id`, sampled (it changes across
/// requests and restarts): its state when it changes, at most every
/// [`SSE_INTERVAL`], until it ends or is forgotten.
fn resumable_events(
    resumable: Arc<Resumable>,
    id: UploadId,
) -> impl futures_util::Stream<Item = Event> + Send + 'static {
    futures_util::stream::unfold(Some((None::<Value>, Instant::now())), move |state| {
        let resumable = Arc::clone(&resumable);
        async move {
            let (last, mut quiet_since) = state?;
            loop {
                let now = resumable.get(id).map(|s| resumable_json(&s));
                let Some(value) = now else {
                    // Forgotten (ended long ago): the stream ends.
                    return None;
                };
                let ended = !matches!(value["state"].as_str(), Some("receiving" | "suspended"));
                if last.as_ref() != Some(&value) {
                    let next = (!ended).then(|| (Some(value.clone()), Instant::now()));
                    return Some((Event::Progress(value), next));
                }
                if quiet_since.elapsed() >= SSE_KEEPALIVE {
                    quiet_since = Instant::now();
                    return Some((Event::KeepAlive, Some((last, quiet_since))));
                }
                tokio::time::sleep(SSE_INTERVAL).await;
            }
        }
    })
}

/// A `text/event-stream` response of `events`: a `progress` event each,
/// and a comment line for a keep-alive.
fn event_stream(events: BoxStream<'static, Event>) -> Response<Body> {
    let body = StreamBody::new(events.map(|event| {
        let text = match event {
            Event::Progress(value) => Bytes::from(format!("event: progress\ndata: {value}\n\n")),
            Event::KeepAlive => Bytes::from_static(b": keep-alive\n\n"),
        };
        Ok::<_, std::convert::Infallible>(http_body::Frame::data(text))
    }));
    let mut res = Response::new(Body::new(body));
    let h = res.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

/// The JSON of a resumable upload: the fields of [`to_json`], and its
/// durable `offset` and `protocol`.
fn resumable_json(s: &resumable::Snapshot) -> Value {
    let (state, reason) = match &s.state {
        UploadState::Receiving => ("receiving", None),
        UploadState::Suspended => ("suspended", None),
        UploadState::Complete => ("complete", None),
        UploadState::Aborted(why) => ("aborted", Some((*why).to_owned())),
        UploadState::Failed(why) => ("failed", Some(why.clone())),
    };
    let registry_state = match &s.state {
        UploadState::Receiving | UploadState::Suspended => State::Receiving,
        UploadState::Complete => State::Complete,
        UploadState::Aborted(why) => State::Aborted((*why).to_owned()),
        UploadState::Failed(why) => State::Failed(500, why.clone()),
    };
    let percent = percent_of(s.received, s.length, s.state == UploadState::Complete);
    let secs = s
        .started
        .elapsed()
        .unwrap_or_default()
        .as_secs_f64()
        .max(0.001);
    json!({
        "id": s.id.to_string(),
        "path": s.target,
        "state": state,
        "received": s.received,
        "offset": s.offset,
        "expected": s.length,
        "percent": percent,
        "code": code_of(&registry_state, percent),
        "started": rfc3339(s.started),
        "rate": (s.received as f64 / secs) as u64,
        "reason": reason,
        "protocol": s.protocol.name(),
    })
}

/// The JSON of one entry.
fn to_json(s: &Snapshot) -> Value {
    let reason = match &s.state {
        State::Aborted(why) | State::Failed(_, why) => Some(why.clone()),
        _ => None,
    };
    json!({
        "id": s.id.to_string(),
        "path": s.path,
        "state": s.state.name(),
        "received": s.received,
        "expected": s.expected,
        "percent": s.percent(),
        "code": s.code(),
        "started": s.started.map(rfc3339),
        "rate": s.rate,
        "reason": reason,
    })
}

fn rfc3339(t: SystemTime) -> String {
    httpout_core::utc::Utc::from(t).rfc3339()
}

fn json_response(status: StatusCode, value: &Value) -> Response<Body> {
    let mut res = Response::new(Body::full(value.to_string()));
    *res.status_mut() = status;
    let h = res.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

fn header_value(s: &str) -> HeaderValue {
    // Ids and paths made here are visible ASCII.
    HeaderValue::from_str(s).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// A small request body, whole; 413 past `max` bytes.
async fn read_small(mut body: Body, max: usize) -> Result<Vec<u8>, Error> {
    let mut out = Vec::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|_| Error::bad_request("the request was interrupted"))?;
        if let Ok(data) = frame.into_data() {
            if out.len() + data.len() > max {
                return Err(Error::PayloadTooLarge { limit: max as u64 });
            }
            out.extend_from_slice(&data);
        }
    }
    Ok(out)
}

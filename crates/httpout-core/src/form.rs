//! Query strings and forms for handlers: `application/x-www-form-urlencoded`
//! (the query string, or a body read whole up to a limit) and
//! `multipart/form-data` (streamed part by part, bounded). A body over its
//! limit is a 413, a body of another type a 415, a malformed one a 400.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use futures_util::Stream;
use http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use http::{HeaderMap, Request};
use http_body_util::{BodyDataStream, BodyExt, LengthLimitError, Limited};

use crate::body::Body;
use crate::error::Error;

/// A sensible bound of a urlencoded body, 64 KiB, to give
/// [`Fields::from_body`] (which takes its bound from the caller).
///
/// ```
/// assert_eq!(httpout_core::form::MAX_URLENCODED, 64 * 1024);
/// ```
pub const MAX_URLENCODED: usize = 64 * 1024;

/// The name-value pairs of a query string or a urlencoded form, decoded
/// (`+` is a space), in their order; a name may come more than once.
///
/// ```
/// use httpout_core::form::Fields;
///
/// let req = http::Request::get("/search?q=red+fox&tag=a&tag=b%26c").body(()).unwrap();
/// let query = Fields::from_query(&req)?;
/// assert_eq!(query.get("q"), Some("red fox"));
/// assert_eq!(query.all("tag").collect::<Vec<_>>(), ["a", "b&c"]);
/// # Ok::<(), httpout_core::Error>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Fields(Vec<(String, String)>);

impl Fields {
    /// The fields of `req`'s query string (none without one); a 400 for
    /// text that is not UTF-8 once decoded.
    ///
    /// ```
    /// use httpout_core::form::Fields;
    ///
    /// let req = http::Request::get("/list?page=2&sort=").body(()).unwrap();
    /// let query = Fields::from_query(&req)?;
    /// assert_eq!(query.get("page"), Some("2"));
    /// assert_eq!(query.get("sort"), Some(""));
    /// let bad = http::Request::get("/list?name=%FF").body(()).unwrap();
    /// assert_eq!(Fields::from_query(&bad).unwrap_err().status(), http::StatusCode::BAD_REQUEST);
    /// # Ok::<(), httpout_core::Error>(())
    /// ```
    pub fn from_query<B>(req: &Request<B>) -> Result<Self, Error> {
        Self::parse(req.uri().query().unwrap_or_default().as_bytes())
    }

    /// The fields of a urlencoded body, read whole: a 415 unless its
    /// `Content-Type` is `application/x-www-form-urlencoded`, a 413 past
    /// `limit` bytes ([`MAX_URLENCODED`] is a fair one; refused before
    /// reading when `Content-Length` says so).
    ///
    /// ```
    /// use httpout_core::form::{Fields, MAX_URLENCODED};
    /// use httpout_core::{Body, Ctx, Error};
    /// use http::{Request, Response};
    ///
    /// async fn greet(req: Request<Body>, _ctx: Ctx) -> Result<Response<Body>, Error> {
    ///     let form = Fields::from_body(req, MAX_URLENCODED).await?;
    ///     let name = form.get("name").unwrap_or("stranger");
    ///     Ok(Response::new(Body::full(format!("hello {name}\n"))))
    /// }
    /// ```
    pub async fn from_body(req: Request<Body>, limit: usize) -> Result<Self, Error> {
        if !is_type(req.headers(), "application/x-www-form-urlencoded") {
            return Err(Error::UnsupportedMediaType {
                expected: "application/x-www-form-urlencoded",
            });
        }
        check_length(req.headers(), limit as u64)?;
        let body = Limited::new(req.into_body(), limit);
        let bytes = match body.collect().await {
            Ok(collected) => collected.to_bytes(),
            Err(e) if e.is::<LengthLimitError>() => {
                return Err(Error::PayloadTooLarge {
                    limit: limit as u64,
                });
            }
            Err(e) => return Err(body_error(e)),
        };
        Self::parse(&bytes)
    }

    /// Parses `name=value&...` text.
    fn parse(text: &[u8]) -> Result<Self, Error> {
        let mut fields = Vec::new();
        for pair in text.split(|b| *b == b'&').filter(|p| !p.is_empty()) {
            let (name, value) = match pair.iter().position(|b| *b == b'=') {
                Some(i) => (&pair[..i], &pair[i + 1..]),
                None => (pair, &[][..]),
            };
            fields.push((decode(name)?, decode(value)?));
        }
        Ok(Self(fields))
    }

    /// The first value of `name`.
    ///
    /// ```
    /// use httpout_core::form::Fields;
    ///
    /// let req = http::Request::get("/?lang=en&lang=fr").body(()).unwrap();
    /// let query = Fields::from_query(&req)?;
    /// assert_eq!(query.get("lang"), Some("en"));
    /// assert_eq!(query.get("page"), None);
    /// # Ok::<(), httpout_core::Error>(())
    /// ```
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of `name`, in order.
    ///
    /// ```
    /// use httpout_core::form::Fields;
    ///
    /// let req = http::Request::get("/?lang=en&page=1&lang=fr").body(()).unwrap();
    /// let query = Fields::from_query(&req)?;
    /// assert_eq!(query.all("lang").collect::<Vec<_>>(), ["en", "fr"]);
    /// assert_eq!(query.all("none").count(), 0);
    /// # Ok::<(), httpout_core::Error>(())
    /// ```
    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> {
        self.0
            .iter()
            .filter(move |(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every pair, in order.
    ///
    /// ```
    /// use httpout_core::form::Fields;
    ///
    /// let req = http::Request::get("/?b=2&a=1&flag").body(()).unwrap();
    /// let query = Fields::from_query(&req)?;
    /// let pairs: Vec<_> = query.iter().collect();
    /// assert_eq!(pairs, [("b", "2"), ("a", "1"), ("flag", "")]);
    /// # Ok::<(), httpout_core::Error>(())
    /// ```
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }
}

/// One urlencoded name or value, decoded.
fn decode(raw: &[u8]) -> Result<String, Error> {
    let spaced: Vec<u8> = raw
        .iter()
        .map(|b| if *b == b'+' { b' ' } else { *b })
        .collect();
    let decoded: Vec<u8> = percent_encoding::percent_decode(&spaced).collect();
    String::from_utf8(decoded).map_err(|_| Error::bad_request("form field is not UTF-8"))
}

/// Whether `req`'s `Content-Type` is `essence` (parameters aside).
fn is_type(headers: &HeaderMap, essence: &str) -> bool {
    headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|t| t.trim().eq_ignore_ascii_case(essence))
}

/// A 413 when `Content-Length` is over `limit`.
fn check_length(headers: &HeaderMap, limit: u64) -> Result<(), Error> {
    let declared = headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    match declared {
        Some(len) if len > limit => Err(Error::PayloadTooLarge { limit }),
        _ => Ok(()),
    }
}

/// A failure of the request body while reading it.
fn body_error(e: crate::BoxError) -> Error {
    match e.downcast::<std::io::Error>() {
        Ok(io) => Error::Io(*io),
        Err(other) => Error::bad_request(format!("request body: {other}")),
    }
}

/// Bounds of a [`Multipart`] form.
///
/// ```
/// use httpout_core::form::MultipartLimits;
/// let limits = MultipartLimits { max_body: 1 << 20, ..MultipartLimits::default() };
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MultipartLimits {
    /// Bytes of the whole body; more is a 413. Default 16 MiB.
    pub max_body: u64,
    /// Bytes of one part's content; more is a 413. Default 8 MiB.
    pub max_part: u64,
    /// Bytes the parser may take in without handing anything out: the
    /// preamble, a part's headers, the boundary between two parts (a
    /// browser sends a few hundred bytes); more is a 400. This and one
    /// read, not `max_body`, bound what the parser holds. Default 16 KiB.
    pub max_head: usize,
}

impl Default for MultipartLimits {
    fn default() -> Self {
        Self {
            max_body: 16 << 20,
            max_part: 8 << 20,
            max_head: 16 << 10,
        }
    }
}

/// A `multipart/form-data` body, read part by part as it arrives
/// (parsing is multer's). What the parser holds is bounded by
/// [`MultipartLimits::max_head`] and one read; a part's content comes in pieces
/// ([`Part::chunk`]) or whole ([`Part::bytes`], [`Part::text`]); what a
/// handler leaves of a part is read through when it asks for the next.
///
/// ```
/// use httpout_core::form::{Multipart, MultipartLimits};
/// use httpout_core::{Body, Ctx, Error};
/// use http::{Request, Response};
///
/// async fn upload(req: Request<Body>, _ctx: Ctx) -> Result<Response<Body>, Error> {
///     let mut form = Multipart::from_request(req, MultipartLimits::default())?;
///     let mut total = 0;
///     while let Some(mut part) = form.next_part().await? {
///         while let Some(chunk) = part.chunk().await? {
///             total += chunk.len();
///         }
///     }
///     Ok(Response::new(Body::full(format!("{total} bytes\n"))))
/// }
/// ```
pub struct Multipart {
    inner: multer::Multipart<'static>,
    /// The part last handed out, until the next is asked for.
    current: Option<multer::Field<'static>>,
    budget: Arc<Budget>,
    limits: MultipartLimits,
}

impl std::fmt::Debug for Multipart {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Multipart")
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

impl Multipart {
    /// The form of `req`: a 415 unless it is `multipart/form-data`, a 400
    /// without a valid boundary, a 413 when `Content-Length` is over the
    /// limit.
    ///
    /// ```
    /// use httpout_core::form::{Multipart, MultipartLimits};
    /// use httpout_core::Body;
    ///
    /// let req = http::Request::post("/upload")
    ///     .header("content-type", "application/json")
    ///     .body(Body::full("{}"))?;
    /// let refused = Multipart::from_request(req, MultipartLimits::default()).unwrap_err();
    /// assert_eq!(refused.status(), http::StatusCode::UNSUPPORTED_MEDIA_TYPE);
    ///
    /// let req = http::Request::post("/upload")
    ///     .header("content-type", "multipart/form-data; boundary=X")
    ///     .header("content-length", "5000")
    ///     .body(Body::empty())?;
    /// let limits = MultipartLimits { max_body: 4096, ..MultipartLimits::default() };
    /// let refused = Multipart::from_request(req, limits).unwrap_err();
    /// assert_eq!(refused.status(), http::StatusCode::PAYLOAD_TOO_LARGE);
    /// # Ok::<_, http::Error>(())
    /// ```
    pub fn from_request(req: Request<Body>, limits: MultipartLimits) -> Result<Self, Error> {
        let (parts, body) = req.into_parts();
        Self::new(&parts.headers, body, limits)
    }

    /// The form in `body`, sent with `headers`: [`Multipart::from_request`]
    /// for a request already taken apart.
    ///
    /// ```
    /// use httpout_core::form::{Multipart, MultipartLimits};
    /// use httpout_core::Body;
    ///
    /// let (parts, body) = http::Request::post("/upload")
    ///     .header("content-type", "multipart/form-data")
    ///     .body(Body::empty())?
    ///     .into_parts();
    /// let refused = Multipart::new(&parts.headers, body, MultipartLimits::default()).unwrap_err();
    /// assert_eq!(refused.status(), http::StatusCode::BAD_REQUEST);
    /// # Ok::<_, http::Error>(())
    /// ```
    pub fn new(headers: &HeaderMap, body: Body, limits: MultipartLimits) -> Result<Self, Error> {
        if !is_type(headers, "multipart/form-data") {
            return Err(Error::UnsupportedMediaType {
                expected: "multipart/form-data",
            });
        }
        let content_type = headers
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        // RFC 2046 section 5.1.1: one to seventy characters.
        let boundary = multer::parse_boundary(content_type)
            .ok()
            .filter(|b| (1..=70).contains(&b.len()))
            .ok_or_else(|| Error::bad_request("multipart form without a valid boundary"))?;
        check_length(headers, limits.max_body)?;
        let constraints = multer::Constraints::new().size_limit(
            multer::SizeLimit::new()
                .whole_stream(limits.max_body)
                .per_field(limits.max_part),
        );
        let budget = Arc::new(Budget::default());
        let stream = Budgeted {
            inner: BodyDataStream::new(body),
            budget: Arc::clone(&budget),
            limit: limits.max_head,
        };
        Ok(Self {
            inner: multer::Multipart::with_constraints(stream, boundary, constraints),
            current: None,
            budget,
            limits,
        })
    }

    /// The next part, or `None` after the last. What is left unread of
    /// the part before is read through first (it counts against the
    /// limits).
    ///
    /// ```
    /// # use httpout_core::form::{Multipart, MultipartLimits};
    /// # use httpout_core::Body;
    /// # let body = "--X\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\nHello\r\n\
    /// #     --X\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.txt\"\r\n\
    /// #     Content-Type: text/plain\r\n\r\nfile text\r\n--X--\r\n";
    /// # let req = http::Request::post("/upload")
    /// #     .header("content-type", "multipart/form-data; boundary=X")
    /// #     .body(Body::full(body))?;
    /// # tokio::runtime::Runtime::new()?.block_on(async {
    /// let mut form = Multipart::from_request(req, MultipartLimits::default())?;
    /// let mut names = Vec::new();
    /// while let Some(part) = form.next_part().await? {
    ///     names.push(part.name().unwrap_or_default().to_owned());
    /// }
    /// assert_eq!(names, ["title", "file"]);
    /// # Ok::<_, httpout_core::Error>(())
    /// # })?;
    /// # Ok::<_, Box<dyn std::error::Error>>(())
    /// ```
    pub async fn next_part(&mut self) -> Result<Option<Part<'_>>, Error> {
        let Self {
            inner,
            current,
            budget,
            limits,
        } = self;
        let limits = *limits;
        if let Some(rest) = current.as_mut() {
            // Handed out piece by piece, so that it is not taken for the
            // next part's head; dropped only once read through, so that a
            // call cancelled meanwhile (a timeout) goes on from there.
            while let Some(piece) = rest
                .chunk()
                .await
                .map_err(|e| form_error(e, limits, budget))?
            {
                budget.progress(piece.len());
            }
        }
        *current = None;
        let field = inner.next_field().await;
        let field = field.map_err(|e| form_error(e, limits, budget))?;
        budget.progress(0);
        *current = field;
        Ok(current.as_mut().map(|field| Part {
            field,
            budget,
            limits,
        }))
    }
}

/// What a [`Multipart`]'s parser took in since it last handed something
/// out.
#[derive(Debug, Default)]
struct Budget {
    /// Bytes taken in since the last [`Budget::progress`].
    since: AtomicUsize,
    /// Bytes taken in, and bytes of content handed out: their difference
    /// is at least what the parser holds (it is that plus the heads and
    /// boundaries it parsed).
    taken: AtomicU64,
    given: AtomicU64,
    /// Whether something was handed out since the parser last read.
    fresh: AtomicBool,
    /// Whether the parser was made to look at what it holds since then.
    paused: AtomicBool,
    /// Whether the limit was crossed (the stream failed for that).
    over: AtomicBool,
}

impl Budget {
    /// The parser handed out a part (`given` 0) or a piece of one.
    fn progress(&self, given: usize) {
        self.since.store(0, Ordering::Relaxed);
        self.given.fetch_add(given as u64, Ordering::Relaxed);
        self.paused.store(false, Ordering::Relaxed);
        self.fresh.store(true, Ordering::Relaxed);
    }

    /// At least what the parser holds.
    fn may_hold(&self) -> u64 {
        let taken = self.taken.load(Ordering::Relaxed);
        taken.saturating_sub(self.given.load(Ordering::Relaxed))
    }
}

/// What the parser may hold and still read on without a pause: a boundary
/// split across two reads, a few parts' heads.
const HELD_SLACK: u64 = 4096;

/// The body as multer reads it. multer reads while data is ready before it
/// parses, so this makes it parse what it holds first: after something was
/// handed out, unless it may hold at most [`HELD_SLACK`] bytes, it pauses
/// once before the next read (multer hands out what it can, and reads only
/// when it holds no whole head or piece), and past `limit` bytes without
/// progress it pauses once more, then fails. What multer holds is so
/// bounded by about `limit` and one read. (Content streamed through a
/// part leaves multer holding next to nothing, so it goes without pauses:
/// a pause per piece cost about 4 % more CPU on a 1 GB form.)
struct Budgeted<S> {
    inner: S,
    budget: Arc<Budget>,
    limit: usize,
}

impl<S, E> Stream for Budgeted<S>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: Into<crate::BoxError>,
{
    type Item = Result<Bytes, crate::BoxError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let budget = Arc::clone(&self.budget);
        if budget.fresh.swap(false, Ordering::Relaxed) && budget.may_hold() > HELD_SLACK {
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        if budget.since.load(Ordering::Relaxed) >= self.limit {
            if !budget.paused.swap(true, Ordering::Relaxed) {
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
            budget.over.store(true, Ordering::Relaxed);
            return Poll::Ready(Some(Err("form head too long".into())));
        }
        match Pin::new(&mut self.inner).poll_next(cx) {
            Poll::Ready(Some(Ok(data))) => {
                budget.since.fetch_add(data.len(), Ordering::Relaxed);
                budget.taken.fetch_add(data.len() as u64, Ordering::Relaxed);
                Poll::Ready(Some(Ok(data)))
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(e.into()))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    }
}

/// One part of a [`Multipart`] form: its name, file name and type, and its
/// content, read in pieces or whole.
///
/// ```
/// # use httpout_core::form::{Multipart, MultipartLimits};
/// # use httpout_core::Body;
/// # let body = "--X\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\nHello\r\n\
/// #     --X\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.txt\"\r\n\
/// #     Content-Type: text/plain\r\n\r\nfile text\r\n--X--\r\n";
/// # let req = http::Request::post("/upload")
/// #     .header("content-type", "multipart/form-data; boundary=X")
/// #     .body(Body::full(body))?;
/// # tokio::runtime::Runtime::new()?.block_on(async {
/// let mut form = Multipart::from_request(req, MultipartLimits::default())?;
/// let part = form.next_part().await?.expect("a first part");
/// assert_eq!(part.name(), Some("title"));
/// assert_eq!(part.text().await?, "Hello");
/// # Ok::<_, httpout_core::Error>(())
/// # })?;
/// # Ok::<_, Box<dyn std::error::Error>>(())
/// ```
pub struct Part<'a> {
    field: &'a mut multer::Field<'static>,
    budget: &'a Budget,
    limits: MultipartLimits,
}

impl std::fmt::Debug for Part<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Part")
            .field("name", &self.name())
            .field("file_name", &self.file_name())
            .finish_non_exhaustive()
    }
}

impl Part<'_> {
    /// The form field's name.
    ///
    /// ```
    /// # use httpout_core::form::{Multipart, MultipartLimits};
    /// # use httpout_core::Body;
    /// # let body = "--X\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\nHello\r\n\
    /// #     --X\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.txt\"\r\n\
    /// #     Content-Type: text/plain\r\n\r\nfile text\r\n--X--\r\n";
    /// # let req = http::Request::post("/upload")
    /// #     .header("content-type", "multipart/form-data; boundary=X")
    /// #     .body(Body::full(body))?;
    /// # tokio::runtime::Runtime::new()?.block_on(async {
    /// let mut form = Multipart::from_request(req, MultipartLimits::default())?;
    /// let part = form.next_part().await?.expect("a first part");
    /// assert_eq!(part.name(), Some("title"));
    /// # Ok::<_, httpout_core::Error>(())
    /// # })?;
    /// # Ok::<_, Box<dyn std::error::Error>>(())
    /// ```
    pub fn name(&self) -> Option<&str> {
        self.field.name()
    }

    /// The file name a browser gave a file part, as sent (sanitise it
    /// before using it as a path).
    ///
    /// ```
    /// # use httpout_core::form::{Multipart, MultipartLimits};
    /// # use httpout_core::Body;
    /// # let body = "--X\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\nHello\r\n\
    /// #     --X\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.txt\"\r\n\
    /// #     Content-Type: text/plain\r\n\r\nfile text\r\n--X--\r\n";
    /// # let req = http::Request::post("/upload")
    /// #     .header("content-type", "multipart/form-data; boundary=X")
    /// #     .body(Body::full(body))?;
    /// # tokio::runtime::Runtime::new()?.block_on(async {
    /// let mut form = Multipart::from_request(req, MultipartLimits::default())?;
    /// let title = form.next_part().await?.expect("a first part");
    /// assert_eq!(title.file_name(), None);
    /// drop(title);
    /// let file = form.next_part().await?.expect("a second part");
    /// assert_eq!(file.file_name(), Some("a.txt"));
    /// # Ok::<_, httpout_core::Error>(())
    /// # })?;
    /// # Ok::<_, Box<dyn std::error::Error>>(())
    /// ```
    pub fn file_name(&self) -> Option<&str> {
        self.field.file_name()
    }

    /// The part's `Content-Type`.
    ///
    /// ```
    /// # use httpout_core::form::{Multipart, MultipartLimits};
    /// # use httpout_core::Body;
    /// # let body = "--X\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\nHello\r\n\
    /// #     --X\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.txt\"\r\n\
    /// #     Content-Type: text/plain\r\n\r\nfile text\r\n--X--\r\n";
    /// # let req = http::Request::post("/upload")
    /// #     .header("content-type", "multipart/form-data; boundary=X")
    /// #     .body(Body::full(body))?;
    /// # tokio::runtime::Runtime::new()?.block_on(async {
    /// let mut form = Multipart::from_request(req, MultipartLimits::default())?;
    /// let title = form.next_part().await?.expect("a first part");
    /// assert_eq!(title.content_type(), None);
    /// drop(title);
    /// let file = form.next_part().await?.expect("a second part");
    /// assert_eq!(file.content_type().as_deref(), Some("text/plain"));
    /// # Ok::<_, httpout_core::Error>(())
    /// # })?;
    /// # Ok::<_, Box<dyn std::error::Error>>(())
    /// ```
    pub fn content_type(&self) -> Option<String> {
        self.field.content_type().map(ToString::to_string)
    }

    /// The next piece of the content, or `None` at its end.
    ///
    /// ```
    /// # use httpout_core::form::{Multipart, MultipartLimits};
    /// # use httpout_core::Body;
    /// # let body = "--X\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\nHello\r\n\
    /// #     --X\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.txt\"\r\n\
    /// #     Content-Type: text/plain\r\n\r\nfile text\r\n--X--\r\n";
    /// # let req = http::Request::post("/upload")
    /// #     .header("content-type", "multipart/form-data; boundary=X")
    /// #     .body(Body::full(body))?;
    /// # tokio::runtime::Runtime::new()?.block_on(async {
    /// let mut form = Multipart::from_request(req, MultipartLimits::default())?;
    /// let mut part = form.next_part().await?.expect("a first part");
    /// let mut content = Vec::new();
    /// while let Some(piece) = part.chunk().await? {
    ///     content.extend_from_slice(&piece);
    /// }
    /// assert_eq!(content, b"Hello");
    /// # Ok::<_, httpout_core::Error>(())
    /// # })?;
    /// # Ok::<_, Box<dyn std::error::Error>>(())
    /// ```
    pub async fn chunk(&mut self) -> Result<Option<Bytes>, Error> {
        let piece = self.field.chunk().await;
        let piece = piece.map_err(|e| form_error(e, self.limits, self.budget))?;
        self.budget.progress(piece.as_ref().map_or(0, Bytes::len));
        Ok(piece)
    }

    /// The whole content (at most [`MultipartLimits::max_part`] bytes).
    ///
    /// ```
    /// # use httpout_core::form::{Multipart, MultipartLimits};
    /// # use httpout_core::Body;
    /// # let body = "--X\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\nHello\r\n\
    /// #     --X\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.txt\"\r\n\
    /// #     Content-Type: text/plain\r\n\r\nfile text\r\n--X--\r\n";
    /// # let req = http::Request::post("/upload")
    /// #     .header("content-type", "multipart/form-data; boundary=X")
    /// #     .body(Body::full(body))?;
    /// # tokio::runtime::Runtime::new()?.block_on(async {
    /// let mut form = Multipart::from_request(req, MultipartLimits::default())?;
    /// let title = form.next_part().await?.expect("a first part");
    /// assert_eq!(title.bytes().await?, "Hello");
    /// # Ok::<_, httpout_core::Error>(())
    /// # })?;
    /// # Ok::<_, Box<dyn std::error::Error>>(())
    /// ```
    pub async fn bytes(mut self) -> Result<Bytes, Error> {
        let mut whole = BytesMut::new();
        while let Some(piece) = self.chunk().await? {
            whole.extend_from_slice(&piece);
        }
        Ok(whole.freeze())
    }

    /// The whole content as text; a 400 if it is not UTF-8.
    ///
    /// ```
    /// # use httpout_core::form::{Multipart, MultipartLimits};
    /// # use httpout_core::Body;
    /// # let body = "--X\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\nHello\r\n\
    /// #     --X\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.txt\"\r\n\
    /// #     Content-Type: text/plain\r\n\r\nfile text\r\n--X--\r\n";
    /// # let req = http::Request::post("/upload")
    /// #     .header("content-type", "multipart/form-data; boundary=X")
    /// #     .body(Body::full(body))?;
    /// # tokio::runtime::Runtime::new()?.block_on(async {
    /// let mut form = Multipart::from_request(req, MultipartLimits::default())?;
    /// let _ = form.next_part().await?; // the title, dropped unread
    /// let file = form.next_part().await?.expect("a second part");
    /// assert_eq!(file.text().await?, "file text");
    /// # Ok::<_, httpout_core::Error>(())
    /// # })?;
    /// # Ok::<_, Box<dyn std::error::Error>>(())
    /// ```
    pub async fn text(self) -> Result<String, Error> {
        let bytes = self.bytes().await?;
        String::from_utf8(bytes.to_vec()).map_err(|_| Error::bad_request("form part is not UTF-8"))
    }
}

/// multer's failure as the client's error.
fn form_error(e: multer::Error, limits: MultipartLimits, budget: &Budget) -> Error {
    if budget.over.load(Ordering::Relaxed) {
        return Error::bad_request(format!(
            "form preamble or part headers longer than {} bytes",
            limits.max_head
        ));
    }
    match e {
        multer::Error::StreamSizeExceeded { .. } => Error::PayloadTooLarge {
            limit: limits.max_body,
        },
        multer::Error::FieldSizeExceeded { .. } => Error::PayloadTooLarge {
            limit: limits.max_part,
        },
        other => Error::bad_request(format!("malformed form: {other}")),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    /// 20 000 parts of a few bytes in ready 8 KiB reads: the parser reads
    /// only what it must. Before, it read everything ready, the whole
    /// 1.1 MB, before handing out the first part.
    #[tokio::test]
    async fn what_the_parser_holds_stays_near_the_head_bound() {
        let parts = 20_000;
        let mut raw = Vec::new();
        for i in 0..parts {
            let part =
                format!("--X\r\nContent-Disposition: form-data; name=\"f{i:05}\"\r\n\r\nv\r\n");
            raw.extend_from_slice(part.as_bytes());
        }
        let part_len = raw.len() / parts;
        raw.extend_from_slice(b"--X--\r\n");
        let pulled = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&pulled);
        let reads: Vec<Bytes> = raw.chunks(8192).map(Bytes::copy_from_slice).collect();
        let stream = futures_util::stream::iter(reads.into_iter().map(move |b| {
            counter.fetch_add(b.len(), Ordering::Relaxed);
            Ok::<_, std::io::Error>(http_body::Frame::data(b))
        }));
        let req = Request::post("/")
            .header(CONTENT_TYPE, "multipart/form-data; boundary=X")
            .body(Body::new(http_body_util::StreamBody::new(stream)))
            .unwrap();
        let limits = MultipartLimits::default();
        let mut form = Multipart::from_request(req, limits).unwrap();
        let (mut seen, mut most_held) = (0, 0);
        while let Some(part) = form.next_part().await.unwrap() {
            assert_eq!(part.text().await.unwrap(), "v");
            seen += 1;
            let held = pulled
                .load(Ordering::Relaxed)
                .saturating_sub(seen * part_len);
            most_held = most_held.max(held);
        }
        assert_eq!(seen, parts);
        assert!(
            most_held <= limits.max_head + 2 * 8192,
            "the parser held {most_held} bytes"
        );
    }
}

//! Query strings and forms for handlers: `application/x-www-form-urlencoded`
//! (the query string, or a body read whole up to a limit) and
//! `multipart/form-data` (streamed part by part, bounded). A body over its
//! limit is a 413, a body of another type a 415, a malformed one a 400.

use bytes::Bytes;
use http::Request;
use http::header::{CONTENT_LENGTH, CONTENT_TYPE};
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
        if !is_type(&req, "application/x-www-form-urlencoded") {
            return Err(Error::UnsupportedMediaType {
                expected: "application/x-www-form-urlencoded",
            });
        }
        check_length(&req, limit as u64)?;
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
fn is_type<B>(req: &Request<B>, essence: &str) -> bool {
    req.headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|t| t.trim().eq_ignore_ascii_case(essence))
}

/// A 413 when `Content-Length` is over `limit`.
fn check_length<B>(req: &Request<B>, limit: u64) -> Result<(), Error> {
    let declared = req
        .headers()
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
}

impl Default for MultipartLimits {
    fn default() -> Self {
        Self {
            max_body: 16 << 20,
            max_part: 8 << 20,
        }
    }
}

/// A `multipart/form-data` body, read part by part as it arrives
/// (parsing is multer's). Memory is bounded by
/// [`MultipartLimits::max_body`]; a part's content comes in pieces
/// ([`Part::chunk`]) or whole ([`Part::bytes`], [`Part::text`]).
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
    /// without a boundary, a 413 when `Content-Length` is over the limit.
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
        if !is_type(&req, "multipart/form-data") {
            return Err(Error::UnsupportedMediaType {
                expected: "multipart/form-data",
            });
        }
        let content_type = req
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        let boundary = multer::parse_boundary(content_type)
            .map_err(|_| Error::bad_request("multipart form without a boundary"))?;
        check_length(&req, limits.max_body)?;
        let constraints = multer::Constraints::new().size_limit(
            multer::SizeLimit::new()
                .whole_stream(limits.max_body)
                .per_field(limits.max_part),
        );
        let stream = BodyDataStream::new(req.into_body());
        Ok(Self {
            inner: multer::Multipart::with_constraints(stream, boundary, constraints),
            limits,
        })
    }

    /// The next part, or `None` after the last.
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
    pub async fn next_part(&mut self) -> Result<Option<Part>, Error> {
        let limits = self.limits;
        match self.inner.next_field().await {
            Ok(field) => Ok(field.map(|inner| Part { inner, limits })),
            Err(e) => Err(form_error(e, limits)),
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
pub struct Part {
    inner: multer::Field<'static>,
    limits: MultipartLimits,
}

impl std::fmt::Debug for Part {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Part")
            .field("name", &self.name())
            .field("file_name", &self.file_name())
            .finish_non_exhaustive()
    }
}

impl Part {
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
        self.inner.name()
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
        self.inner.file_name()
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
        self.inner.content_type().map(ToString::to_string)
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
        let limits = self.limits;
        self.inner.chunk().await.map_err(|e| form_error(e, limits))
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
    pub async fn bytes(self) -> Result<Bytes, Error> {
        let limits = self.limits;
        self.inner.bytes().await.map_err(|e| form_error(e, limits))
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
fn form_error(e: multer::Error, limits: MultipartLimits) -> Error {
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

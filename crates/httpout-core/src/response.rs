//! Headers every response gets, whatever answered it.

use std::time::{SystemTime, UNIX_EPOCH};

use http::header::{
    ACCESS_CONTROL_ALLOW_ORIGIN, ACCESS_CONTROL_EXPOSE_HEADERS, CONNECTION, SERVER,
};
use http::{HeaderName, HeaderValue, Response, Version};

use crate::config::Cors;
use crate::config::ServerConfig;

/// The `Server-UTC` header (`sutc`): the server clock in ms since the epoch,
/// used by low-latency DASH players to synchronise.
pub static SERVER_UTC: HeaderName = HeaderName::from_static("server-utc");

/// Response headers a browser script may read under CORS: ranges, validators,
/// `Date` and `Server-UTC` for clock sync (players need them; GPAC's `*` is
/// ignored by browsers on credentialed requests); `Location` and the
/// resumable uploads' headers (tus and IETF clients in browsers read them).
const EXPOSED: &str = "Content-Length, Content-Range, Accept-Ranges, ETag, Last-Modified, Date, \
    Server-UTC, Location, Upload-Id, Upload-Offset, Upload-Length, Upload-Metadata, \
    Upload-Complete, Upload-Limit, Tus-Resumable, Tus-Version, Tus-Extension, Tus-Max-Size, \
    Tus-Checksum-Algorithm";

/// Whether the server's CORS policy applies to a request: always (`on`),
/// never (`off`), or when it carries `Origin` (`auto`). The one place CORS
/// is decided, for the common headers and for preflights.
pub(crate) fn cors_applies(config: &ServerConfig, has_origin: bool) -> bool {
    match config.cors {
        Cors::On => true,
        Cors::Off => false,
        Cors::Auto => has_origin,
    }
}

/// Adds the common headers: `Server` (`server_tokens`), `hdrs`, `Server-UTC`, CORS, and
/// `Connection: close` on HTTP/1 when `close_connection` is set. A header the
/// handler set already is kept, except those named in `hdrs`, which win.
/// (`Date` is added by hyper on HTTP/1.1 and HTTP/2.)
pub(crate) fn finish<B>(
    res: &mut Response<B>,
    config: &ServerConfig,
    has_origin: bool,
    version: Version,
    close_connection: bool,
) {
    let headers = res.headers_mut();
    if !headers.contains_key(SERVER) {
        headers.insert(SERVER, config.server_tokens.header().clone());
    }
    if config.sutc {
        let ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis());
        headers.insert(SERVER_UTC.clone(), HeaderValue::from(ms as u64));
    }
    if cors_applies(config, has_origin) {
        headers.insert(ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
        headers.insert(
            ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static(EXPOSED),
        );
    }
    for (name, value) in &config.headers {
        headers.insert(name.clone(), value.clone());
    }
    if close_connection && version < Version::HTTP_2 {
        headers.insert(CONNECTION, HeaderValue::from_static("close"));
    }
}

//! GET and HEAD over a read directory: resolve to an [`Outcome`], then build
//! one response from it, as tower-http's `ServeDir` does.
//!
//! The pipeline, top to bottom ([`get`]):
//! 1. [`resolve`]: a dotfile (without `hidden`) is 404 (`crate::hidden`);
//!    a file being written is served from its live edge ([`growing`]);
//!    otherwise the path is found in the root (one blocking trip: resolve,
//!    containment, stat, open, and the read itself for small files);
//!    - a directory: `/dir` → 301 `/dir/`; an index file; a listing
//!      (`dlist`, [`listing`]) or 403;
//!    - a file: the representation — identity, a precompressed sibling
//!      ([`precompressed`]: `file.br`, `.zst`, `.gz`, not older than the
//!      file), or compressed on the fly (text types up to `zmax` bytes) —
//!      never for range requests; preconditions against it
//!      ([`conditional`], RFC 9110 §13.2.2): 304/412; ranges for identity
//!      ([`range::decide`]): 200, 206, multipart 206, 416;
//!
//! A playlist asked for with LL-HLS directives (`_HLS_msn`, `_HLS_skip`) is
//! answered by [`hls`] instead (held, or rewritten as a delta update).
//! 2. [`respond`]: the outcome becomes the status, the headers and the body
//!    ([`body`]); growing files get the same headers as complete ones.

pub(crate) mod body;
pub(crate) mod conditional;
pub(crate) mod encoding;
pub(crate) mod growing;
pub(crate) mod hls;
pub(crate) mod listing;
pub(crate) mod outcome;
pub(crate) mod playlist;
pub(crate) mod precompressed;
pub(crate) mod range;
pub(crate) mod resolve;
pub(crate) mod respond;

use http::Response;
use http::request::Parts;
use httpout_core::{Body, Ctx, Error};

use crate::site::Site;
pub(crate) use outcome::{Listing, Outcome};

/// Answers a GET or HEAD.
pub(crate) async fn get(site: &Site, req: &Parts, ctx: &Ctx) -> Result<Response<Body>, Error> {
    let name = ctx.path.segments().last().map_or("", String::as_str);
    if let Some(d) = hls::directives(req, name)? {
        if let Some(res) = hls::answer(site, ctx, &d, &resolve::full_path(ctx)).await? {
            return Ok(res);
        }
    }
    let outcome = resolve::resolve(site, req, ctx).await?;
    respond::respond(&site.config, outcome)
}

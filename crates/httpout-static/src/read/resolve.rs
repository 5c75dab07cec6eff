//! From a request to an [`Outcome`]: where the path leads, and what to send
//! from there. Nothing here builds a response.

use std::path::{Path, PathBuf};

use http::HeaderValue;
use http::header::RANGE;
use http::request::Parts;
use httpout_core::{Ctx, Error, media_type};
use httpout_store::{Found, LiveFile, OpenFile, StoreError};
use percent_encoding::utf8_percent_encode;

use super::conditional::{self, ETag, Precondition, Validators};
use super::outcome::{Listing, Outcome, Part, Representation};
use super::precompressed::{self, Choice};
use super::range::{self, RangeDecision};
use super::{growing, listing};
use crate::cache::{self, Kind};
use crate::error::store_error;
use crate::site::Site;

/// Decides what answers a GET or HEAD of `ctx.path` in `site`.
pub(crate) async fn resolve(site: &Site, req: &Parts, ctx: &Ctx) -> Result<Outcome, Error> {
    // Dotfiles are absent, also at the live edge and as directories.
    if !site.config.hidden && crate::hidden::hides(ctx.path.segments()) {
        return Err(Error::NotFound);
    }
    if ctx
        .path
        .segments()
        .last()
        .is_some_and(|n| crate::hidden::is_placeholder(&site.config, n))
    {
        return Err(Error::NotFound);
    }
    let name = ctx.path.segments().last().map_or("", String::as_str);
    let target = || {
        let rel: PathBuf = ctx.path.segments().iter().collect();
        site.root.path().join(rel)
    };
    // Most GETs find nothing being written: no path built, no lock taken.
    if !site.config.live.is_empty() {
        if let Some(live) = site.config.live.get(&target()) {
            return Ok(growing_file(site, req, ctx, live, name));
        }
    }
    let found = match site.root.find(ctx.path.segments(), site.small_file()) {
        Err(StoreError::NotFound) => {
            // The next segment of a live stream may be asked for early:
            // for `wait_new`, and for as long as a playlist's preload hint
            // announces it.
            let target = target();
            let wait = site
                .config
                .live
                .announced(&target)
                .map_or(site.config.wait_new, |left| left.max(site.config.wait_new));
            if wait.is_zero() {
                Err(StoreError::NotFound)
            } else {
                match site.config.live.wait_for(&target, wait).await {
                    Some(live) => return Ok(growing_file(site, req, ctx, live, name)),
                    None => site.root.find(ctx.path.segments(), site.small_file()),
                }
            }
        }
        other => other,
    }
    .map_err(store_error)?;
    match found {
        Found::Dir { rel, .. } => directory(site, req, ctx, &rel).await,
        Found::File(_) if req.uri.path().ends_with('/') => Err(Error::NotFound),
        Found::File(file) => file_outcome(site, req, ctx, file),
    }
}

/// A directory: redirect to the slash form, an index file, or a listing.
async fn directory(site: &Site, req: &Parts, ctx: &Ctx, dir: &Path) -> Result<Outcome, Error> {
    let url_path = full_path(ctx);
    if !req.uri.path().ends_with('/') {
        return Ok(Outcome::Redirect {
            location: slash_location(&url_path, req.uri.query()),
        });
    }
    for name in &site.config.index {
        if let Some(file) = site
            .root
            .find_file_in(dir, name, site.small_file())
            .map_err(store_error)?
        {
            return file_outcome(site, req, ctx, file);
        }
    }
    if !site.config.dlist {
        return Err(Error::Forbidden("directory listing is disabled".into()));
    }
    let mut entries = site.root.list(dir).await.map_err(store_error)?;
    if !site.config.hidden {
        entries.retain(|e| !crate::hidden::is_hidden(&e.name));
    }
    entries.retain(|e| !crate::hidden::is_placeholder(&site.config, &e.name));
    listing::sort(&mut entries);
    let title = format!("{}/", url_path.trim_end_matches('/'));
    Ok(Outcome::Listing(Listing {
        json: listing::wants_json(&req.headers),
        parent: title != "/",
        title,
        entries,
        upload_form: site.upload_form,
        cache_control: false,
    }))
}

/// The request's decoded path including its mount, without trailing slash
/// (`/` for the root).
pub(crate) fn full_path(ctx: &Ctx) -> String {
    let mut s = String::new();
    for seg in ctx.mount.segments().iter().chain(ctx.path.segments()) {
        s.push('/');
        s.push_str(seg);
    }
    if s.is_empty() {
        s.push('/');
    }
    s
}

/// The same path with a trailing slash (`None` if it cannot be a header), re-encoded from the normalised
/// segments (never the raw target: `//evil.example` must not become a
/// protocol-relative `Location`).
fn slash_location(path: &str, query: Option<&str>) -> Option<HeaderValue> {
    let mut location = String::new();
    for seg in path.split('/').filter(|s| !s.is_empty()) {
        location.push('/');
        location.extend(utf8_percent_encode(seg, listing::SEGMENT));
    }
    location.push('/');
    if let Some(q) = query {
        location.push('?');
        location.push_str(q);
    }
    HeaderValue::from_str(&location).ok()
}

/// A regular file: representation (identity, a precompressed sibling or
/// compressed on the fly — never for range requests), preconditions against
/// it, then ranges for identity.
fn file_outcome(site: &Site, req: &Parts, ctx: &Ctx, file: OpenFile) -> Result<Outcome, Error> {
    let headers = &req.headers;
    // A file read at open time is what it was then, even if it was
    // truncated since the stat: its bytes decide the size.
    let size = file
        .content
        .as_ref()
        .map_or(file.meta.len(), |c| c.len() as u64);
    let name = file
        .rel
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let content_type = site.config.media_types.for_path(&name);
    let compressible = media_type::compressible(content_type);
    let ranged = headers.contains_key(RANGE) && !site.config.norange;

    let choice = if compressible && !ranged {
        precompressed::choose(site, req, &file, &name)?
    } else {
        Choice::Identity
    };
    let identity_tag = site.etags().then(|| ETag::from_meta(&file.meta));
    let (coding, validators) = match &choice {
        Choice::Identity => (
            None,
            Validators {
                etag: identity_tag,
                last_modified: file.meta.modified().ok(),
            },
        ),
        Choice::Sibling(coding, sib) => (
            Some(*coding),
            Validators {
                etag: site
                    .etags()
                    .then(|| ETag::from_meta(&sib.meta).for_coding(coding.token(), false)),
                last_modified: sib.meta.modified().ok(),
            },
        ),
        Choice::OnTheFly(coding) => (
            Some(*coding),
            Validators {
                etag: identity_tag.map(|t| t.for_coding(coding.token(), true)),
                last_modified: file.meta.modified().ok(),
            },
        ),
    };
    let kind = if cache::needs_text(&name) {
        manifest_kind(&name, &file)
    } else {
        cache::kind(&name, b"", b"")
    };
    let rep = Representation {
        content_type: site.config.media_types.header(&name),
        coding,
        validators,
        varies: compressible,
        cache: site.cache_control(&full_path(ctx), &name, kind),
    };
    match conditional::evaluate(&req.method, headers, &rep.validators) {
        Precondition::Proceed => {}
        Precondition::NotModified => return Ok(Outcome::NotModified(rep)),
        Precondition::Failed => return Ok(Outcome::PreconditionFailed),
    }
    let (file, part) = match choice {
        Choice::Sibling(_, sib) => {
            let len = sib
                .content
                .as_ref()
                .map_or(sib.meta.len(), |c| c.len() as u64);
            (sib, Part::Whole { len })
        }
        Choice::OnTheFly(coding) => (Box::new(file), Part::OnTheFly(coding)),
        Choice::Identity => {
            let decision = if ranged && conditional::if_range_allows(headers, &rep.validators) {
                range::decide(headers.get(RANGE), size)
            } else {
                RangeDecision::Full
            };
            let part = match decision {
                RangeDecision::Full => Part::Whole { len: size },
                RangeDecision::Single(range) => Part::Range { range, size },
                RangeDecision::Multi(ranges) => Part::Ranges { ranges, size },
                RangeDecision::Unsatisfiable => {
                    return Ok(Outcome::RangeNotSatisfiable { size });
                }
            };
            (Box::new(file), part)
        }
    };
    Ok(Outcome::File { rep, file, part })
}

/// A manifest's kind for caching, from its text: the start and the end of
/// it (one small read each, from the page cache) when it was not read
/// whole at open time.
fn manifest_kind(name: &str, file: &OpenFile) -> Kind {
    use std::os::unix::fs::FileExt as _;
    if let Some(content) = &file.content {
        return cache::kind(name, content, content);
    }
    const WINDOW: u64 = 4096;
    let len = file.meta.len();
    let read = |offset: u64| {
        let mut buf = vec![0; WINDOW.min(len) as usize];
        let n = file.file.read_at(&mut buf, offset).unwrap_or(0);
        buf.truncate(n);
        buf
    };
    cache::kind(name, &read(0), &read(len.saturating_sub(WINDOW)))
}

/// A file being written: served from its live edge, with the range
/// RFC 8673 allows ([`growing::range`]); no validators yet. Its
/// `Cache-Control` is its kind's (a manifest being written is a live one),
/// but `no-store` to HTTP/1.0, whose end of body cannot tell an aborted
/// upload from a complete one.
fn growing_file(site: &Site, req: &Parts, ctx: &Ctx, live: LiveFile, name: &str) -> Outcome {
    let content_type = site.config.media_types.for_path(name);
    let kind = if cache::needs_text(name) {
        Kind::LiveManifest
    } else {
        cache::kind(name, b"", b"")
    };
    let cache = if req.version <= http::Version::HTTP_10 {
        Some(HeaderValue::from_static("no-store"))
    } else {
        site.cache_control(&full_path(ctx), name, kind)
    };
    Outcome::Growing {
        rep: Representation {
            content_type: site.config.media_types.header(name),
            coding: None,
            validators: Validators {
                etag: None,
                last_modified: None,
            },
            varies: media_type::compressible(content_type),
            cache,
        },
        live,
        range: growing::range(site, req),
    }
}

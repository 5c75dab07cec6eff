//! LL-HLS delivery directives (the HLS specification, 2nd edition,
//! §6.2.5) on a stored media playlist, whoever writes it (an upload, an
//! `-i` input, a local writer):
//!
//! - `_HLS_msn=M[&_HLS_part=N]`, blocking playlist reload: held until the
//!   playlist holds segment M (part N of it) or later, woken by the
//!   playlist's completion in the [`Live`] registry (never polled);
//!   at once if it already does; 400 when M is more than two segments
//!   past the last (or N more than three parts past the last part); 503
//!   after three target durations.
//! - `_HLS_skip=YES|v2`, delta update: the oldest segments replaced by
//!   `EXT-X-SKIP` ([`Playlist::delta`]), only where the playlist offers it
//!   (`CAN-SKIP-UNTIL`; `v2` also skips date ranges where it says
//!   `CAN-SKIP-DATERANGES=YES`).
//! - Preload hints: each playlist completed is read for the parts its
//!   `EXT-X-PRELOAD-HINT` names ([`install`]); a GET for one that does not
//!   exist yet waits for its upload to start (up to three target
//!   durations) and streams it from the live edge.
//!
//! Other query parameters change nothing. A playlist answered here is read
//! whole (at most [`MAX_PLAYLIST`] bytes; a larger one is served as a file,
//! directives ignored).

use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use http::request::Parts;
use http::{HeaderValue, Response};
use httpout_core::{Body, Ctx, Error};
use httpout_store::{Found, Live};

use super::playlist::{Playlist, TooFar};
use crate::cache::{self, Kind};
use crate::error::store_error;
use crate::site::Site;

/// How long a reload waits for a playlist's writer to finish before its
/// first reading (after that, the hold limit applies).
const WRITER_WAIT: std::time::Duration = std::time::Duration::from_secs(6);

/// The largest playlist the directives apply to.
pub(crate) const MAX_PLAYLIST: u64 = 1 << 20;

/// What a playlist request's query asks for.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Directives {
    msn: Option<u64>,
    part: Option<u64>,
    skip: Option<Skip>,
}

/// `_HLS_skip`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Skip {
    /// `YES`: segments only.
    Segments,
    /// `v2`: date ranges too.
    DateRanges,
}

/// The directives of a GET of a playlist; `None` when there are none (or
/// it is not a `.m3u8`): the file is served as it is. A malformed value is
/// 400.
pub(crate) fn directives(req: &Parts, name: &str) -> Result<Option<Directives>, Error> {
    let Some(query) = req.uri.query() else {
        return Ok(None);
    };
    if !name.to_ascii_lowercase().ends_with(".m3u8") || !query.contains("_HLS_") {
        return Ok(None);
    }
    let mut d = Directives::default();
    for pair in query.split('&') {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let number = || {
            value
                .parse::<u64>()
                .map_err(|_| Error::bad_request(format!("{key} must be a decimal integer")))
        };
        match key {
            "_HLS_msn" => d.msn = Some(number()?),
            "_HLS_part" => d.part = Some(number()?),
            "_HLS_skip" => {
                d.skip = Some(match value {
                    "YES" => Skip::Segments,
                    "v2" => Skip::DateRanges,
                    _ => return Err(Error::bad_request("_HLS_skip must be YES or v2")),
                });
            }
            _ => {}
        }
    }
    if d.part.is_some() && d.msn.is_none() {
        return Err(Error::bad_request("_HLS_part needs _HLS_msn"));
    }
    Ok((d != Directives::default()).then_some(d))
}

/// Answers a playlist GET or HEAD with directives; `None`: serve the file
/// as it is (too large, not a media playlist).
pub(crate) async fn answer(
    site: &Site,
    ctx: &Ctx,
    d: &Directives,
    url_path: &str,
) -> Result<Option<Response<Body>>, Error> {
    let path: PathBuf = {
        let rel: PathBuf = ctx.path.segments().iter().collect();
        site.root.path().join(rel)
    };
    let completion = d.msn.map(|_| site.config.live.completion(&path));
    let mut deadline = None;
    // Whether the first playlist read was checked for a request too far
    // ahead (and the hold limit set from it).
    let mut checked = false;
    loop {
        // Enabled before the playlist is read: a completion in between
        // wakes this wait.
        let notified = completion.as_ref().map(|c| c.notified());
        tokio::pin!(notified);
        if let Some(n) = notified.as_mut().as_pin_mut() {
            n.enable();
        }
        // A playlist being written in place: its bytes on disk may be
        // cut. A reload waits for the writer to finish (bounded); anything
        // else is served from the live edge as the file it is.
        if site.config.live.get(&path).is_some() {
            let Some(n) = notified.as_mut().as_pin_mut() else {
                return Ok(None);
            };
            let until = *deadline.get_or_insert_with(|| tokio::time::Instant::now() + WRITER_WAIT);
            tokio::select! {
                () = n => continue,
                () = tokio::time::sleep_until(until) => {
                    return Err(Error::Unavailable("the playlist's writer did not finish".into()));
                }
            }
        }
        let Some(text) = read(site, ctx)? else {
            return Ok(None);
        };
        let Ok(text) = std::str::from_utf8(&text) else {
            return Ok(None);
        };
        let Some(playlist) = Playlist::parse(text) else {
            return Ok(None);
        };
        announce(&site.config.live, &path, &playlist);
        let Some(msn) = d.msn else {
            return Ok(Some(respond(site, url_path, ctx, &playlist, text, d, None)));
        };
        if !checked {
            checked = true;
            match playlist.too_far(msn, d.part) {
                Some(TooFar::Segment) => {
                    return Err(Error::bad_request(
                        "_HLS_msn is more than two segments past the playlist's last",
                    ));
                }
                Some(TooFar::Part) => {
                    return Err(Error::bad_request(
                        "_HLS_part is more than three parts past the playlist's last",
                    ));
                }
                None => {}
            }
            deadline = Some(tokio::time::Instant::now() + playlist.hold_limit());
        }
        if playlist.holds(msn, d.part) {
            let kind = Kind::BlockedReload(playlist.target);
            return Ok(Some(respond(
                site,
                url_path,
                ctx,
                &playlist,
                text,
                d,
                Some(kind),
            )));
        }
        let until = deadline.expect("set above");
        tokio::select! {
            () = async { notified.as_mut().as_pin_mut().expect("msn given").await } => {}
            () = tokio::time::sleep_until(until) => {
                return Err(Error::Unavailable(
                    "the playlist did not reach _HLS_msn/_HLS_part in three target durations"
                        .into(),
                ));
            }
        }
    }
}

/// The playlist's bytes as stored (the last complete version); `None` if
/// it is larger than [`MAX_PLAYLIST`]; 404 if there is none.
fn read(site: &Site, ctx: &Ctx) -> Result<Option<Bytes>, Error> {
    match site
        .root
        .find(ctx.path.segments(), MAX_PLAYLIST)
        .map_err(store_error)?
    {
        Found::File(file) => Ok(file.content),
        Found::Dir { .. } => Err(Error::NotFound),
    }
}

/// The playlist (or its delta update) as the response.
fn respond(
    site: &Site,
    url_path: &str,
    ctx: &Ctx,
    playlist: &Playlist<'_>,
    text: &str,
    d: &Directives,
    blocked: Option<Kind>,
) -> Response<Body> {
    let body = d
        .skip
        .and_then(|s| playlist.delta(s == Skip::DateRanges))
        .unwrap_or_else(|| text.to_owned());
    let name = ctx.path.segments().last().map_or("", String::as_str);
    let kind = blocked.unwrap_or(if playlist.ended {
        Kind::Other
    } else {
        Kind::LiveManifest
    });
    let mut res = Response::new(Body::empty());
    let h = res.headers_mut();
    h.insert(CONTENT_TYPE, site.config.media_types.header(name));
    h.insert(CONTENT_LENGTH, HeaderValue::from(body.len()));
    if let Some(cc) = site.cache_control(url_path, name, kind) {
        cache::set(h, cc);
    }
    *res.body_mut() = Body::full(body);
    res
}

/// Announces the parts `playlist` (at `path`) hints at, for three target
/// durations: a GET for one waits for it.
fn announce(live: &Live, path: &Path, playlist: &Playlist<'_>) {
    let Some(dir) = path.parent() else {
        return;
    };
    for uri in &playlist.hints {
        if let Some(hinted) = beside(dir, uri) {
            live.announce(hinted, playlist.hold_limit());
        }
    }
}

/// The file a relative URI in a playlist in `dir` names; `None` for
/// absolute URIs, URLs, queries and anything climbing out of `dir`'s tree.
fn beside(dir: &Path, uri: &str) -> Option<PathBuf> {
    if uri.contains("://") || uri.starts_with('/') || uri.contains(['?', '#', '%', '\\']) {
        return None;
    }
    let rel = Path::new(uri);
    if !rel.components().all(|c| matches!(c, Component::Normal(_))) {
        return None;
    }
    Some(dir.join(rel))
}

/// Reads every media playlist the registry sees completed (up to
/// [`MAX_PLAYLIST`] bytes) for the parts its preload hints announce.
/// Runs on the writer's task before the completion is announced, so a
/// player that gets the new playlist finds its hints known.
pub(crate) fn install(live: &Arc<Live>) {
    let weak = Arc::downgrade(live);
    live.on_complete(move |path| {
        if !path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("m3u8"))
        {
            return;
        }
        let Some(live) = weak.upgrade() else {
            return;
        };
        let mut text = String::new();
        let read = std::fs::File::open(path).and_then(|f| {
            use std::io::Read as _;
            f.take(MAX_PLAYLIST).read_to_string(&mut text)
        });
        if read.is_ok() {
            if let Some(playlist) = Playlist::parse(&text) {
                announce(&live, path, &playlist);
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(uri: &str) -> Parts {
        http::Request::get(uri).body(()).unwrap().into_parts().0
    }

    #[test]
    fn directives_are_read_from_the_query() {
        let d = directives(&parts("/a.m3u8?_HLS_msn=12&_HLS_part=3&x=1"), "a.m3u8").unwrap();
        assert_eq!(
            d,
            Some(Directives {
                msn: Some(12),
                part: Some(3),
                skip: None
            })
        );
        let d = directives(&parts("/a.m3u8?_HLS_skip=v2"), "a.m3u8").unwrap();
        assert_eq!(d.unwrap().skip, Some(Skip::DateRanges));
        // Other parameters, other files: served as they are.
        assert_eq!(
            directives(&parts("/a.m3u8?token=1"), "a.m3u8").unwrap(),
            None
        );
        assert_eq!(
            directives(&parts("/a.ts?_HLS_msn=1"), "a.ts").unwrap(),
            None
        );
        for bad in [
            "/a.m3u8?_HLS_msn=x",
            "/a.m3u8?_HLS_msn=-1",
            "/a.m3u8?_HLS_part=1",
            "/a.m3u8?_HLS_skip=no",
        ] {
            assert!(
                matches!(directives(&parts(bad), "a.m3u8"), Err(Error::BadRequest(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn hinted_names_stay_beside_their_playlist() {
        let dir = Path::new("/srv/live");
        assert_eq!(
            beside(dir, "v/seg3.part1.m4s"),
            Some(PathBuf::from("/srv/live/v/seg3.part1.m4s"))
        );
        for bad in [
            "../x.m4s",
            "/x.m4s",
            "http://a/x.m4s",
            "x.m4s?t=1",
            "%2e%2e/x",
        ] {
            assert_eq!(beside(dir, bad), None, "{bad}");
        }
    }
}

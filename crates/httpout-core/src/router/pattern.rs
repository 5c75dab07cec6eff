//! Path patterns (`/users/{id}`) and the captures they give ([`Params`]).

use http::Request;

use crate::path::SafePath;

/// The captures of the route that matched: a pattern's `{name}` segments,
/// a regular expression's groups (named ones by name, the others by
/// number). The [`Router`](crate::Router) puts them in the request's
/// extensions; handlers read them with [`Params::of`].
///
/// ```
/// use httpout_core::router::Params;
/// use httpout_core::{Body, Ctx, Error, Router};
/// use http::{Request, Response};
///
/// let show = |req: Request<Body>, _ctx: Ctx| async move {
///     let id = Params::of(&req).get("id").unwrap_or_default().to_owned();
///     Ok::<_, Error>(Response::new(Body::full(format!("user {id}\n"))))
/// };
/// let router = Router::new().route("/users/{id}", show);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Params(Vec<(String, String)>);

/// The captures of a request that matched none (an empty list).
static NO_PARAMS: Params = Params(Vec::new());

impl Params {
    /// The captures of `req`: empty unless a route with captures matched.
    ///
    /// ```
    /// use httpout_core::router::Params;
    /// let req = http::Request::new(());
    /// assert!(Params::of(&req).is_empty());
    /// ```
    pub fn of<B>(req: &Request<B>) -> &Self {
        req.extensions().get::<Self>().unwrap_or(&NO_PARAMS)
    }

    /// The value captured as `name` (decoded: a pattern matches the
    /// segments of the [`SafePath`]).
    ///
    /// ```
    /// use httpout_core::router::Params;
    /// use httpout_core::{Body, Ctx, Error, Router};
    /// use http::{Request, Response};
    ///
    /// let show = |req: Request<Body>, _ctx: Ctx| async move {
    ///     let id = Params::of(&req).get("id").unwrap_or_default().to_owned();
    ///     Ok::<_, Error>(Response::new(Body::full(format!("user {id}\n"))))
    /// };
    /// let router = Router::new().route("/users/{id}", show);
    /// // Outside a matched route nothing is captured.
    /// assert_eq!(Params::default().get("id"), None);
    /// ```
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every capture, in the order of the route's pattern.
    ///
    /// ```
    /// use httpout_core::router::Params;
    /// use httpout_core::{Body, Ctx, Error, Router};
    /// use http::{Request, Response};
    ///
    /// let dump = |req: Request<Body>, _ctx: Ctx| async move {
    ///     let lines: String = Params::of(&req).iter().map(|(name, value)| format!("{name}={value}\n")).collect();
    ///     Ok::<_, Error>(Response::new(Body::full(lines)))
    /// };
    /// let router = Router::new().route("/users/{id}/files/{name}", dump);
    /// assert_eq!(Params::default().iter().count(), 0);
    /// ```
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }

    /// Whether nothing was captured.
    ///
    /// ```
    /// use httpout_core::router::Params;
    ///
    /// let req = http::Request::get("/users/7").body(()).unwrap();
    /// // No router has matched `req`: it has no captures.
    /// assert!(Params::of(&req).is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub(super) fn push(&mut self, name: String, value: String) {
        self.0.push((name, value));
    }
}

/// One segment of a pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Literal(String),
    Capture(String),
}

/// A path pattern: literal segments and `{name}` segments, each capturing
/// one whole segment.
#[derive(Debug, Clone)]
pub(super) struct Pattern {
    segments: Vec<Segment>,
}

impl Pattern {
    /// Parses `text`: `None` when it has no capture (an exact path);
    /// `Err` names what is wrong.
    pub(super) fn parse(text: &str) -> Result<Option<Self>, String> {
        if !text.starts_with('/') {
            return Err(format!("route {text:?} must start with /"));
        }
        let mut segments = Vec::new();
        for raw in text.split('/').filter(|s| !s.is_empty()) {
            if let Some(name) = raw.strip_prefix('{').and_then(|r| r.strip_suffix('}')) {
                let valid =
                    !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
                if !valid {
                    return Err(format!("route {text:?}: bad capture name {name:?}"));
                }
                if segments.contains(&Segment::Capture(name.to_owned())) {
                    return Err(format!("route {text:?}: {name:?} captured twice"));
                }
                segments.push(Segment::Capture(name.to_owned()));
            } else if raw.contains(['{', '}']) {
                return Err(format!(
                    "route {text:?}: a capture must be a whole segment, as in /{{name}}/"
                ));
            } else {
                let decoded = SafePath::parse(&format!("/{raw}"))
                    .map_err(|e| format!("route {text:?}: {e}"))?;
                match decoded.segments() {
                    [one] => segments.push(Segment::Literal(one.clone())),
                    _ => return Err(format!("route {text:?}: bad segment {raw:?}")),
                }
            }
        }
        if segments.iter().all(|s| matches!(s, Segment::Literal(_))) {
            return Ok(None);
        }
        Ok(Some(Self { segments }))
    }

    /// The captures when `path` matches: as many segments, each literal
    /// equal.
    pub(super) fn matches(&self, path: &SafePath) -> Option<Params> {
        let given = path.segments();
        if given.len() != self.segments.len() {
            return None;
        }
        let mut params = Params::default();
        for (seg, value) in self.segments.iter().zip(given) {
            match seg {
                Segment::Literal(l) if l == value => {}
                Segment::Literal(_) => return None,
                Segment::Capture(name) => params.push(name.clone(), value.clone()),
            }
        }
        Some(params)
    }

    /// The order among patterns: a literal beats a capture at the first
    /// position where two differ (`/users/{id}` before `/{kind}/new`).
    pub(super) fn specificity(&self) -> Vec<bool> {
        self.segments
            .iter()
            .map(|s| matches!(s, Segment::Capture(_)))
            .collect()
    }

    /// Whether two patterns match the same paths (their names aside).
    pub(super) fn same_shape(&self, other: &Self) -> bool {
        self.segments.len() == other.segments.len()
            && self
                .segments
                .iter()
                .zip(&other.segments)
                .all(|pair| match pair {
                    (Segment::Literal(a), Segment::Literal(b)) => a == b,
                    (Segment::Capture(_), Segment::Capture(_)) => true,
                    _ => false,
                })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(p: &str) -> SafePath {
        SafePath::parse(p).unwrap()
    }

    #[test]
    fn captures_whole_decoded_segments() {
        let p = Pattern::parse("/users/{id}/files/{name}").unwrap().unwrap();
        let params = p.matches(&path("/users/42/files/a%20b.txt")).unwrap();
        assert_eq!(params.get("id"), Some("42"));
        assert_eq!(params.get("name"), Some("a b.txt"));
        assert!(p.matches(&path("/users/42/files")).is_none());
        assert!(p.matches(&path("/users/42/files/a/b")).is_none());
        assert!(p.matches(&path("/users/42/docs/a")).is_none());
    }

    #[test]
    fn exact_paths_and_bad_patterns() {
        assert!(Pattern::parse("/a/b").unwrap().is_none());
        for bad in ["a/{x}", "/a{x}", "/{}", "/{x}/{x}", "/{a-b}", "/%zz/{x}"] {
            assert!(Pattern::parse(bad).is_err(), "{bad}");
        }
    }
}

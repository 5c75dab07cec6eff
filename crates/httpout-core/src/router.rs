//! The mount table: the one place where a request is given to a mode.

use std::sync::Arc;

use http::Request;

use crate::body::Body;
use crate::error::Error;
use crate::handler::{Allow, Ctx, Handler, HandlerFuture};
use crate::path::SafePath;

/// Maps the longest matching mount prefix (whole segments) to a handler.
/// A request under no mount gets a 404.
#[derive(Clone, Default)]
pub struct Router {
    /// Mounts, longest prefix first.
    mounts: Vec<(SafePath, Arc<dyn Handler>)>,
}

impl std::fmt::Debug for Router {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.mounts.iter().map(|(m, _)| m.to_string()))
            .finish()
    }
}

impl Router {
    /// An empty router: every request is a 404.
    pub fn new() -> Self {
        Self::default()
    }

    /// Mounts `handler` at `prefix` (`/`, `/live`, ...). A later mount at the
    /// same prefix replaces the earlier one.
    ///
    /// # Panics
    /// If `prefix` is not a valid absolute path (a programming error).
    pub fn mount(self, prefix: &str, handler: impl Handler) -> Self {
        let prefix = SafePath::parse(prefix).expect("mount prefix must be a plain absolute path");
        self.mount_path(prefix, handler)
    }

    /// Mounts `handler` at a prefix given as a [`SafePath`]; never panics:
    /// build the prefix with [`SafePath::from_segments`] from names that may
    /// hold `%`, spaces or anything else a directory name can.
    pub fn mount_path(mut self, prefix: SafePath, handler: impl Handler) -> Self {
        self.mounts
            .retain(|(m, _)| m.segments() != prefix.segments());
        self.mounts.push((prefix, Arc::new(handler)));
        self.mounts
            .sort_by_key(|(m, _)| std::cmp::Reverse(m.segments().len()));
        self
    }

    /// The mount prefixes, longest first.
    pub fn mounts(&self) -> impl Iterator<Item = &SafePath> {
        self.mounts.iter().map(|(m, _)| m)
    }
}

impl Router {
    /// The handler for `path` and the path below its mount.
    fn find(&self, path: &SafePath) -> Option<(&SafePath, &Arc<dyn Handler>, SafePath)> {
        if path.is_asterisk() {
            // `OPTIONS *` concerns the server, not a mount: the root mount's.
            return self
                .mounts
                .iter()
                .find(|(m, _)| m.is_root())
                .map(|(m, h)| (m, h, path.clone()));
        }
        self.mounts
            .iter()
            .find_map(|(m, h)| path.strip_prefix(m).map(|rest| (m, h, rest)))
    }
}

impl Handler for Router {
    fn allow(&self, path: &SafePath) -> Allow {
        // Under no mount: every method gets the router's 404.
        self.find(path)
            .map_or_else(Allow::any, |(_, h, rest)| h.allow(&rest))
    }

    fn handle(&self, req: Request<Body>, mut ctx: Ctx) -> HandlerFuture {
        match self.find(&ctx.path) {
            Some((mount, handler, rest)) => {
                ctx.mount = mount.clone();
                ctx.path = rest;
                handler.handle(req, ctx)
            }
            None => Box::pin(async { Err(Error::NotFound) }),
        }
    }
}

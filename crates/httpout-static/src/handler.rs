//! Method dispatch for the static server: GET/HEAD → read, PUT/POST →
//! upload, DELETE → delete. The methods a mount accepts are declared
//! ([`Handler::allow`]); the engine answers OPTIONS, CORS preflights, 405
//! and 501 from them, and drops HEAD bodies.

use std::sync::Arc;

use http::{Method, Request};
use httpout_core::{Allow, Body, Ctx, Error, Handler, HandlerFuture, SafePath};

use crate::{Reads, StaticHandler, mount_list, read, write};

impl StaticHandler {
    /// The methods this mount accepts; where it writes, `OPTIONS` also
    /// says the resumable-upload draft's `Upload-Limit` (a PUT or POST
    /// there may create one).
    fn methods(&self) -> Allow {
        use Method as M;
        let Some(w) = &self.write else {
            return Allow::only([M::GET, M::HEAD, M::OPTIONS]);
        };
        let allow = match self.reads {
            Reads::Nothing => Allow::only([M::PUT, M::POST, M::PATCH, M::DELETE, M::OPTIONS]),
            _ => Allow::only([
                M::GET,
                M::HEAD,
                M::PUT,
                M::POST,
                M::PATCH,
                M::DELETE,
                M::OPTIONS,
            ]),
        };
        allow.with_options_header(
            write::resumable::headers::UPLOAD_LIMIT,
            w.upload_limit.clone(),
        )
    }
}

impl Handler for StaticHandler {
    fn allow(&self, _path: &SafePath) -> Allow {
        self.methods()
    }

    fn handle(&self, req: Request<Body>, ctx: Ctx) -> HandlerFuture {
        let this = self.clone();
        let (req, body) = req.into_parts();
        Box::pin(async move {
            let (method, path) = (req.method.clone(), ctx.path.clone());
            let answer = match (&req.method, &this.reads, &this.write) {
                (&Method::GET | &Method::HEAD, Reads::Dir(site), _) => {
                    read::get(site, &req, &ctx).await
                }
                (&Method::GET | &Method::HEAD, Reads::Mounts(names), _) => {
                    if ctx.path.is_root() {
                        mount_list(&this.config, &req, names)
                    } else {
                        Err(Error::NotFound)
                    }
                }
                (&Method::PUT | &Method::POST | &Method::PATCH, _, Some(w)) => {
                    // In a task of its own: an upload whose body has fully
                    // arrived is committed even if the client closes the
                    // connection without waiting for the answer (ffmpeg's
                    // DASH output does).
                    let (w, target) = (Arc::clone(w), w.target(&ctx));
                    let dir_url = req.uri.path().ends_with('/');
                    let metrics = ctx.metrics;
                    let user = ctx.user;
                    // Decoded, as the uploads endpoint's `name` is.
                    let url_path: String = ctx
                        .mount
                        .segments()
                        .iter()
                        .chain(ctx.path.segments())
                        .map(|s| format!("/{s}"))
                        .collect();
                    tokio::spawn(async move {
                        let who = write::Uploader {
                            user: user.as_deref(),
                            url_path: &url_path,
                        };
                        write::upload(&w, &req, body, &target, dir_url, who, &metrics).await
                    })
                    .await
                    .map_err(|e| Error::Internal(Box::new(e)))?
                }
                (&Method::DELETE, _, Some(w)) => write::delete(w, &w.target(&ctx)),
                // Called directly, not through the engine: what it would answer.
                _ => Err(this.methods().refuse(&req.method)),
            };
            // The `FILE` zone of Net::HTTPServer: what a file request became.
            match &answer {
                Ok(res) => tracing::debug!(
                    target: "httpout::static",
                    "{method} {path}: {}",
                    res.status().as_u16()
                ),
                Err(e) => tracing::debug!(
                    target: "httpout::static",
                    "{method} {path}: {}: {e}",
                    e.status().as_u16()
                ),
            }
            answer
        })
    }
}

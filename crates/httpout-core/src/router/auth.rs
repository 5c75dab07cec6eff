//! Authorisation per route: Net::HTTPServer's `RegisterAuth`, over the
//! engine's users and credentials ([`Access`]).

use std::net::IpAddr;
use std::sync::Arc;

use http::request::Parts;

use crate::auth::Access;
use crate::error::Error;
use crate::path::SafePath;

/// The decision of a [`RouteAuth`] for a signed-in user and a path.
type Decide = dyn Fn(&str, &SafePath) -> bool + Send + Sync;

/// Who may use the routes under a prefix: users sign in through an
/// [`Access`] (its users file, Basic and Digest, client certificates,
/// failure limits), then a callback allows or denies the user for the
/// path. Attached with [`Router::auth`](crate::Router::auth), which
/// documents the prefix rule.
#[derive(Clone)]
pub(super) struct RouteAuth {
    access: Arc<Access>,
    pub(super) decide: Arc<Decide>,
}

impl std::fmt::Debug for RouteAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RouteAuth").finish_non_exhaustive()
    }
}

impl RouteAuth {
    /// Users sign in through `access`; `decide(user, path)` allows (true)
    /// or denies (false, a 403) a signed-in user the request's whole
    /// decoded path.
    pub(super) fn new(
        access: Arc<Access>,
        decide: impl Fn(&str, &SafePath) -> bool + Send + Sync + 'static,
    ) -> Self {
        Self {
            access,
            decide: Arc::new(decide),
        }
    }

    /// The user allowed to make this request: `known` (the user the
    /// engine's rules already signed in) or the one its credentials name;
    /// 401 with the challenges without valid credentials, 403 when
    /// denied.
    pub(super) async fn admit(
        &self,
        req: &Parts,
        path: &SafePath,
        peer: Option<IpAddr>,
        known: Option<String>,
    ) -> Result<String, Error> {
        let user = match known {
            Some(user) => user,
            None => self.access.sign_in(req, peer).await?,
        };
        if (self.decide)(&user, path) {
            Ok(user)
        } else {
            Err(Error::Forbidden(
                format!("{user} may not use {path}").into(),
            ))
        }
    }
}

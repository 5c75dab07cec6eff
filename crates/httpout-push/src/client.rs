//! The HTTP client: hyper's pooled client over rustls (HTTP/1.1 and HTTP/2
//! by ALPN), system roots plus `--cafile`, connections kept alive and
//! reused between uploads.

use std::path::Path;
use std::time::Duration;

use http::header::{CONTENT_TYPE, USER_AGENT};
use http::{HeaderName, HeaderValue, Method, Request, StatusCode, Uri};
use http_body_util::BodyExt as _;
use httpout_core::Body;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client as Hyper;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;

use crate::error::PushError;

/// How long connecting to the origin may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// The start of an error answer kept for the report.
const MESSAGE_MAX: usize = 300;

/// Whether an I/O error is a failed TLS handshake: tokio-rustls reports
/// those as `InvalidData`, which hyper's connector may wrap once more.
fn handshake_failed(e: &std::io::Error) -> bool {
    e.kind() == std::io::ErrorKind::InvalidData
        || e.get_ref()
            .and_then(|inner| inner.downcast_ref::<std::io::Error>())
            .is_some_and(handshake_failed)
}

/// Uploads bodies to an origin.
#[derive(Debug, Clone)]
pub(crate) struct Client {
    inner: Hyper<HttpsConnector<HttpConnector>, Body>,
    method: Method,
    user_agent: HeaderValue,
    headers: Vec<(HeaderName, HeaderValue)>,
}

impl Client {
    /// A client sending `method`, with system roots and `cafile`'s.
    pub(crate) fn new(
        method: Method,
        user_agent: &str,
        headers: Vec<(HeaderName, HeaderValue)>,
        cafile: Option<&Path>,
    ) -> Result<Self, PushError> {
        let mut roots = rustls::RootCertStore::empty();
        roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
        if let Some(path) = cafile {
            let bad = |e: &dyn std::fmt::Display| {
                PushError::Config(format!(
                    "invalid value '{}' for --cafile: {e}",
                    path.display()
                ))
            };
            let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
                .map_err(|e| bad(&e))?
                .collect::<Result<_, _>>()
                .map_err(|e| bad(&e))?;
            if certs.is_empty() {
                return Err(bad(&"no certificate in the file"));
            }
            for cert in certs {
                roots.add(cert).map_err(|e| bad(&e))?;
            }
        }
        let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| PushError::Config(format!("TLS: {e}")))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_nodelay(true);
        http.set_connect_timeout(Some(CONNECT_TIMEOUT));
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .enable_http2()
            .wrap_connector(http);
        let inner = Hyper::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .build(https);
        let user_agent = HeaderValue::from_str(user_agent).map_err(|_| {
            PushError::Config(format!(
                "invalid value '{user_agent}' for --user_agent: expected a header value"
            ))
        })?;
        Ok(Self {
            inner,
            method,
            user_agent,
            headers,
        })
    }

    /// Sends `body` to `uri`; a 2xx answer is success, anything else an
    /// error carrying the start of the origin's answer.
    pub(crate) async fn upload(
        &self,
        uri: &Uri,
        body: Body,
        content_type: Option<&str>,
    ) -> Result<StatusCode, PushError> {
        let mut req = Request::builder()
            .method(self.method.clone())
            .uri(uri.clone())
            .header(USER_AGENT, self.user_agent.clone());
        if let Some(ct) = content_type.and_then(|c| HeaderValue::from_str(c).ok()) {
            req = req.header(CONTENT_TYPE, ct);
        }
        for (name, value) in &self.headers {
            req = req.header(name, value);
        }
        let req = req
            .body(body)
            .map_err(|e| PushError::Config(format!("{uri}: {e}")))?;
        self.send(uri, req).await
    }

    /// Deletes `uri` at the origin.
    pub(crate) async fn delete(&self, uri: &Uri) -> Result<StatusCode, PushError> {
        let req = Request::builder()
            .method(Method::DELETE)
            .uri(uri.clone())
            .header(USER_AGENT, self.user_agent.clone())
            .body(Body::empty())
            .map_err(|e| PushError::Config(format!("{uri}: {e}")))?;
        self.send(uri, req).await
    }

    async fn send(&self, uri: &Uri, req: Request<Body>) -> Result<StatusCode, PushError> {
        let network = |e: &dyn std::error::Error| {
            let mut reason = e.to_string();
            let mut tls = false;
            let mut source = e.source();
            while let Some(s) = source {
                reason.push_str(&format!(": {s}"));
                // A TLS failure (an untrusted certificate) will not go away
                // by trying again.
                tls |= s
                    .downcast_ref::<std::io::Error>()
                    .is_some_and(handshake_failed);
                source = s.source();
            }
            let url = uri.to_string();
            if tls {
                PushError::Tls { url, reason }
            } else {
                PushError::Network { url, reason }
            }
        };
        let res = self.inner.request(req).await.map_err(|e| network(&e))?;
        let status = res.status();
        let mut body = res.into_body();
        let mut message = Vec::new();
        while let Some(frame) = body.frame().await {
            let Ok(frame) = frame else { break };
            if let Ok(data) = frame.into_data() {
                if message.len() < MESSAGE_MAX {
                    message.extend_from_slice(&data);
                }
            }
        }
        if status.is_success() {
            return Ok(status);
        }
        message.truncate(MESSAGE_MAX);
        Err(PushError::Status {
            url: uri.to_string(),
            status,
            message: String::from_utf8_lossy(&message).trim().to_owned(),
        })
    }
}

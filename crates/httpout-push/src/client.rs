//! The HTTP client: hyper's pooled client over rustls (HTTP/1.1 and HTTP/2
//! by ALPN), system roots plus `--cafile`, connections kept alive and
//! reused between uploads. A certificate of `--cafile` that the server
//! presents as its own is trusted as is ([`Pinned`]): a self-signed
//! certificate made with `openssl req -x509` is a CA certificate, which
//! WebPKI refuses as a server's (`CaUsedAsEndEntity`).

use std::path::Path;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::header::{CONTENT_TYPE, USER_AGENT};
use http::{HeaderName, HeaderValue, Method, Request, StatusCode, Uri};
use http_body::Frame;
use http_body_util::BodyExt as _;
use httpout_core::Body;
use httpout_core::BoxError;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client as Hyper;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::{DigitallySignedStruct, SignatureScheme};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};

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

/// The TLS settings: the system's roots, plus `cafile`'s certificates as
/// roots and pinned.
pub(crate) fn tls_config(cafile: Option<&Path>) -> Result<rustls::ClientConfig, PushError> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(|e| PushError::Config(format!("TLS: {e}")))?;
    let Some(path) = cafile else {
        return Ok(builder.with_root_certificates(roots).with_no_client_auth());
    };
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
    for cert in &certs {
        roots.add(cert.clone()).map_err(|e| bad(&e))?;
    }
    let webpki = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider)
        .build()
        .map_err(|e| bad(&e))?;
    Ok(builder
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(Pinned {
            certs,
            inner: webpki,
        }))
        .with_no_client_auth())
}

/// A server certificate that is exactly one of `--cafile`'s is trusted,
/// whatever name it was reached by (the user named this very certificate);
/// any other is verified by WebPKI against the system's roots and
/// `--cafile`'s. Handshake signatures are always checked.
#[derive(Debug)]
struct Pinned {
    certs: Vec<CertificateDer<'static>>,
    inner: Arc<WebPkiServerVerifier>,
}

impl ServerCertVerifier for Pinned {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if self.certs.iter().any(|c| c.as_ref() == end_entity.as_ref()) {
            return Ok(ServerCertVerified::assertion());
        }
        self.inner
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// When a request's body last moved, and whether it waits for its input.
#[derive(Debug)]
struct Progress {
    at: tokio::time::Instant,
    /// The body's input has nothing yet: the origin is not the one late.
    waiting_input: bool,
}

/// A request body that records its [`Progress`] each time hyper polls it.
struct Watched {
    inner: Body,
    progress: Arc<Mutex<Progress>>,
}

impl http_body::Body for Watched {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        let mut p = self.progress.lock().unwrap_or_else(PoisonError::into_inner);
        p.at = tokio::time::Instant::now();
        p.waiting_input = polled.is_pending();
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

/// Uploads bodies to an origin.
#[derive(Debug, Clone)]
pub(crate) struct Client {
    inner: Hyper<HttpsConnector<HttpConnector>, Body>,
    method: Method,
    user_agent: HeaderValue,
    headers: Vec<(HeaderName, HeaderValue)>,
    /// `--timeout`: how long the origin may leave a request without
    /// progress (taking body bytes, or answering once it has them all), and
    /// each read of its answer.
    timeout: Option<Duration>,
}

impl Client {
    /// A client sending `method`, with system roots and `cafile`'s, giving
    /// the origin `timeout` for each step of an answer.
    #[cfg(test)]
    pub(crate) fn new(
        method: Method,
        user_agent: &str,
        headers: Vec<(HeaderName, HeaderValue)>,
        cafile: Option<&Path>,
        timeout: Option<Duration>,
    ) -> Result<Self, PushError> {
        Self::with_tls(method, user_agent, headers, tls_config(cafile)?, timeout)
    }

    /// [`Client::new`] with TLS settings made by [`tls_config`] once for
    /// several clients (one per destination: each its own connections).
    pub(crate) fn with_tls(
        method: Method,
        user_agent: &str,
        headers: Vec<(HeaderName, HeaderValue)>,
        tls: rustls::ClientConfig,
        timeout: Option<Duration>,
    ) -> Result<Self, PushError> {
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
            timeout,
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
        let progress = Arc::new(Mutex::new(Progress {
            at: tokio::time::Instant::now(),
            waiting_input: false,
        }));
        let req = req.map(|body| {
            Body::new(Watched {
                inner: body,
                progress: Arc::clone(&progress),
            })
        });
        let late = || PushError::Network {
            url: uri.to_string(),
            reason: format!(
                "no answer within {} s (--timeout)",
                self.timeout.unwrap_or_default().as_secs()
            ),
        };
        let res = self.inner.request(req);
        let res = match self.timeout {
            None => res.await,
            Some(limit) => {
                tokio::pin!(res);
                loop {
                    let deadline = {
                        let p = progress.lock().unwrap_or_else(PoisonError::into_inner);
                        // A body waiting for its input (a growing file, a
                        // stream) is not the origin's delay.
                        (!p.waiting_input).then_some(p.at + limit)
                    };
                    let check = deadline.unwrap_or_else(|| tokio::time::Instant::now() + limit);
                    tokio::select! {
                        done = &mut res => break done,
                        () = tokio::time::sleep_until(check) => {}
                    }
                    let p = progress.lock().unwrap_or_else(PoisonError::into_inner);
                    if !p.waiting_input && p.at + limit <= tokio::time::Instant::now() {
                        return Err(late());
                    }
                }
            }
        }
        .map_err(|e| network(&e))?;
        let status = res.status();
        let mut body = res.into_body();
        let mut message = Vec::new();
        loop {
            let Some(frame) = httpout_core::timeout::within(self.timeout, body.frame()).await
            else {
                return Err(late());
            };
            let Some(Ok(frame)) = frame else { break };
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

//! TLS for `https://` listeners: rustls with PEM files, ALPN `h2` and
//! `http/1.1`, client certificates (`--ca`), and reload without dropping
//! connections.
//!
//! PEM is read with rustls-pki-types' `PemObject` (rustls-pemfile is archived,
//! RUSTSEC-2025-0134). The certificate, the key and the client CAs are read
//! together into one rustls configuration, which [`Tls::reload`] swaps for
//! new handshakes while established connections keep theirs.
//!
//! With a CA bundle, rustls' `WebPkiClientVerifier` checks client
//! certificates: required (a handshake without a valid one fails), or with
//! `optional` asked for and checked when given, an absent one allowed. The
//! user a verified certificate names is read by
//! [`ClientCert::of`](crate::auth::ClientCert::of) after the handshake.

use std::path::Path;
use std::sync::Arc;

use rustls::RootCertStore;
use rustls::crypto::CryptoProvider;
use rustls::server::{ClientHello, ResolvesServerCert, WebPkiClientVerifier};
use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::TlsAcceptor;

use crate::config::{ClientCa, TlsFiles};
use crate::current::Current;
use crate::error::StartError;

/// TLS state of a server: the configuration of the moment.
pub(crate) struct Tls {
    provider: Arc<CryptoProvider>,
    current: Current<Loaded>,
}

impl std::fmt::Debug for Tls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tls")
            .field("files", &self.current.load().files)
            .finish_non_exhaustive()
    }
}

/// Hands its certificate to every handshake.
#[derive(Debug)]
struct Resolver(Arc<CertifiedKey>);

/// The rustls configuration and the files it was read from, replaced
/// together.
pub(crate) struct Loaded {
    files: TlsFiles,
    config: Arc<rustls::ServerConfig>,
}

impl ResolvesServerCert for Resolver {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(Arc::clone(&self.0))
    }
}

impl Tls {
    /// Loads the PEM files and builds the configuration.
    pub(crate) fn load(files: &TlsFiles) -> Result<Self, StartError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let loaded = read(files, &provider)?;
        Ok(Self {
            provider,
            current: Current::new(loaded),
        })
    }

    /// The acceptor for a new handshake, with the configuration of the
    /// moment.
    pub(crate) fn acceptor(&self) -> TlsAcceptor {
        TlsAcceptor::from(Arc::clone(&self.current.load().config))
    }

    /// Re-reads the PEM files; on success new handshakes use the new
    /// certificate and CAs, on failure the old ones stay in use.
    pub(crate) fn reload(&self) -> Result<(), StartError> {
        let files = self.current.load().files.clone();
        self.reload_from(&files)
    }

    /// Reads `files` (which may be other paths than before); on success
    /// new handshakes use them and later [`Tls::reload`]s read them, on
    /// failure nothing changes.
    pub(crate) fn reload_from(&self, files: &TlsFiles) -> Result<(), StartError> {
        let loaded = self.read(files)?;
        self.use_loaded(loaded);
        Ok(())
    }

    /// Reads `files` without using them yet (see [`Tls::use_loaded`]).
    pub(crate) fn read(&self, files: &TlsFiles) -> Result<Arc<Loaded>, StartError> {
        read(files, &self.provider)
    }

    /// New handshakes use `loaded` (read by [`Tls::read`]).
    pub(crate) fn use_loaded(&self, loaded: Arc<Loaded>) {
        self.current.store(loaded);
    }
}

/// Reads `files` into a rustls configuration.
fn read(files: &TlsFiles, provider: &Arc<CryptoProvider>) -> Result<Arc<Loaded>, StartError> {
    let key = load_key(files, provider)?;
    let builder = rustls::ServerConfig::builder_with_provider(Arc::clone(provider))
        .with_safe_default_protocol_versions()
        .map_err(|e| StartError::Config(format!("TLS set-up failed: {e}")))?;
    let builder = match &files.ca {
        Some(ca) => builder.with_client_cert_verifier(client_verifier(ca, provider)?),
        None => builder.with_no_client_auth(),
    };
    let mut config = builder.with_cert_resolver(Arc::new(Resolver(key)));
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(Loaded {
        files: files.clone(),
        config: Arc::new(config),
    }))
}

/// The verifier of client certificates signed by the CAs of `ca`.
fn client_verifier(
    ca: &ClientCa,
    provider: &Arc<CryptoProvider>,
) -> Result<Arc<dyn rustls::server::danger::ClientCertVerifier>, StartError> {
    let fail = |reason: String| StartError::Tls {
        option: "--ca",
        path: ca.file.clone(),
        reason,
    };
    let certs = CertificateDer::pem_file_iter(&ca.file)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|e| fail(format!("expected PEM CA certificates ({e})")))?;
    if certs.is_empty() {
        return Err(fail(
            "expected PEM CA certificates (no CERTIFICATE section found)".into(),
        ));
    }
    let mut roots = RootCertStore::empty();
    for cert in certs {
        roots
            .add(cert)
            .map_err(|e| fail(format!("a certificate is not usable as a CA: {e}")))?;
    }
    let builder =
        WebPkiClientVerifier::builder_with_provider(Arc::new(roots), Arc::clone(provider));
    let builder = if ca.optional {
        builder.allow_unauthenticated()
    } else {
        builder
    };
    builder
        .build()
        .map_err(|e| fail(format!("cannot verify client certificates with it: {e}")))
}

fn load_key(files: &TlsFiles, provider: &CryptoProvider) -> Result<Arc<CertifiedKey>, StartError> {
    let fail = |option, path: &Path, reason: String| StartError::Tls {
        option,
        path: path.to_owned(),
        reason,
    };
    let certs = CertificateDer::pem_file_iter(&files.cert)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|e| {
            fail(
                "--cert",
                &files.cert,
                format!("expected a PEM certificate chain ({e})"),
            )
        })?;
    if certs.is_empty() {
        return Err(fail(
            "--cert",
            &files.cert,
            "expected a PEM certificate chain (no CERTIFICATE section found)".into(),
        ));
    }
    let key = PrivateKeyDer::from_pem_file(&files.key).map_err(|e| {
        fail(
            "--pkey",
            &files.key,
            format!("expected a PEM private key ({e})"),
        )
    })?;
    let certified = CertifiedKey::from_der(certs, key, provider).map_err(|e| {
        fail(
            "--pkey",
            &files.key,
            format!("key unusable with --cert: {e}"),
        )
    })?;
    Ok(Arc::new(certified))
}

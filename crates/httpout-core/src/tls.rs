//! TLS for `https://` listeners: rustls with PEM files, ALPN `h2` and
//! `http/1.1`, and certificate reload without dropping connections.
//!
//! PEM is read with rustls-pki-types' `PemObject` (rustls-pemfile is archived,
//! RUSTSEC-2025-0134). The certificate is held by a resolver, so
//! [`Tls::reload`] swaps it for new handshakes while established connections
//! keep theirs.

use std::path::Path;
use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::TlsAcceptor;

use crate::config::TlsFiles;
use crate::current::Current;
use crate::error::StartError;

/// TLS state of a server: the acceptor and the swappable certificate.
pub(crate) struct Tls {
    provider: Arc<CryptoProvider>,
    resolver: Arc<Resolver>,
    pub(crate) acceptor: TlsAcceptor,
}

impl std::fmt::Debug for Tls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tls")
            .field("files", &self.resolver.0.load().files)
            .finish_non_exhaustive()
    }
}

/// Hands the current certificate to every handshake.
struct Resolver(Current<Loaded>);

/// A certificate and the files it was read from, replaced together.
pub(crate) struct Loaded {
    files: TlsFiles,
    key: Arc<CertifiedKey>,
}

impl std::fmt::Debug for Resolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Resolver")
            .field(&self.0.load().files)
            .finish()
    }
}

impl ResolvesServerCert for Resolver {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(Arc::clone(&self.0.load().key))
    }
}

impl Tls {
    /// Loads the PEM files and builds the acceptor.
    pub(crate) fn load(files: &TlsFiles) -> Result<Self, StartError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let key = load_key(files, &provider)?;
        let resolver = Arc::new(Resolver(Current::new(Arc::new(Loaded {
            files: files.clone(),
            key,
        }))));
        let mut config = rustls::ServerConfig::builder_with_provider(Arc::clone(&provider))
            .with_safe_default_protocol_versions()
            .map_err(|e| StartError::Config(format!("TLS set-up failed: {e}")))?
            .with_no_client_auth()
            .with_cert_resolver(Arc::clone(&resolver) as Arc<dyn ResolvesServerCert>);
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(Self {
            provider,
            resolver,
            acceptor: TlsAcceptor::from(Arc::new(config)),
        })
    }

    /// Re-reads the PEM files; on success new handshakes use the new
    /// certificate, on failure the old one stays in use.
    pub(crate) fn reload(&self) -> Result<(), StartError> {
        let files = self.resolver.0.load().files.clone();
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
        Ok(Arc::new(Loaded {
            files: files.clone(),
            key: load_key(files, &self.provider)?,
        }))
    }

    /// New handshakes use `loaded` (read by [`Tls::read`]).
    pub(crate) fn use_loaded(&self, loaded: Arc<Loaded>) {
        self.resolver.0.store(loaded);
    }
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

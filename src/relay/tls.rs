//! The relay's TLS client side: two connectors built once at start and shared by every delivery.
//!
//! - `verifying`: the next hop's certificate must chain to a trusted root and name the host we
//!   connected to (webpki verification against the system's trust store, or only the CA bundle
//!   in `[relay] ca_file` when one is configured). Used for `starttls = "required"` and for MX
//!   hosts of a domain whose MTA-STS policy is in `enforce` mode.
//! - `unverified`: encryption without authentication (RFC 7435 opportunistic TLS), used for
//!   `opportunistic` and `required_insecure`.
//!
//! This module must never hand out the unverified connector for a hop that asked for
//! verification: which one a hop gets is decided in one place, [`Connectors::for_mode`].

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};
use tokio_rustls::TlsConnector;

use crate::config::{OutboundTls, RelayConfig};

/// Why the connectors could not be built.
#[derive(Debug, thiserror::Error)]
pub enum TlsSetupError {
    #[error("relay.ca_file `{path}`: {reason}")]
    CaFile { path: String, reason: String },
    #[error("relay.ca_file `{0}` holds no certificate")]
    EmptyCaFile(String),
    #[error("TLS client setup: {0}")]
    Setup(String),
}

/// The relay's two TLS connectors.
#[derive(Clone)]
pub struct Connectors {
    verifying: TlsConnector,
    unverified: TlsConnector,
    /// The trust anchors of `verifying`, in DER, for the MTA-STS policy fetch.
    pub roots: Arc<Vec<CertificateDer<'static>>>,
    provider: Arc<CryptoProvider>,
}

impl Connectors {
    /// Builds both connectors from `[relay]`.
    pub fn new(config: &RelayConfig) -> Result<Connectors, TlsSetupError> {
        let roots = trusted_roots(config.ca_file.as_deref())?;
        let mut store = RootCertStore::empty();
        let (added, _ignored) = store.add_parsable_certificates(roots.iter().cloned());
        match (&config.ca_file, added) {
            (Some(path), 0) => return Err(TlsSetupError::EmptyCaFile(path.clone())),
            // Still start: opportunistic delivery works, and `required` fails safe (nothing
            // verifies, every such delivery is deferred) until ca-certificates is installed.
            (None, 0) => tracing::warn!(
                "no trusted root certificates on this system: `required` outbound TLS and MTA-STS cannot verify anything (install ca-certificates or set relay.ca_file)"
            ),
            _ => {}
        }
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let verifying = ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| TlsSetupError::Setup(e.to_string()))?
            .with_root_certificates(store)
            .with_no_client_auth();
        let unverified = ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| TlsSetupError::Setup(e.to_string()))?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAnyCertificate(provider.clone())))
            .with_no_client_auth();
        Ok(Connectors {
            verifying: TlsConnector::from(Arc::new(verifying)),
            unverified: TlsConnector::from(Arc::new(unverified)),
            roots: Arc::new(roots),
            provider,
        })
    }

    /// A connector that accepts exactly the certificates these DANE TLSA records match (one
    /// per connection: the records belong to one host).
    pub fn dane(&self, records: Arc<Vec<super::dane::Tlsa>>) -> TlsConnector {
        let verifier = super::dane::DaneVerifier::new(records, self.provider.clone());
        let config = ClientConfig::builder_with_provider(self.provider.clone())
            .with_safe_default_protocol_versions()
            .map(|builder| {
                builder
                    .dangerous()
                    .with_custom_certificate_verifier(Arc::new(verifier))
                    .with_no_client_auth()
            });
        match config {
            Ok(config) => TlsConnector::from(Arc::new(config)),
            // The same provider built the other two connectors at start: cannot fail here.
            Err(_) => self.verifying.clone(),
        }
    }

    /// The connector for a hop's TLS mode; `None` for `disabled`.
    pub fn for_mode(&self, mode: OutboundTls) -> Option<&TlsConnector> {
        match mode {
            OutboundTls::Required => Some(&self.verifying),
            OutboundTls::Opportunistic | OutboundTls::RequiredInsecure => Some(&self.unverified),
            OutboundTls::Disabled => None,
        }
    }
}

/// The CA bundle of `ca_file`, or the system's trust store.
fn trusted_roots(ca_file: Option<&str>) -> Result<Vec<CertificateDer<'static>>, TlsSetupError> {
    match ca_file {
        Some(path) => {
            let error = |e: rustls_pki_types::pem::Error| TlsSetupError::CaFile {
                path: path.to_string(),
                reason: e.to_string(),
            };
            CertificateDer::pem_file_iter(path)
                .map_err(error)?
                .collect::<Result<Vec<_>, _>>()
                .map_err(error)
        }
        None => {
            let loaded = rustls_native_certs::load_native_certs();
            for error in &loaded.errors {
                tracing::warn!(%error, "reading the system trust store");
            }
            Ok(loaded.certs)
        }
    }
}

/// Accepts any certificate, but still checks that the handshake was signed by its key, so the
/// session is at least encrypted to whoever holds it.
#[derive(Debug)]
struct AcceptAnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AcceptAnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

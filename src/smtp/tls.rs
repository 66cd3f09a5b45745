//! Server TLS: loads the configured certificate and key, or generates a self-signed pair once into
//! `<data_dir>/tls/` for demos and tests. Builds the rustls acceptor shared by STARTTLS and
//! implicit-TLS listeners.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::ServerConfig;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::TlsAcceptor;

use crate::config::TlsConfig;

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("reading {path}: {reason}")]
    Read { path: String, reason: String },
    #[error("generating a self-signed certificate: {0}")]
    Generate(String),
    #[error("TLS setup: {0}")]
    Setup(String),
}

/// Builds the acceptor from `[tls]`, generating a self-signed pair when none is configured.
pub fn acceptor(config: &TlsConfig, data_dir: &Path, hostname: &str) -> Result<TlsAcceptor, TlsError> {
    let (cert_path, key_path) = match (&config.cert, &config.key) {
        (Some(cert), Some(key)) => (PathBuf::from(cert), PathBuf::from(key)),
        _ => self_signed(data_dir, hostname)?,
    };
    let read_err = |path: &Path, e: rustls_pki_types::pem::Error| TlsError::Read {
        path: path.display().to_string(),
        reason: e.to_string(),
    };
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&cert_path)
        .map_err(|e| read_err(&cert_path, e))?
        .collect::<Result<_, _>>()
        .map_err(|e| read_err(&cert_path, e))?;
    let key = PrivateKeyDer::from_pem_file(&key_path).map_err(|e| read_err(&key_path, e))?;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let server = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Setup(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| TlsError::Setup(e.to_string()))?;
    Ok(TlsAcceptor::from(Arc::new(server)))
}

fn self_signed(data_dir: &Path, hostname: &str) -> Result<(PathBuf, PathBuf), TlsError> {
    let dir = data_dir.join("tls");
    let cert_path = dir.join("selfsigned-cert.pem");
    let key_path = dir.join("selfsigned-key.pem");
    if cert_path.exists() && key_path.exists() {
        return Ok((cert_path, key_path));
    }
    let generated = rcgen::generate_simple_self_signed(vec![hostname.to_string(), "localhost".to_string()])
        .map_err(|e| TlsError::Generate(e.to_string()))?;
    std::fs::create_dir_all(&dir).map_err(|e| TlsError::Generate(e.to_string()))?;
    write_private(&key_path, generated.signing_key.serialize_pem().as_bytes())?;
    std::fs::write(&cert_path, generated.cert.pem()).map_err(|e| TlsError::Generate(e.to_string()))?;
    tracing::warn!(path = %cert_path.display(), "no [tls] cert configured: generated a self-signed certificate");
    Ok((cert_path, key_path))
}

fn write_private(path: &Path, bytes: &[u8]) -> Result<(), TlsError> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| TlsError::Generate(e.to_string()))?;
    file.write_all(bytes).map_err(|e| TlsError::Generate(e.to_string()))
}

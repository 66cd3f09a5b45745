//! A throwaway certificate authority for TLS tests: issues server certificates for any names,
//! and writes its own certificate to a PEM file for the gateway's `[relay] ca_file`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use rustls::pki_types::PrivateKeyDer;
use tokio_rustls::TlsAcceptor;

pub struct TestCa {
    issuer: Issuer<'static, KeyPair>,
    pem: String,
    /// The CA certificate, DER.
    pub der: Vec<u8>,
}

impl TestCa {
    pub fn new(name: &str) -> TestCa {
        let key = KeyPair::generate().expect("CA key");
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let cert = params.self_signed(&key).expect("CA certificate");
        TestCa {
            pem: cert.pem(),
            der: cert.der().to_vec(),
            issuer: Issuer::new(params, key),
        }
    }

    /// Writes the CA certificate to `dir/ca.pem` and returns the path.
    pub fn write_pem(&self, dir: &Path) -> PathBuf {
        let path = dir.join("ca.pem");
        std::fs::write(&path, &self.pem).expect("write CA");
        path
    }

    /// A TLS server config with a certificate for `names` (host names or IP addresses).
    pub fn server_config(&self, names: &[&str]) -> Arc<rustls::ServerConfig> {
        self.server_config_and_leaf(names).0
    }

    /// An acceptor with a certificate for `names`, and that certificate (DER).
    pub fn acceptor_and_leaf(&self, names: &[&str]) -> (TlsAcceptor, Vec<u8>) {
        let (config, leaf) = self.server_config_and_leaf(names);
        (TlsAcceptor::from(config), leaf)
    }

    /// An acceptor whose chain also carries the CA certificate (as DANE-TA servers must).
    pub fn acceptor_with_chain(&self, names: &[&str]) -> TlsAcceptor {
        TlsAcceptor::from(self.build(names, true).0)
    }

    fn server_config_and_leaf(&self, names: &[&str]) -> (Arc<rustls::ServerConfig>, Vec<u8>) {
        self.build(names, false)
    }

    fn build(&self, names: &[&str], with_ca: bool) -> (Arc<rustls::ServerConfig>, Vec<u8>) {
        let key = KeyPair::generate().expect("key");
        let params = CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>()).expect("params");
        let cert = params.signed_by(&key, &self.issuer).expect("issue");
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(
                if with_ca {
                    vec![
                        cert.der().clone(),
                        rustls::pki_types::CertificateDer::from(self.der.clone()),
                    ]
                } else {
                    vec![cert.der().clone()]
                },
                PrivateKeyDer::Pkcs8(key.serialize_der().into()),
            )
            .expect("server config");
        (Arc::new(config), cert.der().to_vec())
    }

    /// An acceptor with a certificate for `names`.
    pub fn acceptor(&self, names: &[&str]) -> TlsAcceptor {
        TlsAcceptor::from(self.server_config(names))
    }
}

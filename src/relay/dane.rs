//! DANE for SMTP (RFC 7672): an MX host whose `_<port>._tcp.<host>` TLSA records are DNSSEC-
//! validated must present a certificate those records match, over TLS, or the delivery is
//! deferred. Applies in MX mode when `[dns] dnssec = true` (a local validating resolver, see
//! `dns::secure`), and takes precedence over MTA-STS for the domain (RFC 8461 §2).
//!
//! For each MX host of a domain whose MX RRset is secure, and whose own address records are:
//! - secure usable TLSA records → TLS required, certificate matched against them: DANE-EE(3)
//!   against the server's certificate (no name or expiry checks, RFC 7672 §3.1.1), DANE-TA(2)
//!   against a certificate the server sent in its chain, which must then issue the server's
//!   certificate for the MX host name (webpki, with that certificate as the only root);
//! - secure TLSA records none of which is usable (PKIX usages 0/1, unknown selectors or hashes)
//!   → TLS required, certificate not authenticated (RFC 7672 §2.2);
//! - no TLSA records, or anything insecure → DANE does not apply to that host;
//! - a lookup that fails → that host is not used now (temporary), never a downgrade.
//!
//! The certificate's SubjectPublicKeyInfo (selector 1) is read by [`spki`], a DER walk of the
//! few fields before it: the one field DANE needs does not justify a full X.509 parser, and
//! rustls-webpki does not expose it.

use std::sync::Arc;

use hickory_resolver::proto::rr::{RData, RecordType};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::CryptoProvider;
use rustls::{DigitallySignedStruct, RootCertStore, SignatureScheme};
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};

use super::response::{EnhancedStatus, Response};
use crate::dns::secure::{Answer, SecureResolver};

/// One usable TLSA record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tlsa {
    /// 2 (DANE-TA) or 3 (DANE-EE).
    pub usage: u8,
    /// 0 (whole certificate) or 1 (SubjectPublicKeyInfo).
    pub selector: u8,
    /// 0 (exact), 1 (SHA-256) or 2 (SHA-512).
    pub matching: u8,
    pub data: Vec<u8>,
}

impl Tlsa {
    /// The record if RFC 7672 lets an SMTP client use it.
    pub fn usable(usage: u8, selector: u8, matching: u8, data: Vec<u8>) -> Option<Tlsa> {
        let ok = matches!(usage, 2 | 3) && matches!(selector, 0 | 1) && matches!(matching, 0..=2);
        ok.then_some(Tlsa {
            usage,
            selector,
            matching,
            data,
        })
    }

    /// Whether `cert` (DER) is what this record describes.
    pub fn matches(&self, cert: &[u8]) -> bool {
        let selected = match self.selector {
            0 => cert,
            _ => match spki(cert) {
                Some(spki) => spki,
                None => return false,
            },
        };
        match self.matching {
            0 => selected == self.data.as_slice(),
            1 => aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, selected).as_ref() == self.data.as_slice(),
            _ => aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA512, selected).as_ref() == self.data.as_slice(),
        }
    }
}

/// What DANE says about one MX host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostPolicy {
    /// DANE does not apply.
    None,
    /// TLS with a certificate matching one of these records.
    Authenticate(Arc<Vec<Tlsa>>),
    /// TLS required, certificate not authenticated (secure TLSA records, none usable).
    EncryptOnly,
    /// A lookup failed: do not use this host now.
    Temporary(Response),
}

/// Whether `domain`'s MX RRset is validated: DANE applies to its hosts only then.
pub async fn mx_is_secure(resolver: &SecureResolver, domain: &str) -> Result<bool, Response> {
    match resolver.query(domain, RecordType::MX).await {
        Ok(Answer::Secure(_)) => Ok(true),
        Ok(Answer::Insecure) => Ok(false),
        Err(error) => Err(lookup_failed(format!("DANE: MX lookup of {domain} failed: {error}"))),
    }
}

/// The policy for MX host `host` reached on `port` (its MX RRset being secure).
pub async fn host_policy(resolver: &SecureResolver, host: &str, port: u16) -> HostPolicy {
    match resolver.query(host, RecordType::A).await {
        Ok(Answer::Secure(_)) => {}
        Ok(Answer::Insecure) => return HostPolicy::None,
        Err(error) => {
            return HostPolicy::Temporary(lookup_failed(format!("DANE: address lookup of {host} failed: {error}")))
        }
    }
    let name = format!("_{port}._tcp.{host}");
    match resolver.query(&name, RecordType::TLSA).await {
        Ok(Answer::Secure(records)) if records.is_empty() => HostPolicy::None,
        Ok(Answer::Secure(records)) => {
            let usable: Vec<Tlsa> = records
                .into_iter()
                .filter_map(|record| match record {
                    RData::TLSA(tlsa) => Tlsa::usable(
                        tlsa.cert_usage.into(),
                        tlsa.selector.into(),
                        tlsa.matching.into(),
                        tlsa.cert_data,
                    ),
                    _ => None,
                })
                .collect();
            if usable.is_empty() {
                HostPolicy::EncryptOnly
            } else {
                HostPolicy::Authenticate(Arc::new(usable))
            }
        }
        Ok(Answer::Insecure) => HostPolicy::None,
        Err(error) => HostPolicy::Temporary(lookup_failed(format!("DANE: TLSA lookup of {name} failed: {error}"))),
    }
}

/// A DNSSEC lookup DANE needs failed: the host's TLS cannot be decided now (`451 4.7.5`).
fn lookup_failed(text: String) -> Response {
    Response::new(451, Some(EnhancedStatus::new(4, 7, 5)), text)
}

/// Accepts the server's certificate iff a TLSA record matches it (see the module doc).
#[derive(Debug)]
pub struct DaneVerifier {
    tlsa: Arc<Vec<Tlsa>>,
    provider: Arc<CryptoProvider>,
}

impl DaneVerifier {
    pub fn new(tlsa: Arc<Vec<Tlsa>>, provider: Arc<CryptoProvider>) -> DaneVerifier {
        DaneVerifier { tlsa, provider }
    }
}

impl ServerCertVerifier for DaneVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if self.tlsa.iter().any(|r| r.usage == 3 && r.matches(end_entity)) {
            return Ok(ServerCertVerified::assertion());
        }
        for record in self.tlsa.iter().filter(|r| r.usage == 2) {
            for anchor in intermediates.iter().filter(|cert| record.matches(cert)) {
                let mut roots = RootCertStore::empty();
                if roots.add(anchor.clone().into_owned()).is_err() {
                    continue;
                }
                let Ok(verifier) =
                    WebPkiServerVerifier::builder_with_provider(Arc::new(roots), self.provider.clone()).build()
                else {
                    continue;
                };
                if verifier
                    .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
                    .is_ok()
                {
                    return Ok(ServerCertVerified::assertion());
                }
            }
        }
        Err(rustls::Error::General(
            "certificate matches no TLSA record (DANE)".into(),
        ))
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider.signature_verification_algorithms.supported_schemes()
    }
}

/// The DER SubjectPublicKeyInfo of an X.509 certificate (RFC 5280 4.1): the 7th element of
/// `tbsCertificate` counting the optional `[0] version`. `None` for anything malformed.
pub fn spki(cert: &[u8]) -> Option<&[u8]> {
    let (certificate, _) = element(cert, 0x30)?;
    let (tbs, _) = element(content(certificate)?, 0x30)?;
    let mut rest = content(tbs)?;
    if rest.first() == Some(&0xa0) {
        rest = element(rest, 0xa0)?.1;
    }
    // serialNumber, signature, issuer, validity, subject
    for tag in [0x02, 0x30, 0x30, 0x30, 0x30] {
        rest = element(rest, tag)?.1;
    }
    element(rest, 0x30).map(|(spki, _)| spki)
}

/// Splits one DER element with tag `tag` off the front of `input`: (the element, the rest).
fn element(input: &[u8], tag: u8) -> Option<(&[u8], &[u8])> {
    if *input.first()? != tag {
        return None;
    }
    let first = *input.get(1)?;
    let (length, header) = if first < 0x80 {
        (usize::from(first), 2)
    } else {
        let count = usize::from(first & 0x7f);
        if count == 0 || count > 4 {
            return None;
        }
        let bytes = input.get(2..2 + count)?;
        let length = bytes.iter().fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
        (length, 2 + count)
    };
    let end = header.checked_add(length)?;
    Some((input.get(..end)?, input.get(end..)?))
}

/// The content octets of one DER element.
fn content(element: &[u8]) -> Option<&[u8]> {
    let first = *element.get(1)?;
    let header = if first < 0x80 { 2 } else { 2 + usize::from(first & 0x7f) };
    element.get(header..)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn certificate() -> (Vec<u8>, Vec<u8>) {
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec!["mx.example".to_string()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        (cert.der().to_vec(), rcgen::PublicKeyData::subject_public_key_info(&key))
    }

    #[test]
    fn finds_the_subject_public_key_info() {
        let (cert, public_key) = certificate();
        assert_eq!(spki(&cert), Some(public_key.as_slice()));
    }

    #[test]
    fn malformed_certificates_have_no_spki() {
        let (cert, _) = certificate();
        for end in 0..cert.len() {
            assert_eq!(spki(&cert[..end]), None, "truncated at {end}");
        }
        assert_eq!(spki(b""), None);
        assert_eq!(spki(&[0x30, 0x85, 1, 2, 3, 4, 5]), None);
    }

    #[test]
    fn records_match_by_selector_and_hash() {
        let (cert, public_key) = certificate();
        let sha256 = |data: &[u8]| {
            aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, data)
                .as_ref()
                .to_vec()
        };
        let sha512 = |data: &[u8]| {
            aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA512, data)
                .as_ref()
                .to_vec()
        };
        let cases = [
            (3, 1, 1, sha256(&public_key)),
            (3, 0, 1, sha256(&cert)),
            (3, 1, 2, sha512(&public_key)),
            (3, 0, 0, cert.clone()),
            (3, 1, 0, public_key.clone()),
        ];
        for (usage, selector, matching, data) in cases {
            let record = Tlsa::usable(usage, selector, matching, data).unwrap();
            assert!(record.matches(&cert), "{usage} {selector} {matching}");
        }
        let wrong = Tlsa::usable(3, 1, 1, sha256(&cert)).unwrap();
        assert!(!wrong.matches(&cert), "SPKI selector against the certificate's hash");
    }

    #[test]
    fn pkix_usages_and_unknown_parameters_are_unusable() {
        assert!(Tlsa::usable(0, 1, 1, vec![1]).is_none());
        assert!(Tlsa::usable(1, 1, 1, vec![1]).is_none());
        assert!(Tlsa::usable(3, 2, 1, vec![1]).is_none());
        assert!(Tlsa::usable(3, 1, 3, vec![1]).is_none());
        assert!(Tlsa::usable(2, 0, 0, vec![1]).is_some());
    }
}

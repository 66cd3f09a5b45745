//! The DKIM keys the gateway signs with, one directory per domain under `<data_dir>/dkim`:
//! `<domain>/<selector>.pem` (PKCS#8, mode 0600, directories 0700). `aupgate dkim generate`
//! writes them; the gateway loads them at start and on reload (SIGHUP). A private key is never
//! logged, printed or served; only the DNS record (the public key) is.
//!
//! Rotation uses two selectors: generate a key under a new selector, publish its record, and the
//! gateway switches to it as soon as the record is visible in DNS (the newest published key
//! signs); then `aupgate dkim retire` the old selector once mail signed with it has landed.

use std::collections::HashMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use base64::Engine as _;
use mail_auth::common::crypto::{Ed25519Key, RsaKey, Sha256};
use mail_auth::dkim::{DkimSigner, Done};
use rcgen::PublicKeyData;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};

/// The key types `aupgate dkim generate --algorithm` offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    Rsa2048,
    Ed25519,
}

impl Algorithm {
    pub fn parse(text: &str) -> Option<Algorithm> {
        match text {
            "rsa2048" => Some(Algorithm::Rsa2048),
            "ed25519" => Some(Algorithm::Ed25519),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Rsa2048 => "rsa2048",
            Algorithm::Ed25519 => "ed25519",
        }
    }

    /// The `k=` tag of the DNS record.
    fn dns_tag(self) -> &'static str {
        match self {
            Algorithm::Rsa2048 => "rsa",
            Algorithm::Ed25519 => "ed25519",
        }
    }
}

/// Why a key could not be made or read.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("`{0}` is not a domain name")]
    BadDomain(String),
    #[error("`{0}` is not a selector (letters, digits and `-`, up to 63 characters)")]
    BadSelector(String),
    #[error("a key for selector `{selector}` of {domain} already exists ({path}); pick another selector")]
    Exists {
        domain: String,
        selector: String,
        path: String,
    },
    #[error("no key for selector `{selector}` of {domain}")]
    Missing { domain: String, selector: String },
    #[error("key generation failed: {0}")]
    Generate(String),
    #[error("{path}: {reason}")]
    Unreadable { path: String, reason: String },
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// The header fields the gateway's DKIM signatures cover. `From` is listed twice
/// (oversigning): a second From added on the way breaks the signature.
pub const SIGNED_HEADERS: &[&str] = &[
    "From",
    "From",
    "Sender",
    "Reply-To",
    "To",
    "Cc",
    "Subject",
    "Date",
    "Message-ID",
    "In-Reply-To",
    "References",
    "MIME-Version",
    "Feedback-ID",
    "CFBL-Address",
    "CFBL-Feedback-ID",
    "Content-Type",
    "Content-Transfer-Encoding",
    "List-Unsubscribe",
    "List-Unsubscribe-Post",
    "List-Id",
    // The gateway's trace field (complaint attribution): the gateway removes any copy the
    // tenant put on, so the one signed is ours.
    "X-Aupgate-Ref",
];

/// The private half, as a signer for its domain and selector.
pub enum Signer {
    Rsa(DkimSigner<RsaKey<Sha256>, Done>),
    Ed25519(DkimSigner<Ed25519Key, Done>),
}

/// One key of one domain.
pub struct DkimKey {
    pub domain: String,
    pub selector: String,
    pub algorithm: Algorithm,
    /// Base64 of the public key as published in `p=`.
    pub public_key: String,
    /// When the key file was written: the newest published key signs.
    pub created: SystemTime,
    pub signer: Signer,
}

impl std::fmt::Debug for DkimKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the private key.
        f.debug_struct("DkimKey")
            .field("domain", &self.domain)
            .field("selector", &self.selector)
            .field("algorithm", &self.algorithm)
            .finish_non_exhaustive()
    }
}

impl DkimKey {
    /// Where the record is published: `<selector>._domainkey.<domain>`.
    pub fn record_name(&self) -> String {
        format!("{}._domainkey.{}", self.selector, self.domain)
    }

    /// The TXT record to publish.
    pub fn dns_record(&self) -> String {
        format!("v=DKIM1; k={}; p={}", self.algorithm.dns_tag(), self.public_key)
    }

    /// The record as a zone-file line, split into strings of at most 255 characters.
    pub fn zone_line(&self) -> String {
        let record = self.dns_record();
        let parts: Vec<String> = record
            .as_bytes()
            .chunks(255)
            .map(|chunk| format!("\"{}\"", String::from_utf8_lossy(chunk)))
            .collect();
        format!("{}. IN TXT ( {} )", self.record_name(), parts.join(" "))
    }

    /// True when a published TXT record carries this key's public key.
    pub fn matches_record(&self, record: &str) -> bool {
        record.split(';').any(|tag| {
            let Some((name, value)) = tag.split_once('=') else {
                return false;
            };
            let value: String = value.chars().filter(|c| !c.is_whitespace()).collect();
            name.trim() == "p" && value == self.public_key
        })
    }
}

/// All keys, by domain, newest first.
#[derive(Default)]
pub struct KeyRing {
    keys: HashMap<String, Vec<Arc<DkimKey>>>,
}

impl KeyRing {
    /// Loads every `<domain>/<selector>.pem` under `dir` (an absent directory is an empty ring).
    /// A file that cannot be read as a key is an error: a key the operator meant to use must not
    /// be skipped silently.
    pub fn load(dir: &Path) -> Result<KeyRing, KeyError> {
        let mut ring = KeyRing::default();
        let domains = match fs::read_dir(dir) {
            Ok(entries) => entries,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(ring),
            Err(source) => return Err(io_error(dir, source)),
        };
        for domain_entry in domains {
            let domain_entry = domain_entry.map_err(|source| io_error(dir, source))?;
            if !domain_entry.path().is_dir() {
                continue;
            }
            let domain = domain_entry.file_name().to_string_lossy().to_string();
            let files = fs::read_dir(domain_entry.path()).map_err(|source| io_error(&domain_entry.path(), source))?;
            for file in files {
                let path = file.map_err(|source| io_error(&domain_entry.path(), source))?.path();
                if path.extension().and_then(|e| e.to_str()) != Some("pem") {
                    continue;
                }
                let selector = path.file_stem().unwrap_or_default().to_string_lossy().to_string();
                let key = read_key(&path, &domain, &selector)?;
                ring.keys.entry(domain.clone()).or_default().push(Arc::new(key));
            }
        }
        for keys in ring.keys.values_mut() {
            keys.sort_by(|a, b| b.created.cmp(&a.created).then_with(|| b.selector.cmp(&a.selector)));
        }
        Ok(ring)
    }

    /// The keys of exactly `domain`, newest first.
    pub fn for_domain(&self, domain: &str) -> &[Arc<DkimKey>] {
        self.keys.get(domain).map(Vec::as_slice).unwrap_or(&[])
    }

    /// Every key, by domain then newest first.
    pub fn all(&self) -> Vec<Arc<DkimKey>> {
        let mut domains: Vec<&String> = self.keys.keys().collect();
        domains.sort();
        domains.into_iter().flat_map(|d| self.keys[d].iter().cloned()).collect()
    }

    pub fn len(&self) -> usize {
        self.keys.values().map(Vec::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

/// Generates a key for `domain` under `selector` and writes it to `dir` (mode 0600; refuses to
/// overwrite an existing selector).
pub fn generate(dir: &Path, domain: &str, selector: &str, algorithm: Algorithm) -> Result<DkimKey, KeyError> {
    let domain = crate::tenant::normalize_domain(domain).ok_or_else(|| KeyError::BadDomain(domain.into()))?;
    if !valid_selector(selector) {
        return Err(KeyError::BadSelector(selector.into()));
    }
    let domain_dir = dir.join(&domain);
    create_private_dir(dir)?;
    create_private_dir(&domain_dir)?;
    let path = domain_dir.join(format!("{selector}.pem"));
    if path.exists() {
        return Err(KeyError::Exists {
            domain,
            selector: selector.into(),
            path: path.display().to_string(),
        });
    }
    let alg = match algorithm {
        Algorithm::Rsa2048 => &rcgen::PKCS_RSA_SHA256,
        Algorithm::Ed25519 => &rcgen::PKCS_ED25519,
    };
    let pair = rcgen::KeyPair::generate_for(alg).map_err(|e| KeyError::Generate(e.to_string()))?;
    write_private(&path, pair.serialize_pem().as_bytes())?;
    read_key(&path, &domain, selector)
}

/// Deletes the key of `selector` (after rotation).
pub fn retire(dir: &Path, domain: &str, selector: &str) -> Result<PathBuf, KeyError> {
    let domain = crate::tenant::normalize_domain(domain).ok_or_else(|| KeyError::BadDomain(domain.into()))?;
    if !valid_selector(selector) {
        return Err(KeyError::BadSelector(selector.into()));
    }
    let path = dir.join(&domain).join(format!("{selector}.pem"));
    match fs::remove_file(&path) {
        Ok(()) => Ok(path),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Err(KeyError::Missing {
            domain,
            selector: selector.into(),
        }),
        Err(source) => Err(io_error(&path, source)),
    }
}

/// A default selector for a new key: `s` and today's date (`s20261123`).
pub fn default_selector(now: SystemTime) -> String {
    let secs = now
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let date = crate::smtp::trace::rfc5322_date(secs);
    // "Mon, 23 Nov 2026 19:33:34 +0000" -> s20261123
    let parts: Vec<&str> = date.split_whitespace().collect();
    let month = match parts.get(2).copied().unwrap_or("") {
        "Jan" => 1,
        "Feb" => 2,
        "Mar" => 3,
        "Apr" => 4,
        "May" => 5,
        "Jun" => 6,
        "Jul" => 7,
        "Aug" => 8,
        "Sep" => 9,
        "Oct" => 10,
        "Nov" => 11,
        _ => 12,
    };
    format!(
        "s{}{:02}{:02}",
        parts.get(3).unwrap_or(&"1970"),
        month,
        parts.get(1).and_then(|d| d.parse::<u32>().ok()).unwrap_or(1)
    )
}

fn valid_selector(selector: &str) -> bool {
    !selector.is_empty()
        && selector.len() <= 63
        && selector.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        && !selector.starts_with('-')
        && !selector.ends_with('-')
}

fn read_key(path: &Path, domain: &str, selector: &str) -> Result<DkimKey, KeyError> {
    let unreadable = |reason: String| KeyError::Unreadable {
        path: path.display().to_string(),
        reason,
    };
    let pem = fs::read(path).map_err(|source| io_error(path, source))?;
    let created = fs::metadata(path)
        .and_then(|m| m.modified())
        .unwrap_or(SystemTime::UNIX_EPOCH);
    let der =
        PrivatePkcs8KeyDer::from_pem_slice(&pem).map_err(|_| unreadable("not a PKCS#8 PEM private key".into()))?;
    let pair = rcgen::KeyPair::try_from(der.secret_pkcs8_der()).map_err(|e| unreadable(e.to_string()))?;
    let (algorithm, signer, public) = if pair.is_compatible(&rcgen::PKCS_ED25519) {
        let key = Ed25519Key::from_pkcs8_der(der.secret_pkcs8_der()).map_err(|e| unreadable(e.to_string()))?;
        let signer = DkimSigner::from_key(key)
            .domain(domain)
            .selector(selector)
            .headers(SIGNED_HEADERS.iter().copied());
        (
            Algorithm::Ed25519,
            Signer::Ed25519(signer),
            pair.public_key_raw().to_vec(),
        )
    } else if pair.is_compatible(&rcgen::PKCS_RSA_SHA256) {
        let key = RsaKey::<Sha256>::from_key_der(PrivateKeyDer::Pkcs8(der.clone_key()))
            .map_err(|e| unreadable(e.to_string()))?;
        let signer = DkimSigner::from_key(key)
            .domain(domain)
            .selector(selector)
            .headers(SIGNED_HEADERS.iter().copied());
        (Algorithm::Rsa2048, Signer::Rsa(signer), pair.subject_public_key_info())
    } else {
        return Err(unreadable("only RSA and Ed25519 keys can sign DKIM".into()));
    };
    Ok(DkimKey {
        domain: domain.to_string(),
        selector: selector.to_string(),
        algorithm,
        public_key: base64::engine::general_purpose::STANDARD.encode(public),
        created,
        signer,
    })
}

fn create_private_dir(dir: &Path) -> Result<(), KeyError> {
    match fs::create_dir(dir) {
        Ok(()) => {}
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => return Ok(()),
        Err(_) => fs::create_dir_all(dir).map_err(|source| io_error(dir, source))?,
    }
    set_mode(dir, 0o700)
}

fn write_private(path: &Path, contents: &[u8]) -> Result<(), KeyError> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path).map_err(|source| io_error(path, source))?;
    file.write_all(contents)
        .and_then(|()| file.sync_all())
        .map_err(|source| io_error(path, source))
}

#[cfg(unix)]
fn set_mode(path: &Path, mode: u32) -> Result<(), KeyError> {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).map_err(|source| io_error(path, source))
}

#[cfg(not(unix))]
fn set_mode(_path: &Path, _mode: u32) -> Result<(), KeyError> {
    Ok(())
}

fn io_error(path: &Path, source: std::io::Error) -> KeyError {
    KeyError::Io {
        path: path.display().to_string(),
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_are_private_and_load_back() {
        let dir = tempfile::tempdir().unwrap();
        let key = generate(dir.path(), "Acme.Example", "s1", Algorithm::Ed25519).expect("generate");
        assert_eq!(key.domain, "acme.example");
        assert_eq!(key.record_name(), "s1._domainkey.acme.example");
        assert!(key.dns_record().starts_with("v=DKIM1; k=ed25519; p="));
        let path = dir.path().join("acme.example/s1.pem");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
            let dir_mode = fs::metadata(dir.path().join("acme.example"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(dir_mode & 0o777, 0o700);
        }
        let ring = KeyRing::load(dir.path()).expect("load");
        assert_eq!(ring.for_domain("acme.example")[0].public_key, key.public_key);
        assert!(matches!(
            generate(dir.path(), "acme.example", "s1", Algorithm::Ed25519),
            Err(KeyError::Exists { .. })
        ));
        assert!(!format!("{key:?}").contains("BEGIN"));
    }

    #[test]
    fn rsa_keys_publish_a_subject_public_key_info() {
        let dir = tempfile::tempdir().unwrap();
        let key = generate(dir.path(), "acme.example", "rsa", Algorithm::Rsa2048).expect("generate");
        assert!(key
            .dns_record()
            .starts_with("v=DKIM1; k=rsa; p=MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA"));
        assert!(key.zone_line().contains("\" \""), "split into 255-character strings");
        assert!(key.matches_record(&format!("v=DKIM1; k=rsa; p={}", key.public_key)));
        assert!(!key.matches_record("v=DKIM1; k=rsa; p=MIIB"));
    }

    #[test]
    fn bad_names_and_unreadable_files_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(
            generate(dir.path(), "not a domain", "s1", Algorithm::Ed25519),
            Err(KeyError::BadDomain(_))
        ));
        assert!(matches!(
            generate(dir.path(), "acme.example", "../x", Algorithm::Ed25519),
            Err(KeyError::BadSelector(_))
        ));
        fs::create_dir_all(dir.path().join("acme.example")).unwrap();
        fs::write(dir.path().join("acme.example/bad.pem"), "garbage").unwrap();
        assert!(matches!(KeyRing::load(dir.path()), Err(KeyError::Unreadable { .. })));
        assert!(matches!(
            retire(dir.path(), "acme.example", "none"),
            Err(KeyError::Missing { .. })
        ));
    }

    #[test]
    fn default_selectors_carry_the_date() {
        let t = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_795_462_414);
        assert_eq!(default_selector(t), "s20261123");
    }
}

//! Dashboard sessions: a signed cookie (HMAC-SHA256) saying who logged in, until when, and the
//! session's CSRF token. Nothing is kept on the server but the sessions ended by a logout
//! (`session_end`), so every node sharing the key accepts the cookie; the key is
//! `[admin] session_key_file`, generated under `data_dir` at the first start when not
//! configured.
//!
//! It never trusts a cookie it cannot verify: a bad signature, a malformed payload or an expired
//! session is "no session", never a principal.

use std::path::{Path, PathBuf};

use aws_lc_rs::hmac;
use aws_lc_rs::rand::SecureRandom;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde::{Deserialize, Serialize};

/// Name of the session cookie.
pub const COOKIE: &str = "aupgate_session";

/// Shortest key accepted from a configured file.
const MIN_KEY_BYTES: usize = 32;

/// Why the session key could not be had.
#[derive(Debug, thiserror::Error)]
pub enum SessionKeyError {
    #[error("reading the session key {path}: {reason}")]
    Read { path: String, reason: String },
    #[error("the session key {path} holds {len} bytes; at least {MIN_KEY_BYTES} are needed")]
    Short { path: String, len: usize },
    #[error("writing a new session key {path}: {reason}")]
    Write { path: String, reason: String },
}

/// Who a session belongs to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Holder {
    /// Staff with every right, by the name of its token.
    Admin { name: String },
    /// Read-only staff, by the name of its token.
    Operator { name: String },
    /// A tenant; `token` is the API token id it logged in with (revoking the token ends the
    /// session), `None` after a login with SMTP credentials.
    Tenant { id: String, token: Option<String> },
}

/// The signed contents of a session cookie.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    pub holder: Holder,
    /// Expiry (unix ms).
    pub expires: u64,
    /// The token every state-changing request of this session must carry.
    pub csrf: String,
    /// What the session was granted on, as a fingerprint ([`proof`]): a staff token's, or a
    /// tenant's SMTP user name and password hash. A session whose credential changed since (a
    /// rotated staff token, a new password, a tenant deleted and created again) is no session.
    #[serde(default)]
    pub proof: String,
}

/// The fingerprint of a credential: the first 8 bytes of its SHA-256, hex.
pub fn proof(credential: &[u8]) -> String {
    super::tokens::hex(&super::tokens::sha256(credential)[..8])
}

/// The fingerprint of a tenant's SMTP credential: user name and stored hash.
pub fn password_proof(username: &str, hash: &str) -> String {
    format!("{username}\0{}", proof(format!("{username}\0{hash}").as_bytes()))
}

/// Signs and verifies session cookies.
pub struct SessionKeys {
    key: hmac::Key,
}

impl SessionKeys {
    /// The key from `configured`, or from `<data_dir>/admin/session.key` (created, mode 0600,
    /// at the first start).
    pub fn load(configured: Option<&str>, data_dir: &Path) -> Result<SessionKeys, SessionKeyError> {
        let path = configured.map_or_else(|| data_dir.join("admin").join("session.key"), PathBuf::from);
        let shown = path.display().to_string();
        let bytes = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound && configured.is_none() => generate(&path)
                .map_err(|reason| SessionKeyError::Write {
                    path: shown.clone(),
                    reason,
                })?,
            Err(error) => {
                return Err(SessionKeyError::Read {
                    path: shown,
                    reason: error.to_string(),
                })
            }
        };
        if bytes.len() < MIN_KEY_BYTES {
            return Err(SessionKeyError::Short {
                path: shown,
                len: bytes.len(),
            });
        }
        Ok(SessionKeys::from_bytes(&bytes))
    }

    pub fn from_bytes(bytes: &[u8]) -> SessionKeys {
        SessionKeys {
            key: hmac::Key::new(hmac::HMAC_SHA256, bytes),
        }
    }

    /// The cookie value of `session`: `base64(payload).base64(mac)`.
    pub fn seal(&self, session: &Session) -> String {
        let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(session).unwrap_or_default());
        let tag = hmac::sign(&self.key, payload.as_bytes());
        format!("{payload}.{}", URL_SAFE_NO_PAD.encode(tag.as_ref()))
    }

    /// The session in a cookie value, if the signature holds and it has not expired at `now`.
    pub fn open(&self, value: &str, now: u64) -> Option<Session> {
        let (payload, tag) = value.split_once('.')?;
        let tag = URL_SAFE_NO_PAD.decode(tag).ok()?;
        hmac::verify(&self.key, payload.as_bytes(), &tag).ok()?;
        let session: Session = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()?;
        (session.expires > now).then_some(session)
    }
}

/// `n` random bytes, base64url: tokens, CSRF tokens, key material.
pub fn random_text(n: usize) -> String {
    URL_SAFE_NO_PAD.encode(random_bytes(n))
}

pub fn random_bytes(n: usize) -> Vec<u8> {
    let mut bytes = vec![0u8; n];
    // The system RNG failing is not something a login can recover from; an all-zero token
    // must never be handed out, so this is the one place that may panic.
    aws_lc_rs::rand::SystemRandom::new()
        .fill(&mut bytes)
        .expect("the system random number generator failed");
    bytes
}

fn generate(path: &Path) -> Result<Vec<u8>, String> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    }
    let bytes = random_bytes(32);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| e.to_string())?;
    file.write_all(&bytes).map_err(|e| e.to_string())?;
    file.sync_all().map_err(|e| e.to_string())?;
    tracing::info!(path = %path.display(), "generated the dashboard session key");
    Ok(bytes)
}

/// The `Set-Cookie` value that stores `value` for `max_age_secs` (0: deletes it).
pub fn set_cookie(value: &str, max_age_secs: u64, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!("{COOKIE}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age_secs}{secure}")
}

/// The session cookie's value in a `Cookie` header, if any.
pub fn cookie_value(header: &str) -> Option<&str> {
    header
        .split(';')
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(expires: u64) -> Session {
        Session {
            holder: Holder::Tenant {
                id: "acme".into(),
                token: None,
            },
            expires,
            csrf: "c".into(),
            proof: String::new(),
        }
    }

    #[test]
    fn a_sealed_session_opens_until_it_expires() {
        let keys = SessionKeys::from_bytes(&[7; 32]);
        let sealed = keys.seal(&session(1_000));
        assert_eq!(keys.open(&sealed, 999), Some(session(1_000)));
        assert_eq!(keys.open(&sealed, 1_000), None);
    }

    #[test]
    fn a_changed_payload_or_another_key_is_no_session() {
        let keys = SessionKeys::from_bytes(&[7; 32]);
        let sealed = keys.seal(&session(1_000));
        let (_, tag) = sealed.split_once('.').unwrap();
        let forged_payload = URL_SAFE_NO_PAD.encode(
            serde_json::to_vec(&Session {
                holder: Holder::Admin { name: "admin".into() },
                ..session(1_000)
            })
            .unwrap(),
        );
        assert_eq!(keys.open(&format!("{forged_payload}.{tag}"), 0), None);
        assert_eq!(SessionKeys::from_bytes(&[8; 32]).open(&sealed, 0), None);
        assert_eq!(keys.open("garbage", 0), None);
        assert_eq!(keys.open("a.b", 0), None);
    }

    #[test]
    fn the_cookie_is_found_among_others() {
        assert_eq!(cookie_value("a=1; aupgate_session=xyz.abc; b=2"), Some("xyz.abc"));
        assert_eq!(cookie_value("a=1"), None);
        let set = set_cookie("v", 60, true);
        assert!(set.contains("HttpOnly") && set.contains("SameSite=Strict") && set.ends_with("; Secure"));
    }

    #[test]
    fn the_key_is_generated_once_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let first = SessionKeys::load(None, dir.path()).unwrap().seal(&session(5));
        let again = SessionKeys::load(None, dir.path()).unwrap();
        assert!(again.open(&first, 0).is_some());
        let short = dir.path().join("short.key");
        std::fs::write(&short, b"too short").unwrap();
        assert!(matches!(
            SessionKeys::load(short.to_str(), dir.path()),
            Err(SessionKeyError::Short { .. })
        ));
    }
}

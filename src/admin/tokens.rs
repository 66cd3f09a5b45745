//! Bearer tokens: the staff's (from `[admin]`, kept as SHA-256 hashes except the legacy
//! `[admin] token`) and the tenant API tokens the admin issues (kept in the rate store as
//! hashes). Every comparison takes time that does not depend on where two secrets differ.
//!
//! A tenant token reads `aupt.<tenant, base64url>.<id>.<secret>`: the tenant and the id locate
//! its record without a scan, the hash of the whole text authenticates it. It never stores or
//! logs a token's text.

use aws_lc_rs::digest;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;

use super::access::{constant_time_eq, Principal};
use crate::config::{AdminConfig, AdminRole};
use crate::store::{ApiToken, RateStore, StoreError};

/// What a tenant token's text starts with.
const TENANT_PREFIX: &str = "aupt.";

/// The staff's tokens.
pub struct StaffTokens {
    /// The legacy `[admin] token`, as configured (a full admin).
    plain: Option<String>,
    /// `(name, role, sha256)` of each `[[admin.tokens]]`.
    hashed: Vec<(String, AdminRole, [u8; 32])>,
}

impl StaffTokens {
    pub fn from_config(admin: &AdminConfig) -> StaffTokens {
        StaffTokens {
            plain: admin.token.clone(),
            hashed: admin
                .tokens
                .iter()
                .filter_map(|t| Some((t.name.clone(), t.role, parse_hex(&t.sha256)?)))
                .collect(),
        }
    }

    /// Whether any staff token is configured (without one, loopback clients are the admin).
    pub fn any(&self) -> bool {
        self.plain.is_some() || !self.hashed.is_empty()
    }

    /// The staff member holding `given`, if any. Every configured token is compared, matched or
    /// not, so the time taken says nothing about which one came close.
    pub fn identify(&self, given: &str) -> Option<Principal> {
        let mut found = None;
        if let Some(plain) = &self.plain {
            if constant_time_eq(given.as_bytes(), plain.as_bytes()) {
                found = Some(Principal::Admin { name: "admin".into() });
            }
        }
        let hash = sha256(given.as_bytes());
        for (name, role, expected) in &self.hashed {
            if constant_time_eq(&hash, expected) && found.is_none() {
                found = Some(match role {
                    AdminRole::Admin => Principal::Admin { name: name.clone() },
                    AdminRole::Operator => Principal::Operator { name: name.clone() },
                });
            }
        }
        found
    }

    /// Whether a staff member of this name and role still holds a token (a session outlives
    /// nothing that was taken away).
    /// Whether the token `name` with `role` is still configured as the one whose fingerprint
    /// is `proof` (`session::proof` of the token text): a rotated token ends its sessions.
    pub fn holds(&self, name: &str, role: AdminRole, proof: &str) -> bool {
        let legacy = self.plain.as_ref().is_some_and(|plain| {
            role == AdminRole::Admin
                && name == "admin"
                && constant_time_eq(super::session::proof(plain.as_bytes()).as_bytes(), proof.as_bytes())
        });
        legacy
            || self.hashed.iter().any(|(n, r, expected)| {
                n == name && *r == role && constant_time_eq(hex(&expected[..8]).as_bytes(), proof.as_bytes())
            })
    }
}

/// Whether `given` looks like a tenant token (so it is never compared with staff tokens).
pub fn is_tenant_token(given: &str) -> bool {
    given.starts_with(TENANT_PREFIX)
}

/// A freshly issued tenant token: its text (shown once) and the record to store.
pub struct Issued {
    pub text: String,
    pub record: ApiToken,
}

/// Makes a new token for `tenant`.
pub fn issue(tenant: &str, label: &str, by: &str, now: u64) -> Issued {
    let id = hex(&super::session::random_bytes(8));
    let text = format!(
        "{TENANT_PREFIX}{}.{id}.{}",
        URL_SAFE_NO_PAD.encode(tenant),
        super::session::random_text(32)
    );
    let record = ApiToken {
        tenant: tenant.to_string(),
        id,
        label: label.to_string(),
        sha256: hex(&sha256(text.as_bytes())),
        by: by.to_string(),
        created_at: now,
    };
    Issued { text, record }
}

/// The record of the tenant token `given`, if it is one the store holds (not revoked).
pub async fn verify(store: &dyn RateStore, given: &str) -> Result<Option<ApiToken>, StoreError> {
    let Some((tenant, id)) = parse(given) else {
        return Ok(None);
    };
    let Some(record) = store.api_token_get(&tenant, &id).await? else {
        return Ok(None);
    };
    let expected = parse_hex(&record.sha256).unwrap_or([0; 32]);
    let matches = constant_time_eq(&sha256(given.as_bytes()), &expected) && record.tenant == tenant;
    Ok(matches.then_some(record))
}

/// `(tenant, id)` of a tenant token's text.
fn parse(given: &str) -> Option<(String, String)> {
    let mut parts = given.strip_prefix(TENANT_PREFIX)?.split('.');
    let tenant = String::from_utf8(URL_SAFE_NO_PAD.decode(parts.next()?).ok()?).ok()?;
    let id = parts.next()?.to_string();
    let _secret = parts.next()?;
    if parts.next().is_some() || id.len() != 16 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    Some((tenant, id))
}

pub fn sha256(bytes: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(digest::digest(&digest::SHA256, bytes).as_ref());
    out
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn parse_hex(text: &str) -> Option<[u8; 32]> {
    if text.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(text.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::AdminTokenConfig;

    fn staff() -> StaffTokens {
        StaffTokens::from_config(&AdminConfig {
            token: Some("legacy-token-0123456789".into()),
            tokens: vec![
                AdminTokenConfig {
                    name: "alice".into(),
                    role: AdminRole::Admin,
                    sha256: hex(&sha256(b"alice-secret")),
                },
                AdminTokenConfig {
                    name: "desk".into(),
                    role: AdminRole::Operator,
                    sha256: hex(&sha256(b"desk-secret")),
                },
            ],
            ..AdminConfig::default()
        })
    }

    #[test]
    fn staff_tokens_name_their_holder_and_role() {
        let staff = staff();
        assert_eq!(
            staff.identify("legacy-token-0123456789"),
            Some(Principal::Admin { name: "admin".into() })
        );
        assert_eq!(
            staff.identify("alice-secret"),
            Some(Principal::Admin { name: "alice".into() })
        );
        assert_eq!(
            staff.identify("desk-secret"),
            Some(Principal::Operator { name: "desk".into() })
        );
        assert_eq!(staff.identify("desk-secreT"), None);
        assert_eq!(staff.identify(""), None);
        let desk = crate::admin::session::proof(b"desk-secret");
        assert!(staff.holds("desk", AdminRole::Operator, &desk));
        assert!(!staff.holds("desk", AdminRole::Admin, &desk));
        // A session granted on another (an earlier, rotated) token of that name is not held.
        assert!(!staff.holds("desk", AdminRole::Operator, &crate::admin::session::proof(b"old-desk")));
        let legacy = crate::admin::session::proof(b"legacy-token-0123456789");
        assert!(staff.holds("admin", AdminRole::Admin, &legacy));
        assert!(!staff.holds("admin", AdminRole::Admin, &desk));
    }

    #[test]
    fn a_tenant_token_names_its_tenant_and_id() {
        let issued = issue("acme.<b>", "deploy", "alice", 5);
        assert!(is_tenant_token(&issued.text));
        assert_eq!(
            parse(&issued.text),
            Some(("acme.<b>".to_string(), issued.record.id.clone()))
        );
        assert_eq!(issued.record.sha256, hex(&sha256(issued.text.as_bytes())));
        assert!(!issued.record.sha256.contains(&issued.text));
        assert_eq!(parse("aupt.YQ.zz.secret"), None);
        assert_eq!(parse("bearer"), None);
    }
}

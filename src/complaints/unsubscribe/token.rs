//! The unsubscribe token: tenant, recipient, campaign and the time it was issued, under an
//! HMAC-SHA256 with the server's trace keys (`complaints::attribution::TraceKeys`: the same
//! rotation, the first key signs and all verify). The MAC input starts with a label of its own,
//! so a trace header's MAC can never pass for a token's or the other way round.
//!
//! Format: `u1.<key id>.<payload>.<mac>`, payload and MAC base64url: URL-, local-part- and
//! subject-safe. A forged, altered or truncated token verifies to nothing.

use aws_lc_rs::hmac;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;

use crate::complaints::TraceKeys;

const VERSION: &str = "u1";
/// Separates the token's MAC input from every other use of the trace keys.
const LABEL: &[u8] = b"aupgate-unsubscribe\0";

/// What a token names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Claims {
    pub tenant: String,
    /// The recipient's suppression identity (`+tag` stripped, lower-cased domain).
    pub recipient: String,
    /// The campaign of the message (`-` when unknown).
    pub campaign: String,
    /// When the message was accepted (unix seconds).
    pub issued: u64,
}

/// The token for `claims`, under the signing key.
pub fn sign(keys: &TraceKeys, claims: &Claims) -> String {
    let Some((id, key)) = keys.keyed().next() else {
        // `TraceKeys` always holds a key (it refuses to be built empty).
        return String::new();
    };
    let payload = URL_SAFE_NO_PAD.encode(
        [
            claims.tenant.as_str(),
            claims.recipient.as_str(),
            claims.campaign.as_str(),
            &claims.issued.to_string(),
        ]
        .join("\0"),
    );
    let signed = format!("{VERSION}.{id}.{payload}");
    let mac = hmac::sign(key, &[LABEL, signed.as_bytes()].concat());
    format!("{signed}.{}", URL_SAFE_NO_PAD.encode(mac.as_ref()))
}

/// What a token names, if one of the keys made it exactly.
pub fn verify(keys: &TraceKeys, token: &str) -> Option<Claims> {
    let token = token.trim();
    let (signed, mac) = token.rsplit_once('.')?;
    let mut parts = signed.splitn(3, '.');
    let (version, id, payload) = (parts.next()?, parts.next()?, parts.next()?);
    if version != VERSION || payload.contains('.') {
        return None;
    }
    let (_, key) = keys.keyed().find(|(known, _)| *known == id)?;
    let mac = URL_SAFE_NO_PAD.decode(mac).ok()?;
    hmac::verify(key, &[LABEL, signed.as_bytes()].concat(), &mac).ok()?;
    let payload = String::from_utf8(URL_SAFE_NO_PAD.decode(payload).ok()?).ok()?;
    let mut fields = payload.split('\0');
    let claims = Claims {
        tenant: fields.next()?.to_string(),
        recipient: fields.next()?.to_string(),
        campaign: fields.next()?.to_string(),
        issued: fields.next()?.parse().ok()?,
    };
    (fields.next().is_none() && !claims.tenant.is_empty() && !claims.recipient.is_empty()).then_some(claims)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::complaints::attribution::Attribution;
    use crate::config::TraceKeyConfig;

    fn keys(id: &str, fill: u8) -> TraceKeys {
        TraceKeys::from_config(&[TraceKeyConfig {
            id: id.into(),
            secret: base64::engine::general_purpose::STANDARD.encode([fill; 32]),
        }])
        .unwrap()
    }

    fn claims() -> Claims {
        Claims {
            tenant: "acme".into(),
            recipient: "bob@dest.example".into(),
            campaign: "00ab12cd34ef5678".into(),
            issued: 1_800_000_000,
        }
    }

    #[test]
    fn a_token_verifies_to_its_claims_and_is_safe_everywhere() {
        let keys = keys("k1", 1);
        let token = sign(&keys, &claims());
        assert!(token.starts_with("u1.k1."), "{token}");
        assert!(
            token.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)),
            "{token}"
        );
        assert_eq!(verify(&keys, &token), Some(claims()));
    }

    #[test]
    fn forged_altered_and_foreign_tokens_verify_to_nothing() {
        let keys = keys("k1", 1);
        let token = sign(&keys, &claims());
        let (signed, mac) = token.rsplit_once('.').unwrap();
        let mut other = claims();
        other.recipient = "victim@dest.example".into();
        let (forged_signed, _) = sign(&keys, &other)
            .rsplit_once('.')
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .unwrap();
        assert_eq!(verify(&keys, &format!("{forged_signed}.{mac}")), None);
        assert_eq!(verify(&self::keys("k1", 2), &token), None);
        for bad in ["", "u1", "u1.k1.abc.def", signed, "nonsense"] {
            assert_eq!(verify(&keys, bad), None, "{bad}");
        }
        // A trace header made with the same key is not a token.
        let trace = keys.sign(&Attribution {
            tenant: "acme".into(),
            campaign: "c".into(),
            queue_id: "q".into(),
        });
        assert_eq!(verify(&keys, &trace.replacen("1.", "u1.", 1)), None);
    }
}

//! Attribution: the fields every relayed message carries so that a complaint about it, weeks
//! later and from any mailbox provider, leads back to the tenant, the campaign and the message.
//!
//! - `Feedback-ID: campaign:tenant:profile:SenderId` (Google's format: the first three are
//!   identifiers Google aggregates its feedback-loop figures by, the last names the sender), where
//!   a `:` or `%` inside an identifier is written `%3A` / `%25`, so the four fields stay apart.
//! - `X-Aupgate-Ref: 1.<key id>.<payload>.<mac>`: the tenant, campaign and queue id
//!   (`payload`, base64url of the three joined by NUL) under an HMAC-SHA256 (`mac`, base64url) with
//!   the server's trace key `key id`. It is signed, not secret: a reader who decodes the payload
//!   learns the tenant and campaign ids (which `Feedback-ID` states in clear anyway, as the
//!   feedback loops require) and the queue id. A forged or altered value attributes nothing:
//!   [`TraceKeys::verify`] accepts only a value made with one of the configured keys. Keys rotate by adding a new key first (it signs) and keeping the old ones
//!   (they still verify).
//! - optionally CFBL (RFC 9477): `CFBL-Address` (the gateway's feedback address, with
//!   `; report=arf`) and `CFBL-Feedback-ID` (the same value as `X-Aupgate-Ref`, which is already
//!   tamper-proof, as RFC 9477 section 3.2 asks).
//!
//! The fields go on top of the message before it is signed, and the gateway's DKIM signature
//! covers them (`auth::keys::SIGNED_HEADERS`). A tenant cannot pass its own value off as the
//! gateway's: the trace header and the CFBL fields are the gateway's own ([`Attributor::own_fields`]),
//! so any copy the tenant put on its message is removed and ours is always added, whatever the
//! tenant's own DKIM signature covers (`h=` is read from a signature nobody verified, so it must
//! not decide what attributes the message). A tenant signature covering them breaks, which only a
//! forger copying another tenant's trace header would do. `Feedback-ID` is only a label for the
//! mailbox providers' aggregate figures and attributes nothing here: it is left out when the
//! tenant's signature covers it, so as not to break that signature.

use std::path::Path;

use aws_lc_rs::hmac;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde::{Deserialize, Serialize};

use crate::config::{FeedbackConfig, TraceKeyConfig};

/// The trace header's name.
pub const TRACE_HEADER: &str = "X-Aupgate-Ref";

/// The campaign the trace header names when the message's campaign was not known (the store
/// could not say): no campaign, which two complaints never share.
pub const NO_CAMPAIGN: &str = "-";

/// Version prefix of the trace header's value.
const VERSION: &str = "1";

/// Length of a generated trace key (bytes).
const KEY_BYTES: usize = 32;

/// The file under `data_dir` holding the generated trace key when none is configured.
pub const GENERATED_KEYS_FILE: &str = "trace-keys.toml";

/// What an attribution names.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attribution {
    pub tenant: String,
    pub campaign: String,
    pub queue_id: String,
}

/// The trace keys: the first signs, every one verifies.
#[derive(Clone)]
pub struct TraceKeys {
    keys: Vec<(String, hmac::Key)>,
}

impl std::fmt::Debug for TraceKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ids: Vec<&str> = self.keys.iter().map(|(id, _)| id.as_str()).collect();
        f.debug_struct("TraceKeys").field("ids", &ids).finish()
    }
}

/// Why the trace keys could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("trace key: {0}")]
    Invalid(String),
    #[error("no trace key")]
    Empty,
    #[error("{path}: {message}")]
    File { path: String, message: String },
}

/// The generated keys file: `[[key]] id, secret`.
#[derive(Serialize, Deserialize)]
struct KeysFile {
    key: Vec<TraceKeyConfig>,
}

impl TraceKeys {
    /// Keys from their configured form (base64 secrets), the first signing.
    pub fn from_config(entries: &[TraceKeyConfig]) -> Result<TraceKeys, KeyError> {
        let mut keys = Vec::with_capacity(entries.len());
        for entry in entries {
            if let Some(problem) = entry.problem() {
                return Err(KeyError::Invalid(problem));
            }
            let secret = entry
                .secret_bytes()
                .ok_or_else(|| KeyError::Invalid(entry.id.clone()))?;
            keys.push((entry.id.clone(), hmac::Key::new(hmac::HMAC_SHA256, &secret)));
        }
        if keys.is_empty() {
            return Err(KeyError::Empty);
        }
        Ok(TraceKeys { keys })
    }

    /// The configured keys, or when none is configured the key generated under `data_dir` (made
    /// and written, readable by the owner only, at first start). Several nodes share keys by
    /// configuring them on every node.
    pub fn load(config: &FeedbackConfig, data_dir: &Path) -> Result<TraceKeys, KeyError> {
        if !config.trace_keys.is_empty() {
            return TraceKeys::from_config(&config.trace_keys);
        }
        let path = data_dir.join(GENERATED_KEYS_FILE);
        let file_error = |message: String| KeyError::File {
            path: path.display().to_string(),
            message,
        };
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                let file: KeysFile = toml::from_str(&text).map_err(|e| file_error(e.to_string()))?;
                TraceKeys::from_config(&file.key)
            }
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                let entry = generate_key();
                let text = toml::to_string(&KeysFile {
                    key: vec![entry.clone()],
                })
                .map_err(|e| file_error(e.to_string()))?;
                write_private(&path, text.as_bytes()).map_err(|e| file_error(e.to_string()))?;
                tracing::info!(path = %path.display(), id = %entry.id, "generated the trace key");
                TraceKeys::from_config(&[entry])
            }
            Err(error) => Err(file_error(error.to_string())),
        }
    }

    /// The id of the signing key.
    pub fn current_id(&self) -> &str {
        &self.keys[0].0
    }

    /// The trace header's value for `attribution`, under the signing key.
    pub fn sign(&self, attribution: &Attribution) -> String {
        let (id, key) = &self.keys[0];
        let payload = URL_SAFE_NO_PAD.encode(
            [
                attribution.tenant.as_str(),
                attribution.campaign.as_str(),
                attribution.queue_id.as_str(),
            ]
            .join("\0"),
        );
        let signed = format!("{VERSION}.{id}.{payload}");
        let mac = hmac::sign(key, signed.as_bytes());
        format!("{signed}.{}", URL_SAFE_NO_PAD.encode(mac.as_ref()))
    }

    /// What a trace header's value attributes, if one of the keys made it exactly; `None` for a
    /// forged, altered, truncated or unknown-key value.
    pub fn verify(&self, value: &str) -> Option<Attribution> {
        let value: String = value.chars().filter(|c| !c.is_whitespace()).collect();
        let (signed, mac) = value.rsplit_once('.')?;
        let mut parts = signed.splitn(3, '.');
        let (version, id, payload) = (parts.next()?, parts.next()?, parts.next()?);
        if version != VERSION || payload.contains('.') {
            return None;
        }
        let key = &self.keys.iter().find(|(known, _)| known == id)?.1;
        let mac = URL_SAFE_NO_PAD.decode(mac).ok()?;
        hmac::verify(key, signed.as_bytes(), &mac).ok()?;
        let payload = String::from_utf8(URL_SAFE_NO_PAD.decode(payload).ok()?).ok()?;
        let mut fields = payload.split('\0');
        let attribution = Attribution {
            tenant: fields.next()?.to_string(),
            campaign: fields.next()?.to_string(),
            queue_id: fields.next()?.to_string(),
        };
        fields.next().is_none().then_some(attribution)
    }
}

/// A new random key with an id naming the day it was made (`k20261206-1a2b`).
pub fn generate_key() -> TraceKeyConfig {
    use rand::Rng;
    let mut secret = [0u8; KEY_BYTES];
    rand::rng().fill(&mut secret);
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let day = crate::smtp::trace::yyyymmdd(secs);
    let tag: u16 = rand::rng().random();
    TraceKeyConfig {
        id: format!("k{day}-{tag:04x}"),
        secret: base64::engine::general_purpose::STANDARD.encode(secret),
    }
}

fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

/// `Feedback-ID` value: `campaign:tenant:profile:sender_id`, each identifier with `%` and `:`
/// escaped (and anything outside printable ASCII), so the fields never run into each other.
pub fn feedback_id(campaign: &str, tenant: &str, profile: &str, sender_id: &str) -> String {
    [campaign, tenant, profile, sender_id]
        .iter()
        .map(|field| escape_identifier(field))
        .collect::<Vec<_>>()
        .join(":")
}

fn escape_identifier(field: &str) -> String {
    let mut out = String::with_capacity(field.len());
    for byte in field.bytes() {
        if byte.is_ascii_graphic() && byte != b':' && byte != b'%' && byte != b';' {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// Makes the attribution fields of accepted messages: the `[feedback]` settings and the keys.
#[derive(Debug)]
pub struct Attributor {
    config: FeedbackConfig,
    keys: TraceKeys,
}

impl Attributor {
    pub fn new(config: FeedbackConfig, keys: TraceKeys) -> Attributor {
        Attributor { config, keys }
    }

    /// The keys, to verify trace headers with.
    pub fn keys(&self) -> &TraceKeys {
        &self.keys
    }

    /// The fields that are the gateway's alone: the trace header and, when `[feedback]
    /// cfbl_address` is set, the CFBL pair. The tenant's copies of them are removed from every
    /// accepted message before ours go on top.
    pub fn own_fields(&self) -> &'static [&'static str] {
        const ALL: &[&str] = &[TRACE_HEADER, "CFBL-Address", "CFBL-Feedback-ID"];
        match self.config.cfbl_address {
            Some(_) => ALL,
            None => &ALL[..1],
        }
    }

    /// The fields for the top of an accepted message (each ending in CRLF): Feedback-ID, the
    /// trace header and, when `[feedback] cfbl_address` is set, the CFBL pair. Feedback-ID is
    /// left out when the tenant's own DKIM signature covers it (`covered(name)`, even by its
    /// absence): adding it would break the tenant's signature. The others
    /// ([`Attributor::own_fields`]) are always added.
    pub fn fields(&self, attribution: &Attribution, profile: &str, covered: impl Fn(&str) -> bool) -> String {
        let reference = self.keys.sign(attribution);
        let feedback_id = feedback_id(
            &attribution.campaign,
            &attribution.tenant,
            profile,
            &self.config.sender_id,
        );
        let mut fields = String::new();
        let mut add = |name: &str, value: &str| fields.push_str(&format!("{name}: {value}\r\n"));
        if !covered("Feedback-ID") {
            add("Feedback-ID", &feedback_id);
        }
        add(TRACE_HEADER, &reference);
        if let Some(address) = &self.config.cfbl_address {
            add("CFBL-Address", &format!("{address}; report=arf"));
            add("CFBL-Feedback-ID", &reference);
        }
        fields
    }
}

/// The values of the trace header fields in a header block the gateway wrote (a queue entry's
/// prefix), unfolded, from the top; verify each with [`TraceKeys::verify`].
pub fn trace_values(header_block: &str) -> impl Iterator<Item = &str> {
    let prefix = format!("{}:", TRACE_HEADER.to_ascii_lowercase());
    header_block.split("\r\n").filter_map(move |line| {
        let head = line.get(..prefix.len())?;
        head.eq_ignore_ascii_case(&prefix).then(|| line[prefix.len()..].trim())
    })
}

impl TraceKeys {
    /// The keys with their ids, the signing one first: for another signed value of the
    /// gateway's (the unsubscribe token), which separates its input from the trace header's.
    pub(crate) fn keyed(&self) -> impl Iterator<Item = (&str, &hmac::Key)> {
        self.keys.iter().map(|(id, key)| (id.as_str(), key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(ids: &[(&str, u8)]) -> TraceKeys {
        let entries: Vec<TraceKeyConfig> = ids
            .iter()
            .map(|(id, fill)| TraceKeyConfig {
                id: id.to_string(),
                secret: base64::engine::general_purpose::STANDARD.encode([*fill; 32]),
            })
            .collect();
        TraceKeys::from_config(&entries).expect("keys")
    }

    fn sample() -> Attribution {
        Attribution {
            tenant: "acme".into(),
            campaign: "00ab12cd34ef5678".into(),
            queue_id: "0005F1A2B3C4D500000001".into(),
        }
    }

    #[test]
    fn a_signed_reference_verifies_to_what_it_names() {
        let keys = keys(&[("k1", 1)]);
        let value = keys.sign(&sample());
        assert!(value.starts_with("1.k1."), "{value}");
        assert!(!value.contains("acme"), "opaque: {value}");
        assert_eq!(keys.verify(&value), Some(sample()));
        // Folded over two lines, as a header may arrive.
        let folded = value.replacen('.', ".\r\n\t", 2);
        assert_eq!(keys.verify(&folded), Some(sample()));
    }

    #[test]
    fn forged_altered_or_unknown_references_attribute_nothing() {
        let keys = keys(&[("k1", 1)]);
        let value = keys.sign(&sample());
        let (signed, mac) = value.rsplit_once('.').unwrap();
        // Another tenant's name in the payload, the old MAC kept.
        let mut other = sample();
        other.tenant = "victim".into();
        let forged_payload = keys.sign(&other);
        let (forged_signed, _) = forged_payload.rsplit_once('.').unwrap();
        assert_eq!(keys.verify(&format!("{forged_signed}.{mac}")), None);
        // One character of the MAC changed.
        let mut bad_mac = mac.to_string();
        let last = bad_mac.pop().unwrap();
        bad_mac.push(if last == 'A' { 'B' } else { 'A' });
        assert_eq!(keys.verify(&format!("{signed}.{bad_mac}")), None);
        // Made with a key we do not have, under the same id.
        assert_eq!(keys.verify(&self::keys(&[("k1", 2)]).sign(&sample())), None);
        // Garbage and truncation.
        for bad in ["", "1", "1.k1", "1.k1.abc", "2.k1.abc.def", "nonsense", signed] {
            assert_eq!(keys.verify(bad), None, "{bad}");
        }
    }

    #[test]
    fn an_old_key_still_verifies_after_rotation_and_the_new_one_signs() {
        let old = keys(&[("k1", 1)]);
        let before = old.sign(&sample());
        let rotated = keys(&[("k2", 9), ("k1", 1)]);
        assert_eq!(rotated.verify(&before), Some(sample()));
        assert!(rotated.sign(&sample()).starts_with("1.k2."));
        assert_eq!(rotated.current_id(), "k2");
    }

    #[test]
    fn only_feedback_id_is_left_out_when_a_tenant_signature_covers_it() {
        let config = FeedbackConfig {
            cfbl_address: Some("fbl@gw.example".into()),
            ..FeedbackConfig::default()
        };
        let attributor = Attributor::new(config, keys(&[("k1", 1)]));
        let all = attributor.fields(&sample(), "default", |_| false);
        let names: Vec<&str> = all.lines().filter_map(|l| l.split(':').next()).collect();
        assert_eq!(names, ["Feedback-ID", TRACE_HEADER, "CFBL-Address", "CFBL-Feedback-ID"]);
        assert!(all.starts_with("Feedback-ID: 00ab12cd34ef5678:acme:default:aupgate\r\n"));
        let some = attributor.fields(&sample(), "default", |name| name.eq_ignore_ascii_case("feedback-id"));
        assert!(
            !some.starts_with("Feedback-ID:") && !some.contains("\nFeedback-ID:"),
            "{some}"
        );
        assert!(some.starts_with(TRACE_HEADER), "{some}");
        // A signature covering the gateway's own fields decides nothing: they are all added.
        let forged = attributor.fields(&sample(), "default", |name| !name.eq_ignore_ascii_case("feedback-id"));
        let names: Vec<&str> = forged.lines().filter_map(|l| l.split(':').next()).collect();
        assert_eq!(names, ["Feedback-ID", TRACE_HEADER, "CFBL-Address", "CFBL-Feedback-ID"]);
        assert_eq!(
            attributor.own_fields(),
            [TRACE_HEADER, "CFBL-Address", "CFBL-Feedback-ID"]
        );
        let without_cfbl = Attributor::new(FeedbackConfig::default(), keys(&[("k1", 1)]));
        assert_eq!(without_cfbl.own_fields(), [TRACE_HEADER]);
    }

    #[test]
    fn feedback_id_keeps_its_four_fields_apart() {
        assert_eq!(
            feedback_id("00ab", "acme", "default", "aupgate"),
            "00ab:acme:default:aupgate"
        );
        assert_eq!(
            feedback_id("00ab", "a:b%c", "x y", "aupgate"),
            "00ab:a%3Ab%25c:x%20y:aupgate"
        );
    }

    #[test]
    fn keys_are_checked() {
        let good = generate_key();
        assert_eq!(good.problem(), None, "{}", good.id);
        let bad_id = TraceKeyConfig {
            id: "has space".into(),
            ..good.clone()
        };
        assert!(matches!(TraceKeys::from_config(&[bad_id]), Err(KeyError::Invalid(_))));
        let short = TraceKeyConfig {
            secret: "c2hvcnQ=".into(),
            ..good
        };
        assert!(matches!(TraceKeys::from_config(&[short]), Err(KeyError::Invalid(_))));
        assert!(matches!(TraceKeys::from_config(&[]), Err(KeyError::Empty)));
    }

    #[test]
    fn a_generated_key_is_written_once_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let config = FeedbackConfig::default();
        let first = TraceKeys::load(&config, dir.path()).expect("generated");
        let second = TraceKeys::load(&config, dir.path()).expect("read back");
        assert_eq!(first.current_id(), second.current_id());
        assert_eq!(second.verify(&first.sign(&sample())), Some(sample()));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(dir.path().join(GENERATED_KEYS_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o077, 0, "owner only: {mode:o}");
        }
    }
}

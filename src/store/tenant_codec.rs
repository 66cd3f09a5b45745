//! How a tenant record is laid out as separate fields, the one table both backends read: RocksDB
//! keys are `part(tenant) ++ field`, Redis hash fields are `field`. A field is `part(name)` for a
//! scalar, `part(name) ++ part(item)` for one domain or one credential; values are JSON.
//!
//! Each field is written on its own, so no writer ever reads and rewrites another's field. The
//! `id` field marks a complete record: a tenant exists iff it is there.
//!
//! Records of earlier versions (one JSON document with an `extra` bag) are converted here too
//! ([`from_legacy`]); they are read as they are and rewritten as fields by the first seed.

use serde::Deserialize;

use super::key::push_part;
use super::{StoreError, TenantChange, TenantCredential, TenantDomain, TenantField, TenantRecord, TenantState};

const ID: &str = "id";
const NAME: &str = "name";
const CONTACT: &str = "contact";
const PROFILE: &str = "profile";
const LIMITS: &str = "limits";
const NETWORKS: &str = "networks";
const STATE: &str = "state";
const LADDER_SINCE: &str = "ladder_since";
const DOMAIN: &str = "domain";
const CREDENTIAL: &str = "credential";

/// `(field, value)` pairs of one record.
pub(crate) type Fields = Vec<(Vec<u8>, Vec<u8>)>;

/// One field write: a value, or `None` to delete the field.
pub(crate) type FieldWrite = (Vec<u8>, Option<Vec<u8>>);

fn scalar(name: &str) -> Vec<u8> {
    let mut f = Vec::with_capacity(4 + name.len());
    push_part(&mut f, name.as_bytes());
    f
}

fn item(name: &str, item: &str) -> Vec<u8> {
    let mut f = scalar(name);
    push_part(&mut f, item.as_bytes());
    f
}

/// The field marking a complete record.
pub(crate) fn id_field() -> Vec<u8> {
    scalar(ID)
}

fn json<T: serde::Serialize + ?Sized>(value: &T) -> Vec<u8> {
    // Serialising these plain types cannot fail.
    serde_json::to_vec(value).unwrap_or_default()
}

fn set_field(field: &TenantField) -> (Vec<u8>, Vec<u8>) {
    match field {
        TenantField::Name(v) => (scalar(NAME), json(v)),
        TenantField::Contact(v) => (scalar(CONTACT), json(v)),
        TenantField::Profile(v) => (scalar(PROFILE), json(v)),
        TenantField::Limits(v) => (scalar(LIMITS), json(v)),
        TenantField::Networks(v) => (scalar(NETWORKS), json(v)),
        TenantField::State(v) => (scalar(STATE), json(v)),
        TenantField::LadderSince(v) => (scalar(LADDER_SINCE), json(v)),
    }
}

/// The write one change makes.
pub(crate) fn change(change: &TenantChange) -> FieldWrite {
    match change {
        TenantChange::Set(field) => {
            let (f, v) = set_field(field);
            (f, Some(v))
        }
        TenantChange::PutDomain(d) => (item(DOMAIN, &d.domain), Some(json(d))),
        TenantChange::RemoveDomain(name) => (item(DOMAIN, name), None),
        TenantChange::PutCredential(c) => (item(CREDENTIAL, &c.username), Some(json(&c.password_hash))),
        TenantChange::RemoveCredential(name) => (item(CREDENTIAL, name), None),
    }
}

/// Every field of a whole record (a create or a seed).
pub(crate) fn record(rec: &TenantRecord) -> Fields {
    let mut out = vec![(id_field(), json(&rec.id))];
    for field in [
        TenantField::Name(rec.name.clone()),
        TenantField::Contact(rec.contact.clone()),
        TenantField::Profile(rec.profile.clone()),
        TenantField::Limits(rec.limits),
        TenantField::Networks(rec.networks.clone()),
        TenantField::State(rec.state),
    ] {
        out.push(set_field(&field));
    }
    if let Some(at) = rec.ladder_since {
        out.push(set_field(&TenantField::LadderSince(at)));
    }
    for d in &rec.domains {
        out.push((item(DOMAIN, &d.domain), json(d)));
    }
    for c in &rec.credentials {
        out.push((item(CREDENTIAL, &c.username), json(&c.password_hash)));
    }
    out
}

/// Splits one length-prefixed part off the front of `bytes`.
pub(crate) fn split_part(bytes: &[u8]) -> Option<(&[u8], &[u8])> {
    let len = u32::from_be_bytes(bytes.get(..4)?.try_into().ok()?) as usize;
    let part = bytes.get(4..4 + len)?;
    Some((part, &bytes[4 + len..]))
}

fn corrupt(what: String) -> StoreError {
    StoreError::corrupt("tenant", what)
}

fn utf8(bytes: &[u8]) -> Result<&str, StoreError> {
    std::str::from_utf8(bytes).map_err(|_| corrupt("field name is not UTF-8".into()))
}

/// The record from its fields; `None` when the `id` field is missing (no such tenant).
/// Unknown fields are skipped (written by a later version).
pub(crate) fn decode(fields: Fields) -> Result<Option<TenantRecord>, StoreError> {
    let mut rec = TenantRecord::new("", "");
    let mut complete = false;
    for (field, value) in fields {
        let (name, rest) = split_part(&field).ok_or_else(|| corrupt("malformed field name".into()))?;
        let sub = || -> Result<String, StoreError> {
            let (sub, _) = split_part(rest).ok_or_else(|| corrupt("malformed item name".into()))?;
            Ok(utf8(sub)?.to_string())
        };
        match utf8(name)? {
            ID => {
                rec.id = serde_json::from_slice(&value)?;
                complete = true;
            }
            NAME => rec.name = serde_json::from_slice(&value)?,
            CONTACT => rec.contact = serde_json::from_slice(&value)?,
            PROFILE => rec.profile = serde_json::from_slice(&value)?,
            LIMITS => rec.limits = serde_json::from_slice(&value)?,
            NETWORKS => rec.networks = serde_json::from_slice(&value)?,
            STATE => rec.state = serde_json::from_slice(&value)?,
            LADDER_SINCE => rec.ladder_since = Some(serde_json::from_slice(&value)?),
            DOMAIN => {
                let d: TenantDomain = serde_json::from_slice(&value)?;
                if d.domain != sub()? {
                    return Err(corrupt(format!("domain entry `{}` under another name", d.domain)));
                }
                rec.domains.push(d);
            }
            CREDENTIAL => rec.credentials.push(TenantCredential {
                username: sub()?,
                password_hash: serde_json::from_slice(&value)?,
            }),
            _ => {}
        }
    }
    if !complete {
        return Ok(None);
    }
    rec.domains.sort_by(|a, b| a.domain.cmp(&b.domain));
    rec.credentials.sort_by(|a, b| a.username.cmp(&b.username));
    Ok(Some(rec))
}

/// A record as earlier versions stored it: the ladder state and a JSON bag.
#[derive(Deserialize)]
struct LegacyRecord {
    id: String,
    name: String,
    state: TenantState,
    #[serde(default)]
    extra: serde_json::Value,
}

/// The domain entries earlier versions kept in `extra.verification`.
#[derive(Deserialize)]
struct LegacyDomain {
    domain: String,
    #[serde(default)]
    token: String,
    #[serde(default)]
    verified: bool,
}

/// Reads a record of an earlier version. It held the state, the verification entries and the
/// ladder restart; everything else came from the configuration (which seeds it, see
/// [`merge_legacy`]).
pub(crate) fn from_legacy(bytes: &[u8]) -> Result<TenantRecord, StoreError> {
    let legacy: LegacyRecord = serde_json::from_slice(bytes)?;
    let mut rec = TenantRecord::new(&legacy.id, &legacy.name);
    rec.state = legacy.state;
    rec.ladder_since = legacy.extra.get("ladder_since").and_then(serde_json::Value::as_u64);
    if let Some(list) = legacy.extra.get("verification") {
        let domains: Vec<LegacyDomain> = serde_json::from_value(list.clone())?;
        rec.domains = domains
            .into_iter()
            .map(|d| TenantDomain {
                domain: d.domain,
                token: d.token,
                verified: d.verified,
            })
            .collect();
    }
    if let Some(contact) = legacy.extra.get("contact").and_then(serde_json::Value::as_str) {
        rec.contact = Some(contact.to_string());
    }
    rec.domains.sort_by(|a, b| a.domain.cmp(&b.domain));
    Ok(rec)
}

/// The record a seed writes over a legacy one: what the operator and the ladder changed
/// (state, ladder restart, domain verification) from the legacy record, the rest from the seed.
pub(crate) fn merge_legacy(legacy: TenantRecord, seed: &TenantRecord) -> TenantRecord {
    let mut merged = seed.clone();
    merged.state = legacy.state;
    merged.ladder_since = legacy.ladder_since;
    for domain in legacy.domains {
        match merged.domains.iter_mut().find(|d| d.domain == domain.domain) {
            Some(existing) => {
                existing.verified |= domain.verified;
                if existing.token.is_empty() {
                    existing.token = domain.token;
                }
            }
            None => merged.domains.push(domain),
        }
    }
    merged.domains.sort_by(|a, b| a.domain.cmp(&b.domain));
    merged
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> TenantRecord {
        let mut rec = TenantRecord::new("acme", "Acme");
        rec.contact = Some("abuse@acme.example".into());
        rec.profile = "strict".into();
        rec.limits.messages_per_hour = Some(50);
        rec.networks = vec!["192.0.2.0/24".into()];
        rec.domains = vec![TenantDomain {
            domain: "acme.example".into(),
            token: "abc".into(),
            verified: true,
        }];
        rec.credentials = vec![TenantCredential {
            username: "acme".into(),
            password_hash: "$argon2id$x".into(),
        }];
        rec.state = TenantState::Warned;
        rec.ladder_since = Some(7);
        rec
    }

    #[test]
    fn a_record_round_trips_through_its_fields() {
        let rec = sample();
        assert_eq!(decode(record(&rec)).expect("decode"), Some(rec));
    }

    #[test]
    fn fields_without_the_id_are_no_record() {
        let fields: Vec<_> = record(&sample())
            .into_iter()
            .filter(|(f, _)| *f != id_field())
            .collect();
        assert_eq!(decode(fields).expect("decode"), None);
    }

    #[test]
    fn a_legacy_record_keeps_its_state_and_verifications() {
        let legacy = br#"{"id":"acme","name":"Acme","state":"suspended","extra":{
            "networks":["10.0.0.0/8"],"ladder_since":5,
            "verification":[{"domain":"acme.example","token":"t","verified":true,"record":"x"}]}}"#;
        let rec = from_legacy(legacy).expect("legacy");
        assert_eq!(rec.state, TenantState::Suspended);
        assert_eq!(rec.ladder_since, Some(5));
        assert_eq!(rec.verified_domains().collect::<Vec<_>>(), vec!["acme.example"]);
        let merged = merge_legacy(rec, &sample());
        assert_eq!(merged.state, TenantState::Suspended);
        assert_eq!(merged.profile, "strict");
        assert_eq!(merged.credentials.len(), 1);
    }
}

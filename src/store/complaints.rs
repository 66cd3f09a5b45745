//! What the store keeps for complaint intake: the Message-ID index (which accepted message a
//! Message-ID names, for attributing a complaint whose returned message lost its trace header)
//! and the complaints themselves, deduplicated by their key.
//!
//! The store does not read a complaint: it keeps the caller's encoding (`record`) with the few
//! fields it indexes by (id, dedup key, tenant). Complaint ids sort by time: `<received_at ms,
//! 13 digits>-<8 hex>`, so a range of ids is a range of time and a page of ids a page of time.

use std::time::Duration;

use crate::store::StoreError;

/// How long the Message-ID index remembers an accepted message: feedback loops report within
/// days, a complaint about mail older than this is attributed by its trace header or not at all.
pub const MESSAGE_ORIGIN_RETENTION: Duration = Duration::from_secs(90 * 86_400);

/// Longest dedup key the store accepts (callers pass a hash).
pub const MAX_DEDUP_KEY: usize = 128;

/// The accepted message a Message-ID names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MessageOrigin {
    pub tenant: String,
    pub campaign: Option<String>,
    pub queue_id: String,
    /// [`recipient_digest`]s of the message's recipients, so a report naming a recipient the
    /// message never had is seen for what it is; empty when not recorded (more than
    /// [`MAX_INDEXED_RECIPIENTS`], or an entry written before they were).
    pub recipients: Vec<String>,
}

/// Recipients recorded per indexed message; a message to more keeps none (reports about it are
/// then counted once per message, whatever recipient they name).
pub const MAX_INDEXED_RECIPIENTS: usize = 1000;

/// A recipient as the Message-ID index keeps it: the first 8 bytes of the SHA-256 of its
/// identity (`policy::recipient::identity`), in hex.
pub fn recipient_digest(identity: &str) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, identity.as_bytes());
    super::key::hex(&digest.as_ref()[..8])
}

impl MessageOrigin {
    /// `tenant NUL campaign NUL queue_id NUL digest,digest,...`: compact, and none of the
    /// fields holds a NUL (tenant ids and queue ids are restricted, campaign ids and digests are
    /// hex).
    pub(crate) fn encode(&self) -> Vec<u8> {
        [
            self.tenant.as_str(),
            self.campaign.as_deref().unwrap_or(""),
            self.queue_id.as_str(),
            &self.recipients.join(","),
        ]
        .join("\0")
        .into_bytes()
    }

    pub(crate) fn decode(bytes: &[u8]) -> Result<MessageOrigin, StoreError> {
        let text = std::str::from_utf8(bytes).map_err(|_| StoreError::corrupt("message origin", "not UTF-8"))?;
        let mut parts = text.split('\0');
        match (parts.next(), parts.next(), parts.next(), parts.next(), parts.next()) {
            (Some(tenant), Some(campaign), Some(queue_id), recipients, None) => Ok(MessageOrigin {
                tenant: tenant.to_string(),
                campaign: (!campaign.is_empty()).then(|| campaign.to_string()),
                queue_id: queue_id.to_string(),
                recipients: recipients
                    .unwrap_or("")
                    .split(',')
                    .filter(|d| !d.is_empty())
                    .map(str::to_string)
                    .collect(),
            }),
            _ => Err(StoreError::corrupt("message origin", "not three or four fields")),
        }
    }
}

/// The index key of a Message-ID: the first 16 bytes of its SHA-256 (angle brackets and
/// surrounding whitespace removed first), so every entry has the same small size.
pub fn message_id_digest(message_id: &str) -> [u8; 16] {
    let id = message_id.trim();
    let id = id.strip_prefix('<').unwrap_or(id);
    let id = id.strip_suffix('>').unwrap_or(id).trim();
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, id.as_bytes());
    let mut out = [0u8; 16];
    out.copy_from_slice(&digest.as_ref()[..16]);
    out
}

/// Which complaints a list reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ComplaintScope<'a> {
    /// Every complaint.
    All,
    /// One tenant's.
    Tenant(&'a str),
    /// Those attributed to no tenant.
    Unattributed,
}

/// A stored complaint: what the store indexes it by, and the caller's encoding of the rest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredComplaint {
    pub id: String,
    pub dedup_key: String,
    pub tenant: Option<String>,
    pub record: Vec<u8>,
}

/// What storing a complaint did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ComplaintPut {
    /// Stored.
    New,
    /// A complaint with the same dedup key is stored under `id`; nothing was written.
    Duplicate { id: String },
}

/// A complaint's value in either backend: tenant marker and tenant, dedup key, record.
pub(crate) fn encode_complaint(complaint: &StoredComplaint) -> Vec<u8> {
    let mut out = Vec::with_capacity(complaint.record.len() + 64);
    let (marker, tenant) = match &complaint.tenant {
        Some(tenant) => (b"t", tenant.as_str()),
        None => (b"u", ""),
    };
    crate::store::key::push_part(&mut out, marker);
    crate::store::key::push_part(&mut out, tenant.as_bytes());
    crate::store::key::push_part(&mut out, complaint.dedup_key.as_bytes());
    crate::store::key::push_part(&mut out, &complaint.record);
    out
}

pub(crate) fn decode_complaint(id: &str, bytes: &[u8]) -> Result<StoredComplaint, StoreError> {
    let parts = crate::store::key::decode_parts(bytes).ok_or_else(|| StoreError::corrupt("complaint", "bad parts"))?;
    let [marker, tenant, dedup, record] =
        <[Vec<u8>; 4]>::try_from(parts).map_err(|_| StoreError::corrupt("complaint", "not four parts"))?;
    let text = |bytes: Vec<u8>| String::from_utf8(bytes).map_err(|_| StoreError::corrupt("complaint", "not UTF-8"));
    Ok(StoredComplaint {
        id: id.to_string(),
        dedup_key: text(dedup)?,
        tenant: if marker == b"t" { Some(text(tenant)?) } else { None },
        record,
    })
}

/// Refuses a complaint the store cannot index.
pub(crate) fn check_complaint(complaint: &StoredComplaint) -> Result<(), StoreError> {
    if complaint.dedup_key.is_empty() || complaint.dedup_key.len() > MAX_DEDUP_KEY {
        return Err(StoreError::InvalidArgument("dedup key of 1..=128 bytes".into()));
    }
    if complaint.id.is_empty()
        || complaint.id.len() > 64
        || !complaint.id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
    {
        return Err(StoreError::InvalidArgument(format!("complaint id `{}`", complaint.id)));
    }
    Ok(())
}

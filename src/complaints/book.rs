//! [`ComplaintBook`]: the [`ComplaintSink`] intake hands every complaint to. It stores the
//! complaint (once per dedup key, atomically, in either store backend), suppresses the
//! complaining recipient for the tenant (reason `complaint`), audits it, then calls the further
//! effects (counts, ladders) in order. It is also the [`ComplaintLog`] the ladders read.
//!
//! Order, so that a failure loses nothing and nothing counts twice: the complaint is stored
//! first (a store failure is an error: the reporter is told to try again, `451 4.3.0`); then
//! the suppression and the effects, in order, any failure an error too (`451 4.3.0`); last the
//! complaint's "effects done" marker (`complaints.effects_done` + its id). The reporter's
//! retry is a duplicate; a duplicate whose marker is missing runs the suppression and the
//! effects again, on the complaint as first stored. Each is idempotent per complaint (the
//! suppression is a set; the ladders count and step once per dedup key), so a retry completes
//! what failed and never counts twice. The audit record is written once, for the new
//! complaint (its failure logged).
//!
//! An unattributed complaint is stored and audited in the gateway's own log; it has no effect
//! on any tenant.

use std::sync::Arc;

use super::model::{Complaint, ComplaintError, ComplaintFut, ComplaintLog, ComplaintSink, Recorded};
use crate::store::{AuditRecord, ComplaintPut, ComplaintScope, Key, RateStore, StoredComplaint, Suppression};

/// The suppression reason a complaint writes.
pub const SUPPRESSION_REASON: &str = "complaint";
/// The audit log of complaints attributed to no tenant (the gateway's, as for address lockouts).
pub const UNATTRIBUTED_AUDIT: &str = crate::smtp::auth_guard::GATEWAY_AUDIT;
/// Most complaints one `ComplaintLog::received` answers.
const MAX_RECEIVED: usize = 10_000;

/// How long a complaint's "effects done" marker is kept (a retry later than this runs the
/// effects again; the ladders' own markers still count it once).
const EFFECTS_KEPT: std::time::Duration = super::counts::MONTHS_KEPT;

/// The "effects done" marker of complaint `id` (in its tenant's keys; the gateway's when
/// unattributed).
fn done_key(id: &str, complaint: &Complaint) -> Key {
    Key::new(
        "complaints.effects_done",
        complaint.tenant.as_deref().unwrap_or(UNATTRIBUTED_AUDIT),
    )
    .part(id)
}

/// Stores complaints and applies their effects.
pub struct ComplaintBook {
    store: Arc<dyn RateStore>,
    effects: Vec<Arc<dyn ComplaintSink>>,
}

impl ComplaintBook {
    /// A book over `store` that calls `effects` (in order) for every new complaint.
    pub fn new(store: Arc<dyn RateStore>, effects: Vec<Arc<dyn ComplaintSink>>) -> ComplaintBook {
        ComplaintBook { store, effects }
    }

    /// One complaint by id.
    pub async fn get(&self, id: &str) -> Result<Option<StoredEntry>, ComplaintError> {
        match self.store.complaint_get(id).await? {
            Some(stored) => Ok(Some(decode(&stored)?)),
            None => Ok(None),
        }
    }

    /// A page of complaints of `scope`, newest first, older than the id `before` (empty: from
    /// the newest).
    pub async fn page(
        &self,
        scope: ComplaintScope<'_>,
        before: &str,
        limit: usize,
    ) -> Result<Vec<StoredEntry>, ComplaintError> {
        let stored = self.store.complaints_list(scope, "", before, limit).await?;
        stored.iter().map(decode).collect()
    }

    async fn apply(&self, id: &str, complaint: &Complaint) -> Result<(), ComplaintError> {
        let (Some(tenant), Some(recipient)) = (&complaint.tenant, &complaint.recipient) else {
            return Ok(());
        };
        let entry = Suppression {
            address: recipient.clone(),
            at: complaint.received_at,
            reason: SUPPRESSION_REASON.into(),
        };
        self.store.suppression_add(tenant, &entry).await?;
        tracing::info!(tenant = %tenant, complaint = id, "complaining recipient suppressed");
        Ok(())
    }

    /// The suppression and every effect, then the "effects done" marker; the first failure
    /// is the answer (the marker is not written, the retry runs them again).
    async fn complete(&self, id: &str, complaint: &Complaint) -> Result<(), ComplaintError> {
        self.apply(id, complaint).await?;
        for effect in &self.effects {
            if let Err(error) = effect.record(complaint).await {
                tracing::error!(complaint = %id, %error, "a complaint's effect failed: the reporter is asked to retry");
                return Err(error);
            }
        }
        self.store
            .events_check_and_add(&done_key(id, complaint), crate::queue::now_ms(), EFFECTS_KEPT, 1)
            .await?;
        Ok(())
    }

    async fn effects_done(&self, id: &str, complaint: &Complaint) -> Result<bool, ComplaintError> {
        let count = self
            .store
            .events_count(&done_key(id, complaint), crate::queue::now_ms(), EFFECTS_KEPT)
            .await?;
        Ok(count > 0)
    }

    async fn audit(&self, id: &str, complaint: &Complaint) {
        let record = AuditRecord {
            at: complaint.received_at,
            actor: "complaints".into(),
            action: "complaint".into(),
            target: id.to_string(),
            reason: complaint.feedback_type.clone(),
            detail: serde_json::json!({
                "reporter": complaint.reporter,
                "recipient": complaint.recipient,
                "campaign": complaint.campaign,
                "queue_id": complaint.queue_id,
                "message_id": complaint.original_message_id,
                "attributed_by": complaint.attributed_by,
                "source": complaint.source,
                "urgent": complaint.urgent,
            }),
        };
        let log = complaint.tenant.as_deref().unwrap_or(UNATTRIBUTED_AUDIT);
        if let Err(error) = self.store.audit_append(log, &record).await {
            tracing::error!(complaint = id, %error, "audit of a complaint failed");
        }
    }
}

/// A stored complaint and its id.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredEntry {
    pub id: String,
    pub complaint: Complaint,
}

/// The id of a complaint: its time (13 digits of unix ms) and the start of its dedup key, so
/// ids sort by time.
pub fn complaint_id(complaint: &Complaint) -> String {
    let tail: String = complaint
        .dedup_key
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(8)
        .collect();
    format!("{:013}-{tail}", complaint.received_at)
}

/// The record the store keeps: the complaint as JSON without the returned message, a newline
/// (never inside serde_json's output), then the returned message's bytes as they are.
fn encode(complaint: &Complaint) -> Result<Vec<u8>, ComplaintError> {
    let head = Complaint {
        original: Vec::new(),
        ..complaint.clone()
    };
    let mut out = serde_json::to_vec(&head).map_err(|e| ComplaintError::Invalid(e.to_string()))?;
    out.push(b'\n');
    out.extend_from_slice(&complaint.original);
    Ok(out)
}

fn decode(stored: &StoredComplaint) -> Result<StoredEntry, ComplaintError> {
    let corrupt = |what: &str| {
        ComplaintError::Store(crate::store::StoreError::corrupt(
            "complaint",
            format!("{}: {what}", stored.id),
        ))
    };
    let split = stored
        .record
        .iter()
        .position(|&b| b == b'\n')
        .ok_or_else(|| corrupt("no header"))?;
    let mut complaint: Complaint =
        serde_json::from_slice(&stored.record[..split]).map_err(|e| corrupt(&e.to_string()))?;
    complaint.original = stored.record[split + 1..].to_vec();
    Ok(StoredEntry {
        id: stored.id.clone(),
        complaint,
    })
}

impl ComplaintSink for ComplaintBook {
    fn record<'a>(&'a self, complaint: &'a Complaint) -> ComplaintFut<'a, Recorded> {
        Box::pin(async move {
            let id = complaint_id(complaint);
            let stored = StoredComplaint {
                id: id.clone(),
                dedup_key: complaint.dedup_key.clone(),
                tenant: complaint.tenant.clone(),
                record: encode(complaint)?,
            };
            match self.store.complaint_put(&stored).await? {
                ComplaintPut::Duplicate { id } => {
                    if !self.effects_done(&id, complaint).await? {
                        // A retry after a failed effect: complete them on the stored complaint.
                        let first = match self.get(&id).await? {
                            Some(entry) => entry.complaint,
                            None => complaint.clone(),
                        };
                        self.complete(&id, &first).await?;
                    }
                    Ok(Recorded::Duplicate { id })
                }
                ComplaintPut::New => {
                    self.audit(&id, complaint).await;
                    self.complete(&id, complaint).await?;
                    Ok(Recorded::New { id })
                }
            }
        })
    }
}

impl ComplaintLog for ComplaintBook {
    fn received<'a>(&'a self, tenant: &'a str, from: u64, to: u64) -> ComplaintFut<'a, Vec<Complaint>> {
        Box::pin(async move {
            let (since, before) = (format!("{from:013}"), format!("{to:013}"));
            let stored = self
                .store
                .complaints_list(ComplaintScope::Tenant(tenant), &since, &before, MAX_RECEIVED)
                .await?;
            let mut out = stored
                .iter()
                .map(|s| decode(s).map(|entry| entry.complaint))
                .collect::<Result<Vec<_>, _>>()?;
            out.reverse();
            Ok(out)
        })
    }
}

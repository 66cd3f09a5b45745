//! The bookkeeping of an accepted message, held by the session as one value from the decision
//! until the message is queued or not. [`PendingAcceptance::commit`] keeps the charges the DATA
//! checks made (the quotas among them: the message counts before its `250` goes out), and starts
//! writing the acceptance's audit record and Message-ID index entry in a task of their own while
//! the `250` goes out: the [`Recording`] it returns is what the session awaits before its next
//! acceptance and before it ends, so the session reads its next command meanwhile (on Redis the
//! write is a group commit, `store::redis::group`: a round trip that no longer holds up the
//! next message) and at most one acceptance per session is being recorded.
//! [`PendingAcceptance::abandon`], or dropping it, gives back the counters the DATA checks
//! charged. The session never calls the steps itself, so it cannot get their order wrong or
//! forget one.

use std::future::Future;
use std::sync::Arc;

use super::engine::Engine;
use super::stage::Charges;
use crate::store::{AuditRecord, MessageOrigin, RateStore};

/// An acceptance's audit record and Message-ID entry being written (by a task of their own).
#[must_use = "await `written` before the session's next acceptance and before it ends"]
#[derive(Debug)]
pub struct Recording(tokio::task::JoinHandle<()>);

impl Recording {
    /// Returns once the writes are done (a failed one is logged where it failed).
    pub async fn written(self) {
        if let Err(error) = self.0.await {
            tracing::error!(%error, "recording an acceptance ended abnormally");
        }
    }
}

/// A message the checks accepted, not yet queued.
#[must_use = "commit it once the message is queued, or abandon it"]
pub struct PendingAcceptance<'a> {
    engine: &'a Engine,
    tenant: String,
    recipients: usize,
    /// The recipients' digests for the Message-ID index (`store::recipient_digest`).
    recipient_digests: Vec<String>,
    campaign: Option<String>,
    /// Taken by `commit` and `abandon`; what is left on drop is given back.
    charges: Option<Charges>,
}

impl std::fmt::Debug for PendingAcceptance<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PendingAcceptance")
            .field("tenant", &self.tenant)
            .field("recipients", &self.recipients)
            .field("campaign", &self.campaign)
            .field("charges", &self.charges)
            .finish()
    }
}

impl<'a> PendingAcceptance<'a> {
    pub(super) fn new(
        engine: &'a Engine,
        tenant: String,
        recipients: &[String],
        campaign: Option<String>,
        charges: Charges,
    ) -> PendingAcceptance<'a> {
        let recipient_digests = if recipients.len() <= crate::store::complaints::MAX_INDEXED_RECIPIENTS {
            recipients
                .iter()
                .map(|r| crate::store::complaints::recipient_digest(r))
                .collect()
        } else {
            Vec::new()
        };
        PendingAcceptance {
            engine,
            tenant,
            recipients: recipients.len(),
            recipient_digests,
            campaign,
            charges: Some(charges),
        }
    }

    /// The campaign the acceptance is audited under, when the caller looked it up itself (the
    /// offline tools do when the checks did not).
    pub fn with_campaign(mut self, campaign: Option<String>) -> PendingAcceptance<'a> {
        self.campaign = campaign;
        self
    }

    /// The message is queued as `queue_id`: the DATA checks' charges stay (the message counts);
    /// the acceptance's audit record and Message-ID entry start being written, then `reply_sent`
    /// runs (the session flushing its `250`). Returns its result, and the writes in flight.
    pub async fn commit<T>(
        mut self,
        queue_id: &str,
        message_id: Option<&str>,
        reply_sent: impl Future<Output = T>,
    ) -> (T, Recording) {
        self.charges = None;
        crate::telemetry::accepted(&self.tenant, self.recipients as u64);
        let recording = self.record(queue_id, message_id);
        (reply_sent.await, recording)
    }

    /// The message was not queued (the client was told so): the counters the checks charged
    /// are given back.
    pub async fn abandon(mut self) {
        if let Some(charges) = self.charges.take() {
            self.engine.recent().forget(&charges);
            charges.release(self.engine.store().as_ref()).await;
        }
    }

    /// Starts writing the acceptance's audit record and Message-ID entry.
    fn record(&self, queue_id: &str, message_id: Option<&str>) -> Recording {
        let record = AuditRecord {
            at: self.engine.now(),
            actor: "policy".into(),
            action: "accept".into(),
            target: queue_id.into(),
            reason: String::new(),
            detail: serde_json::json!({
                "recipients": self.recipients,
                "message_id": message_id,
                "campaign": self.campaign,
            }),
        };
        // The Message-ID index complaint intake attributes a report by when the returned
        // message lost its trace header (`complaints::intake`).
        let origin = message_id.filter(|id| !id.trim().is_empty()).map(|message_id| {
            let origin = MessageOrigin {
                tenant: self.tenant.clone(),
                campaign: self.campaign.clone(),
                queue_id: queue_id.to_string(),
                recipients: self.recipient_digests.clone(),
            };
            (message_id.to_string(), origin)
        });
        let store = Arc::clone(self.engine.store());
        let tenant = self.tenant.clone();
        Recording(tokio::spawn(write_record(store, tenant, record, origin)))
    }
}

/// Writes an acceptance's audit record and Message-ID entry together (on Redis they share a
/// group commit); a failure is logged, the message being queued already.
async fn write_record(
    store: Arc<dyn RateStore>,
    tenant: String,
    record: AuditRecord,
    origin: Option<(String, MessageOrigin)>,
) {
    let queue_id = record.target.as_str();
    let audited = async {
        if let Err(error) = store.audit_append(&tenant, &record).await {
            tracing::error!(%tenant, queue_id, %error, "audit of an accepted message failed");
        }
    };
    let indexed = async {
        let Some((message_id, origin)) = &origin else {
            return;
        };
        let retention = crate::store::complaints::MESSAGE_ORIGIN_RETENTION;
        if let Err(error) = store.message_origin_put(message_id, origin, record.at, retention).await {
            tracing::error!(%tenant, queue_id, %error, "indexing the Message-ID failed");
        }
    };
    tokio::join!(audited, indexed);
}

impl Drop for PendingAcceptance<'_> {
    /// Dropped without a decision (the session ended while the message was being queued): the
    /// counters are given back in the background, as `abandon` would.
    fn drop(&mut self) {
        let Some(charges) = self.charges.take() else {
            return;
        };
        if charges.is_empty() {
            return;
        }
        self.engine.recent().forget(&charges);
        let store = self.engine.store().clone();
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime.spawn(async move { charges.release(store.as_ref()).await });
            }
            Err(_) => {
                tracing::error!(tenant = %self.tenant, "a pending acceptance dropped outside the runtime; its counters stay charged");
            }
        }
    }
}

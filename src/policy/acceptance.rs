//! The bookkeeping of an accepted message, held by the session as one value from the decision
//! until the message is queued or not: [`PendingAcceptance::commit`] keeps the charges the DATA
//! checks made (the quotas among them) and audits the acceptance and indexes its Message-ID
//! before the `250` goes out (on Redis one group commit, `store::redis::group`, carries both);
//! [`PendingAcceptance::abandon`], or dropping it, gives back the
//! counters the DATA checks charged. The session never calls the steps itself, so it cannot get
//! their order wrong or forget one.

use std::future::Future;

use super::engine::Engine;
use super::stage::Charges;
use crate::store::AuditRecord;

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

    /// The message is queued as `queue_id`: the DATA checks' charges stay (the message counts),
    /// the acceptance is audited and its Message-ID indexed, then `reply_sent` runs (the session
    /// flushing its `250`) and its result is returned. The writes go before the `250`, so they
    /// hold up no later command of the session.
    pub async fn commit<T>(
        mut self,
        queue_id: &str,
        message_id: Option<&str>,
        reply_sent: impl Future<Output = T>,
    ) -> T {
        self.charges = None;
        crate::telemetry::accepted(&self.tenant, self.recipients as u64);
        self.audit(queue_id, message_id).await;
        reply_sent.await
    }

    /// The message was not queued (the client was told so): the counters the checks charged
    /// are given back.
    pub async fn abandon(mut self) {
        if let Some(charges) = self.charges.take() {
            charges.release(self.engine.store().as_ref()).await;
        }
    }

    async fn audit(&self, queue_id: &str, message_id: Option<&str>) {
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
        // The audit record and the Message-ID index entry are written together (on Redis they
        // share a group commit, `store::redis::group`).
        let store = self.engine.store();
        let audited = async {
            if let Err(error) = store.audit_append(&self.tenant, &record).await {
                tracing::error!(tenant = %self.tenant, queue_id, %error, "audit of an accepted message failed");
            }
        };
        // The Message-ID index complaint intake attributes a report by when the returned
        // message lost its trace header (`complaints::intake`).
        let indexed = async {
            let Some(message_id) = message_id.filter(|id| !id.trim().is_empty()) else {
                return;
            };
            let origin = crate::store::MessageOrigin {
                tenant: self.tenant.clone(),
                campaign: self.campaign.clone(),
                queue_id: queue_id.to_string(),
                recipients: self.recipient_digests.clone(),
            };
            let retention = crate::store::complaints::MESSAGE_ORIGIN_RETENTION;
            if let Err(error) = store
                .message_origin_put(message_id, &origin, record.at, retention)
                .await
            {
                tracing::error!(tenant = %self.tenant, queue_id, %error, "indexing the Message-ID failed");
            }
        };
        tokio::join!(audited, indexed);
    }
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

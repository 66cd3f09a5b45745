//! One step of a complaint ladder taken: the event (who: `policy:<rule>`, why: the reason with
//! its numbers and the provider's clause), the tenant's state raised (never lowered), a tenant
//! block on suspension (lifted by an operator like any other block, which restarts the
//! ladders), and the notice to the tenant (a suspension's only when this step suspended; no
//! warning to a tenant already suspended). A notice that cannot be sent is logged: the step
//! stands either way. The event is written last: a step is taken (counted by the ladders) only
//! once its state and block are written.

use super::events::{Kind, LadderRule};
use super::ladder::ComplaintLadders;
use super::model::{Notice, NoticeKind};
use crate::policy::escalation::rank;
use crate::store::{Block, BlockScope, Event, StoreError, TenantChange, TenantField};
use crate::tenant::{Tenant, TenantState};

/// What a step does.
pub(super) struct Action {
    pub kind: Kind,
    pub rule: LadderRule,
    /// The state the tenant moves to, if higher than its state now.
    pub state: Option<TenantState>,
    pub notice: Option<NoticeKind>,
    /// Why, in words the tenant reads (the rule and its numbers).
    pub reason: String,
    /// Numbers and names for the event (`by` and `reason` are added).
    pub detail: serde_json::Value,
    /// Copies of the reported mails for the notice.
    pub copies: Vec<Vec<u8>>,
}

/// The event kind and notice of a step that moves the tenant to `state`.
pub(super) fn kind_of(state: TenantState) -> (Kind, NoticeKind) {
    match state {
        TenantState::Active | TenantState::Warned => (Kind::Warning, NoticeKind::Warning),
        TenantState::FinalWarning => (Kind::FinalWarning, NoticeKind::FinalWarning),
        TenantState::Suspended => (Kind::Suspension, NoticeKind::Suspension),
    }
}

impl ComplaintLadders {
    /// Takes `action` on `tenant` (the live one) at `at`; the new state when it moved. A
    /// suspension notice goes only when this step suspended the tenant (not again to a tenant
    /// already suspended).
    pub(super) async fn act(
        &self,
        tenant: &Tenant,
        at: u64,
        action: Action,
    ) -> Result<Option<TenantState>, StoreError> {
        let store = self.store();
        let by = format!("policy:{}", action.rule.as_str());
        let mut detail = action.detail;
        if let Some(map) = detail.as_object_mut() {
            map.insert("by".into(), serde_json::json!(by));
            map.insert("reason".into(), serde_json::json!(action.reason));
        }
        let event = Event {
            at,
            kind: action.kind.as_str().into(),
            rule: Some(action.rule.as_str().into()),
            detail,
        };
        let mut changed = None;
        if let Some(target) = action.state.filter(|s| rank(*s) > rank(tenant.state.get())) {
            store
                .tenant_update(&tenant.id, &[TenantChange::Set(TenantField::State(target))])
                .await?;
            if target == TenantState::Suspended {
                let block = Block {
                    tenant: tenant.id.clone(),
                    scope: BlockScope::Tenant,
                    target: String::new(),
                    by: by.clone(),
                    reason: action.reason.clone(),
                    at,
                    expires_at: None,
                };
                store.block_add(&block).await?;
            }
            changed = Some(target);
        }
        // The event last: the ladders count a step as taken by its event, so a step whose state
        // or block could not be written is taken again by the retry (both writes are
        // idempotent), and the live state moves only once all three are written.
        store.event_append(&tenant.id, &event).await?;
        if let Some(target) = changed {
            tenant.state.set(target);
            tracing::warn!(tenant = %tenant.id, rule = action.rule.as_str(), state = ?target, reason = %action.reason, "complaint ladder: tenant state changed");
        }
        // A suspension is told when it happens; a suspended tenant is not warned again.
        let suspended_now = changed == Some(TenantState::Suspended);
        let suspended_before = changed.is_none() && tenant.state.get() == TenantState::Suspended;
        let told = |kind: &NoticeKind| match kind {
            NoticeKind::Suspension => suspended_now,
            NoticeKind::Warning | NoticeKind::FinalWarning => !suspended_before,
            NoticeKind::CaseOpened | NoticeKind::CaseDeadlineNear | NoticeKind::Unsubscribe => true,
        };
        if let Some(kind) = action.notice.filter(told) {
            self.notify(Notice {
                tenant: tenant.id.clone(),
                kind,
                reason: action.reason,
                copies: action.copies,
            })
            .await;
        }
        Ok(changed)
    }

    /// Sends a notice; a failure is logged (the step it reports stands).
    pub(super) async fn notify(&self, notice: Notice) {
        match self.notices.send(&notice).await {
            Ok(queue_id) => {
                tracing::info!(tenant = %notice.tenant, kind = ?notice.kind, %queue_id, "complaint notice queued")
            }
            Err(error) => {
                tracing::error!(tenant = %notice.tenant, kind = ?notice.kind, %error, "complaint notice not sent")
            }
        }
    }
}

//! The escalation ladder: every violation is an event on the tenant; the profile's steps
//! (`events` within `window` → state) move the tenant through warned → final warning →
//! suspended. Suspension places a tenant block (by `policy:<rule>`) that only an operator lifts.
//! Each step a violation takes is sent to the tenant's contact as a notice (warning, final
//! warning, suspension), as a complaint ladder's is. Failures here are logged: the refusal that
//! caused the event stands either way.
//! Complaint- and bounce-rate crossings (`complaints::rates`) are events on this ladder too:
//! they come in through [`escalate`].

use super::engine::Env;
use crate::complaints::model::{Notice, NoticeKind, NoticeSender};
use crate::store::{Block, BlockScope, Event, TenantChange, TenantField};
use crate::tenant::{Tenant, TenantDirectory, TenantState};

/// Whether an event of `kind` is a rung of this ladder: a violation, or a complaint- or
/// bounce-rate crossing.
fn counts_on_ladder(kind: &str) -> bool {
    kind == "violation" || kind == crate::complaints::events::Kind::Rate.as_str()
}

pub(crate) fn rank(state: TenantState) -> u8 {
    match state {
        TenantState::Active => 0,
        TenantState::Warned => 1,
        TenantState::FinalWarning => 2,
        TenantState::Suspended => 3,
    }
}

/// Records a violation of `rule` by `tenant` in `campaign` and applies the ladder. One campaign
/// breaking one rule is one event per window, however many of its messages are refused: the
/// ladder counts incidents, not refused messages.
pub async fn record_violation(
    env: &Env<'_>,
    tenants: Option<&TenantDirectory>,
    notices: Option<&dyn NoticeSender>,
    tenant: &Tenant,
    rule: crate::policy::Rule,
    campaign: &str,
) {
    // The store keys, the event and the logs carry the rule's id.
    let rule = rule.as_str();
    let once = crate::store::Key::new("violation.once", &tenant.id)
        .part(rule)
        .part(campaign);
    let window = env.profile.bulk.window.get().max(env.profile.mail_bomb.window.get());
    match env.store.events_check_and_add(&once, env.now, window, 1).await {
        Ok(charge) if !charge.admitted => return,
        Ok(_) => {}
        Err(error) => {
            tracing::error!(tenant = %tenant.id, rule, %error, "recording a violation failed");
            return;
        }
    }
    let event = Event {
        at: env.now,
        kind: "violation".into(),
        rule: Some(rule.to_string()),
        detail: serde_json::Value::Null,
    };
    match escalate(env, tenants, tenant, rule, &event).await {
        Ok(Some(state)) => {
            if let Some(notices) = notices {
                tell(notices, tenant, rule, state).await;
            }
        }
        Ok(None) => {}
        Err(error) => tracing::error!(tenant = %tenant.id, rule, %error, "recording a violation failed"),
    }
}

/// Sends the tenant's contact the notice of the step the violation ladder took (the state it
/// moved `tenant` to for breaking `rule`); a notice that cannot be sent is logged, the step
/// stands.
async fn tell(notices: &dyn NoticeSender, tenant: &Tenant, rule: &str, state: TenantState) {
    let (kind, now) = match state {
        TenantState::Active | TenantState::Warned => (NoticeKind::Warning, "warned"),
        TenantState::FinalWarning => (NoticeKind::FinalWarning, "on final warning"),
        TenantState::Suspended => (NoticeKind::Suspension, "suspended"),
    };
    let notice = Notice {
        tenant: tenant.id.clone(),
        kind,
        reason: format!(
            "Mail from your account was refused again and again for breaking the rule {rule} \
             (each refusal names it): your provider's escalation ladder now has your account {now}."
        ),
        copies: Vec::new(),
    };
    match notices.send(&notice).await {
        Ok(queue_id) => tracing::info!(tenant = %tenant.id, rule, ?kind, %queue_id, "violation notice queued"),
        Err(error) => tracing::error!(tenant = %tenant.id, rule, ?kind, %error, "violation notice not sent"),
    }
}

/// Records `event` (a rung: see `counts_on_ladder`) for `rule` and applies the ladder; the
/// tenant's new state when it moved.
pub(crate) async fn escalate(
    env: &Env<'_>,
    tenants: Option<&TenantDirectory>,
    tenant: &Tenant,
    rule: &str,
    event: &Event,
) -> Result<Option<TenantState>, crate::store::StoreError> {
    env.store.event_append(&tenant.id, event).await?;
    let steps = &env.profile.escalation.steps;
    if steps.is_empty() {
        return Ok(None);
    }
    let restarted = env.store.tenant_get(&tenant.id).await?.and_then(|r| r.ladder_since);
    let longest = steps.iter().map(|s| s.window.get()).max().unwrap_or_default();
    let from = env.now.saturating_sub(longest.as_millis() as u64);
    let events = env.store.events_range(&tenant.id, from, env.now).await?;
    let mut target = tenant.state.get();
    for step in steps {
        let since = env.now.saturating_sub(step.window.get().as_millis() as u64);
        let count = events
            .iter()
            .filter(|e| counts_on_ladder(&e.kind) && e.at >= since && restarted.is_none_or(|r| e.at > r))
            .count() as u64;
        if count >= step.events && rank(step.state) > rank(target) {
            target = step.state;
        }
    }
    if target == tenant.state.get() {
        return Ok(None);
    }
    // One field: an operator's change of any other field meanwhile stays.
    env.store
        .tenant_update(&tenant.id, &[TenantChange::Set(TenantField::State(target))])
        .await?;
    if target == TenantState::Suspended {
        let block = Block {
            tenant: tenant.id.clone(),
            scope: BlockScope::Tenant,
            target: String::new(),
            by: format!("policy:{rule}"),
            reason: format!("escalation ladder reached suspension after repeated {rule} violations"),
            at: env.now,
            expires_at: None,
        };
        env.store.block_add(&block).await?;
    }
    if let Some(live) = tenants.and_then(|d| d.get(&tenant.id)) {
        live.state.set(target);
    } else {
        tenant.state.set(target);
    }
    tracing::warn!(tenant = %tenant.id, rule, state = ?target, "escalation: tenant state changed");
    Ok(Some(target))
}

//! `tenant.suspended`: a suspended tenant's mail is refused at MAIL FROM until an operator lifts
//! the block, or the tenant block's `expires_at` passes (a suspension without a tenant block —
//! the configuration's — or without an expiry holds until lifted). The reply names the contact
//! path, never internal details. The first message after an expiry lifts the block as an operator
//! would (by `expiry`, audited): the tenant is active again and its ladder starts afresh.

use crate::policy::stage::{AtMail, Check, CheckFuture, Env};
use crate::policy::Rule;
use crate::policy::{MailContext, Verdict};
use crate::store::{AuditRecord, BlockScope, Lift, TenantChange, TenantField};
use crate::tenant::TenantState as State;
use crate::wire::reply::Reply;

pub struct TenantState;

impl Check<AtMail> for TenantState {
    fn check<'a>(&'a self, env: &'a Env<'a>, ctx: &'a MailContext<'a>) -> CheckFuture<'a> {
        if ctx.tenant.state.get() != State::Suspended {
            return super::ready(Ok(Verdict::Continue));
        }
        Box::pin(async move {
            let block = env
                .ops
                .block_get(&ctx.tenant.id, BlockScope::Tenant, "", env.now)
                .await?;
            if block.is_some_and(|block| !block.applies_at(env.now)) {
                expire(env, ctx.tenant).await?;
                return Ok(Verdict::Continue);
            }
            let contact = ctx.tenant.contact();
            let contact = contact.as_deref().unwrap_or("your provider's abuse desk");
            Ok(Verdict::Reject(Reply::refusal(
                554,
                "5.7.1",
                Rule::TenantSuspended,
                format!("Sending is suspended for this account; contact {contact}"),
            )))
        })
    }
}

/// The tenant block ran out: lifted by `expiry`, the tenant active again from now (one node
/// lifts it; the others find it gone and only make the tenant active).
async fn expire(env: &Env<'_>, tenant: &crate::tenant::Tenant) -> Result<(), crate::policy::CheckError> {
    let lift = Lift {
        by: "expiry".into(),
        reason: "the block's expires_at passed".into(),
        at: env.now,
    };
    if let Some(block) = env.store.block_lift(&tenant.id, BlockScope::Tenant, "", &lift).await? {
        let changes = [
            TenantChange::Set(TenantField::State(State::Active)),
            TenantChange::Set(TenantField::LadderSince(env.now)),
        ];
        env.store.tenant_update(&tenant.id, &changes).await?;
        let record = AuditRecord {
            at: env.now,
            actor: "expiry".into(),
            action: "block.expire".into(),
            target: "tenant".into(),
            reason: block.reason.clone(),
            detail: serde_json::json!({ "expires_at": block.expires_at, "by": block.by }),
        };
        env.store.audit_append(&tenant.id, &record).await?;
        tracing::warn!(tenant = %tenant.id, "tenant block expired: active again");
    }
    tenant.state.set(State::Active);
    Ok(())
}

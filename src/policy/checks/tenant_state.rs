//! `tenant.suspended`: a suspended tenant's mail is refused at MAIL FROM until an operator lifts
//! the block, or the tenant block's `expires_at` passes (a suspension without a tenant block —
//! the configuration's — or without an expiry holds until lifted). The reply names the contact
//! path, never internal details.

use crate::policy::engine::{AtMail, Check, CheckFuture, Env};
use crate::policy::Rule;
use crate::policy::{MailContext, Verdict};
use crate::store::BlockScope;
use crate::tenant::TenantState as State;
use crate::wire::reply::Reply;

pub struct TenantState;

impl Check<AtMail> for TenantState {
    fn rule(&self) -> Rule {
        Rule::TenantSuspended
    }

    fn check<'a>(&'a self, env: &'a Env<'a>, ctx: &'a MailContext<'a>) -> CheckFuture<'a> {
        if ctx.tenant.state.get() != State::Suspended {
            return super::ready(Ok(Verdict::Continue));
        }
        Box::pin(async move {
            let block = env.store.block_get(&ctx.tenant.id, BlockScope::Tenant, "").await?;
            if block.is_some_and(|block| !block.applies_at(env.now)) {
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

//! `tenant.suspended`: a suspended tenant's mail is refused at MAIL FROM until an operator lifts
//! the block. The reply names the contact path, never internal details.

use crate::policy::{CheckError, MailCheck, MailContext, Verdict};
use crate::smtp::reply::Reply;
use crate::tenant::TenantState as State;

pub struct TenantState;

impl MailCheck for TenantState {
    fn rule(&self) -> &'static str {
        "tenant.suspended"
    }

    fn check(&self, ctx: &MailContext<'_>) -> Result<Verdict, CheckError> {
        if ctx.tenant.state.get() != State::Suspended {
            return Ok(Verdict::Continue);
        }
        let contact = ctx
            .tenant
            .contact
            .as_deref()
            .unwrap_or("your provider's abuse desk");
        Ok(Verdict::Reject(Reply::new(
            554,
            "5.7.1",
            format!("Sending is suspended for this account; contact {contact} [rule tenant.suspended]"),
        )))
    }
}

//! `sender.domain`: the envelope sender's domain must be one of the tenant's domains (or a
//! subdomain of one). The null sender (bounces) is allowed here; its header From is checked on DATA.

use crate::policy::{CheckError, MailCheck, MailContext, Verdict};
use crate::smtp::command::Path;
use crate::smtp::reply::Reply;

pub struct SenderDomain;

impl MailCheck for SenderDomain {
    fn rule(&self) -> &'static str {
        "sender.domain"
    }

    fn check(&self, ctx: &MailContext<'_>) -> Result<Verdict, CheckError> {
        let Path::Mailbox { domain, .. } = ctx.sender else {
            return Ok(Verdict::Continue);
        };
        if ctx.tenant.owns_domain(domain) {
            return Ok(Verdict::Continue);
        }
        Ok(Verdict::Reject(Reply::new(
            553,
            "5.7.1",
            format!("Sender domain {domain} is not one of your verified domains [rule sender.domain]"),
        )))
    }
}

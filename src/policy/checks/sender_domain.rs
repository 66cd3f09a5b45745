//! `sender.domain`: the envelope sender's domain must be one of the tenant's domains (or a
//! subdomain of one, unless the profile's `[sender_domain] include_subdomains` is off). The null sender (bounces) is allowed here; its header From is checked on DATA.

use crate::policy::stage::{AtMail, Check, CheckFuture, Env};
use crate::policy::Rule;
use crate::policy::{MailContext, Verdict};
use crate::wire::reply::Reply;
use crate::wire::Path;

pub struct SenderDomain;

impl Check<AtMail> for SenderDomain {
    fn check<'a>(&'a self, env: &'a Env<'a>, ctx: &'a MailContext<'a>) -> CheckFuture<'a> {
        let subdomains = env.profile.sender_domain.include_subdomains;
        let verdict = match ctx.sender {
            Path::Mailbox { domain, .. } if !ctx.tenant.owns(domain, subdomains) => Verdict::Reject(Reply::refusal(
                553,
                "5.7.1",
                Rule::SenderDomain,
                format!("Sender domain {domain} is not one of your verified domains"),
            )),
            _ => Verdict::Continue,
        };
        super::ready(Ok(verdict))
    }
}

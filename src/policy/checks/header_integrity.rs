//! The header-integrity check (`headers.*`): runs [`crate::policy::inspect::header_integrity`]
//! on the header block the DATA stage parsed, with the tenant's domains as the owned ones; with
//! `[headers] enabled = false`, only the ownership of the From and Sender domains.

use crate::policy::inspect::header_integrity::{inspect, inspect_ownership};
use crate::policy::stage::{AtData, Check, CheckFuture, DataStage, Env};
use crate::policy::Verdict;

pub struct HeaderIntegrity;

impl Check<AtData> for HeaderIntegrity {
    fn check<'a>(&'a self, env: &'a Env<'a>, stage: &'a DataStage<'a>) -> CheckFuture<'a> {
        let ctx = stage.message;
        let rules = &env.profile.headers;
        let subdomains = env.profile.sender_domain.include_subdomains;
        let owns = |domain: &str| ctx.tenant.owns(domain, subdomains);
        // Off, the header checks still leave sender-domain ownership of From and Sender.
        let refusal = if rules.enabled {
            inspect(ctx.message.headers(), rules, &owns)
        } else {
            inspect_ownership(ctx.message.headers(), &owns)
        };
        let verdict = match refusal {
            Some(refusal) => Verdict::Reject(refusal.reply()),
            None => Verdict::Continue,
        };
        super::ready(Ok(verdict))
    }
}

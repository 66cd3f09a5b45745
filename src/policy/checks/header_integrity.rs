//! The header-integrity check (`headers.*`): runs [`crate::policy::inspect::header_integrity`]
//! on the header block the DATA stage parsed, with the tenant's domains as the owned ones.

use crate::policy::engine::{CheckFuture, DataCheck, Env};
use crate::policy::inspect::header_integrity::inspect;
use crate::policy::{DataContext, Verdict};

use super::campaign::DataFacts;

pub struct HeaderIntegrity;

impl DataCheck for HeaderIntegrity {
    fn rule(&self) -> &'static str {
        "headers.integrity"
    }

    fn check<'a>(&'a self, env: &'a Env<'a>, ctx: &'a DataContext<'a>, _facts: &'a DataFacts) -> CheckFuture<'a> {
        let rules = &env.profile.headers;
        let verdict = if rules.enabled {
            let subdomains = env.profile.sender_domain.include_subdomains;
            match inspect(ctx.headers, rules, &|domain: &str| ctx.tenant.owns(domain, subdomains)) {
                Some(refusal) => Verdict::Reject(refusal.reply()),
                None => Verdict::Continue,
            }
        } else {
            Verdict::Continue
        };
        super::ready(Ok(verdict))
    }
}

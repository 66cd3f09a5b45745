//! `suppression.hard_bounce`: a recipient that hard-bounced for this tenant (the relay records
//! it) is refused at RCPT TO until the tenant's list is cleaned (Pageant Server: "removal of
//! bounced addresses before the next mailing").

use crate::policy::engine::{CheckFuture, Env, RcptCheck};
use crate::policy::recipient::identity;
use crate::policy::{RcptContext, Verdict};
use crate::smtp::reply::Reply;

pub struct Suppressed;

impl RcptCheck for Suppressed {
    fn rule(&self) -> &'static str {
        "suppression.hard_bounce"
    }

    fn check<'a>(&'a self, env: &'a Env<'a>, ctx: &'a RcptContext<'a>) -> CheckFuture<'a> {
        Box::pin(async move {
            if !env.profile.suppression.enabled {
                return Ok(Verdict::Continue);
            }
            let address = identity(&ctx.recipient.to_address(), true);
            if env
                .store
                .suppression_contains(&ctx.tenant.id, &address)
                .await
                .map_err(super::store_error)?
            {
                return Ok(Verdict::Reject(Reply::refusal(
                    550,
                    "5.7.1",
                    "suppression.hard_bounce",
                    format!("Recipient {address} hard-bounced earlier and is suppressed for your account"),
                )));
            }
            Ok(Verdict::Continue)
        })
    }
}

//! `sms_gateway.bulk`: bulk mail to email-to-SMS gateway domains (SocketLabs: "no bulk text
//! messages via email"): more than the profile's number of SMS-gateway recipients of one campaign
//! in the bulk window.

use crate::policy::stage::{key, AtData, Check, CheckFuture, DataStage, Env};
use crate::policy::Rule;
use crate::policy::Verdict;
use crate::wire::reply::Reply;

use super::cap;

pub struct SmsGateway;

impl Check<AtData> for SmsGateway {
    fn check<'a>(&'a self, env: &'a Env<'a>, stage: &'a DataStage<'a>) -> CheckFuture<'a> {
        let (ctx, facts) = (stage.message, stage.facts);
        Box::pin(async move {
            let rule = &env.profile.sms_gateways;
            if !rule.enabled {
                return Ok(Verdict::Continue);
            }
            for recipient in &facts.recipients {
                let domain = recipient.rsplit('@').next().unwrap_or("");
                if !rule.domains.iter().any(|d| d.eq_ignore_ascii_case(domain)) {
                    continue;
                }
                let campaign = facts.campaign(env, ctx).await?;
                let key = key("sms_gateway", &ctx.tenant.id).part(campaign);
                let charge = facts
                    .charge_member(
                        env,
                        key,
                        recipient,
                        env.profile.bulk.window.get(),
                        cap(rule.max_recipients),
                    )
                    .await?;
                if !charge.admitted {
                    return Ok(Verdict::Reject(Reply::refusal(
                        550,
                        "5.7.1", Rule::SmsGatewayBulk,
                        format!(
                            "Bulk mail to email-to-SMS gateways is not allowed (more than {} SMS recipients of one campaign)",
                            rule.max_recipients
                        ),
                    )));
                }
            }
            Ok(Verdict::Continue)
        })
    }
}

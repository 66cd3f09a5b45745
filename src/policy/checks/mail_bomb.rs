//! `mail_bomb.max_messages` (DESIGN.md "Mail bomb"): more than M messages of one campaign to one
//! recipient in any sliding window, counted exactly in a per-recipient event log. The
//! check-and-charge is atomic per key, so racing sessions cannot both take the last slot.

use crate::policy::stage::{key, AtData, Check, CheckFuture, DataStage, Env};
use crate::policy::Rule;
use crate::policy::Verdict;
use crate::store::Key;
use crate::wire::reply::Reply;

use super::{cap, window_text};
use crate::policy::stage::Charge;

pub struct MailBomb;

/// The prefix of a tenant's per-recipient logs; a log's key adds the campaign and the recipient
/// (the usage view lists them under it).
pub fn recipients_prefix(tenant: &str) -> Key {
    key("mail_bomb", tenant)
}

impl Check<AtData> for MailBomb {
    fn check<'a>(&'a self, env: &'a Env<'a>, stage: &'a DataStage<'a>) -> CheckFuture<'a> {
        let (ctx, facts) = (stage.message, stage.facts);
        Box::pin(async move {
            let rule = &env.profile.mail_bomb;
            if !rule.enabled {
                return Ok(Verdict::Continue);
            }
            let campaign = facts.campaign(env, ctx).await?;
            // Every copy counts: envelope recipients sharing an identity (`bob+1@x`, `bob+2@x`)
            // are as many messages to that one mailbox.
            for (recipient, &copies) in facts.recipients.iter().zip(&facts.copies) {
                let key = recipients_prefix(&ctx.tenant.id).part(campaign).part(recipient);
                for _ in 0..copies {
                    let charge = env
                        .ops
                        .events_check_and_add(&key, env.now, rule.window.get(), cap(rule.max_messages))
                        .await?;
                    if charge.admitted {
                        facts.note(Charge::Occurrence {
                            key: key.clone(),
                            window: rule.window.get(),
                        });
                        continue;
                    }
                    return Ok(Verdict::Reject(Reply::refusal(
                        550,
                        "5.7.1",
                        Rule::MailBombMaxMessages,
                        format!(
                            "Mail bomb: more than {} similar messages to {recipient} within {} (campaign {}){}",
                            rule.max_messages,
                            window_text(rule.window.get()),
                            campaign,
                            super::retry_hint(charge.retry_after_ms),
                        ),
                    )));
                }
            }
            Ok(Verdict::Continue)
        })
    }
}

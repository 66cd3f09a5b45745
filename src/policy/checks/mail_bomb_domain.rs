//! `mail_bomb.max_messages_per_domain` (Pageant Server: mail bombing of "a single system"): more
//! than N copies of one campaign to the addresses of one destination domain in the mail-bomb
//! window, counted exactly per recipient in a per-domain event log (a message to three addresses
//! of one domain is three copies to that system). Off unless the profile sets a number; registered
//! bulk senders are not counted here (the bulk rule governs their lists).

use std::collections::BTreeMap;

use crate::policy::stage::{key, AtData, Check, CheckFuture, DataStage, Env};
use crate::policy::Rule;
use crate::policy::Verdict;
use crate::store::Key;
use crate::wire::reply::Reply;

use super::{cap, window_text};
use crate::policy::stage::Charge;

pub struct MailBombDomain;

/// The prefix of a tenant's per-domain logs; a log's key adds the campaign and the domain (the
/// usage view lists them under it).
pub fn domains_prefix(tenant: &str) -> Key {
    key("mail_bomb_domain", tenant)
}

impl Check<AtData> for MailBombDomain {
    fn check<'a>(&'a self, env: &'a Env<'a>, stage: &'a DataStage<'a>) -> CheckFuture<'a> {
        let (ctx, facts) = (stage.message, stage.facts);
        Box::pin(async move {
            let rule = &env.profile.mail_bomb;
            let limit = rule.max_messages_per_domain;
            if !rule.enabled || limit == 0 || env.profile.bulk.registered_senders.iter().any(|t| t == &ctx.tenant.id) {
                return Ok(Verdict::Continue);
            }
            let mut per_domain: BTreeMap<&str, usize> = BTreeMap::new();
            for (recipient, &copies) in facts.recipients.iter().zip(&facts.copies) {
                let domain = recipient.rsplit_once('@').map_or("", |(_, d)| d);
                *per_domain.entry(domain).or_default() += copies as usize;
            }
            let campaign = facts.campaign(env, ctx).await?;
            for (domain, copies) in per_domain {
                let key = domains_prefix(&ctx.tenant.id).part(campaign).part(domain);
                for _ in 0..copies {
                    let charge = env
                        .ops
                        .events_check_and_add(&key, env.now, rule.window.get(), cap(limit))
                        .await?;
                    if !charge.admitted {
                        return Ok(Verdict::Reject(Reply::refusal(
                            550,
                            "5.7.1",
                            Rule::MailBombMaxMessagesPerDomain,
                            format!(
                                "Mail bomb: more than {limit} similar messages to addresses at {domain} within {} (campaign {campaign}){}",
                                window_text(rule.window.get()),
                                super::retry_hint(charge.retry_after_ms),
                            ),
                        )));
                    }
                    facts.note(Charge::Occurrence {
                        key: key.clone(),
                        window: rule.window.get(),
                    });
                }
            }
            Ok(Verdict::Continue)
        })
    }
}

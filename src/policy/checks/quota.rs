//! `quota.*`: per-tenant hourly and daily limits on messages and recipients, with when to retry.
//!
//! Enforced exactly after DATA: once the other checks let the message through, each quota with a
//! limit is charged by check-and-charge (one message, or its recipients), atomic in the store, so
//! concurrent sessions — on one node or several — cannot overshoot a limit; over it the message
//! is deferred (`451 4.7.1`). A charge the message does not keep (a later check or the
//! authentication stage refuses it, or it is not queued) is taken back (`stage::Charges`), so
//! refused mail never uses up a quota — with one exception, shared with the mail-bomb count: when
//! the store's answer to the DATA stage is lost (a timeout after the script ran), the message is
//! deferred (`451 4.3.0`) without knowing what was charged, and the charge stays (on Redis for
//! every message whose DATA stage shared that script call). MAIL FROM (`451 4.7.1`) and RCPT TO
//! (`452 4.5.3`) refuse
//! earlier, with a zero-sized check, what the counts already show over a limit, so a client over
//! its quota does not send the message at all; that early answer may come from a recent read
//! (`policy::recent`), never from a guess. The windows' own error bound is the store's (W/60).
//!
//! [`QUOTAS`] is the one table of the four counters: every check reads it, so a store key is
//! spelled once.

use std::time::Duration;

use crate::policy::profile::Quotas;
use crate::policy::stage::{key, AtData, AtMail, AtRcpt, Check, CheckFuture, DataStage, Env};
use crate::policy::Rule;
use crate::policy::{MailContext, RcptContext, Verdict};
use crate::store::{Charge, Key};
use crate::wire::reply::Reply;

const HOUR: Duration = Duration::from_secs(3_600);
const DAY: Duration = Duration::from_secs(86_400);

/// What a quota counts: one per message, or one per recipient.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counts {
    Messages,
    Recipients,
}

/// One quota: its counter in the store, the rule a refusal names, its limit in the profile.
pub struct Quota {
    /// The store key kind of the counter (`quota.messages.hour`), per tenant.
    pub kind: &'static str,
    pub rule: Rule,
    pub counts: Counts,
    pub window: Duration,
    /// How the refusal names the window (`"hourly"`).
    pub what: &'static str,
    /// The limit (0 = none).
    pub limit: fn(&Quotas) -> u64,
}

/// The four quotas.
pub const QUOTAS: [Quota; 4] = [
    Quota {
        kind: "quota.messages.hour",
        rule: Rule::QuotaMessagesPerHour,
        counts: Counts::Messages,
        window: HOUR,
        what: "hourly",
        limit: |q| q.messages_per_hour,
    },
    Quota {
        kind: "quota.messages.day",
        rule: Rule::QuotaMessagesPerDay,
        counts: Counts::Messages,
        window: DAY,
        what: "daily",
        limit: |q| q.messages_per_day,
    },
    Quota {
        kind: "quota.recipients.hour",
        rule: Rule::QuotaRecipientsPerHour,
        counts: Counts::Recipients,
        window: HOUR,
        what: "hourly",
        limit: |q| q.recipients_per_hour,
    },
    Quota {
        kind: "quota.recipients.day",
        rule: Rule::QuotaRecipientsPerDay,
        counts: Counts::Recipients,
        window: DAY,
        what: "daily",
        limit: |q| q.recipients_per_day,
    },
];

/// True (with the retry time) when `pending` more would exceed `limit`.
async fn over(
    env: &Env<'_>,
    key: &Key,
    limit: u64,
    pending: u64,
    window: Duration,
) -> Result<Option<Option<u64>>, crate::policy::CheckError> {
    if limit == 0 {
        return Ok(None);
    }
    if pending > limit {
        return Ok(Some(None));
    }
    match env
        .ops
        .counter_check_and_add(key, 0, limit - pending, env.now, window)
        .await
    {
        Ok(Charge::Charged { .. }) => Ok(None),
        Ok(Charge::Refused { retry_after_ms, .. }) => Ok(Some(retry_after_ms)),
        Err(error) => Err(error.into()),
    }
}

/// The first quota counting `counts` that `pending` more would exceed, with when to retry.
async fn first_over(
    env: &Env<'_>,
    tenant: &str,
    counts: Counts,
    pending: u64,
) -> Result<Option<(&'static Quota, u64, Option<u64>)>, crate::policy::CheckError> {
    for quota in QUOTAS.iter().filter(|quota| quota.counts == counts) {
        let limit = (quota.limit)(&env.profile.quotas);
        if let Some(retry) = over(env, &key(quota.kind, tenant), limit, pending, quota.window).await? {
            return Ok(Some((quota, limit, retry)));
        }
    }
    Ok(None)
}

pub struct MessageQuota;

impl Check<AtMail> for MessageQuota {
    fn check<'a>(&'a self, env: &'a Env<'a>, ctx: &'a MailContext<'a>) -> CheckFuture<'a> {
        Box::pin(async move {
            let Some((quota, limit, retry)) = first_over(env, &ctx.tenant.id, Counts::Messages, 1).await? else {
                return Ok(Verdict::Continue);
            };
            Ok(Verdict::Defer(refusal(451, "4.7.1", quota, limit, retry)))
        })
    }
}

impl Check<AtData> for MessageQuota {
    fn check<'a>(&'a self, env: &'a Env<'a>, stage: &'a DataStage<'a>) -> CheckFuture<'a> {
        Box::pin(charge(env, stage, Counts::Messages))
    }
}

pub struct RecipientQuota;

impl Check<AtRcpt> for RecipientQuota {
    fn check<'a>(&'a self, env: &'a Env<'a>, ctx: &'a RcptContext<'a>) -> CheckFuture<'a> {
        Box::pin(async move {
            let pending = ctx.accepted_so_far as u64 + 1;
            let Some((quota, limit, retry)) = first_over(env, &ctx.tenant.id, Counts::Recipients, pending).await?
            else {
                return Ok(Verdict::Continue);
            };
            Ok(Verdict::Defer(refusal(452, "4.5.3", quota, limit, retry)))
        })
    }
}

impl Check<AtData> for RecipientQuota {
    fn check<'a>(&'a self, env: &'a Env<'a>, stage: &'a DataStage<'a>) -> CheckFuture<'a> {
        Box::pin(charge(env, stage, Counts::Recipients))
    }
}

/// After DATA: charges every quota counting `counts` that has a limit with the message (one) or
/// its envelope recipients, each by check-and-charge; the first that would go over the limit
/// defers the message (`451 4.7.1`), and the charges made so far are taken back with the
/// message's others.
async fn charge(env: &Env<'_>, stage: &DataStage<'_>, counts: Counts) -> Result<Verdict, crate::policy::CheckError> {
    let ctx = stage.message;
    let n = match counts {
        Counts::Messages => 1,
        Counts::Recipients => ctx.recipients.len() as u64,
    };
    for quota in QUOTAS.iter().filter(|quota| quota.counts == counts) {
        let limit = (quota.limit)(&env.profile.quotas);
        if limit == 0 {
            continue;
        }
        let key = key(quota.kind, &ctx.tenant.id);
        if let Charge::Refused { retry_after_ms, .. } =
            stage.facts.charge_count(env, key, n, limit, quota.window).await?
        {
            return Ok(Verdict::Defer(refusal(451, "4.7.1", quota, limit, retry_after_ms)));
        }
    }
    Ok(Verdict::Continue)
}

/// The refusal of `quota` (limit `limit`), with when to retry.
fn refusal(code: u16, status: &'static str, quota: &Quota, limit: u64, retry: Option<u64>) -> Reply {
    let unit = match quota.counts {
        Counts::Messages => "messages",
        Counts::Recipients => "recipients",
    };
    Reply::refusal(
        code,
        status,
        quota.rule,
        format!(
            "Your {} quota of {limit} {unit} is used up{}",
            quota.what,
            super::retry_hint(retry)
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_names_each_rule_once_in_order() {
        let rules: Vec<&str> = QUOTAS.iter().map(|q| q.rule.as_str()).collect();
        assert_eq!(
            rules,
            [
                "quota.messages_per_hour",
                "quota.messages_per_day",
                "quota.recipients_per_hour",
                "quota.recipients_per_day"
            ]
        );
    }
}

//! `quota.*`: per-tenant hourly and daily limits on messages (checked at MAIL FROM, `451 4.7.1`)
//! and recipients (checked at RCPT TO, `452 4.5.3`), with when to retry. The checks only read
//! (a zero-sized check-and-charge); the counters are charged once the message is queued, before
//! its `250`, so refused mail never uses up a quota and a client that waits for the reply has its
//! next message checked against the new counts. Concurrent sessions may overshoot a limit by the messages
//! in flight; the windows' own error bound is the store's (W/60).
//!
//! [`QUOTAS`] is the one table of the four counters: the checks read it and the charge after
//! acceptance ([`quota_keys`]) reads it, so a store key is spelled once.

use std::time::Duration;

use crate::policy::profile::{Profile, Quotas};
use crate::policy::stage::{key, AtMail, AtRcpt, Check, CheckFuture, Env};
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

/// The counters one accepted message charges: (key, amount, window).
pub fn quota_keys(tenant: &str, recipients: u64, profile: &Profile) -> Vec<(Key, u64, Duration)> {
    QUOTAS
        .iter()
        .filter(|quota| (quota.limit)(&profile.quotas) > 0)
        .map(|quota| {
            let n = match quota.counts {
                Counts::Messages => 1,
                Counts::Recipients => recipients,
            };
            (key(quota.kind, tenant), n, quota.window)
        })
        .collect()
}

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
            Ok(Verdict::Defer(Reply::refusal(
                451,
                "4.7.1",
                quota.rule,
                format!(
                    "Your {} quota of {limit} messages is used up{}",
                    quota.what,
                    super::retry_hint(retry)
                ),
            )))
        })
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
            Ok(Verdict::Defer(Reply::refusal(
                452,
                "4.5.3",
                quota.rule,
                format!(
                    "Your {} quota of {limit} recipients is used up{}",
                    quota.what,
                    super::retry_hint(retry)
                ),
            )))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The charge and the checks read the same counters: every quota a limit turns on is
    /// charged, under the key its check reads.
    #[test]
    fn charges_are_the_checked_counters() {
        let profile = Profile {
            quotas: Quotas {
                messages_per_hour: 10,
                messages_per_day: 0,
                recipients_per_hour: 0,
                recipients_per_day: 100,
            },
            ..Profile::default()
        };
        let charged = quota_keys("t1", 7, &profile);
        let expected: Vec<(Key, u64, Duration)> = vec![
            (key("quota.messages.hour", "t1"), 1, HOUR),
            (key("quota.recipients.day", "t1"), 7, DAY),
        ];
        assert_eq!(charged, expected);
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

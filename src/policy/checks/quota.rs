//! `quota.*`: per-tenant hourly and daily limits on messages (checked at MAIL FROM, `451 4.7.1`)
//! and recipients (checked at RCPT TO, `452 4.5.3`), with when to retry. The checks only read
//! (a zero-sized check-and-charge); the counters are charged once the message is queued, before
//! its `250`, so refused mail never uses up a quota and a client that waits for the reply has its
//! next message checked against the new counts. Concurrent sessions may overshoot a limit by the messages
//! in flight; the windows' own error bound is the store's (W/60).

use std::time::Duration;

use crate::policy::engine::{key, AtMail, AtRcpt, Check, CheckFuture, Env};
use crate::policy::profile::Profile;
use crate::policy::{MailContext, RcptContext, Verdict};
use crate::smtp::reply::Reply;
use crate::store::{Charge, Key};

const HOUR: Duration = Duration::from_secs(3_600);
const DAY: Duration = Duration::from_secs(86_400);

/// The counters one accepted message charges: (key, amount, window).
pub fn quota_keys(tenant: &str, recipients: u64, profile: &Profile) -> Vec<(Key, u64, Duration)> {
    let q = &profile.quotas;
    let mut keys = Vec::new();
    for (kind, limit, n, window) in [
        ("quota.messages.hour", q.messages_per_hour, 1, HOUR),
        ("quota.messages.day", q.messages_per_day, 1, DAY),
        ("quota.recipients.hour", q.recipients_per_hour, recipients, HOUR),
        ("quota.recipients.day", q.recipients_per_day, recipients, DAY),
    ] {
        if limit > 0 {
            keys.push((key(kind, tenant), n, window));
        }
    }
    keys
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
        .store
        .counter_check_and_add(key, 0, limit - pending, env.now, window)
        .await
    {
        Ok(Charge::Charged { .. }) => Ok(None),
        Ok(Charge::Refused { retry_after_ms, .. }) => Ok(Some(retry_after_ms)),
        Err(error) => Err(super::store_error(error)),
    }
}

pub struct MessageQuota;

impl Check<AtMail> for MessageQuota {
    fn rule(&self) -> &'static str {
        "quota.messages"
    }

    fn check<'a>(&'a self, env: &'a Env<'a>, ctx: &'a MailContext<'a>) -> CheckFuture<'a> {
        Box::pin(async move {
            let q = &env.profile.quotas;
            for (kind, rule, limit, window, what) in [
                (
                    "quota.messages.hour",
                    "quota.messages_per_hour",
                    q.messages_per_hour,
                    HOUR,
                    "hourly",
                ),
                (
                    "quota.messages.day",
                    "quota.messages_per_day",
                    q.messages_per_day,
                    DAY,
                    "daily",
                ),
            ] {
                if let Some(retry) = over(env, &key(kind, &ctx.tenant.id), limit, 1, window).await? {
                    return Ok(Verdict::Defer(Reply::refusal(
                        451,
                        "4.7.1",
                        rule,
                        format!(
                            "Your {what} quota of {limit} messages is used up{}",
                            super::retry_hint(retry)
                        ),
                    )));
                }
            }
            Ok(Verdict::Continue)
        })
    }
}

pub struct RecipientQuota;

impl Check<AtRcpt> for RecipientQuota {
    fn rule(&self) -> &'static str {
        "quota.recipients"
    }

    fn check<'a>(&'a self, env: &'a Env<'a>, ctx: &'a RcptContext<'a>) -> CheckFuture<'a> {
        Box::pin(async move {
            let q = &env.profile.quotas;
            let pending = ctx.accepted_so_far as u64 + 1;
            for (kind, rule, limit, window, what) in [
                (
                    "quota.recipients.hour",
                    "quota.recipients_per_hour",
                    q.recipients_per_hour,
                    HOUR,
                    "hourly",
                ),
                (
                    "quota.recipients.day",
                    "quota.recipients_per_day",
                    q.recipients_per_day,
                    DAY,
                    "daily",
                ),
            ] {
                if let Some(retry) = over(env, &key(kind, &ctx.tenant.id), limit, pending, window).await? {
                    return Ok(Verdict::Defer(Reply::refusal(
                        452,
                        "4.5.3",
                        rule,
                        format!(
                            "Your {what} quota of {limit} recipients is used up{}",
                            super::retry_hint(retry)
                        ),
                    )));
                }
            }
            Ok(Verdict::Continue)
        })
    }
}

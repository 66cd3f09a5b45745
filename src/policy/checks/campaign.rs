//! The campaign checks, counted exactly per tenant and campaign (DESIGN.md "Bulk", "Mail bomb"):
//! - `mail_bomb.max_messages`: more than M messages of one campaign to one recipient in any
//!   sliding window (an exact per-recipient event log);
//! - `bulk.max_recipients`: more than N distinct recipients of one campaign in the window (an
//!   exact capped set), unless the tenant is a registered bulk sender and the message carries
//!   List-Unsubscribe (one-click where required) and names the recipient in To;
//! - `sms_gateway.bulk`: bulk mail to email-to-SMS gateway domains.
//!
//! The campaign is found once per message (`DataFacts`): the body's MinHash/LSH band keys are
//! looked up in the store's campaign index, so personalised variants share a campaign id. The
//! check-and-charge calls are atomic per key, so racing sessions cannot both take the last slot.
//! Each charge is noted in [`DataFacts`]; a message that is not accepted after all (refused by a
//! later recipient or check, deferred by authentication, or not queued) has them taken back
//! ([`Charges::release`]), so only accepted mail counts (DESIGN.md step 5).

use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use crate::fingerprint;
use crate::policy::engine::{key, AtData, Check, CheckFuture, DataStage, Env};
use crate::policy::recipient::identity;
use crate::policy::{CheckError, DataContext, Verdict};
use crate::smtp::reply::Reply;
use crate::store::{CampaignMatch, Key, RateStore};

/// One charge a check made for a message.
#[derive(Debug)]
enum Charge {
    /// A new member of a distinct set (a bulk or SMS recipient).
    Member { key: Key, member: String, window: Duration },
    /// One occurrence in an event log (a mail-bomb message).
    Occurrence { key: Key, window: Duration },
}

/// The charges made for one message at one time, to take back if it is not accepted.
#[derive(Debug, Default)]
pub struct Charges {
    at: u64,
    taken: Vec<Charge>,
}

impl Charges {
    /// Takes every charge back. A store failure here is logged and leaves the charge (which can
    /// only make a limit trip earlier, never later).
    pub async fn release(self, store: &dyn RateStore) {
        for charge in self.taken {
            let result = match &charge {
                Charge::Member { key, member, window } => {
                    store.set_release(key, member.as_bytes(), self.at, *window).await
                }
                Charge::Occurrence { key, window } => store.events_release(key, self.at, *window).await,
            };
            if let Err(error) = result {
                tracing::error!(%error, "cannot take back the charge of a message that was not accepted");
            }
        }
    }
}

/// What the DATA checks share about one message. The campaign is looked up on first use, so
/// the cheap checks (headers, attachments) run before the store is touched.
pub struct DataFacts {
    /// Counting identities of the envelope recipients, de-duplicated.
    pub recipients: Vec<String>,
    campaign: tokio::sync::OnceCell<CampaignMatch>,
    charges: Mutex<Vec<Charge>>,
}

impl DataFacts {
    pub fn gather(ctx: &DataContext<'_>, strip_subaddress: bool) -> DataFacts {
        let mut recipients: Vec<String> = ctx
            .recipients
            .iter()
            .map(|r| identity(&r.to_address(), strip_subaddress))
            .collect();
        recipients.sort();
        recipients.dedup();
        DataFacts {
            recipients,
            campaign: tokio::sync::OnceCell::new(),
            charges: Mutex::new(Vec::new()),
        }
    }

    fn note(&self, charge: Charge) {
        self.charges.lock().unwrap_or_else(PoisonError::into_inner).push(charge);
    }

    /// The charges the checks made, all at `at` (the decision's time).
    pub fn into_charges(self, at: u64) -> Charges {
        Charges {
            at,
            taken: self.charges.into_inner().unwrap_or_else(PoisonError::into_inner),
        }
    }

    /// The message's campaign id (fingerprint → store campaign index), computed once.
    pub async fn campaign(&self, env: &Env<'_>, ctx: &DataContext<'_>) -> Result<&str, CheckError> {
        self.campaign
            .get_or_try_init(|| async {
                let print = fingerprint::fingerprint(ctx.message);
                let banding = fingerprint::Banding::for_threshold(env.profile.fingerprint.similarity);
                let band_keys = print.band_keys_with(banding);
                // `Fingerprint::campaign_id`, from the keys already computed.
                let candidate = format!("{:016x}", band_keys.iter().copied().min().unwrap_or(0));
                let window = env.profile.bulk.window.get().max(env.profile.mail_bomb.window.get());
                env.store
                    .campaign_lookup_or_insert(
                        &ctx.tenant.id,
                        &band_keys,
                        &candidate,
                        env.now,
                        window,
                        &ctx.tenant.narrow_blocks.pinned_campaigns(),
                    )
                    .await
                    .map_err(super::store_error)
            })
            .await
            .map(|found| found.id.as_str())
    }

    /// The other campaigns this message's band keys named (merged into its campaign), once
    /// [`DataFacts::campaign`] has run.
    pub fn merged_campaigns(&self) -> &[String] {
        self.campaign
            .get()
            .map(|found| found.merged.as_slice())
            .unwrap_or_default()
    }

    /// The campaign id if it was looked up (for the event log).
    pub fn campaign_if_known(&self) -> &str {
        self.campaign.get().map(|found| found.id.as_str()).unwrap_or("-")
    }
}

fn window_text(window: std::time::Duration) -> String {
    let secs = window.as_secs();
    if secs.is_multiple_of(3_600) {
        format!("{} h", secs / 3_600)
    } else {
        format!("{} min", secs.div_ceil(60))
    }
}

fn cap(value: u64) -> u32 {
    u32::try_from(value).unwrap_or(u32::MAX)
}

pub struct MailBomb;

impl Check<AtData> for MailBomb {
    fn rule(&self) -> &'static str {
        "mail_bomb.max_messages"
    }

    fn check<'a>(&'a self, env: &'a Env<'a>, stage: &'a DataStage<'a>) -> CheckFuture<'a> {
        let (ctx, facts) = (stage.message, stage.facts);
        Box::pin(async move {
            let rule = &env.profile.mail_bomb;
            if !rule.enabled {
                return Ok(Verdict::Continue);
            }
            let campaign = facts.campaign(env, ctx).await?;
            for recipient in &facts.recipients {
                let key = key("mail_bomb", &ctx.tenant.id).part(campaign).part(recipient);
                let charge = env
                    .store
                    .events_check_and_add(&key, env.now, rule.window.get(), cap(rule.max_messages))
                    .await
                    .map_err(super::store_error)?;
                if charge.admitted {
                    facts.note(Charge::Occurrence {
                        key,
                        window: rule.window.get(),
                    });
                } else {
                    return Ok(Verdict::Reject(Reply::refusal(
                        550,
                        "5.7.1",
                        "mail_bomb.max_messages",
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

pub struct Bulk;

impl Bulk {
    /// Registered bulk senders are exempt only with a working unsubscribe and the recipient in To.
    fn exempt(env: &Env<'_>, ctx: &DataContext<'_>, recipient: &str) -> bool {
        let rule = &env.profile.bulk;
        if !rule.registered_senders.iter().any(|t| t == &ctx.tenant.id) {
            return false;
        }
        let Some(unsubscribe) = ctx.headers.first("list-unsubscribe") else {
            return false;
        };
        // RFC 8058: the POST field, and an HTTPS URI to post to.
        if rule.require_one_click
            && !(ctx
                .headers
                .first("list-unsubscribe-post")
                .is_some_and(|v| v.replace(' ', "").eq_ignore_ascii_case("List-Unsubscribe=One-Click"))
                && unsubscribe
                    .split('<')
                    .skip(1)
                    .any(|uri| uri.get(..8).is_some_and(|s| s.eq_ignore_ascii_case("https://"))))
        {
            return false;
        }
        let to: String = ctx.headers.all("to").collect::<Vec<_>>().join(",");
        to.split(|c: char| c == ',' || c == '<' || c == '>' || c.is_whitespace())
            .filter(|part| part.contains('@'))
            .any(|part| identity(part, env.profile.recipients.strip_subaddress) == recipient)
    }
}

impl Check<AtData> for Bulk {
    fn rule(&self) -> &'static str {
        "bulk.max_recipients"
    }

    fn check<'a>(&'a self, env: &'a Env<'a>, stage: &'a DataStage<'a>) -> CheckFuture<'a> {
        let (ctx, facts) = (stage.message, stage.facts);
        Box::pin(async move {
            let rule = &env.profile.bulk;
            if !rule.enabled {
                return Ok(Verdict::Continue);
            }
            let campaign = facts.campaign(env, ctx).await?;
            for recipient in &facts.recipients {
                if Self::exempt(env, ctx, recipient) {
                    continue;
                }
                let key = key("bulk", &ctx.tenant.id).part(campaign);
                let charge = env
                    .store
                    .set_check_and_add(
                        &key,
                        recipient.as_bytes(),
                        env.now,
                        rule.window.get(),
                        cap(rule.max_recipients),
                    )
                    .await
                    .map_err(super::store_error)?;
                if !charge.admitted {
                    return Ok(Verdict::Reject(Reply::refusal(
                        550,
                        "5.7.1", "bulk.max_recipients",
                        format!(
                            "Bulk mail: more than {} distinct recipients of one campaign within {} (campaign {}); register as a bulk sender",
                            rule.max_recipients,
                            window_text(rule.window.get()),
                            campaign,
                        ),
                    )));
                }
                if !charge.already_member {
                    facts.note(Charge::Member {
                        key,
                        member: recipient.clone(),
                        window: rule.window.get(),
                    });
                }
            }
            Ok(Verdict::Continue)
        })
    }
}

pub struct SmsGateway;

impl Check<AtData> for SmsGateway {
    fn rule(&self) -> &'static str {
        "sms_gateway.bulk"
    }

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
                let charge = env
                    .store
                    .set_check_and_add(
                        &key,
                        recipient.as_bytes(),
                        env.now,
                        env.profile.bulk.window.get(),
                        cap(rule.max_recipients),
                    )
                    .await
                    .map_err(super::store_error)?;
                if !charge.admitted {
                    return Ok(Verdict::Reject(Reply::refusal(
                        550,
                        "5.7.1", "sms_gateway.bulk",
                        format!(
                            "Bulk mail to email-to-SMS gateways is not allowed (more than {} SMS recipients of one campaign)",
                            rule.max_recipients
                        ),
                    )));
                }
                if !charge.already_member {
                    facts.note(Charge::Member {
                        key,
                        member: recipient.clone(),
                        window: env.profile.bulk.window.get(),
                    });
                }
            }
            Ok(Verdict::Continue)
        })
    }
}

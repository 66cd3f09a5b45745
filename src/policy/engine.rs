//! The engine: the ordered checks of each stage, the profiles, the store. Decisions are logged
//! (`rule`, `verdict`, `code`) and refusals recorded in the tenant's audit log (no message body);
//! violations become events that drive the escalation ladder.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use super::authentication::{self, Seal};
use super::checks::{self, Charges, DataFacts};
use super::escalation;
use super::profile::Profile;
use super::{CheckError, DataContext, MailContext, RcptContext, Verdict};
use crate::auth::Authenticator;
use crate::queue::now_ms;
use crate::smtp::reply;
use crate::store::{AuditRecord, Key, RateStore};
use crate::tenant::{Tenant, TenantDirectory};

/// A boxed check future.
pub type CheckFuture<'a> = Pin<Box<dyn Future<Output = Result<Verdict, CheckError>> + Send + 'a>>;

/// What every check may use: the store, the tenant's profile, the time of the decision.
pub struct Env<'a> {
    pub store: &'a dyn RateStore,
    pub profile: &'a Profile,
    pub now: u64,
}

/// A policy check: a rule id and a verdict, run at one SMTP stage (`S`: [`AtMail`], [`AtRcpt`]
/// or [`AtData`]) on what that stage knows. Errors never let mail through (`decide`).
pub trait Check<S: Stage>: Send + Sync {
    fn rule(&self) -> &'static str;
    fn check<'a>(&'a self, env: &'a Env<'a>, ctx: &'a S::Context<'a>) -> CheckFuture<'a>;
}

/// An SMTP stage checks run at, and what a check reads there.
pub trait Stage {
    type Context<'a>;
}

/// MAIL FROM: the tenant and the envelope sender.
pub enum AtMail {}
/// RCPT TO: one more recipient.
pub enum AtRcpt {}
/// After DATA: the whole message, and the facts the DATA checks share.
pub enum AtData {}

impl Stage for AtMail {
    type Context<'a> = MailContext<'a>;
}

impl Stage for AtRcpt {
    type Context<'a> = RcptContext<'a>;
}

impl Stage for AtData {
    type Context<'a> = DataStage<'a>;
}

/// What a check after DATA reads: the message, and the facts computed once for all checks.
pub struct DataStage<'a> {
    pub message: &'a DataContext<'a>,
    pub facts: &'a DataFacts,
}

/// The decision on a received message: the verdict, and for an accepted message what the
/// gateway adds to it.
#[derive(Debug)]
pub struct DataDecision {
    pub verdict: Verdict,
    pub seal: Seal,
    /// The counters charged for an accepted message: [`Engine::release`] takes them back if
    /// it cannot be queued.
    pub charges: Charges,
    /// The campaign the message was counted in, when the checks looked it up (for the audit
    /// record of the acceptance).
    pub campaign: Option<String>,
}

/// What the audit record of an accepted message names besides its tenant.
pub struct Accepted<'a> {
    pub queue_id: &'a str,
    pub recipients: usize,
    pub message_id: Option<&'a str>,
    pub campaign: Option<&'a str>,
}

/// Whether a refusal at DATA is a violation that feeds the escalation ladder. A suppressed
/// recipient is not (one stale address on a list is routine, and the refusal already protects
/// the receiver); refusals that enforce a block already in place are not new violations.
fn is_violation(rule: &str) -> bool {
    !rule.starts_with("block.") && rule != "suppression.hard_bounce"
}

/// The profiles by name, and how many times they were replaced: outcomes reused across
/// messages are kept per generation, so a reload takes effect with the next message.
struct ProfileSet {
    generation: u64,
    by_name: HashMap<String, Arc<Profile>>,
}

/// The policy engine.
pub struct Engine {
    store: Arc<dyn RateStore>,
    /// Replaced as a whole on reload (SIGHUP); sessions keep the profile they started a check with.
    profiles: std::sync::RwLock<ProfileSet>,
    default_profile: Arc<Profile>,
    tenants: Option<Arc<TenantDirectory>>,
    /// SPF/DKIM/DMARC; without it (offline dry runs) the authentication stage is skipped.
    auth: Option<Arc<Authenticator>>,
    /// Authentication outcomes of unsigned mail, reused for a few seconds.
    unsigned: authentication::UnsignedOutcomes,
    mail: Vec<Box<dyn Check<AtMail>>>,
    rcpt: Vec<Box<dyn Check<AtRcpt>>>,
    data: Vec<Box<dyn Check<AtData>>>,
    /// The time decisions are made at (unix ms), when not the system clock: a replay evaluates
    /// each message at its own date.
    clock: Option<Arc<AtomicU64>>,
}

impl Engine {
    /// An engine over `store` with the given profiles (by name); `default` is used for tenants
    /// without a known profile.
    pub fn new(store: Arc<dyn RateStore>, profiles: HashMap<String, Arc<Profile>>, default: Arc<Profile>) -> Engine {
        Engine {
            store,
            profiles: std::sync::RwLock::new(ProfileSet {
                generation: 0,
                by_name: profiles,
            }),
            default_profile: default,
            tenants: None,
            auth: None,
            unsigned: authentication::UnsignedOutcomes::default(),
            mail: vec![
                Box::new(checks::TenantState),
                Box::new(checks::SenderDomain),
                Box::new(checks::BlockedSender),
                Box::new(checks::MessageQuota),
            ],
            rcpt: vec![Box::new(checks::RecipientQuota)],
            data: vec![
                Box::new(checks::HeaderIntegrity),
                Box::new(checks::LetterBomb),
                Box::new(checks::BlockedOriginator),
                Box::new(checks::BlockedCampaign),
                // Before the campaign counters, so a refused message charges none of them.
                Box::new(checks::Suppressed),
                Box::new(checks::SmsGateway),
                Box::new(checks::MailBomb),
                Box::new(checks::MailBombDomain),
                Box::new(checks::Bulk),
            ],
            clock: None,
        }
    }

    /// Makes decisions at the time `clock` holds instead of the system clock's.
    pub fn with_clock(mut self, clock: Arc<AtomicU64>) -> Engine {
        self.clock = Some(clock);
        self
    }

    fn now(&self) -> u64 {
        self.clock
            .as_ref()
            .map_or_else(now_ms, |clock| clock.load(Ordering::Relaxed))
    }

    /// Lets escalation update live tenant states.
    pub fn with_tenants(mut self, tenants: Arc<TenantDirectory>) -> Engine {
        self.tenants = Some(tenants);
        self
    }

    /// Turns on the authentication stage (SPF/DKIM/DMARC, signing).
    pub fn with_authenticator(mut self, auth: Arc<Authenticator>) -> Engine {
        self.auth = Some(auth);
        self
    }

    pub fn authenticator(&self) -> Option<&Arc<Authenticator>> {
        self.auth.as_ref()
    }

    pub fn store(&self) -> &Arc<dyn RateStore> {
        &self.store
    }

    /// The profile a tenant uses, with the tenant's single-limit overrides applied.
    pub fn profile_for(&self, tenant: &Tenant) -> Arc<Profile> {
        self.versioned_profile_for(tenant).1
    }

    /// [`Engine::profile_for`] and the generation of the profile set it came from, read together.
    fn versioned_profile_for(&self, tenant: &Tenant) -> (u64, Arc<Profile>) {
        let (generation, base) = {
            let profiles = self.profiles.read().unwrap_or_else(|p| p.into_inner());
            let base = profiles
                .by_name
                .get(&tenant.profile)
                .or_else(|| profiles.by_name.get("default"))
                .cloned()
                .unwrap_or_else(|| self.default_profile.clone());
            (profiles.generation, base)
        };
        (generation, self.with_limits(tenant, base))
    }

    /// `base` with the tenant's single-limit overrides applied.
    fn with_limits(&self, tenant: &Tenant, base: Arc<Profile>) -> Arc<Profile> {
        let limits = &tenant.limits;
        if *limits == crate::config::TenantLimits::default() {
            return base;
        }
        let mut profile = (*base).clone();
        let quotas = &mut profile.quotas;
        for (slot, value) in [
            (&mut quotas.messages_per_hour, limits.messages_per_hour),
            (&mut quotas.messages_per_day, limits.messages_per_day),
            (&mut quotas.recipients_per_hour, limits.recipients_per_hour),
            (&mut quotas.recipients_per_day, limits.recipients_per_day),
            (&mut profile.bulk.max_recipients, limits.bulk_max_recipients),
            (&mut profile.mail_bomb.max_messages, limits.mail_bomb_max_messages),
        ] {
            if let Some(value) = value {
                *slot = value;
            }
        }
        Arc::new(profile)
    }

    /// Replaces the profiles (policy reload). Sessions in flight are not interrupted.
    pub fn replace_profiles(&self, profiles: HashMap<String, Arc<Profile>>) {
        let mut current = self.profiles.write().unwrap_or_else(|p| p.into_inner());
        current.generation += 1;
        current.by_name = profiles;
    }

    pub async fn on_mail(&self, ctx: &MailContext<'_>) -> Verdict {
        let profile = self.profile_for(ctx.tenant);
        let env = Env {
            store: self.store.as_ref(),
            profile: &profile,
            now: self.now(),
        };
        for check in &self.mail {
            let verdict = self
                .decide(
                    &env,
                    check.rule(),
                    ctx.tenant,
                    check.check(&env, ctx).await,
                    || serde_json::json!({ "sender": ctx.sender.to_address() }),
                )
                .await;
            if verdict != Verdict::Continue {
                self.record_envelope_violation(&env, ctx.tenant, &verdict).await;
                return verdict;
            }
        }
        Verdict::Continue
    }

    pub async fn on_rcpt(&self, ctx: &RcptContext<'_>) -> Verdict {
        let profile = self.profile_for(ctx.tenant);
        let env = Env {
            store: self.store.as_ref(),
            profile: &profile,
            now: self.now(),
        };
        for check in &self.rcpt {
            let verdict = self
                .decide(&env, check.rule(), ctx.tenant, check.check(&env, ctx).await, || {
                    serde_json::json!({
                        "sender": ctx.sender.to_address(),
                        "recipient": ctx.recipient.to_address(),
                        "accepted_so_far": ctx.accepted_so_far,
                    })
                })
                .await;
            if verdict != Verdict::Continue {
                self.record_envelope_violation(&env, ctx.tenant, &verdict).await;
                return verdict;
            }
        }
        Verdict::Continue
    }

    /// The message checks, then (when they all pass) the authentication stage. The counters the
    /// checks charged are taken back when the message is not accepted here; when it is, the
    /// decision carries them for [`Engine::release`] in case it cannot be queued.
    pub async fn on_data(&self, ctx: &DataContext<'_>) -> DataDecision {
        let (generation, profile) = self.versioned_profile_for(ctx.tenant);
        let env = Env {
            store: self.store.as_ref(),
            profile: &profile,
            now: self.now(),
        };
        let facts = DataFacts::gather(ctx, profile.recipients.strip_subaddress);
        let (verdict, seal) = self.judge_data(&env, generation, ctx, &facts).await;
        let campaign = Some(facts.campaign_if_known())
            .filter(|c| *c != "-")
            .map(str::to_string);
        let charges = facts.into_charges(env.now);
        if !matches!(verdict, Verdict::Continue | Verdict::Accept) {
            charges.release(self.store.as_ref()).await;
            return DataDecision {
                verdict,
                seal: Seal::default(),
                charges: Charges::default(),
                campaign,
            };
        }
        DataDecision {
            verdict,
            seal,
            charges,
            campaign,
        }
    }

    /// The campaign a message belongs to (fingerprint → the store's campaign index, as the bulk
    /// and mail-bomb checks look it up), for `policy replay` / `policy check` to show how mail is
    /// grouped when the checks did not look it up themselves (a refusal before DATA, or a profile
    /// that counts neither).
    pub async fn campaign_of(&self, ctx: &DataContext<'_>) -> Result<String, CheckError> {
        let (_, profile) = self.versioned_profile_for(ctx.tenant);
        let env = Env {
            store: self.store.as_ref(),
            profile: &profile,
            now: self.now(),
        };
        let facts = DataFacts::gather(ctx, profile.recipients.strip_subaddress);
        facts.campaign(&env, ctx).await.map(str::to_string)
    }

    /// Takes back the counter charges of a message that passed the checks but was not queued.
    pub async fn release(&self, charges: Charges) {
        charges.release(self.store.as_ref()).await;
    }

    async fn judge_data(
        &self,
        env: &Env<'_>,
        generation: u64,
        ctx: &DataContext<'_>,
        facts: &DataFacts,
    ) -> (Verdict, Seal) {
        let stage = DataStage { message: ctx, facts };
        for check in &self.data {
            let verdict = self
                .decide(env, check.rule(), ctx.tenant, check.check(env, &stage).await, || {
                    message_detail(ctx, facts)
                })
                .await;
            if verdict != Verdict::Continue {
                let rule = verdict.reply().and_then(|r| r.rule).unwrap_or(check.rule());
                if matches!(verdict, Verdict::Reject(_)) && is_violation(rule) {
                    // The event is per campaign: a check that refused before the campaign was
                    // looked up (headers, attachments) looks it up now, so two different forged
                    // mailings are two incidents and one mailing resent is one.
                    let campaign = match facts.campaign(env, ctx).await {
                        Ok(campaign) => campaign.to_string(),
                        Err(_) => facts.campaign_if_known().to_string(),
                    };
                    escalation::record_violation(env, self.tenants.as_deref(), ctx.tenant, rule, &campaign).await;
                }
                return (verdict, Seal::default());
            }
        }
        let Some(auth) = &self.auth else {
            return (Verdict::Continue, Seal::default());
        };
        // Authentication failures are misconfiguration more often than abuse: refused and
        // audited, but not escalation events.
        let outcome = authentication::authenticate(
            auth,
            env.profile,
            (generation, &ctx.tenant.profile),
            &self.unsigned,
            ctx,
            ctx.message.headers(),
        )
        .await;
        let verdict = self
            .decide(env, outcome.rule, ctx.tenant, Ok(outcome.verdict), || {
                message_detail(ctx, facts)
            })
            .await;
        (verdict, outcome.seal)
    }

    /// After the message is queued: charge the volume quotas and audit the acceptance.
    pub async fn on_accepted(&self, tenant: &Tenant, accepted: &Accepted<'_>) {
        self.charge_accepted(tenant, accepted.recipients, accepted.queue_id)
            .await;
        self.audit_accepted(tenant, accepted).await;
    }

    /// Charges the volume quotas of a queued message. The session does this before its `250`,
    /// so a client that waits for the reply never sees its next message checked against stale
    /// counts (only messages in flight at the same time may overshoot a quota).
    pub async fn charge_accepted(&self, tenant: &Tenant, recipients: usize, queue_id: &str) {
        let profile = self.profile_for(tenant);
        let keys = checks::quota_keys(&tenant.id, recipients as u64, &profile);
        if let Err(error) = self.store.counter_add_many(&keys, self.now()).await {
            // The message is already safely queued; a lost charge is logged, never a lost mail.
            tracing::error!(tenant = %tenant.id, queue_id, %error, "charging quotas after accept failed");
        }
    }

    /// Records the acceptance in the tenant's audit log (after the `250`).
    pub async fn audit_accepted(&self, tenant: &Tenant, accepted: &Accepted<'_>) {
        let record = AuditRecord {
            at: self.now(),
            actor: "policy".into(),
            action: "accept".into(),
            target: accepted.queue_id.into(),
            reason: String::new(),
            detail: serde_json::json!({
                "recipients": accepted.recipients,
                "message_id": accepted.message_id,
                "campaign": accepted.campaign,
            }),
        };
        if let Err(error) = self.store.audit_append(&tenant.id, &record).await {
            tracing::error!(tenant = %tenant.id, queue_id = accepted.queue_id, %error, "audit of an accepted message failed");
        }
    }

    /// A permanent refusal at MAIL FROM for a sender domain the tenant does not own is a
    /// violation like a refused message: one event per rule and window (there is no campaign
    /// yet). Deferrals (quotas) never are.
    async fn record_envelope_violation(&self, env: &Env<'_>, tenant: &Tenant, verdict: &Verdict) {
        let Verdict::Reject(reply) = verdict else {
            return;
        };
        if let Some(rule @ "sender.domain") = reply.rule {
            escalation::record_violation(env, self.tenants.as_deref(), tenant, rule, "-").await;
        }
    }

    /// Logs a check's outcome, audits refusals and maps infrastructure errors to `451 4.3.0`
    /// (or `421 4.3.0` and a closed session for the checks `[on_error] disconnect` names).
    async fn decide(
        &self,
        env: &Env<'_>,
        rule: &'static str,
        tenant: &Tenant,
        result: Result<Verdict, CheckError>,
        detail: impl FnOnce() -> serde_json::Value,
    ) -> Verdict {
        let verdict = match result {
            Ok(verdict) => verdict,
            Err(error) if env.profile.on_error.disconnect.iter().any(|r| r == rule) => {
                tracing::warn!(rule, tenant = %tenant.id, %error, "check failed; closing the session");
                Verdict::Disconnect(reply::check_failed_disconnect(rule))
            }
            Err(error) => {
                tracing::warn!(rule, tenant = %tenant.id, %error, "check failed; deferring");
                Verdict::Defer(reply::check_failed(rule))
            }
        };
        if let Some(reply) = verdict.reply() {
            // The refusal's own rule id (`quota.messages_per_hour`), not its check's group.
            let rule = reply.rule.unwrap_or(rule);
            tracing::info!(rule, tenant = %tenant.id, verdict = verdict.name(), code = %reply.summary(), "policy verdict");
            let record = AuditRecord {
                at: self.now(),
                actor: "policy".into(),
                action: verdict.name().into(),
                target: rule.into(),
                reason: reply.summary(),
                detail: detail(),
            };
            if let Err(error) = self.store.audit_append(&tenant.id, &record).await {
                tracing::error!(rule, tenant = %tenant.id, %error, "audit write failed");
            }
        }
        verdict
    }
}

/// What the audit record of a decision on a received message says about it (never the body):
/// the envelope, the recipient count, the Message-ID and the campaign if it was looked up.
fn message_detail(ctx: &DataContext<'_>, facts: &DataFacts) -> serde_json::Value {
    serde_json::json!({
        "sender": ctx.sender.to_address(),
        "recipients": ctx.recipients.len(),
        "message_id": ctx.message.headers().first("message-id"),
        "campaign": facts.campaign_if_known(),
    })
}

/// A store key for a tenant-scoped counter.
pub(crate) fn key(kind: &str, tenant: &str) -> Key {
    Key::new(kind, tenant)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn every_check_is_one_on_error_can_name() {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::store::open_store(&Default::default(), dir.path()).await.unwrap();
        let profile = Arc::new(Profile::default());
        let engine = Engine::new(store, HashMap::new(), profile);
        let rules: Vec<&str> = (engine.mail.iter().map(|c| c.rule()))
            .chain(engine.rcpt.iter().map(|c| c.rule()))
            .chain(engine.data.iter().map(|c| c.rule()))
            .collect();
        let mut sorted = rules.clone();
        sorted.sort_unstable();
        sorted.dedup(); // block.sender runs at MAIL FROM and after DATA
        let mut listed = crate::policy::profile::CHECK_RULES.to_vec();
        listed.sort_unstable();
        assert_eq!(sorted, listed, "engine checks {rules:?}");
    }
}

//! The engine runs the ordered checks of each stage with the tenant's profile and the store.
//! Decisions are logged (`rule`, `verdict`, `code`) and refusals recorded in the tenant's audit
//! log (no message body); violations become events that drive the escalation ladder. What a
//! check is lives in `stage`, the profile set in `profiles`, an accepted message's bookkeeping
//! in `acceptance`; what the gateway writes on an accepted message is decided here and written
//! by `cleanup`. The envelope stages (MAIL FROM, RCPT TO) are in `engine::envelope`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use super::acceptance::PendingAcceptance;
use super::authentication;
use super::batching::{Ops, Recorder, Replay};
use super::checks;
use super::cleanup::{Cleaned, Draft, Edits};
use super::escalation;
use super::prefetch::Prefetched;
use super::profile::{AuthResultsAction, Profile};
use super::profiles::Profiles;
use super::recent::RecentReads;
// What a check is lives in `stage` (the checks import it from there, never from here).
pub use super::stage::Env;
use super::stage::{AtData, AtMail, AtRcpt, DataFacts, DataStage, Listed, Stage};
use super::{CheckError, DataContext, Rule, Verdict};
use crate::auth::Authenticator;
use crate::complaints::attribution::{Attribution, Attributor};
use crate::complaints::unsubscribe::Unsubscriber;
use crate::queue::now_ms;
use crate::store::{AuditRecord, RateStore};
use crate::tenant::{Tenant, TenantDirectory};
use crate::wire::reply;

mod envelope;

/// The decision on a received message: the verdict, and for an accepted message the message
/// as it is to be queued and the bookkeeping that waits for it to be queued.
#[derive(Debug)]
pub struct DataDecision<'a> {
    pub verdict: Verdict,
    /// For an accepted message: the message `cleanup` made of it, to queue.
    pub cleaned: Option<Cleaned>,
    /// The campaign the message was counted in, when the checks looked it up (the audit record
    /// of the acceptance names it).
    pub campaign: Option<String>,
    /// For an accepted message (`Continue` or `Accept`): commit it once the message is queued,
    /// abandon (or drop) it if it is not.
    pub pending: Option<PendingAcceptance<'a>>,
}

/// The policy engine.
pub struct Engine {
    store: Arc<dyn RateStore>,
    /// Replaced as a whole on reload (SIGHUP); sessions keep the profile they started a check with.
    profiles: Profiles,
    tenants: Option<Arc<TenantDirectory>>,
    /// SPF/DKIM/DMARC; without it (offline dry runs) the authentication stage is skipped.
    auth: Option<Arc<Authenticator>>,
    /// Authentication outcomes of unsigned mail, reused for a few seconds.
    unsigned: authentication::UnsignedOutcomes,
    /// The attribution fields put on every accepted message (Feedback-ID, trace header); without
    /// it (offline dry runs) none.
    attribution: Option<Arc<Attributor>>,
    /// The gateway's own List-Unsubscribe for profiles with `[unsubscribe] enabled`; without it
    /// (offline dry runs) none.
    unsubscribe: Option<Arc<Unsubscriber>>,
    mail: Vec<Listed<AtMail>>,
    rcpt: Vec<Listed<AtRcpt>>,
    data: Vec<Listed<AtData>>,
    /// The time decisions are made at (unix ms), when not the system clock: a replay evaluates
    /// each message at its own date.
    clock: Option<Arc<AtomicU64>>,
    /// Where a violation ladder's step is told to the tenant; without it (offline dry runs) no
    /// notice.
    notices: Option<Arc<dyn crate::complaints::model::NoticeSender>>,
    /// The counter windows this node read lately, which answer MAIL FROM's quota checks.
    recent: RecentReads,
}

/// The engine's checks, one list per SMTP stage, as the profile's table of sections lists them.
struct CheckLists {
    mail: Vec<Listed<AtMail>>,
    rcpt: Vec<Listed<AtRcpt>>,
    data: Vec<Listed<AtData>>,
}

/// The engine's part of the table of sections (`profile::sections!`): each check, at its stage,
/// under the rule id the table gives it. The sections themselves are the profile's part.
macro_rules! check_lists {
    ($( $([$($section:tt)*])? $($stage:ident $check:ident => $rule:ident),* ;)*) => {{
        let mut lists = CheckLists {
            mail: Vec::new(),
            rcpt: Vec::new(),
            data: Vec::new(),
        };
        $($(lists.$stage.push(Listed::new(Rule::$rule, checks::$check));)*)*
        lists
    }};
}

impl CheckLists {
    fn from_table() -> CheckLists {
        super::profile::sections!(check_lists)
    }
}

impl Engine {
    /// An engine over `store` with the given profiles (by name); `default` is used for tenants
    /// without a known profile.
    pub fn new(store: Arc<dyn RateStore>, profiles: HashMap<String, Arc<Profile>>, default: Arc<Profile>) -> Engine {
        let checks = CheckLists::from_table();
        Engine {
            store,
            profiles: Profiles::new(profiles, default),
            tenants: None,
            auth: None,
            unsigned: authentication::UnsignedOutcomes::default(),
            attribution: None,
            unsubscribe: None,
            mail: checks.mail,
            rcpt: checks.rcpt,
            data: checks.data,
            clock: None,
            notices: None,
            recent: RecentReads::default(),
        }
    }

    /// A step of the violation ladder (warning, final warning, suspension) is sent to the
    /// tenant's contact through `notices`, as a complaint ladder's is.
    pub fn with_notices(mut self, notices: Arc<dyn crate::complaints::model::NoticeSender>) -> Engine {
        self.notices = Some(notices);
        self
    }

    /// Makes decisions at the time `clock` holds instead of the system clock's.
    pub fn with_clock(mut self, clock: Arc<AtomicU64>) -> Engine {
        self.clock = Some(clock);
        self
    }

    pub(super) fn now(&self) -> u64 {
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

    /// Every accepted message carries the attribution fields `attributor` makes.
    pub fn with_attribution(mut self, attributor: Arc<Attributor>) -> Engine {
        self.attribution = Some(attributor);
        self
    }

    /// Bulk mail under a profile with `[unsubscribe] enabled` carries `unsubscriber`'s fields.
    pub fn with_unsubscribe(mut self, unsubscriber: Arc<Unsubscriber>) -> Engine {
        self.unsubscribe = Some(unsubscriber);
        self
    }

    pub fn authenticator(&self) -> Option<&Arc<Authenticator>> {
        self.auth.as_ref()
    }

    pub fn store(&self) -> &Arc<dyn RateStore> {
        &self.store
    }

    /// The counter windows this node read lately (`policy::recent`).
    pub(super) fn recent(&self) -> &RecentReads {
        &self.recent
    }

    /// The profile a tenant uses, with the tenant's single-limit overrides applied.
    pub fn profile_for(&self, tenant: &Tenant) -> Arc<Profile> {
        self.versioned_profile_for(tenant).1
    }

    /// [`Engine::profile_for`] and the generation of the profile set it came from, read together.
    fn versioned_profile_for(&self, tenant: &Tenant) -> (u64, Arc<Profile>) {
        self.profiles.versioned_for(tenant)
    }

    /// Whether a profile of this name is loaded (a tenant may only be given a loaded one).
    pub fn has_profile(&self, name: &str) -> bool {
        self.profiles.contains(name)
    }

    /// Replaces the profiles (policy reload). Sessions in flight are not interrupted.
    pub fn replace_profiles(&self, profiles: HashMap<String, Arc<Profile>>) {
        self.profiles.replace(profiles);
    }

    /// The message checks, then (when they all pass) the authentication stage. The counters the
    /// checks charged are taken back when the message is not accepted here; when it is, the
    /// decision's [`PendingAcceptance`] holds them until the message is queued or not.
    pub async fn on_data(&self, ctx: &DataContext<'_>) -> DataDecision<'_> {
        let (generation, profile) = self.versioned_profile_for(ctx.tenant);
        let now = self.now();
        let facts = DataFacts::gather(ctx, profile.recipients.strip_subaddress);
        let recorder = Recorder::new(&ctx.tenant.id, now);
        let planning_facts = facts.planning_copy();
        let planning_stage = DataStage {
            message: ctx,
            facts: &planning_facts,
        };
        plan(
            &self.data,
            &self.planning_env(&recorder, &profile, now),
            &planning_stage,
            &recorder,
        )
        .await;
        // The batch charges the quotas: what it charges is added to the recent reads it came after.
        let sequence = self.recent.before_charging();
        let replay = recorder.run(self.store.as_ref(), &Prefetched::none()).await;
        let env = self.deciding_env(&replay, &profile, now);
        let (verdict, cleaned) = self.judge_data(&env, generation, ctx, &facts).await;
        let campaign = Some(facts.campaign_if_known())
            .filter(|c| *c != "-")
            .map(str::to_string);
        let charges = facts.into_charges(env.now);
        if !matches!(verdict, Verdict::Continue | Verdict::Accept) {
            self.recent.forget(&charges);
            charges.release(self.store.as_ref()).await;
            return DataDecision {
                verdict,
                cleaned: None,
                campaign,
                pending: None,
            };
        }
        let recipients: Vec<String> = ctx
            .recipients
            .iter()
            .map(|r| crate::policy::recipient::identity(&r.to_address(), true))
            .collect();
        self.recent.charged(sequence, &charges);
        let pending = PendingAcceptance::new(self, ctx.tenant.id.clone(), &recipients, campaign.clone(), charges);
        DataDecision {
            verdict,
            cleaned,
            campaign,
            pending: Some(pending),
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
            ops: Ops::Direct(self.store.as_ref()),
            profile: &profile,
            now: self.now(),
        };
        let facts = DataFacts::gather(ctx, profile.recipients.strip_subaddress);
        facts.campaign(&env, ctx).await.map(str::to_string)
    }

    /// The message checks, then what the gateway adds to a message they let through, written by
    /// `cleanup`, then the authentication stage on the message as it will leave; the cleaned
    /// message when it passes that too.
    async fn judge_data(
        &self,
        env: &Env<'_>,
        generation: u64,
        ctx: &DataContext<'_>,
        facts: &DataFacts,
    ) -> (Verdict, Option<Cleaned>) {
        let stage = DataStage { message: ctx, facts };
        for check in &self.data {
            let verdict = self
                .decide(env, check.rule(), ctx.tenant, check.check(env, &stage).await, || {
                    message_detail(ctx, facts)
                })
                .await;
            if verdict != Verdict::Continue {
                let rule = verdict.reply().and_then(|r| r.rule()).unwrap_or(check.rule());
                if matches!(verdict, Verdict::Reject(_)) && rule.is_violation() {
                    // The event is per campaign: a check that refused before the campaign was
                    // looked up (headers, attachments) looks it up now, so two different forged
                    // mailings are two incidents and one mailing resent is one.
                    let campaign = match facts.campaign(env, ctx).await {
                        Ok(campaign) => campaign.to_string(),
                        Err(_) => facts.campaign_if_known().to_string(),
                    };
                    escalation::record_violation(
                        env,
                        self.tenants.as_deref(),
                        self.notices.as_deref(),
                        ctx.tenant,
                        rule,
                        &campaign,
                    )
                    .await;
                }
                return (verdict, None);
            }
        }
        let attribution = self.attribution_fields(env, ctx, facts).await;
        let (unsubscribe, replaced) = self.unsubscribe_fields(env, ctx, facts).await;
        // The tenant's copies of the gateway's own fields (its trace header, CFBL) and of the
        // fields ours replace go, whatever the tenant's signature covers; so does a Return-Path
        // (RFC 5321 4.4: only final delivery writes one, from the envelope; a relayed one is a
        // sender address nobody checked).
        let own = self.attribution.as_ref().map_or(&[][..], |a| a.own_fields());
        let replaced: Vec<&str> = own.iter().chain(replaced).chain(&["Return-Path"]).copied().collect();
        let headers = &env.profile.headers;
        let forged_results_of =
            (headers.authentication_results == AuthResultsAction::Remove).then_some(headers.authserv_id());
        let draft = Draft::new(
            ctx.message,
            Edits {
                forged_results_of,
                replaced: &replaced,
                arrival: ctx.arrival,
                queue_id: ctx.queue_id,
                unsubscribe,
                attribution,
            },
        );
        let Some(auth) = &self.auth else {
            return (Verdict::Continue, Some(draft.seal("", "")));
        };
        // Authentication failures are misconfiguration more often than abuse: refused and
        // audited, but not escalation events.
        let settings = ctx.tenant.settings();
        let outcome = authentication::authenticate(
            auth,
            env.profile,
            (generation, &settings.profile),
            &self.unsigned,
            ctx,
            ctx.message.headers(),
            &draft,
        )
        .await;
        let verdict = self
            .decide(env, outcome.rule, ctx.tenant, Ok(outcome.verdict), || {
                message_detail(ctx, facts)
            })
            .await;
        (verdict, Some(draft.seal(&outcome.signature, &outcome.results)))
    }

    /// The attribution fields for an accepted message (empty without an attributor). The
    /// campaign is looked up when no check did; if the store cannot say, the fields name the
    /// campaign `-` (the tenant and queue id still attribute) rather than defer the message.
    async fn attribution_fields(&self, env: &Env<'_>, ctx: &DataContext<'_>, facts: &DataFacts) -> String {
        let Some(attributor) = &self.attribution else {
            return String::new();
        };
        let campaign = match facts.campaign(env, ctx).await {
            Ok(campaign) => campaign.to_string(),
            Err(error) => {
                tracing::warn!(%error, "campaign lookup for the attribution fields failed");
                facts.campaign_if_known().to_string()
            }
        };
        // The names the tenant's own signatures cover (`h=`): only Feedback-ID is left out for
        // them (`Attributor::fields`); the trace header is ours whatever they cover.
        let covered: Vec<String> = ctx
            .message
            .headers()
            .all("dkim-signature")
            .flat_map(signed_field_names)
            .collect();
        attributor.fields(
            &Attribution {
                tenant: ctx.tenant.id.clone(),
                campaign,
                queue_id: ctx.queue_id.to_string(),
            },
            &ctx.tenant.settings().profile,
            |name| covered.iter().any(|c| c.eq_ignore_ascii_case(name)),
        )
    }

    /// The gateway's List-Unsubscribe fields for an accepted message and the tenant's fields they
    /// replace (`complaints::unsubscribe`): only under `[unsubscribe] enabled`, for bulk mail to
    /// one recipient whose own signature covers neither field; in `add` mode only when the
    /// tenant sent no List-Unsubscribe.
    async fn unsubscribe_fields(
        &self,
        env: &Env<'_>,
        ctx: &DataContext<'_>,
        facts: &DataFacts,
    ) -> (String, &'static [&'static str]) {
        const FIELDS: &[&str] = &["List-Unsubscribe", "List-Unsubscribe-Post"];
        let none = (String::new(), &[][..]);
        let Some(unsubscriber) = &self.unsubscribe else {
            return none;
        };
        let rules = &env.profile.unsubscribe;
        let headers = ctx.message.headers();
        let [recipient] = ctx.recipients else {
            return none;
        };
        if !rules.enabled || !checks::is_bulk_mail(headers) {
            return none;
        }
        let covered = headers
            .all("dkim-signature")
            .flat_map(signed_field_names)
            .any(|name| FIELDS.iter().any(|f| f.eq_ignore_ascii_case(&name)));
        let own = headers.first("list-unsubscribe").is_some();
        let replaced = match rules.mode {
            _ if covered => return none,
            super::unsubscribe::UnsubscribeMode::Add if own => return none,
            super::unsubscribe::UnsubscribeMode::Add => &[][..],
            super::unsubscribe::UnsubscribeMode::Replace => FIELDS,
        };
        let campaign = match facts.campaign(env, ctx).await {
            Ok(campaign) => campaign.to_string(),
            Err(_) => facts.campaign_if_known().to_string(),
        };
        let recipient = crate::policy::recipient::identity(&recipient.to_address(), true);
        let fields = unsubscriber.fields(&ctx.tenant.id, &recipient, &campaign, env.now);
        (fields, replaced)
    }

    /// The environment the checks plan a stage's batch in (`policy::batching`).
    fn planning_env<'a>(&'a self, recorder: &'a Recorder, profile: &'a Profile, now: u64) -> Env<'a> {
        Env {
            store: self.store.as_ref(),
            ops: Ops::Recording(recorder),
            profile,
            now,
        }
    }

    /// The environment the checks decide a stage in, on its batch's answers.
    fn deciding_env<'a>(&'a self, replay: &'a Replay<'a>, profile: &'a Profile, now: u64) -> Env<'a> {
        Env {
            store: self.store.as_ref(),
            ops: Ops::Replaying(replay),
            profile,
            now,
        }
    }

    /// A permanent refusal at MAIL FROM for a sender domain the tenant does not own is a
    /// violation like a refused message: one event per rule and window (there is no campaign
    /// yet). Deferrals (quotas) never are.
    async fn record_envelope_violation(&self, env: &Env<'_>, tenant: &Tenant, verdict: &Verdict) {
        let Verdict::Reject(reply) = verdict else {
            return;
        };
        if reply.rule() == Some(Rule::SenderDomain) {
            escalation::record_violation(
                env,
                self.tenants.as_deref(),
                self.notices.as_deref(),
                tenant,
                Rule::SenderDomain,
                "-",
            )
            .await;
        }
    }

    /// Logs a check's outcome, audits refusals and maps infrastructure errors to `451 4.3.0`
    /// (or `421 4.3.0` and a closed session for the checks `[on_error] disconnect` names).
    async fn decide(
        &self,
        env: &Env<'_>,
        rule: Rule,
        tenant: &Tenant,
        result: Result<Verdict, CheckError>,
        detail: impl FnOnce() -> serde_json::Value,
    ) -> Verdict {
        let verdict = match result {
            Ok(verdict) => verdict,
            Err(error) if env.profile.on_error.disconnect.contains(&rule) => {
                tracing::warn!(rule = rule.as_str(), tenant = %tenant.id, %error, "check failed; closing the session");
                Verdict::Disconnect(reply::check_failed_disconnect(rule))
            }
            Err(error) => {
                tracing::warn!(rule = rule.as_str(), tenant = %tenant.id, %error, "check failed; deferring");
                Verdict::Defer(reply::check_failed(rule))
            }
        };
        if let Some(reply) = verdict.reply() {
            // The refusal's own rule id (`quota.messages_per_hour`), not its check's group.
            let rule = reply.rule().unwrap_or(rule);
            tracing::info!(rule = rule.as_str(), tenant = %tenant.id, verdict = verdict.name(), code = %reply.summary(), "policy verdict");
            crate::telemetry::verdict(&tenant.id, verdict.name(), rule.as_str());
            let record = AuditRecord {
                at: self.now(),
                actor: "policy".into(),
                action: verdict.name().into(),
                target: rule.as_str().into(),
                reason: reply.summary(),
                detail: detail(),
            };
            if let Err(error) = self.store.audit_append(&tenant.id, &record).await {
                tracing::error!(rule = rule.as_str(), tenant = %tenant.id, %error, "audit write failed");
            }
        }
        verdict
    }
}

/// Runs a stage's checks against `recorder` (as `env.ops`) until one would not let the message
/// through or the plan ends: the operations noted are the stage's batch.
/// Returns whether every check let the message through on the optimistic answers (only then is
/// there a later stage worth reading ahead for).
async fn plan<'s, S: Stage>(
    checks: &'s [Listed<S>],
    env: &'s Env<'s>,
    ctx: &'s S::Context<'s>,
    recorder: &Recorder,
) -> bool {
    for check in checks {
        if !matches!(check.check(env, ctx).await, Ok(Verdict::Continue)) || recorder.ended() {
            return false;
        }
    }
    true
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

/// The field names a DKIM-Signature's `h=` tag lists.
fn signed_field_names(signature: &str) -> Vec<String> {
    signature
        .split(';')
        .filter_map(|tag| {
            let (name, value) = tag.split_once('=')?;
            (name.trim() == "h").then_some(value)
        })
        .flat_map(|value| value.split(':'))
        .map(|name| name.split_whitespace().collect::<String>())
        .filter(|name| !name.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every check the engine runs answers for a rule `[on_error] disconnect` accepts, and those
    /// are all the rules it accepts: both come from the one table of sections.
    #[test]
    fn every_check_is_one_on_error_can_name() {
        let lists = CheckLists::from_table();
        let mut rules: Vec<Rule> = (lists.mail.iter().map(Listed::rule))
            .chain(lists.rcpt.iter().map(Listed::rule))
            .chain(lists.data.iter().map(Listed::rule))
            .collect();
        assert_eq!(rules.len(), 16, "{rules:?}");
        for &rule in &rules {
            let profile = Profile::parse(&format!("[on_error]\ndisconnect = [\"{rule}\"]\n"))
                .unwrap_or_else(|errors| panic!("{rule}: {errors}"));
            assert_eq!(profile.on_error.disconnect, [rule]);
        }
        rules.sort_unstable();
        rules.dedup(); // block.sender and the quotas run before and after DATA
        let mut accepted = super::super::profile::check_rules();
        accepted.sort_unstable();
        assert_eq!(rules, accepted);
        let errors = Profile::parse("[on_error]\ndisconnect = [\"bulk.typo\"]\n")
            .expect_err("not a check")
            .0;
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!(errors[0].path, "on_error.disconnect[0]");
        assert!(
            errors[0]
                .message
                .starts_with("`bulk.typo` is not a check (one of: tenant.suspended, "),
            "{errors:?}"
        );
    }
}

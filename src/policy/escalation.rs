//! The escalation ladder: every violation is an event on the tenant; the profile's steps
//! (`events` within `window` → state) move the tenant through warned → final warning →
//! suspended. Suspension places a tenant block (by `policy:<rule>`) that only an operator lifts.
//! Each step a violation takes is sent to the tenant's contact as a notice (warning, final
//! warning, suspension), as a complaint ladder's is; one session in the cluster judges a
//! tenant's ladder at a time (a lock in the store), so sessions and nodes judging at once move
//! the tenant once and send one notice. Failures here are logged: the refusal that caused the
//! event stands either way.
//! Complaint- and bounce-rate crossings (`complaints::rates`) are events on this ladder too:
//! they come in through [`escalate`].

use super::engine::Env;
use crate::complaints::model::{Notice, NoticeKind, NoticeSender};
use crate::store::{Block, BlockScope, Event, TenantChange, TenantField};
use crate::tenant::{Tenant, TenantDirectory, TenantState};

/// Whether an event of `kind` is a rung of this ladder: a violation, or a complaint- or
/// bounce-rate crossing.
fn counts_on_ladder(kind: &str) -> bool {
    kind == "violation" || kind == crate::complaints::events::Kind::Rate.as_str()
}

/// The longest a session holds a tenant's ladder lock (see `escalate`): it lapses after this
/// should the session die holding it.
const LADDER_LOCK_HELD: std::time::Duration = std::time::Duration::from_secs(10);
/// How often a session waiting for the ladder's lock tries again, and how many times (2 s).
const LADDER_LOCK_RETRY: std::time::Duration = std::time::Duration::from_millis(20);
const LADDER_LOCK_TRIES: u32 = 100;

pub(crate) fn rank(state: TenantState) -> u8 {
    match state {
        TenantState::Active => 0,
        TenantState::Warned => 1,
        TenantState::FinalWarning => 2,
        TenantState::Suspended => 3,
    }
}

/// Records a violation of `rule` by `tenant` in `campaign` and applies the ladder. One campaign
/// breaking one rule is one event per window, however many of its messages are refused: the
/// ladder counts incidents, not refused messages.
pub async fn record_violation(
    env: &Env<'_>,
    tenants: Option<&TenantDirectory>,
    notices: Option<&dyn NoticeSender>,
    tenant: &Tenant,
    rule: crate::policy::Rule,
    campaign: &str,
) {
    // The store keys, the event and the logs carry the rule's id.
    let rule = rule.as_str();
    let once = crate::store::Key::new("violation.once", &tenant.id)
        .part(rule)
        .part(campaign);
    let window = env.profile.bulk.window.get().max(env.profile.mail_bomb.window.get());
    match env.store.events_check_and_add(&once, env.now, window, 1).await {
        Ok(charge) if !charge.admitted => return,
        Ok(_) => {}
        Err(error) => {
            tracing::error!(tenant = %tenant.id, rule, %error, "recording a violation failed");
            return;
        }
    }
    let event = Event {
        at: env.now,
        kind: "violation".into(),
        rule: Some(rule.to_string()),
        detail: serde_json::Value::Null,
    };
    match escalate(env, tenants, tenant, rule, &event).await {
        Ok(Some(state)) => {
            if let Some(notices) = notices {
                tell(notices, tenant, rule, state).await;
            }
        }
        Ok(None) => {}
        Err(error) => tracing::error!(tenant = %tenant.id, rule, %error, "recording a violation failed"),
    }
}

/// Sends the tenant's contact the notice of the step the violation ladder took (the state it
/// moved `tenant` to for breaking `rule`); a notice that cannot be sent is logged, the step
/// stands.
async fn tell(notices: &dyn NoticeSender, tenant: &Tenant, rule: &str, state: TenantState) {
    let (kind, now) = match state {
        TenantState::Active | TenantState::Warned => (NoticeKind::Warning, "warned"),
        TenantState::FinalWarning => (NoticeKind::FinalWarning, "on final warning"),
        TenantState::Suspended => (NoticeKind::Suspension, "suspended"),
    };
    let notice = Notice {
        tenant: tenant.id.clone(),
        kind,
        reason: format!(
            "Mail from your account was refused again and again for breaking the rule {rule} \
             (each refusal names it): your provider's escalation ladder now has your account {now}."
        ),
        copies: Vec::new(),
    };
    match notices.send(&notice).await {
        Ok(queue_id) => tracing::info!(tenant = %tenant.id, rule, ?kind, %queue_id, "violation notice queued"),
        Err(error) => tracing::error!(tenant = %tenant.id, rule, ?kind, %error, "violation notice not sent"),
    }
}

/// Records `event` (a rung: see `counts_on_ladder`) for `rule` and applies the ladder; the
/// tenant's new state when it moved.
///
/// One session at a time judges a tenant's ladder, across nodes: a lock in the store (an event
/// log holding at most one entry, which lapses after [`LADDER_LOCK_HELD`] should its holder
/// die). The holder judges against the stored state and every event appended before it took the
/// lock, so sessions judging at once move the tenant once, send one notice and never lower it,
/// and a state an operator lowered is raised again by the next violation.
pub(crate) async fn escalate(
    env: &Env<'_>,
    tenants: Option<&TenantDirectory>,
    tenant: &Tenant,
    rule: &str,
    event: &Event,
) -> Result<Option<TenantState>, crate::store::StoreError> {
    env.store.event_append(&tenant.id, event).await?;
    if env.profile.escalation.steps.is_empty() {
        return Ok(None);
    }
    let lock = crate::store::Key::new("escalation.lock", &tenant.id);
    let mut tries = 0;
    while !env
        .store
        .events_check_and_add(&lock, env.now, LADDER_LOCK_HELD, 1)
        .await?
        .admitted
    {
        tries += 1;
        if tries == LADDER_LOCK_TRIES {
            // The holder judges this event too if it read the events after it was appended;
            // otherwise the next violation does.
            tracing::warn!(tenant = %tenant.id, rule, "escalation: the ladder stayed locked; not judged this time");
            return Ok(None);
        }
        tokio::time::sleep(LADDER_LOCK_RETRY).await;
    }
    let judged = judge(env, tenants, tenant, rule).await;
    if let Err(error) = env.store.events_release(&lock, env.now, LADDER_LOCK_HELD).await {
        tracing::error!(tenant = %tenant.id, %error, "the ladder's lock could not be given back: it lapses by itself");
    }
    judged
}

/// The ladder's judgement of the tenant's stored events and state, under the ladder's lock:
/// the state it moved the tenant to, if it moved it.
async fn judge(
    env: &Env<'_>,
    tenants: Option<&TenantDirectory>,
    tenant: &Tenant,
    rule: &str,
) -> Result<Option<TenantState>, crate::store::StoreError> {
    let steps = &env.profile.escalation.steps;
    let record = env.store.tenant_get(&tenant.id).await?;
    let restarted = record.as_ref().and_then(|r| r.ladder_since);
    // The stored state: the live one may not have heard of another node's step yet.
    let current = record.as_ref().map_or_else(|| tenant.state.get(), |r| r.state);
    let longest = steps.iter().map(|s| s.window.get()).max().unwrap_or_default();
    let from = env.now.saturating_sub(longest.as_millis() as u64);
    let events = env.store.events_range(&tenant.id, from, env.now).await?;
    let mut target = current;
    for step in steps {
        let since = env.now.saturating_sub(step.window.get().as_millis() as u64);
        let count = events
            .iter()
            .filter(|e| counts_on_ladder(&e.kind) && e.at >= since && restarted.is_none_or(|r| e.at > r))
            .count() as u64;
        if count >= step.events && rank(step.state) > rank(target) {
            target = step.state;
        }
    }
    if target == current {
        return Ok(None);
    }
    move_to(env, tenant, rule, target).await?;
    if let Some(live) = tenants.and_then(|d| d.get(&tenant.id)) {
        live.state.set(target);
    } else {
        tenant.state.set(target);
    }
    tracing::warn!(tenant = %tenant.id, rule, state = ?target, "escalation: tenant state changed");
    Ok(Some(target))
}

/// Writes the step to `target` the ladder took: the tenant's state, and at suspension the
/// tenant block only an operator lifts.
async fn move_to(
    env: &Env<'_>,
    tenant: &Tenant,
    rule: &str,
    target: TenantState,
) -> Result<(), crate::store::StoreError> {
    // One field: an operator's change of any other field meanwhile stays.
    env.store
        .tenant_update(&tenant.id, &[TenantChange::Set(TenantField::State(target))])
        .await?;
    if target == TenantState::Suspended {
        let block = Block {
            tenant: tenant.id.clone(),
            scope: BlockScope::Tenant,
            target: String::new(),
            by: format!("policy:{rule}"),
            reason: format!("escalation ladder reached suspension after repeated {rule} violations"),
            at: env.now,
            expires_at: None,
        };
        env.store.block_add(&block).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use super::record_violation;
    use crate::complaints::model::{ComplaintFut, Notice, NoticeKind, NoticeSender};
    use crate::policy::profile::Profile;
    use crate::policy::{Env, Rule};
    use crate::store::{RateStore, TenantRecord, TenantState};
    use crate::tenant::{TenantDirectory, TenantSpec};

    /// Records the notices it is asked to send.
    #[derive(Default)]
    struct Recorder(Mutex<Vec<Notice>>);

    impl NoticeSender for Recorder {
        fn send<'a>(&'a self, notice: &'a Notice) -> ComplaintFut<'a, String> {
            self.0.lock().unwrap().push(notice.clone());
            Box::pin(std::future::ready(Ok("Q".to_string())))
        }
    }

    /// A session's violation of `bulk.max_recipients` by tenant `acme` in `campaign` at `now`.
    async fn violate(
        store: &Arc<dyn RateStore>,
        tenants: &TenantDirectory,
        profile: &Profile,
        notices: &Arc<Recorder>,
        now: u64,
        campaign: &str,
    ) {
        let env = Env::direct(store.as_ref(), profile, now);
        let tenant = tenants.get("acme").unwrap();
        let notices: &dyn NoticeSender = notices.as_ref();
        record_violation(
            &env,
            Some(tenants),
            Some(notices),
            &tenant,
            Rule::BulkMaxRecipients,
            campaign,
        )
        .await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn violations_judged_at_once_take_a_step_once() {
        // Eight sessions break a rule in eight campaigns at the same moment; each one's event
        // alone reaches the first step, all have appended it before any judges the ladder, and
        // the first to move the tenant takes its time. The tenant is warned once, with one notice.
        let dir = tempfile::tempdir().unwrap();
        let rocks: Arc<dyn RateStore> =
            Arc::new(crate::store::rocks::RocksStore::open(dir.path(), Duration::from_secs(86_400)).unwrap());
        let faulty = Arc::new(crate::store::faulty::Faulty::new(rocks));
        faulty.meet("event_append", 8);
        faulty.slow("tenant_update", Duration::from_millis(50));
        let store: Arc<dyn RateStore> = faulty.clone();
        store.tenant_create(&TenantRecord::new("acme", "Acme")).await.unwrap();
        let tenants = Arc::new(TenantDirectory::from_specs(vec![TenantSpec::with_networks(
            "acme",
            &[],
            &[],
        )]));
        let profile = Arc::new(
            Profile::parse("[[escalation.steps]]\nevents = 1\nwindow = \"30d\"\nstate = \"warned\"\n").unwrap(),
        );
        let notices = Arc::new(Recorder::default());
        let now = 1_800_000_000_000;
        let sessions: Vec<_> = (0..8)
            .map(|n| {
                let (store, tenants, profile, notices) =
                    (store.clone(), tenants.clone(), profile.clone(), notices.clone());
                tokio::spawn(async move { violate(&store, &tenants, &profile, &notices, now, &format!("c{n}")).await })
            })
            .collect();
        for session in sessions {
            session.await.unwrap();
        }
        let kinds: Vec<NoticeKind> = notices.0.lock().unwrap().iter().map(|n| n.kind).collect();
        assert_eq!(kinds, [NoticeKind::Warning]);
        let record = store.tenant_get("acme").await.unwrap().unwrap();
        assert_eq!(record.state, TenantState::Warned);
        assert_eq!(tenants.get("acme").unwrap().state.get(), TenantState::Warned);

        // An operator lowers the state without restarting the ladder; the next violation takes
        // the step again (its events still count).
        faulty.meet("event_append", 1);
        let active = [crate::store::TenantChange::Set(crate::store::TenantField::State(
            TenantState::Active,
        ))];
        store.tenant_update("acme", &active).await.unwrap();
        tenants.get("acme").unwrap().state.set(TenantState::Active);
        violate(&store, &tenants, &profile, &notices, now + 1_000, "c9").await;
        assert_eq!(notices.0.lock().unwrap().len(), 2);
        assert_eq!(
            store.tenant_get("acme").await.unwrap().unwrap().state,
            TenantState::Warned
        );
    }
}

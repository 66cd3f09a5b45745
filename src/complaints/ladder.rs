//! The effects of a complaint on its tenant: [`ComplaintLadders`] is the [`ComplaintSink`]
//! intake hands each new attributed complaint to, the [`DeliveryWatcher`] the relay tells about
//! counted outcomes, and the periodic task that watches case deadlines.
//!
//! On a complaint, at its reception time (a millisecond later than the tenant's previous one
//! when they coincide): count it (`counts`: exact windows, the month); then,
//! per the tenant's profile `[complaints]`: the immediate rules and the step ladder (`steps`;
//! not for an anonymous complaint when the profile ignores those), a case (`case_actions`), the
//! rates (below). The same complaint handed over twice counts and acts once; one whose
//! effects failed part-way (a store error, answered with an error so the reporter retries) is
//! completed by the retry: the "done" marker is written last, each count and step is
//! idempotent per complaint.
//!
//! Rates (`rates`): each band crossed is recorded once per rate window as a
//! [`Kind::Rate`] event on the `[escalation]` ladder (which may move the tenant); a `suspend`
//! band also suspends. Judged on each complaint and, at most every [`RATE_CHECK_EVERY`] per
//! tenant, when the relay counted outcomes.
//!
//! Every step is an event in the tenant's log (`events`), lifting a suspension works as for any
//! block and restarts the ladders (the tenant's `ladder_since`), and each step sends a notice.
//! Errors are the store's: intake answers with a temporary failure; nothing here fails open.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::watch;

use super::act::Action;
use super::events::{Kind, LadderRule};
use super::model::{
    Complaint, ComplaintError, ComplaintFut, ComplaintLog, ComplaintSink, DeliveryWatcher, NoticeKind, NoticeSender,
    Recorded,
};
use super::rates::{self, Band};
use super::{cases, counts};
use crate::policy::Engine;
use crate::store::{Event, Key, RateStore};
use crate::tenant::{Tenant, TenantDirectory, TenantState};

/// The rates of one tenant are judged at most this often on relay outcomes.
pub const RATE_CHECK_EVERY: Duration = Duration::from_secs(10);

/// The complaint ladders of every tenant. Build one with [`ComplaintLadders::new`], hand it to
/// intake as a sink and to the relay as a watcher, and spawn [`ComplaintLadders::run`].
pub struct ComplaintLadders {
    pub(super) engine: Arc<Engine>,
    pub(super) tenants: Arc<TenantDirectory>,
    pub(super) notices: Arc<dyn NoticeSender>,
    pub(super) log: Arc<dyn ComplaintLog>,
    /// When each tenant's rates were last judged on relay outcomes (unix ms).
    rates_judged: Mutex<HashMap<String, u64>>,
    /// One judgement at a time on this node: two complaints handled at once must not both take
    /// the step the first one reached. (Across nodes sharing a Redis store a step is claimed in
    /// the store, `steps`; an immediate rule or a rate band may still be told twice.)
    pub(super) serial: tokio::sync::Mutex<()>,
    /// The last complaint time of each tenant judged on this node (unix ms): complaints
    /// received in the same millisecond (a batch import) are judged a millisecond apart, so a
    /// step is taken between two complaints, never between two halves of one instant.
    last_at: Mutex<HashMap<String, u64>>,
}

impl ComplaintLadders {
    /// The ladders over the engine's store and profiles (reloads included) and the live
    /// tenants; notices go through `notices`, copies of reported mails come from `log`.
    pub fn new(
        engine: Arc<Engine>,
        tenants: Arc<TenantDirectory>,
        notices: Arc<dyn NoticeSender>,
        log: Arc<dyn ComplaintLog>,
    ) -> Arc<ComplaintLadders> {
        Arc::new(ComplaintLadders {
            engine,
            tenants,
            notices,
            log,
            rates_judged: Mutex::new(HashMap::new()),
            serial: tokio::sync::Mutex::new(()),
            last_at: Mutex::new(HashMap::new()),
        })
    }

    /// Holds the ladders' lock until the guard is dropped: for tests that a judgement in
    /// progress holds up nobody else (delivery).
    #[doc(hidden)]
    pub async fn hold_for_test(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.serial.lock().await
    }

    pub(super) fn store(&self) -> &dyn RateStore {
        self.engine.store().as_ref()
    }

    /// Applies a complaint's effects at its reception time (what [`ComplaintSink::record`]
    /// does). An unattributed complaint has none.
    pub async fn apply(&self, complaint: &Complaint) -> Result<Recorded, ComplaintError> {
        let _serial = self.serial.lock().await;
        let Some(tenant_id) = complaint.tenant.as_deref() else {
            return Ok(Recorded::New {
                id: complaint.dedup_key.clone(),
            });
        };
        let at = {
            let mut last = self.last_at.lock().unwrap_or_else(|p| p.into_inner());
            let slot = last.entry(tenant_id.to_string()).or_insert(0);
            *slot = complaint.received_at.max(slot.saturating_add(1));
            *slot
        };
        let moved;
        let complaint = if at == complaint.received_at {
            complaint
        } else {
            moved = Complaint {
                received_at: at,
                ..complaint.clone()
            };
            &moved
        };
        let store = self.store();
        let signed = complaint.reporter.is_some();
        if counts::is_done(store, tenant_id, &complaint.dedup_key, at).await? {
            return Ok(Recorded::Duplicate {
                id: complaint.dedup_key.clone(),
            });
        }
        counts::record(store, tenant_id, &complaint.dedup_key, signed, at).await?;
        let recorded = self.judge(tenant_id, complaint, at).await?;
        // Only now is the complaint done: a failure above is retried, and every step of it is
        // idempotent (counts per complaint, a ladder step taken only with its state written).
        counts::mark_done(store, tenant_id, &complaint.dedup_key, at).await?;
        Ok(recorded)
    }

    async fn judge(&self, tenant_id: &str, complaint: &Complaint, at: u64) -> Result<Recorded, ComplaintError> {
        let store = self.store();
        let signed = complaint.reporter.is_some();
        let Some(tenant) = self.tenants.get(tenant_id) else {
            tracing::warn!(
                tenant = tenant_id,
                "complaint for a tenant that is not live: counted only"
            );
            return Ok(Recorded::New {
                id: complaint.dedup_key.clone(),
            });
        };
        let profile = self.engine.profile_for(&tenant);
        let rules = &profile.complaints;
        let restart = store
            .tenant_get(tenant_id)
            .await?
            .and_then(|r| r.ladder_since)
            .unwrap_or(0);
        if signed || !rules.ignore_anonymous {
            self.judge_steps(&tenant, rules, complaint, restart).await?;
        }
        let mut id = complaint.dedup_key.clone();
        if rules.cases.enabled {
            id = self.open_case(&tenant, &rules.cases, complaint, restart).await?;
        }
        if rules.rates.enabled {
            self.rates_at(&tenant, at).await?;
        }
        Ok(Recorded::New { id })
    }

    /// Judges `tenant`'s complaint and bounce rates at `now`: each band crossed (the highest
    /// per rate) is acted on once per rate window.
    pub async fn judge_rates(&self, tenant: &Tenant, now: u64) -> Result<(), ComplaintError> {
        let _serial = self.serial.lock().await;
        self.rates_at(tenant, now).await
    }

    async fn rates_at(&self, tenant: &Tenant, now: u64) -> Result<(), ComplaintError> {
        let profile = self.engine.profile_for(tenant);
        let rules = &profile.complaints.rates;
        if !rules.enabled {
            return Ok(());
        }
        let store = self.store();
        let figures = rates::measure(store, &tenant.id, now).await?;
        for crossing in rates::crossings(&figures, rules) {
            let once = |band: Band| {
                Key::new("complaints.rate_once", &tenant.id)
                    .part(crossing.rule.as_str())
                    .part(band.as_str())
            };
            // The band's marker is read first and written only once the band was acted on, so
            // a failure in between is retried on the next judgement.
            if store.events_count(&once(crossing.band), now, rates::WINDOW).await? > 0 {
                continue;
            }
            let (what, count) = match crossing.rule {
                LadderRule::ComplaintRate => ("complaint", figures.complaints),
                _ => ("hard-bounce", figures.hard_bounces),
            };
            let reason = format!(
                "{what} rate {:.2}% ({count} of {} recipients in 7d) reached the {} band of {}%{}",
                crossing.percent,
                figures.recipients,
                crossing.band.as_str(),
                crossing.threshold,
                if rules.clause.trim().is_empty() {
                    String::new()
                } else {
                    format!(" (\"{}\")", rules.clause.trim())
                },
            );
            let event = Event {
                at: now,
                kind: Kind::Rate.as_str().into(),
                rule: Some(crossing.rule.as_str().into()),
                detail: serde_json::json!({
                    "band": crossing.band.as_str(),
                    "percent": crossing.percent,
                    "threshold_percent": crossing.threshold,
                    "recipients": figures.recipients,
                    "complaints": figures.complaints,
                    "hard_bounces": figures.hard_bounces,
                    "window_seconds": figures.window_seconds,
                    "by": format!("policy:{}", crossing.rule.as_str()),
                    "reason": reason,
                    "clause": rules.clause,
                }),
            };
            let env = crate::policy::Env::direct(store, &profile, now);
            let before = tenant.state.get();
            let moved = crate::policy::escalation::escalate(
                &env,
                Some(self.tenants.as_ref()),
                tenant,
                crossing.rule.as_str(),
                &event,
            )
            .await?;
            let mut suspended = moved == Some(TenantState::Suspended);
            if crossing.band == Band::Suspend && !suspended && tenant.state.get() != TenantState::Suspended {
                // The suspend band suspends whatever the ladder said; the event is already logged.
                let action = Action {
                    kind: Kind::Suspension,
                    rule: crossing.rule,
                    state: Some(TenantState::Suspended),
                    notice: None,
                    reason: reason.clone(),
                    detail: serde_json::json!({ "band": crossing.band.as_str(), "percent": crossing.percent }),
                    copies: Vec::new(),
                };
                suspended = self.act(tenant, now, action).await? == Some(TenantState::Suspended);
            }
            let notice = match (suspended, tenant.state.get()) {
                (true, _) => Some(NoticeKind::Suspension),
                (false, TenantState::Suspended) => None,
                (false, TenantState::FinalWarning) if before != TenantState::FinalWarning => {
                    Some(NoticeKind::FinalWarning)
                }
                (false, _) => Some(NoticeKind::Warning),
            };
            store
                .events_check_and_add(&once(crossing.band), now, rates::WINDOW, 1)
                .await?;
            if crossing.band == Band::Suspend {
                // Past the suspend band the review band is crossed too: not acted on again.
                store
                    .events_check_and_add(&once(Band::Review), now, rates::WINDOW, 1)
                    .await?;
            }
            if let Some(kind) = notice {
                self.notify(super::model::Notice {
                    tenant: tenant.id.clone(),
                    kind,
                    reason,
                    copies: Vec::new(),
                })
                .await;
            }
        }
        Ok(())
    }

    /// The periodic task: checks case deadlines every [`cases::CHECK_EVERY`] until shutdown.
    pub async fn run(self: Arc<Self>, mut shutdown: watch::Receiver<bool>) {
        loop {
            tokio::select! {
                _ = tokio::time::sleep(cases::CHECK_EVERY) => {}
                _ = shutdown.changed() => return,
            }
            self.check_cases(crate::queue::now_ms()).await;
        }
    }
}

impl ComplaintSink for ComplaintLadders {
    fn record<'a>(&'a self, complaint: &'a Complaint) -> ComplaintFut<'a, Recorded> {
        Box::pin(self.apply(complaint))
    }
}

impl DeliveryWatcher for ComplaintLadders {
    /// Judges the tenant's rates, at most every [`RATE_CHECK_EVERY`] per tenant.
    fn outcome_counted<'a>(&'a self, tenant: &'a str) -> ComplaintFut<'a, ()> {
        Box::pin(async move {
            let now = crate::queue::now_ms();
            {
                let mut judged = self.rates_judged.lock().unwrap_or_else(|p| p.into_inner());
                let last = judged.get(tenant).copied().unwrap_or(0);
                if now.saturating_sub(last) < RATE_CHECK_EVERY.as_millis() as u64 {
                    return Ok(());
                }
                judged.insert(tenant.to_string(), now);
            }
            match self.tenants.get(tenant) {
                Some(live) => self.judge_rates(&live, now).await,
                None => Ok(()),
            }
        })
    }
}

//! What cases do to a tenant (the rules are `[complaints.cases]`; a case's model is `cases`):
//! a complaint opens a case and tells the tenant its deadline; enough open cases for one
//! campaign suspend the tenant at once ("multiple claims ... arising from related conduct": our
//! reading is `related_open_cases` cases still open for the same campaign, counting cases
//! opened since the ladder last restarted; a complaint whose campaign is unknown relates to no
//! other); and the periodic check sends the "deadline near" notice and suspends for a case
//! past its deadline, each once per case.

use super::act::Action;
use super::cases::{self, Case, DEADLINE_LOOKBACK, OPEN_LOOKBACK};
use super::events::{Kind, LadderRule};
use super::ladder::ComplaintLadders;
use super::model::{Complaint, ComplaintError, Notice, NoticeKind};
use crate::policy::complaint_rules::CaseRules;
use crate::smtp::trace::rfc5322_date;
use crate::tenant::{Tenant, TenantState};

fn when(ms: u64) -> String {
    rfc5322_date(ms / 1000)
}

impl ComplaintLadders {
    /// Opens the case of `complaint` and applies the related-claims rule; returns the case id.
    pub(super) async fn open_case(
        &self,
        tenant: &Tenant,
        rules: &CaseRules,
        complaint: &Complaint,
        restart: u64,
    ) -> Result<String, ComplaintError> {
        let store = self.store();
        let at = complaint.received_at;
        let case = Case {
            id: cases::case_id(at, &complaint.dedup_key),
            tenant: tenant.id.clone(),
            opened_at: at,
            deadline: cases::deadline(rules, at, complaint.urgent),
            urgent: complaint.urgent,
            campaign: complaint.campaign.clone(),
            reporter: complaint.reporter.clone(),
            feedback_type: complaint.feedback_type.clone(),
            reminded: false,
            overdue: false,
            resolved: None,
        };
        // A retried complaint whose case was opened already (the retry runs a millisecond
        // later, so the id's time differs; the tag of the dedup key is the same).
        let tag = case.id.split_once('-').map_or("", |(_, tag)| tag);
        let recent = at.saturating_sub(OPEN_LOOKBACK.as_millis() as u64);
        let opened_before = cases::cases(store, &tenant.id, recent, at.saturating_add(1))
            .await?
            .into_iter()
            .find(|c| c.id.split_once('-').map(|(_, t)| t) == Some(tag));
        let case = match opened_before {
            Some(opened) => opened,
            None => self.open_new(tenant, rules, complaint, case).await?,
        };
        self.related_cases(tenant, rules, &case, restart).await?;
        Ok(case.id)
    }

    async fn open_new(
        &self,
        tenant: &Tenant,
        rules: &CaseRules,
        complaint: &Complaint,
        case: Case,
    ) -> Result<Case, ComplaintError> {
        let store = self.store();
        let reason = format!(
            "case {} opened for a complaint ({} from {}{}): correct the cause by {} ({}); unresolved at the deadline, sending is suspended",
            case.id,
            case.feedback_type,
            case.reporter.as_deref().unwrap_or("an anonymous reporter"),
            case.campaign.as_deref().map(|c| format!(", campaign {c}")).unwrap_or_default(),
            when(case.deadline),
            if case.urgent {
                format!("urgent: {}", super::steps::window_text(rules.urgent_deadline.get()))
            } else {
                format!("{} business days", rules.business_days)
            },
        );
        store
            .event_append(&tenant.id, &cases::opened_event(&case, &reason, &rules.clause))
            .await?;
        self.notify(Notice {
            tenant: tenant.id.clone(),
            kind: NoticeKind::CaseOpened,
            reason,
            copies: vec![complaint.original.clone()]
                .into_iter()
                .filter(|m| !m.is_empty())
                .collect(),
        })
        .await;
        Ok(case)
    }

    /// The related-claims rule, after `case` was opened.
    async fn related_cases(
        &self,
        tenant: &Tenant,
        rules: &CaseRules,
        case: &Case,
        restart: u64,
    ) -> Result<(), ComplaintError> {
        let store = self.store();
        let at = case.opened_at;
        let Some(campaign) = case.campaign.as_deref() else {
            return Ok(());
        };
        if rules.related_open_cases == 0 {
            return Ok(());
        }
        let from = restart
            .saturating_add(1)
            .max(at.saturating_sub(OPEN_LOOKBACK.as_millis() as u64));
        let related: Vec<Case> = cases::cases(store, &tenant.id, from, at)
            .await?
            .into_iter()
            .filter(|c| c.is_open() && c.campaign.as_deref() == Some(campaign))
            .collect();
        if (related.len() as u64) < rules.related_open_cases || tenant.state.get() == TenantState::Suspended {
            return Ok(());
        }
        let ids: Vec<&str> = related.iter().map(|c| c.id.as_str()).collect();
        let reason = format!(
            "{} open complaint cases for campaign {campaign} ({}) reached the related-claims rule of {}: sending is suspended{}",
            related.len(),
            ids.join(", "),
            rules.related_open_cases,
            quote(&rules.clause),
        );
        let action = Action {
            kind: Kind::Suspension,
            rule: LadderRule::RelatedCases,
            state: Some(TenantState::Suspended),
            notice: Some(NoticeKind::Suspension),
            reason,
            detail: serde_json::json!({
                "campaign": campaign,
                "open_cases": ids,
                "threshold": rules.related_open_cases,
                "clause": rules.clause,
            }),
            copies: Vec::new(),
        };
        self.act(tenant, at, action).await?;
        Ok(())
    }

    /// The periodic check of every tenant whose profile opens cases, at `now`: a "deadline
    /// near" notice for each open case within its reminder time, a suspension for each open case
    /// past its deadline, each once per case. One tenant's failure does not stop the others
    /// (logged); returns how many tenants failed.
    pub async fn check_cases(&self, now: u64) -> usize {
        let _serial = self.serial.lock().await;
        let mut failed = 0;
        for id in self.tenants.ids() {
            let Some(tenant) = self.tenants.get(&id) else { continue };
            let profile = self.engine.profile_for(&tenant);
            if !profile.complaints.cases.enabled {
                continue;
            }
            if let Err(error) = self.check_tenant_cases(&tenant, &profile.complaints.cases, now).await {
                tracing::error!(tenant = %id, %error, "checking complaint case deadlines failed");
                failed += 1;
            }
        }
        failed
    }

    async fn check_tenant_cases(&self, tenant: &Tenant, rules: &CaseRules, now: u64) -> Result<(), ComplaintError> {
        let store = self.store();
        let from = now.saturating_sub(DEADLINE_LOOKBACK.as_millis() as u64);
        for case in cases::cases(store, &tenant.id, from, now).await? {
            if !case.is_open() {
                continue;
            }
            if now >= case.deadline {
                if case.overdue || cases::done_before(store, &tenant.id, &case.id, Kind::CaseOverdue, now).await? {
                    continue;
                }
                // Suspend first, then the overdue event and the marker: a failure on the way is
                // tried again by the next check (the suspension is idempotent).
                let reason = format!(
                    "case {} (opened {}) was not resolved by its deadline {}: sending is suspended{}",
                    case.id,
                    when(case.opened_at),
                    when(case.deadline),
                    quote(&rules.clause),
                );
                let action = Action {
                    kind: Kind::Suspension,
                    rule: LadderRule::CaseDeadline,
                    state: Some(TenantState::Suspended),
                    notice: Some(NoticeKind::Suspension),
                    reason,
                    detail: serde_json::json!({
                        "case": case.id,
                        "opened_at": case.opened_at,
                        "deadline": case.deadline,
                        "clause": rules.clause,
                    }),
                    copies: Vec::new(),
                };
                self.act(tenant, now, action).await?;
                store
                    .event_append(
                        &tenant.id,
                        &crate::store::Event {
                            at: now,
                            kind: Kind::CaseOverdue.as_str().into(),
                            rule: Some(LadderRule::CaseDeadline.as_str().into()),
                            detail: serde_json::json!({ "case": case.id, "deadline": case.deadline }),
                        },
                    )
                    .await?;
                cases::mark_done(store, &tenant.id, &case.id, Kind::CaseOverdue, now).await?;
            } else if now >= cases::remind_at(rules, &case) && !case.reminded {
                if cases::done_before(store, &tenant.id, &case.id, Kind::CaseDeadlineNear, now).await? {
                    continue;
                }
                let reason = format!(
                    "case {} (opened {}) must be resolved by {}: unresolved then, sending is suspended",
                    case.id,
                    when(case.opened_at),
                    when(case.deadline),
                );
                store
                    .event_append(
                        &tenant.id,
                        &crate::store::Event {
                            at: now,
                            kind: Kind::CaseDeadlineNear.as_str().into(),
                            rule: Some(LadderRule::Case.as_str().into()),
                            detail: serde_json::json!({
                                "case": case.id,
                                "deadline": case.deadline,
                                "by": format!("policy:{}", LadderRule::Case.as_str()),
                                "reason": reason,
                            }),
                        },
                    )
                    .await?;
                cases::mark_done(store, &tenant.id, &case.id, Kind::CaseDeadlineNear, now).await?;
                self.notify(Notice {
                    tenant: tenant.id.clone(),
                    kind: NoticeKind::CaseDeadlineNear,
                    reason,
                    copies: Vec::new(),
                })
                .await;
            }
        }
        Ok(())
    }
}

fn quote(clause: &str) -> String {
    if clause.trim().is_empty() {
        String::new()
    } else {
        format!(" (\"{}\")", clause.trim())
    }
}

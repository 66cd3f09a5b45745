//! Cases (Integra): every complaint opens a case with a deadline (5 business days, 24 h when
//! urgent) by which the tenant must correct the cause and an operator resolves it
//! (`aupgate admin complaints resolve ID`, `POST /api/v1/complaints/{id}/resolve`).
//!
//! A case lives in the tenant's event log: opened ([`Kind::CaseOpened`], with its deadline),
//! reminded, overdue, resolved; [`cases`] folds those events back into cases, so a case needs
//! no store of its own and its whole history shows in `events`. Its id is
//! `<opened at, unix ms>-<8 hex of the complaint>`: resolving finds it with one lookup of one
//! millisecond per tenant.
//!
//! The periodic task (`ladder::ComplaintLadders::run`, every [`CHECK_EVERY`]) sends the
//! "deadline near" notice once per case and suspends the tenant once per case past its
//! deadline; it looks at cases opened in the last [`DEADLINE_LOOKBACK`]. The related-claims rule
//! runs when a complaint opens a case. Business days are Monday to Friday in UTC; public
//! holidays are not known.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::events::{Kind, LadderRule};
use crate::policy::complaint_rules::CaseRules;
use crate::store::{AuditRecord, Event, Key, RateStore, StoreError};

/// How often the periodic task looks at deadlines.
pub const CHECK_EVERY: Duration = Duration::from_secs(60);
/// Cases opened this long ago or less are checked for their deadline (a deadline is at most
/// 30 business days away).
pub const DEADLINE_LOOKBACK: Duration = Duration::from_secs(45 * 86_400);
/// Cases opened this long ago or less count as open for the related-claims rule and the summary.
pub const OPEN_LOOKBACK: Duration = Duration::from_secs(365 * 86_400);

const DAY_MS: u64 = 86_400_000;

/// A case, as its events tell it. Times are unix ms.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Case {
    pub id: String,
    pub tenant: String,
    pub opened_at: u64,
    pub deadline: u64,
    pub urgent: bool,
    pub campaign: Option<String>,
    pub reporter: Option<String>,
    pub feedback_type: String,
    /// The "deadline near" notice went out.
    pub reminded: bool,
    /// The deadline passed unresolved (the tenant was suspended for it).
    pub overdue: bool,
    pub resolved: Option<Resolution>,
}

/// Who resolved a case, when and why.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Resolution {
    pub at: u64,
    pub by: String,
    pub reason: String,
}

impl Case {
    pub fn is_open(&self) -> bool {
        self.resolved.is_none()
    }
}

/// A case's id: `<opened at>-<first 4 bytes of SHA-256 of the complaint's dedup key, hex>`.
pub fn case_id(opened_at: u64, dedup_key: &str) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, dedup_key.as_bytes());
    let tag: String = digest.as_ref()[..4].iter().map(|b| format!("{b:02x}")).collect();
    format!("{opened_at}-{tag}")
}

/// When the case `id` was opened; `None` if it is not a case id.
pub fn opened_at(id: &str) -> Option<u64> {
    let (at, tag) = id.split_once('-')?;
    (tag.len() == 8 && tag.bytes().all(|b| b.is_ascii_hexdigit())).then_some(())?;
    at.parse().ok()
}

/// Monday = 0 ... Sunday = 6 of a unix-ms time (1970-01-01 was a Thursday).
fn weekday(at: u64) -> u64 {
    (at / DAY_MS + 3) % 7
}

/// `at` moved forward by `days` business days (Monday to Friday, UTC), at the same time of day.
pub fn business_deadline(at: u64, days: u64) -> u64 {
    let mut t = at;
    for _ in 0..days {
        t += DAY_MS;
        while weekday(t) >= 5 {
            t += DAY_MS;
        }
    }
    t
}

/// The deadline of a case opened at `at`.
pub fn deadline(rules: &CaseRules, at: u64, urgent: bool) -> u64 {
    if urgent {
        at.saturating_add(rules.urgent_deadline.get().as_millis() as u64)
    } else {
        business_deadline(at, rules.business_days)
    }
}

/// When the "deadline near" notice of `case` is due.
pub fn remind_at(rules: &CaseRules, case: &Case) -> u64 {
    let before = if case.urgent {
        rules.urgent_remind_before
    } else {
        rules.remind_before
    };
    case.deadline.saturating_sub(before.get().as_millis() as u64)
}

/// The event that opens `case`.
pub fn opened_event(case: &Case, reason: &str, clause: &str) -> Event {
    Event {
        at: case.opened_at,
        kind: Kind::CaseOpened.as_str().into(),
        rule: Some(LadderRule::Case.as_str().into()),
        detail: serde_json::json!({
            "case": case.id,
            "deadline": case.deadline,
            "urgent": case.urgent,
            "campaign": case.campaign,
            "reporter": case.reporter,
            "feedback_type": case.feedback_type,
            "by": format!("policy:{}", LadderRule::Case.as_str()),
            "reason": reason,
            "clause": clause,
        }),
    }
}

/// The tenant's cases opened in `[from, to]`, with what happened to each up to `to`.
pub async fn cases(store: &dyn RateStore, tenant: &str, from: u64, to: u64) -> Result<Vec<Case>, StoreError> {
    let events = store.events_range(tenant, from, to).await?;
    let mut found: Vec<Case> = Vec::new();
    for event in &events {
        let Some(kind) = Kind::parse(&event.kind) else { continue };
        let detail = &event.detail;
        let Some(id) = detail["case"].as_str() else { continue };
        if kind == Kind::CaseOpened {
            found.push(Case {
                id: id.to_string(),
                tenant: tenant.to_string(),
                opened_at: event.at,
                deadline: detail["deadline"].as_u64().unwrap_or(event.at),
                urgent: detail["urgent"].as_bool().unwrap_or(false),
                campaign: detail["campaign"].as_str().map(str::to_string),
                reporter: detail["reporter"].as_str().map(str::to_string),
                feedback_type: detail["feedback_type"].as_str().unwrap_or_default().to_string(),
                reminded: false,
                overdue: false,
                resolved: None,
            });
            continue;
        }
        let Some(case) = found.iter_mut().find(|c| c.id == id) else {
            continue;
        };
        match kind {
            Kind::CaseDeadlineNear => case.reminded = true,
            Kind::CaseOverdue => case.overdue = true,
            Kind::CaseResolved => {
                case.resolved = Some(Resolution {
                    at: event.at,
                    by: detail["by"].as_str().unwrap_or_default().to_string(),
                    reason: detail["reason"].as_str().unwrap_or_default().to_string(),
                })
            }
            _ => {}
        }
    }
    Ok(found)
}

/// Whether the once-per-case action `what` of case `id` was already done (read at `now`).
pub async fn done_before(
    store: &dyn RateStore,
    tenant: &str,
    id: &str,
    what: Kind,
    now: u64,
) -> Result<bool, StoreError> {
    Ok(store
        .events_count(&once_key(tenant, id, what), now, OPEN_LOOKBACK)
        .await?
        > 0)
}

/// Records that the once-per-case action `what` of case `id` was done: written only after the
/// action, so a failed one is tried again by the next check.
pub async fn mark_done(store: &dyn RateStore, tenant: &str, id: &str, what: Kind, now: u64) -> Result<(), StoreError> {
    store
        .events_check_and_add(&once_key(tenant, id, what), now, OPEN_LOOKBACK, 1)
        .await?;
    Ok(())
}

/// Marks `what` done for case `id` of `tenant`: `true` for the first caller only (on every node
/// sharing the store), so an action happens once per case.
pub async fn first_time(
    store: &dyn RateStore,
    tenant: &str,
    id: &str,
    what: Kind,
    now: u64,
) -> Result<bool, StoreError> {
    Ok(store
        .events_check_and_add(&once_key(tenant, id, what), now, OPEN_LOOKBACK, 1)
        .await?
        .admitted)
}

fn once_key(tenant: &str, id: &str, what: Kind) -> Key {
    Key::new("complaints.case", tenant).part(id).part(what.as_str())
}

/// Why a case could not be resolved.
#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    #[error("no case `{0}`")]
    NotFound(String),
    #[error("case `{}` was already resolved", .0.id)]
    AlreadyResolved(Box<Case>),
    #[error("`by` and `reason` are required")]
    Incomplete,
    #[error("store: {0}")]
    Store(#[from] StoreError),
}

/// Resolves case `id` (whichever tenant it belongs to): records the resolution as an event and
/// in the audit log. A suspension the case caused stays until an operator lifts the block.
pub async fn resolve(store: &dyn RateStore, id: &str, by: &str, reason: &str, now: u64) -> Result<Case, ResolveError> {
    if by.trim().is_empty() || reason.trim().is_empty() {
        return Err(ResolveError::Incomplete);
    }
    let at = opened_at(id).ok_or_else(|| ResolveError::NotFound(id.to_string()))?;
    for tenant in store.tenant_list().await? {
        let opened = cases(store, &tenant.id, at, at).await?;
        if !opened.iter().any(|c| c.id == id) {
            continue;
        }
        let mut case = cases(store, &tenant.id, at, now.max(at))
            .await?
            .into_iter()
            .find(|c| c.id == id)
            .ok_or_else(|| ResolveError::NotFound(id.to_string()))?;
        if case.resolved.is_some() || !first_time(store, &tenant.id, id, Kind::CaseResolved, now).await? {
            return Err(ResolveError::AlreadyResolved(Box::new(case)));
        }
        let event = Event {
            at: now,
            kind: Kind::CaseResolved.as_str().into(),
            rule: Some(LadderRule::Case.as_str().into()),
            detail: serde_json::json!({ "case": id, "by": by, "reason": reason }),
        };
        store.event_append(&tenant.id, &event).await?;
        let audit = AuditRecord {
            at: now,
            actor: by.to_string(),
            action: "complaint.resolve".into(),
            target: format!("case:{id}"),
            reason: reason.to_string(),
            detail: serde_json::json!({ "opened_at": case.opened_at, "deadline": case.deadline }),
        };
        store.audit_append(&tenant.id, &audit).await?;
        tracing::info!(tenant = %tenant.id, case = id, by, "complaint case resolved");
        case.resolved = Some(Resolution {
            at: now,
            by: by.to_string(),
            reason: reason.to_string(),
        });
        return Ok(case);
    }
    Err(ResolveError::NotFound(id.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    // 2026-12-04 is a Friday, 2026-12-05 a Saturday.
    const FRI_10H: u64 = 1_796_378_400_000;

    #[test]
    fn five_business_days_skip_the_weekend() {
        assert_eq!(weekday(FRI_10H), 4);
        // Friday 10:00 -> the next Friday 10:00.
        assert_eq!(business_deadline(FRI_10H, 5), FRI_10H + 7 * DAY_MS);
        // Saturday 10:00 -> Friday 10:00 (Mon, Tue, Wed, Thu, Fri).
        assert_eq!(business_deadline(FRI_10H + DAY_MS, 5), FRI_10H + 7 * DAY_MS);
        // Monday 10:00 -> Monday 10:00 a week later.
        let monday = FRI_10H + 3 * DAY_MS;
        assert_eq!(business_deadline(monday, 5), monday + 7 * DAY_MS);
        // Tuesday 10:00 + 1 business day = Wednesday.
        assert_eq!(business_deadline(monday + DAY_MS, 1), monday + 2 * DAY_MS);
    }

    #[test]
    fn an_urgent_case_has_the_urgent_deadline() {
        let rules = CaseRules::default();
        assert_eq!(deadline(&rules, FRI_10H, true), FRI_10H + DAY_MS);
        assert_eq!(deadline(&rules, FRI_10H, false), FRI_10H + 7 * DAY_MS);
    }

    #[test]
    fn case_ids_carry_their_opening_time() {
        let id = case_id(FRI_10H, "report-1");
        assert_eq!(opened_at(&id), Some(FRI_10H));
        assert_ne!(id, case_id(FRI_10H, "report-2"));
        for bad in ["", "123", "123-xyz", "abc-0011aabb", "123-0011aabb-1"] {
            assert_eq!(opened_at(bad), None, "{bad}");
        }
    }
}

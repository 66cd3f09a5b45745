//! The threshold ladders (SPCM, Pageant Server): `[[complaints.immediate]]` and
//! `[[complaints.steps]]` judged on each complaint, at its reception time.
//!
//! - An immediate rule counts the complaints since the ladder last restarted (an operator
//!   lifted a suspension) within its window; reaching it moves the tenant at once when that
//!   raises its state.
//! - The tenant stands on step `n` = the number of steps taken since the restart (the
//!   [`Kind::Warning`]/[`Kind::FinalWarning`]/[`Kind::Suspension`] events of
//!   [`LadderRule::Steps`] in its event log). Step `n` is reached when any of its thresholds is
//!   reached by the complaints received after step `n - 1` was taken and its `step_gap`: each
//!   step consumes the complaints that reached it and those of its gap (Pageant's second event
//!   needs three more complaints, in a 72-hour period after the first event's).
//!
//! With `ignore_anonymous`, anonymous complaints are left out of both (and this module is not
//! even called for one).

use std::time::Duration;

use super::act::{kind_of, Action};
use super::counts;
use super::events::{Kind, LadderRule};
use super::ladder::ComplaintLadders;
use super::model::{Complaint, ComplaintError};
use crate::policy::complaint_rules::ComplaintRules;
use crate::policy::escalation::rank;
use crate::store::Key;
use crate::tenant::Tenant;

/// How long a step's claim is kept (longer than any step's window).
const CLAIM_KEPT: Duration = Duration::from_secs(400 * 86_400);

/// `24h`, `72h`, `7d`, `30d`: a window as the presets write it.
pub fn window_text(window: Duration) -> String {
    let secs = window.as_secs();
    if secs.is_multiple_of(86_400) && secs > 3 * 86_400 {
        format!("{}d", secs / 86_400)
    } else if secs.is_multiple_of(3600) && secs > 0 {
        format!("{}h", secs / 3600)
    } else if secs.is_multiple_of(60) && secs > 0 {
        format!("{}m", secs / 60)
    } else {
        format!("{}ms", window.as_millis())
    }
}

fn quoted(clause: &str) -> String {
    if clause.trim().is_empty() {
        String::new()
    } else {
        format!(" (\"{}\")", clause.trim())
    }
}

impl ComplaintLadders {
    /// Judges the immediate rules, then the step the tenant stands on, after `complaint` was
    /// counted. `restart`: when the ladder last restarted (0: never).
    pub(super) async fn judge_steps(
        &self,
        tenant: &Tenant,
        rules: &ComplaintRules,
        complaint: &Complaint,
        restart: u64,
    ) -> Result<(), ComplaintError> {
        let store = self.store();
        let at = complaint.received_at;
        let signed_only = rules.ignore_anonymous;
        // "1 complaint", "2 complaints" (the count is known per threshold).
        let counted = |count: u32| match (signed_only, count) {
            (true, 1) => "signed complaint",
            (true, _) => "signed complaints",
            (false, 1) => "complaint",
            (false, _) => "complaints",
        };
        let since_restart = Duration::from_millis(at.saturating_sub(restart));
        for (i, rule) in rules.immediate.iter().enumerate() {
            let window = rule.window.get().min(since_restart);
            let count = counts::in_window(store, &tenant.id, signed_only, at, window).await?;
            if u64::from(count) < rule.complaints || rank(rule.state) <= rank(tenant.state.get()) {
                continue;
            }
            let (kind, notice) = kind_of(rule.state);
            let reason = format!(
                "{count} {} within {} reached the immediate rule of {} in {}: state {}{}",
                counted(count),
                window_text(rule.window.get()),
                rule.complaints,
                window_text(rule.window.get()),
                state_name(rule.state),
                quoted(&rule.clause),
            );
            let copies = self.copies(tenant, rules, complaint, at, window).await;
            let detail = serde_json::json!({
                "immediate": i,
                "complaints": count,
                "threshold": rule.complaints,
                "window_seconds": rule.window.get().as_secs(),
                "state": state_name(rule.state),
                "clause": rule.clause,
                "campaign": complaint.campaign,
            });
            let action = Action {
                kind,
                rule: LadderRule::Immediate,
                state: Some(rule.state),
                notice: Some(notice),
                reason,
                detail,
                copies,
            };
            self.act(tenant, at, action).await?;
            return Ok(());
        }
        if rules.steps.is_empty() {
            return Ok(());
        }
        let history = store.events_range(&tenant.id, restart.saturating_add(1), at).await?;
        let taken: Vec<u64> = history
            .iter()
            .filter(|e| {
                e.rule.as_deref() == Some(LadderRule::Steps.as_str())
                    && matches!(
                        Kind::parse(&e.kind),
                        Some(Kind::Warning | Kind::FinalWarning | Kind::Suspension)
                    )
            })
            .map(|e| e.at)
            .collect();
        let Some(step) = rules.steps.get(taken.len()) else {
            return Ok(());
        };
        let from = match taken.iter().copied().max() {
            Some(last) => last
                .saturating_add(rules.step_gap.get().as_millis() as u64)
                .max(restart),
            None => restart,
        };
        if at <= from {
            return Ok(());
        }
        let since_step = Duration::from_millis(at.saturating_sub(from));
        for threshold in &step.thresholds {
            let window = threshold.window.map_or(since_step, |w| w.get().min(since_step));
            let count = counts::in_window(store, &tenant.id, signed_only, at, window).await?;
            if u64::from(count) < threshold.complaints {
                continue;
            }
            let (kind, notice) = kind_of(step.state);
            let within = match threshold.window {
                Some(w) => format!("within {}", window_text(w.get())),
                None => "since the previous step".to_string(),
            };
            let reason = format!(
                "{count} {} {within} reached step {} of {} of the complaint ladder ({} in {}): state {}{}",
                counted(count),
                taken.len() + 1,
                rules.steps.len(),
                threshold.complaints,
                threshold
                    .window
                    .map_or("any period".to_string(), |w| window_text(w.get())),
                state_name(step.state),
                quoted(&step.clause),
            );
            let copies = self.copies(tenant, rules, complaint, at, window).await;
            let detail = serde_json::json!({
                "step": taken.len() + 1,
                "steps": rules.steps.len(),
                "complaints": count,
                "threshold": threshold.complaints,
                "window_seconds": threshold.window.map(|w| w.get().as_secs()),
                "state": state_name(step.state),
                "clause": step.clause,
                "campaign": complaint.campaign,
                "copies": copies.len(),
            });
            let action = Action {
                kind,
                rule: LadderRule::Steps,
                state: Some(step.state),
                notice: Some(notice),
                reason,
                detail,
                copies,
            };
            // One node takes the step: the claim is atomic in the store, keyed by the ladder's
            // restart and the step, and timed at `from + 1`, which every node reads alike from the
            // same history (a claim timed at the complaint would be missed by a node judging
            // an earlier complaint). A step that fails gives its claim back for the retry.
            let claim = Key::new("complaints.step_claim", &tenant.id)
                .part_u64(restart)
                .part_u64(taken.len() as u64);
            if !store
                .events_check_and_add(&claim, from + 1, CLAIM_KEPT, 1)
                .await?
                .admitted
            {
                tracing::info!(tenant = %tenant.id, step = taken.len() + 1, "complaint ladder step taken by another node");
                return Ok(());
            }
            if let Err(error) = self.act(tenant, at, action).await {
                if let Err(undo) = store.events_release(&claim, from + 1, CLAIM_KEPT).await {
                    tracing::error!(tenant = %tenant.id, %undo, "a failed step's claim could not be given back: the step waits for an operator");
                }
                return Err(error.into());
            }
            return Ok(());
        }
        Ok(())
    }

    /// Copies of the reported mails counted in `(at - window, at]` (when the profile asks for
    /// them), oldest first, the complaint in hand always among them; beyond the newest
    /// [`MAX_COPIES`](super::notice::MAX_COPIES), only a Message-ID field each. A log that cannot be read
    /// leaves only that one (logged).
    async fn copies(
        &self,
        tenant: &Tenant,
        rules: &ComplaintRules,
        complaint: &Complaint,
        at: u64,
        window: Duration,
    ) -> Vec<Vec<u8>> {
        if !rules.copies {
            return Vec::new();
        }
        let from = at.saturating_sub(window.as_millis() as u64).saturating_add(1);
        let mut found = match self.log.received(&tenant.id, from, at.saturating_add(1)).await {
            Ok(found) => found,
            Err(error) => {
                tracing::error!(tenant = %tenant.id, %error, "reading the reported mails for a notice failed");
                Vec::new()
            }
        };
        found.retain(|c| !rules.ignore_anonymous || c.reporter.is_some());
        if !found.iter().any(|c| c.dedup_key == complaint.dedup_key) {
            found.push(complaint.clone());
        }
        // A notice attaches the newest `MAX_COPIES` (`notice`): of the older ones only their
        // Message-ID is kept, for the notice's list.
        let listed_only = found.len().saturating_sub(super::notice::MAX_COPIES);
        found
            .into_iter()
            .enumerate()
            .map(|(i, c)| match (i < listed_only, c.original_message_id) {
                (false, _) => c.original,
                (true, Some(id)) => format!("Message-ID: {id}\r\n").into_bytes(),
                (true, None) => b"X-Reported: no Message-ID\r\n".to_vec(),
            })
            .filter(|m| !m.is_empty())
            .collect()
    }
}

/// The state's name as profiles and the API write it.
pub fn state_name(state: crate::tenant::TenantState) -> &'static str {
    use crate::tenant::TenantState as S;
    match state {
        S::Active => "active",
        S::Warned => "warned",
        S::FinalWarning => "final_warning",
        S::Suspended => "suspended",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_read_as_the_presets_write_them() {
        for (secs, text) in [
            (86_400, "24h"),
            (72 * 3600, "72h"),
            (7 * 86_400, "7d"),
            (30 * 86_400, "30d"),
            (90, "90000ms"),
        ] {
            assert_eq!(window_text(Duration::from_secs(secs)), text);
        }
    }
}

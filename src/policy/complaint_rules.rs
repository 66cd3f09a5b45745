//! `[complaints]` of a policy profile: what complaints do to a tenant. The complaints module
//! (`crate::complaints::ladder`) applies it; this file is only the schema and its validation,
//! pure (no I/O), like the rest of `profile`.
//!
//! Four independent parts, each off when empty or `enabled = false`:
//! - `steps`: a ladder the tenant climbs one step each time a step's threshold is reached by the
//!   complaints received since the previous step (SPCM, Pageant Server);
//! - `immediate`: thresholds that move the tenant at once whatever its step (Pageant: 10 in 72 h);
//! - `cases`: every complaint opens a case with a deadline an operator resolves (Integra);
//! - `rates`: complaint and hard-bounce rates over a minimum volume, each crossing an event on
//!   the `[escalation]` ladder (SocketLabs, the default).
//!
//! Complaint counts are exact (every timestamp is kept) over at most [`RETAINED_DAYS`] days, so
//! no threshold window may be longer.

use serde::{Deserialize, Serialize};

use crate::config::{Collector, HumanDuration, TenantStateConfig};

/// How long complaint timestamps are kept for exact counting (days): the longest threshold window.
pub const RETAINED_DAYS: u64 = 90;
/// Largest complaint count a threshold may name (the exact log holds at most this many).
pub const MAX_COMPLAINTS: u64 = 10_000;

/// `[complaints]`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ComplaintRules {
    /// Anonymous complaints (no identifiable reporter) are counted but move neither `steps` nor
    /// `immediate` (Pageant: "does not investigate or take action based on anonymous SPAM
    /// complaints").
    pub ignore_anonymous: bool,
    /// A step's notice carries copies of the reported mails that reached its threshold (SPCM:
    /// "notified of those complaints with copies of the reported E-mails").
    pub copies: bool,
    /// After a step, the complaints received within this time belong to the incident that made
    /// it: they count for the immediate rules but not toward the next step (Pageant: an event is
    /// its own 72-hour period). `0s`: every further complaint counts (SPCM).
    pub step_gap: HumanDuration,
    pub steps: Vec<ComplaintStep>,
    pub immediate: Vec<ImmediateRule>,
    pub cases: CaseRules,
    pub rates: RateRules,
}

impl Default for ComplaintRules {
    fn default() -> Self {
        Self {
            ignore_anonymous: false,
            copies: false,
            step_gap: HumanDuration::secs(0),
            steps: Vec::new(),
            immediate: Vec::new(),
            cases: CaseRules::default(),
            rates: RateRules::default(),
        }
    }
}

/// One step of the complaint ladder: reached when any of `thresholds` is, counting only the
/// complaints received after the previous step (or after an operator lifted a suspension).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ComplaintStep {
    pub thresholds: Vec<Threshold>,
    /// The tenant's state once the step is reached (never lowered by it).
    pub state: TenantStateConfig,
    /// The provider's words for the step, quoted in the event and the notice.
    #[serde(default)]
    pub clause: String,
}

/// `complaints` or more complaints within `window`; without a window, since the previous step
/// with no expiry (only for `complaints = 1`: "any further complaint").
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Threshold {
    pub complaints: u64,
    #[serde(default)]
    pub window: Option<HumanDuration>,
}

/// `complaints` or more within `window` (since the ladder last restarted) → `state` at once.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ImmediateRule {
    pub complaints: u64,
    pub window: HumanDuration,
    pub state: TenantStateConfig,
    #[serde(default)]
    pub clause: String,
}

/// `[complaints.cases]`: each complaint opens a case the tenant must correct by a deadline and
/// an operator resolves (`aupgate admin complaints resolve ID`).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct CaseRules {
    pub enabled: bool,
    /// Deadline of a case: this many business days (Monday to Friday, UTC, no holidays).
    pub business_days: u64,
    /// Deadline of an urgent case (the abuse desk's urgent flag).
    pub urgent_deadline: HumanDuration,
    /// The "deadline near" notice goes this long before the deadline.
    pub remind_before: HumanDuration,
    /// The same for urgent cases.
    pub urgent_remind_before: HumanDuration,
    /// This many open cases for one campaign suspend the tenant ("multiple claims ... arising
    /// from related conduct"); 0: never.
    pub related_open_cases: u64,
    pub clause: String,
}

impl Default for CaseRules {
    fn default() -> Self {
        Self {
            enabled: false,
            business_days: 5,
            urgent_deadline: HumanDuration::secs(86_400),
            remind_before: HumanDuration::secs(86_400),
            urgent_remind_before: HumanDuration::secs(6 * 3600),
            related_open_cases: 2,
            clause: String::new(),
        }
    }
}

/// `[complaints.rates]`: complaint and hard-bounce rates over the last 7 days (the window of
/// the relay's outcome counters), judged once the tenant relayed `min_recipients` in it. Each
/// band crossed is one event on the `[escalation]` ladder; a `suspend` band also suspends.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RateRules {
    pub enabled: bool,
    pub min_recipients: u64,
    pub review_complaint_percent: f64,
    pub suspend_complaint_percent: f64,
    pub review_bounce_percent: f64,
    pub suspend_bounce_percent: f64,
    pub clause: String,
}

impl Default for RateRules {
    fn default() -> Self {
        Self {
            enabled: true,
            min_recipients: 500,
            review_complaint_percent: 0.1,
            suspend_complaint_percent: 0.5,
            review_bounce_percent: 5.0,
            suspend_bounce_percent: 10.0,
            clause: String::new(),
        }
    }
}

fn rank(state: TenantStateConfig) -> u8 {
    match state {
        TenantStateConfig::Active => 0,
        TenantStateConfig::Warned => 1,
        TenantStateConfig::FinalWarning => 2,
        TenantStateConfig::Suspended => 3,
    }
}

impl ComplaintRules {
    /// Reports every problem under `complaints.`.
    pub(crate) fn validate(&self, errors: &mut Collector) {
        if self.step_gap.get().as_secs() > RETAINED_DAYS * 86_400 {
            errors.push("complaints.step_gap", format!("must be at most {RETAINED_DAYS}d"));
        }
        let mut last_rank = 0;
        for (i, step) in self.steps.iter().enumerate() {
            let path = format!("complaints.steps[{i}]");
            if step.thresholds.is_empty() {
                errors.push(format!("{path}.thresholds"), "must list at least one threshold");
            }
            for (j, threshold) in step.thresholds.iter().enumerate() {
                threshold.validate(&format!("{path}.thresholds[{j}]"), errors);
            }
            state_moves(&format!("{path}.state"), step.state, errors);
            if rank(step.state) < last_rank {
                errors.push(
                    format!("{path}.state"),
                    "a later step must not move the tenant back down the ladder",
                );
            }
            last_rank = last_rank.max(rank(step.state));
        }
        for (i, rule) in self.immediate.iter().enumerate() {
            let path = format!("complaints.immediate[{i}]");
            Threshold {
                complaints: rule.complaints,
                window: Some(rule.window),
            }
            .validate(&path, errors);
            state_moves(&format!("{path}.state"), rule.state, errors);
        }
        let cases = &self.cases;
        if !(1..=30).contains(&cases.business_days) {
            errors.push("complaints.cases.business_days", "must be between 1 and 30");
        }
        for (key, value) in [
            ("urgent_deadline", cases.urgent_deadline),
            ("remind_before", cases.remind_before),
            ("urgent_remind_before", cases.urgent_remind_before),
        ] {
            let secs = value.get().as_secs();
            if secs == 0 || secs > 30 * 86_400 {
                errors.push(format!("complaints.cases.{key}"), "must be between 1s and 30d");
            }
        }
        let rates = &self.rates;
        if rates.min_recipients == 0 {
            errors.push("complaints.rates.min_recipients", "must be at least 1");
        }
        for (metric, review, suspend) in [
            (
                "complaint",
                rates.review_complaint_percent,
                rates.suspend_complaint_percent,
            ),
            ("bounce", rates.review_bounce_percent, rates.suspend_bounce_percent),
        ] {
            for (band, value) in [("review", review), ("suspend", suspend)] {
                if !(value > 0.0 && value <= 100.0) {
                    errors.push(
                        format!("complaints.rates.{band}_{metric}_percent"),
                        "must be a percentage above 0 and at most 100",
                    );
                }
            }
            if review > suspend {
                errors.push(
                    format!("complaints.rates.review_{metric}_percent"),
                    format!("must not be above suspend_{metric}_percent"),
                );
            }
        }
    }
}

impl Threshold {
    fn validate(&self, path: &str, errors: &mut Collector) {
        if self.complaints == 0 || self.complaints > MAX_COMPLAINTS {
            errors.push(
                format!("{path}.complaints"),
                format!("must be between 1 and {MAX_COMPLAINTS}"),
            );
        }
        match self.window {
            None if self.complaints > 1 => errors.push(
                format!("{path}.window"),
                "is required when more than one complaint is counted (only `complaints = 1` means \"any further complaint\")",
            ),
            None => {}
            Some(window) => {
                let secs = window.get().as_secs();
                if secs == 0 || secs > RETAINED_DAYS * 86_400 {
                    errors.push(
                        format!("{path}.window"),
                        format!("must be between 1s and {RETAINED_DAYS}d (complaints are counted exactly over at most {RETAINED_DAYS} days)"),
                    );
                }
            }
        }
    }
}

fn state_moves(path: &str, state: TenantStateConfig, errors: &mut Collector) {
    if state == TenantStateConfig::Active {
        errors.push(path.to_string(), "must move the tenant out of `active`");
    }
}

#[cfg(test)]
mod tests {
    use crate::policy::profile::Profile;

    #[test]
    fn defaults_judge_rates_only() {
        let profile = Profile::parse("").expect("empty profile");
        let rules = &profile.complaints;
        assert!(rules.steps.is_empty() && rules.immediate.is_empty() && !rules.cases.enabled);
        assert!(rules.step_gap.get().is_zero());
        assert!(rules.rates.enabled);
        assert_eq!(rules.rates.min_recipients, 500);
        assert_eq!(
            (
                rules.rates.review_complaint_percent,
                rules.rates.suspend_complaint_percent
            ),
            (0.1, 0.5)
        );
        assert_eq!(
            (rules.rates.review_bounce_percent, rules.rates.suspend_bounce_percent),
            (5.0, 10.0)
        );
    }

    #[test]
    fn a_ladder_parses() {
        let text = r#"
            [complaints]
            ignore_anonymous = true
            step_gap = "72h"
            [[complaints.steps]]
            thresholds = [{ complaints = 3, window = "72h" }, { complaints = 6, window = "30d" }]
            state = "warned"
            clause = "first warning"
            [[complaints.steps]]
            thresholds = [{ complaints = 1 }]
            state = "suspended"
            [[complaints.immediate]]
            complaints = 10
            window = "72h"
            state = "suspended"
        "#;
        let profile = Profile::parse(text).expect("valid");
        let rules = &profile.complaints;
        assert!(rules.ignore_anonymous);
        assert_eq!(rules.step_gap.get().as_secs(), 72 * 3600);
        assert_eq!(rules.steps.len(), 2);
        assert_eq!(rules.steps[0].thresholds[1].complaints, 6);
        assert_eq!(rules.steps[1].thresholds[0].window, None);
        assert_eq!(rules.immediate[0].window.get().as_secs(), 72 * 3600);
    }

    #[test]
    fn every_bad_value_is_reported_with_its_path() {
        let text = r#"
            [[complaints.steps]]
            thresholds = [{ complaints = 0, window = "24h" }, { complaints = 2 }, { complaints = 3, window = "365d" }]
            state = "suspended"
            [[complaints.steps]]
            thresholds = []
            state = "warned"
            [[complaints.immediate]]
            complaints = 10
            window = "72h"
            state = "active"
            [complaints.cases]
            business_days = 0
            urgent_deadline = "0s"
            [complaints.rates]
            min_recipients = 0
            review_complaint_percent = 0.6
            suspend_bounce_percent = 150.0
        "#;
        let errors = Profile::parse(text).expect_err("invalid").0;
        let paths: Vec<&str> = errors.iter().map(|e| e.path.as_str()).collect();
        for expected in [
            "complaints.steps[0].thresholds[0].complaints",
            "complaints.steps[0].thresholds[1].window",
            "complaints.steps[0].thresholds[2].window",
            "complaints.steps[1].thresholds",
            "complaints.steps[1].state",
            "complaints.immediate[0].state",
            "complaints.cases.business_days",
            "complaints.cases.urgent_deadline",
            "complaints.rates.min_recipients",
            "complaints.rates.review_complaint_percent",
            "complaints.rates.suspend_bounce_percent",
        ] {
            assert!(paths.contains(&expected), "missing {expected} in {paths:?}");
        }
        // An unknown key is refused with the section's path.
        let errors = Profile::parse("[complaints.rates]\nsurprise = 1\n")
            .expect_err("unknown")
            .0;
        assert!(errors[0].path.starts_with("complaints"), "{errors:?}");
    }
}

//! `[escalation]`: the ladder violations climb.

use serde::{Deserialize, Serialize};

use super::Section;
use crate::config::{Collector, HumanDuration, TenantStateConfig};

/// `[escalation]`: violations become events; `steps` move the tenant's state.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Escalation {
    /// In order; the last step whose threshold is reached decides the state.
    pub steps: Vec<EscalationStep>,
}

/// One rung: `events` violations within `window` → `state`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct EscalationStep {
    pub events: u64,
    pub window: HumanDuration,
    pub state: TenantStateConfig,
}

impl Section for Escalation {
    fn validate(&self, errors: &mut Collector) {
        for (i, step) in self.steps.iter().enumerate() {
            if step.events == 0 {
                errors.push(format!("escalation.steps[{i}].events"), "must be at least 1");
            }
            if step.window.get().is_zero() {
                errors.push(format!("escalation.steps[{i}].window"), "must be longer than 0");
            }
            if step.state == TenantStateConfig::Active {
                errors.push(
                    format!("escalation.steps[{i}].state"),
                    "a step must move the tenant out of `active`",
                );
            }
        }
    }
}

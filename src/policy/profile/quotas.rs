//! `[quotas]`: the per-tenant message and recipient limits (the `quota.*` checks).

use serde::{Deserialize, Serialize};

use super::Section;

/// `[quotas]`: per-tenant volume limits (0 = no limit), charged exactly after DATA; over a limit:
/// `451 4.7.1` at MAIL FROM, `452 4.5.3` at RCPT TO, `451 4.7.1` after DATA (a message the
/// counts tipped over meanwhile), with the reset time.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Quotas {
    pub messages_per_hour: u64,
    pub messages_per_day: u64,
    pub recipients_per_hour: u64,
    pub recipients_per_day: u64,
}

impl Default for Quotas {
    fn default() -> Self {
        Self {
            messages_per_hour: 5_000,
            messages_per_day: 50_000,
            recipients_per_hour: 10_000,
            recipients_per_day: 100_000,
        }
    }
}

impl Section for Quotas {}

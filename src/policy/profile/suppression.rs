//! `[suppression]`: hard-bounced recipients (the `suppression.hard_bounce` check).

use serde::{Deserialize, Serialize};

use super::Section;

/// `[suppression]`: recipients that hard-bounced are refused for the tenant's bulk mail (mail
/// with list markers; see `checks::suppressed`).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Suppression {
    pub enabled: bool,
}

impl Default for Suppression {
    fn default() -> Self {
        Self { enabled: true }
    }
}

impl Section for Suppression {}

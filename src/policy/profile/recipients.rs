//! `[recipients]`: how recipients are counted (read by the checks that count them).

use serde::{Deserialize, Serialize};

use super::Section;

/// `[recipients]`: how recipients are counted (DESIGN "Recipient identity"): domain lower-cased
/// and IDNA-encoded, local part case-folded, quotes removed, and the `+tag` subaddress stripped
/// unless `strip_subaddress = false` (for a destination where `bob+1` and `bob+2` are different
/// people). The suppression list always strips it: a bounce says the mailbox is gone.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Recipients {
    pub strip_subaddress: bool,
}

impl Default for Recipients {
    fn default() -> Self {
        Self { strip_subaddress: true }
    }
}

impl Section for Recipients {}

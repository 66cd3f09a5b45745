//! `[dmarc]` (the authentication stage): the receiver's DMARC verdict predicted.

use serde::{Deserialize, Serialize};

use super::Section;

/// `[dmarc]`: predict the receiver's DMARC verdict for the message as relayed (SPF or DKIM
/// aligned with the From domain); a domain with `p=quarantine` or `p=reject` that the message
/// would fail is refused with `550 5.7.1` naming what is missing. A DNS timeout is `451 4.4.3`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Dmarc {
    pub enabled: bool,
}

impl Default for Dmarc {
    fn default() -> Self {
        Self { enabled: true }
    }
}

impl Section for Dmarc {}

//! `[sender_domain]`: which domains count as the tenant's (the `sender.domain` check).

use serde::{Deserialize, Serialize};

use super::Section;

/// `[sender_domain]`: which domains count as the tenant's for the envelope sender, the header
/// originators and DKIM signing (`553 5.7.1` at MAIL FROM, `550 5.7.1` after DATA).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct SenderDomainRules {
    /// A verified domain covers its subdomains (`mail.acme.example` for `acme.example`).
    pub include_subdomains: bool,
}

impl Default for SenderDomainRules {
    fn default() -> Self {
        Self {
            include_subdomains: true,
        }
    }
}

impl Section for SenderDomainRules {}

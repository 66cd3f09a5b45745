//! `[spf]` (the authentication stage), and what a tolerable authentication failure leads to
//! ([`AuthAction`], which `[dkim]` uses too).

use serde::{Deserialize, Serialize};

use super::Section;

/// What an authentication failure that the profile may tolerate leads to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AuthAction {
    /// `550 5.7.1` naming the rule and what the tenant must publish.
    Refuse,
    /// Relay, with the result in our Authentication-Results.
    Tag,
}

/// `[spf]`: the envelope sender's SPF evaluated for each of the gateway's egress addresses
/// (`[authentication] egress_ips`), as the receiver will. A DNS timeout is `451 4.7.24`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Spf {
    pub enabled: bool,
    /// Result `fail` (and `permerror`: a record receivers cannot evaluate, RFC 7208 2.6.7).
    pub on_fail: AuthAction,
    /// Result `softfail`.
    pub on_softfail: AuthAction,
}

impl Default for Spf {
    fn default() -> Self {
        Self {
            enabled: true,
            on_fail: AuthAction::Refuse,
            on_softfail: AuthAction::Refuse,
        }
    }
}

impl Section for Spf {}

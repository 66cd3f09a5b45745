//! `[headers]`: header integrity (the `headers.integrity` check) and what happens to a forged
//! Authentication-Results.

use serde::{Deserialize, Serialize};

use super::Section;
use crate::config::Collector;

/// `[headers]`: header integrity ("no header forgery", "a domain controlled by the sender"): one
/// unambiguous From (a Sender when it names several mailboxes), originator domains the tenant
/// owns, no address hidden in a display name, no forged Authentication-Results, no mail loop.
/// Refusals are `550 5.7.1` (`554 5.4.0` for too many Received hops).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct HeaderRules {
    pub enabled: bool,
    /// More Received fields than this is a loop (`554 5.4.0`).
    pub max_received: u64,
    /// Reply-To domains must be the tenant's too (off: a reply address at a help-desk provider
    /// is common and not forgery).
    pub check_reply_to: bool,
    /// Resent-From / Resent-Sender domains must be the tenant's too.
    pub check_resent_from: bool,
    /// The authserv-id our own Authentication-Results use; a message arriving with one that
    /// claims it is forged. Unset, it is the gateway's `[server] hostname` (filled in when the
    /// policy directory is loaded, [`super::load_directory`]; [`HeaderRules::authserv_id`]).
    pub authserv_id: Option<String>,
    /// What to do with such a forged Authentication-Results: refuse the message, or remove
    /// the field before relaying (our own is added either way).
    pub authentication_results: AuthResultsAction,
}

impl Default for HeaderRules {
    fn default() -> Self {
        Self {
            enabled: true,
            max_received: 30,
            check_reply_to: false,
            check_resent_from: true,
            authserv_id: None,
            authentication_results: AuthResultsAction::Remove,
        }
    }
}

/// `[headers] authentication_results`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AuthResultsAction {
    /// `550 5.7.1` naming `headers.authentication_results`.
    Refuse,
    /// Delete the field (never an ARC-Authentication-Results: that one is always refused).
    Remove,
}

/// The authserv-id of a profile loaded without a server's hostname (offline `policy check`, a
/// profile built in code).
pub const FALLBACK_AUTHSERV_ID: &str = "aupgate.localhost";

impl HeaderRules {
    /// The authserv-id in use: the profile's, else the server's hostname the directory filled in,
    /// else [`FALLBACK_AUTHSERV_ID`].
    pub fn authserv_id(&self) -> &str {
        self.authserv_id.as_deref().unwrap_or(FALLBACK_AUTHSERV_ID)
    }
}

impl Section for HeaderRules {
    fn validate(&self, errors: &mut Collector) {
        if self.max_received == 0 || self.max_received > 500 {
            errors.push("headers.max_received", "must be between 1 and 500");
        }
        let Some(id) = self.authserv_id.as_deref().map(str::trim) else {
            return;
        };
        if id.is_empty()
            || id.len() > 255
            || id
                .chars()
                .any(|c| c.is_whitespace() || c.is_control() || c == ';' || c == '(' || c == ')')
        {
            errors.push(
                "headers.authserv_id",
                "must be one token (a host name), without spaces, `;` or comments",
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::profile::Profile;

    #[test]
    fn authentication_results_actions_parse_and_unknown_ones_are_refused() {
        let profile = Profile::parse("[headers]\nauthentication_results = \"remove\"\n").expect("remove");
        assert_eq!(profile.headers.authentication_results, AuthResultsAction::Remove);
        let errors = Profile::parse("[headers]\nauthentication_results = \"ignore\"\n")
            .expect_err("unknown")
            .0;
        assert_eq!(errors[0].path, "headers.authentication_results");
    }
}

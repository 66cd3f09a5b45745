//! `[bulk]`: distinct recipients of one campaign (the `bulk.max_recipients` check), and the
//! registered bulk senders' exemption.

use serde::{Deserialize, Serialize};

use super::Section;
use crate::config::{Collector, HumanDuration};

/// `[bulk]`: more than `max_recipients` distinct recipients of one campaign in `window`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Bulk {
    pub enabled: bool,
    pub max_recipients: u64,
    pub window: HumanDuration,
    /// Registered bulk senders (tenant ids) are exempt when the conditions below hold.
    pub registered_senders: Vec<String>,
    /// The exemption needs a `List-Unsubscribe` header (always: `false` is refused).
    pub require_list_unsubscribe: bool,
    /// The exemption needs RFC 8058 one-click (`List-Unsubscribe-Post` and an https URI in
    /// `List-Unsubscribe`).
    pub require_one_click: bool,
    /// The exemption needs the recipient's address in `To` (always: `false` is refused).
    pub require_recipient_in_to: bool,
    /// The recipient's address in the body also satisfies `require_recipient_in_to`
    /// (SocketLabs: "in the body of the message or in the "TO" line").
    pub recipient_in_body: bool,
}

impl Default for Bulk {
    fn default() -> Self {
        Self {
            enabled: true,
            max_recipients: 20,
            window: HumanDuration::secs(86_400),
            registered_senders: Vec::new(),
            require_list_unsubscribe: true,
            require_one_click: false,
            require_recipient_in_to: true,
            recipient_in_body: false,
        }
    }
}

impl Section for Bulk {
    fn validate(&self, errors: &mut Collector) {
        // Issue 4: registered bulk senders are exempt *only if* both hold; the keys spell the
        // conditions out in the presets but cannot waive them.
        for (key, on) in [
            ("bulk.require_list_unsubscribe", self.require_list_unsubscribe),
            ("bulk.require_recipient_in_to", self.require_recipient_in_to),
        ] {
            if !on {
                errors.push(
                    key,
                    "must be true: a registered bulk sender is exempt only with List-Unsubscribe and the recipient in To",
                );
            }
        }
        if self.enabled && self.max_recipients == 0 {
            errors.push(
                "bulk.max_recipients",
                "must be at least 1 (or set bulk.enabled = false)",
            );
        }
        if self.window.get().is_zero() {
            errors.push("bulk.window", "must be longer than 0");
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::config::ConfigErrors;
    use crate::policy::profile::Profile;

    #[test]
    fn the_bulk_exemption_conditions_cannot_be_waived() {
        let ConfigErrors(errors) =
            Profile::parse("[bulk]\nrequire_list_unsubscribe = false\nrequire_recipient_in_to = false\n")
                .expect_err("waived conditions");
        let paths: Vec<&str> = errors.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(paths, ["bulk.require_list_unsubscribe", "bulk.require_recipient_in_to"]);
    }
}

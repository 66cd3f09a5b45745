//! `[mail_bomb]`: copies of one campaign to one recipient, or to one destination domain (the
//! `mail_bomb.*` checks).

use serde::{Deserialize, Serialize};

use super::Section;
use crate::config::{Collector, HumanDuration};

/// `[mail_bomb]`: more than `max_messages` of one campaign to one recipient in any `window`;
/// with `max_messages_per_domain`, also more than that many copies of one campaign to the
/// addresses of one destination domain ("a single system", Pageant Server).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct MailBomb {
    pub enabled: bool,
    pub max_messages: u64,
    pub window: HumanDuration,
    /// Copies of one campaign to one recipient domain in `window`; 0 (the default) counts none.
    /// Registered bulk senders are not counted per domain (their lists reach the big mailbox
    /// providers by the thousand; the bulk rule governs them).
    pub max_messages_per_domain: u64,
}

impl Default for MailBomb {
    fn default() -> Self {
        Self {
            enabled: true,
            max_messages: 10,
            window: HumanDuration::secs(86_400),
            max_messages_per_domain: 0,
        }
    }
}

impl Section for MailBomb {
    fn validate(&self, errors: &mut Collector) {
        if self.enabled && self.max_messages == 0 {
            errors.push(
                "mail_bomb.max_messages",
                "must be at least 1 (or set mail_bomb.enabled = false)",
            );
        }
        if self.window.get().is_zero() {
            errors.push("mail_bomb.window", "must be longer than 0");
        }
        if self.max_messages_per_domain > 10_000 {
            errors.push(
                "mail_bomb.max_messages_per_domain",
                "exact thresholds above 10000 are not supported",
            );
        }
    }
}

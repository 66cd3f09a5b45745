//! The rule ids: every refusal the gateway makes names one (`[rule bulk.max_recipients]` at the
//! end of the reply text), and the audit log, the escalation events, `policy replay` and the
//! operators' scripts read the same strings. The strings are a public contract: a variant's
//! `as_str()` never changes once released. Code compares `Rule`s, never their strings (no prefix
//! tests: a question about a group of rules is a `match` with no `_` arm, so a new rule forces a
//! decision).
//!
//! It depends on nothing else in the crate, so the SMTP side and the policy side both use it.

use std::fmt;
use std::str::FromStr;

/// Defines [`Rule`] and its string table in one place, so the two cannot drift apart.
macro_rules! rules {
    ($($(#[$doc:meta])* $variant:ident => $id:literal,)*) => {
        /// A stable rule id.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Rule {
            $($(#[$doc])* $variant,)*
        }

        impl Rule {
            /// Every rule, in declaration order.
            pub const ALL: &'static [Rule] = &[$(Rule::$variant,)*];

            /// The rule's id as operators, logs and the audit log see it.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(Rule::$variant => $id,)*
                }
            }
        }
    };
}

rules! {
    // ----- the policy checks and their refusals (which rule a check answers for, and so what
    // `[on_error] disconnect` may name, is the profile's table of sections: `profile::sections!`) -----
    /// The tenant is suspended (or blocked as a whole).
    TenantSuspended => "tenant.suspended",
    /// MAIL FROM names a domain the tenant does not own.
    SenderDomain => "sender.domain",
    /// An operator's block on a sender address.
    BlockSender => "block.sender",
    /// An operator's block on a campaign.
    BlockCampaign => "block.campaign",
    /// The message quota check (its refusals name the window: the two below).
    QuotaMessages => "quota.messages",
    QuotaMessagesPerHour => "quota.messages_per_hour",
    QuotaMessagesPerDay => "quota.messages_per_day",
    /// The recipient quota check (its refusals name the window: the two below).
    QuotaRecipients => "quota.recipients",
    QuotaRecipientsPerHour => "quota.recipients_per_hour",
    QuotaRecipientsPerDay => "quota.recipients_per_day",
    /// A recipient that hard-bounced before.
    SuppressionHardBounce => "suppression.hard_bounce",
    /// The header-integrity check (its refusals name the field rule: the `headers.*` below).
    HeadersIntegrity => "headers.integrity",
    HeadersLimits => "headers.limits",
    HeadersMalformedField => "headers.malformed_field",
    HeadersReceivedHops => "headers.received_hops",
    HeadersFromCount => "headers.from_count",
    HeadersSenderCount => "headers.sender_count",
    HeadersAmbiguousAddress => "headers.ambiguous_address",
    HeadersEncodedFrom => "headers.encoded_from",
    HeadersSenderRequired => "headers.sender_required",
    HeadersDisplayNameAddress => "headers.display_name_address",
    HeadersForeignOriginator => "headers.foreign_originator",
    HeadersAuthenticationResults => "headers.authentication_results",
    /// The letter-bomb check, and its refusal of a dangerous attachment.
    AttachmentsDangerous => "attachments.dangerous",
    AttachmentsMalformed => "attachments.malformed",
    SmsGatewayBulk => "sms_gateway.bulk",
    MailBombMaxMessages => "mail_bomb.max_messages",
    /// Main's per-domain mail-bomb check (merged after this enum was written).
    MailBombMaxMessagesPerDomain => "mail_bomb.max_messages_per_domain",
    BulkMaxRecipients => "bulk.max_recipients",
    // ----- the authentication stage -----
    /// The stage as a whole (its refusals name the protocol: the ones below).
    Authentication => "authentication",
    SpfFail => "spf.fail",
    SpfSoftfail => "spf.softfail",
    SpfPermerror => "spf.permerror",
    SpfTemperror => "spf.temperror",
    DkimBroken => "dkim.broken",
    DkimSign => "dkim.sign",
    DkimTemperror => "dkim.temperror",
    DkimUnparsable => "dkim.unparsable",
    DmarcPolicy => "dmarc.policy",
    DmarcTemperror => "dmarc.temperror",
    // ----- the session: client identity, AUTH, limits, the DATA receiver, the queue -----
    ClientNetwork => "client.network",
    ClientUnidentified => "client.unidentified",
    AuthAddressLockout => "auth.address_lockout",
    AuthUserLockout => "auth.user_lockout",
    AuthFailures => "auth.failures",
    AuthFailed => "auth.failed",
    LimitsDataRate => "limits.data_rate",
    LimitsPathLength => "limits.path_length",
    LimitsRecipients => "limits.recipients",
    LimitsMessageSize => "limits.message_size",
    LimitsDataInFlight => "limits.data_in_flight",
    DataBareLineBreak => "data.bare_line_break",
    DataLineLength => "data.line_length",
    DataNul => "data.nul",
    QueueWrite => "queue.write",
    // ----- the session's own limits and the server's state (421s that close the session) -----
    LimitsConnections => "limits.connections",
    LimitsConnectionsPerIp => "limits.connections_per_ip",
    LimitsCommandTimeout => "limits.command_timeout",
    LimitsSessionTimeout => "limits.session_timeout",
    LimitsErrors => "limits.errors",
    LimitsSessionMessages => "limits.session_messages",
    LimitsSessionBytes => "limits.session_bytes",
    ServerShutdown => "server.shutdown",
    /// A relayed recipient in a transaction to a local address, or the other way round.
    RecipientsSeparate => "recipients.separate",
}

impl Rule {
    /// Whether a refusal at DATA by this rule is a violation that feeds the escalation ladder.
    /// A suppressed recipient is not (one stale address on a list is routine, and the refusal
    /// already protects the receiver); refusals that enforce a block already in place are not
    /// new violations. Every other rule is.
    pub const fn is_violation(self) -> bool {
        match self {
            Rule::BlockSender | Rule::BlockCampaign | Rule::SuppressionHardBounce => false,
            // The session's limits and the server's state are not the tenant's mail breaking a
            // rule (and never answer DATA's checks).
            Rule::LimitsConnections
            | Rule::LimitsConnectionsPerIp
            | Rule::LimitsCommandTimeout
            | Rule::LimitsSessionTimeout
            | Rule::LimitsErrors
            | Rule::LimitsSessionMessages
            | Rule::LimitsSessionBytes
            | Rule::ServerShutdown
            | Rule::RecipientsSeparate => false,
            Rule::TenantSuspended
            | Rule::SenderDomain
            | Rule::QuotaMessages
            | Rule::QuotaMessagesPerHour
            | Rule::QuotaMessagesPerDay
            | Rule::QuotaRecipients
            | Rule::QuotaRecipientsPerHour
            | Rule::QuotaRecipientsPerDay
            | Rule::HeadersIntegrity
            | Rule::HeadersLimits
            | Rule::HeadersMalformedField
            | Rule::HeadersReceivedHops
            | Rule::HeadersFromCount
            | Rule::HeadersSenderCount
            | Rule::HeadersAmbiguousAddress
            | Rule::HeadersEncodedFrom
            | Rule::HeadersSenderRequired
            | Rule::HeadersDisplayNameAddress
            | Rule::HeadersForeignOriginator
            | Rule::HeadersAuthenticationResults
            | Rule::AttachmentsDangerous
            | Rule::AttachmentsMalformed
            | Rule::SmsGatewayBulk
            | Rule::MailBombMaxMessages
            | Rule::MailBombMaxMessagesPerDomain
            | Rule::BulkMaxRecipients
            | Rule::Authentication
            | Rule::SpfFail
            | Rule::SpfSoftfail
            | Rule::SpfPermerror
            | Rule::SpfTemperror
            | Rule::DkimBroken
            | Rule::DkimSign
            | Rule::DkimTemperror
            | Rule::DkimUnparsable
            | Rule::DmarcPolicy
            | Rule::DmarcTemperror
            | Rule::ClientNetwork
            | Rule::ClientUnidentified
            | Rule::AuthAddressLockout
            | Rule::AuthUserLockout
            | Rule::AuthFailures
            | Rule::AuthFailed
            | Rule::LimitsDataRate
            | Rule::LimitsPathLength
            | Rule::LimitsRecipients
            | Rule::LimitsMessageSize
            | Rule::LimitsDataInFlight
            | Rule::DataBareLineBreak
            | Rule::DataLineLength
            | Rule::DataNul
            | Rule::QueueWrite => true,
        }
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A string that is no rule's id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a rule id")]
pub struct UnknownRule(pub String);

impl FromStr for Rule {
    type Err = UnknownRule;

    fn from_str(id: &str) -> Result<Rule, UnknownRule> {
        Rule::ALL
            .iter()
            .copied()
            .find(|rule| rule.as_str() == id)
            .ok_or_else(|| UnknownRule(id.to_string()))
    }
}

impl serde::Serialize for Rule {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for Rule {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Rule, D::Error> {
        let id = std::borrow::Cow::<'de, str>::deserialize(deserializer)?;
        id.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rule_round_trips_through_its_id() {
        for &rule in Rule::ALL {
            assert_eq!(rule.as_str().parse::<Rule>(), Ok(rule));
            assert_eq!(rule.to_string(), rule.as_str());
            let json = serde_json::to_string(&rule).unwrap();
            assert_eq!(json, format!("\"{}\"", rule.as_str()));
            assert_eq!(serde_json::from_str::<Rule>(&json).unwrap(), rule);
        }
        let mut ids: Vec<&str> = Rule::ALL.iter().map(|r| r.as_str()).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), Rule::ALL.len(), "two rules share an id");
        assert!("bulk.typo".parse::<Rule>().is_err());
        assert!(serde_json::from_str::<Rule>("\"bulk.typo\"").is_err());
    }

    /// The ids are a contract with operators: this list is the released one.
    #[test]
    fn ids_are_the_released_strings() {
        let ids: Vec<&str> = Rule::ALL.iter().map(|r| r.as_str()).collect();
        assert_eq!(
            ids,
            [
                "tenant.suspended",
                "sender.domain",
                "block.sender",
                "block.campaign",
                "quota.messages",
                "quota.messages_per_hour",
                "quota.messages_per_day",
                "quota.recipients",
                "quota.recipients_per_hour",
                "quota.recipients_per_day",
                "suppression.hard_bounce",
                "headers.integrity",
                "headers.limits",
                "headers.malformed_field",
                "headers.received_hops",
                "headers.from_count",
                "headers.sender_count",
                "headers.ambiguous_address",
                "headers.encoded_from",
                "headers.sender_required",
                "headers.display_name_address",
                "headers.foreign_originator",
                "headers.authentication_results",
                "attachments.dangerous",
                "attachments.malformed",
                "sms_gateway.bulk",
                "mail_bomb.max_messages",
                "mail_bomb.max_messages_per_domain",
                "bulk.max_recipients",
                "authentication",
                "spf.fail",
                "spf.softfail",
                "spf.permerror",
                "spf.temperror",
                "dkim.broken",
                "dkim.sign",
                "dkim.temperror",
                "dkim.unparsable",
                "dmarc.policy",
                "dmarc.temperror",
                "client.network",
                "client.unidentified",
                "auth.address_lockout",
                "auth.user_lockout",
                "auth.failures",
                "auth.failed",
                "limits.data_rate",
                "limits.path_length",
                "limits.recipients",
                "limits.message_size",
                "limits.data_in_flight",
                "data.bare_line_break",
                "data.line_length",
                "data.nul",
                "queue.write",
                "limits.connections",
                "limits.connections_per_ip",
                "limits.command_timeout",
                "limits.session_timeout",
                "limits.errors",
                "limits.session_messages",
                "limits.session_bytes",
                "server.shutdown",
                "recipients.separate",
            ]
        );
    }

    /// `is_violation` answers as the string test it replaced did (`!starts_with("block.") &&
    /// != "suppression.hard_bounce"`) for the ids released with it; the session's own limits and
    /// the server's state, named since, are not violations either.
    #[test]
    fn violations_are_as_before() {
        let not_violations = [
            "block.sender",
            "block.campaign",
            "suppression.hard_bounce",
            "limits.connections",
            "limits.connections_per_ip",
            "limits.command_timeout",
            "limits.session_timeout",
            "limits.errors",
            "limits.session_messages",
            "limits.session_bytes",
            "server.shutdown",
            "recipients.separate",
        ];
        for &rule in Rule::ALL {
            assert_eq!(rule.is_violation(), !not_violations.contains(&rule.as_str()), "{rule}");
        }
        assert!(!Rule::BlockSender.is_violation());
        assert!(!Rule::BlockCampaign.is_violation());
        assert!(!Rule::SuppressionHardBounce.is_violation());
        assert!(Rule::BulkMaxRecipients.is_violation());
        assert!(Rule::HeadersForeignOriginator.is_violation());
        assert!(!Rule::ServerShutdown.is_violation());
    }
}

//! Policy profiles (`policies/*.toml`): the thresholds, windows and actions of each check, the
//! escalation ladder and the exemptions. Loaded and validated with every error reported (path
//! and message), like the main config. A tenant names a profile and may override single limits.
//!
//! One file per section (its schema, defaults and validation, with its tests), and one table of
//! sections, [`sections!`], from which everything else is derived: the [`Profile`] struct, the
//! dispatch that reads each `[section]`, the order sections are validated in, the rule ids
//! `[on_error] disconnect` may name ([`check_rules`]) and the engine's check list. Adding a
//! section or a check is one row in the table. `[complaints]` and `[unsubscribe]` are rows of
//! the table too; their schemas stay in `policy::complaint_rules` and `policy::unsubscribe`,
//! where the complaints module and the unsubscribe fields read them.
//!
//! Pure: no I/O beyond reading the files, and no dependency on the checks or the engine (the
//! table names the checks, but only the engine's expansion of it resolves those names), so it
//! builds without the `server` feature.

use serde::Serialize;

use super::complaint_rules::ComplaintRules;
use super::unsubscribe::UnsubscribeRules;
use crate::config::{section, Collector, ConfigErrors};
use crate::wire::Rule;

mod attachments;
mod bulk;
mod directory;
mod dkim;
mod dmarc;
mod escalation;
mod fingerprint;
mod headers;
mod info;
mod mail_bomb;
mod on_error;
mod quotas;
mod recipients;
mod sender_domain;
mod sms_gateways;
mod spf;
mod suppression;

pub use attachments::Attachments;
pub use bulk::Bulk;
pub use directory::{builtin_default, load_directory, load_for};
pub use dkim::Dkim;
pub use dmarc::Dmarc;
pub use escalation::{Escalation, EscalationStep};
pub use fingerprint::FingerprintRules;
pub use headers::{AuthResultsAction, HeaderRules, FALLBACK_AUTHSERV_ID};
pub use info::ProfileInfo;
pub use mail_bomb::MailBomb;
pub use on_error::OnError;
pub use quotas::Quotas;
pub use recipients::Recipients;
pub use sender_domain::SenderDomainRules;
pub use sms_gateways::SmsGateways;
pub use spf::{AuthAction, Spf};
pub use suppression::Suppression;

/// One section of a profile: its values are read by serde (`deny_unknown_fields`, every bad key
/// reported under `section.key`); `validate` reports what serde cannot see, with full paths.
pub(crate) trait Section {
    fn validate(&self, _errors: &mut Collector) {}
}

// `[complaints]` and `[unsubscribe]` keep their schemas and validation in their own modules,
// which do not import this one.
impl Section for ComplaintRules {
    fn validate(&self, errors: &mut Collector) {
        // The inherent method (inherent methods come first).
        ComplaintRules::validate(self, errors);
    }
}

impl Section for UnsubscribeRules {}

/// The table of sections: every section of a profile and every check, in the order the engine
/// runs the checks (MAIL FROM, RCPT TO, then after DATA). `sections!(then)` expands to
/// `then! { rows }`, so the profile (below) and the engine (its check list) read the same rows.
///
/// A row is a section, `[key: Type]` (`, read = path` when serde alone cannot read it), followed
/// by the checks it governs as `stage Check => Rule`: the stage (`mail`, `rcpt`, `data`), the
/// check (a type in `policy::checks`) and the rule id it answers for (logged with its errors,
/// named by `[on_error] disconnect`). A check that no section governs (the tenant's state, the
/// operators' blocks) is a row of its own. A check running at two stages is two entries.
macro_rules! sections {
    ($then:ident) => {
        $then! {
            [profile: ProfileInfo];
            mail TenantState => TenantSuspended;
            [sender_domain: SenderDomainRules] mail SenderDomain => SenderDomain;
            mail BlockedSender => BlockSender;
            [quotas: Quotas] mail MessageQuota => QuotaMessages, rcpt RecipientQuota => QuotaRecipients;
            [recipients: Recipients];
            [fingerprint: FingerprintRules];
            [headers: HeaderRules] data HeaderIntegrity => HeadersIntegrity;
            [attachments: Attachments] data LetterBomb => AttachmentsDangerous;
            data BlockedOriginator => BlockSender, data BlockedCampaign => BlockCampaign;
            // The suppression list before the campaign counters, so a refused message charges none.
            [suppression: Suppression] data Suppressed => SuppressionHardBounce;
            [sms_gateways: SmsGateways] data SmsGateway => SmsGatewayBulk;
            [mail_bomb: MailBomb]
                data MailBomb => MailBombMaxMessages,
                data MailBombDomain => MailBombMaxMessagesPerDomain;
            [bulk: Bulk] data Bulk => BulkMaxRecipients;
            // The quotas last: charged exactly (check-and-charge) once every other check let the
            // message through, so mail another check refuses uses up none.
            data MessageQuota => QuotaMessages, data RecipientQuota => QuotaRecipients;
            [spf: Spf];
            [dkim: Dkim];
            [dmarc: Dmarc];
            [escalation: Escalation];
            [on_error: OnError, read = OnError::read];
            [unsubscribe: UnsubscribeRules];
            [complaints: ComplaintRules];
        }
    };
}
// The engine expands the table too (only with the `server` feature).
#[cfg_attr(not(feature = "server"), allow(unused_imports))]
pub(crate) use sections;

/// How a section is read: by serde (`config::section`), or by the row's own `read`.
macro_rules! reader {
    () => {
        section
    };
    ($read:path) => {
        $read
    };
}

/// The profile's part of the table: the [`Profile`] struct (a field per section), reading and
/// validating each section, and the checks' rule ids.
macro_rules! profile_from_table {
    ($( $([$key:ident: $ty:ty $(, read = $read:path)?])? $($stage:ident $check:ident => $rule:ident),* ;)*) => {
        /// A whole profile: one field per section.
        #[derive(Debug, Clone, Default, PartialEq, Serialize)]
        pub struct Profile {
            $($(pub $key: $ty,)?)*
        }

        impl Profile {
            /// Reads each section of the file's table; a key that is no section is an error.
            fn read_sections(table: toml::Table, errors: &mut Collector) -> Profile {
                let mut profile = Profile::default();
                for (key, value) in table {
                    match key.as_str() {
                        $($(stringify!($key) => profile.$key = reader!($($read)?)(&key, value, errors),)?)*
                        _ => errors.push(key.clone(), "unknown section"),
                    }
                }
                profile
            }

            /// Validates each section, in the table's order.
            fn validate_sections(&self, errors: &mut Collector) {
                $($(Section::validate(&self.$key, errors);)?)*
            }
        }

        /// Every check's rule id, in the order the engine runs the checks (a check at two stages
        /// is listed twice).
        const CHECKS: &[Rule] = &[$($(Rule::$rule,)*)*];
    };
}

sections!(profile_from_table);

/// The rule ids of the checks, each once, in the order the engine first runs them: what
/// `[on_error] disconnect` may name.
pub fn check_rules() -> Vec<Rule> {
    let mut rules: Vec<Rule> = Vec::new();
    for &rule in CHECKS {
        if !rules.contains(&rule) {
            rules.push(rule);
        }
    }
    rules
}

impl Profile {
    /// Reads and validates a profile file.
    pub fn load(path: &std::path::Path) -> Result<Profile, ConfigErrors> {
        Profile::parse(&crate::config::read_file(path)?)
    }

    /// Parses and validates profile text, reporting every error with its path.
    pub fn parse(text: &str) -> Result<Profile, ConfigErrors> {
        let table = crate::config::parse_table(text)?;
        let mut errors = Collector(Vec::new());
        let profile = Profile::read_sections(table, &mut errors);
        profile.validate_sections(&mut errors);
        profile.validate_across_sections(&mut errors);
        if errors.0.is_empty() {
            Ok(profile)
        } else {
            Err(ConfigErrors(errors.0))
        }
    }

    /// The rules that relate two sections.
    fn validate_across_sections(&self, errors: &mut Collector) {
        if self.bulk.max_recipients > 10_000 || self.mail_bomb.max_messages > 10_000 {
            errors.push("bulk", "exact thresholds above 10000 are not supported");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_the_design() {
        let profile = Profile::parse("").expect("empty profile");
        assert_eq!(profile.bulk.max_recipients, 20);
        assert_eq!(profile.mail_bomb.max_messages, 10);
        assert_eq!(profile.mail_bomb.window.get().as_secs(), 86_400);
        assert!(profile.on_error.defer);
        assert!(profile.headers.enabled);
        assert_eq!(profile.headers.max_received, 30);
        assert_eq!(profile.headers.authserv_id, None, "unset: the server's hostname");
        assert!(profile.attachments.enabled && profile.attachments.inspect_archives);
        assert!(profile.attachments.extensions.iter().any(|e| e == "exe"));
    }

    #[test]
    fn authentication_sections_default_to_refusing_and_signing() {
        let profile = Profile::parse("").expect("empty profile");
        assert!(profile.spf.enabled && profile.dmarc.enabled && profile.dkim.sign && profile.dkim.verify);
        assert_eq!(profile.spf.on_fail, AuthAction::Refuse);
        assert_eq!(profile.spf.on_softfail, AuthAction::Refuse);
        assert_eq!(profile.dkim.on_broken, AuthAction::Refuse);
        let profile = Profile::parse("[spf]\non_softfail = \"tag\"\n[dkim]\non_broken = \"tag\"\n").expect("tag");
        assert_eq!(profile.spf.on_softfail, AuthAction::Tag);
        assert_eq!(profile.dkim.on_broken, AuthAction::Tag);
        let errors = Profile::parse("[spf]\non_fail = \"pass\"\n[dmarc]\np = 1\n")
            .expect_err("bad")
            .0;
        let paths: Vec<&str> = errors.iter().map(|e| e.path.as_str()).collect();
        assert!(
            paths.contains(&"spf.on_fail") && paths.contains(&"dmarc.p"),
            "{paths:?}"
        );
    }

    #[test]
    fn every_error_is_reported_with_its_path() {
        let text = r#"
            [profile]
            name = ""
            [bulk]
            max_recipients = 0
            [mail_bomb]
            window = "never"
            [sms_gateways]
            domains = ["not a domain"]
            [[escalation.steps]]
            events = 0
            window = "30d"
            state = "active"
            [headers]
            max_received = 0
            authserv_id = "two words"
            authentication_results = "refuse"
            [attachments]
            extensions = [".exe"]
            [on_error]
            defer = false
            disconnect = ["bulk.max_recipients", "bulk.typo"]
            [surprise]
        "#;
        let errors = Profile::parse(text).expect_err("invalid").0;
        let paths: Vec<&str> = errors.iter().map(|e| e.path.as_str()).collect();
        for expected in [
            "profile.name",
            "bulk.max_recipients",
            "mail_bomb.window",
            "sms_gateways.domains[0]",
            "escalation.steps[0].events",
            "escalation.steps[0].state",
            "headers.max_received",
            "headers.authserv_id",
            "attachments.extensions[0]",
            "on_error.defer",
            "on_error.disconnect[1]",
            "surprise",
        ] {
            assert!(paths.contains(&expected), "missing {expected} in {paths:?}");
        }
        assert!(
            !paths.contains(&"on_error.disconnect[0]"),
            "a real check id is fine: {paths:?}"
        );
    }
}

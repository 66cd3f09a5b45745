//! Policy profiles (`policies/*.toml`): the thresholds, windows and actions of each check, the
//! escalation ladder and the exemptions. Loaded and validated with every error reported (path
//! and message), like the main config. A tenant names a profile and may override single limits.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::config::{section, Collector, ConfigError, ConfigErrors, HumanDuration, TenantStateConfig};

/// A whole profile.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Profile {
    pub profile: ProfileInfo,
    pub sender_domain: SenderDomainRules,
    pub recipients: Recipients,
    pub fingerprint: FingerprintRules,
    pub quotas: Quotas,
    pub bulk: Bulk,
    pub mail_bomb: MailBomb,
    pub sms_gateways: SmsGateways,
    pub suppression: Suppression,
    pub headers: HeaderRules,
    pub attachments: Attachments,
    pub spf: Spf,
    pub dkim: Dkim,
    pub dmarc: Dmarc,
    pub escalation: Escalation,
    pub on_error: OnError,
    pub unsubscribe: super::unsubscribe::UnsubscribeRules,
    /// `[complaints]`: the complaint ladders (schema in `complaint_rules`).
    pub complaints: super::complaint_rules::ComplaintRules,
}

/// `[profile]`: what the profile is.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ProfileInfo {
    /// Name tenants refer to (`profile = "spcm"`).
    pub name: String,
    /// One line for operators.
    pub description: String,
}

impl Default for ProfileInfo {
    fn default() -> Self {
        Self {
            name: "default".into(),
            description: String::new(),
        }
    }
}

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

/// `[quotas]`: per-tenant volume limits (0 = no limit). Messages are charged at MAIL FROM,
/// recipients at RCPT TO; over a limit: `451 4.7.1` / `452 4.5.3` with the reset time.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Quotas {
    pub messages_per_hour: u64,
    pub messages_per_day: u64,
    pub recipients_per_hour: u64,
    pub recipients_per_day: u64,
}

impl Default for Quotas {
    fn default() -> Self {
        Self {
            messages_per_hour: 5_000,
            messages_per_day: 50_000,
            recipients_per_hour: 10_000,
            recipients_per_day: 100_000,
        }
    }
}

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

/// `[sms_gateways]`: email-to-SMS gateway domains; bulk mail to them is refused.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct SmsGateways {
    pub enabled: bool,
    /// Recipients of one campaign at SMS gateways allowed in the bulk window before refusal.
    pub max_recipients: u64,
    pub domains: Vec<String>,
}

impl Default for SmsGateways {
    fn default() -> Self {
        Self {
            enabled: true,
            max_recipients: 1,
            domains: [
                "txt.att.net",
                "mms.att.net",
                "tmomail.net",
                "vtext.com",
                "vzwpix.com",
                "messaging.sprintpcs.com",
                "pm.sprint.com",
                "sms.myboostmobile.com",
                "mms.cricketwireless.net",
                "msg.fi.google.com",
                "email.uscc.net",
                "text.republicwireless.com",
                "mymetropcs.com",
                "sms.cricketwireless.net",
            ]
            .into_iter()
            .map(String::from)
            .collect(),
        }
    }
}

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

/// `[fingerprint]`: when two messages are "substantively similar" (DESIGN): the estimated
/// Jaccard similarity of their normalised bodies at which they fall in one campaign, 0.5–0.95.
/// The campaign index bands the MinHash signature for it (`fingerprint::Banding`); 0.7 is what
/// the quality benchmark measures, and changing it starts new campaign keys.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct FingerprintRules {
    pub similarity: f64,
}

impl Default for FingerprintRules {
    fn default() -> Self {
        Self {
            similarity: crate::fingerprint::THRESHOLD,
        }
    }
}

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
    /// claims it is forged.
    pub authserv_id: String,
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
            authserv_id: "aupgate.localhost".into(),
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

/// `[attachments]`: letter bombing, attachments that can harm the recipient's computer.
/// Refusals are `550 5.7.1` naming the file.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Attachments {
    pub enabled: bool,
    /// File extensions (without the dot, any case) that are refused.
    pub extensions: Vec<String>,
    /// Also refuse names dressed as another type: bidirectional-override or invisible
    /// characters, or blank padding before the last extension (`invoice.pdf      .exe`).
    pub block_double_extensions: bool,
    /// Look at the file names inside archive attachments (ZIP, gzip, tar, nested: `inspect::archives`).
    pub inspect_archives: bool,
}

impl Default for Attachments {
    fn default() -> Self {
        Self {
            enabled: true,
            extensions: [
                "exe", "scr", "com", "bat", "cmd", "pif", "vbs", "vbe", "js", "jse", "wsf", "wsh", "msi", "msp", "hta",
                "cpl", "jar", "ps1", "lnk", "reg", "iso", "img", "vhd",
            ]
            .into_iter()
            .map(String::from)
            .collect(),
            block_double_extensions: true,
            inspect_archives: true,
        }
    }
}

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

/// `[dkim]`: signing with the gateway's keys, and the tenant's own signatures.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Dkim {
    /// Sign with the gateway's key for the From domain (`aupgate dkim generate`), when the
    /// tenant owns that domain and a key exists.
    pub sign: bool,
    /// Verify the signatures the message already carries.
    pub verify: bool,
    /// A signature that does not verify (changed after signing, bad key record).
    pub on_broken: AuthAction,
}

impl Default for Dkim {
    fn default() -> Self {
        Self {
            sign: true,
            verify: true,
            on_broken: AuthAction::Refuse,
        }
    }
}

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

/// `[escalation]`: violations become events; `steps` move the tenant's state.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Escalation {
    /// In order; the last step whose threshold is reached decides the state.
    pub steps: Vec<EscalationStep>,
}

/// One rung: `events` violations within `window` → `state`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct EscalationStep {
    pub events: u64,
    pub window: HumanDuration,
    pub state: TenantStateConfig,
}

/// The checks' ids, as `[on_error] disconnect` names them (the engine's test keeps this list
/// and the checks in step).
pub const CHECK_RULES: &[&str] = &[
    "tenant.suspended",
    "sender.domain",
    "block.sender",
    "quota.messages",
    "quota.recipients",
    "suppression.hard_bounce",
    "headers.integrity",
    "attachments.dangerous",
    "block.campaign",
    "sms_gateway.bulk",
    "mail_bomb.max_messages",
    "mail_bomb.max_messages_per_domain",
    "bulk.max_recipients",
];

/// `[on_error]`: what infrastructure failure inside a check (the store or DNS failing) means.
/// Never a pass: the transaction is deferred (`451 4.3.0`), or for the checks listed in
/// `disconnect` the session is closed with `421 4.3.0`, so the client backs off at once.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct OnError {
    /// Always true: setting it to false is refused by validation (the gateway never fails open).
    pub defer: bool,
    /// Checks (ids from [`CHECK_RULES`]) whose errors close the session with `421 4.3.0`.
    pub disconnect: Vec<String>,
}

impl Default for OnError {
    fn default() -> Self {
        Self {
            defer: true,
            disconnect: Vec::new(),
        }
    }
}

impl Profile {
    /// Reads and validates a profile file.
    pub fn load(path: &Path) -> Result<Profile, ConfigErrors> {
        Profile::parse(&crate::config::read_file(path)?)
    }

    /// Parses and validates profile text, reporting every error with its path.
    pub fn parse(text: &str) -> Result<Profile, ConfigErrors> {
        let table = crate::config::parse_table(text)?;
        let mut errors = Collector(Vec::new());
        let mut profile = Profile::default();
        for (key, value) in table {
            match key.as_str() {
                "profile" => profile.profile = section(&key, value, &mut errors),
                "sender_domain" => profile.sender_domain = section(&key, value, &mut errors),
                "recipients" => profile.recipients = section(&key, value, &mut errors),
                "fingerprint" => profile.fingerprint = section(&key, value, &mut errors),
                "quotas" => profile.quotas = section(&key, value, &mut errors),
                "bulk" => profile.bulk = section(&key, value, &mut errors),
                "mail_bomb" => profile.mail_bomb = section(&key, value, &mut errors),
                "sms_gateways" => profile.sms_gateways = section(&key, value, &mut errors),
                "suppression" => profile.suppression = section(&key, value, &mut errors),
                "headers" => profile.headers = section(&key, value, &mut errors),
                "attachments" => profile.attachments = section(&key, value, &mut errors),
                "spf" => profile.spf = section(&key, value, &mut errors),
                "dkim" => profile.dkim = section(&key, value, &mut errors),
                "dmarc" => profile.dmarc = section(&key, value, &mut errors),
                "escalation" => profile.escalation = section(&key, value, &mut errors),
                "on_error" => profile.on_error = section(&key, value, &mut errors),
                "unsubscribe" => profile.unsubscribe = section(&key, value, &mut errors),
                "complaints" => profile.complaints = section(&key, value, &mut errors),
                _ => errors.push(key.clone(), "unknown section"),
            }
        }
        profile.validate(&mut errors);
        if errors.0.is_empty() {
            Ok(profile)
        } else {
            Err(ConfigErrors(errors.0))
        }
    }

    fn validate(&self, errors: &mut Collector) {
        if self.profile.name.trim().is_empty() {
            errors.push("profile.name", "must not be empty");
        }
        if !(0.5..=0.95).contains(&self.fingerprint.similarity) {
            errors.push(
                "fingerprint.similarity",
                "must be between 0.5 and 0.95 (the estimated share of a body two messages have in common)",
            );
        }
        // Issue 4: registered bulk senders are exempt *only if* both hold; the keys spell the
        // conditions out in the presets but cannot waive them.
        for (key, on) in [
            ("bulk.require_list_unsubscribe", self.bulk.require_list_unsubscribe),
            ("bulk.require_recipient_in_to", self.bulk.require_recipient_in_to),
        ] {
            if !on {
                errors.push(
                    key,
                    "must be true: a registered bulk sender is exempt only with List-Unsubscribe and the recipient in To",
                );
            }
        }
        if self.bulk.enabled && self.bulk.max_recipients == 0 {
            errors.push(
                "bulk.max_recipients",
                "must be at least 1 (or set bulk.enabled = false)",
            );
        }
        if self.bulk.window.get().is_zero() {
            errors.push("bulk.window", "must be longer than 0");
        }
        if self.mail_bomb.enabled && self.mail_bomb.max_messages == 0 {
            errors.push(
                "mail_bomb.max_messages",
                "must be at least 1 (or set mail_bomb.enabled = false)",
            );
        }
        if self.mail_bomb.window.get().is_zero() {
            errors.push("mail_bomb.window", "must be longer than 0");
        }
        if self.mail_bomb.max_messages_per_domain > 10_000 {
            errors.push(
                "mail_bomb.max_messages_per_domain",
                "exact thresholds above 10000 are not supported",
            );
        }
        if self.bulk.max_recipients > 10_000 || self.mail_bomb.max_messages > 10_000 {
            errors.push("bulk", "exact thresholds above 10000 are not supported");
        }
        for (i, domain) in self.sms_gateways.domains.iter().enumerate() {
            if crate::tenant::normalize_domain(domain).is_none() {
                errors.push(
                    format!("sms_gateways.domains[{i}]"),
                    format!("`{domain}` is not a domain name"),
                );
            }
        }
        self.validate_headers(errors);
        self.validate_attachments(errors);
        self.complaints.validate(errors);
        for (i, step) in self.escalation.steps.iter().enumerate() {
            if step.events == 0 {
                errors.push(format!("escalation.steps[{i}].events"), "must be at least 1");
            }
            if step.window.get().is_zero() {
                errors.push(format!("escalation.steps[{i}].window"), "must be longer than 0");
            }
            if step.state == TenantStateConfig::Active {
                errors.push(
                    format!("escalation.steps[{i}].state"),
                    "a step must move the tenant out of `active`",
                );
            }
        }
        if !self.on_error.defer {
            errors.push(
                "on_error.defer",
                "must be true: the gateway never lets mail through on an internal error",
            );
        }
        for (i, rule) in self.on_error.disconnect.iter().enumerate() {
            if !CHECK_RULES.contains(&rule.as_str()) {
                errors.push(
                    format!("on_error.disconnect[{i}]"),
                    format!("`{rule}` is not a check (one of: {})", CHECK_RULES.join(", ")),
                );
            }
        }
    }
}

impl Profile {
    fn validate_headers(&self, errors: &mut Collector) {
        let rules = &self.headers;
        if rules.max_received == 0 || rules.max_received > 500 {
            errors.push("headers.max_received", "must be between 1 and 500");
        }
        let id = rules.authserv_id.trim();
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

    fn validate_attachments(&self, errors: &mut Collector) {
        let rules = &self.attachments;
        if rules.enabled && rules.extensions.is_empty() {
            errors.push(
                "attachments.extensions",
                "must list at least one extension (or set attachments.enabled = false)",
            );
        }
        for (i, ext) in rules.extensions.iter().enumerate() {
            if ext.is_empty() || ext.len() > 16 || !ext.chars().all(|c| c.is_ascii_alphanumeric()) {
                errors.push(
                    format!("attachments.extensions[{i}]"),
                    format!("`{ext}` is not an extension (letters and digits, no dot)"),
                );
            }
        }
    }
}

/// Loads every `*.toml` in `directory` (when it exists) keyed by `[profile] name`, plus the
/// built-in `default` when the directory has none. All files' errors are reported together.
pub fn load_directory(
    directory: &Path,
) -> Result<std::collections::HashMap<String, std::sync::Arc<Profile>>, ConfigErrors> {
    let mut profiles = std::collections::HashMap::new();
    let mut errors = Vec::new();
    if let Ok(entries) = std::fs::read_dir(directory) {
        let mut paths: Vec<_> = entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "toml"))
            .collect();
        paths.sort();
        for path in paths {
            match Profile::load(&path) {
                // Tenants name a profile and operators find it by its file: the two must agree
                // (a copied preset whose name was left alone would silently replace another).
                Ok(profile) if path.file_stem().and_then(|s| s.to_str()) != Some(profile.profile.name.as_str()) => {
                    errors.push(ConfigError {
                        path: format!("{}: profile.name", path.display()),
                        message: format!(
                            "`{}` must match the file name (profiles are named by their file, without `.toml`)",
                            profile.profile.name
                        ),
                    });
                }
                Ok(profile) => {
                    profiles.insert(profile.profile.name.clone(), std::sync::Arc::new(profile));
                }
                Err(ConfigErrors(found)) => errors.extend(found.into_iter().map(|e| ConfigError {
                    path: format!("{}: {}", path.display(), e.path),
                    message: e.message,
                })),
            }
        }
    }
    if !errors.is_empty() {
        return Err(ConfigErrors(errors));
    }
    profiles
        .entry("default".to_string())
        .or_insert_with(|| std::sync::Arc::new(Profile::default()));
    Ok(profiles)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_directory_reports_every_profile_named_unlike_its_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("spcm.toml"), "[profile]\nname = \"spcm\"\n").unwrap();
        // A copy of a preset whose name was left alone, and a file without a name.
        std::fs::write(dir.path().join("custom.toml"), "[profile]\nname = \"spcm\"\n").unwrap();
        std::fs::write(dir.path().join("strict.toml"), "[bulk]\nmax_recipients = 5\n").unwrap();
        let ConfigErrors(errors) = load_directory(dir.path()).expect_err("two misnamed profiles");
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert!(errors[0].path.ends_with("custom.toml: profile.name") && errors[0].message.contains("`spcm`"));
        assert!(errors[1].path.ends_with("strict.toml: profile.name") && errors[1].message.contains("`default`"));
        std::fs::remove_file(dir.path().join("custom.toml")).unwrap();
        std::fs::remove_file(dir.path().join("strict.toml")).unwrap();
        let profiles = load_directory(dir.path()).expect("loads");
        assert!(profiles.contains_key("spcm") && profiles.contains_key("default"));
    }

    #[test]
    fn the_bulk_exemption_conditions_cannot_be_waived() {
        let ConfigErrors(errors) =
            Profile::parse("[bulk]\nrequire_list_unsubscribe = false\nrequire_recipient_in_to = false\n")
                .expect_err("waived conditions");
        let paths: Vec<&str> = errors.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(paths, ["bulk.require_list_unsubscribe", "bulk.require_recipient_in_to"]);
    }

    #[test]
    fn defaults_match_the_design() {
        let profile = Profile::parse("").expect("empty profile");
        assert_eq!(profile.bulk.max_recipients, 20);
        assert_eq!(profile.mail_bomb.max_messages, 10);
        assert_eq!(profile.mail_bomb.window.get().as_secs(), 86_400);
        assert!(profile.on_error.defer);
        assert!(profile.headers.enabled);
        assert_eq!(profile.headers.max_received, 30);
        assert_eq!(profile.headers.authserv_id, "aupgate.localhost");
        assert!(profile.attachments.enabled && profile.attachments.inspect_archives);
        assert!(profile.attachments.extensions.iter().any(|e| e == "exe"));
    }

    #[test]
    fn authentication_results_actions_parse_and_unknown_ones_are_refused() {
        let profile = Profile::parse("[headers]\nauthentication_results = \"remove\"\n").expect("remove");
        assert_eq!(profile.headers.authentication_results, AuthResultsAction::Remove);
        let errors = Profile::parse("[headers]\nauthentication_results = \"ignore\"\n")
            .expect_err("unknown")
            .0;
        assert_eq!(errors[0].path, "headers.authentication_results");
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

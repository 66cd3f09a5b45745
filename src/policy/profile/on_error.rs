//! `[on_error]`: what infrastructure failure inside a check (the store or DNS failing) means.
//! `disconnect` names checks by their rule ids and is read into [`Rule`]s; the names it accepts
//! are the checks' in the table of sections ([`super::check_rules`]), never a list kept here.

use serde::{Deserialize, Serialize};

use super::Section;
use crate::config::{section, Collector};
use crate::wire::Rule;

/// `[on_error]`: what infrastructure failure inside a check (the store or DNS failing) means.
/// Never a pass: the transaction is deferred (`451 4.3.0`), or for the checks listed in
/// `disconnect` the session is closed with `421 4.3.0`, so the client backs off at once.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OnError {
    /// Always true: setting it to false is refused by validation (the gateway never fails open).
    pub defer: bool,
    /// Checks (by the rule id the table of sections gives them) whose errors close the session
    /// with `421 4.3.0`.
    pub disconnect: Vec<Rule>,
}

impl Default for OnError {
    fn default() -> Self {
        Self {
            defer: true,
            disconnect: Vec::new(),
        }
    }
}

/// `[on_error]` as the file writes it: the check names as text, so that each one that is not a
/// check is reported with its index (and the other keys still read) rather than failing the
/// whole section.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
struct OnErrorFile {
    defer: bool,
    disconnect: Vec<String>,
}

impl Default for OnErrorFile {
    fn default() -> Self {
        Self {
            defer: OnError::default().defer,
            disconnect: Vec::new(),
        }
    }
}

impl OnError {
    /// Reads `[on_error]`, each name in `disconnect` into the check's [`Rule`].
    pub(super) fn read(key: &str, value: toml::Value, errors: &mut Collector) -> OnError {
        let file: OnErrorFile = section(key, value, errors);
        let checks = super::check_rules();
        let mut disconnect = Vec::new();
        for (i, name) in file.disconnect.iter().enumerate() {
            match name.parse::<Rule>() {
                Ok(rule) if checks.contains(&rule) => disconnect.push(rule),
                _ => {
                    let names: Vec<&str> = checks.iter().map(|rule| rule.as_str()).collect();
                    errors.push(
                        format!("{key}.disconnect[{i}]"),
                        format!("`{name}` is not a check (one of: {})", names.join(", ")),
                    );
                }
            }
        }
        OnError {
            defer: file.defer,
            disconnect,
        }
    }
}

impl Section for OnError {
    fn validate(&self, errors: &mut Collector) {
        if !self.defer {
            errors.push(
                "on_error.defer",
                "must be true: the gateway never lets mail through on an internal error",
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::config::ConfigError;
    use crate::policy::profile::Profile;
    use crate::wire::Rule;

    #[test]
    fn disconnect_is_read_into_the_checks_rules() {
        let profile =
            Profile::parse("[on_error]\ndisconnect = [\"quota.messages\", \"block.sender\"]\n").expect("two checks");
        assert_eq!(profile.on_error.disconnect, [Rule::QuotaMessages, Rule::BlockSender]);
    }

    /// A name that is no rule, and a rule that is no check (a refusal's finer id, an
    /// authentication result), are refused with the same error, naming every check.
    #[test]
    fn a_name_that_is_not_a_check_is_refused_with_its_index() {
        let checks = "tenant.suspended, sender.domain, block.sender, quota.messages, quota.recipients, \
                      headers.integrity, attachments.dangerous, block.campaign, suppression.hard_bounce, \
                      sms_gateway.bulk, mail_bomb.max_messages, mail_bomb.max_messages_per_domain, \
                      bulk.max_recipients";
        for name in ["bulk.typo", "quota.messages_per_hour", "spf.fail"] {
            let errors = Profile::parse(&format!(
                "[on_error]\ndisconnect = [\"bulk.max_recipients\", \"{name}\"]\n"
            ))
            .expect_err("not a check")
            .0;
            assert_eq!(
                errors,
                [ConfigError {
                    path: "on_error.disconnect[1]".into(),
                    message: format!("`{name}` is not a check (one of: {checks})"),
                }]
            );
        }
    }
}

//! `[sms_gateways]`: the email-to-SMS gateway domains (the `sms_gateway.bulk` check).

use serde::{Deserialize, Serialize};

use super::Section;
use crate::config::Collector;

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

impl Section for SmsGateways {
    fn validate(&self, errors: &mut Collector) {
        for (i, domain) in self.domains.iter().enumerate() {
            if crate::tenant::normalize_domain(domain).is_none() {
                errors.push(
                    format!("sms_gateways.domains[{i}]"),
                    format!("`{domain}` is not a domain name"),
                );
            }
        }
    }
}

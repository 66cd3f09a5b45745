//! `[unsubscribe]`: where the gateway's own unsubscribe links point and how a hit reaches the
//! tenant (`complaints::unsubscribe`). Whether a tenant's mail carries the links is its profile's
//! `[unsubscribe]`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{Collector, Rate};

/// `[unsubscribe]` of the server config.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct UnsubscribeConfig {
    /// The public base of the one-click URL: `<url>/u/<token>` must reach the admin listener's
    /// `/u/` routes (directly or through a reverse proxy); default `https://` `[server] hostname`.
    pub url: Option<String>,
    /// The mailto address of List-Unsubscribe (the token goes in its subject); default
    /// `unsubscribe@` `[server] hostname`. The SMTP listeners accept mail for it without tenant
    /// identification.
    pub address: Option<String>,
    /// How a hit is passed to tenants without their own setting.
    pub notify: UnsubscribeNotify,
    /// Where `notify = "webhook"` posts (JSON), for tenants without their own.
    pub webhook: Option<String>,
    /// Per tenant (by id): how its hits reach it.
    pub tenants: BTreeMap<String, TenantUnsubscribe>,
    /// Mails one client address may send to the unsubscribe address (an IPv6 client by its
    /// /64): `451 4.7.1` above. Default `100/h`.
    pub max_mails_per_client: Rate,
}

impl Default for UnsubscribeConfig {
    fn default() -> UnsubscribeConfig {
        UnsubscribeConfig {
            url: None,
            address: None,
            notify: UnsubscribeNotify::default(),
            webhook: None,
            tenants: BTreeMap::new(),
            max_mails_per_client: Rate::new(100, std::time::Duration::from_secs(3600)),
        }
    }
}

/// `[unsubscribe.tenants.<id>]`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct TenantUnsubscribe {
    pub notify: Option<UnsubscribeNotify>,
    pub webhook: Option<String>,
}

/// How an unsubscribe is passed to the tenant.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum UnsubscribeNotify {
    /// A notice to the tenant's contact, through the gateway's own queue.
    #[default]
    Mail,
    /// An HTTP POST of JSON to the webhook (a notice by mail when it fails).
    Webhook,
}

impl UnsubscribeConfig {
    /// The notification setting of `tenant`: (how, webhook URL).
    pub fn notify_for(&self, tenant: &str) -> (UnsubscribeNotify, Option<&str>) {
        let own = self.tenants.get(tenant);
        let notify = own.and_then(|t| t.notify).unwrap_or(self.notify);
        let webhook = own.and_then(|t| t.webhook.as_deref()).or(self.webhook.as_deref());
        (notify, webhook)
    }

    pub(super) fn validate(&self, errors: &mut Collector) {
        if self.max_mails_per_client.count == 0 {
            errors.push("unsubscribe.max_mails_per_client", "must allow at least one mail");
        }
        if let Some(url) = &self.url {
            if !is_http_url(url) {
                errors.push("unsubscribe.url", format!("`{url}` is not an http(s) URL"));
            }
        }
        if let Some(address) = &self.address {
            if !plausible_address(address) {
                errors.push("unsubscribe.address", format!("`{address}` is not a mail address"));
            }
        }
        let mut check = |path: String, notify: Option<UnsubscribeNotify>, webhook: Option<&str>| {
            if let Some(url) = webhook.filter(|url| !is_http_url(url)) {
                errors.push(format!("{path}.webhook"), format!("`{url}` is not an http(s) URL"));
            }
            if notify == Some(UnsubscribeNotify::Webhook) && webhook.is_none() {
                errors.push(format!("{path}.notify"), "`webhook` needs a webhook URL");
            }
        };
        check("unsubscribe".into(), Some(self.notify), self.webhook.as_deref());
        for id in self.tenants.keys() {
            let (notify, webhook) = self.notify_for(id);
            check(format!("unsubscribe.tenants.{id}"), Some(notify), webhook);
        }
    }
}

fn is_http_url(url: &str) -> bool {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .unwrap_or("");
    !rest.is_empty() && !url.contains(|c: char| c.is_whitespace() || c == '<' || c == '>' || c == '"')
}

/// Whether `address` looks like a bare mail address (`local@domain`, no spaces or brackets).
pub(crate) fn plausible_address(address: &str) -> bool {
    address
        .rsplit_once('@')
        .is_some_and(|(local, domain)| !local.is_empty() && crate::tenant::normalize_domain(domain).is_some())
        && !address.contains(|c: char| c.is_whitespace() || c == ';' || c == '<' || c == '>')
}

#[cfg(test)]
mod tests {
    use crate::config::{Config, UnsubscribeNotify};

    #[test]
    fn settings_parse_and_each_tenant_may_have_its_own() {
        let config = Config::parse(
            "[unsubscribe]\nurl = \"https://u.provider.example\"\naddress = \"unsub@provider.example\"\n\
             [unsubscribe.tenants.acme]\nnotify = \"webhook\"\nwebhook = \"https://acme.example/hook\"\n",
        )
        .expect("valid");
        assert_eq!(config.unsubscribe.notify_for("other"), (UnsubscribeNotify::Mail, None));
        assert_eq!(
            config.unsubscribe.notify_for("acme"),
            (UnsubscribeNotify::Webhook, Some("https://acme.example/hook"))
        );
    }

    #[test]
    fn every_bad_setting_is_reported_with_its_path() {
        let errors = Config::parse(
            "[feedback]\nnotice_from = \"not an address\"\n\
             [unsubscribe]\nurl = \"ftp://x\"\naddress = \"nobody\"\nnotify = \"webhook\"\n\
             [unsubscribe.tenants.acme]\nwebhook = \"javascript:alert(1)\"\n",
        )
        .expect_err("invalid")
        .0;
        let mut paths: Vec<&str> = errors.iter().map(|e| e.path.as_str()).collect();
        paths.sort();
        assert_eq!(
            paths,
            [
                "feedback.notice_from",
                "unsubscribe.address",
                "unsubscribe.notify",
                "unsubscribe.tenants.acme.webhook",
                "unsubscribe.url",
            ],
            "{errors:?}"
        );
    }
}

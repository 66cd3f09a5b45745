//! Typed TOML configuration. Loading checks every section key by key and then validates meaning
//! (addresses, networks, duplicates), and reports **all** errors at once with their paths, so an
//! operator fixes a config in one pass. Nothing here opens sockets or files other than the config.

mod sections;
mod types;
pub mod units;
mod unsubscribe;

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

pub use sections::*;
pub use types::{ByteSize, HumanDuration, Rate};
pub use unsubscribe::{TenantUnsubscribe, UnsubscribeConfig, UnsubscribeNotify};

/// The demo configuration `aupgate serve` runs when no `--config` is given.
pub const DEMO_CONFIG: &str = include_str!("../../deploy/aupgate.demo.toml");

/// The whole configuration file.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub server: ServerConfig,
    #[serde(rename = "listener")]
    pub listeners: Vec<ListenerConfig>,
    pub limits: LimitsConfig,
    pub tls: TlsConfig,
    pub queue: QueueConfig,
    pub relay: RelayConfig,
    pub dns: DnsConfig,
    pub authentication: AuthenticationConfig,
    pub store: StoreConfig,
    pub admin: AdminConfig,
    pub policy: PolicyConfig,
    pub feedback: FeedbackConfig,
    pub unsubscribe: UnsubscribeConfig,
    #[serde(rename = "tenant")]
    pub tenants: Vec<TenantConfig>,
}

/// Largest failure count `[limits] auth_failures` / `auth_user_failures` may name (the store's
/// event logs keep every timestamp, up to `store::MAX_CAP`).
pub const MAX_AUTH_FAILURES: u32 = 10_000;

/// Every problem found in a config, each with its path (`limits.command_timeout`, `tenant[1].networks[0]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigErrors(pub Vec<ConfigError>);

/// One problem in a config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub path: String,
    pub message: String,
}

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{} error(s) in the configuration:", self.0.len())?;
        for error in &self.0 {
            writeln!(f, "  {}: {}", error.path, error.message)?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

/// Collects config errors with their paths (shared with the policy-profile loader).
pub(crate) struct Collector(pub(crate) Vec<ConfigError>);

impl Collector {
    pub(crate) fn push(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.0.push(ConfigError {
            path: path.into(),
            message: message.into(),
        });
    }
}

impl Config {
    /// Reads and validates a config file.
    pub fn load(path: &Path) -> Result<Config, ConfigErrors> {
        Config::parse(&read_file(path)?)
    }

    /// The embedded demo configuration.
    pub fn demo() -> Config {
        match Config::parse(DEMO_CONFIG) {
            Ok(config) => config,
            // The demo config is checked by a unit test; this cannot happen in a released binary.
            Err(errors) => panic!("embedded demo config is invalid: {errors}"),
        }
    }

    /// Parses and validates config text.
    pub fn parse(text: &str) -> Result<Config, ConfigErrors> {
        let table = parse_table(text)?;
        let mut errors = Collector(Vec::new());
        let mut config = Config::default();
        for (key, value) in table {
            match key.as_str() {
                "server" => config.server = section(&key, value, &mut errors),
                "limits" => config.limits = section(&key, value, &mut errors),
                "tls" => config.tls = section(&key, value, &mut errors),
                "queue" => config.queue = section(&key, value, &mut errors),
                "relay" => config.relay = section(&key, value, &mut errors),
                "dns" => config.dns = section(&key, value, &mut errors),
                "authentication" => config.authentication = section(&key, value, &mut errors),
                "store" => config.store = section(&key, value, &mut errors),
                "admin" => config.admin = section(&key, value, &mut errors),
                "policy" => config.policy = section(&key, value, &mut errors),
                "feedback" => config.feedback = section(&key, value, &mut errors),
                "unsubscribe" => config.unsubscribe = section(&key, value, &mut errors),
                "listener" => config.listeners = array_section(&key, value, &mut errors),
                "tenant" => config.tenants = array_section(&key, value, &mut errors),
                _ => errors.push(key.clone(), "unknown section"),
            }
        }
        if config.listeners.is_empty() {
            config.listeners.push(ListenerConfig::default());
        }
        // A key that did not parse was left at its default for validation: whatever validation
        // says about it would be about the default, not the file.
        let unparsed: std::collections::HashSet<String> = errors.0.iter().map(|e| e.path.clone()).collect();
        let parsed = errors.0.len();
        config.validate(&mut errors);
        let mut index = 0;
        errors.0.retain(|error| {
            index += 1;
            index <= parsed || !unparsed.contains(&error.path)
        });
        if errors.0.is_empty() {
            Ok(config)
        } else {
            Err(ConfigErrors(errors.0))
        }
    }

    /// The data directory as a path.
    pub fn data_dir(&self) -> PathBuf {
        PathBuf::from(&self.server.data_dir)
    }

    fn validate(&self, errors: &mut Collector) {
        if self.server.hostname.trim().is_empty() {
            errors.push("server.hostname", "must not be empty");
        }
        if self.server.data_dir.trim().is_empty() {
            errors.push("server.data_dir", "must not be empty");
        }
        let include = &self.authentication.spf_include;
        if !include.is_empty() && crate::tenant::normalize_domain(include).is_none() {
            errors.push(
                "authentication.spf_include",
                format!("`{include}` is not a domain name (e.g. \"_spf.provider.example\")"),
            );
        }
        if self.server.worker_threads > 1024 {
            errors.push("server.worker_threads", "must be at most 1024 (0 = one per CPU)");
        }
        let mut names = std::collections::HashSet::new();
        for (i, listener) in self.listeners.iter().enumerate() {
            let path = format!("listener[{i}]");
            if listener.address.parse::<SocketAddr>().is_err() {
                errors.push(
                    format!("{path}.address"),
                    format!("`{}` is not an ip:port address", listener.address),
                );
            }
            if !names.insert(listener.name.clone()) {
                errors.push(
                    format!("{path}.name"),
                    format!("duplicate listener name `{}`", listener.name),
                );
            }
        }
        let limits = &self.limits;
        for (name, value) in [
            ("max_connections", limits.max_connections),
            ("max_connections_per_ip", limits.max_connections_per_ip),
            ("max_recipients", limits.max_recipients),
            ("max_errors", limits.max_errors),
            ("max_messages_per_session", limits.max_messages_per_session),
        ] {
            if value == 0 {
                errors.push(format!("limits.{name}"), "must be at least 1");
            }
        }
        if limits.max_command_line < 512 {
            errors.push("limits.max_command_line", "must be at least 512 (RFC 5321 4.5.3.1.4)");
        }
        if limits.max_path_length < crate::wire::path::MIN_MAX_PATH {
            errors.push(
                "limits.max_path_length",
                "must be at least 256 (RFC 5321 4.5.3.1.3: paths of 256 octets must be accepted)",
            );
        }
        if limits.max_data_in_flight.get() < 64 << 10 {
            errors.push("limits.max_data_in_flight", "must be at least 64KiB");
        }
        if limits.max_data_line < 78 {
            errors.push("limits.max_data_line", "must be at least 78");
        }
        if limits.command_timeout.get().is_zero() {
            errors.push("limits.command_timeout", "must be longer than 0");
        }
        if limits.session_timeout.get().is_zero() {
            errors.push("limits.session_timeout", "must be longer than 0");
        }
        for (name, rate) in [
            ("auth_failures", limits.auth_failures),
            ("auth_user_failures", limits.auth_user_failures),
        ] {
            // Failures are kept one timestamp each in the store's capped event logs.
            if rate.count == 0 || rate.count > MAX_AUTH_FAILURES {
                errors.push(
                    format!("limits.{name}"),
                    format!("the count must be between 1 and {MAX_AUTH_FAILURES}"),
                );
            }
        }
        if limits.auth_lockout.get().is_zero() {
            errors.push("limits.auth_lockout", "must be longer than 0");
        }
        if limits.auth_failure_delay.get() > std::time::Duration::from_secs(30) {
            errors.push("limits.auth_failure_delay", "must be at most 30s");
        }
        if self.tls.cert.is_some() != self.tls.key.is_some() {
            errors.push("tls", "`cert` and `key` must be given together");
        }
        if self.queue.retry_initial.get().is_zero() {
            errors.push("queue.retry_initial", "must be longer than 0");
        }
        if self.queue.retry_max.get() < self.queue.retry_initial.get() {
            errors.push("queue.retry_max", "must not be shorter than queue.retry_initial");
        }
        if self.relay.workers == 0 {
            errors.push("relay.workers", "must be at least 1");
        }
        if self.relay.per_destination_concurrency == 0 {
            errors.push("relay.per_destination_concurrency", "must be at least 1");
        }
        if self.relay.mode == RelayMode::Smarthost && self.relay.smarthost.host.trim().is_empty() {
            errors.push("relay.smarthost.host", "must be set in smarthost mode");
        }
        self.validate_relay_tls(errors);
        for (i, server) in self.dns.nameservers.iter().enumerate() {
            if server.parse::<SocketAddr>().is_err() {
                errors.push(
                    format!("dns.nameservers[{i}]"),
                    format!("`{server}` is not an ip:port address"),
                );
            }
        }
        if self.dns.dnssec {
            let loopback = |s: &String| s.parse::<SocketAddr>().is_ok_and(|a| a.ip().is_loopback());
            if self.dns.nameservers.is_empty() || !self.dns.nameservers.iter().all(loopback) {
                errors.push(
                    "dns.dnssec",
                    "needs dns.nameservers, all on loopback: a validating resolver on this host (an AD bit from across a network proves nothing)",
                );
            }
        }
        self.validate_store(errors);
        match self.admin.address.parse::<SocketAddr>() {
            Err(_) => errors.push(
                "admin.address",
                format!("`{}` is not an ip:port address", self.admin.address),
            ),
            Ok(address) if !address.ip().is_loopback() => {
                if self.admin.token.is_none() && self.admin.tokens.is_empty() {
                    errors.push(
                        "admin.token",
                        "required (or [[admin.tokens]]) when admin.address is not a loopback address",
                    );
                }
                if !self.admin.tls && !self.admin.insecure_http {
                    errors.push(
                        "admin.tls",
                        "required when admin.address is not a loopback address (or set admin.insecure_http = true behind a TLS proxy)",
                    );
                }
            }
            Ok(_) => {}
        }
        if self.admin.token.as_deref().is_some_and(|t| t.len() < 16) {
            errors.push("admin.token", "must be at least 16 characters");
        }
        self.validate_admin_tokens(errors);
        self.validate_tenants(errors);
        self.validate_feedback(errors);
        self.unsubscribe.validate(errors);
        if let Some(from) = &self.feedback.notice_from {
            if !unsubscribe::plausible_address(from) {
                errors.push("feedback.notice_from", format!("`{from}` is not a mail address"));
            }
        }
    }

    fn validate_feedback(&self, errors: &mut Collector) {
        let feedback = &self.feedback;
        let id_ok = !feedback.sender_id.is_empty()
            && feedback.sender_id.len() <= 64
            && feedback
                .sender_id
                .bytes()
                .all(|b| b.is_ascii_graphic() && b != b':' && b != b';');
        if !id_ok {
            errors.push(
                "feedback.sender_id",
                "must be 1-64 printable characters without `:` or `;`",
            );
        }
        let mut ids = std::collections::HashSet::new();
        for (i, key) in feedback.trace_keys.iter().enumerate() {
            if let Some(problem) = key.problem() {
                errors.push(format!("feedback.trace_keys[{i}]"), problem);
            } else if !ids.insert(key.id.as_str()) {
                errors.push(
                    format!("feedback.trace_keys[{i}].id"),
                    format!("duplicate key id `{}`", key.id),
                );
            }
        }
        if let Some(address) = &feedback.cfbl_address {
            let plausible = address
                .rsplit_once('@')
                .is_some_and(|(local, domain)| !local.is_empty() && crate::tenant::normalize_domain(domain).is_some())
                && !address.contains(|c: char| c.is_whitespace() || c == ';' || c == '<' || c == '>');
            if !plausible {
                errors.push("feedback.cfbl_address", format!("`{address}` is not a mail address"));
            }
        }
        self.validate_feedback_intake(errors);
    }

    /// `[feedback] addresses`, `max_report_size`, `max_reports_per_client` (complaint intake).
    fn validate_feedback_intake(&self, errors: &mut Collector) {
        let feedback = &self.feedback;
        let mut seen = std::collections::HashSet::new();
        for (i, address) in feedback.addresses.iter().enumerate() {
            let plausible = address
                .rsplit_once('@')
                .is_some_and(|(local, domain)| !local.is_empty() && crate::tenant::normalize_domain(domain).is_some())
                && address.is_ascii()
                && !address.contains(|c: char| c.is_whitespace() || c.is_control() || "<>;,\"".contains(c));
            if !plausible {
                errors.push(
                    format!("feedback.addresses[{i}]"),
                    format!("`{address}` is not a mail address"),
                );
            } else if !seen.insert(address.to_ascii_lowercase()) {
                errors.push(
                    format!("feedback.addresses[{i}]"),
                    format!("`{address}` is listed twice"),
                );
            }
        }
        let size = feedback.max_report_size.get();
        if !(1024..=(64 << 20)).contains(&size) {
            errors.push("feedback.max_report_size", "must be between 1 KiB and 64 MiB");
        }
        if feedback.max_reports_per_client.count == 0 {
            errors.push("feedback.max_reports_per_client", "must allow at least one report");
        }
    }

    fn validate_admin_tokens(&self, errors: &mut Collector) {
        let mut names = std::collections::HashSet::new();
        for (i, token) in self.admin.tokens.iter().enumerate() {
            if token.name.trim().is_empty() {
                errors.push(format!("admin.tokens[{i}].name"), "must not be empty");
            } else if !names.insert(token.name.as_str()) {
                errors.push(
                    format!("admin.tokens[{i}].name"),
                    format!("`{}` is used twice", token.name),
                );
            }
            let hex = token.sha256.len() == 64 && token.sha256.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
            if !hex {
                errors.push(
                    format!("admin.tokens[{i}].sha256"),
                    "must be 64 lower-case hex digits (printf %s \"$TOKEN\" | sha256sum)",
                );
            }
        }
        if self.admin.session_lifetime.get().is_zero() {
            errors.push("admin.session_lifetime", "must be longer than 0");
        }
        if self
            .admin
            .backup_dir
            .as_deref()
            .is_some_and(|dir| dir.trim().is_empty())
        {
            errors.push(
                "admin.backup_dir",
                "must not be empty (leave it out for <data_dir>/backups)",
            );
        }
    }

    fn validate_relay_tls(&self, errors: &mut Collector) {
        let relay = &self.relay;
        let smarthost = &relay.smarthost;
        if smarthost.implicit_tls && relay.starttls == OutboundTls::Disabled {
            errors.push(
                "relay.smarthost.implicit_tls",
                "contradicts relay.starttls = \"disabled\"",
            );
        }
        if smarthost.username.is_some() != smarthost.password.is_some() {
            errors.push("relay.smarthost", "`username` and `password` must be given together");
        }
        if smarthost.insecure_auth && !is_loopback_host(&smarthost.host) {
            errors.push(
                "relay.smarthost.insecure_auth",
                "allowed only for a smarthost on a loopback address (credentials would cross the network in plaintext)",
            );
        }
        // Opportunistic TLS accepts any certificate: a man in the middle would answer STARTTLS
        // with his own and read the password. Credentials need TLS that is required (and should
        // be verified), unless the smarthost is a local filter.
        if smarthost.username.is_some() && !relay.starttls.requires_tls() && !smarthost.insecure_auth {
            errors.push(
                "relay.smarthost.username",
                "credentials need relay.starttls = \"required\" (verified certificate) or \"required_insecure\" (or insecure_auth for a loopback smarthost)",
            );
        }
        if let Some(path) = &relay.ca_file {
            if let Err(error) = std::fs::metadata(path) {
                errors.push("relay.ca_file", format!("`{path}`: {error}"));
            }
        }
    }

    fn validate_store(&self, errors: &mut Collector) {
        let store = &self.store;
        match store.backend {
            StoreBackend::Rocksdb if !store.urls.is_empty() => {
                errors.push("store.urls", "set, but store.backend is \"rocksdb\"");
            }
            StoreBackend::Redis if store.urls.is_empty() => {
                errors.push("store.urls", "store.backend = \"redis\" needs at least one URL");
            }
            StoreBackend::Redis if store.path.is_some() => {
                errors.push("store.path", "set, but store.backend is \"redis\"");
            }
            _ => {}
        }
        for (i, url) in store.urls.iter().enumerate() {
            let unix = url.starts_with("unix://") || url.starts_with("redis+unix://");
            if unix && store.urls.len() > 1 {
                errors.push(
                    format!("store.urls[{i}]"),
                    format!("`{url}` is a Unix socket: only a single standalone server is reached that way"),
                );
            } else if !(unix || url.starts_with("redis://") || url.starts_with("rediss://")) {
                errors.push(
                    format!("store.urls[{i}]"),
                    format!("`{url}` is not a redis://, rediss:// or unix:// URL"),
                );
            }
        }
        if store.log_retention.get().is_zero() {
            errors.push("store.log_retention", "must be longer than 0");
        }
        if store.redis_timeout.get().is_zero() {
            errors.push("store.redis_timeout", "must be longer than 0");
        }
    }

    fn validate_tenants(&self, errors: &mut Collector) {
        let mut ids = std::collections::HashSet::new();
        let mut usernames = std::collections::HashSet::new();
        for (i, tenant) in self.tenants.iter().enumerate() {
            let path = format!("tenant[{i}]");
            if let Err(message) = crate::tenant::validate::id(&tenant.id) {
                errors.push(format!("{path}.id"), message);
            } else if !ids.insert(tenant.id.clone()) {
                errors.push(format!("{path}.id"), format!("duplicate tenant id `{}`", tenant.id));
            }
            // The same rules as the admin API's (`tenant::validate`).
            for (j, network) in tenant.networks.iter().enumerate() {
                if let Err(message) = crate::tenant::validate::network(network) {
                    errors.push(format!("{path}.networks[{j}]"), message);
                }
            }
            for (j, domain) in tenant.domains.iter().enumerate() {
                if let Err(message) = crate::tenant::validate::domain(domain) {
                    errors.push(format!("{path}.domains[{j}]"), message);
                }
            }
            for (name, message) in crate::tenant::validate::limits(&tenant.limits) {
                errors.push(format!("{path}.limits.{name}"), message);
            }
            for (j, credential) in tenant.credentials.iter().enumerate() {
                let cpath = format!("{path}.credentials[{j}]");
                if credential.username.is_empty() {
                    errors.push(format!("{cpath}.username"), "must not be empty");
                } else if !usernames.insert(credential.username.clone()) {
                    errors.push(
                        format!("{cpath}.username"),
                        format!("user name `{}` is used twice", credential.username),
                    );
                }
                if !crate::tenant::is_argon2id_hash(&credential.password_hash) {
                    errors.push(
                        format!("{cpath}.password_hash"),
                        "must be an argon2id PHC string (make one with `aupgate hash-password`)",
                    );
                }
            }
        }
    }
}

/// Reads a TOML file, or one error naming it.
pub(crate) fn read_file(path: &Path) -> Result<String, ConfigErrors> {
    std::fs::read_to_string(path).map_err(|error| {
        ConfigErrors(vec![ConfigError {
            path: path.display().to_string(),
            message: format!("cannot read: {error}"),
        }])
    })
}

/// Parses TOML text into its top-level table, or one `(file)` error with the syntax problem.
pub(crate) fn parse_table(text: &str) -> Result<toml::Table, ConfigErrors> {
    toml::from_str(text).map_err(|error| {
        ConfigErrors(vec![ConfigError {
            path: "(file)".into(),
            message: error.to_string().trim_end().to_string(),
        }])
    })
}

/// Deserialises one section, checking each key on its own first so that every bad key is reported.
pub(crate) fn section<T: DeserializeOwned + Default>(path: &str, value: toml::Value, errors: &mut Collector) -> T {
    let toml::Value::Table(table) = value else {
        errors.push(path, "must be a table");
        return T::default();
    };
    let mut table = table;
    let mut failed = Vec::new();
    for (key, item) in &table {
        let mut single = toml::Table::new();
        single.insert(key.clone(), item.clone());
        if let Err(error) = T::deserialize(toml::Value::Table(single)) {
            errors.push(format!("{path}.{key}"), error.message().to_string());
            failed.push(key.clone());
        }
    }
    if !failed.is_empty() {
        // The rest of the section still goes on to validation, so its own errors are reported
        // in the same run (`Config::parse` drops validation errors on the keys that failed here).
        for key in &failed {
            table.remove(key);
        }
        return T::deserialize(toml::Value::Table(table)).unwrap_or_default();
    }
    match T::deserialize(toml::Value::Table(table)) {
        Ok(value) => value,
        Err(error) => {
            errors.push(path, error.message().to_string());
            T::default()
        }
    }
}

pub(crate) fn array_section<T: DeserializeOwned + Default>(
    path: &str,
    value: toml::Value,
    errors: &mut Collector,
) -> Vec<T> {
    let toml::Value::Array(items) = value else {
        errors.push(path, "must be an array of tables ([[...]])");
        return Vec::new();
    };
    items
        .into_iter()
        .enumerate()
        .map(|(i, item)| section(&format!("{path}[{i}]"), item, errors))
        .collect()
}

/// `localhost` or a loopback IP address.
fn is_loopback_host(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_config_is_valid() {
        let config = Config::parse(DEMO_CONFIG).expect("demo config");
        assert_eq!(config.listeners[0].address, "127.0.0.1:2525");
        assert_eq!(config.server.data_dir, "./aupgate-data");
        assert_eq!(config.relay.mode, RelayMode::Mx);
        assert_eq!(config.tenants[0].id, "demo");
    }

    #[test]
    fn empty_config_gets_defaults() {
        let config = Config::parse("").expect("empty config");
        assert_eq!(config.limits.max_recipients, 100);
        assert_eq!(config.queue.max_age.get().as_secs(), 5 * 86_400);
        assert_eq!(config.listeners.len(), 1);
    }

    #[test]
    fn slow_client_and_auth_limits_parse() {
        let config = Config::parse(
            "[limits]\ndata_min_rate = \"2KiB\"\ndata_rate_grace = \"5s\"\nauth_failures = \"5/1h\"\nauth_user_failures = \"50/h\"\nauth_lockout = \"30m\"\nauth_failure_delay = \"250ms\"\n",
        )
        .expect("valid");
        let limits = &config.limits;
        assert_eq!(limits.data_min_rate.get(), 2048);
        assert_eq!(limits.data_rate_grace.get().as_secs(), 5);
        assert_eq!(
            limits.auth_failures,
            Rate::new(5, std::time::Duration::from_secs(3_600))
        );
        assert_eq!(limits.auth_user_failures.count, 50);
        assert_eq!(limits.auth_lockout.get().as_secs(), 1_800);
        assert_eq!(limits.auth_failure_delay.get().as_millis(), 250);
        let defaults = Config::parse("").expect("defaults").limits;
        assert_eq!(
            defaults.auth_failures,
            Rate::new(10, std::time::Duration::from_secs(600))
        );
        assert_eq!(defaults.auth_failure_delay.get().as_secs(), 1);
        let errors = Config::parse("[limits]\nauth_failures = \"20000/1h\"\nauth_lockout = \"0s\"\n")
            .expect_err("invalid")
            .0;
        let paths: Vec<&str> = errors.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(paths, ["limits.auth_failures", "limits.auth_lockout"]);
    }

    #[test]
    fn redis_urls_are_tcp_tls_or_one_unix_socket() {
        let store = |urls: &str| Config::parse(&format!("[store]\nbackend = \"redis\"\nurls = [{urls}]\n"));
        store("\"redis://127.0.0.1:6379/\", \"rediss://10.0.0.2:6380/\"").expect("tcp and tls");
        store("\"unix:///run/redis/redis.sock\"").expect("one unix socket");
        store("\"redis+unix:///run/redis/redis.sock\"").expect("one unix socket");
        let errors = store("\"unix:///run/redis/redis.sock\", \"redis://127.0.0.1:6379/\"")
            .expect_err("a socket among cluster seeds")
            .0;
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!(errors[0].path, "store.urls[0]");
        assert!(errors[0].message.contains("Unix socket"), "{errors:?}");
        let errors = store("\"http://127.0.0.1:6379/\"").expect_err("not redis").0;
        assert_eq!(errors[0].path, "store.urls[0]");
        assert!(
            errors[0]
                .message
                .contains("is not a redis://, rediss:// or unix:// URL"),
            "{errors:?}"
        );
    }

    #[test]
    fn worker_threads_default_to_one_per_cpu() {
        let config = Config::parse("").expect("empty config");
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        assert_eq!(config.server.effective_worker_threads(), cpus);
        let config = Config::parse("[server]\nworker_threads = 3\n").expect("explicit");
        assert_eq!(config.server.effective_worker_threads(), 3);
        let errors = Config::parse("[server]\nworker_threads = 5000\n")
            .expect_err("too many")
            .0;
        assert_eq!(errors[0].path, "server.worker_threads");
    }

    #[test]
    fn authentication_settings_are_checked() {
        let config = Config::parse(
            "[authentication]\negress_ips = [\"192.0.2.1\", \"2001:db8::1\"]\nspf_include = \"_spf.provider.example\"\n",
        )
        .expect("valid");
        assert_eq!(config.authentication.egress_ips.len(), 2);
        let errors = Config::parse("[authentication]\negress_ips = [\"not-an-ip\"]\n")
            .expect_err("invalid")
            .0;
        assert_eq!(errors[0].path, "authentication.egress_ips");
        let errors = Config::parse("[authentication]\nspf_include = \"a b\"\n")
            .expect_err("invalid")
            .0;
        assert_eq!(errors[0].path, "authentication.spf_include");
    }

    #[test]
    fn every_error_is_reported_with_its_path() {
        let text = r#"
            [server]
            hostnme = "typo"
            [limits]
            command_timeout = "forever"
            max_recipients = 0
            session_timeout = "3 weeks"
            auth_failures = "10/forever"
            auth_user_failures = "ten/10m"
            data_min_rate = "fast"
            [relay]
            mode = "carrier-pigeon"
            [dns]
            nameservers = ["not-an-address"]
            [bogus]
            [[tenant]]
            id = "a"
            networks = ["10.0.0.0/33"]
            [[tenant]]
            id = "a"
            [[tenant.credentials]]
            username = "u"
            password_hash = "plaintext"
        "#;
        let errors = Config::parse(text).expect_err("invalid").0;
        let paths: Vec<&str> = errors.iter().map(|e| e.path.as_str()).collect();
        for expected in [
            "server.hostnme",
            "limits.command_timeout",
            "limits.session_timeout",
            "limits.auth_failures",
            "limits.auth_user_failures",
            "limits.data_min_rate",
            "relay.mode",
            "dns.nameservers[0]",
            "bogus",
            "tenant[0].networks[0]",
            "tenant[1].id",
            "tenant[1].credentials[0].password_hash",
        ] {
            assert!(paths.contains(&expected), "missing {expected} in {paths:?}");
        }
    }

    #[test]
    fn data_in_flight_defaults_to_256_mib_and_has_a_floor() {
        let defaults = Config::parse("").expect("defaults");
        assert_eq!(defaults.limits.max_data_in_flight, ByteSize(256 << 20));
        let set = Config::parse("[limits]\nmax_data_in_flight = \"64MiB\"\n").expect("valid");
        assert_eq!(set.limits.max_data_in_flight, ByteSize(64 << 20));
        let errors = Config::parse("[limits]\nmax_data_in_flight = \"1KiB\"\n")
            .expect_err("below the floor")
            .0;
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].path, "limits.max_data_in_flight");
    }

    #[test]
    fn path_length_defaults_to_the_rfc_minimum_and_may_grow() {
        assert_eq!(Config::parse("").expect("defaults").limits.max_path_length, 256);
        let config = Config::parse("[limits]\nmax_path_length = 512\n").expect("larger is fine");
        assert_eq!(config.limits.max_path_length, 512);
        let errors = Config::parse("[limits]\nmax_path_length = 100\n")
            .expect_err("below the floor")
            .0;
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].path, "limits.max_path_length");
    }

    #[test]
    fn syntax_error_is_reported() {
        let errors = Config::parse("[server\nhostname=").expect_err("invalid").0;
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].path, "(file)");
    }

    #[test]
    fn feedback_intake_settings_are_checked() {
        let text = r#"
[feedback]
addresses = ["fbl@gw.example", "FBL@gw.example", "not an address", "x@"]
max_report_size = "100B"
max_reports_per_client = "0/h"
"#;
        let errors = Config::parse(text).expect_err("invalid").to_string();
        for expected in [
            "feedback.addresses[1]",
            "feedback.addresses[2]",
            "feedback.addresses[3]",
            "feedback.max_report_size",
            "feedback.max_reports_per_client",
        ] {
            assert!(errors.contains(expected), "{expected} in {errors}");
        }
        assert!(!errors.contains("feedback.addresses[0]"), "{errors}");
        let ok = Config::parse("[feedback]\naddresses = [\"fbl@gw.example\"]\n").expect("valid");
        assert_eq!(ok.feedback.max_report_size.get(), 1 << 20);
        assert_eq!(ok.feedback.max_reports_per_client.count, 100);
    }
}

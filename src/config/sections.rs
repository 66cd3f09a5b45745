//! The config file's sections as serde types. Every field is documented here, and every struct
//! denies unknown fields and has a default, so a section can be checked key by key (see `load`).

use serde::{Deserialize, Serialize};

use super::types::{ByteSize, HumanDuration, Rate};

/// `[server]`: identity and files of this gateway node.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// Name in the greeting, EHLO reply and `Received` headers.
    pub hostname: String,
    /// Directory holding the queue, the rate store and generated TLS material.
    pub data_dir: String,
    /// How long SIGTERM waits for sessions and deliveries in flight before closing them.
    pub shutdown_grace: HumanDuration,
    /// Threads running sessions and deliveries; 0 = one per CPU. Nothing blocks them (queue
    /// fsyncs run on the queue's writer thread, RocksDB scans on the blocking pool, or they
    /// wait asynchronously), so more threads than cores only add context switches.
    pub worker_threads: usize,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            hostname: "aupgate.localhost".into(),
            data_dir: "./aupgate-data".into(),
            shutdown_grace: HumanDuration::secs(30),
            worker_threads: 0,
        }
    }
}

impl ServerConfig {
    /// The number of worker threads to run: `worker_threads`, or one per CPU (the CPUs this
    /// process may use).
    pub fn effective_worker_threads(&self) -> usize {
        if self.worker_threads > 0 {
            return self.worker_threads;
        }
        std::thread::available_parallelism().map_or(1, |n| n.get())
    }
}

/// How a listener uses TLS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ListenerTls {
    /// Plaintext first; STARTTLS offered (port 25 / 587 style).
    Starttls,
    /// TLS from the first byte (port 465 style).
    Implicit,
    /// No TLS at all (only sensible on trusted, loopback listeners).
    None,
}

/// `[[listener]]`: one SMTP listening socket.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ListenerConfig {
    /// Name used in logs and metrics.
    pub name: String,
    /// `ip:port` to bind.
    pub address: String,
    /// `starttls` (default), `implicit` or `none`.
    pub tls: ListenerTls,
    /// Every sender must authenticate before MAIL FROM (587-style submission).
    pub require_auth: bool,
    /// AUTH is offered and accepted without TLS. Only for listeners reachable from trusted networks.
    pub trusted: bool,
}

impl Default for ListenerConfig {
    fn default() -> Self {
        Self {
            name: "relay".into(),
            address: "127.0.0.1:2525".into(),
            tls: ListenerTls::Starttls,
            require_auth: false,
            trusted: false,
        }
    }
}

/// `[limits]`: per-session and per-server limits; every one ends with a proper SMTP reply.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsConfig {
    /// Open SMTP connections in total; above it a client gets `421 4.3.2` at once.
    pub max_connections: usize,
    /// Open SMTP connections per client IP; above it `421 4.7.0` at once.
    pub max_connections_per_ip: usize,
    /// Longest time for one command line, from its first byte to its CRLF (a client trickling
    /// one byte at a time gets no more), and longest idle wait for the next command; also the
    /// longest wait for each read during DATA. Then `421 4.4.2`.
    pub command_timeout: HumanDuration,
    /// Longest whole session.
    pub session_timeout: HumanDuration,
    /// Longest command line, CRLF excluded.
    pub max_command_line: usize,
    /// Longest line of message data, CRLF excluded (RFC 5322 says 998).
    pub max_data_line: usize,
    /// Longest MAIL FROM / RCPT TO path in octets, `<` and `>` included; longer: `501`. At
    /// least 256 (RFC 5321 4.5.3.1.3: a server must accept paths of 256 octets).
    pub max_path_length: usize,
    /// Largest message accepted (advertised as SIZE and enforced while streaming).
    pub max_message_size: ByteSize,
    /// Recipients per message; the next RCPT gets `452 4.5.3`.
    pub max_recipients: usize,
    /// Failed commands per session before `421 4.7.0` and close.
    pub max_errors: usize,
    /// Messages per session before `421 4.7.0` asks the client to reconnect.
    pub max_messages_per_session: usize,
    /// Bytes a session may send in total before it is closed with `421 4.7.0`.
    pub max_session_bytes: ByteSize,
    /// Slowest DATA transfer accepted, in bytes per second: the transfer starts with
    /// `data_rate_grace` of credit, each byte buys `1 / data_min_rate` seconds more, and no more
    /// than `data_rate_grace` can be banked ahead; when the credit runs out the transfer is cut
    /// with `421 4.4.2` (nothing is queued). `0` turns the check off.
    pub data_min_rate: ByteSize,
    /// How long a DATA transfer may run before `data_min_rate` applies (slow starts, TCP
    /// slow start on long paths).
    pub data_rate_grace: HumanDuration,
    /// Failed AUTH attempts from one client address (`"10/10m"`: count and window) after which
    /// that address gets `421 4.7.0` at connect and at AUTH for `auth_lockout`. Counted in the
    /// rate store, so every node sharing it sees them; a successful AUTH does not reset the count.
    pub auth_failures: Rate,
    /// How long an address that reached `auth_failures` is refused.
    pub auth_lockout: HumanDuration,
    /// Failed AUTH attempts for one user name, from any addresses; beyond it every AUTH as that
    /// name gets `535 5.7.8` without its password being checked, until the failures age out of
    /// the window (applies to names that do not exist too, so the answer reveals nothing).
    pub auth_user_failures: Rate,
    /// Wait before every `535` reply to a failed AUTH (slows guessing within a session).
    pub auth_failure_delay: HumanDuration,
    /// Message data all sessions together may hold in memory, every copy counted (a message is
    /// charged three times its buffer from its first byte until it is queued or refused; see
    /// `smtp::budget`). A DATA that does not fit gets `452 4.3.1`, before `354` or after the
    /// message's end. At least 64 KiB; below three times `max_message_size` a message of the
    /// largest size can never be accepted.
    pub max_data_in_flight: ByteSize,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        Self {
            max_connections: 2_000,
            max_connections_per_ip: 100,
            command_timeout: HumanDuration::secs(300),
            session_timeout: HumanDuration::secs(1_800),
            max_command_line: 2_048,
            max_data_line: 998,
            max_path_length: crate::wire::path::MIN_MAX_PATH,
            max_message_size: ByteSize(25 << 20),
            max_recipients: 100,
            max_errors: 10,
            max_messages_per_session: 1_000,
            max_session_bytes: ByteSize(1 << 30),
            data_min_rate: ByteSize(1 << 10),
            data_rate_grace: HumanDuration::secs(30),
            auth_failures: Rate::new(10, std::time::Duration::from_secs(600)),
            auth_lockout: HumanDuration::secs(900),
            auth_user_failures: Rate::new(20, std::time::Duration::from_secs(600)),
            auth_failure_delay: HumanDuration::secs(1),
            max_data_in_flight: ByteSize(256 << 20),
        }
    }
}

/// `[tls]`: the server certificate for STARTTLS and implicit TLS.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct TlsConfig {
    /// PEM certificate chain. Without `cert` and `key`, a self-signed pair is generated once into
    /// `<data_dir>/tls/` (for demos and tests; a real deployment configures its own).
    pub cert: Option<String>,
    /// PEM private key.
    pub key: Option<String>,
}

/// `[queue]`: the durable spool and its retry schedule.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct QueueConfig {
    /// A message not delivered after this long is returned to its sender (DSN).
    pub max_age: HumanDuration,
    /// First retry delay after a temporary failure; it doubles on every retry.
    pub retry_initial: HumanDuration,
    /// Longest delay between two retries.
    pub retry_max: HumanDuration,
}

impl Default for QueueConfig {
    fn default() -> Self {
        Self {
            max_age: HumanDuration::secs(5 * 86_400),
            retry_initial: HumanDuration::secs(60),
            retry_max: HumanDuration::secs(4 * 3_600),
        }
    }
}

/// How the relay finds the next hop.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RelayMode {
    /// Look up each recipient domain's MX (then A/AAAA) records.
    Mx,
    /// Hand everything to `[relay.smarthost]`.
    Smarthost,
}

/// Outbound TLS: whether the relay encrypts, and whether it verifies the next hop's certificate.
/// Applies to STARTTLS and to the smarthost's implicit TLS alike.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OutboundTls {
    /// Encrypt when the next hop offers STARTTLS, without verifying its certificate (RFC 7435):
    /// protects against passive listeners only.
    Opportunistic,
    /// TLS with a certificate that verifies for the next hop's name (the system's trust store,
    /// or `[relay] ca_file`); no TLS or an unverifiable certificate is a temporary failure and
    /// the message stays queued.
    Required,
    /// TLS required, certificate not verified: an operator's explicit choice for a next hop
    /// whose certificate cannot verify.
    RequiredInsecure,
    /// Never use TLS.
    Disabled,
}

impl OutboundTls {
    /// A next hop that cannot encrypt fails the attempt (temporarily).
    pub fn requires_tls(self) -> bool {
        matches!(self, OutboundTls::Required | OutboundTls::RequiredInsecure)
    }

    /// The certificate must verify for the next hop's name.
    pub fn verifies(self) -> bool {
        self == OutboundTls::Required
    }
}

/// `[relay.smarthost]`: the single next hop in smarthost mode.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct SmarthostConfig {
    /// Host name or IP address.
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// TLS from the first byte instead of STARTTLS.
    pub implicit_tls: bool,
    /// AUTH user name (optional).
    pub username: Option<String>,
    /// AUTH password (optional; prefer a file readable only by the gateway).
    pub password: Option<String>,
    /// Send the credentials over a connection without TLS. Only for a smarthost on a loopback
    /// address (a local filter); anywhere else the config is refused. Without it, AUTH is never
    /// sent in plaintext: a hop that does not encrypt fails the attempt temporarily.
    pub insecure_auth: bool,
}

impl Default for SmarthostConfig {
    fn default() -> Self {
        Self {
            host: "127.0.0.1".into(),
            port: 25,
            implicit_tls: false,
            username: None,
            password: None,
            insecure_auth: false,
        }
    }
}

/// `[relay]`: delivery workers.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RelayConfig {
    /// `mx` (default) or `smarthost`.
    pub mode: RelayMode,
    /// The next hop in smarthost mode.
    pub smarthost: SmarthostConfig,
    /// Port used for MX hosts (25; tests point it at a local sink).
    pub mx_port: u16,
    /// Deliveries in flight at once.
    pub workers: usize,
    /// Deliveries in flight at once to one destination (domain or smarthost).
    pub per_destination_concurrency: usize,
    /// Name in our EHLO to the next hop (defaults to `server.hostname`).
    pub helo_name: Option<String>,
    /// `opportunistic` (default), `required` (verified certificate), `required_insecure` or
    /// `disabled`. In MX mode a recipient domain's MTA-STS policy in `enforce` mode raises it to
    /// `required` for that domain.
    pub starttls: OutboundTls,
    /// PEM file of the CA certificates that `required` TLS (and MTA-STS policy fetches) trust,
    /// instead of the system's trust store (for a smarthost with a private CA).
    pub ca_file: Option<String>,
    /// Honour recipient domains' MTA-STS policies (RFC 8461) in MX mode.
    pub mta_sts: bool,
    /// HTTPS port MTA-STS policies are fetched from (443; tests point it at a local server).
    pub mta_sts_port: u16,
    /// Timeout to connect and for each SMTP command to the next hop.
    pub timeout: HumanDuration,
}

impl Default for RelayConfig {
    fn default() -> Self {
        Self {
            mode: RelayMode::Mx,
            smarthost: SmarthostConfig::default(),
            mx_port: 25,
            workers: 64,
            per_destination_concurrency: 16,
            helo_name: None,
            starttls: OutboundTls::Opportunistic,
            ca_file: None,
            mta_sts: true,
            mta_sts_port: 443,
            timeout: HumanDuration::secs(60),
        }
    }
}

/// `[dns]`: the one resolver shared by MX routing, SPF/DKIM/DMARC and domain verification.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct DnsConfig {
    /// `ip:port` of the nameservers to ask; empty means the system's resolv.conf.
    pub nameservers: Vec<String>,
    /// Timeout per query.
    pub timeout: HumanDuration,
    /// Attempts per query.
    pub attempts: usize,
    /// The nameservers are a validating resolver on this host (e.g. unbound on 127.0.0.1):
    /// trust their DNSSEC (AD) answers and apply DANE (RFC 7672) in MX mode. Needs every
    /// nameserver on a loopback address.
    pub dnssec: bool,
}

impl Default for DnsConfig {
    fn default() -> Self {
        Self {
            nameservers: Vec::new(),
            timeout: HumanDuration::secs(5),
            attempts: 2,
            dnssec: false,
        }
    }
}

/// `[authentication]`: what receivers will see when they check SPF, DKIM and DMARC on the mail
/// this gateway relays. DKIM keys live in `<data_dir>/dkim` (`aupgate dkim generate`).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthenticationConfig {
    /// The addresses receivers see this gateway's mail come from (the relay's own addresses, or
    /// the smarthost's). SPF is evaluated for each; empty = no SPF prediction.
    pub egress_ips: Vec<std::net::IpAddr>,
    /// The SPF include tenants publish to authorize the gateway (`_spf.provider.example`), named
    /// in SPF refusals; when empty they name the egress addresses instead.
    pub spf_include: String,
}

/// Lifecycle state of a tenant (`state` of a `[[tenant]]`): the tenant module's type.
pub use crate::tenant::TenantState as TenantStateConfig;

/// `[[tenant.credentials]]`: one SMTP AUTH identity of a tenant.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct CredentialConfig {
    /// AUTH user name; unique across all tenants.
    pub username: String,
    /// argon2id PHC string (`aupgate hash-password` makes one). Plain passwords are never stored.
    pub password_hash: String,
}

/// `[[tenant]]`: a customer account.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct TenantConfig {
    /// Stable id (used in logs, counters and the admin API).
    pub id: String,
    /// Display name.
    pub name: String,
    /// `active`, `warned`, `final_warning` or `suspended`.
    pub state: TenantStateConfig,
    /// Networks (CIDR) assigned to the tenant: clients from them are the tenant, and an
    /// authenticated session from outside them is refused.
    pub networks: Vec<String>,
    /// Domains the tenant may send as (a domain covers its subdomains).
    pub domains: Vec<String>,
    /// SMTP AUTH identities.
    pub credentials: Vec<CredentialConfig>,
    /// Where the tenant is told to turn when blocked (shown in `554 5.7.1` replies).
    pub contact: Option<String>,
    /// Policy profile (a file `policies/<profile>.toml`); default `default`.
    pub profile: Option<String>,
    /// Single limits that override the profile's for this tenant.
    pub limits: TenantLimits,
}

/// `[tenant.limits]`: the tenant module's type.
pub use crate::tenant::TenantLimits;

impl TenantConfig {
    /// What the tenant directory needs of this (validated) entry. The config depends on the
    /// tenant module, never the reverse.
    pub fn spec(&self) -> crate::tenant::TenantSpec {
        crate::tenant::TenantSpec {
            id: self.id.clone(),
            settings: crate::tenant::TenantSettings {
                name: self.name.clone(),
                contact: self.contact.clone(),
                profile: self.profile.clone().unwrap_or_else(|| "default".to_string()),
                limits: self.limits,
                networks: self
                    .networks
                    .iter()
                    .filter_map(|n| crate::tenant::parse_network(n))
                    .collect(),
            },
            domains: self.domains.clone(),
            credentials: self
                .credentials
                .iter()
                .map(|c| (c.username.clone(), c.password_hash.clone()))
                .collect(),
            state: Some(self.state),
        }
    }

    /// The tenant directory of validated `[[tenant]]` entries.
    pub fn directory(entries: &[TenantConfig]) -> crate::tenant::TenantDirectory {
        crate::tenant::TenantDirectory::from_specs(entries.iter().map(TenantConfig::spec).collect())
    }
}

/// Which rate store holds the counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum StoreBackend {
    /// Embedded RocksDB under `path` (one gateway node).
    #[default]
    Rocksdb,
    /// Redis / Valkey at `urls` (counts shared by several nodes).
    Redis,
}

/// `[store]`: the rate store (counters, sets, tenant state, blocks, events, audit).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct StoreConfig {
    /// `rocksdb` (default) or `redis`.
    pub backend: StoreBackend,
    /// RocksDB directory; default `<data_dir>/store`.
    pub path: Option<std::path::PathBuf>,
    /// Redis URLs: one for a standalone server, several for a cluster's seed nodes.
    pub urls: Vec<String>,
    /// How long events and audit records are kept.
    pub log_retention: HumanDuration,
    /// Timeout of each Redis operation; past it the operation fails (and mail is deferred).
    pub redis_timeout: HumanDuration,
}

impl Default for StoreConfig {
    fn default() -> Self {
        Self {
            backend: StoreBackend::Rocksdb,
            path: None,
            urls: Vec::new(),
            log_retention: HumanDuration::secs(400 * 86_400),
            redis_timeout: HumanDuration::secs(2),
        }
    }
}

/// `[admin]`: the admin HTTP API the CLI talks to, and the dashboard.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct AdminConfig {
    /// `ip:port` of the admin API. Without a `token` it must be a loopback address.
    pub address: String,
    /// Bearer token required on every request (the CLI reads it from `AUPGATE_TOKEN` or this
    /// file). Without one, only loopback clients are served. It is a full admin token.
    pub token: Option<String>,
    /// More staff tokens, stored hashed (`[[admin.tokens]] name, role, sha256`).
    pub tokens: Vec<AdminTokenConfig>,
    /// Serve HTTPS with the `[tls]` certificate (the SMTP listeners' one).
    pub tls: bool,
    /// Serve plain HTTP on a non-loopback address anyway (behind a TLS-terminating proxy).
    pub insecure_http: bool,
    /// The dashboard sessions' HMAC key (32 bytes or more, any bytes). Default
    /// `<data_dir>/admin/session.key`, generated at the first start.
    pub session_key_file: Option<String>,
    /// How long a dashboard login lasts.
    pub session_lifetime: HumanDuration,
    /// The directory online backups (`POST /api/v1/backup`) are written under; default
    /// `<data_dir>/backups` (same file system as the data: the backup hard-links the table files).
    pub backup_dir: Option<String>,
}

impl Default for AdminConfig {
    fn default() -> Self {
        Self {
            address: "127.0.0.1:8025".into(),
            token: None,
            tokens: Vec::new(),
            tls: false,
            insecure_http: false,
            session_key_file: None,
            session_lifetime: HumanDuration::secs(8 * 3_600),
            backup_dir: None,
        }
    }
}

/// `[[admin.tokens]]`: a staff token, kept only as the SHA-256 of its text (a token is long and
/// random, so a fast hash is enough: there is nothing to guess).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AdminTokenConfig {
    /// Who holds it (audit records and block `by` fields name it).
    pub name: String,
    /// `admin` (every right) or `operator` (read-only).
    pub role: AdminRole,
    /// Lower-case hex SHA-256 of the token (`printf %s "$TOKEN" | sha256sum`).
    pub sha256: String,
}

/// What a staff token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AdminRole {
    /// Everything.
    Admin,
    /// Read everything, change nothing.
    Operator,
}

/// `[policy]`: where the policy profiles live.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct PolicyConfig {
    /// Directory of `<name>.toml` profiles. When it does not exist, only the built-in `default`
    /// profile (the shipped `policies/default.toml`) is available.
    pub directory: String,
}

impl Default for PolicyConfig {
    fn default() -> Self {
        Self {
            directory: "./policies".into(),
        }
    }
}

/// `[feedback]`: what every relayed message carries so complaints lead back to it
/// (`complaints::attribution`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct FeedbackConfig {
    /// The last field of `Feedback-ID` (`campaign:tenant:profile:SenderId`): who sends, as the
    /// mailbox providers' feedback loops are told.
    pub sender_id: String,
    /// The From (and envelope sender) of the notices the gateway sends tenants
    /// (`complaints::notice`); default `postmaster@` `[server] hostname`.
    pub notice_from: Option<String>,
    /// Keys of the `X-Aupgate-Ref` trace header's HMAC-SHA256: the first signs, all verify
    /// (rotate by adding a new key first). Without any, a key is generated under `data_dir` at
    /// first start; nodes sharing a store must configure the same keys.
    pub trace_keys: Vec<TraceKeyConfig>,
    /// The gateway's feedback address: when set, relayed mail carries CFBL (RFC 9477)
    /// `CFBL-Address` and `CFBL-Feedback-ID` fields.
    pub cfbl_address: Option<String>,
    // Complaint intake (`complaints::mailbox`).
    /// Addresses that take feedback reports over SMTP on every listener, from anyone, as a
    /// local mailbox (never relayed). Register them with the mailbox providers' feedback loops.
    pub addresses: Vec<String>,
    /// Largest report accepted at those addresses (`552 5.3.4` above) and over the API.
    pub max_report_size: ByteSize,
    /// Reports one client address may send to them (an IPv6 client by its /64): `451 4.7.1`
    /// above.
    pub max_reports_per_client: Rate,
}

impl Default for FeedbackConfig {
    fn default() -> Self {
        Self {
            sender_id: "aupgate".into(),
            notice_from: None,
            trace_keys: Vec::new(),
            cfbl_address: None,
            addresses: Vec::new(),
            max_report_size: ByteSize(1 << 20),
            max_reports_per_client: Rate::new(100, std::time::Duration::from_secs(3600)),
        }
    }
}

/// `[[feedback.trace_keys]]`: one trace key.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct TraceKeyConfig {
    /// Short id written into each trace header (letters, digits, `-`, `_`; at most 32).
    pub id: String,
    /// The secret, base64 (at least 16 bytes; 32 recommended: `openssl rand -base64 32`).
    pub secret: String,
}

impl TraceKeyConfig {
    /// The secret's bytes, when it is base64 of at least 16 bytes.
    pub fn secret_bytes(&self) -> Option<Vec<u8>> {
        use base64::Engine as _;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(self.secret.trim())
            .ok()?;
        (bytes.len() >= 16).then_some(bytes)
    }

    /// What is wrong with this key, if anything.
    pub fn problem(&self) -> Option<String> {
        let id_ok = !self.id.is_empty()
            && self.id.len() <= 32
            && self
                .id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !id_ok {
            return Some(format!("id `{}` must be 1-32 letters, digits, `-` or `_`", self.id));
        }
        if self.secret_bytes().is_none() {
            return Some(format!(
                "key `{}`: the secret must be base64 of at least 16 bytes",
                self.id
            ));
        }
        None
    }
}

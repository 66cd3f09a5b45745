//! Tenants: who a client is. Resolves a client address or an AUTH identity to a tenant, verifies
//! passwords against argon2id hashes, and answers "may this tenant send as this domain". It never
//! stores or logs a plaintext password.
//!
//! The directory changes at runtime (the admin API creates, updates and deletes tenants; other
//! nodes' changes arrive through the store): it is an immutable index swapped whole
//! ([`arc_swap::ArcSwap`]), so a session's lookup never waits for the admin plane. A tenant's
//! settings are swapped the same way, in place, so a change takes effect with the next message
//! of sessions already open.
//!
//! It does not read the configuration: the config builds the seed entries and the directory
//! from its `[[tenant]]` entries (`TenantConfig::spec`, `TenantConfig::directory`).

mod account;
mod directory;
#[cfg(feature = "server")]
pub mod follow;
mod password;
pub mod trie;
pub mod validate;

use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::Arc;

use arc_swap::ArcSwap;
use ipnet::IpNet;

pub use account::{TenantLimits, TenantState};
pub use directory::TenantDirectory;
pub use password::{hash_password, is_argon2id_hash, verify_password};
pub use trie::PrefixTrie;

/// A tenant's state, changed in place by the admin plane so every session sees it at once.
#[derive(Debug)]
pub struct StateCell(AtomicU8);

impl StateCell {
    pub fn new(state: TenantState) -> StateCell {
        StateCell(AtomicU8::new(Self::encode(state)))
    }

    pub fn get(&self) -> TenantState {
        match self.0.load(Ordering::Acquire) {
            0 => TenantState::Active,
            1 => TenantState::Warned,
            2 => TenantState::FinalWarning,
            _ => TenantState::Suspended,
        }
    }

    pub fn set(&self, state: TenantState) {
        self.0.store(Self::encode(state), Ordering::Release);
    }

    fn encode(state: TenantState) -> u8 {
        match state {
            TenantState::Active => 0,
            TenantState::Warned => 1,
            TenantState::FinalWarning => 2,
            TenantState::Suspended => 3,
        }
    }
}

/// A customer account as the session sees it.
#[derive(Debug)]
pub struct Tenant {
    pub id: String,
    pub state: StateCell,
    /// Normalised (lower-case, IDNA, no trailing dot) verified domain names. Changed when the
    /// admin plane verifies a domain, so every session sees it at once.
    pub domains: std::sync::RwLock<Vec<String>>,
    /// Name, contact, profile, limits, networks: replaced whole by the admin plane.
    settings: ArcSwap<TenantSettings>,
    /// Whether the tenant has sender or campaign blocks, so the block checks ask the store only
    /// when there is something to find.
    pub narrow_blocks: NarrowBlocks,
}

/// The settings of a tenant an operator changes; read whole by a session for each message.
#[derive(Debug, Clone, PartialEq)]
pub struct TenantSettings {
    pub name: String,
    pub contact: Option<String>,
    /// Name of the policy profile.
    pub profile: String,
    /// Single limits overriding the profile's.
    pub limits: TenantLimits,
    pub networks: Vec<IpNet>,
}

/// Everything the directory needs to know of one tenant (from a `[[tenant]]` entry or a store
/// record).
#[derive(Debug, Clone, PartialEq)]
pub struct TenantSpec {
    pub id: String,
    pub settings: TenantSettings,
    /// Verified domains (normalised or not).
    pub domains: Vec<String>,
    /// (AUTH user name, argon2id PHC hash).
    pub credentials: Vec<(String, String)>,
    /// The state to set; `None` keeps a known tenant's live state (a new one starts active).
    pub state: Option<TenantState>,
}

impl TenantSpec {
    /// An active tenant on the default profile with these networks (unparsable ones left out)
    /// and domains: for tools and tests.
    pub fn with_networks(id: &str, networks: &[&str], domains: &[&str]) -> TenantSpec {
        TenantSpec {
            id: id.to_string(),
            settings: TenantSettings {
                name: String::new(),
                contact: None,
                profile: "default".to_string(),
                limits: TenantLimits::default(),
                networks: networks.iter().filter_map(|n| parse_network(n)).collect(),
            },
            domains: domains.iter().map(|d| d.to_string()).collect(),
            credentials: Vec::new(),
            state: Some(TenantState::Active),
        }
    }

    /// The spec of a store record.
    #[cfg(feature = "server")]
    pub fn from_record(record: &crate::store::TenantRecord) -> TenantSpec {
        TenantSpec {
            id: record.id.clone(),
            settings: TenantSettings {
                name: record.name.clone(),
                contact: record.contact.clone(),
                profile: record.profile.clone(),
                limits: record.limits,
                networks: record.networks.iter().filter_map(|n| parse_network(n)).collect(),
            },
            domains: record.verified_domains().map(str::to_string).collect(),
            credentials: record
                .credentials
                .iter()
                .map(|c| (c.username.clone(), c.password_hash.clone()))
                .collect(),
            state: Some(record.state),
        }
    }
}

/// Which narrower blocks a tenant has: whether any sender address is blocked, and which
/// campaigns. Until the store has been read a block of either kind is assumed to exist (a check
/// may ask the store for nothing; it never skips a block). Placing a block records it at once;
/// only a read of the whole block list forgets one, and only if no block was placed since the
/// read began (`generation`), so a read that raced an add never hides the new block.
#[derive(Debug)]
pub struct NarrowBlocks {
    sender: AtomicBool,
    /// Blocked campaign ids; `None` until the store has been read.
    campaigns: std::sync::RwLock<Option<Vec<String>>>,
    generation: std::sync::Mutex<u64>,
}

impl Default for NarrowBlocks {
    fn default() -> NarrowBlocks {
        NarrowBlocks {
            sender: AtomicBool::new(true),
            campaigns: std::sync::RwLock::new(None),
            generation: std::sync::Mutex::new(0),
        }
    }
}

impl NarrowBlocks {
    fn lock(&self) -> std::sync::MutexGuard<'_, u64> {
        self.generation.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn campaigns(&self) -> std::sync::RwLockReadGuard<'_, Option<Vec<String>>> {
        self.campaigns.read().unwrap_or_else(|p| p.into_inner())
    }

    /// A sender block was placed.
    pub fn mark_sender(&self) {
        let mut generation = self.lock();
        *generation += 1;
        self.sender.store(true, Ordering::Release);
    }

    /// A block on campaign `id` was placed.
    pub fn mark_campaign(&self, id: &str) {
        let mut generation = self.lock();
        *generation += 1;
        let mut campaigns = self.campaigns.write().unwrap_or_else(|p| p.into_inner());
        if let Some(list) = campaigns.as_mut() {
            if !list.iter().any(|c| c == id) {
                list.push(id.to_string());
            }
        }
    }

    /// Taken before reading the block list, handed to [`NarrowBlocks::note`].
    pub fn generation(&self) -> u64 {
        *self.lock()
    }

    /// Records what the tenant's block list (read after `generation`) holds, unless a block was
    /// placed meanwhile.
    #[cfg(feature = "server")]
    pub fn note(&self, blocks: &[crate::store::Block], generation: u64) {
        use crate::store::BlockScope;
        let current = self.lock();
        if *current != generation {
            return;
        }
        let sender = blocks.iter().any(|b| b.scope == BlockScope::Sender);
        let campaigns: Vec<String> = blocks
            .iter()
            .filter(|b| b.scope == BlockScope::Campaign)
            .map(|b| b.target.clone())
            .collect();
        self.sender.store(sender, Ordering::Release);
        *self.campaigns.write().unwrap_or_else(|p| p.into_inner()) = Some(campaigns);
    }

    /// Whether a sender block may exist.
    pub fn sender(&self) -> bool {
        self.sender.load(Ordering::Acquire)
    }

    /// Whether a campaign block may exist.
    pub fn campaign(&self) -> bool {
        self.campaigns().as_ref().is_none_or(|list| !list.is_empty())
    }

    /// The blocked campaigns known now, whose index keys are never re-pointed.
    pub fn pinned_campaigns(&self) -> Vec<String> {
        self.campaigns().clone().unwrap_or_default()
    }
}

impl Tenant {
    pub(super) fn new(spec: &TenantSpec) -> Tenant {
        Tenant {
            id: spec.id.clone(),
            state: StateCell::new(spec.state.unwrap_or_default()),
            domains: std::sync::RwLock::new(Vec::new()),
            settings: ArcSwap::from_pointee(spec.settings.clone()),
            narrow_blocks: NarrowBlocks::default(),
        }
        .with_domains(&spec.domains)
    }

    fn with_domains(self, domains: &[String]) -> Tenant {
        self.set_domains(domains);
        self
    }

    /// The current settings (name, contact, profile, limits, networks).
    pub fn settings(&self) -> Arc<TenantSettings> {
        self.settings.load_full()
    }

    /// Display name.
    pub fn name(&self) -> String {
        self.settings.load().name.clone()
    }

    /// Where the tenant is told to turn when blocked.
    pub fn contact(&self) -> Option<String> {
        self.settings.load().contact.clone()
    }

    /// True when `domain` is one of the tenant's domains or a subdomain of one.
    pub fn owns_domain(&self, domain: &str) -> bool {
        self.owns(domain, true)
    }

    /// True when `domain` is one of the tenant's domains, or with `subdomains` a subdomain of
    /// one (the profile's `[sender_domain] include_subdomains`).
    pub fn owns(&self, domain: &str, subdomains: bool) -> bool {
        let Some(domain) = normalize_domain(domain) else {
            return false;
        };
        let domains = self.domains.read().unwrap_or_else(|p| p.into_inner());
        domains.iter().any(|own| {
            domain == *own
                || (subdomains
                    && domain.len() > own.len()
                    && domain.ends_with(own.as_str())
                    && domain.as_bytes()[domain.len() - own.len() - 1] == b'.')
        })
    }

    /// Adds a verified domain (idempotent).
    pub fn add_domain(&self, domain: &str) {
        if let Some(domain) = normalize_domain(domain) {
            let mut domains = self.domains.write().unwrap_or_else(|p| p.into_inner());
            if !domains.contains(&domain) {
                domains.push(domain);
            }
        }
    }

    /// Replaces the verified domains.
    pub fn set_domains(&self, domains: &[String]) {
        let mut list: Vec<String> = domains.iter().filter_map(|d| normalize_domain(d)).collect();
        list.sort();
        list.dedup();
        *self.domains.write().unwrap_or_else(|p| p.into_inner()) = list;
    }

    /// True when the tenant has assigned networks and `ip` lies inside one of them.
    pub fn in_networks(&self, ip: IpAddr) -> bool {
        let ip = canonical_ip(ip);
        self.settings.load().networks.iter().any(|net| net.contains(&ip))
    }

    /// Takes the spec's settings, domains and (if given) state.
    pub(super) fn apply(&self, spec: &TenantSpec) {
        if *self.settings.load_full() != spec.settings {
            self.settings.store(Arc::new(spec.settings.clone()));
        }
        self.set_domains(&spec.domains);
        if let Some(state) = spec.state {
            self.state.set(state);
        }
    }
}

/// Parses `10.0.0.0/8` or a bare address (a /32 or /128).
pub fn parse_network(text: &str) -> Option<IpNet> {
    text.parse::<IpNet>()
        .ok()
        .map(|net| net.trunc())
        .or_else(|| text.parse::<IpAddr>().ok().map(IpNet::from))
}

/// IPv4-mapped IPv6 addresses compare as IPv4.
pub fn canonical_ip(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        v4 => v4,
    }
}

/// Lower-cases, IDNA-encodes and drops a trailing dot; `None` if it is not a plausible domain.
pub fn normalize_domain(domain: &str) -> Option<String> {
    let trimmed = domain.trim().trim_end_matches('.');
    if trimmed.is_empty() || trimmed.starts_with('[') {
        return None;
    }
    let ascii = idna::domain_to_ascii(trimmed).ok()?;
    let valid = !ascii.is_empty()
        && ascii.len() <= 253
        && ascii.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        });
    valid.then_some(ascii)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tenant(networks: &[&str], domains: &[&str]) -> TenantSpec {
        TenantSpec::with_networks(&format!("t-{}", networks.join(",")), networks, domains)
    }

    #[test]
    fn domains_are_normalised() {
        assert_eq!(normalize_domain("Example.COM."), Some("example.com".into()));
        assert_eq!(normalize_domain("bücher.example"), Some("xn--bcher-kva.example".into()));
        assert_eq!(normalize_domain(""), None);
        assert_eq!(normalize_domain("a..b"), None);
        assert_eq!(normalize_domain("[127.0.0.1]"), None);
        assert_eq!(normalize_domain("bad domain"), None);
    }

    #[test]
    fn subdomains_are_owned_but_lookalikes_are_not() {
        let directory = TenantDirectory::from_specs(vec![tenant(&["10.0.0.0/8"], &["Example.com"])]);
        let t = directory.get("t-10.0.0.0/8").expect("tenant");
        assert!(t.owns_domain("example.com"));
        assert!(t.owns_domain("EXAMPLE.COM."));
        assert!(t.owns_domain("mail.example.com"));
        assert!(!t.owns_domain("badexample.com"));
        assert!(!t.owns_domain("example.com.evil"));
        assert!(!t.owns_domain("com"));
        assert!(t.owns("example.com", false));
        assert!(
            !t.owns("mail.example.com", false),
            "subdomains only when the profile says so"
        );
    }
}

//! Tenants: who a client is. Resolves a client address or an AUTH identity to a tenant, verifies
//! passwords against argon2id hashes, and answers "may this tenant send as this domain". It never
//! stores or logs a plaintext password.

mod password;

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::Arc;

use ipnet::IpNet;

use crate::config::{TenantConfig, TenantStateConfig};

pub use password::{hash_password, is_argon2id_hash, verify_password};

/// Lifecycle state of a tenant.
pub type TenantState = TenantStateConfig;

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
    pub name: String,
    pub state: StateCell,
    pub networks: Vec<IpNet>,
    /// Normalised (lower-case, IDNA, no trailing dot) verified domain names. Grows when the
    /// admin plane verifies a domain, so every session sees it at once.
    pub domains: std::sync::RwLock<Vec<String>>,
    pub contact: Option<String>,
    /// Name of the policy profile.
    pub profile: String,
    /// Single limits overriding the profile's.
    pub limits: crate::config::TenantLimits,
    /// Whether the tenant has sender or campaign blocks, so the block checks ask the store only
    /// when there is something to find.
    pub narrow_blocks: NarrowBlocks,
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

    /// True when the tenant has assigned networks and `ip` lies inside one of them.
    pub fn in_networks(&self, ip: IpAddr) -> bool {
        self.networks.iter().any(|net| net.contains(&canonical_ip(ip)))
    }
}

/// All tenants, indexed for the two ways a session identifies one.
#[derive(Debug, Default)]
pub struct TenantDirectory {
    tenants: HashMap<String, Arc<Tenant>>,
    /// AUTH user name → (tenant id, argon2id PHC hash).
    credentials: HashMap<String, (String, String)>,
}

impl TenantDirectory {
    /// Builds the directory from validated config entries.
    pub fn from_config(entries: &[TenantConfig]) -> TenantDirectory {
        Self::from_config_with_states(entries, &HashMap::new())
    }

    /// Like `from_config`, with the states recorded in the rate store taking precedence over the
    /// config's (an operator's block outlives a restart).
    pub fn from_config_with_states(entries: &[TenantConfig], states: &HashMap<String, TenantState>) -> TenantDirectory {
        let mut directory = TenantDirectory::default();
        for entry in entries {
            let tenant = Tenant {
                id: entry.id.clone(),
                name: entry.name.clone(),
                state: StateCell::new(states.get(&entry.id).copied().unwrap_or(entry.state)),
                networks: entry.networks.iter().filter_map(|n| parse_network(n)).collect(),
                domains: std::sync::RwLock::new(entry.domains.iter().filter_map(|d| normalize_domain(d)).collect()),
                contact: entry.contact.clone(),
                profile: entry.profile.clone().unwrap_or_else(|| "default".to_string()),
                limits: entry.limits,
                narrow_blocks: NarrowBlocks::default(),
            };
            for credential in &entry.credentials {
                directory.credentials.insert(
                    credential.username.clone(),
                    (entry.id.clone(), credential.password_hash.clone()),
                );
            }
            directory.tenants.insert(entry.id.clone(), Arc::new(tenant));
        }
        directory
    }

    pub fn get(&self, id: &str) -> Option<Arc<Tenant>> {
        self.tenants.get(id).cloned()
    }

    /// The tenant whose networks contain `ip`, the most specific network winning.
    pub fn by_address(&self, ip: IpAddr) -> Option<Arc<Tenant>> {
        let ip = canonical_ip(ip);
        self.tenants
            .values()
            .filter_map(|tenant| {
                tenant
                    .networks
                    .iter()
                    .filter(|net| net.contains(&ip))
                    .map(|net| net.prefix_len())
                    .max()
                    .map(|len| (len, tenant))
            })
            .max_by_key(|(len, tenant)| (*len, std::cmp::Reverse(tenant.id.clone())))
            .map(|(_, tenant)| tenant.clone())
    }

    /// The credential record for an AUTH user name: (tenant, hash). Verification is the caller's
    /// job (it is slow on purpose and belongs on a blocking thread).
    pub fn credential(&self, username: &str) -> Option<(Arc<Tenant>, String)> {
        let (tenant_id, hash) = self.credentials.get(username)?;
        Some((self.get(tenant_id)?, hash.clone()))
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

    fn tenant(networks: &[&str], domains: &[&str]) -> TenantConfig {
        TenantConfig {
            id: format!("t-{}", networks.join(",")),
            networks: networks.iter().map(|s| s.to_string()).collect(),
            domains: domains.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        }
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
        let directory = TenantDirectory::from_config(&[tenant(&["10.0.0.0/8"], &["Example.com"])]);
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

    #[test]
    fn most_specific_network_wins() {
        let directory = TenantDirectory::from_config(&[
            tenant(&["10.0.0.0/8"], &["a.example"]),
            tenant(&["10.1.0.0/16"], &["b.example"]),
        ]);
        let hit = |ip: &str| directory.by_address(ip.parse().unwrap()).map(|t| t.id.clone());
        assert_eq!(hit("10.1.2.3").as_deref(), Some("t-10.1.0.0/16"));
        assert_eq!(hit("10.2.2.3").as_deref(), Some("t-10.0.0.0/8"));
        assert_eq!(hit("::ffff:10.2.2.3").as_deref(), Some("t-10.0.0.0/8"));
        assert_eq!(hit("192.0.2.1"), None);
    }
}

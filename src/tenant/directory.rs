//! The directory of all tenants: an immutable index (tenants by id, credentials by user name,
//! networks in a prefix trie) that sessions read without a lock, rebuilt and swapped whole by the
//! admin plane and the store followers, one writer at a time.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

use arc_swap::ArcSwap;

use super::{canonical_ip, PrefixTrie, Tenant, TenantSpec, TenantState};

/// One immutable view of all tenants, indexed for the two ways a session identifies one.
#[derive(Debug, Default)]
struct Index {
    tenants: HashMap<String, Arc<Tenant>>,
    /// AUTH user name → (tenant id, argon2id PHC hash).
    credentials: HashMap<String, (String, String)>,
    /// Every tenant network → its tenant.
    networks: PrefixTrie<Arc<Tenant>>,
}

impl Index {
    /// Indexes `tenants` with their credentials. Networks are inserted in tenant id order, so
    /// of two tenants claiming the same network the smaller id wins, whatever the order of
    /// changes that led here.
    fn build(tenants: HashMap<String, Arc<Tenant>>, credentials: HashMap<String, (String, String)>) -> Index {
        let mut ordered: Vec<&Arc<Tenant>> = tenants.values().collect();
        ordered.sort_by(|a, b| a.id.cmp(&b.id));
        let mut networks = PrefixTrie::default();
        for tenant in ordered {
            for net in &tenant.settings().networks {
                networks.insert(*net, Arc::clone(tenant));
            }
        }
        Index {
            tenants,
            credentials,
            networks,
        }
    }
}

/// All tenants. Lookups read the current index without locking; changes (admin plane, store
/// followers) build a new index and swap it in, one writer at a time.
#[derive(Debug, Default)]
pub struct TenantDirectory {
    index: ArcSwap<Index>,
    /// Serialises the changes; holds how many there were.
    writer: std::sync::Mutex<u64>,
}

impl TenantDirectory {
    /// Builds the directory from tenant specs.
    pub fn from_specs(specs: Vec<TenantSpec>) -> TenantDirectory {
        let directory = TenantDirectory::default();
        directory.replace_all(specs);
        directory
    }

    pub fn get(&self, id: &str) -> Option<Arc<Tenant>> {
        self.index.load().tenants.get(id).cloned()
    }

    /// The ids of every tenant, sorted.
    pub fn ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = self.index.load().tenants.keys().cloned().collect();
        ids.sort();
        ids
    }

    /// Number of tenants.
    pub fn len(&self) -> usize {
        self.index.load().tenants.len()
    }

    /// No tenants.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The tenant whose networks contain `ip`, the most specific network winning (a prefix trie
    /// lookup: no scan of the tenants).
    pub fn by_address(&self, ip: IpAddr) -> Option<Arc<Tenant>> {
        self.index.load().networks.longest_match(canonical_ip(ip)).cloned()
    }

    /// The credential record for an AUTH user name: (tenant, hash). Verification is the caller's
    /// job (it is slow on purpose and belongs on a blocking thread).
    pub fn credential(&self, username: &str) -> Option<(Arc<Tenant>, String)> {
        let index = self.index.load();
        let (tenant_id, hash) = index.credentials.get(username)?;
        Some((index.tenants.get(tenant_id)?.clone(), hash.clone()))
    }

    /// The tenant that owns an AUTH user name, if any.
    pub fn username_owner(&self, username: &str) -> Option<String> {
        self.index.load().credentials.get(username).map(|(id, _)| id.clone())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, u64> {
        let mut changes = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        *changes += 1;
        changes
    }

    /// How many changes the directory has had: taken before reading the store, handed to
    /// [`TenantDirectory::replace_all_unless_changed`].
    pub fn version(&self) -> u64 {
        *self.writer.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// [`TenantDirectory::replace_all`], unless the directory changed since `version` was taken
    /// (then `specs` may lack a tenant created meanwhile): `false`, nothing changed.
    pub fn replace_all_unless_changed(&self, specs: Vec<TenantSpec>, version: u64) -> bool {
        let changes = self.lock();
        if *changes != version + 1 {
            return false;
        }
        self.replace_locked(specs);
        true
    }

    /// Creates or updates one tenant. A known tenant is changed in place (sessions holding it
    /// see the change with their next message). Returns the live tenant.
    pub fn upsert(&self, spec: TenantSpec) -> Arc<Tenant> {
        let _writer = self.lock();
        let current = self.index.load_full();
        if let Some(live) = current.tenants.get(&spec.id) {
            // Neither its networks nor its credentials changed: the index stays as it is (no
            // rebuild, which costs milliseconds with thousands of tenants).
            let mut held: Vec<(&String, &String)> = current
                .credentials
                .iter()
                .filter(|(_, (id, _))| *id == spec.id)
                .map(|(user, (_, hash))| (user, hash))
                .collect();
            held.sort();
            let mut wanted: Vec<(&String, &String)> = spec.credentials.iter().map(|(u, h)| (u, h)).collect();
            wanted.sort();
            if live.settings().networks == spec.settings.networks && held == wanted {
                live.apply(&spec);
                return Arc::clone(live);
            }
        }
        let mut tenants = current.tenants.clone();
        let tenant = match tenants.get(&spec.id) {
            Some(live) => {
                live.apply(&spec);
                Arc::clone(live)
            }
            None => {
                let tenant = Arc::new(Tenant::new(&spec));
                tenants.insert(spec.id.clone(), Arc::clone(&tenant));
                tenant
            }
        };
        let mut credentials = current.credentials.clone();
        credentials.retain(|_, (id, _)| *id != spec.id);
        for (username, hash) in &spec.credentials {
            credentials
                .entry(username.clone())
                .or_insert_with(|| (spec.id.clone(), hash.clone()));
        }
        self.index.store(Arc::new(Index::build(tenants, credentials)));
        tenant
    }

    /// Removes a tenant. Sessions still holding it see it suspended, so it sends nothing more.
    pub fn remove(&self, id: &str) -> Option<Arc<Tenant>> {
        let _writer = self.lock();
        let current = self.index.load_full();
        let mut tenants = current.tenants.clone();
        let removed = tenants.remove(id)?;
        let mut credentials = current.credentials.clone();
        credentials.retain(|_, (owner, _)| owner != id);
        self.index.store(Arc::new(Index::build(tenants, credentials)));
        removed.state.set(TenantState::Suspended);
        Some(removed)
    }

    /// Makes the directory exactly `specs`: known tenants are updated in place, new ones
    /// added, the others removed (and suspended for the sessions still holding them). A user
    /// name claimed by two tenants goes to the smaller id.
    pub fn replace_all(&self, specs: Vec<TenantSpec>) {
        let _writer = self.lock();
        self.replace_locked(specs);
    }

    fn replace_locked(&self, mut specs: Vec<TenantSpec>) {
        specs.sort_by(|a, b| a.id.cmp(&b.id));
        let current = self.index.load_full();
        let mut tenants = HashMap::with_capacity(specs.len());
        let mut credentials = HashMap::new();
        for spec in &specs {
            let tenant = match current.tenants.get(&spec.id) {
                Some(live) => {
                    live.apply(spec);
                    Arc::clone(live)
                }
                None => Arc::new(Tenant::new(spec)),
            };
            tenants.insert(spec.id.clone(), tenant);
            for (username, hash) in &spec.credentials {
                credentials
                    .entry(username.clone())
                    .or_insert_with(|| (spec.id.clone(), hash.clone()));
            }
        }
        for (id, gone) in &current.tenants {
            if !tenants.contains_key(id) {
                gone.state.set(TenantState::Suspended);
            }
        }
        self.index.store(Arc::new(Index::build(tenants, credentials)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tenant(networks: &[&str], domains: &[&str]) -> TenantSpec {
        TenantSpec::with_networks(&format!("t-{}", networks.join(",")), networks, domains)
    }

    #[test]
    fn most_specific_network_wins() {
        let directory = TenantDirectory::from_specs(vec![
            tenant(&["10.0.0.0/8"], &["a.example"]),
            tenant(&["10.1.0.0/16"], &["b.example"]),
        ]);
        let hit = |ip: &str| directory.by_address(ip.parse().unwrap()).map(|t| t.id.clone());
        assert_eq!(hit("10.1.2.3").as_deref(), Some("t-10.1.0.0/16"));
        assert_eq!(hit("10.2.2.3").as_deref(), Some("t-10.0.0.0/8"));
        assert_eq!(hit("::ffff:10.2.2.3").as_deref(), Some("t-10.0.0.0/8"));
        assert_eq!(hit("192.0.2.1"), None);
    }

    fn spec(id: &str, networks: &[&str], users: &[&str]) -> TenantSpec {
        let mut spec = tenant(networks, &[]);
        spec.id = id.to_string();
        spec.credentials = users.iter().map(|u| (u.to_string(), format!("hash-{id}"))).collect();
        spec
    }

    #[test]
    fn tenants_come_change_and_go_at_runtime() {
        let directory = TenantDirectory::from_specs(vec![spec("a", &["10.0.0.0/8"], &["a-user"])]);
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let held = directory.by_address(ip("10.1.2.3")).expect("a");
        // A new tenant with a narrower network takes its addresses at once.
        directory.upsert(spec("b", &["10.1.0.0/16", "2001:db8::/32"], &["b-user"]));
        assert_eq!(
            directory.by_address(ip("10.1.2.3")).map(|t| t.id.clone()).as_deref(),
            Some("b")
        );
        assert_eq!(
            directory
                .by_address(ip("::ffff:10.1.2.3"))
                .map(|t| t.id.clone())
                .as_deref(),
            Some("b")
        );
        assert_eq!(
            directory.by_address(ip("2001:db8::1")).map(|t| t.id.clone()).as_deref(),
            Some("b")
        );
        assert_eq!(
            directory.credential("b-user").map(|(t, h)| (t.id.clone(), h)),
            Some(("b".into(), "hash-b".into()))
        );
        // An update changes the tenant in place: a session holding it sees the new settings.
        let mut changed = spec("a", &["192.0.2.0/24"], &["a-user2"]);
        changed.settings.profile = "strict".into();
        changed.state = None;
        directory.upsert(changed);
        assert_eq!(held.settings().profile, "strict");
        assert!(directory.by_address(ip("10.2.0.1")).is_none(), "a left 10/8");
        assert!(directory.credential("a-user").is_none());
        assert!(directory.credential("a-user2").is_some());
        // A removed tenant is suspended for the sessions still holding it.
        let b = directory.remove("b").expect("b");
        assert_eq!(b.state.get(), TenantState::Suspended);
        assert!(directory.by_address(ip("10.1.2.3")).is_none());
        assert!(directory.credential("b-user").is_none());
        assert_eq!(directory.ids(), vec!["a".to_string()]);
    }

    #[test]
    fn replace_all_keeps_known_tenants_and_refuses_a_stale_view() {
        let directory = TenantDirectory::from_specs(vec![spec("a", &["10.0.0.0/8"], &[])]);
        let held = directory.get("a").expect("a");
        let version = directory.version();
        directory.upsert(spec("new", &[], &[]));
        assert!(
            !directory.replace_all_unless_changed(vec![spec("a", &[], &[])], version),
            "a view read before `new` was created must not remove it"
        );
        assert!(directory.get("new").is_some());
        let version = directory.version();
        assert!(directory.replace_all_unless_changed(vec![spec("a", &["10.0.0.0/9"], &[])], version));
        assert!(
            Arc::ptr_eq(&held, &directory.get("a").expect("a")),
            "the same live tenant"
        );
        assert!(directory.get("new").is_none());
    }
}

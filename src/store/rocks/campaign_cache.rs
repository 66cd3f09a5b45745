//! An exact in-memory copy of the campaign index entries the gateway has read or written, so the
//! campaign lookup's band keys (1 to 45 per message) rarely reach RocksDB. Exact for the same reason
//! as the counter mirror: RocksDB admits one process and every write to the index goes through
//! `Inner::campaign` under the tenant's lock, which updates this cache with the database. Bounded
//! (`MAX_ENTRIES`); a forgotten entry is read from the database again.

// foldhash: several times faster than SipHash on short keys, still seeded per process.
use foldhash::{HashMap, HashMapExt};
use std::sync::{Arc, Mutex};

const MAX_ENTRIES: usize = 262_144;
const SHARDS: usize = 16;

/// A band key's mapping as stored: the campaign id and its expiry (unix ms); `None` when the
/// database has no entry. The id is shared: a message's 20–45 keys usually name one campaign,
/// and reading one from the cache is then a reference count, not a copy of the id.
pub(crate) type Mapping = Option<(Arc<str>, u64)>;

type Shard = HashMap<Vec<u8>, Mapping>;

pub(crate) struct CampaignCache {
    shards: Box<[Mutex<Shard>]>,
    hasher: foldhash::fast::RandomState,
}

impl CampaignCache {
    pub(crate) fn new() -> CampaignCache {
        CampaignCache {
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            hasher: foldhash::fast::RandomState::default(),
        }
    }

    fn shard(&self, key: &[u8]) -> std::sync::MutexGuard<'_, Shard> {
        use std::hash::BuildHasher;
        let i = usize::try_from(self.hasher.hash_one(key) % SHARDS as u64).unwrap_or(0);
        self.shards[i].lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The cached mapping of a database key: `Some(mapping)` when known.
    pub(crate) fn get(&self, key: &[u8]) -> Option<Mapping> {
        self.shard(key).get(key).cloned()
    }

    /// Records what the database holds (or now holds) for `key`.
    pub(crate) fn put(&self, key: &[u8], mapping: Mapping) {
        let mut shard = self.shard(key);
        if shard.len() >= MAX_ENTRIES / SHARDS && !shard.contains_key(key) {
            let drop: Vec<Vec<u8>> = shard.keys().take(shard.len() / 2).cloned().collect();
            for k in drop {
                shard.remove(&k);
            }
        }
        shard.insert(key.to_vec(), mapping);
    }
}

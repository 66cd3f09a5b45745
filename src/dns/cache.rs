//! Answers kept until their DNS TTL runs out. hickory caches every answer itself, but a hit
//! there still rebuilds a lookup (name parsing, a message clone, a timer) for each call; the
//! per-message authentication path asks the same few names for every message, so the resolver
//! keeps TXT answers here and the authenticator keeps mail-auth's parsed records (SPF, DKIM keys,
//! DMARC) here. An entry is never served after the instant its answer expires.
//!
//! Bounded: at `capacity` entries an insert first drops what has expired, and if that frees
//! nothing it empties the cache (entries are cheap to fetch again; memory is not unbounded).

use std::borrow::Borrow;
// foldhash: several times faster than SipHash on short keys, still seeded per process.
use foldhash::{HashMap, HashMapExt};
use std::hash::Hash;
use std::sync::{Mutex, MutexGuard};
use std::time::Instant;

/// A bounded map from a name to an answer and the instant the answer expires.
pub struct TtlCache<K, V> {
    entries: Mutex<HashMap<K, (V, Instant)>>,
    capacity: usize,
}

impl<K: Hash + Eq, V: Clone> TtlCache<K, V> {
    pub fn new(capacity: usize) -> TtlCache<K, V> {
        TtlCache {
            entries: Mutex::new(HashMap::new()),
            capacity: capacity.max(1),
        }
    }

    /// The answer for `key` if it has not expired yet.
    pub fn get<Q>(&self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let mut entries = self.lock();
        match entries.get(key) {
            Some((value, valid_until)) if Instant::now() < *valid_until => Some(value.clone()),
            Some(_) => {
                entries.remove(key);
                None
            }
            None => None,
        }
    }

    /// Keeps `value` for `key` until `valid_until` (an answer already expired is not kept).
    pub fn insert(&self, key: K, value: V, valid_until: Instant) {
        let now = Instant::now();
        if valid_until <= now {
            return;
        }
        let mut entries = self.lock();
        if entries.len() >= self.capacity {
            entries.retain(|_, (_, until)| *until > now);
            if entries.len() >= self.capacity {
                entries.clear();
            }
        }
        entries.insert(key, (value, valid_until));
    }

    /// Forgets `key` (its answer is asked again); returns what was kept.
    pub fn remove<Q>(&self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.lock().remove(key).map(|(value, _)| value)
    }

    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<K, (V, Instant)>> {
        // A panic while holding the lock cannot leave the map half-updated: use it as it is.
        self.entries.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn later(ms: u64) -> Instant {
        Instant::now() + Duration::from_millis(ms)
    }

    #[test]
    fn serves_an_answer_until_it_expires() {
        let cache: TtlCache<String, u32> = TtlCache::new(8);
        cache.insert("a.example.".into(), 1, later(60));
        assert_eq!(cache.get("a.example."), Some(1));
        std::thread::sleep(Duration::from_millis(80));
        assert_eq!(cache.get("a.example."), None);
        assert!(cache.is_empty(), "an expired entry is dropped when it is asked for");
    }

    #[test]
    fn an_answer_already_expired_is_not_kept() {
        let cache: TtlCache<String, u32> = TtlCache::new(8);
        cache.insert("a.example.".into(), 1, Instant::now());
        assert_eq!(cache.get("a.example."), None);
        assert!(cache.is_empty());
    }

    #[test]
    fn remove_forgets_an_answer() {
        let cache: TtlCache<String, u32> = TtlCache::new(8);
        cache.insert("a.example.".into(), 1, later(60_000));
        assert_eq!(cache.remove("a.example."), Some(1));
        assert_eq!(cache.get("a.example."), None);
    }

    #[test]
    fn stays_within_its_capacity() {
        let cache: TtlCache<u32, u32> = TtlCache::new(4);
        cache.insert(0, 0, later(30));
        for key in 1..4 {
            cache.insert(key, key, later(60_000));
        }
        std::thread::sleep(Duration::from_millis(50));
        // Full: the expired entry makes room and the live ones stay.
        cache.insert(4, 4, later(60_000));
        assert_eq!(cache.len(), 4);
        assert_eq!(cache.get(&1), Some(1));
        assert_eq!(cache.get(&4), Some(4));
        // Full of live entries: the cache starts over rather than grow.
        cache.insert(5, 5, later(60_000));
        assert_eq!(cache.len(), 1);
        assert_eq!(cache.get(&5), Some(5));
        for key in 6..100 {
            cache.insert(key, key, later(60_000));
            assert!(cache.len() <= 4);
        }
    }
}

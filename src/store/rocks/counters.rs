//! Windowed counters in RocksDB: one merge operand per charge (a blind write, no read-modify-write),
//! and an in-memory mirror of the live buckets of the counters that are being checked.
//!
//! RocksDB admits one process, so every write to a counter passes through this process and the
//! mirror can be exact: it is filled from the database the first time a counter is checked, and
//! every later charge updates the database and then the mirror under the key's stripe lock. A
//! check-and-charge on a mirrored counter therefore reads nothing from RocksDB, and RocksDB never
//! has to collapse merge chains at write time (`max_successive_merges` stays off), which keeps a
//! charge a single merge operand, queued for the store's writer (`writer.rs`). The mirror is bounded (`MIRROR_KEYS`); an
//! evicted counter is simply read from the database again. After a restart it starts empty: the
//! database (WAL on) is the truth, the mirror only a cache of it.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use rocksdb::ReadOptions;

use super::codec::{counter_count, counter_value, split_expiring};
use super::writer::Batch;
use super::{Inner, CF_COUNTERS};
use crate::store::window::{bucket_expiry, retry_after, span};
use crate::store::{window_ms, Charge, CounterWindow, Key, StoreError};

/// Counters kept in the mirror at most (per shard: this divided by `SHARDS`).
const MIRROR_KEYS: usize = 65_536;
const SHARDS: usize = 64;

fn bucket_key(key: &Key, idx: u64) -> Vec<u8> {
    let mut k = Vec::with_capacity(key.as_bytes().len() + 8);
    k.extend_from_slice(key.as_bytes());
    k.extend_from_slice(&idx.to_be_bytes());
    k
}

/// The live buckets of one counter at one window length: (bucket index, count), ascending.
#[derive(Clone, Debug, Default)]
struct Buckets(Vec<(u64, u64)>);

impl Buckets {
    /// Drops the buckets before `first`; returns the total of the rest.
    fn total_from(&mut self, first: u64) -> u64 {
        self.0.retain(|(idx, _)| *idx >= first);
        self.0.iter().map(|(_, c)| *c).fold(0u64, u64::saturating_add)
    }

    /// Takes `n` back from bucket `idx` (a released charge), dropping it at zero.
    fn take(&mut self, idx: u64, n: u64) {
        if let Ok(at) = self.0.binary_search_by_key(&idx, |(i, _)| *i) {
            self.0[at].1 = self.0[at].1.saturating_sub(n);
            if self.0[at].1 == 0 {
                self.0.remove(at);
            }
        }
    }

    fn add(&mut self, idx: u64, n: u64) {
        match self.0.last_mut() {
            Some((last, count)) if *last == idx => *count = count.saturating_add(n),
            Some((last, _)) if *last > idx => {
                // A charge with an older timestamp than the newest bucket (clocks of callers
                // differ slightly): keep the order.
                match self.0.binary_search_by_key(&idx, |(i, _)| *i) {
                    Ok(at) => self.0[at].1 = self.0[at].1.saturating_add(n),
                    Err(at) => self.0.insert(at, (idx, n)),
                }
            }
            _ => self.0.push((idx, n)),
        }
    }
}

/// One mirrored counter: its key bytes, window and live buckets.
struct Mirrored {
    key: Vec<u8>,
    window: u64,
    buckets: Buckets,
}

/// The mirror, sharded; each shard maps the key's hash (computed once per operation, see
/// `Inner::key_hash`) to the counters with that hash.
pub(crate) struct Mirror {
    shards: Box<[Mutex<Shard>]>,
}

type Shard = HashMap<u64, Vec<Mirrored>, std::hash::BuildHasherDefault<PrehashedHasher>>;

/// The map's keys are already keyed hashes (SipHash with a random key): pass them through.
#[derive(Default)]
struct PrehashedHasher(u64);

impl std::hash::Hasher for PrehashedHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

impl Mirror {
    pub(crate) fn new() -> Mirror {
        Mirror {
            shards: (0..SHARDS).map(|_| Mutex::new(Shard::default())).collect(),
        }
    }

    fn shard(&self, hash: u64) -> std::sync::MutexGuard<'_, Shard> {
        // The stripe uses the low bits; the shard takes high ones.
        let i = usize::try_from((hash >> 40) % SHARDS as u64).unwrap_or(0);
        self.shards[i].lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Runs `f` on the mirrored buckets of `key` (hash `hash`) at window `w`, if mirrored.
    fn with<T>(&self, hash: u64, key: &Key, w: u64, f: impl FnOnce(&mut Buckets) -> T) -> Option<T> {
        let mut shard = self.shard(hash);
        let entries = shard.get_mut(&hash)?;
        entries
            .iter_mut()
            .find(|m| m.window == w && m.key == key.as_bytes())
            .map(|m| f(&mut m.buckets))
    }

    fn put(&self, hash: u64, key: &Key, w: u64, buckets: Buckets) {
        let mut shard = self.shard(hash);
        if shard.len() >= MIRROR_KEYS / SHARDS && !shard.contains_key(&hash) {
            // Full: forget half of this shard (those counters are read from the database again).
            let drop: Vec<u64> = shard.keys().take(shard.len() / 2).copied().collect();
            for k in drop {
                shard.remove(&k);
            }
        }
        let entries = shard.entry(hash).or_default();
        match entries.iter_mut().find(|m| m.window == w && m.key == key.as_bytes()) {
            Some(m) => m.buckets = buckets,
            None => entries.push(Mirrored {
                key: key.as_bytes().to_vec(),
                window: w,
                buckets,
            }),
        }
    }

    /// Adds a charge to a mirrored counter (an unmirrored one is left to the database).
    fn add(&self, hash: u64, key: &Key, w: u64, idx: u64, n: u64) {
        self.with(hash, key, w, |b| b.add(idx, n));
    }

    /// Takes a released charge back from a mirrored counter.
    fn take(&self, hash: u64, key: &Key, w: u64, idx: u64, n: u64) {
        self.with(hash, key, w, |b| b.take(idx, n));
    }
}

impl Inner {
    async fn counter_merge(&self, key: &Key, n: u64, now: u64, w: u64) -> Result<u64, StoreError> {
        let s = span(now, w);
        let mut batch = Batch::default();
        batch.merge(
            CF_COUNTERS,
            bucket_key(key, s.last),
            counter_value(bucket_expiry(s.last, s.size, w), n),
        );
        self.writer.commit(batch).await?;
        Ok(s.last)
    }

    pub(crate) async fn counter_add(&self, key: &Key, n: u64, now: u64, window: Duration) -> Result<(), StoreError> {
        let w = window_ms(window)?;
        let hash = self.key_hash(key.as_bytes());
        let _guard = self.lock_hashed(hash).await;
        let idx = self.counter_merge(key, n, now, w).await?;
        self.mirror.add(hash, key, w, idx, n);
        Ok(())
    }

    /// Takes back `n` charged at `at` (`RateStore::counter_release`). Under the key's stripe
    /// lock (no charge of the counter slips in) and once the queued writes have reached the
    /// database, the bucket is rewritten with its count less `n`, keeping its expiry, or removed
    /// at zero; the mirror follows. Releases are rare (a message refused after its checks
    /// charged), so this read-modify-write stays off the hot path.
    pub(crate) async fn counter_release(&self, key: &Key, n: u64, at: u64, window: Duration) -> Result<(), StoreError> {
        let w = window_ms(window)?;
        let hash = self.key_hash(key.as_bytes());
        let _guard = self.lock_hashed(hash).await;
        self.writer.settle().await?;
        let idx = span(at, w).last;
        let bucket = bucket_key(key, idx);
        let found = {
            let cf = self.cf(CF_COUNTERS)?;
            match self.db.get_pinned_cf(cf, &bucket)? {
                Some(value) => Some((split_expiring("counter", &value)?.0, counter_count(&value)?)),
                None => None,
            }
        };
        let Some((expiry, count)) = found.filter(|(_, count)| *count > 0) else {
            return Ok(());
        };
        let mut batch = Batch::default();
        match count.saturating_sub(n) {
            0 => batch.delete(CF_COUNTERS, bucket),
            left => batch.put(CF_COUNTERS, bucket, counter_value(expiry, left)),
        }
        self.writer.commit(batch).await?;
        self.mirror.take(hash, key, w, idx, n);
        Ok(())
    }

    /// Several counter merges in one write batch.
    pub(crate) async fn counter_add_many(&self, charges: &[(Key, u64, Duration)], now: u64) -> Result<(), StoreError> {
        let mut planned = Vec::with_capacity(charges.len());
        for (key, n, window) in charges {
            let w = window_ms(*window)?;
            planned.push((key, *n, w, span(now, w), self.key_hash(key.as_bytes())));
        }
        let _guards = self.lock_all_hashed(planned.iter().map(|p| p.4)).await;
        let mut batch = Batch::default();
        for (key, n, w, s, _) in &planned {
            batch.merge(
                CF_COUNTERS,
                bucket_key(key, s.last),
                counter_value(bucket_expiry(s.last, s.size, *w), *n),
            );
        }
        self.writer.commit(batch).await?;
        for (key, n, w, s, hash) in planned {
            self.mirror.add(hash, key, w, s.last, n);
        }
        Ok(())
    }

    /// The live buckets of a counter, read from the database once the writes queued before
    /// have reached it (waiting for them without holding a thread; the stripe lock, an async
    /// one, is held across the wait, so no charge of this counter slips in between).
    async fn counter_buckets_from_db(&self, key: &Key, now: u64, w: u64) -> Result<Buckets, StoreError> {
        self.writer.settle().await?;
        let s = span(now, w);
        let cf = self.cf(CF_COUNTERS)?;
        let mut ro = ReadOptions::default();
        ro.set_iterate_lower_bound(bucket_key(key, s.first));
        ro.set_iterate_upper_bound(bucket_key(key, s.last.saturating_add(1)));
        let mut it = self.db.raw_iterator_cf_opt(cf, ro);
        it.seek_to_first();
        let want_len = key.as_bytes().len() + 8;
        let mut buckets = Vec::new();
        while let (Some(k), Some(v)) = (it.key(), it.value()) {
            // Longer keys in the range belong to other keys that merely share this prefix.
            if k.len() == want_len {
                let idx = u64::from_be_bytes(
                    k[want_len - 8..]
                        .try_into()
                        .map_err(|_| StoreError::corrupt("counter", "bucket key"))?,
                );
                buckets.push((idx, counter_count(v)?));
            }
            it.next();
        }
        it.status()?;
        Ok(Buckets(buckets))
    }

    /// The total of the live buckets, and the buckets when `want_buckets` (for a retry time);
    /// the caller holds the key's stripe lock.
    async fn counter_live(
        &self,
        hash: u64,
        key: &Key,
        now: u64,
        w: u64,
        want_buckets: bool,
    ) -> Result<(Vec<(u64, u64)>, u64), StoreError> {
        let first = span(now, w).first;
        let read = |b: &mut Buckets| {
            let total = b.total_from(first);
            (if want_buckets { b.0.clone() } else { Vec::new() }, total)
        };
        if let Some(found) = self.mirror.with(hash, key, w, read) {
            return Ok(found);
        }
        let mut buckets = self.counter_buckets_from_db(key, now, w).await?;
        let found = read(&mut buckets);
        self.mirror.put(hash, key, w, buckets);
        Ok(found)
    }

    pub(crate) async fn counter_get(&self, key: &Key, now: u64, window: Duration) -> Result<u64, StoreError> {
        let w = window_ms(window)?;
        let hash = self.key_hash(key.as_bytes());
        let _guard = self.lock_hashed(hash).await;
        Ok(self.counter_live(hash, key, now, w, false).await?.1)
    }

    pub(crate) async fn counter_window(
        &self,
        key: &Key,
        now: u64,
        window: Duration,
    ) -> Result<CounterWindow, StoreError> {
        let w = window_ms(window)?;
        let hash = self.key_hash(key.as_bytes());
        let _guard = self.lock_hashed(hash).await;
        let (buckets, _) = self.counter_live(hash, key, now, w, true).await?;
        Ok(CounterWindow {
            bucket_ms: span(now, w).size,
            buckets,
        })
    }

    pub(crate) async fn counter_check_and_add(
        &self,
        key: &Key,
        n: u64,
        limit: u64,
        now: u64,
        window: Duration,
    ) -> Result<Charge, StoreError> {
        let w = window_ms(window)?;
        let hash = self.key_hash(key.as_bytes());
        let _guard = self.lock_hashed(hash).await;
        let (_, total) = self.counter_live(hash, key, now, w, false).await?;
        if total.saturating_add(n) > limit {
            let (buckets, total) = self.counter_live(hash, key, now, w, true).await?;
            let s = span(now, w);
            return Ok(Charge::Refused {
                total,
                retry_after_ms: retry_after(&buckets, n, limit, now, w, s.size),
            });
        }
        if n > 0 {
            // A zero charge is a pure check (MAIL FROM's and RCPT TO's quota checks): no write.
            let idx = self.counter_merge(key, n, now, w).await?;
            self.mirror.add(hash, key, w, idx, n);
        }
        Ok(Charge::Charged { total: total + n })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_stay_ordered_and_drop_what_left_the_window() {
        let mut b = Buckets::default();
        b.add(10, 1);
        b.add(12, 2);
        b.add(12, 3);
        b.add(11, 4);
        assert_eq!(b.0, vec![(10, 1), (11, 4), (12, 5)]);
        assert_eq!(b.total_from(11), 9);
        assert_eq!(b.0, vec![(11, 4), (12, 5)]);
    }
}

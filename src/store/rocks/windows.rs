//! Windowed data in RocksDB: bucketed counters and exact event logs (distinct sets: `sets.rs`).

use std::time::Duration;

use rocksdb::ReadOptions;

use super::codec::{counter_count, counter_value, decode_events, encode_events, expiring, split_expiring};
use super::{Inner, CF_COUNTERS, CF_SETS};
use crate::store::window::{bucket_expiry, retry_after, span};
use crate::store::{check_cap, window_ms, Charge, EventCharge, Key, StoreError};

/// Prefix byte of event logs in the `sets` family (sets use `S`, see `sets.rs`), so a set and an
/// event log under one `Key` never mix.
const TAG_EVENTS: u8 = b'e';

fn bucket_key(key: &Key, idx: u64) -> Vec<u8> {
    let mut k = Vec::with_capacity(key.as_bytes().len() + 8);
    k.extend_from_slice(key.as_bytes());
    k.extend_from_slice(&idx.to_be_bytes());
    k
}

fn tagged(tag: u8, key: &Key) -> Vec<u8> {
    let mut k = Vec::with_capacity(key.as_bytes().len() + 1);
    k.push(tag);
    k.extend_from_slice(key.as_bytes());
    k
}

fn count_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

impl Inner {
    pub(crate) fn counter_add(&self, key: &Key, n: u64, now: u64, window: Duration) -> Result<(), StoreError> {
        let w = window_ms(window)?;
        let s = span(now, w);
        let cf = self.cf(CF_COUNTERS)?;
        let v = counter_value(bucket_expiry(s.last, s.size, w), n);
        self.db.merge_cf_opt(cf, bucket_key(key, s.last), v, &self.write_opts)?;
        Ok(())
    }

    /// Several counter merges in one write batch (one WAL append).
    pub(crate) fn counter_add_many(&self, charges: &[(Key, u64, Duration)], now: u64) -> Result<(), StoreError> {
        let cf = self.cf(CF_COUNTERS)?;
        let mut batch = rocksdb::WriteBatch::default();
        for (key, n, window) in charges {
            let w = window_ms(*window)?;
            let s = span(now, w);
            batch.merge_cf(
                cf,
                bucket_key(key, s.last),
                counter_value(bucket_expiry(s.last, s.size, w), *n),
            );
        }
        self.db.write_opt(batch, &self.write_opts)?;
        Ok(())
    }

    /// The counted buckets (ascending) and their total.
    fn counter_buckets(&self, key: &Key, now: u64, w: u64) -> Result<(Vec<(u64, u64)>, u64), StoreError> {
        let s = span(now, w);
        let cf = self.cf(CF_COUNTERS)?;
        let mut ro = ReadOptions::default();
        ro.set_iterate_lower_bound(bucket_key(key, s.first));
        ro.set_iterate_upper_bound(bucket_key(key, s.last.saturating_add(1)));
        let mut it = self.db.raw_iterator_cf_opt(cf, ro);
        it.seek_to_first();
        let want_len = key.as_bytes().len() + 8;
        let mut buckets = Vec::new();
        let mut total = 0u64;
        while let (Some(k), Some(v)) = (it.key(), it.value()) {
            // Longer keys in the range belong to other keys that merely share this prefix.
            if k.len() == want_len {
                let idx = u64::from_be_bytes(
                    k[want_len - 8..]
                        .try_into()
                        .map_err(|_| StoreError::corrupt("counter", "bucket key"))?,
                );
                let c = counter_count(v)?;
                total = total.saturating_add(c);
                buckets.push((idx, c));
            }
            it.next();
        }
        it.status()?;
        Ok((buckets, total))
    }

    pub(crate) fn counter_get(&self, key: &Key, now: u64, window: Duration) -> Result<u64, StoreError> {
        let w = window_ms(window)?;
        Ok(self.counter_buckets(key, now, w)?.1)
    }

    pub(crate) fn counter_check_and_add(
        &self,
        key: &Key,
        n: u64,
        limit: u64,
        now: u64,
        window: Duration,
    ) -> Result<Charge, StoreError> {
        let w = window_ms(window)?;
        let _guard = self.lock(key.as_bytes());
        let (buckets, total) = self.counter_buckets(key, now, w)?;
        if total.saturating_add(n) > limit {
            let s = span(now, w);
            return Ok(Charge::Refused {
                total,
                retry_after_ms: retry_after(&buckets, n, limit, now, w, s.size),
            });
        }
        self.counter_add(key, n, now, window)?;
        Ok(Charge::Charged { total: total + n })
    }

    fn load_window(&self, k: &[u8], now: u64) -> Result<Option<Vec<u8>>, StoreError> {
        let cf = self.cf(CF_SETS)?;
        let Some(v) = self.db.get_pinned_cf(cf, k)? else {
            return Ok(None);
        };
        let (exp, payload) = split_expiring("set", &v)?;
        Ok((exp > now).then(|| payload.to_vec()))
    }

    fn store_window(&self, k: &[u8], expire: u64, payload: &[u8]) -> Result<(), StoreError> {
        let cf = self.cf(CF_SETS)?;
        self.db.put_cf_opt(cf, k, expiring(expire, payload), &self.write_opts)?;
        Ok(())
    }

    fn live_events(&self, k: &[u8], now: u64, w: u64) -> Result<Vec<u64>, StoreError> {
        let mut ts = match self.load_window(k, now)? {
            Some(p) => decode_events(&p)?,
            None => Vec::new(),
        };
        let cutoff = now.saturating_sub(w);
        ts.retain(|t| *t > cutoff);
        Ok(ts)
    }

    pub(crate) fn events_check_and_add(
        &self,
        key: &Key,
        now: u64,
        window: Duration,
        cap: u32,
    ) -> Result<EventCharge, StoreError> {
        let w = window_ms(window)?;
        check_cap(cap)?;
        let k = tagged(TAG_EVENTS, key);
        let _guard = self.lock(&k);
        let mut ts = self.live_events(&k, now, w)?;
        if ts.len() < cap as usize {
            let pos = ts.partition_point(|t| *t <= now);
            ts.insert(pos, now);
            let newest = ts.last().copied().unwrap_or(now);
            self.store_window(&k, newest.saturating_add(w), &encode_events(&ts))?;
            return Ok(EventCharge {
                admitted: true,
                count: count_u32(ts.len()),
                retry_after_ms: None,
            });
        }
        // One more fits once all but cap-1 of the current entries have left the window.
        let retry = match cap {
            0 => None,
            _ => ts
                .get(ts.len() - cap as usize)
                .map(|t| t.saturating_add(w).saturating_sub(now).max(1)),
        };
        Ok(EventCharge {
            admitted: false,
            count: count_u32(ts.len()),
            retry_after_ms: retry,
        })
    }

    pub(crate) fn events_count(&self, key: &Key, now: u64, window: Duration) -> Result<u32, StoreError> {
        let w = window_ms(window)?;
        Ok(count_u32(self.live_events(&tagged(TAG_EVENTS, key), now, w)?.len()))
    }
}

//! Exact event logs in RocksDB ("more than 10 in ANY 24 hours"): the timestamps of one key in
//! one expiring value. Counters are in `counters.rs`, distinct sets in `sets.rs`.

use std::time::Duration;

use super::codec::{decode_events, encode_events, expiring, split_expiring};
use rocksdb::ReadOptions;

use super::writer::Batch;
use super::{Inner, CF_SETS};
use crate::store::{check_cap, window_ms, EventCharge, Key, StoreError};

/// Prefix byte of event logs in the `sets` family (sets use `S`, see `sets.rs`), so a set and an
/// event log under one `Key` never mix.
const TAG_EVENTS: u8 = b'e';

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
    fn load_window(&self, k: &[u8], now: u64) -> Result<Option<Vec<u8>>, StoreError> {
        let value = self.writer.read(&self.db, CF_SETS, k, |v| {
            let (exp, payload) = split_expiring("set", v)?;
            Ok((exp > now).then(|| payload.to_vec()))
        })?;
        Ok(value.flatten())
    }

    async fn store_window(&self, k: &[u8], expire: u64, payload: &[u8]) -> Result<(), StoreError> {
        let mut batch = Batch::default();
        batch.put(CF_SETS, k, expiring(expire, payload));
        self.writer.commit(batch).await
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

    pub(crate) async fn events_check_and_add(
        &self,
        key: &Key,
        now: u64,
        window: Duration,
        cap: u32,
    ) -> Result<EventCharge, StoreError> {
        let w = window_ms(window)?;
        check_cap(cap)?;
        let k = tagged(TAG_EVENTS, key);
        let _guard = self.lock(&k).await;
        let mut ts = self.live_events(&k, now, w)?;
        if ts.len() < cap as usize {
            let pos = ts.partition_point(|t| *t <= now);
            ts.insert(pos, now);
            let newest = ts.last().copied().unwrap_or(now);
            self.store_window(&k, newest.saturating_add(w), &encode_events(&ts))
                .await?;
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

    pub(crate) async fn events_release(&self, key: &Key, at: u64, window: Duration) -> Result<(), StoreError> {
        let w = window_ms(window)?;
        let k = tagged(TAG_EVENTS, key);
        let _guard = self.lock(&k).await;
        let mut ts = self.live_events(&k, at, w)?;
        let Some(pos) = ts.iter().rposition(|t| *t == at) else {
            return Ok(());
        };
        ts.remove(pos);
        match ts.last() {
            Some(newest) => {
                self.store_window(&k, newest.saturating_add(w), &encode_events(&ts))
                    .await
            }
            None => {
                let mut batch = Batch::default();
                batch.delete(CF_SETS, k);
                self.writer.commit(batch).await
            }
        }
    }

    pub(crate) fn events_count(&self, key: &Key, now: u64, window: Duration) -> Result<u32, StoreError> {
        let w = window_ms(window)?;
        Ok(count_u32(self.live_events(&tagged(TAG_EVENTS, key), now, w)?.len()))
    }

    /// Every event log under `prefix` with its live count (see `RateStore::events_counts_under`).
    /// Blocking (a barrier and a scan): only on the blocking pool.
    pub(crate) fn events_counts_under(
        &self,
        prefix: &Key,
        now: u64,
        window: Duration,
    ) -> Result<Vec<(Vec<u8>, u32)>, StoreError> {
        let w = window_ms(window)?;
        let cutoff = now.saturating_sub(w);
        let lower = tagged(TAG_EVENTS, prefix);
        self.writer.barrier()?;
        let mut ro = ReadOptions::default();
        if let Some(upper) = super::records::prefix_end(&lower) {
            ro.set_iterate_upper_bound(upper);
        }
        ro.set_iterate_lower_bound(lower.clone());
        let mut it = self.db.raw_iterator_cf_opt(self.cf(CF_SETS)?, ro);
        it.seek_to_first();
        let mut out = Vec::new();
        while let (Some(k), Some(v)) = (it.key(), it.value()) {
            // The key itself (no further part) is not "under" it.
            if k.len() > lower.len() {
                let (expiry, payload) = split_expiring("set", v)?;
                if expiry > now {
                    let live = decode_events(payload)?.iter().filter(|t| **t > cutoff).count();
                    if live > 0 {
                        out.push((k[lower.len()..].to_vec(), count_u32(live)));
                    }
                }
            }
            it.next();
        }
        it.status()?;
        Ok(out)
    }
}

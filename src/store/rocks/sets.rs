//! Exact distinct sets with time in RocksDB, one entry per member, so one operation costs the same
//! whether the set holds 20 members or 10,000 (a bulk campaign's recipients): no value grows with
//! the set and nothing is rewritten as a whole.
//!
//! Layout in the `sets` family, under `S`, the key's length and the key (so no key is a prefix of
//! another's entries):
//! - `…0` header: expiry, live count (u32), and a lower bound of the oldest member's time (u64);
//! - `…1 member` → expiry, last seen (u64);
//! - `…2 last-seen (u64 BE) member` → expiry: the members in time order.
//!
//! An operation at `now` first evicts the members last seen at or before `now - W` by scanning the
//! time index from the oldest live member the header remembers (so the scan never walks over the
//! tombstones of earlier evictions, and is skipped while that member is inside the window), then
//! looks the member up. A set whose header has expired is empty: its
//! leftovers are ignored (every lookup checks the timestamp) and compacted away.
//!
//! Expiry: the header lives until the newest member leaves the window; member and time entries
//! live for twice the window, which guarantees the eviction scan sees every entry it must count
//! down before the compaction filter may drop it (between two operations on a live set at most
//! one window passes).

use rocksdb::ReadOptions;

use super::codec::{expiring, split_expiring};
use super::writer::Batch;
use super::{Inner, CF_SETS};
use crate::store::{check_cap, check_member, window_ms, Key, SetCharge, StoreError};

const TAG_SET: u8 = b'S';
const HEADER: u8 = 0;
const MEMBER: u8 = 1;
const BY_TIME: u8 = 2;

/// `S`, the key's length and the key: the common prefix of one set's entries.
fn set_prefix(key: &Key) -> Vec<u8> {
    let bytes = key.as_bytes();
    let mut p = Vec::with_capacity(bytes.len() + 5);
    p.push(TAG_SET);
    p.extend_from_slice(&u32::try_from(bytes.len()).unwrap_or(u32::MAX).to_be_bytes());
    p.extend_from_slice(bytes);
    p
}

fn entry_key(prefix: &[u8], kind: u8, rest: &[&[u8]]) -> Vec<u8> {
    let mut k = Vec::with_capacity(prefix.len() + 1 + rest.iter().map(|r| r.len()).sum::<usize>());
    k.extend_from_slice(prefix);
    k.push(kind);
    for r in rest {
        k.extend_from_slice(r);
    }
    k
}

fn read_u64_le(b: &[u8]) -> Option<u64> {
    Some(u64::from_le_bytes(b.get(..8)?.try_into().ok()?))
}

/// The header of a live set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Header {
    expiry: u64,
    count: u32,
    /// No live member was last seen before this (`u64::MAX`: no members). While it lies
    /// inside the window, operations skip the eviction scan entirely.
    scan_from: u64,
}

impl Header {
    fn encode(self) -> Vec<u8> {
        let mut payload = Vec::with_capacity(12);
        payload.extend_from_slice(&self.count.to_le_bytes());
        payload.extend_from_slice(&self.scan_from.to_le_bytes());
        expiring(self.expiry, &payload)
    }

    fn decode(v: &[u8]) -> Result<Header, StoreError> {
        let (expiry, p) = split_expiring("set header", v)?;
        if p.len() != 12 {
            return Err(StoreError::corrupt("set header", format!("{} bytes", v.len())));
        }
        let count = u32::from_le_bytes(
            p[..4]
                .try_into()
                .map_err(|_| StoreError::corrupt("set header", "count"))?,
        );
        let scan_from = read_u64_le(&p[4..]).ok_or_else(|| StoreError::corrupt("set header", "scan"))?;
        Ok(Header {
            expiry,
            count,
            scan_from,
        })
    }
}

/// The members that have left the window since the last scan: (time-index key, member, seen).
type Evicted = Vec<(Vec<u8>, Vec<u8>, u64)>;

impl Inner {
    /// The live header (a fresh one when the set is empty or expired).
    fn set_header(&self, prefix: &[u8], now: u64) -> Result<Header, StoreError> {
        let fresh = Header {
            expiry: 0,
            count: 0,
            scan_from: u64::MAX,
        };
        let header = self
            .writer
            .read(&self.db, CF_SETS, &entry_key(prefix, HEADER, &[]), Header::decode)?;
        Ok(header.filter(|h| h.expiry > now).unwrap_or(fresh))
    }

    /// Time-index entries with `scan_from <= seen <= cutoff`, and the time of the first entry
    /// after them (the oldest that stays), if any.
    /// Waits for the writes queued before (without holding a thread; the caller holds the set's
    /// stripe lock, an async one, across the wait).
    async fn set_expired(
        &self,
        prefix: &[u8],
        scan_from: u64,
        cutoff: u64,
    ) -> Result<(Evicted, Option<u64>), StoreError> {
        self.writer.settle().await?;
        let mut out = Vec::new();
        let cf = self.cf(CF_SETS)?;
        let mut ro = ReadOptions::default();
        ro.set_iterate_lower_bound(entry_key(prefix, BY_TIME, &[&scan_from.to_be_bytes()]));
        ro.set_iterate_upper_bound(entry_key(prefix, BY_TIME + 1, &[]));
        let mut it = self.db.raw_iterator_cf_opt(cf, ro);
        it.seek_to_first();
        let head = prefix.len() + 1;
        while let Some(k) = it.key() {
            let seen = k
                .get(head..head + 8)
                .and_then(|b| b.try_into().ok())
                .map(u64::from_be_bytes)
                .ok_or_else(|| StoreError::corrupt("set", "time index key"))?;
            if seen > cutoff {
                return Ok((out, Some(seen)));
            }
            out.push((k.to_vec(), k[head + 8..].to_vec(), seen));
            it.next();
        }
        it.status()?;
        Ok((out, None))
    }

    /// When `member` was last seen, if it has an entry.
    fn set_member_seen(&self, prefix: &[u8], member: &[u8]) -> Result<Option<u64>, StoreError> {
        self.writer
            .read(&self.db, CF_SETS, &entry_key(prefix, MEMBER, &[member]), |v| {
                let (_, p) = split_expiring("set member", v)?;
                read_u64_le(p).ok_or_else(|| StoreError::corrupt("set member", "timestamp"))
            })
    }

    pub(crate) async fn set_check_and_add(
        &self,
        key: &Key,
        member: &[u8],
        now: u64,
        window: std::time::Duration,
        cap: u32,
    ) -> Result<SetCharge, StoreError> {
        let w = window_ms(window)?;
        check_cap(cap)?;
        check_member(member)?;
        let prefix = set_prefix(key);
        let _guard = self.lock(&prefix).await;
        let cutoff = now.saturating_sub(w);
        let mut header = self.set_header(&prefix, now)?;
        let mut batch = Batch::default();
        let mut changed = false;

        // Evict what has left the window since the last operation (nothing to do while the
        // oldest member is still inside it).
        let (evicted, oldest_left) = if header.scan_from <= cutoff {
            self.set_expired(&prefix, header.scan_from, cutoff).await?
        } else {
            (Vec::new(), Some(header.scan_from))
        };
        let mut member_evicted = false;
        for (time_key, gone, seen) in &evicted {
            batch.delete(CF_SETS, time_key.as_slice());
            if self.set_member_seen(&prefix, gone)? == Some(*seen) {
                batch.delete(CF_SETS, entry_key(&prefix, MEMBER, &[gone]));
                header.count = header.count.saturating_sub(1);
            }
            member_evicted |= gone.as_slice() == member;
        }
        if header.scan_from <= cutoff {
            header.scan_from = oldest_left.unwrap_or(u64::MAX);
            changed = true;
        }

        let seen = match self.set_member_seen(&prefix, member)? {
            Some(seen) if seen > cutoff && !member_evicted => Some(seen),
            _ => None,
        };
        let entry_expiry = now.saturating_add(w.saturating_mul(2));
        // The member's entry and its place in the time index, as seen `at`.
        let mut record_seen = |batch: &mut Batch, at: u64| {
            batch.put(
                CF_SETS,
                entry_key(&prefix, MEMBER, &[member]),
                expiring(entry_expiry, &at.to_le_bytes()),
            );
            batch.put(
                CF_SETS,
                entry_key(&prefix, BY_TIME, &[&at.to_be_bytes(), member]),
                expiring(entry_expiry, &[]),
            );
            changed = true;
        };
        let mut touched = now;
        let admitted = match seen {
            Some(seen) => {
                // Every touch moves the member's time forward, even within one millisecond, so
                // `set_release` of the charge that added it never removes a later touch.
                touched = now.max(seen.saturating_add(1));
                batch.delete(CF_SETS, entry_key(&prefix, BY_TIME, &[&seen.to_be_bytes(), member]));
                record_seen(&mut batch, touched);
                true
            }
            None if header.count < cap => {
                record_seen(&mut batch, now);
                header.count += 1;
                true
            }
            None => false,
        };
        if admitted {
            header.expiry = header.expiry.max(touched.saturating_add(w));
            if header.scan_from > now {
                header.scan_from = now;
                changed = true;
            }
        }
        if changed || !evicted.is_empty() {
            if header.count == 0 && !admitted {
                batch.delete(CF_SETS, entry_key(&prefix, HEADER, &[]));
            } else {
                batch.put(CF_SETS, entry_key(&prefix, HEADER, &[]), header.encode());
            }
            self.writer.commit(batch).await?;
        }
        Ok(SetCharge {
            admitted,
            already_member: seen.is_some(),
            distinct: header.count,
        })
    }

    pub(crate) async fn set_release(
        &self,
        key: &Key,
        member: &[u8],
        at: u64,
        window: std::time::Duration,
    ) -> Result<(), StoreError> {
        window_ms(window)?;
        check_member(member)?;
        let prefix = set_prefix(key);
        let _guard = self.lock(&prefix).await;
        if self.set_member_seen(&prefix, member)? != Some(at) {
            return Ok(());
        }
        let mut header = self.set_header(&prefix, at)?;
        let mut batch = Batch::default();
        batch.delete(CF_SETS, entry_key(&prefix, MEMBER, &[member]));
        batch.delete(CF_SETS, entry_key(&prefix, BY_TIME, &[&at.to_be_bytes(), member]));
        // The header's oldest-member bound and expiry stay: a lower and an upper bound still.
        header.count = header.count.saturating_sub(1);
        if header.count == 0 {
            batch.delete(CF_SETS, entry_key(&prefix, HEADER, &[]));
        } else {
            batch.put(CF_SETS, entry_key(&prefix, HEADER, &[]), header.encode());
        }
        self.writer.commit(batch).await
    }

    pub(crate) async fn set_count(&self, key: &Key, now: u64, window: std::time::Duration) -> Result<u32, StoreError> {
        let w = window_ms(window)?;
        let prefix = set_prefix(key);
        let _guard = self.lock(&prefix).await;
        let cutoff = now.saturating_sub(w);
        let header = self.set_header(&prefix, now)?;
        if header.scan_from > cutoff {
            return Ok(header.count);
        }
        let (expired, _) = self.set_expired(&prefix, header.scan_from, cutoff).await?;
        let mut gone = 0u32;
        for (_, member, seen) in &expired {
            if self.set_member_seen(&prefix, member)? == Some(*seen) {
                gone += 1;
            }
        }
        Ok(header.count.saturating_sub(gone))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_round_trip_and_garbage_is_an_error() {
        let h = Header {
            expiry: 99,
            count: 7,
            scan_from: 12,
        };
        assert_eq!(Header::decode(&h.encode()).expect("decodes"), h);
        assert!(Header::decode(&h.encode()[..15]).is_err());
        assert!(Header::decode(b"short").is_err());
    }

    #[test]
    fn no_set_prefix_is_a_prefix_of_another_sets_entries() {
        let a = set_prefix(&Key::new("bulk", "t"));
        let b = set_prefix(&Key::new("bulk", "t").part(b"x"));
        assert!(!b.starts_with(&a) && !a.starts_with(&b));
    }
}

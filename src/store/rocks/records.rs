//! Records in RocksDB: blocks (+ audit), event and audit logs, suppression lists, the
//! campaign index. Keys start with the length-prefixed tenant so one tenant's records are one
//! contiguous range.

use std::sync::atomic::Ordering;
use std::time::Duration;

use rocksdb::ReadOptions;
use serde::{de::DeserializeOwned, Serialize};

use super::codec::{expiring, split_expiring};
use super::writer::Batch;
use super::{Inner, CF_AUDIT, CF_BLOCKS, CF_CAMPAIGNS, CF_SUPPRESSION};
use crate::store::key::push_part;
use crate::store::{window_ms, AuditRecord, Block, BlockScope, CampaignMatch, Lift, StoreError, Suppression};

fn tenant_prefix(tenant: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(4 + tenant.len() + 24);
    push_part(&mut k, tenant.as_bytes());
    k
}

fn block_key(tenant: &str, scope: BlockScope, target: &str) -> Vec<u8> {
    let mut k = tenant_prefix(tenant);
    push_part(&mut k, scope.as_str().as_bytes());
    push_part(&mut k, target.as_bytes());
    k
}

fn suppression_key(tenant: &str, address: &str) -> Vec<u8> {
    let mut k = tenant_prefix(tenant);
    push_part(&mut k, address.as_bytes());
    k
}

/// The smallest key greater than every key starting with `prefix` (None: no bound).
pub(super) fn prefix_end(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}

impl Inner {
    fn get_json<T: DeserializeOwned>(&self, cf: &'static str, key: &[u8]) -> Result<Option<T>, StoreError> {
        self.writer.read(&self.db, cf, key, |v| {
            serde_json::from_slice(v).map_err(StoreError::from)
        })
    }

    async fn put_json<T: Serialize>(&self, cf: &'static str, key: &[u8], v: &T) -> Result<(), StoreError> {
        let mut batch = Batch::default();
        batch.put(cf, key, serde_json::to_vec(v)?);
        self.writer.commit(batch).await
    }

    /// Values of every key starting with `prefix`, in key order. Blocking (a barrier and a
    /// scan): only on the blocking pool.
    fn scan_json<T: DeserializeOwned>(
        &self,
        cf: &'static str,
        lower: Vec<u8>,
        upper: Option<Vec<u8>>,
    ) -> Result<Vec<T>, StoreError> {
        self.writer.barrier()?;
        let cf = self.cf(cf)?;
        let mut ro = ReadOptions::default();
        ro.set_iterate_lower_bound(lower);
        if let Some(u) = upper {
            ro.set_iterate_upper_bound(u);
        }
        let mut it = self.db.raw_iterator_cf_opt(cf, ro);
        it.seek_to_first();
        let mut out = Vec::new();
        while let Some(v) = it.value() {
            out.push(serde_json::from_slice(v)?);
            it.next();
        }
        it.status()?;
        Ok(out)
    }

    fn log_key(&self, tenant: &str, at: u64) -> Vec<u8> {
        let mut k = tenant_prefix(tenant);
        k.extend_from_slice(&at.to_be_bytes());
        k.extend_from_slice(&self.seq.fetch_add(1, Ordering::Relaxed).to_be_bytes());
        k
    }

    pub(crate) async fn block_add(&self, block: &Block) -> Result<(), StoreError> {
        let mut batch = Batch::default();
        batch.put(
            CF_BLOCKS,
            block_key(&block.tenant, block.scope, &block.target),
            serde_json::to_vec(block)?,
        );
        batch.put(
            CF_AUDIT,
            self.log_key(&block.tenant, block.at),
            serde_json::to_vec(&AuditRecord::block_added(block))?,
        );
        self.writer.commit(batch).await
    }

    pub(crate) fn block_get(&self, tenant: &str, scope: BlockScope, target: &str) -> Result<Option<Block>, StoreError> {
        self.get_json(CF_BLOCKS, &block_key(tenant, scope, target))
    }

    pub(crate) async fn block_lift(
        &self,
        tenant: &str,
        scope: BlockScope,
        target: &str,
        lift: &Lift,
    ) -> Result<Option<Block>, StoreError> {
        let k = block_key(tenant, scope, target);
        let _guard = self.lock(&k).await;
        let Some(block) = self.get_json::<Block>(CF_BLOCKS, &k)? else {
            return Ok(None);
        };
        let mut batch = Batch::default();
        batch.delete(CF_BLOCKS, k);
        batch.put(
            CF_AUDIT,
            self.log_key(tenant, lift.at),
            serde_json::to_vec(&AuditRecord::block_lifted(scope, target, lift))?,
        );
        self.writer.commit(batch).await?;
        Ok(Some(block))
    }

    pub(crate) fn blocks_list(&self, tenant: &str) -> Result<Vec<Block>, StoreError> {
        let p = tenant_prefix(tenant);
        let end = prefix_end(&p);
        let mut out = self.scan_json(CF_BLOCKS, p, end)?;
        Block::sort(&mut out);
        Ok(out)
    }

    pub(crate) async fn log_append<T: Serialize>(
        &self,
        cf: &'static str,
        tenant: &str,
        at: u64,
        rec: &T,
    ) -> Result<(), StoreError> {
        self.put_json(cf, &self.log_key(tenant, at), rec).await
    }

    pub(crate) fn log_range<T: DeserializeOwned>(
        &self,
        cf: &'static str,
        tenant: &str,
        from: u64,
        to: u64,
    ) -> Result<Vec<T>, StoreError> {
        let mut lower = tenant_prefix(tenant);
        lower.extend_from_slice(&from.to_be_bytes());
        let mut upper = tenant_prefix(tenant);
        let upper = match to.checked_add(1) {
            Some(t) => {
                upper.extend_from_slice(&t.to_be_bytes());
                Some(upper)
            }
            None => prefix_end(&upper),
        };
        self.scan_json(cf, lower, upper)
    }

    pub(crate) async fn suppression_add(&self, tenant: &str, entry: &Suppression) -> Result<(), StoreError> {
        self.put_json(CF_SUPPRESSION, &suppression_key(tenant, &entry.address), entry)
            .await
    }

    pub(crate) async fn suppression_remove(&self, tenant: &str, address: &str) -> Result<bool, StoreError> {
        let k = suppression_key(tenant, address);
        let _guard = self.lock(&k).await;
        let existed = self.writer.read(&self.db, CF_SUPPRESSION, &k, |_| Ok(()))?.is_some();
        if existed {
            let mut batch = Batch::default();
            batch.delete(CF_SUPPRESSION, k);
            self.writer.commit(batch).await?;
        }
        Ok(existed)
    }

    pub(crate) fn suppression_contains(&self, tenant: &str, address: &str) -> Result<bool, StoreError> {
        let k = suppression_key(tenant, address);
        Ok(self.writer.read(&self.db, CF_SUPPRESSION, &k, |_| Ok(()))?.is_some())
    }

    pub(crate) fn suppression_list(&self, tenant: &str) -> Result<Vec<Suppression>, StoreError> {
        let p = tenant_prefix(tenant);
        let end = prefix_end(&p);
        let mut out: Vec<Suppression> = self.scan_json(CF_SUPPRESSION, p, end)?;
        out.sort_by(|a, b| a.address.cmp(&b.address));
        Ok(out)
    }

    /// The tenant's live campaign ids, sorted and deduplicated. Blocking (a barrier and a scan
    /// of the tenant's index): only on the blocking pool.
    pub(crate) fn campaigns_live(&self, tenant: &str, now: u64) -> Result<Vec<String>, StoreError> {
        let lower = tenant_prefix(tenant);
        self.writer.barrier()?;
        let mut ro = ReadOptions::default();
        if let Some(upper) = prefix_end(&lower) {
            ro.set_iterate_upper_bound(upper);
        }
        ro.set_iterate_lower_bound(lower);
        let mut it = self.db.raw_iterator_cf_opt(self.cf(CF_CAMPAIGNS)?, ro);
        it.seek_to_first();
        let mut ids = std::collections::BTreeSet::new();
        while let Some(v) = it.value() {
            let (expiry, id) = split_expiring("campaign", v)?;
            if expiry > now {
                ids.insert(
                    String::from_utf8(id.to_vec()).map_err(|_| StoreError::corrupt("campaign", "id not UTF-8"))?,
                );
            }
            it.next();
        }
        it.status()?;
        Ok(ids.into_iter().collect())
    }

    pub(crate) async fn campaign(
        &self,
        tenant: &str,
        band_keys: &[u64],
        candidate: &str,
        now: u64,
        window: Duration,
        pinned: &[String],
    ) -> Result<CampaignMatch, StoreError> {
        let w = window_ms(window)?;
        let prefix = tenant_prefix(tenant);
        // Every database key (tenant prefix + band key) in one buffer: one allocation, not one
        // per key.
        let stride = prefix.len() + 8;
        let mut flat = Vec::with_capacity(stride * band_keys.len());
        for b in band_keys {
            flat.extend_from_slice(&prefix);
            flat.extend_from_slice(&b.to_be_bytes());
        }
        let keys: Vec<&[u8]> = flat.chunks_exact(stride).collect();
        // One lock per tenant: the index of one tenant changes as a whole.
        let mut lock_key = b"campaign".to_vec();
        lock_key.extend_from_slice(&prefix);
        let _guard = self.lock(&lock_key).await;
        let mut current: Vec<Option<(std::sync::Arc<str>, u64)>> = Vec::with_capacity(keys.len());
        for k in &keys {
            let stored = match self.campaign_cache.get(k) {
                Some(mapping) => mapping,
                None => {
                    let mapping = self.writer.read(&self.db, CF_CAMPAIGNS, k, |v| {
                        let (exp, id) = split_expiring("campaign", v)?;
                        let id =
                            std::str::from_utf8(id).map_err(|_| StoreError::corrupt("campaign", "id not UTF-8"))?;
                        Ok((std::sync::Arc::<str>::from(id), exp))
                    })?;
                    self.campaign_cache.put(k, mapping.clone());
                    mapping
                }
            };
            current.push(stored.filter(|(_, exp)| *exp > now));
        }
        let found = majority(current.iter().flatten().map(|(id, _)| &**id)).map(str::to_owned);
        let is_new = found.is_none();
        let id = found.unwrap_or_else(|| candidate.to_owned());
        let mut merged: Vec<String> = Vec::new();
        for (other, _) in current.iter().flatten() {
            if **other != *id && !merged.iter().any(|m| **m == **other) {
                merged.push(other.to_string());
            }
        }
        merged.sort();
        // A mapping lives at least a window after the last message that used it. It is written
        // with some slack (1/64 of the window) and rewritten only once that slack is used up, so
        // an active campaign does not rewrite its keys on every message.
        let slack = w / 64;
        let expiry = now.saturating_add(w).saturating_add(slack);
        let value = expiring(expiry, id.as_bytes());
        let mut batch = Batch::default();
        let mut written = Vec::new();
        for (k, cur) in keys.iter().zip(&current) {
            // Keys of another campaign are re-pointed to this one: the copies that follow
            // converge on one campaign even when its first copies started two.
            let refresh = match cur {
                None => true,
                Some((existing, _)) if **existing != *id && pinned.iter().any(|p| **p == **existing) => false,
                Some((existing, expiry)) => **existing != *id || *expiry < now.saturating_add(w),
            };
            if refresh {
                batch.put(CF_CAMPAIGNS, *k, value.as_slice());
                written.push(k);
            }
        }
        if !batch.is_empty() {
            self.writer.commit(batch).await?;
            let shared = std::sync::Arc::<str>::from(id.as_str());
            for k in written {
                self.campaign_cache.put(k, Some((shared.clone(), expiry)));
            }
        }
        Ok(CampaignMatch { id, is_new, merged })
    }
}

/// The campaign most of a message's band keys map to; a tie goes to the smallest id, so every
/// backend and node picks the same.
fn majority<'a>(ids: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    let mut votes: Vec<(&str, usize)> = Vec::new();
    for id in ids {
        match votes.iter_mut().find(|(v, _)| *v == id) {
            Some((_, n)) => *n += 1,
            None => votes.push((id, 1)),
        }
    }
    votes
        .into_iter()
        .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(a.0)))
        .map(|(id, _)| id)
}

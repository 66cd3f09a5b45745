//! Complaint intake in RocksDB.
//!
//! - `message_origins`: 16-byte Message-ID digest → `MessageOrigin::encode`, as an expiring value
//!   (the expiry compaction filter drops it after the retention; reads ignore an expired one).
//!   The first writer keeps it until it expires (a tenant cannot take another's Message-ID over
//!   by sending it again): under the key's stripe lock, a live entry is left as it is, otherwise
//!   the new one is written (atomic, since RocksDB admits one process).
//! - `complaints`: `r<id>` → the complaint, `d<dedup key>` → id, `t<tenant part><id>` and
//!   `u<id>` → nothing (the tenant's and the unattributed index). Ids sort by time, so `r`, `t`
//!   and `u` ranges are time ranges. A put takes the dedup key's stripe lock, looks the key up
//!   and writes all entries in one batch: atomic, since RocksDB admits one process.

use rocksdb::ReadOptions;

use super::codec::{expiring, split_expiring};
use super::records::prefix_end;
use super::writer::Batch;
use super::{Inner, CF_COMPLAINTS, CF_MESSAGE_ORIGINS};
use crate::store::complaints::{check_complaint, decode_complaint, encode_complaint, message_id_digest};
use crate::store::key::push_part;
use crate::store::{ComplaintPut, ComplaintScope, MessageOrigin, StoreError, StoredComplaint};

fn record_key(id: &str) -> Vec<u8> {
    [b"r", id.as_bytes()].concat()
}

fn dedup_key(key: &str) -> Vec<u8> {
    [b"d", key.as_bytes()].concat()
}

/// The prefix of a scope's index (the records themselves for `All`).
fn scope_prefix(scope: ComplaintScope<'_>) -> Vec<u8> {
    match scope {
        ComplaintScope::All => b"r".to_vec(),
        ComplaintScope::Unattributed => b"u".to_vec(),
        ComplaintScope::Tenant(tenant) => {
            let mut k = b"t".to_vec();
            push_part(&mut k, tenant.as_bytes());
            k
        }
    }
}

impl Inner {
    pub(crate) async fn message_origin_put(
        &self,
        message_id: &str,
        origin: &MessageOrigin,
        now: u64,
        expires: u64,
    ) -> Result<(), StoreError> {
        let key = message_id_digest(message_id);
        let _guard = self.lock(&key).await;
        let live = self.writer.read(&self.db, CF_MESSAGE_ORIGINS, &key, |v| {
            let (expires, _) = split_expiring("message origin", v)?;
            Ok(expires > now)
        })?;
        if live == Some(true) {
            return Ok(());
        }
        let mut batch = Batch::default();
        batch.put(CF_MESSAGE_ORIGINS, key, expiring(expires, &origin.encode()));
        self.writer.commit(batch).await
    }

    pub(crate) fn message_origin_get(&self, message_id: &str, now: u64) -> Result<Option<MessageOrigin>, StoreError> {
        let value = self
            .writer
            .read(&self.db, CF_MESSAGE_ORIGINS, &message_id_digest(message_id), |v| {
                let (expires, payload) = split_expiring("message origin", v)?;
                (expires > now).then(|| MessageOrigin::decode(payload)).transpose()
            })?;
        Ok(value.flatten())
    }

    pub(crate) async fn complaint_put(&self, complaint: &StoredComplaint) -> Result<ComplaintPut, StoreError> {
        check_complaint(complaint)?;
        let dedup = dedup_key(&complaint.dedup_key);
        let _guard = self.lock(&dedup).await;
        let existing = self.writer.read(&self.db, CF_COMPLAINTS, &dedup, |v| {
            String::from_utf8(v.to_vec()).map_err(|_| StoreError::corrupt("complaint dedup", "not UTF-8"))
        })?;
        if let Some(id) = existing {
            return Ok(ComplaintPut::Duplicate { id });
        }
        let scope = match &complaint.tenant {
            Some(tenant) => ComplaintScope::Tenant(tenant),
            None => ComplaintScope::Unattributed,
        };
        let mut batch = Batch::default();
        batch.put(CF_COMPLAINTS, record_key(&complaint.id), encode_complaint(complaint));
        batch.put(CF_COMPLAINTS, dedup, complaint.id.as_bytes());
        batch.put(
            CF_COMPLAINTS,
            [scope_prefix(scope), complaint.id.as_bytes().to_vec()].concat(),
            b"",
        );
        self.writer.commit(batch).await?;
        Ok(ComplaintPut::New)
    }

    /// Removes `old` (as `complaints_list` read them): records, dedup entries (one complaint
    /// per dedup key is ever stored, so it names this one) and index entries, in one batch.
    pub(crate) async fn complaints_remove(&self, old: &[StoredComplaint]) -> Result<(), StoreError> {
        if old.is_empty() {
            return Ok(());
        }
        let mut batch = Batch::default();
        for complaint in old {
            let scope = match &complaint.tenant {
                Some(tenant) => ComplaintScope::Tenant(tenant),
                None => ComplaintScope::Unattributed,
            };
            batch.delete(CF_COMPLAINTS, record_key(&complaint.id));
            batch.delete(CF_COMPLAINTS, dedup_key(&complaint.dedup_key));
            batch.delete(
                CF_COMPLAINTS,
                [scope_prefix(scope), complaint.id.as_bytes().to_vec()].concat(),
            );
        }
        self.writer.commit(batch).await
    }

    pub(crate) fn complaint_get(&self, id: &str) -> Result<Option<StoredComplaint>, StoreError> {
        self.writer
            .read(&self.db, CF_COMPLAINTS, &record_key(id), |v| decode_complaint(id, v))
    }

    /// Blocking (a barrier and a scan): only on the blocking pool.
    pub(crate) fn complaints_list(
        &self,
        scope: ComplaintScope<'_>,
        since: &str,
        before: &str,
        limit: usize,
    ) -> Result<Vec<StoredComplaint>, StoreError> {
        self.writer.barrier()?;
        let prefix = scope_prefix(scope);
        let lower = [prefix.as_slice(), since.as_bytes()].concat();
        let upper = if before.is_empty() {
            prefix_end(&prefix)
        } else {
            Some([prefix.as_slice(), before.as_bytes()].concat())
        };
        let mut options = ReadOptions::default();
        options.set_iterate_lower_bound(lower);
        if let Some(upper) = upper {
            options.set_iterate_upper_bound(upper);
        }
        let mut ids = Vec::new();
        {
            let mut it = self.db.raw_iterator_cf_opt(self.cf(CF_COMPLAINTS)?, options);
            it.seek_to_last();
            while let Some(key) = it.key() {
                if ids.len() >= limit {
                    break;
                }
                let id = key.get(prefix.len()..).unwrap_or_default();
                ids.push(String::from_utf8_lossy(id).into_owned());
                it.prev();
            }
            it.status()?;
        }
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            match self.complaint_get(&id)? {
                Some(complaint) => out.push(complaint),
                None => return Err(StoreError::corrupt("complaint index", format!("no record {id}"))),
            }
        }
        Ok(out)
    }
}

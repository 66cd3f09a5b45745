//! Tenant records in RocksDB, one key per field (`tenant_fields`: `part(tenant) ++ field`, see
//! [`crate::store::tenant_codec`]). A field-level change writes only its own keys, in one batch.
//! Creating, seeding, updating and deleting a tenant take the tenant's stripe lock, so a change
//! never lands on a tenant being deleted and two creates of one id never both succeed.
//!
//! Records of earlier versions (one JSON value per tenant in `tenants`, keyed by the bare id)
//! are read as they are and rewritten as fields by [`RocksStore::seed`].

use std::sync::atomic::Ordering;
use std::sync::Arc;

use rocksdb::ReadOptions;

use super::writer::Batch;
use super::{Inner, RocksStore, CF_TENANTS, CF_TENANT_FIELDS};
use crate::store::key::push_part;
use crate::store::tenant_codec::{self, split_part, Fields};
use crate::store::{StoreError, TenantChange, TenantRecord};

fn prefix(id: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(4 + id.len() + 16);
    push_part(&mut k, id.as_bytes());
    k
}

fn field_key(id: &str, field: &[u8]) -> Vec<u8> {
    let mut k = prefix(id);
    k.extend_from_slice(field);
    k
}

/// The lock of a tenant's record (a stripe, by this key's hash).
fn lock_key(id: &str) -> Vec<u8> {
    let mut k = b"tenant-record".to_vec();
    push_part(&mut k, id.as_bytes());
    k
}

impl Inner {
    fn tenant_exists(&self, id: &str) -> Result<bool, StoreError> {
        Ok(self
            .writer
            .read(
                &self.db,
                CF_TENANT_FIELDS,
                &field_key(id, &tenant_codec::id_field()),
                |_| Ok(()),
            )?
            .is_some())
    }

    fn legacy_tenant(&self, id: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.writer
            .read(&self.db, CF_TENANTS, id.as_bytes(), |v| Ok(v.to_vec()))
    }

    /// `(key, value)` of every entry of `cf` between the bounds, after every queued write.
    /// Blocking: only on the blocking pool.
    fn scan_raw(&self, cf: &'static str, lower: Vec<u8>, upper: Option<Vec<u8>>) -> Result<Fields, StoreError> {
        self.writer.barrier()?;
        let handle = self.cf(cf)?;
        let mut ro = ReadOptions::default();
        ro.set_iterate_lower_bound(lower);
        if let Some(u) = upper {
            ro.set_iterate_upper_bound(u);
        }
        let mut it = self.db.raw_iterator_cf_opt(handle, ro);
        it.seek_to_first();
        let mut out = Vec::new();
        while let (Some(k), Some(v)) = (it.key(), it.value()) {
            out.push((k.to_vec(), v.to_vec()));
            it.next();
        }
        it.status()?;
        Ok(out)
    }

    /// The fields of one tenant: `(field, value)`. Blocking.
    fn tenant_fields(&self, id: &str) -> Result<Fields, StoreError> {
        let lower = prefix(id);
        let upper = super::records::prefix_end(&lower);
        let skip = lower.len();
        Ok(self
            .scan_raw(CF_TENANT_FIELDS, lower, upper)?
            .into_iter()
            .map(|(k, v)| (k[skip..].to_vec(), v))
            .collect())
    }

    /// One tenant, or its legacy record. Blocking.
    fn tenant_read(&self, id: &str) -> Result<Option<TenantRecord>, StoreError> {
        if let Some(rec) = tenant_codec::decode(self.tenant_fields(id)?)? {
            return Ok(Some(rec));
        }
        self.legacy_tenant(id)?
            .map(|bytes| tenant_codec::from_legacy(&bytes))
            .transpose()
    }

    /// Every tenant, legacy records included, ordered by id. Blocking.
    fn tenant_read_all(&self) -> Result<Vec<TenantRecord>, StoreError> {
        // Keys are ordered, so one tenant's fields are one run of keys.
        let mut groups: Vec<(Vec<u8>, Fields)> = Vec::new();
        for (key, value) in self.scan_raw(CF_TENANT_FIELDS, Vec::new(), None)? {
            let (id, field) = split_part(&key).ok_or_else(|| StoreError::corrupt("tenant", "malformed key"))?;
            match groups.last_mut() {
                Some((current, fields)) if current.as_slice() == id => fields.push((field.to_vec(), value)),
                _ => groups.push((id.to_vec(), vec![(field.to_vec(), value)])),
            }
        }
        let mut by_id = std::collections::BTreeMap::new();
        for (_, fields) in groups {
            if let Some(rec) = tenant_codec::decode(fields)? {
                by_id.insert(rec.id.clone(), rec);
            }
        }
        for (_, value) in self.scan_raw(CF_TENANTS, Vec::new(), None)? {
            let rec = tenant_codec::from_legacy(&value)?;
            by_id.entry(rec.id.clone()).or_insert(rec);
        }
        Ok(by_id.into_values().collect())
    }

    fn put_record(&self, batch: &mut Batch, rec: &TenantRecord) {
        for (field, value) in tenant_codec::record(rec) {
            batch.put(CF_TENANT_FIELDS, field_key(&rec.id, &field), value);
        }
    }

    async fn commit_tenant(&self, batch: Batch) -> Result<(), StoreError> {
        self.writer.commit(batch).await?;
        self.tenant_generation.fetch_add(1, Ordering::AcqRel);
        self.writer.wait_applied(self.writer.submitted()).await
    }
}

impl RocksStore {
    pub(super) async fn tenant_get_record(&self, id: &str) -> Result<Option<TenantRecord>, StoreError> {
        let inner = Arc::clone(&self.inner);
        let id = id.to_owned();
        run_blocking(move || inner.tenant_read(&id)).await
    }

    pub(super) async fn tenant_list_records(&self) -> Result<Vec<TenantRecord>, StoreError> {
        let inner = Arc::clone(&self.inner);
        run_blocking(move || inner.tenant_read_all()).await
    }

    pub(super) async fn create(&self, rec: &TenantRecord) -> Result<bool, StoreError> {
        let _lock = self.inner.lock(&lock_key(&rec.id)).await;
        if self.inner.tenant_exists(&rec.id)? || self.inner.legacy_tenant(&rec.id)?.is_some() {
            return Ok(false);
        }
        let mut batch = Batch::default();
        self.inner.put_record(&mut batch, rec);
        self.inner.commit_tenant(batch).await?;
        Ok(true)
    }

    pub(super) async fn seed(&self, rec: &TenantRecord) -> Result<bool, StoreError> {
        let _lock = self.inner.lock(&lock_key(&rec.id)).await;
        if self.inner.tenant_exists(&rec.id)? {
            return Ok(false);
        }
        let mut batch = Batch::default();
        match self.inner.legacy_tenant(&rec.id)? {
            Some(bytes) => {
                let merged = tenant_codec::merge_legacy(tenant_codec::from_legacy(&bytes)?, rec);
                self.inner.put_record(&mut batch, &merged);
                batch.delete(CF_TENANTS, rec.id.as_bytes());
            }
            None => self.inner.put_record(&mut batch, rec),
        }
        self.inner.commit_tenant(batch).await?;
        Ok(true)
    }

    pub(super) async fn update(&self, id: &str, changes: &[TenantChange]) -> Result<bool, StoreError> {
        let _lock = self.inner.lock(&lock_key(id)).await;
        if !self.inner.tenant_exists(id)? {
            return Ok(false);
        }
        let mut batch = Batch::default();
        for change in changes {
            match tenant_codec::change(change) {
                (field, Some(value)) => batch.put(CF_TENANT_FIELDS, field_key(id, &field), value),
                (field, None) => batch.delete(CF_TENANT_FIELDS, field_key(id, &field)),
            }
        }
        self.inner.commit_tenant(batch).await?;
        Ok(true)
    }

    pub(super) async fn delete(&self, id: &str) -> Result<bool, StoreError> {
        let _lock = self.inner.lock(&lock_key(id)).await;
        let legacy = self.inner.legacy_tenant(id)?.is_some();
        let inner = Arc::clone(&self.inner);
        let owned = id.to_owned();
        let fields = run_blocking(move || inner.tenant_fields(&owned)).await?;
        if fields.is_empty() && !legacy {
            return Ok(false);
        }
        let mut batch = Batch::default();
        for (field, _) in fields {
            batch.delete(CF_TENANT_FIELDS, field_key(id, &field));
        }
        if legacy {
            batch.delete(CF_TENANTS, id.as_bytes());
        }
        self.inner.commit_tenant(batch).await?;
        Ok(true)
    }

    pub(super) fn generation(&self) -> u64 {
        self.inner.tenant_generation.load(Ordering::Acquire)
    }
}

async fn run_blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| StoreError::Task(e.to_string()))?
}

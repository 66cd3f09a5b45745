//! Tenant records in Redis: one hash per tenant (`_tenant_fields`, under the tenant's hash tag),
//! one hash field per record field (see [`crate::store::tenant_codec`]). Every write is one
//! script on the tenant's shard that checks existence and writes only its own fields, so nodes
//! changing different fields at once never overwrite each other.
//!
//! The index of tenant ids and the generation counter are global keys (another slot in a
//! cluster): the index is written before a create and after a delete, so a listed id without a
//! record is skipped, and a record is never missing from the list; the generation is bumped
//! after every write, with the tenant's id in the change feed (`super::feed`), so a follower
//! that sees it move reads the write.

use super::RedisStore;
use crate::store::key::Key;
use crate::store::tenant_codec;
use crate::store::{StoreError, TenantChange, TenantRecord};

/// Global set of tenant ids (the only keys without a tenant tag; admin reads only).
pub(super) const TENANT_INDEX: &[u8] = b"aupgate:tenants";
pub(super) const TENANT_GENERATION: &[u8] = b"aupgate:tenants:generation";

const CREATE: u8 = 0;
const SEED: u8 = 1;
const UPDATE: u8 = 2;

/// At most this many records are read at once when listing.
const LIST_CONCURRENCY: usize = 64;

fn fields_key(id: &str) -> Vec<u8> {
    Key::new("_tenant_fields", id).redis_key()
}

fn legacy_key(id: &str) -> Vec<u8> {
    Key::new("_tenant", id).redis_key()
}

impl RedisStore {
    async fn tenant_write(
        &self,
        id: &str,
        mode: u8,
        legacy: &[u8],
        writes: Vec<tenant_codec::FieldWrite>,
    ) -> Result<i64, StoreError> {
        let mut inv = self.scripts.tenant_write.prepare_invoke();
        inv.key(fields_key(id))
            .key(legacy_key(id))
            .arg(mode)
            .arg(tenant_codec::id_field())
            .arg(legacy);
        for (field, value) in writes {
            match value {
                Some(value) => inv.arg("p").arg(field).arg(value),
                None => inv.arg("d").arg(field).arg(""),
            };
        }
        let written: i64 = self.script(&inv).await?;
        if written == 1 {
            self.note_tenant_change(id).await?;
        }
        Ok(written)
    }

    fn whole(rec: &TenantRecord) -> Vec<tenant_codec::FieldWrite> {
        tenant_codec::record(rec)
            .into_iter()
            .map(|(f, v)| (f, Some(v)))
            .collect()
    }

    pub(super) async fn tenant_read(&self, id: &str) -> Result<Option<TenantRecord>, StoreError> {
        let fields: tenant_codec::Fields = self.cmd(redis::cmd("HGETALL").arg(fields_key(id))).await?;
        if let Some(rec) = tenant_codec::decode(fields)? {
            return Ok(Some(rec));
        }
        let legacy: Option<Vec<u8>> = self.cmd(redis::cmd("GET").arg(legacy_key(id))).await?;
        legacy.map(|bytes| tenant_codec::from_legacy(&bytes)).transpose()
    }

    pub(super) async fn tenant_read_all(&self) -> Result<Vec<TenantRecord>, StoreError> {
        use futures_util::stream::{self, StreamExt, TryStreamExt};
        let mut ids: Vec<String> = self.cmd(redis::cmd("SMEMBERS").arg(TENANT_INDEX)).await?;
        ids.sort();
        let reads = ids.into_iter().map(|id| async move { self.tenant_read(&id).await });
        let records: Vec<Option<TenantRecord>> = stream::iter(reads).buffered(LIST_CONCURRENCY).try_collect().await?;
        Ok(records.into_iter().flatten().collect())
    }

    pub(super) async fn create(&self, rec: &TenantRecord) -> Result<bool, StoreError> {
        let _: i64 = self.cmd(redis::cmd("SADD").arg(TENANT_INDEX).arg(&rec.id)).await?;
        Ok(self.tenant_write(&rec.id, CREATE, b"", Self::whole(rec)).await? == 1)
    }

    pub(super) async fn seed(&self, rec: &TenantRecord) -> Result<bool, StoreError> {
        let _: i64 = self.cmd(redis::cmd("SADD").arg(TENANT_INDEX).arg(&rec.id)).await?;
        // A node of an earlier version may rewrite its legacy record meanwhile: the script
        // refuses then, and the merge is made again from what it wrote.
        for _ in 0..5 {
            let legacy: Option<Vec<u8>> = self.cmd(redis::cmd("GET").arg(legacy_key(&rec.id))).await?;
            let merged = match &legacy {
                Some(bytes) => tenant_codec::merge_legacy(tenant_codec::from_legacy(bytes)?, rec),
                None => rec.clone(),
            };
            let written = self
                .tenant_write(
                    &rec.id,
                    SEED,
                    legacy.as_deref().unwrap_or_default(),
                    Self::whole(&merged),
                )
                .await?;
            if written >= 0 {
                return Ok(written == 1);
            }
        }
        Err(StoreError::corrupt(
            "tenant",
            format!("`{}` keeps changing under its seed", rec.id),
        ))
    }

    pub(super) async fn update(&self, id: &str, changes: &[TenantChange]) -> Result<bool, StoreError> {
        let writes = changes.iter().map(tenant_codec::change).collect();
        Ok(self.tenant_write(id, UPDATE, b"", writes).await? == 1)
    }

    pub(super) async fn delete(&self, id: &str) -> Result<bool, StoreError> {
        let deleted: i64 = self
            .cmd(redis::cmd("DEL").arg(fields_key(id)).arg(legacy_key(id)))
            .await?;
        let _: i64 = self.cmd(redis::cmd("SREM").arg(TENANT_INDEX).arg(id)).await?;
        if deleted > 0 {
            self.note_tenant_change(id).await?;
        }
        Ok(deleted > 0)
    }

    pub(super) async fn generation(&self) -> Result<u64, StoreError> {
        let generation: Option<u64> = self.cmd(redis::cmd("GET").arg(TENANT_GENERATION)).await?;
        Ok(generation.unwrap_or(0))
    }
}

//! Tenant API tokens in RocksDB (`api_tokens` column family): one JSON record per token, keyed
//! by (tenant, id), so a tenant's tokens are one contiguous range. Only hashes are stored.

use super::writer::Batch;
use super::{Inner, CF_API_TOKENS};
use crate::store::key::push_part;
use crate::store::{ApiToken, StoreError};

fn token_key(tenant: &str, id: &str) -> Vec<u8> {
    let mut k = tenant_prefix(tenant);
    push_part(&mut k, id.as_bytes());
    k
}

fn tenant_prefix(tenant: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(8 + tenant.len() + 24);
    push_part(&mut k, tenant.as_bytes());
    k
}

impl Inner {
    pub(crate) async fn api_token_put(&self, token: &ApiToken) -> Result<(), StoreError> {
        let mut batch = Batch::default();
        batch.put(
            CF_API_TOKENS,
            token_key(&token.tenant, &token.id),
            serde_json::to_vec(token)?,
        );
        self.writer.commit(batch).await
    }

    pub(crate) fn api_token_get(&self, tenant: &str, id: &str) -> Result<Option<ApiToken>, StoreError> {
        self.writer.read(&self.db, CF_API_TOKENS, &token_key(tenant, id), |v| {
            serde_json::from_slice(v).map_err(StoreError::from)
        })
    }

    /// Blocking (a barrier and a scan): only on the blocking pool.
    pub(crate) fn api_token_list(&self, tenant: &str) -> Result<Vec<ApiToken>, StoreError> {
        self.writer.barrier()?;
        let prefix = tenant_prefix(tenant);
        let mut options = rocksdb::ReadOptions::default();
        options.set_iterate_lower_bound(prefix.clone());
        let mut it = self.db.raw_iterator_cf_opt(self.cf(CF_API_TOKENS)?, options);
        it.seek_to_first();
        let mut out = Vec::new();
        while let (Some(k), Some(v)) = (it.key(), it.value()) {
            if !k.starts_with(&prefix) {
                break;
            }
            out.push(serde_json::from_slice::<ApiToken>(v)?);
            it.next();
        }
        it.status()?;
        out.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(out)
    }

    pub(crate) async fn api_token_remove(&self, tenant: &str, id: &str) -> Result<bool, StoreError> {
        let k = token_key(tenant, id);
        let _guard = self.lock(&k).await;
        let existed = self.writer.read(&self.db, CF_API_TOKENS, &k, |_| Ok(()))?.is_some();
        if existed {
            let mut batch = Batch::default();
            batch.delete(CF_API_TOKENS, k);
            self.writer.commit(batch).await?;
        }
        Ok(existed)
    }
}

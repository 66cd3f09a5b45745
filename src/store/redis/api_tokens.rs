//! Tenant API tokens in Redis: one hash per tenant (`_apitok`, hash-tagged by tenant like every
//! tenant key), field = token id, value = the JSON record. Only hashes are stored.

use super::RedisStore;
use crate::store::{ApiToken, Key, StoreError};

fn tokens_key(tenant: &str) -> Vec<u8> {
    Key::new("_apitok", tenant).redis_key()
}

impl RedisStore {
    pub(crate) async fn put_api_token(&self, token: &ApiToken) -> Result<(), StoreError> {
        let _: i64 = self
            .cmd(
                redis::cmd("HSET")
                    .arg(tokens_key(&token.tenant))
                    .arg(&token.id)
                    .arg(serde_json::to_vec(token)?),
            )
            .await?;
        Ok(())
    }

    pub(crate) async fn get_api_token(&self, tenant: &str, id: &str) -> Result<Option<ApiToken>, StoreError> {
        let value: Option<Vec<u8>> = self.cmd(redis::cmd("HGET").arg(tokens_key(tenant)).arg(id)).await?;
        value
            .map(|v| serde_json::from_slice(&v).map_err(StoreError::from))
            .transpose()
    }

    pub(crate) async fn list_api_tokens(&self, tenant: &str) -> Result<Vec<ApiToken>, StoreError> {
        let values: Vec<Vec<u8>> = self.cmd(redis::cmd("HVALS").arg(tokens_key(tenant))).await?;
        let mut out = values
            .iter()
            .map(|v| serde_json::from_slice::<ApiToken>(v).map_err(StoreError::from))
            .collect::<Result<Vec<_>, _>>()?;
        out.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(out)
    }

    pub(crate) async fn remove_api_token(&self, tenant: &str, id: &str) -> Result<bool, StoreError> {
        let removed: i64 = self.cmd(redis::cmd("HDEL").arg(tokens_key(tenant)).arg(id)).await?;
        Ok(removed > 0)
    }
}

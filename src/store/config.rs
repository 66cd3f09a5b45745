//! `[store]` configuration and [`open_store`], which turns it into a running store.
//!
//! Opening validates everything and connects: a store that cannot be reached is an error at
//! startup, never a store that silently answers zero.

use std::path::Path;
use std::sync::Arc;

use super::{redis::RedisStore, rocks::RocksStore, RateStore, StoreError};
pub use crate::config::{StoreBackend as Backend, StoreConfig};

/// Opens the configured store (a RocksDB under `<data_dir>/store` by default, or a Redis
/// connection checked with PING). The config was validated when it was loaded.
pub async fn open_store(cfg: &StoreConfig, data_dir: &Path) -> Result<Arc<dyn RateStore>, StoreError> {
    match cfg.backend {
        Backend::Rocksdb => {
            let path = cfg.path.clone().unwrap_or_else(|| data_dir.join("store"));
            let retention = cfg.log_retention.get();
            let store = tokio::task::spawn_blocking(move || RocksStore::open(&path, retention))
                .await
                .map_err(|e| StoreError::Task(e.to_string()))??;
            Ok(Arc::new(store))
        }
        Backend::Redis => {
            if cfg.urls.is_empty() {
                return Err(StoreError::Config("store.backend = \"redis\" needs store.urls".into()));
            }
            let store = RedisStore::connect(&cfg.urls, cfg.redis_timeout.get(), cfg.log_retention.get()).await?;
            Ok(Arc::new(store))
        }
    }
}

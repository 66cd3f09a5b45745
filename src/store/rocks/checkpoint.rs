//! A consistent copy of the running store (`RateStore::checkpoint`): what the online backup
//! (`crate::backup`) takes. It waits until every write queued so far is applied (the store
//! writes behind, see `writer.rs`), then has RocksDB write a checkpoint: hard links to the table
//! files where the target is on the same file system, copies elsewhere, and the live memtables
//! flushed first, so the copy opens as a database of its own. It never changes the store.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rocksdb::checkpoint::Checkpoint;

use super::RocksStore;
use crate::store::StoreError;

impl RocksStore {
    /// Writes a checkpoint of the store into `dir`, which must not exist yet.
    pub(crate) async fn checkpoint_into(&self, dir: &Path) -> Result<(), StoreError> {
        self.inner.writer.wait_applied(self.inner.writer.submitted()).await?;
        let inner = Arc::clone(&self.inner);
        let dir: PathBuf = dir.to_path_buf();
        tokio::task::spawn_blocking(move || -> Result<(), StoreError> {
            Checkpoint::new(inner.db.as_ref())?.create_checkpoint(&dir)?;
            Ok(())
        })
        .await
        .map_err(|e| StoreError::Task(e.to_string()))?
    }
}

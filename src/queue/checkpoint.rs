//! A consistent copy of the running queue: what the online backup (`crate::backup`) takes.
//! RocksDB writes a checkpoint (hard links to the table files on the same file system, copies
//! elsewhere; the memtables flushed first) that opens as a queue of its own. Entries delivered
//! but not yet removed by the remover thread may be in it: a restore then delivers them again
//! (a duplicate, never a loss). It never changes the queue.

use std::path::Path;

use rocksdb::checkpoint::Checkpoint;

use super::{off_runtime, Queue, QueueError};

impl Queue {
    /// Writes a checkpoint of the queue into `dir`, which must not exist yet.
    pub async fn checkpoint(&self, dir: &Path) -> Result<(), QueueError> {
        let inner = self.inner.clone();
        let dir = dir.to_path_buf();
        off_runtime(move || {
            Checkpoint::new(inner.db.as_ref())?.create_checkpoint(&dir)?;
            Ok(())
        })
        .await
    }
}

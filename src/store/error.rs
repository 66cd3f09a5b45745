//! The one error type of the store. Every variant means "the store could not answer": the caller
//! must defer (451 4.3.0), never treat it as a zero count or an empty list.

use thiserror::Error;

/// Why a store operation failed.
#[derive(Debug, Error)]
pub enum StoreError {
    /// RocksDB refused a read or write (disk full, I/O error, corruption).
    #[error("rocksdb: {0}")]
    Rocks(#[from] rocksdb::Error),
    /// The rate store's writer could not write (an earlier RocksDB write failed: disk full, I/O
    /// error); every operation fails until the gateway is restarted.
    #[error("rocksdb write failed: {0}")]
    Write(String),
    /// Redis was unreachable, timed out, or a script failed.
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
    /// A stored value could not be decoded; the data is not trusted.
    #[error("corrupt {what} record: {detail}")]
    Corrupt {
        /// Which kind of record.
        what: &'static str,
        /// What was wrong with it.
        detail: String,
    },
    /// A record could not be encoded or decoded as JSON.
    #[error("json: {0}")]
    Json(#[from] serde_json::Error),
    /// The caller passed something the store cannot honour (zero window, oversized cap...).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// The store configuration is unusable.
    #[error("store config: {0}")]
    Config(String),
    /// A blocking task running a store operation panicked or was cancelled.
    #[error("store task failed: {0}")]
    Task(String),
}

impl StoreError {
    pub(crate) fn corrupt(what: &'static str, detail: impl Into<String>) -> Self {
        StoreError::Corrupt {
            what,
            detail: detail.into(),
        }
    }
}

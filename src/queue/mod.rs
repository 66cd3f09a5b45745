//! The durable queue (Postfix's `cleanup` + `qmgr` bookkeeping): messages and their envelopes in a
//! RocksDB of their own, written and fsynced before the session says `250`; the schedule of due
//! deliveries; crash recovery. A corrupt entry is moved to the `quarantine` column family and
//! logged, never retried in a loop. It never delivers anything itself (that is `relay`).

mod checkpoint;
mod entry;
mod remover;
mod schedule;
mod writer;

use std::path::Path;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use rocksdb::{ColumnFamilyDescriptor, IteratorMode, Options, WriteBatch, WriteOptions, DB};

use crate::health::Health;
pub use entry::{BodyType, MailParams, QueueEntry, RecipientState, RecipientStatus, FORMAT_VERSION};
use schedule::Schedule;

const CF_META: &str = "meta";
const CF_BODY: &str = "body";
const CF_QUARANTINE: &str = "quarantine";

/// Queue failures. Each one becomes `451 4.3.0` at the session: never a silent accept.
#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error("queue database: {0}")]
    Db(#[from] rocksdb::Error),
    #[error("queue entry {0} is corrupt and was quarantined")]
    Corrupt(String),
    #[error("queue entry {0} not found")]
    NotFound(String),
    #[error("queue worker failed: {0}")]
    Worker(String),
}

/// Handle to the queue; cheap to clone.
#[derive(Clone)]
pub struct Queue {
    inner: Arc<Inner>,
}

struct Inner {
    db: Arc<DB>,
    schedule: Schedule,
    counter: AtomicU32,
    /// Whether writes succeed (a full disk makes them fail; RocksDB resumes by itself once
    /// there is room again, see [`Queue::probe`]).
    health: Arc<Health>,
    /// Deletes finished entries, in batches, on its own thread.
    remover: remover::Remover,
    /// Writes new entries durably, in batches, on its own thread.
    writer: writer::Writer,
}

impl Inner {
    /// Reports a write's outcome to the health tracker.
    fn track<T>(&self, result: Result<T, rocksdb::Error>) -> Result<T, QueueError> {
        match &result {
            Ok(_) => self.health.succeeded(),
            Err(error) => self.health.failed(error),
        }
        Ok(result?)
    }
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

impl Queue {
    /// Opens (or creates) the queue at `path` and schedules every entry found (crash recovery).
    /// Blocking: from async code, call it on the blocking pool.
    pub fn open(path: &Path) -> Result<Queue, QueueError> {
        let mut options = Options::default();
        options.create_if_missing(true);
        options.create_missing_column_families(true);
        // Bodies are large and short-lived: keep them out of the memtable-heavy defaults' way.
        options.set_max_total_wal_size(256 << 20);
        // New entries are written by one thread (`writer`), removals by another: parallel
        // memtable inserts would cost more in wake-ups than they save (see the rate store).
        options.set_allow_concurrent_memtable_write(false);
        let families = [CF_META, CF_BODY, CF_QUARANTINE]
            .into_iter()
            .map(|name| ColumnFamilyDescriptor::new(name, Options::default()));
        let db = Arc::new(DB::open_cf_descriptors(&options, path, families)?);
        let health = Arc::new(Health::new("queue"));
        let remover = remover::Remover::start(Arc::clone(&db), Arc::clone(&health))?;
        let writer = writer::Writer::start(Arc::clone(&db), Arc::clone(&health))?;
        let queue = Queue {
            inner: Arc::new(Inner {
                db,
                schedule: Schedule::default(),
                counter: AtomicU32::new(rand::random()),
                health,
                remover,
                writer,
            }),
        };
        queue.recover()?;
        Ok(queue)
    }

    /// A new, unique queue id (time-ordered hex).
    pub fn new_id(&self) -> String {
        let sequence = self.inner.counter.fetch_add(1, Ordering::Relaxed);
        let micros = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_micros() as u64)
            .unwrap_or(0);
        format!("{micros:014X}{sequence:08X}")
    }

    /// Writes the entry and its body durably (fsync; entries handed over at the same moment
    /// share one write and its fsync, see `writer`) and schedules it for delivery now. Only
    /// after this returns `Ok` may the session reply `250`.
    pub async fn enqueue(&self, entry: QueueEntry, body: Vec<u8>) -> Result<(), QueueError> {
        let id = entry.id.clone();
        let due = entry.next_attempt_ms;
        self.inner.writer.write(id.clone(), entry.encode(), body).await?;
        self.inner.schedule.insert(due, id);
        Ok(())
    }

    /// Waits until an entry is due and takes it off the schedule.
    pub async fn next_due(&self) -> String {
        self.inner.schedule.next_due(now_ms).await
    }

    /// Reads an entry and its body (on the blocking pool: the body may come from disk). A
    /// corrupt entry is quarantined and reported as `Corrupt`.
    pub async fn load(&self, id: &str) -> Result<(QueueEntry, Vec<u8>), QueueError> {
        let queue = self.clone();
        let id = id.to_owned();
        off_runtime(move || queue.load_blocking(&id)).await
    }

    fn load_blocking(&self, id: &str) -> Result<(QueueEntry, Vec<u8>), QueueError> {
        let inner = &self.inner;
        let meta = inner.db.get_cf(inner.cf(CF_META), id.as_bytes())?;
        let Some(meta) = meta else {
            return Err(QueueError::NotFound(id.into()));
        };
        let body = inner.db.get_cf(inner.cf(CF_BODY), id.as_bytes())?;
        match (QueueEntry::decode(&meta), body) {
            (Some(entry), Some(body)) if entry.id == id => Ok((entry, body)),
            _ => {
                self.quarantine(id, &meta)?;
                Err(QueueError::Corrupt(id.into()))
            }
        }
    }

    /// Saves an entry's changed delivery state and schedules its next attempt. The write is on
    /// the blocking pool: even unsynced, it may wait in RocksDB's write group behind a session's
    /// fsync, or in a write stall.
    pub async fn reschedule(&self, entry: &QueueEntry) -> Result<(), QueueError> {
        let inner = Arc::clone(&self.inner);
        let id = entry.id.clone();
        let meta = entry.encode();
        off_runtime(move || inner.track(inner.db.put_cf(inner.cf(CF_META), id.as_bytes(), meta))).await?;
        self.inner.schedule.insert(entry.next_attempt_ms, entry.id.clone());
        Ok(())
    }

    /// Puts an id back on the schedule without touching its stored state (after a read failure).
    pub fn requeue_id(&self, id: &str, due_ms: u64) {
        self.inner.schedule.insert(due_ms, id.to_string());
    }

    /// Removes a finished entry (delivered, or failed and bounced): hands it to the queue's
    /// remover thread, which deletes it with the others in one write and logs a failure (see
    /// `remover.rs`). Never waits.
    pub fn remove(&self, id: &str) {
        self.inner.remover.remove(id.to_owned());
    }

    /// Whether the queue's writes succeed.
    pub fn health(&self) -> &Health {
        &self.inner.health
    }

    /// One small synced write (blocking: call it on the blocking pool), to learn whether writes succeed again while the queue is
    /// degraded. RocksDB stops writing after a failed WAL write and resumes by itself (its
    /// `SstFileManager` polls for free space every 5 s and flushes); this write sees when it has.
    pub fn probe(&self) {
        let inner = &self.inner;
        let mut write = WriteOptions::default();
        write.set_sync(true);
        let _ = inner.track(inner.db.put_opt(b"health-probe", now_ms().to_be_bytes(), &write));
    }

    /// When the oldest entry waiting in the schedule was queued (unix ms), from its id.
    pub fn oldest_waiting_ms(&self) -> Option<u64> {
        let id = self.inner.schedule.oldest_id()?;
        let micros = u64::from_str_radix(id.get(..14)?, 16).ok()?;
        Some(micros / 1000)
    }

    /// Number of entries waiting in the schedule (not counting deliveries in flight).
    pub fn scheduled(&self) -> usize {
        self.inner.schedule.len()
    }

    /// Number of entries stored: scheduled, in delivery, or settled but not yet removed (a scan on
    /// the blocking pool: tests and tools). Unlike [`Queue::scheduled`] it counts deliveries in
    /// flight, so it is 0 only once every message, and every DSN one caused, has left the queue.
    pub async fn stored(&self) -> Result<usize, QueueError> {
        let inner = Arc::clone(&self.inner);
        off_runtime(move || {
            let mut count = 0;
            for item in inner.db.iterator_cf(inner.cf(CF_META), IteratorMode::Start) {
                item?;
                count += 1;
            }
            Ok(count)
        })
        .await
    }

    /// Number of stored entries of one tenant (a scan of the entries' envelopes on the blocking
    /// pool: the admin plane asks before deleting a tenant). An entry that does not decode counts,
    /// since it may be the tenant's.
    pub async fn stored_for_tenant(&self, tenant: &str) -> Result<usize, QueueError> {
        let inner = Arc::clone(&self.inner);
        let tenant = tenant.to_owned();
        off_runtime(move || {
            let mut count = 0;
            for item in inner.db.iterator_cf(inner.cf(CF_META), IteratorMode::Start) {
                let (_, meta) = item?;
                if QueueEntry::decode(&meta).is_none_or(|entry| entry.tenant == tenant) {
                    count += 1;
                }
            }
            Ok(count)
        })
        .await
    }

    /// Ids of quarantined entries (a blocking scan: tests and tools).
    pub fn quarantined(&self) -> Vec<String> {
        let inner = &self.inner;
        inner
            .db
            .iterator_cf(inner.cf(CF_QUARANTINE), IteratorMode::Start)
            .filter_map(Result::ok)
            .map(|(key, _)| String::from_utf8_lossy(&key).into_owned())
            .collect()
    }

    /// Writes the removals handed over so far, then flushes the WAL to disk (used at shutdown),
    /// on the blocking pool.
    pub async fn flush(&self) -> Result<(), QueueError> {
        self.inner.remover.flush().await;
        let inner = Arc::clone(&self.inner);
        off_runtime(move || Ok(inner.db.flush_wal(true)?)).await
    }

    fn recover(&self) -> Result<(), QueueError> {
        let inner = &self.inner;
        let mut corrupt = Vec::new();
        let mut recovered = 0usize;
        for item in inner.db.iterator_cf(inner.cf(CF_META), IteratorMode::Start) {
            let (key, value) = item?;
            let id = String::from_utf8_lossy(&key).into_owned();
            match QueueEntry::decode(&value) {
                Some(entry) if entry.id == id => {
                    inner.schedule.insert(entry.next_attempt_ms, id);
                    recovered += 1;
                }
                _ => corrupt.push((id, value.to_vec())),
            }
        }
        for (id, raw) in corrupt {
            self.quarantine(&id, &raw)?;
        }
        if recovered > 0 {
            tracing::info!(recovered, "queue recovered entries");
        }
        Ok(())
    }

    fn quarantine(&self, id: &str, raw_meta: &[u8]) -> Result<(), QueueError> {
        let inner = &self.inner;
        tracing::error!(queue_id = id, "corrupt queue entry quarantined");
        let mut batch = WriteBatch::default();
        batch.put_cf(inner.cf(CF_QUARANTINE), id.as_bytes(), raw_meta);
        batch.delete_cf(inner.cf(CF_META), id.as_bytes());
        inner.db.write(batch)?;
        Ok(())
    }

    /// Writes raw bytes as an entry's metadata. Only for tests that corrupt the queue on purpose.
    #[doc(hidden)]
    pub fn write_raw_meta_for_test(&self, id: &str, raw: &[u8]) -> Result<(), QueueError> {
        let inner = &self.inner;
        inner.db.put_cf(inner.cf(CF_META), id.as_bytes(), raw)?;
        Ok(())
    }

    /// Writes raw metadata and a body, as an older release left them in the spool. Only for
    /// tests of upgrades.
    #[doc(hidden)]
    pub fn write_raw_entry_for_test(&self, id: &str, raw_meta: &[u8], body: &[u8]) -> Result<(), QueueError> {
        let inner = &self.inner;
        inner.db.put_cf(inner.cf(CF_BODY), id.as_bytes(), body)?;
        inner.db.put_cf(inner.cf(CF_META), id.as_bytes(), raw_meta)?;
        Ok(())
    }
}

/// Runs a blocking queue operation on the blocking pool: a runtime thread never waits for the
/// disk.
async fn off_runtime<T: Send + 'static>(
    op: impl FnOnce() -> Result<T, QueueError> + Send + 'static,
) -> Result<T, QueueError> {
    tokio::task::spawn_blocking(op)
        .await
        .map_err(|e| QueueError::Worker(e.to_string()))?
}

impl Inner {
    fn cf(&self, name: &str) -> &rocksdb::ColumnFamily {
        // The families are created at open; a missing one is a programming error.
        self.db
            .cf_handle(name)
            .unwrap_or_else(|| panic!("queue column family {name} missing"))
    }
}

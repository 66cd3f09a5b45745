//! Writes new queue entries durably on a thread of its own: the group commit of the sessions'
//! `250`s.
//!
//! Each session's entry (its envelope and body) must be fsynced before the session says `250`.
//! Done on the blocking pool, every session's write took a pool thread of its own, and those
//! threads met in RocksDB's write group: one leader wrote and fsynced for all, while each
//! follower spun, then slept, and was woken on its own (a futex call and a context switch per
//! message, on the 2-core bench machine about a seventh of the gateway's CPU). Here sessions
//! hand their entry to this thread and wait for its answer as tasks; the thread writes whatever
//! was handed over since its last write as one `WriteBatch`, with one fsync, and answers each.
//!
//! - An entry is written whole or not at all (its envelope and body are in the same batch), and
//!   a session is answered only after the fsync of the batch that holds its entry.
//! - A failed write is every caller's error in that batch (each says `451`); the queue's health
//!   hears of it, as of any write.
//! - A batch holds at most [`MAX_BATCH_BYTES`] of bodies (more waits for the next write), so a
//!   burst of large messages is not one huge write.
//! - A panic while writing a batch is that batch's callers' error (`451`), and the thread goes
//!   on with the next; should the thread be gone all the same, every caller gets an error,
//!   never a hang, and the queue's health says it is degraded.

use std::sync::mpsc;
use std::sync::Arc;
use std::thread::JoinHandle;

use rocksdb::{WriteBatch, WriteOptions, DB};
use tokio::sync::oneshot;

use super::{QueueError, CF_BODY, CF_META};
use crate::health::Health;

/// The most body bytes one write carries (at least one entry, however large).
const MAX_BATCH_BYTES: usize = 32 << 20;

/// Why a batch was not written.
#[derive(Clone, Debug)]
enum Failure {
    Db(rocksdb::Error),
    Worker(String),
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Db(error) => write!(f, "queue database: {error}"),
            Failure::Worker(what) => f.write_str(what),
        }
    }
}

impl From<Failure> for QueueError {
    fn from(failure: Failure) -> QueueError {
        match failure {
            Failure::Db(error) => QueueError::Db(error),
            Failure::Worker(what) => QueueError::Worker(what),
        }
    }
}

/// One entry to write, and where its outcome goes.
struct Pending {
    id: String,
    meta: Vec<u8>,
    body: Vec<u8>,
    done: oneshot::Sender<Result<(), Failure>>,
}

/// The writer thread and its channel.
pub(super) struct Writer {
    tx: Option<mpsc::Sender<Pending>>,
    thread: Option<JoinHandle<()>>,
    health: Arc<Health>,
}

impl Writer {
    pub(super) fn start(db: Arc<DB>, health: Arc<Health>) -> Result<Writer, QueueError> {
        let (tx, rx) = mpsc::channel();
        let thread_health = Arc::clone(&health);
        let thread = std::thread::Builder::new()
            .name("aupgate-queue-writer".into())
            .spawn(move || {
                run(&db, &thread_health, &rx, MAX_BATCH_BYTES);
            })
            .map_err(|e| QueueError::Worker(format!("starting the queue writer: {e}")))?;
        Ok(Writer {
            tx: Some(tx),
            thread: Some(thread),
            health,
        })
    }

    /// Writes entry `id` (its encoded envelope and its body) and fsyncs it, together with the
    /// entries other sessions hand over meanwhile.
    pub(super) async fn write(&self, id: String, meta: Vec<u8>, body: Vec<u8>) -> Result<(), QueueError> {
        let started = std::time::Instant::now();
        let (done, outcome) = oneshot::channel();
        let gone = || {
            let error = QueueError::Worker("the queue writer is gone".into());
            self.health.failed(&error);
            error
        };
        let tx = self.tx.as_ref().ok_or_else(gone)?;
        tx.send(Pending { id, meta, body, done }).map_err(|_| gone())?;
        let outcome = outcome.await.map_err(|_| gone())?;
        crate::telemetry::queue_write(started.elapsed());
        Ok(outcome?)
    }
}

impl Drop for Writer {
    /// Writes what is still handed over, then stops the thread.
    fn drop(&mut self) {
        drop(self.tx.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Writes what `rx` hands over, each batch at most `max_bytes` of bodies (at least one entry),
/// until every sender is gone and everything handed over is written; returns how many writes
/// it made.
fn run(db: &DB, health: &Health, rx: &mpsc::Receiver<Pending>, max_bytes: usize) -> usize {
    let mut writes = 0;
    let mut carried: Option<Pending> = None;
    loop {
        let first = match carried.take() {
            Some(pending) => pending,
            None => match rx.recv() {
                Ok(pending) => pending,
                Err(_) => return writes,
            },
        };
        let mut bytes = first.body.len();
        let mut batch = vec![first];
        while let Ok(pending) = rx.try_recv() {
            if bytes + pending.body.len() > max_bytes {
                carried = Some(pending);
                break;
            }
            bytes += pending.body.len();
            batch.push(pending);
        }
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| write(db, &mut batch)))
            .unwrap_or_else(|_| Err(Failure::Worker("the queue writer failed (a panic)".into())));
        writes += 1;
        match &outcome {
            Ok(()) => health.succeeded(),
            Err(error) => {
                health.failed(error);
                tracing::error!(entries = batch.len(), %error, "cannot write new queue entries");
            }
        }
        for pending in batch {
            let _ = pending.done.send(outcome.clone());
        }
    }
}

/// One synced write of every entry in `batch` (their bodies are freed before the fsync).
fn write(db: &DB, batch: &mut [Pending]) -> Result<(), Failure> {
    let (Some(meta), Some(body)) = (db.cf_handle(CF_META), db.cf_handle(CF_BODY)) else {
        return Err(Failure::Worker("queue column families missing".into()));
    };
    let mut write = WriteBatch::default();
    for pending in batch.iter_mut() {
        write.put_cf(body, pending.id.as_bytes(), std::mem::take(&mut pending.body));
        write.put_cf(meta, pending.id.as_bytes(), &pending.meta);
    }
    let mut options = WriteOptions::default();
    options.set_sync(true);
    db.write_opt(write, &options).map_err(Failure::Db)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rocksdb::{ColumnFamilyDescriptor, Options};

    fn open(path: &std::path::Path, families: &[&str]) -> Arc<DB> {
        let mut options = Options::default();
        options.create_if_missing(true);
        options.create_missing_column_families(true);
        let families = families
            .iter()
            .map(|name| ColumnFamilyDescriptor::new(*name, Options::default()));
        Arc::new(DB::open_cf_descriptors(&options, path, families).expect("open"))
    }

    /// Entries handed over together are each written whole, and each caller is answered.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn entries_handed_over_together_are_each_written_whole() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = open(dir.path(), &[CF_META, CF_BODY]);
        let writer = Arc::new(Writer::start(Arc::clone(&db), Arc::new(Health::new("queue"))).expect("start"));
        let tasks: Vec<_> = (0..20)
            .map(|i| {
                let writer = Arc::clone(&writer);
                tokio::spawn(async move {
                    writer
                        .write(format!("id{i}"), format!("meta{i}").into_bytes(), vec![b'x'; i * 1000])
                        .await
                })
            })
            .collect();
        for task in tasks {
            task.await.expect("task").expect("written");
        }
        let (meta, body) = (
            db.cf_handle(CF_META).expect("meta"),
            db.cf_handle(CF_BODY).expect("body"),
        );
        for i in 0..20 {
            let id = format!("id{i}");
            assert_eq!(
                db.get_cf(meta, &id).expect("get"),
                Some(format!("meta{i}").into_bytes())
            );
            assert_eq!(db.get_cf(body, &id).expect("get"), Some(vec![b'x'; i * 1000]));
        }
    }

    /// A write that fails is the error of every caller in it, and the queue's health hears of
    /// it: nobody is told the entry is stored.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failed_write_is_every_callers_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        // A database without the queue's families: every write fails.
        let db = open(dir.path(), &[]);
        let health = Arc::new(Health::new("queue"));
        let writer = Arc::new(Writer::start(db, Arc::clone(&health)).expect("start"));
        let tasks: Vec<_> = (0..5)
            .map(|i| {
                let writer = Arc::clone(&writer);
                tokio::spawn(async move { writer.write(format!("id{i}"), b"meta".to_vec(), b"body".to_vec()).await })
            })
            .collect();
        for task in tasks {
            let error = task.await.expect("task").expect_err("a failed write");
            assert!(error.to_string().contains("column families missing"), "{error}");
        }
        assert!(health.degraded().is_some(), "the queue is reported degraded");
    }

    /// Entries waiting together share one write, as long as their bodies fit the batch; one
    /// that does not is carried to the next write, never lost or answered twice; and what was
    /// handed over before the last sender went away is still written.
    #[test]
    fn waiting_entries_share_a_write_up_to_the_batch_size() {
        for (max_bytes, writes) in [(2_000, 1), (1_000, 3)] {
            let dir = tempfile::tempdir().expect("tempdir");
            let db = open(dir.path(), &[CF_META, CF_BODY]);
            let (tx, rx) = mpsc::channel();
            let mut outcomes = Vec::new();
            for i in 0..3 {
                let (done, outcome) = oneshot::channel();
                tx.send(Pending {
                    id: format!("id{i}"),
                    meta: b"meta".to_vec(),
                    body: vec![b'x'; 600],
                    done,
                })
                .expect("send");
                outcomes.push(outcome);
            }
            drop(tx);
            assert_eq!(
                run(&db, &Health::new("queue"), &rx, max_bytes),
                writes,
                "limit {max_bytes}"
            );
            for mut outcome in outcomes {
                assert!(matches!(outcome.try_recv(), Ok(Ok(()))), "answered once, with success");
            }
            let body = db.cf_handle(CF_BODY).expect("body");
            for i in 0..3 {
                assert_eq!(db.get_cf(body, format!("id{i}")).expect("get"), Some(vec![b'x'; 600]));
            }
        }
    }
}

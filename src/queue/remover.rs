//! Removes finished queue entries on a thread of its own, many in one write.
//!
//! A delivery ends with its entry's removal. Done on the blocking pool, each removal would cost
//! a thread hand-off and back (tens of µs of CPU on the 2-core bench machine) for a write nobody
//! waits for; done inline, the write could wait in RocksDB's write group behind a session's fsync.
//! So the relay hands the id to this thread and goes on; the thread lets removals gather for a
//! few ms and deletes everything handed to it since its last write in one `WriteBatch` (unsynced, as before: after a crash an entry whose
//! removal was lost is delivered again, never lost). A failed write is logged and marks the queue
//! degraded, as the relay did before. [`Remover::flush`] waits until every removal handed over
//! before it was written (shutdown).

use std::sync::mpsc;
use std::sync::Arc;
use std::thread::JoinHandle;

use rocksdb::{WriteBatch, DB};

use super::{QueueError, CF_BODY, CF_META};
use crate::health::Health;

/// Removals written at most in one batch.
const MAX_BATCH: usize = 4_096;
/// How long the thread lets removals gather after the first one wakes it: a sender wakes it (a
/// futex call, and a context switch) only while it waits in `recv`, so under load this is one
/// wake-up per 5 ms instead of one per delivered message.
const LINGER: std::time::Duration = std::time::Duration::from_millis(5);

enum Message {
    Remove(String),
    /// Answered once every removal handed over before it is written.
    Flush(tokio::sync::oneshot::Sender<()>),
}

/// The remover thread and its channel.
pub(super) struct Remover {
    tx: Option<mpsc::Sender<Message>>,
    thread: Option<JoinHandle<()>>,
}

impl Remover {
    pub(super) fn start(db: Arc<DB>, health: Arc<Health>) -> Result<Remover, QueueError> {
        let (tx, rx) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("aupgate-queue-remover".into())
            .spawn(move || run(&db, &health, &rx))
            .map_err(|e| QueueError::Worker(format!("starting the queue remover: {e}")))?;
        Ok(Remover {
            tx: Some(tx),
            thread: Some(thread),
        })
    }

    /// Hands `id` over for removal; never waits.
    pub(super) fn remove(&self, id: String) {
        if let Some(tx) = &self.tx {
            if tx.send(Message::Remove(id)).is_err() {
                tracing::error!("the queue remover is gone; a finished entry stays until restart");
            }
        }
    }

    /// Waits (as a task) until every removal handed over so far is written.
    pub(super) async fn flush(&self) {
        let (done, wait) = tokio::sync::oneshot::channel();
        if let Some(tx) = &self.tx {
            if tx.send(Message::Flush(done)).is_ok() {
                let _ = wait.await;
            }
        }
    }
}

impl Drop for Remover {
    /// Writes what is still handed over, then stops the thread.
    fn drop(&mut self) {
        drop(self.tx.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn run(db: &DB, health: &Health, rx: &mpsc::Receiver<Message>) {
    while let Ok(first) = rx.recv() {
        if matches!(first, Message::Remove(_)) {
            std::thread::sleep(LINGER);
        }
        let mut ids = Vec::new();
        let mut flushes = Vec::new();
        let mut next = Some(first);
        while let Some(message) = next.take() {
            match message {
                Message::Remove(id) => ids.push(id),
                Message::Flush(done) => flushes.push(done),
            }
            if ids.len() < MAX_BATCH {
                next = rx.try_recv().ok();
            }
        }
        if !ids.is_empty() {
            if let Err(error) = write(db, &ids) {
                health.failed(&error);
                tracing::error!(entries = ids.len(), %error, "cannot remove finished entries");
            } else {
                health.succeeded();
            }
        }
        for done in flushes {
            let _ = done.send(());
        }
    }
}

fn write(db: &DB, ids: &[String]) -> Result<(), QueueError> {
    let (Some(meta), Some(body)) = (db.cf_handle(CF_META), db.cf_handle(CF_BODY)) else {
        return Err(QueueError::Worker("queue column families missing".into()));
    };
    let mut batch = WriteBatch::default();
    for id in ids {
        batch.delete_cf(meta, id.as_bytes());
        batch.delete_cf(body, id.as_bytes());
    }
    Ok(db.write(batch)?)
}

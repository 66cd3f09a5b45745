//! Group commit for the writes every message makes and no check reads back at once: quota and
//! delivery-outcome charges (`counter_add_many`), audit and event records (`log_append`) and the
//! Message-ID index (`message_origin_put`).
//!
//! Each caller still waits until its own writes are applied (the semantics of a direct call: the
//! charge is counted before the `250`, an error reaches the caller), but callers that write at the
//! same moment share one round trip: the first to find no flush running applies everything queued
//! — per tenant one script call on its shard (with its Message-ID entries on a standalone server;
//! in a cluster each of those is one `SET` on its own shard) — while those arriving
//! meanwhile queue for the next flush. At line rate a flush carries the bookkeeping of several
//! sessions, so an accepted message costs a fraction of a call instead of three.
//!
//! The flush runs as its own task, so a caller that goes away (a closed session) cannot leave a
//! flush half done or the queue stuck.
//!
//! Must never: answer a caller before its writes are applied, or apply a write twice.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, PoisonError};

use redis::RedisError;
use tokio::sync::Notify;

use super::RedisStore;
use crate::store::StoreError;

/// One write of a flush.
pub(super) enum Write {
    /// A counter add at `at`: key (with its type suffix), n, window and bucket size (ms).
    Counter {
        key: Vec<u8>,
        n: u64,
        window: u64,
        bucket: u64,
        at: u64,
    },
    /// A log record: log key, sequence key, time, JSON, trim cutoff, expiry (ms).
    Log {
        log: Vec<u8>,
        seq: Vec<u8>,
        at: u64,
        json: Vec<u8>,
        cutoff: u64,
        ttl: u64,
    },
    /// `SET key value PX ttl NX` (a key with its own hash tag).
    SetNx { key: Vec<u8>, value: Vec<u8>, ttl: u64 },
}

/// Writes waiting for a flush, in arrival order, each under its caller's sequence number.
#[derive(Default)]
struct Queue {
    next: u64,
    /// Every sequence number up to this one has been applied.
    applied: u64,
    flushing: bool,
    /// (sequence, routing tenant, write).
    pending: Vec<(u64, String, Write)>,
    /// The failures of applied sequence numbers not yet collected by their callers.
    failed: HashMap<u64, RedisError>,
}

/// The group commit of one store (shared by its clones).
#[derive(Default)]
pub(super) struct Group {
    queue: Mutex<Queue>,
    done: Notify,
}

impl Group {
    fn lock(&self) -> std::sync::MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl RedisStore {
    /// Applies `writes` (of `tenant`, whose shard runs them; a `SetNx` goes to its own key's
    /// shard) together with whatever other callers are writing, and returns once they are
    /// applied.
    pub(super) async fn write_grouped(&self, tenant: &str, writes: Vec<Write>) -> Result<(), StoreError> {
        if writes.is_empty() {
            return Ok(());
        }
        let group = &self.group;
        let mine = {
            let mut queue = group.lock();
            queue.next += 1;
            let seq = queue.next;
            queue
                .pending
                .extend(writes.into_iter().map(|write| (seq, tenant.to_string(), write)));
            seq
        };
        // Let the callers that are ready at this moment queue theirs too before a flush starts
        // (the audit record and the Message-ID entry of one acceptance are written together).
        tokio::task::yield_now().await;
        loop {
            let done = group.done.notified();
            tokio::pin!(done);
            done.as_mut().enable();
            let batch = {
                let mut queue = group.lock();
                if queue.applied >= mine {
                    return match queue.failed.remove(&mine) {
                        Some(error) => Err(StoreError::Redis(error)),
                        None => Ok(()),
                    };
                }
                if queue.flushing {
                    None
                } else {
                    queue.flushing = true;
                    Some(std::mem::take(&mut queue.pending))
                }
            };
            if let Some(batch) = batch {
                // Its own task: the flush completes and wakes everyone even if this caller is
                // dropped meanwhile.
                let store = self.clone();
                let flush = tokio::spawn(async move { store.flush(batch).await });
                if flush.await.is_err() {
                    // The flush task panicked: nothing may stay marked as flushing.
                    let mut queue = group.lock();
                    queue.flushing = false;
                    group.done.notify_waiters();
                }
                continue;
            }
            done.await;
        }
    }

    /// Applies one batch and publishes its outcome.
    async fn flush(&self, batch: Vec<(u64, String, Write)>) {
        let last = batch.last().map(|(seq, _, _)| *seq).unwrap_or(0);
        let failed = self.apply(batch).await;
        let mut queue = self.group.lock();
        queue.failed.extend(failed);
        // A caller that went away never collects its failure: keep the map bounded.
        if queue.failed.len() > 10_000 {
            let horizon = last.saturating_sub(10_000);
            queue.failed.retain(|seq, _| *seq > horizon);
        }
        queue.applied = queue.applied.max(last);
        queue.flushing = false;
        drop(queue);
        self.group.done.notify_waiters();
    }

    /// Runs a batch: one script call per tenant, one `SET` per Message-ID, all at once. Returns
    /// the sequence numbers whose writes failed.
    async fn apply(&self, batch: Vec<(u64, String, Write)>) -> Vec<(u64, RedisError)> {
        let mut by_tenant: BTreeMap<String, (Vec<u64>, Vec<Write>)> = BTreeMap::new();
        let mut singles: Vec<(u64, Write)> = Vec::new();
        // A standalone server runs a tenant's Message-ID entries in the tenant's script too; in a
        // cluster they live on other shards (their own hash tag), so each is its own `SET`.
        let standalone = self.is_standalone();
        for (seq, tenant, write) in batch {
            if matches!(write, Write::SetNx { .. }) && !standalone {
                singles.push((seq, write));
            } else {
                let (seqs, writes) = by_tenant.entry(tenant).or_default();
                seqs.push(seq);
                writes.push(write);
            }
        }
        let scripts = by_tenant.iter().map(|(tenant, (seqs, writes))| async move {
            let mut inv = self.scripts.apply.prepare_invoke();
            inv.key(super::ops::rec_key("_batch", tenant));
            for write in writes {
                match write {
                    Write::Counter {
                        key,
                        n,
                        window,
                        bucket,
                        at,
                    } => {
                        inv.arg("a")
                            .arg(key.as_slice())
                            .arg(*n)
                            .arg(*window)
                            .arg(*bucket)
                            .arg(*at);
                    }
                    Write::Log {
                        log,
                        seq,
                        at,
                        json,
                        cutoff,
                        ttl,
                    } => {
                        inv.arg("l")
                            .arg(log.as_slice())
                            .arg(seq.as_slice())
                            .arg(*at)
                            .arg(json.as_slice())
                            .arg(*cutoff)
                            .arg(*ttl);
                    }
                    Write::SetNx { key, value, ttl } => {
                        inv.arg("x")
                            .arg(key.as_slice())
                            .arg(value.as_slice())
                            .arg((*ttl).max(1));
                    }
                }
            }
            let result: Result<i64, RedisError> = self.script(&inv).await;
            (seqs, result.err())
        });
        let sets = singles.iter().map(|(seq, write)| async move {
            let Write::SetNx { key, value, ttl } = write else {
                return (*seq, None);
            };
            let mut set = redis::cmd("SET");
            set.arg(key.as_slice())
                .arg(value.as_slice())
                .arg("PX")
                .arg((*ttl).max(1))
                .arg("NX");
            let result: Result<redis::Value, RedisError> = self.cmd(&set).await;
            (*seq, result.err())
        });
        let (scripts, sets) = tokio::join!(
            futures_util::future::join_all(scripts),
            futures_util::future::join_all(sets)
        );
        let mut failed = Vec::new();
        for (seqs, error) in scripts {
            if let Some(error) = error {
                failed.extend(seqs.iter().map(|seq| (*seq, error.clone())));
            }
        }
        failed.extend(sets.into_iter().filter_map(|(seq, error)| error.map(|e| (seq, e))));
        failed
    }
}

/// The group commit's share of a store, created with it.
pub(super) fn new_group() -> Arc<Group> {
    Arc::new(Group::default())
}

//! Group commit for the writes every message makes and no check reads back at once: counter
//! adds (`counter_add_many`: delivery outcomes), audit and event records (`log_append`) and the
//! Message-ID index (`message_origin_put`).
//!
//! Each caller still waits until its own writes are applied (the semantics of a direct call: an
//! error reaches the caller), but callers writing for the same tenant at the same moment share
//! one script call on its shard (`tenant_queue`). At line rate a flush carries the bookkeeping
//! of several sessions, so an accepted message costs a fraction of a call. A tenant's Message-ID
//! entries ride in its script on a standalone server; in a cluster they live on other shards
//! (their own hash tag), so each is one `SET` of its own, made by the same flush.
//!
//! - Per caller: the script runs each caller's writes under `pcall` and answers per caller, so one
//!   caller's failing write is its own error, not its neighbours'. A call that fails as a whole
//!   (a timeout, the server gone) is an error for every caller in it.
//! - Counter adds several callers of a flush make to one bucket (every message's delivery
//!   outcome) are applied as one add of their sum, under a status of its own that each of them
//!   is answered with too (`SharedAdds`).
//!
//! Must never: answer a caller before its writes are applied, report a failed write as applied,
//! or apply a write twice.

use std::collections::HashMap;
use std::sync::Arc;

use redis::RedisError;

use super::tenant_queue::{Caller, TenantQueues};
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
    /// A log record: log key, its sequence (`RedisStore::log_sequence`), time, JSON, trim
    /// cutoff, expiry (ms).
    Log {
        log: Vec<u8>,
        seq: String,
        at: u64,
        json: Vec<u8>,
        cutoff: u64,
        ttl: u64,
    },
    /// `SET key value PX ttl NX` (a key with its own hash tag).
    SetNx { key: Vec<u8>, value: Vec<u8>, ttl: u64 },
}

/// A caller of the group commit: its writes, answered with their status.
type WriteCaller = Caller<Vec<Write>, Result<(), RedisError>>;

/// How long a busy tenant's group commit waits before its next call (`tenant_queue`): its
/// callers have replied already (a session's recording, a delivery's outcome), so a millisecond
/// more costs nobody a reply. At 20 sessions of one tenant the store calls per message (stage
/// scripts and group commits together) fell from 0.51 to 0.33 with it: the group commit's calls
/// less than half as many, each carrying more writes.
const GROUP_LINGER: std::time::Duration = std::time::Duration::from_millis(1);

/// The group commit's queues, one a tenant.
pub(super) type Group = TenantQueues<Vec<Write>, Result<(), RedisError>>;

impl RedisStore {
    /// Applies `writes` (of `tenant`, whose shard runs them; a `SetNx` goes to its own key's
    /// shard in a cluster) together with whatever other callers are writing for the tenant, and
    /// returns once they are applied (`tenant_queue`: how long a caller waits, and when a backed
    /// up tenant is refused at once: a slow shard defers mail with `451` rather than hold it
    /// without bound).
    pub(super) async fn write_grouped(&self, tenant: &str, writes: Vec<Write>) -> Result<(), StoreError> {
        if writes.is_empty() {
            return Ok(());
        }
        let run = |store: RedisStore, tenant: String, callers: Vec<WriteCaller>| async move {
            store.apply(&tenant, callers).await
        };
        self.grouped(&self.group, tenant, writes, run)
            .await?
            .map_err(StoreError::Redis)
    }

    /// Audit records appended by as many callers sharing one script call, without the queue:
    /// what a flush does, for tests that need to know which writes share a call.
    #[doc(hidden)]
    pub async fn audit_appends_in_one_call(
        &self,
        tenant: &str,
        records: &[crate::store::AuditRecord],
    ) -> Result<Vec<Result<(), StoreError>>, StoreError> {
        let mut callers = Vec::with_capacity(records.len());
        let mut answers = Vec::with_capacity(records.len());
        for record in records {
            let write = self.log_write("_audit", tenant, record.at, serde_json::to_vec(record)?);
            let (answer, answered) = tokio::sync::oneshot::channel();
            callers.push(Caller {
                work: vec![write],
                answer,
            });
            answers.push(answered);
        }
        self.apply(tenant, callers).await;
        let mut results = Vec::with_capacity(answers.len());
        for answered in answers {
            let answer = answered
                .await
                .map_err(|_| StoreError::Task("the group commit ended without answering".into()))?;
            results.push(answer.map_err(StoreError::Redis));
        }
        Ok(results)
    }

    /// Runs one batch of a tenant's callers and answers each.
    async fn apply(&self, tenant: &str, batch: Vec<WriteCaller>) {
        let standalone = self.is_standalone();
        let mut inv = self.scripts.apply.prepare_invoke();
        inv.key(super::ops::rec_key("_batch", tenant));
        // Counter adds several callers make to one bucket go first, summed, each bucket's as a
        // caller of its own (`shared`); each of their callers is answered with its status too.
        let shared = SharedAdds::of(&batch);
        for write in &shared.merged {
            inv.arg(1);
            push_write(&mut inv, write);
        }
        // (caller, its separate SETs: in a cluster a Message-ID entry is on another shard)
        let mut separate: Vec<Vec<&Write>> = Vec::with_capacity(batch.len());
        for caller in &batch {
            let scripted: Vec<&Write> = caller
                .work
                .iter()
                .filter(|w| standalone || !matches!(w, Write::SetNx { .. }))
                .filter(|w| !shared.takes(w))
                .collect();
            separate.push(
                caller
                    .work
                    .iter()
                    .filter(|w| !standalone && matches!(w, Write::SetNx { .. }))
                    .collect(),
            );
            inv.arg(scripted.len());
            for write in scripted {
                push_write(&mut inv, write);
            }
        }
        let script = async {
            let statuses: Result<Vec<redis::Value>, RedisError> = self.script(&inv).await;
            statuses
        };
        let sets = futures_util::future::join_all(separate.iter().map(|writes| async move {
            for write in writes {
                if let Write::SetNx { key, value, ttl } = write {
                    let mut set = redis::cmd("SET");
                    set.arg(key.as_slice())
                        .arg(value.as_slice())
                        .arg("PX")
                        .arg((*ttl).max(1))
                        .arg("NX");
                    let _: redis::Value = self.cmd(&set).await?;
                }
            }
            Ok::<(), RedisError>(())
        }));
        let (statuses, sets) = tokio::join!(script, sets);
        // One status per caller (and the shared adds first), or the reply is not believed for
        // anyone.
        let first = shared.merged.len();
        let statuses = statuses.and_then(|statuses| {
            if statuses.len() == batch.len() + first {
                Ok(statuses)
            } else {
                Err(RedisError::from((
                    redis::ErrorKind::Parse,
                    "the group commit answered for another number of callers",
                    format!("{} statuses for {} callers", statuses.len(), batch.len() + first),
                )))
            }
        });
        for (i, (caller, set)) in batch.into_iter().zip(sets).enumerate() {
            let result = match &statuses {
                Err(error) => Err(error.clone()),
                Ok(statuses) => shared
                    .contributed(i)
                    .iter()
                    .map(|&m| caller_status(statuses.get(m)))
                    .collect::<Result<Vec<()>, RedisError>>()
                    .and(caller_status(statuses.get(i + first)))
                    .and(set),
            };
            // A caller that went away no longer needs its answer.
            let _ = caller.answer.send(result);
        }
    }
}

/// Which bucket a counter add goes to: key, window, bucket size, bucket index.
type Bucket = (Vec<u8>, u64, u64, u64);

fn bucket_of(write: &Write) -> Option<Bucket> {
    match write {
        Write::Counter {
            key,
            window,
            bucket,
            at,
            ..
        } => Some((key.clone(), *window, *bucket, at / (*bucket).max(1))),
        _ => None,
    }
}

/// The counter adds of a flush that go to a bucket more than one add of the flush goes to
/// (every message's delivery outcome, at line rate), applied as one add of their sum, with a
/// status of its own: one `HINCRBY` a bucket rather than one a caller.
struct SharedAdds {
    /// The buckets taken, and for each caller the ones it added to (indices into `merged`).
    taken: Vec<Bucket>,
    contributors: Vec<Vec<usize>>,
    /// One add a bucket: the sum, at the earliest time of its adds (so the longest expiry and
    /// the oldest first bucket: the key lives at least as long, nothing more is dropped).
    merged: Vec<Write>,
}

impl SharedAdds {
    fn of(batch: &[WriteCaller]) -> SharedAdds {
        let mut counts: HashMap<Bucket, usize> = HashMap::new();
        for write in batch.iter().flat_map(|caller| &caller.work) {
            if let Some(bucket) = bucket_of(write) {
                *counts.entry(bucket).or_default() += 1;
            }
        }
        let taken: Vec<Bucket> = counts
            .into_iter()
            .filter(|(_, count)| *count > 1)
            .map(|(bucket, _)| bucket)
            .collect();
        let mut merged: Vec<Write> = Vec::new();
        let mut contributors = vec![Vec::new(); batch.len()];
        for (i, caller) in batch.iter().enumerate() {
            for write in &caller.work {
                let (Some(bucket), Write::Counter { n, at, .. }) = (bucket_of(write), write) else {
                    continue;
                };
                if !taken.contains(&bucket) {
                    continue;
                }
                let m = match merged.iter().position(|m| bucket_of(m).as_ref() == Some(&bucket)) {
                    Some(m) => {
                        if let Write::Counter {
                            n: sum, at: earliest, ..
                        } = &mut merged[m]
                        {
                            *sum = sum.saturating_add(*n);
                            *earliest = (*earliest).min(*at);
                        }
                        m
                    }
                    None => {
                        let (key, window, size, _) = bucket;
                        merged.push(Write::Counter {
                            key,
                            n: *n,
                            window,
                            bucket: size,
                            at: *at,
                        });
                        merged.len() - 1
                    }
                };
                if !contributors[i].contains(&m) {
                    contributors[i].push(m);
                }
            }
        }
        SharedAdds {
            taken,
            contributors,
            merged,
        }
    }

    /// Whether `write` is applied among the shared adds instead of with its caller.
    fn takes(&self, write: &Write) -> bool {
        bucket_of(write).is_some_and(|bucket| self.taken.contains(&bucket))
    }

    /// The shared adds caller `i` contributed to (their statuses come first in the reply).
    fn contributed(&self, i: usize) -> &[usize] {
        self.contributors.get(i).map(Vec::as_slice).unwrap_or_default()
    }
}

/// Appends `write` as the `APPLY` script reads it.
fn push_write(inv: &mut redis::ScriptInvocation<'_>, write: &Write) {
    match write {
        Write::Counter {
            key,
            n,
            window,
            bucket,
            at,
        } => {
            // As `counter` works them out in Lua (mode 1).
            let bucket = (*bucket).max(1);
            let current = at / bucket;
            let ttl = crate::store::window::bucket_expiry(current, bucket, *window)
                .saturating_sub(*at)
                .max(1);
            let first = at.saturating_sub(*window) / bucket;
            inv.arg("a")
                .arg(key.as_slice())
                .arg(*n)
                .arg(current.to_string())
                .arg(ttl)
                .arg(first)
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
                .arg(seq.as_str())
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

/// One caller's status in the `APPLY` reply: `1`, or the error its writes raised.
fn caller_status(status: Option<&redis::Value>) -> Result<(), RedisError> {
    match status {
        Some(redis::Value::Int(1)) => Ok(()),
        Some(redis::Value::BulkString(error)) => Err(RedisError::from((
            redis::ErrorKind::Server(redis::ServerErrorKind::ResponseError),
            "a grouped write failed",
            String::from_utf8_lossy(error).into_owned(),
        ))),
        other => Err(RedisError::from((
            redis::ErrorKind::Parse,
            "unexpected group commit reply",
            format!("{other:?}"),
        ))),
    }
}

/// The group commit's share of a store, created with it.
pub(super) fn new_group() -> Arc<Group> {
    Arc::new(Group::new(1, GROUP_LINGER))
}

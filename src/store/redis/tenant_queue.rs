//! Per-tenant queues of callers whose store work shares one script call on the tenant's shard:
//! a caller that finds fewer flushes running for its tenant than the queues allow starts one;
//! those arriving meanwhile queue for the next call of a running flush. Used by the group commit
//! (`group`: writes, one flush a tenant) and the stage batches (`batch`: check-and-charges, two,
//! so that the next call is on its way while the shard runs one and sessions do not wait a
//! round trip more).
//!
//! - Per tenant: a slow shard holds up only the tenants it serves.
//! - A flush is a task of its own, so a caller that goes away cannot leave it half done; each
//!   caller holds the receiving end of its own answer, so a flush that dies (a panic) answers
//!   every caller it took with an error, never with success, and the tenant's queue is released.
//! - A flush takes at most [`MAX_CALLERS`] callers, so a backlog never becomes one huge script,
//!   and a tenant whose queue is [`MAX_WAITING`] long refuses more at once.
//! - A caller waits at most a few `redis_timeout`s ([`WAIT_TIMEOUTS`]) for its answer.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};

use redis::RedisError;
use tokio::sync::oneshot;

use super::RedisStore;
use crate::store::StoreError;

/// The most callers one flush carries.
pub const MAX_CALLERS: usize = 256;

/// The most callers a tenant's queue holds; more are refused at once.
pub const MAX_WAITING: usize = 4 * MAX_CALLERS;

/// How many `redis_timeout`s a caller waits for its flush (its own call may queue behind one).
const WAIT_TIMEOUTS: u32 = 3;

/// A caller's work and where its answer goes.
pub(super) struct Caller<W, A> {
    pub work: W,
    pub answer: oneshot::Sender<A>,
}

/// A tenant's callers waiting for a flush, and how many flushes are running.
struct Queue<C> {
    waiting: Vec<C>,
    flushing: usize,
}

/// The queues of one store (shared by its clones), one a tenant.
pub(super) struct TenantQueues<C> {
    tenants: Mutex<HashMap<String, Queue<C>>>,
    /// How many flushes of a tenant may run at once.
    flushes: usize,
}

impl<C> TenantQueues<C> {
    /// Queues that run at most `flushes` (at least one) calls of a tenant at once.
    pub(super) fn new(flushes: usize) -> Self {
        TenantQueues {
            tenants: Mutex::new(HashMap::new()),
            flushes: flushes.max(1),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Queue<C>>> {
        self.tenants.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queues `caller`; true when fewer flushes run for the tenant than allowed, so the caller
    /// must start one.
    fn push(&self, tenant: &str, caller: C) -> Result<bool, StoreError> {
        let mut tenants = self.lock();
        let queue = tenants.entry(tenant.to_string()).or_insert_with(|| Queue {
            waiting: Vec::new(),
            flushing: 0,
        });
        if queue.waiting.len() >= MAX_WAITING {
            return Err(StoreError::Redis(RedisError::from((
                redis::ErrorKind::Io,
                "the tenant's queue for the store is backed up",
                format!("{MAX_WAITING} callers waiting"),
            ))));
        }
        queue.waiting.push(caller);
        let start = queue.flushing < self.flushes;
        if start {
            queue.flushing += 1;
        }
        Ok(start)
    }

    /// The next callers of `release`'s tenant (at most [`MAX_CALLERS`]), or `None` once its
    /// queue is empty (and then this flush ends; the last one releases the queue).
    fn next(&self, release: &mut Release<C>) -> Option<Vec<C>> {
        let mut tenants = self.lock();
        let queue = tenants.get_mut(&release.tenant)?;
        if queue.waiting.is_empty() {
            queue.flushing = queue.flushing.saturating_sub(1);
            if queue.flushing == 0 {
                tenants.remove(&release.tenant);
            }
            release.finished = true;
            return None;
        }
        let take = queue.waiting.len().min(MAX_CALLERS);
        Some(queue.waiting.drain(..take).collect())
    }
}

/// Releases a tenant's queue when its flush task ends, however it ends (made before the task is
/// spawned and moved into it, so a task dropped before it ever ran releases it too): if the
/// task died, the callers still waiting are dropped, so each gets an error, never a hang (and
/// another flush of the tenant then finds its queue gone and ends).
struct Release<C> {
    queues: Arc<TenantQueues<C>>,
    tenant: String,
    finished: bool,
}

impl<C> Drop for Release<C> {
    fn drop(&mut self) {
        if !self.finished {
            self.queues.lock().remove(&self.tenant);
        }
    }
}

impl RedisStore {
    /// Queues `work` for `tenant` in `queues` and waits for its answer: a flush running `run`
    /// on each group of callers (it answers every caller it is given) is started when none
    /// runs for the tenant.
    pub(super) async fn grouped<W, A, F, Fut>(
        &self,
        queues: &Arc<TenantQueues<Caller<W, A>>>,
        tenant: &str,
        work: W,
        run: F,
    ) -> Result<A, StoreError>
    where
        W: Send + 'static,
        A: Send + 'static,
        F: Fn(RedisStore, String, Vec<Caller<W, A>>) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send,
    {
        let (answer, answered) = oneshot::channel();
        if queues.push(tenant, Caller { work, answer })? {
            let store = self.clone();
            let mut release = Release {
                queues: Arc::clone(queues),
                tenant: tenant.to_string(),
                finished: false,
            };
            tokio::spawn(async move {
                loop {
                    // Let the callers that are ready at this moment queue theirs too.
                    tokio::task::yield_now().await;
                    let queues = Arc::clone(&release.queues);
                    let Some(callers) = queues.next(&mut release) else {
                        return;
                    };
                    run(store.clone(), release.tenant.clone(), callers).await;
                }
            });
        }
        let wait = self.timeout.saturating_mul(WAIT_TIMEOUTS);
        match tokio::time::timeout(wait, answered).await {
            Ok(Ok(answer)) => Ok(answer),
            Ok(Err(_)) => Err(StoreError::Task("the store call ended without answering".into())),
            // The flush may still run the work; the caller is told it does not know.
            Err(_) => Err(StoreError::Redis(RedisError::from((
                redis::ErrorKind::Io,
                "the grouped store call timed out",
                format!("no answer within {wait:?}"),
            )))),
        }
    }
}

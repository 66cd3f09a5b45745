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
//! - A queue may *linger*: a flush whose last call carried more than one caller (the tenant is
//!   busy) waits that long before it takes the next callers, so a busy tenant's calls grow
//!   instead of multiplying (the group commit: its callers' replies have gone out already). A
//!   call that carried one caller is followed at once, so a tenant whose callers come one at a
//!   time never waits; the first caller after a busy moment may wait up to the linger.
//! - A caller waits at most a few `redis_timeout`s ([`WAIT_TIMEOUTS`]) for its answer; one that
//!   stopped waiting (timed out, or its session went away) is left out of the next call, so
//!   work it was told is in doubt is not started late.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

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

impl<W, A> Caller<W, A> {
    /// Whether the caller stopped waiting (it timed out, or its session went away): it was
    /// told it does not know what happened, so its work is not started any more.
    fn gave_up(&self) -> bool {
        self.answer.is_closed()
    }
}

/// A tenant's callers waiting for a flush, how many flushes are running, and which queue of the
/// tenant this is (a queue is removed when its last flush ends; a later one is another).
struct Queue<W, A> {
    waiting: Vec<Caller<W, A>>,
    flushing: usize,
    generation: u64,
}

/// The queues by tenant, and the last generation given to one.
struct Tenants<W, A> {
    queues: HashMap<String, Queue<W, A>>,
    generations: u64,
}

/// The queues of one store (shared by its clones), one a tenant.
pub(super) struct TenantQueues<W, A> {
    tenants: Mutex<Tenants<W, A>>,
    /// How many flushes of a tenant may run at once.
    flushes: usize,
    /// How long a flush waits after a call that carried several callers (see the module doc).
    linger: Duration,
}

impl<W, A> TenantQueues<W, A> {
    /// Queues that run at most `flushes` (at least one) calls of a tenant at once, each flush
    /// waiting `linger` after a call that carried several callers.
    pub(super) fn new(flushes: usize, linger: Duration) -> Self {
        TenantQueues {
            tenants: Mutex::new(Tenants {
                queues: HashMap::new(),
                generations: 0,
            }),
            flushes: flushes.max(1),
            linger,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Tenants<W, A>> {
        self.tenants.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queues `caller`; the queue's generation when fewer flushes run for the tenant than
    /// allowed, so the caller must start one.
    fn push(&self, tenant: &str, caller: Caller<W, A>) -> Result<Option<u64>, StoreError> {
        let mut guard = self.lock();
        let Tenants { queues, generations } = &mut *guard;
        let queue = queues.entry(tenant.to_string()).or_insert_with(|| {
            *generations += 1;
            Queue {
                waiting: Vec::new(),
                flushing: 0,
                generation: *generations,
            }
        });
        if queue.waiting.len() >= MAX_WAITING {
            return Err(StoreError::Redis(RedisError::from((
                redis::ErrorKind::Io,
                "the tenant's queue for the store is backed up",
                format!("{MAX_WAITING} callers waiting"),
            ))));
        }
        queue.waiting.push(caller);
        if queue.flushing < self.flushes {
            queue.flushing += 1;
            Ok(Some(queue.generation))
        } else {
            Ok(None)
        }
    }

    /// The next callers of `release`'s queue (at most [`MAX_CALLERS`], leaving out those that
    /// gave up), or `None` once it is empty (then this flush ends; the last one removes the
    /// queue) or gone.
    fn next(&self, release: &mut Release<W, A>) -> Option<Vec<Caller<W, A>>> {
        let mut guard = self.lock();
        let tenants = &mut guard.queues;
        let queue = match tenants.get_mut(&release.tenant) {
            Some(queue) if queue.generation == release.generation => queue,
            _ => {
                release.finished = true;
                return None;
            }
        };
        queue.waiting.retain(|caller| !caller.gave_up());
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

/// Ends a flush's share of its tenant's queue when the flush task ends, however it ends (made
/// before the task is spawned and moved into it, so a task dropped before it ever ran counts
/// too). A task that died (a panic) answers nobody it took, so each of those gets an error,
/// never a hang; the callers still waiting are left to the tenant's other flush, or, when it
/// was the last one, dropped with the queue (an error each).
struct Release<W, A> {
    queues: Arc<TenantQueues<W, A>>,
    tenant: String,
    generation: u64,
    finished: bool,
}

impl<W, A> Drop for Release<W, A> {
    fn drop(&mut self) {
        if self.finished {
            return;
        }
        let mut guard = self.queues.lock();
        let tenants = &mut guard.queues;
        if let Some(queue) = tenants.get_mut(&self.tenant) {
            if queue.generation == self.generation {
                queue.flushing = queue.flushing.saturating_sub(1);
                if queue.flushing == 0 {
                    tenants.remove(&self.tenant);
                }
            }
        }
    }
}

impl RedisStore {
    /// Queues `work` for `tenant` in `queues` and waits for its answer: a flush running `run`
    /// on each group of callers (it answers every caller it is given) is started when none
    /// runs for the tenant.
    pub(super) async fn grouped<W, A, F, Fut>(
        &self,
        queues: &Arc<TenantQueues<W, A>>,
        tenant: &str,
        work: W,
        run: F,
    ) -> Result<A, StoreError>
    where
        W: Send + 'static,
        A: Send + 'static,
        F: Fn(RedisStore, String, Vec<Caller<W, A>>) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let (answer, answered) = oneshot::channel();
        if let Some(generation) = queues.push(tenant, Caller { work, answer })? {
            let release = Release {
                queues: Arc::clone(queues),
                tenant: tenant.to_string(),
                generation,
                finished: false,
            };
            tokio::spawn(flush(release, self.clone(), run));
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

/// A flush: runs `run` on the next callers of `release`'s queue until it is empty (`context`
/// is the store the calls go to).
async fn flush<W, A, C, F, Fut>(mut release: Release<W, A>, context: C, run: F)
where
    C: Clone,
    F: Fn(C, String, Vec<Caller<W, A>>) -> Fut,
    Fut: Future<Output = ()>,
{
    let mut busy = false;
    loop {
        // Let the callers that are ready at this moment queue theirs too; after a call of
        // several, let a busy tenant's next ones gather for a while.
        let linger = release.queues.linger;
        if busy && !linger.is_zero() {
            tokio::time::sleep(linger).await;
        } else {
            tokio::task::yield_now().await;
        }
        let queues = Arc::clone(&release.queues);
        let Some(callers) = queues.next(&mut release) else {
            return;
        };
        busy = callers.len() > 1;
        run(context.clone(), release.tenant.clone(), callers).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Queues = TenantQueues<u32, u32>;

    fn caller(work: u32) -> (Caller<u32, u32>, oneshot::Receiver<u32>) {
        let (answer, answered) = oneshot::channel();
        (Caller { work, answer }, answered)
    }

    fn release(queues: &Arc<Queues>, generation: u64) -> Release<u32, u32> {
        Release {
            queues: Arc::clone(queues),
            tenant: "t".into(),
            generation,
            finished: false,
        }
    }

    fn works(callers: Option<Vec<Caller<u32, u32>>>) -> Vec<u32> {
        callers.unwrap_or_default().into_iter().map(|c| c.work).collect()
    }

    #[test]
    fn at_most_the_allowed_flushes_start_and_callers_that_gave_up_are_left_out() {
        let queues = Arc::new(Queues::new(2, Duration::ZERO));
        let (a, _a) = caller(1);
        let (b, b_answer) = caller(2);
        let (c, _c) = caller(3);
        let first = queues.push("t", a).expect("push").expect("starts a flush");
        let second = queues.push("t", b).expect("push").expect("starts the second flush");
        assert_eq!(first, second, "one queue");
        assert_eq!(queues.push("t", c).expect("push"), None, "two flushes already run");
        drop(b_answer);
        let mut one = release(&queues, first);
        assert_eq!(
            works(queues.next(&mut one)),
            [1, 3],
            "the caller that gave up is left out"
        );
        let mut two = release(&queues, second);
        assert!(queues.next(&mut two).is_none() && two.finished);
        assert!(queues.lock().queues.contains_key("t"), "the other flush still runs");
        assert!(queues.next(&mut one).is_none() && one.finished);
        assert!(queues.lock().queues.is_empty(), "the last flush removes the queue");
    }

    #[test]
    fn a_dead_flush_leaves_the_waiting_callers_to_its_sibling_and_never_touches_a_later_queue() {
        let queues = Arc::new(Queues::new(2, Duration::ZERO));
        let (a, _a) = caller(1);
        let (b, _b) = caller(2);
        let generation = queues.push("t", a).expect("push").expect("first flush");
        queues.push("t", b).expect("push").expect("second flush");
        let mut survivor = release(&queues, generation);
        drop(release(&queues, generation));
        assert_eq!(
            works(queues.next(&mut survivor)),
            [1, 2],
            "the sibling drains the queue"
        );
        assert!(queues.next(&mut survivor).is_none());
        assert!(queues.lock().queues.is_empty());
        // A later queue of the tenant is another generation: a flush of the old one that ends
        // now (or dies) changes nothing in it.
        let (c, mut c_answer) = caller(3);
        let later = queues.push("t", c).expect("push").expect("a new flush");
        assert_ne!(later, generation);
        let mut stale = release(&queues, generation);
        assert!(queues.next(&mut stale).is_none() && stale.finished);
        drop(release(&queues, generation));
        assert_eq!(queues.lock().queues.get("t").map(|q| q.waiting.len()), Some(1));
        // The last flush of a queue dying drops its waiting callers: each sees an error.
        drop(release(&queues, later));
        assert!(queues.lock().queues.is_empty());
        assert!(
            c_answer.try_recv().is_err(),
            "answered with an error, never left waiting"
        );
    }

    #[test]
    fn a_backed_up_tenant_is_refused_at_once() {
        let queues = Queues::new(1, Duration::ZERO);
        let mut answers = Vec::new();
        for i in 0..MAX_WAITING {
            let (c, answered) = caller(u32::try_from(i).unwrap_or(0));
            queues.push("t", c).expect("room");
            answers.push(answered);
        }
        let (c, _answered) = caller(0);
        assert!(queues.push("t", c).is_err());
        let (other, _other) = caller(0);
        assert!(queues.push("u", other).expect("another tenant").is_some());
    }

    /// After a call of several callers the flush lingers before the next; after a call of one
    /// it goes on at once.
    #[tokio::test(start_paused = true)]
    async fn a_busy_flush_lingers_and_a_quiet_one_does_not() {
        use tokio::time::Instant;
        let linger = Duration::from_millis(5);
        let queues = Arc::new(Queues::new(1, linger));
        // When each call ran, and the works it carried.
        type Calls = Arc<Mutex<Vec<(Instant, Vec<u32>)>>>;
        let calls: Calls = Arc::default();
        let (a, a_answer) = caller(1);
        let (b, _b) = caller(2);
        let generation = queues.push("t", a).expect("push").expect("starts a flush");
        assert_eq!(queues.push("t", b).expect("push"), None);
        let run = {
            let calls = Arc::clone(&calls);
            move |queues: Arc<Queues>, _tenant: String, callers: Vec<Caller<u32, u32>>| {
                let calls = Arc::clone(&calls);
                async move {
                    let works: Vec<u32> = callers.iter().map(|c| c.work).collect();
                    // The caller of work 3 arrives while its own call runs: the next call
                    // follows a call of one, so it does not wait.
                    if works == [3] {
                        let (d, d_answer) = caller(4);
                        queues.push("t", d).expect("push");
                        std::mem::forget(d_answer);
                    }
                    calls.lock().expect("calls").push((Instant::now(), works));
                    for c in callers {
                        let _ = c.answer.send(c.work);
                    }
                }
            }
        };
        let task = tokio::spawn(flush(release(&queues, generation), Arc::clone(&queues), run));
        assert_eq!(a_answer.await.expect("answered"), 1);
        let (c, c_answer) = caller(3);
        assert_eq!(queues.push("t", c).expect("push"), None, "the flush still runs");
        assert_eq!(c_answer.await.expect("answered"), 3);
        task.await.expect("flush");
        let calls = calls.lock().expect("calls").clone();
        let works: Vec<Vec<u32>> = calls.iter().map(|(_, w)| w.clone()).collect();
        assert_eq!(works, [vec![1, 2], vec![3], vec![4]]);
        assert!(calls[1].0 - calls[0].0 >= linger, "lingered after a call of two");
        assert_eq!(calls[2].0, calls[1].0, "no wait after a call of one");
        assert!(queues.lock().queues.is_empty());
    }
}

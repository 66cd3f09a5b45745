//! Write-behind for the RocksDB rate store: one writer thread applies every write, many at a time.
//!
//! Checks run on the runtime's threads. If each of them wrote to RocksDB itself, every charge
//! would be a WAL `write(2)` plus RocksDB's write-group hand-off between threads (futex waits and
//! wake-ups), and a thread holding a stripe lock could be parked in it. Instead an operation
//! hands its writes to this module ([`Writer::commit`]) and returns: the writer thread lets
//! writes gather for up to 5 ms ([`LINGER`]; at once when someone waits for them), then
//! applies everything queued as one `WriteBatch`, one WAL append.
//!
//! Reads stay exact:
//! - Point reads go through [`Writer::read`]: a key with a write still queued is answered from
//!   the overlay (the newest queued value, or its deletion); other keys from the database. A
//!   writer of a key holds that key's stripe lock, and so does every reader, so a reader sees
//!   every write made before it.
//! - Range scans first wait until everything queued so far is in the database: on a runtime
//!   thread asynchronously ([`Writer::settle`]), on the blocking pool blocking
//!   ([`Writer::barrier`]). Nothing here blocks a runtime thread: committers that find the queue
//!   full wait for room asynchronously too. Counter merges are not in the overlay: counters are read from their mirror,
//!   and a counter that is not mirrored is read by a scan (after the barrier).
//!
//! Durability: a write reaches the WAL (the OS page cache) a batch later, within about 5 ms;
//! `kill -9` loses at most the writes still queued, which can only make a limit more
//! lenient for a moment. Records an operator writes (tenants, blocks, suppressions) wait for
//! their batch ([`Writer::wait_applied`]), so they are in the WAL when acknowledged.
//!
//! Failure: a write RocksDB refuses (disk full, I/O error) makes the writer fail every later
//! operation with that error: the gateway defers mail (`451`) rather than count in memory only.
//! Meanwhile the writer tries a small write every [`crate::health::PROBE_INTERVAL`]; once one
//! succeeds (RocksDB resumes by itself when there is room again) operations are accepted again.
//! The queue is bounded ([`MAX_QUEUED_OPS`]): a writer that falls behind slows committers down
//! (they wait as tasks, not threads).

// foldhash: several times faster than SipHash on short keys, still seeded per process.
use foldhash::{HashMap, HashMapExt};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rocksdb::{WriteBatch, WriteOptions, DB};

use crate::store::StoreError;

/// Writes queued at most before committers wait for the writer.
pub(crate) const MAX_QUEUED_OPS: usize = 65_536;
/// How long the writer lets writes gather after the first one arrives, unless someone waits for
/// them: nobody on the hot path does. One WAL append and one wake-up of this thread for many
/// operations is most of the saving (on the 2-core bench machine a wake-up costs tens of µs of
/// CPU: 5 ms instead of 1 ms took the writer from 14.5 to 8.7 µs per message).
const LINGER: Duration = Duration::from_millis(5);
/// Queued writes that end the lingering early.
const LINGER_MAX_OPS: usize = 4_096;
const OVERLAY_SHARDS: usize = 64;

/// Bytes shared between a queued write and the overlay (one allocation for both, freed by
/// whichever lets go last).
type Bytes = Arc<[u8]>;

/// One write, to a column family by name.
enum Op {
    Put {
        cf: &'static str,
        key: Bytes,
        value: Bytes,
    },
    Delete {
        cf: &'static str,
        key: Bytes,
    },
    Merge {
        cf: &'static str,
        key: Bytes,
        value: Vec<u8>,
    },
}

/// The writes of one operation, applied together (one `WriteBatch` with the others queued).
#[derive(Default)]
pub(crate) struct Batch {
    ops: Vec<Op>,
}

impl Batch {
    pub(crate) fn put(&mut self, cf: &'static str, key: impl AsRef<[u8]>, value: impl AsRef<[u8]>) {
        self.ops.push(Op::Put {
            cf,
            key: Bytes::from(key.as_ref()),
            value: Bytes::from(value.as_ref()),
        });
    }

    pub(crate) fn delete(&mut self, cf: &'static str, key: impl AsRef<[u8]>) {
        self.ops.push(Op::Delete {
            cf,
            key: Bytes::from(key.as_ref()),
        });
    }

    pub(crate) fn merge(&mut self, cf: &'static str, key: impl Into<Vec<u8>>, value: impl Into<Vec<u8>>) {
        self.ops.push(Op::Merge {
            cf,
            key: Bytes::from(key.into()),
            value: value.into(),
        });
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }
}

/// What is queued for the writer thread.
#[derive(Default)]
struct Queue {
    batches: Vec<Batch>,
    ops: usize,
    /// Sequence number of the newest queued batch (batches are numbered from 1).
    last_seq: u64,
    /// The writer sleeps until a commit wakes it.
    writer_waiting: bool,
    /// The writer is letting writes gather; only `urgent` ends that early.
    writer_lingering: bool,
    /// Someone waits for the queued writes (a barrier, `sync`, an operator's record).
    urgent: bool,
    stop: bool,
}

/// How far the writer has got.
#[derive(Debug, Default)]
struct Progress {
    /// Every batch up to this sequence number is in the database.
    applied: u64,
    /// The first write the database refused; every later operation fails with it until the
    /// writer heals.
    failed: Option<String>,
    /// Batches that never reached the database (refused, or dropped while failed), as inclusive
    /// ranges, newest last; a waiter for one of them fails even after the writer healed and
    /// later batches moved `applied` past it.
    lost: Vec<(u64, u64)>,
    /// The failure is the disk's (an I/O error such as a full disk), which a later write may
    /// overcome: the writer probes and heals. Any other failure (a bug, a panic) stays.
    healable: bool,
}

/// How many ranges of lost batches are remembered (each failure episode adds one or two).
const LOST_RANGES: usize = 1024;

impl Progress {
    /// What a waiter for batch `seq` gets now: done, failed, or `None` (keep waiting).
    fn outcome(&self, seq: u64) -> Option<Result<(), StoreError>> {
        if self.lost.iter().any(|&(first, last)| (first..=last).contains(&seq)) {
            return Some(Err(StoreError::Write(format!(
                "the write was lost: {}",
                self.failed.as_deref().unwrap_or("the database refused its batch")
            ))));
        }
        self.barrier_outcome(seq)
    }

    /// What a barrier up to `seq` gets: everything before it was applied or (reported) lost.
    fn barrier_outcome(&self, seq: u64) -> Option<Result<(), StoreError>> {
        if self.applied >= seq {
            return Some(Ok(()));
        }
        self.failed.as_ref().map(|error| Err(StoreError::Write(error.clone())))
    }

    /// Notes batches `first..=last` as lost.
    fn lose(&mut self, first: u64, last: u64) {
        if first > last {
            return;
        }
        match self.lost.last_mut() {
            Some((_, end)) if *end + 1 == first => *end = last,
            _ => self.lost.push((first, last)),
        }
        if self.lost.len() > LOST_RANGES {
            self.lost.remove(0);
        }
    }
}

/// Queued values by column family and key: `(seq, Some(value))` or `(seq, None)` for a deletion.
type OverlayShard = HashMap<&'static str, HashMap<Bytes, (u64, Option<Bytes>)>>;

struct Shared {
    queue: Mutex<Queue>,
    /// The writer waits here for work.
    work: Condvar,
    /// Committers wait here for room.
    room_async: tokio::sync::Notify,
    progress: Mutex<Progress>,
    /// Blocking waiters (barriers) wait here for progress.
    progressed: Condvar,
    /// Async waiters (`wait_applied`) wait here for progress.
    progressed_async: tokio::sync::Notify,
    /// `last_seq`, readable without the queue lock.
    submitted: AtomicU64,
    overlay: Box<[Mutex<OverlayShard>]>,
    hasher: foldhash::fast::RandomState,
    /// Degraded periods (writes refused), for `/health` and the log.
    health: crate::health::Health,
    /// Held stalls ([`WriteStall`], tests only): while any is held the writer takes batches but
    /// does not write them, as behind a hung disk.
    stalls: Mutex<usize>,
    unstalled: Condvar,
    /// How many async waiters wait for the writer now (what a test holding a [`WriteStall`]
    /// watches to know a session reached the store).
    async_waiters: AtomicUsize,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Shared {
    fn overlay_shard(&self, key: &[u8]) -> MutexGuard<'_, OverlayShard> {
        use std::hash::BuildHasher;
        let i = usize::try_from(self.hasher.hash_one(key) % OVERLAY_SHARDS as u64).unwrap_or(0);
        lock(&self.overlay[i])
    }

    fn failed(&self) -> Option<String> {
        lock(&self.progress).failed.clone()
    }

    /// Wakes the committers that wait for room in the queue.
    fn room_made(&self) {
        self.room_async.notify_waiters();
    }

    /// Wakes every waiter after the progress changed.
    fn published(&self) {
        self.progressed.notify_all();
        self.progressed_async.notify_waiters();
    }
}

/// The writer: its thread and the state it shares with committers and readers.
pub(crate) struct Writer {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
    /// Default read options, made once: `get_pinned_cf` would create and free a C++ object per
    /// read.
    point_reads: rocksdb::ReadOptions,
}

impl Writer {
    /// Starts the writer thread for `db`, writing with `write_opts`; `combine` joins two merge
    /// operands of one key (see [`write`]).
    pub(crate) fn start(db: Arc<DB>, write_opts: WriteOptions, combine: CombineMerges) -> Result<Writer, StoreError> {
        let shared = Arc::new(Shared {
            queue: Mutex::new(Queue::default()),
            work: Condvar::new(),
            room_async: tokio::sync::Notify::new(),
            progress: Mutex::new(Progress::default()),
            progressed: Condvar::new(),
            progressed_async: tokio::sync::Notify::new(),
            submitted: AtomicU64::new(0),
            overlay: (0..OVERLAY_SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            hasher: foldhash::fast::RandomState::default(),
            health: crate::health::Health::new("store"),
            stalls: Mutex::new(0),
            unstalled: Condvar::new(),
            async_waiters: AtomicUsize::new(0),
        });
        let for_thread = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("aupgate-store-writer".into())
            .spawn(move || {
                let ran = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    run(&for_thread, &db, &write_opts, combine)
                }));
                if ran.is_err() {
                    // Never leave committers or waiters hanging: fail everything from now on.
                    fail(&for_thread, "the store writer thread panicked".into());
                }
            })
            .map_err(|e| StoreError::Task(format!("starting the store writer: {e}")))?;
        Ok(Writer {
            shared,
            thread: Some(thread),
            point_reads: rocksdb::ReadOptions::default(),
        })
    }

    /// Queues `batch` (nothing to do when empty). The caller holds the stripe locks of every key
    /// in it, so writes to one key are queued, and applied, in the order they were made. While
    /// the queue is full (the writer fell behind) the caller waits, without holding a thread.
    /// Cancel-safe: a batch is either queued whole when this returns, or not at all.
    pub(crate) async fn commit(&self, batch: Batch) -> Result<(), StoreError> {
        let mut batch = match self.try_commit(batch)? {
            Queued::Done => return Ok(()),
            Queued::Full(batch) => batch,
        };
        loop {
            // Registered before the second look, so room made in between is not missed.
            let room = self.shared.room_async.notified();
            tokio::pin!(room);
            room.as_mut().enable();
            batch = match self.try_commit(batch)? {
                Queued::Done => return Ok(()),
                Queued::Full(batch) => batch,
            };
            room.await;
        }
    }

    /// Queues `batch` unless the queue is full; never waits.
    fn try_commit(&self, batch: Batch) -> Result<Queued, StoreError> {
        if batch.is_empty() {
            return Ok(Queued::Done);
        }
        let shared = &*self.shared;
        let mut queue = lock(&shared.queue);
        if let Some(error) = shared.failed() {
            return Err(StoreError::Write(error));
        }
        if queue.stop {
            return Err(StoreError::Task("the store is closing".into()));
        }
        if queue.ops >= MAX_QUEUED_OPS {
            return Ok(Queued::Full(batch));
        }
        queue.last_seq += 1;
        let seq = queue.last_seq;
        // Into the overlay before the queue lock is released: the writer retires entries only
        // after it took this batch, so none is left behind.
        for op in &batch.ops {
            let (cf, key, value) = match op {
                Op::Put { cf, key, value } => (*cf, key, Some(Arc::clone(value))),
                Op::Delete { cf, key } => (*cf, key, None),
                Op::Merge { .. } => continue,
            };
            shared
                .overlay_shard(key)
                .entry(cf)
                .or_default()
                .insert(Arc::clone(key), (seq, value));
        }
        queue.ops += batch.ops.len();
        queue.batches.push(batch);
        shared.submitted.store(seq, Ordering::Release);
        if queue.writer_waiting {
            queue.writer_waiting = false;
            shared.work.notify_one();
        }
        Ok(Queued::Done)
    }

    /// Reads `key` in `cf` as it is after every queued write: the overlay's value if a write is
    /// queued, else the database's. `decode` turns the bytes into the caller's value.
    pub(crate) fn read<T>(
        &self,
        db: &DB,
        cf: &'static str,
        key: &[u8],
        decode: impl FnOnce(&[u8]) -> Result<T, StoreError>,
    ) -> Result<Option<T>, StoreError> {
        {
            let shard = self.shared.overlay_shard(key);
            if let Some((_, queued)) = shard.get(cf).and_then(|m| m.get(key)) {
                return queued.as_deref().map(decode).transpose();
            }
        }
        let handle = db
            .cf_handle(cf)
            .ok_or_else(|| StoreError::corrupt("database", format!("column family {cf} missing")))?;
        match db.get_pinned_cf_opt(handle, key, &self.point_reads)? {
            Some(v) => decode(&v).map(Some),
            None => Ok(None),
        }
    }

    /// Whether writes succeed.
    pub(crate) fn health(&self) -> &crate::health::Health {
        &self.shared.health
    }

    /// The sequence number of the newest queued batch.
    pub(crate) fn submitted(&self) -> u64 {
        self.shared.submitted.load(Ordering::Acquire)
    }

    /// Tells the writer that someone waits: write now rather than let more writes gather.
    fn hurry(&self) {
        let mut queue = lock(&self.shared.queue);
        queue.urgent = true;
        if queue.writer_waiting || queue.writer_lingering {
            queue.writer_waiting = false;
            queue.writer_lingering = false;
            self.shared.work.notify_one();
        }
    }

    /// Waits, blocking the thread, until everything queued so far is in the database: before a
    /// range scan on the blocking pool (lists, maintenance). Never on a runtime thread: there,
    /// use [`Writer::settle`].
    pub(crate) fn barrier(&self) -> Result<(), StoreError> {
        let target = self.submitted();
        let shared = &*self.shared;
        if lock(&shared.progress).applied < target {
            self.hurry();
        }
        let mut progress = lock(&shared.progress);
        loop {
            if let Some(done) = progress.barrier_outcome(target) {
                return done;
            }
            progress = shared.progressed.wait(progress).unwrap_or_else(PoisonError::into_inner);
        }
    }

    /// Waits, without holding a thread, until everything queued so far is in the database (the
    /// [`Writer::barrier`] of async code): before a range scan on a runtime thread.
    pub(crate) async fn settle(&self) -> Result<(), StoreError> {
        self.wait_for(self.submitted(), Progress::barrier_outcome).await
    }

    /// Waits (without blocking a thread) until batch `seq` is in the database.
    pub(crate) async fn wait_applied(&self, seq: u64) -> Result<(), StoreError> {
        self.wait_for(seq, Progress::outcome).await
    }

    /// Waits until `outcome` of the progress for `seq` is decided.
    async fn wait_for(
        &self,
        seq: u64,
        outcome: fn(&Progress, u64) -> Option<Result<(), StoreError>>,
    ) -> Result<(), StoreError> {
        let shared = &*self.shared;
        if let Some(done) = outcome(&lock(&shared.progress), seq) {
            return done;
        }
        self.hurry();
        shared.async_waiters.fetch_add(1, Ordering::SeqCst);
        let _waiting = AsyncWaiter(&shared.async_waiters);
        loop {
            // Registered before the check, so progress made in between is not missed.
            let notified = shared.progressed_async.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if let Some(done) = outcome(&lock(&shared.progress), seq) {
                return done;
            }
            notified.await;
        }
    }

    /// Stalls the writer until the returned handle is dropped (tests: a hung disk).
    pub(crate) fn stall(&self) -> WriteStall {
        *lock(&self.shared.stalls) += 1;
        WriteStall {
            shared: Arc::clone(&self.shared),
        }
    }
}

/// What [`Writer::try_commit`] did.
enum Queued {
    Done,
    /// The queue is full: the batch back, to try again once there is room.
    Full(Batch),
}

/// While held, the store's writer takes the queued batches but does not write them: everything
/// waiting for the writer waits, as behind a hung disk. Tests only (see
/// [`crate::store::RateStore::stall_writes_for_test`]); dropping it lets the writer go on.
#[doc(hidden)]
pub struct WriteStall {
    shared: Arc<Shared>,
}

impl WriteStall {
    /// How many async callers wait for the stalled writer now.
    pub fn waiters(&self) -> usize {
        self.shared.async_waiters.load(Ordering::SeqCst)
    }
}

/// Counts one async waiter for as long as it lives (also when its future is dropped).
struct AsyncWaiter<'a>(&'a AtomicUsize);

impl Drop for AsyncWaiter<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Drop for WriteStall {
    fn drop(&mut self) {
        let mut stalls = lock(&self.shared.stalls);
        *stalls = stalls.saturating_sub(1);
        self.shared.unstalled.notify_all();
    }
}

/// Waits while a [`WriteStall`] is held.
fn wait_while_stalled(shared: &Shared) {
    let mut stalls = lock(&shared.stalls);
    while *stalls > 0 {
        stalls = shared.unstalled.wait(stalls).unwrap_or_else(PoisonError::into_inner);
    }
}

impl Drop for Writer {
    /// Applies what is still queued, then stops the thread.
    fn drop(&mut self) {
        {
            let mut queue = lock(&self.shared.queue);
            queue.stop = true;
            self.shared.work.notify_one();
            self.shared.room_made();
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Marks the store failed and wakes everyone who waits on the writer.
fn fail(shared: &Shared, error: String) {
    shared.health.failed(&error);
    let mut progress = lock(&shared.progress);
    progress.failed.get_or_insert(error);
    progress.healable = false;
    drop(progress);
    shared.room_made();
    shared.published();
}

/// While the store is failed and nothing is queued: waits a little (or until stopped), then
/// tries one small write. RocksDB refuses every write after a failed WAL append until it has
/// resumed by itself (its `SstFileManager` polls for free space every 5 s); once this write
/// succeeds, operations are accepted again. The writes of the failed batches are lost, as a
/// `kill -9` loses the last batch: a limit may be that much more lenient for one window.
fn heal<'a>(
    shared: &'a Shared,
    queue: MutexGuard<'a, Queue>,
    db: &DB,
    write_opts: &WriteOptions,
) -> MutexGuard<'a, Queue> {
    let queue = shared
        .work
        .wait_timeout(queue, crate::health::PROBE_INTERVAL)
        .unwrap_or_else(PoisonError::into_inner)
        .0;
    if queue.stop || !queue.batches.is_empty() {
        return queue;
    }
    // Not under the queue lock: committers (on runtime threads) only find the store failed and
    // return, rather than wait behind a write to a disk that may hang.
    drop(queue);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    if db.put_opt(b"health-probe", now.to_be_bytes(), write_opts).is_ok() {
        lock(&shared.progress).failed = None;
        shared.health.succeeded();
        shared.room_made();
    }
    lock(&shared.queue)
}

/// The writer thread: take all that is queued, write it as one batch, publish the progress.
fn run(shared: &Shared, db: &DB, write_opts: &WriteOptions, combine: CombineMerges) {
    // The last batch taken before this round: this round's batches are `taken + 1..=last_seq`.
    let mut taken = 0u64;
    loop {
        let (batches, last_seq) = {
            let mut queue = lock(&shared.queue);
            while queue.batches.is_empty() && !queue.stop {
                let (failed, healable) = {
                    let progress = lock(&shared.progress);
                    (progress.failed.is_some(), progress.healable)
                };
                if failed && healable {
                    queue = heal(shared, queue, db, write_opts);
                    continue;
                }
                queue.writer_waiting = true;
                queue = shared.work.wait(queue).unwrap_or_else(PoisonError::into_inner);
            }
            if queue.batches.is_empty() {
                return; // stopping, and nothing left
            }
            // Let more writes gather, unless someone waits for them.
            let deadline = Instant::now() + LINGER;
            while !queue.urgent && !queue.stop && queue.ops < LINGER_MAX_OPS {
                let Some(left) = deadline.checked_duration_since(Instant::now()).filter(|d| !d.is_zero()) else {
                    break;
                };
                queue.writer_lingering = true;
                queue = shared
                    .work
                    .wait_timeout(queue, left)
                    .unwrap_or_else(PoisonError::into_inner)
                    .0;
            }
            queue.writer_lingering = false;
            queue.writer_waiting = false;
            queue.urgent = false;
            queue.ops = 0;
            shared.room_made();
            (std::mem::take(&mut queue.batches), queue.last_seq)
        };
        wait_while_stalled(shared);
        let failed = shared.failed().is_some();
        let result = if failed {
            Ok(())
        } else {
            write(db, write_opts, &batches, combine)
        };
        // Retire the overlay entries this write made durable (a newer queued value stays).
        for op in batches.iter().flat_map(|b| &b.ops) {
            let (cf, key) = match op {
                Op::Put { cf, key, .. } | Op::Delete { cf, key } => (*cf, key),
                Op::Merge { .. } => continue,
            };
            let mut shard = shared.overlay_shard(key);
            if let Some(keys) = shard.get_mut(cf) {
                if keys.get(key).is_some_and(|(seq, _)| *seq <= last_seq) {
                    keys.remove(key);
                }
            }
        }
        {
            let mut progress = lock(&shared.progress);
            let first = taken + 1;
            taken = last_seq;
            match result {
                Ok(()) if !failed => progress.applied = last_seq,
                Ok(()) => progress.lose(first, last_seq),
                Err(error) => {
                    progress.lose(first, last_seq);
                    tracing::error!(%error, "rate store write failed; store operations fail until a write succeeds again");
                    shared.health.failed(&error);
                    progress.healable = error.is_disk();
                    progress.failed = Some(error.to_string());
                }
            }
        }
        shared.published();
    }
}

/// Combines two merge operands of one key into one (`None`: keep them apart).
pub(crate) type CombineMerges = fn(&[u8], &[u8]) -> Option<Vec<u8>>;

/// One `WriteBatch` for everything taken from the queue, coalesced per key: of the puts and
/// deletes of a key only the last is written (it is the value a reader sees), and the merge
/// operands of a key are combined into one. A hot key (a tenant's quota counters, a large
/// campaign's set header) is then one memtable insert per batch instead of one per message. A
/// key with both merges and puts keeps every write, in order.
/// Why a batch was not written.
#[derive(Debug, thiserror::Error)]
enum WriteFailure {
    #[error(transparent)]
    Db(#[from] rocksdb::Error),
    #[error("column family {0} missing")]
    MissingColumnFamily(&'static str),
}

impl WriteFailure {
    /// An I/O error (a full disk): a later write may succeed.
    fn is_disk(&self) -> bool {
        matches!(self, WriteFailure::Db(error) if error.kind() == rocksdb::ErrorKind::IOError)
    }
}

fn write(db: &DB, write_opts: &WriteOptions, batches: &[Batch], combine: CombineMerges) -> Result<(), WriteFailure> {
    type Slot<'a> = (&'static str, &'a [u8]);
    let ops: Vec<&Op> = batches.iter().flat_map(|b| &b.ops).collect();
    let mut last_write: HashMap<Slot<'_>, usize> = HashMap::new();
    let mut merged: HashMap<Slot<'_>, (usize, Vec<u8>)> = HashMap::new();
    let mut in_order: foldhash::HashSet<Slot<'_>> = foldhash::HashSetExt::new();
    for (i, op) in ops.iter().enumerate() {
        match op {
            Op::Put { cf, key, .. } | Op::Delete { cf, key } => {
                last_write.insert((*cf, &key[..]), i);
            }
            Op::Merge { cf, key, value } => match merged.entry((*cf, &key[..])) {
                std::collections::hash_map::Entry::Vacant(slot) => {
                    slot.insert((i, value.clone()));
                }
                std::collections::hash_map::Entry::Occupied(mut slot) => match combine(&slot.get().1, value) {
                    Some(combined) => slot.get_mut().1 = combined,
                    None => {
                        in_order.insert((*cf, &key[..]));
                    }
                },
            },
        }
    }
    in_order.extend(merged.keys().filter(|slot| last_write.contains_key(*slot)));
    let mut batch = WriteBatch::default();
    for (i, op) in ops.iter().enumerate() {
        let (Op::Put { cf, key, .. } | Op::Delete { cf, key } | Op::Merge { cf, key, .. }) = op;
        let slot = (*cf, &key[..]);
        let Some(handle) = db.cf_handle(cf) else {
            return Err(WriteFailure::MissingColumnFamily(cf));
        };
        let keep_all = in_order.contains(&slot);
        match op {
            Op::Put { value, .. } if keep_all || last_write.get(&slot) == Some(&i) => batch.put_cf(handle, key, value),
            Op::Delete { .. } if keep_all || last_write.get(&slot) == Some(&i) => batch.delete_cf(handle, key),
            Op::Merge { value, .. } if keep_all => batch.merge_cf(handle, key, value),
            Op::Merge { .. } => match merged.get(&slot) {
                Some((first, combined)) if *first == i => batch.merge_cf(handle, key, combined),
                _ => {}
            },
            _ => {}
        }
    }
    Ok(db.write_opt(batch, write_opts)?)
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_lost_batch_fails_its_waiter_even_after_the_writer_healed() {
        let mut progress = Progress {
            applied: 4,
            failed: Some("No space left on device".into()),
            ..Progress::default()
        };
        progress.lose(5, 7);
        progress.lose(8, 9);
        // Healed; later batches applied.
        progress.failed = None;
        progress.applied = 12;
        for seq in 5..=9 {
            assert!(matches!(progress.outcome(seq), Some(Err(_))), "batch {seq}");
        }
        assert!(matches!(progress.outcome(4), Some(Ok(()))));
        assert!(matches!(progress.outcome(10), Some(Ok(()))));
        assert!(progress.outcome(13).is_none(), "not yet applied: keep waiting");
        assert_eq!(progress.lost, vec![(5, 9)], "adjacent ranges merge");
        assert!(matches!(progress.barrier_outcome(12), Some(Ok(()))));
    }

    use super::*;
    use rocksdb::{ColumnFamilyDescriptor, Options};

    const CF: &str = "c";

    fn open(dir: &std::path::Path) -> Arc<DB> {
        let mut opts = Options::default();
        opts.create_if_missing(true);
        opts.create_missing_column_families(true);
        let cfs = [ColumnFamilyDescriptor::new(CF, Options::default())];
        Arc::new(DB::open_cf_descriptors(&opts, dir, cfs).expect("open"))
    }

    /// A merge combiner for the tests: 8-byte little-endian sums.
    fn sum(a: &[u8], b: &[u8]) -> Option<Vec<u8>> {
        let a = u64::from_le_bytes(a.try_into().ok()?);
        let b = u64::from_le_bytes(b.try_into().ok()?);
        Some((a + b).to_le_bytes().to_vec())
    }

    /// A database with the test family, and a writer on it.
    fn started(dir: &std::path::Path) -> (Arc<DB>, Writer) {
        let db = open(dir);
        let writer = Writer::start(Arc::clone(&db), WriteOptions::default(), sum).expect("writer");
        (db, writer)
    }

    /// Queues `batch` (the tests never fill the queue).
    fn commit_now(writer: &Writer, batch: Batch) -> Result<(), StoreError> {
        match writer.try_commit(batch)? {
            Queued::Done => Ok(()),
            Queued::Full(_) => panic!("the queue is full"),
        }
    }

    fn put(writer: &Writer, key: &[u8], value: &[u8]) {
        let mut batch = Batch::default();
        batch.put(CF, key, value);
        commit_now(writer, batch).expect("commit");
    }

    fn read(writer: &Writer, db: &DB, key: &[u8]) -> Option<Vec<u8>> {
        writer.read(db, CF, key, |v| Ok(v.to_vec())).expect("read")
    }

    #[test]
    fn reads_see_every_write_made_before_them_while_the_writer_races() {
        let dir = tempfile::tempdir().expect("tmp");
        let (db, writer) = started(dir.path());
        for i in 0..5_000u32 {
            let key = format!("k{}", i % 7);
            if i % 13 == 0 {
                let mut batch = Batch::default();
                batch.delete(CF, key.as_bytes());
                commit_now(&writer, batch).expect("commit");
                assert_eq!(read(&writer, &db, key.as_bytes()), None, "deleted at {i}");
            } else {
                put(&writer, key.as_bytes(), &i.to_be_bytes());
                assert_eq!(
                    read(&writer, &db, key.as_bytes()),
                    Some(i.to_be_bytes().to_vec()),
                    "written at {i}"
                );
            }
        }
    }

    #[test]
    fn a_batch_is_coalesced_per_key_without_changing_what_is_stored() {
        let dir = tempfile::tempdir().expect("tmp");
        let mut opts = Options::default();
        opts.create_if_missing(true);
        opts.create_missing_column_families(true);
        let mut counted = Options::default();
        counted.set_merge_operator_associative("sum", |_, existing, operands| {
            let mut total = existing.map_or(0, |v| u64::from_le_bytes(v.try_into().unwrap_or([0; 8])));
            for op in operands {
                total += u64::from_le_bytes(op.try_into().ok()?);
            }
            Some(total.to_le_bytes().to_vec())
        });
        let cfs = [
            ColumnFamilyDescriptor::new(CF, Options::default()),
            ColumnFamilyDescriptor::new("m", counted),
        ];
        let db = Arc::new(DB::open_cf_descriptors(&opts, dir.path(), cfs).expect("open"));
        let writer = Writer::start(Arc::clone(&db), WriteOptions::default(), sum).expect("writer");
        // Many writes to few keys, all in one batch (nobody waits until the end).
        for i in 0..200u64 {
            put(&writer, b"header", &i.to_be_bytes());
            let mut batch = Batch::default();
            batch.merge("m", b"hits".as_slice(), 1u64.to_le_bytes().as_slice());
            batch.merge("m", b"weight".as_slice(), i.to_le_bytes().as_slice());
            if i % 3 == 0 {
                batch.delete(CF, b"flag".as_slice());
            } else {
                batch.put(CF, b"flag".as_slice(), b"set".as_slice());
            }
            commit_now(&writer, batch).expect("commit");
        }
        writer.barrier().expect("barrier");
        let cf = db.cf_handle(CF).expect("cf");
        let m = db.cf_handle("m").expect("m");
        assert_eq!(
            db.get_cf(cf, b"header").expect("get"),
            Some(199u64.to_be_bytes().to_vec())
        );
        assert_eq!(
            db.get_cf(cf, b"flag").expect("get"),
            Some(b"set".to_vec()),
            "199 % 3 != 0"
        );
        let get_u64 =
            |k: &[u8]| u64::from_le_bytes(db.get_cf(m, k).expect("get").expect("some").try_into().expect("8"));
        assert_eq!(get_u64(b"hits"), 200);
        assert_eq!(get_u64(b"weight"), (0..200u64).sum::<u64>());
        // A key with both a put and merges keeps every write, in order.
        let mut batch = Batch::default();
        batch.merge("m", b"mixed".as_slice(), 1u64.to_le_bytes().as_slice());
        batch.put("m", b"mixed".as_slice(), 5u64.to_le_bytes().as_slice());
        batch.merge("m", b"mixed".as_slice(), 1u64.to_le_bytes().as_slice());
        batch.merge("m", b"mixed".as_slice(), 2u64.to_le_bytes().as_slice());
        commit_now(&writer, batch).expect("commit");
        writer.barrier().expect("barrier");
        assert_eq!(get_u64(b"mixed"), 8);
    }

    #[test]
    fn a_barrier_puts_every_queued_write_in_the_database() {
        let dir = tempfile::tempdir().expect("tmp");
        let (db, writer) = started(dir.path());
        for i in 0..300u32 {
            put(&writer, &i.to_be_bytes(), b"v");
        }
        writer.barrier().expect("barrier");
        let cf = db.cf_handle(CF).expect("cf");
        assert_eq!(db.iterator_cf(cf, rocksdb::IteratorMode::Start).count(), 300);
        // Nothing left in the overlay: the values come from the database.
        assert!(writer
            .shared
            .overlay
            .iter()
            .all(|s| lock(s).values().all(HashMap::is_empty)));
    }

    #[test]
    fn wait_applied_returns_once_the_write_is_in_the_database() {
        let dir = tempfile::tempdir().expect("tmp");
        let (db, writer) = started(dir.path());
        put(&writer, b"k", b"v1");
        let rt = tokio::runtime::Builder::new_current_thread().build().expect("rt");
        rt.block_on(writer.wait_applied(writer.submitted())).expect("applied");
        let cf = db.cf_handle(CF).expect("cf");
        assert_eq!(db.get_cf(cf, b"k").expect("get"), Some(b"v1".to_vec()));
    }

    #[test]
    fn a_full_queue_makes_a_committer_wait_as_a_task_until_there_is_room() {
        let dir = tempfile::tempdir().expect("tmp");
        let (db, writer) = started(dir.path());
        let stall = writer.stall();
        let full = |n: u32| {
            let mut batch = Batch::default();
            for i in 0..MAX_QUEUED_OPS as u32 {
                batch.put(CF, n.to_be_bytes(), i.to_be_bytes());
            }
            batch
        };
        // The stalled writer holds one round; fill the queue behind it.
        let mut n = 0;
        let waiting = loop {
            n += 1;
            assert!(n < 100, "the queue never filled");
            match writer.try_commit(full(n)).expect("queued") {
                Queued::Done => std::thread::sleep(Duration::from_millis(5)),
                Queued::Full(batch) => break batch,
            }
        };
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .expect("rt");
        // On a one-thread runtime: a committer blocking its thread would keep the timer from
        // ever firing, and this test from ending.
        let waited =
            rt.block_on(async { tokio::time::timeout(Duration::from_millis(100), writer.commit(full(n))).await });
        assert!(waited.is_err(), "no room while the writer is stalled");
        drop(stall);
        rt.block_on(writer.commit(waiting)).expect("queued once there is room");
        writer.barrier().expect("barrier");
        let cf = db.cf_handle(CF).expect("cf");
        assert!(db.get_cf(cf, n.to_be_bytes()).expect("get").is_some());
    }

    #[test]
    fn dropping_the_writer_applies_what_is_queued() {
        let dir = tempfile::tempdir().expect("tmp");
        let (db, writer) = started(dir.path());
        put(&writer, b"last", b"v");
        drop(writer);
        let cf = db.cf_handle(CF).expect("cf");
        assert_eq!(db.get_cf(cf, b"last").expect("get"), Some(b"v".to_vec()));
    }

    #[test]
    fn a_write_the_database_refuses_fails_every_later_operation() {
        let dir = tempfile::tempdir().expect("tmp");
        let (_db, writer) = started(dir.path());
        // A column family the database does not have: the writer's batch fails.
        let mut batch = Batch::default();
        batch.put("missing", b"k".as_slice(), b"v".as_slice());
        commit_now(&writer, batch).expect("queued");
        assert!(matches!(writer.barrier(), Err(StoreError::Write(_))));
        let mut batch = Batch::default();
        batch.put(CF, b"k".as_slice(), b"v".as_slice());
        assert!(matches!(commit_now(&writer, batch), Err(StoreError::Write(_))));
        // Not a disk error: the writer does not heal it, however long it waits.
        std::thread::sleep(crate::health::PROBE_INTERVAL * 3);
        let mut batch = Batch::default();
        batch.put(CF, b"k".as_slice(), b"v".as_slice());
        assert!(matches!(commit_now(&writer, batch), Err(StoreError::Write(_))));
    }
}

//! Embedded RocksDB backend: the default store of a single gateway node.
//!
//! - One column family per kind of data: `counters`, `sets` (distinct sets and event logs),
//!   `tenant_fields` (one key per field of a tenant record; `tenants` holds records of earlier
//!   versions until they are rewritten), `blocks`, `events`, `audit`, `suppression`, `campaigns`.
//! - Counters are bucketed (see [`crate::store::window`]) and charged with a merge operator: a
//!   plain charge is one blind write, no read-modify-write; checks read an exact in-memory mirror
//!   of the live buckets (`counters.rs`).
//! - Check-and-charge (counters, sets, event logs, campaign index) reads and writes under one of
//!   1024 striped mutexes chosen by key hash. RocksDB admits one process per database, so a
//!   process-local lock is enough to make check-and-charge atomic per key; striping keeps unrelated
//!   keys from waiting on each other. The stripes are async mutexes: an operation that must wait
//!   for the writer (a range scan after queued writes, a full write queue) holds its stripe
//!   across that wait, and whoever wants the same stripe waits as a task, never as a thread.
//!   They are `futures_util`'s, not tokio's: a free stripe goes to whichever task asks first, as
//!   with a thread mutex, instead of being handed to the next queued waiter (tokio's is fair),
//!   which left the hot quota stripes reserved for tasks not yet running: a convoy that cost a
//!   fifth of the throughput with DKIM signing on.
//! - Writes are made by one writer thread, in batches (`writer.rs`): an operation queues its writes
//!   and returns; reads see queued writes. WAL on, no fsync per write: a charge reaches the WAL (the
//!   OS page cache) a batch later, within about 5 ms, and then survives `kill -9`
//!   of the process; `sync` waits for that. Records an operator writes (tenants, blocks,
//!   suppressions) are in the WAL when their call returns. A power loss may lose the last moments
//!   of counts, which only makes a limit slightly more lenient for one window.
//! - Expiry: every windowed value carries its expiry and a compaction filter drops it; logs are
//!   dropped by key timestamp after the retention. Periodic compaction makes sure even cold files
//!   are visited. Nothing on the hot path scans the database.
//!
//! Operations run inline on the calling task and never block its thread: they never wait for a
//! disk write, and when they must wait for the writer thread (see `writer.rs`) they wait
//! asynchronously. Point reads and the short range scans of one key (a counter's live buckets, a
//! set's evictions) stay inline: they read the memtable, the block cache or the page cache, and a
//! hop to the blocking pool would cost more than the read. Lists (whole ranges of a tenant) run
//! on the blocking pool.

mod api_tokens;
mod campaign_cache;
mod checkpoint;
mod codec;
mod complaints;
mod counters;
mod events;
mod records;
mod sets;
mod tenants;
mod writer;

pub use writer::WriteStall;

use std::hash::BuildHasher;
use std::path::Path;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Duration;

use futures_util::lock::{Mutex, MutexGuard};

use rocksdb::{ColumnFamily, ColumnFamilyDescriptor, Options, WriteOptions, DB};

use super::{
    ApiToken, AuditRecord, Block, BlockScope, BoxFut, CampaignMatch, Charge, CounterWindow, Event, EventCharge, Key,
    Lift, RateStore, SetCharge, StoreError, Suppression, TenantChange, TenantRecord,
};
use super::{ComplaintPut, ComplaintScope, MessageOrigin, StoredComplaint};

pub(crate) const CF_COUNTERS: &str = "counters";
pub(crate) const CF_SETS: &str = "sets";
pub(crate) const CF_TENANTS: &str = "tenants";
pub(crate) const CF_TENANT_FIELDS: &str = "tenant_fields";
pub(crate) const CF_BLOCKS: &str = "blocks";
pub(crate) const CF_EVENTS: &str = "events";
pub(crate) const CF_AUDIT: &str = "audit";
pub(crate) const CF_SUPPRESSION: &str = "suppression";
pub(crate) const CF_CAMPAIGNS: &str = "campaigns";
pub(crate) const CF_API_TOKENS: &str = "api_tokens";
// Complaint intake (`complaints.rs`).
pub(crate) const CF_MESSAGE_ORIGINS: &str = "message_origins";
pub(crate) const CF_COMPLAINTS: &str = "complaints";

/// Every column family, for tests and tools.
pub const COLUMN_FAMILIES: [&str; 12] = [
    CF_COUNTERS,
    CF_SETS,
    CF_TENANTS,
    CF_TENANT_FIELDS,
    CF_BLOCKS,
    CF_EVENTS,
    CF_AUDIT,
    CF_SUPPRESSION,
    CF_CAMPAIGNS,
    CF_API_TOKENS,
    CF_MESSAGE_ORIGINS,
    CF_COMPLAINTS,
];

const STRIPES: usize = 1024;

/// The RocksDB store. Cheap to clone (shared handle).
#[derive(Clone)]
pub struct RocksStore {
    inner: Arc<Inner>,
}

pub(crate) struct Inner {
    db: Arc<DB>,
    /// Applies every write, in batches (see `writer.rs`).
    writer: writer::Writer,
    stripes: Box<[Mutex<()>]>,
    hasher: std::hash::RandomState,
    /// Tie-breaker of log keys written in the same millisecond; seeded from the wall clock in ns
    /// so it keeps increasing across restarts.
    seq: AtomicU64,
    /// The live buckets of the counters being checked (see `counters.rs`).
    mirror: counters::Mirror,
    /// The campaign index entries read or written (see `campaign_cache.rs`).
    campaign_cache: campaign_cache::CampaignCache,
    /// Bumped by every tenant record write (see `RateStore::tenant_generation`).
    tenant_generation: AtomicU64,
}

impl RocksStore {
    /// Opens (creating if needed) the database at `path`. Blocking: call from a blocking context.
    pub fn open(path: &Path, log_retention: Duration) -> Result<Self, StoreError> {
        let retention_ms = u64::try_from(log_retention.as_millis()).unwrap_or(u64::MAX);
        let mut db_opts = Options::default();
        db_opts.create_if_missing(true);
        db_opts.create_missing_column_families(true);
        // A day: expired data in files nobody writes to still gets filtered out.
        db_opts.set_periodic_compaction_seconds(86_400);
        // Each write is a few small entries: the group leader inserts them all faster than the
        // followers could be woken to insert their own in parallel (which costs futex round
        // trips on every write; measured: 12% more messages per second through the gateway).
        db_opts.set_allow_concurrent_memtable_write(false);
        let cfs = COLUMN_FAMILIES.iter().map(|name| {
            let mut o = Options::default();
            o.set_periodic_compaction_seconds(86_400);
            match *name {
                CF_COUNTERS => {
                    o.set_merge_operator_associative("aupgate_counter_add", codec::counter_merge);
                    // A small memtable: every charge is one skiplist insert, and a short skiplist
                    // keeps that cheap (4x the throughput of a 64 MiB one). Flushing folds each
                    // bucket's operands into one value, in the background.
                    o.set_write_buffer_size(8 << 20);
                    // No collapsing of merge chains at write time: checks read the in-memory
                    // mirror (`counters.rs`), so a charge stays one blind write.
                    o.set_compaction_filter("aupgate_expiry", codec::expiry_filter);
                }
                CF_SETS | CF_CAMPAIGNS | CF_MESSAGE_ORIGINS => {
                    o.set_compaction_filter("aupgate_expiry", codec::expiry_filter);
                    fast_misses(&mut o);
                }
                CF_SUPPRESSION | CF_TENANTS | CF_TENANT_FIELDS | CF_BLOCKS | CF_API_TOKENS => fast_misses(&mut o),
                CF_EVENTS | CF_AUDIT => {
                    o.set_compaction_filter("aupgate_log_retention", codec::log_filter(retention_ms));
                }
                _ => {}
            }
            ColumnFamilyDescriptor::new(*name, o)
        });
        let db = Arc::new(DB::open_cf_descriptors(&db_opts, path, cfs)?);
        let mut write_opts = WriteOptions::default();
        write_opts.set_sync(false);
        write_opts.disable_wal(false);
        let seed = u64::try_from(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0),
        )
        .unwrap_or(u64::MAX / 2);
        let writer = writer::Writer::start(Arc::clone(&db), write_opts, codec::counter_combine)?;
        Ok(RocksStore {
            inner: Arc::new(Inner {
                db,
                writer,
                stripes: (0..STRIPES).map(|_| Mutex::new(())).collect(),
                hasher: std::hash::RandomState::new(),
                seq: AtomicU64::new(seed),
                mirror: counters::Mirror::new(),
                campaign_cache: campaign_cache::CampaignCache::new(),
                tenant_generation: AtomicU64::new(0),
            }),
        })
    }

    /// Compacts every column family now, running the expiry filters (tests, maintenance).
    pub fn compact_all(&self) -> Result<(), StoreError> {
        self.inner.writer.barrier()?;
        for name in COLUMN_FAMILIES {
            let cf = self.inner.cf(name)?;
            self.inner.db.compact_range_cf(cf, None::<&[u8]>, None::<&[u8]>);
        }
        Ok(())
    }

    /// Number of raw entries in a column family (a full scan: tests and diagnostics only).
    pub fn raw_len(&self, cf: &'static str) -> Result<usize, StoreError> {
        self.inner.writer.barrier()?;
        let cf = self.inner.cf(cf)?;
        let mut it = self.inner.db.raw_iterator_cf(cf);
        it.seek_to_first();
        let mut n = 0;
        while it.valid() {
            n += 1;
            it.next();
        }
        it.status()?;
        Ok(n)
    }

    /// Runs a write an operator makes (tenants, blocks, suppressions) and waits until the writer
    /// has put it in the WAL: acknowledged means written. The hot-path charges do not wait.
    async fn durable<T>(&self, op: impl std::future::Future<Output = Result<T, StoreError>>) -> Result<T, StoreError> {
        let value = op.await?;
        self.inner.writer.wait_applied(self.inner.writer.submitted()).await?;
        Ok(value)
    }

    fn blocking<T, F>(&self, f: F) -> BoxFut<'static, T>
    where
        T: Send + 'static,
        F: FnOnce(&Inner) -> Result<T, StoreError> + Send + 'static,
    {
        let inner = Arc::clone(&self.inner);
        Box::pin(async move {
            tokio::task::spawn_blocking(move || f(&inner))
                .await
                .map_err(|e| StoreError::Task(e.to_string()))?
        })
    }
}

/// Bloom filters on whole keys, in the memtable and in every table file, for the families the
/// checks look keys up in: most lookups are for keys that do not exist (a new recipient's set
/// member or event log, an address not on the suppression list), and a filter answers those
/// without searching the skiplist or a file's index.
fn fast_misses(o: &mut Options) {
    let mut table = rocksdb::BlockBasedOptions::default();
    table.set_bloom_filter(10.0, false);
    table.set_whole_key_filtering(true);
    o.set_block_based_table_factory(&table);
    o.set_memtable_prefix_bloom_ratio(0.05);
    o.set_memtable_whole_key_filtering(true);
}

impl Inner {
    pub(crate) fn cf(&self, name: &'static str) -> Result<&ColumnFamily, StoreError> {
        self.db
            .cf_handle(name)
            .ok_or_else(|| StoreError::corrupt("database", format!("column family {name} missing")))
    }

    /// The stripe locks of several keys (by `key_hash`), taken in stripe order (no deadlock
    /// between two callers locking overlapping sets), each stripe once.
    pub(crate) async fn lock_all_hashed(&self, hashes: impl Iterator<Item = u64>) -> Vec<MutexGuard<'_, ()>> {
        let mut stripes: Vec<usize> = hashes.map(|h| self.stripe_of(h)).collect();
        stripes.sort_unstable();
        stripes.dedup();
        let mut guards = Vec::with_capacity(stripes.len());
        for i in stripes {
            guards.push(self.stripes[i].lock().await);
        }
        guards
    }

    /// The keyed hash of `key` (stripe and mirror shard both derive from it: one hash per op).
    pub(crate) fn key_hash(&self, key: &[u8]) -> u64 {
        self.hasher.hash_one(key)
    }

    fn stripe_of(&self, hash: u64) -> usize {
        usize::try_from(hash % STRIPES as u64).unwrap_or(0)
    }

    /// The stripe lock for `key`.
    pub(crate) async fn lock(&self, key: &[u8]) -> MutexGuard<'_, ()> {
        self.lock_hashed(self.key_hash(key)).await
    }

    /// The stripe lock for a key whose `key_hash` is `hash`.
    pub(crate) async fn lock_hashed(&self, hash: u64) -> MutexGuard<'_, ()> {
        self.stripes[self.stripe_of(hash)].lock().await
    }
}

impl RateStore for RocksStore {
    fn backend(&self) -> &'static str {
        "rocksdb"
    }

    fn degraded(&self) -> Option<String> {
        self.inner.writer.health().describe()
    }

    fn stall_writes_for_test(&self) -> Option<WriteStall> {
        Some(self.inner.writer.stall())
    }

    fn sync(&self) -> BoxFut<'_, ()> {
        Box::pin(async move { self.inner.writer.wait_applied(self.inner.writer.submitted()).await })
    }

    fn counter_add<'a>(&'a self, key: &'a Key, n: u64, now: u64, window: Duration) -> BoxFut<'a, ()> {
        Box::pin(self.inner.counter_add(key, n, now, window))
    }

    fn counter_add_many<'a>(&'a self, charges: &'a [(Key, u64, Duration)], now: u64) -> BoxFut<'a, ()> {
        Box::pin(self.inner.counter_add_many(charges, now))
    }

    fn counter_get<'a>(&'a self, key: &'a Key, now: u64, window: Duration) -> BoxFut<'a, u64> {
        Box::pin(self.inner.counter_get(key, now, window))
    }

    fn counter_window<'a>(&'a self, key: &'a Key, now: u64, window: Duration) -> BoxFut<'a, CounterWindow> {
        Box::pin(self.inner.counter_window(key, now, window))
    }

    fn counter_check_and_add<'a>(
        &'a self,
        key: &'a Key,
        n: u64,
        limit: u64,
        now: u64,
        window: Duration,
    ) -> BoxFut<'a, Charge> {
        Box::pin(self.inner.counter_check_and_add(key, n, limit, now, window))
    }

    fn set_check_and_add<'a>(
        &'a self,
        key: &'a Key,
        member: &'a [u8],
        now: u64,
        window: Duration,
        cap: u32,
    ) -> BoxFut<'a, SetCharge> {
        Box::pin(self.inner.set_check_and_add(key, member, now, window, cap))
    }

    fn set_count<'a>(&'a self, key: &'a Key, now: u64, window: Duration) -> BoxFut<'a, u32> {
        Box::pin(self.inner.set_count(key, now, window))
    }

    fn counter_release<'a>(&'a self, key: &'a Key, n: u64, at: u64, window: Duration) -> BoxFut<'a, ()> {
        Box::pin(self.inner.counter_release(key, n, at, window))
    }

    fn set_release<'a>(&'a self, key: &'a Key, member: &'a [u8], at: u64, window: Duration) -> BoxFut<'a, ()> {
        Box::pin(self.inner.set_release(key, member, at, window))
    }

    fn events_check_and_add<'a>(
        &'a self,
        key: &'a Key,
        now: u64,
        window: Duration,
        cap: u32,
    ) -> BoxFut<'a, EventCharge> {
        Box::pin(self.inner.events_check_and_add(key, now, window, cap))
    }

    fn events_count<'a>(&'a self, key: &'a Key, now: u64, window: Duration) -> BoxFut<'a, u32> {
        Box::pin(async move { self.inner.events_count(key, now, window) })
    }

    fn events_counts_under<'a>(
        &'a self,
        prefix: &'a Key,
        now: u64,
        window: Duration,
    ) -> BoxFut<'a, Vec<(Vec<u8>, u32)>> {
        let prefix = prefix.clone();
        self.blocking(move |inner| inner.events_counts_under(&prefix, now, window))
    }

    fn events_release<'a>(&'a self, key: &'a Key, at: u64, window: Duration) -> BoxFut<'a, ()> {
        Box::pin(self.inner.events_release(key, at, window))
    }

    fn tenant_get<'a>(&'a self, id: &'a str) -> BoxFut<'a, Option<TenantRecord>> {
        Box::pin(self.tenant_get_record(id))
    }

    fn tenant_list(&self) -> BoxFut<'_, Vec<TenantRecord>> {
        Box::pin(self.tenant_list_records())
    }

    fn tenant_create<'a>(&'a self, rec: &'a TenantRecord) -> BoxFut<'a, bool> {
        Box::pin(self.create(rec))
    }

    fn tenant_seed<'a>(&'a self, rec: &'a TenantRecord) -> BoxFut<'a, bool> {
        Box::pin(self.seed(rec))
    }

    fn tenant_update<'a>(&'a self, id: &'a str, changes: &'a [TenantChange]) -> BoxFut<'a, bool> {
        Box::pin(self.update(id, changes))
    }

    fn tenant_delete<'a>(&'a self, id: &'a str) -> BoxFut<'a, bool> {
        Box::pin(self.delete(id))
    }

    fn tenant_generation(&self) -> BoxFut<'_, u64> {
        let generation = self.generation();
        Box::pin(async move { Ok(generation) })
    }

    fn block_add<'a>(&'a self, block: &'a Block) -> BoxFut<'a, ()> {
        Box::pin(self.durable(self.inner.block_add(block)))
    }

    fn block_get<'a>(&'a self, tenant: &'a str, scope: BlockScope, target: &'a str) -> BoxFut<'a, Option<Block>> {
        Box::pin(async move { self.inner.block_get(tenant, scope, target) })
    }

    fn block_lift<'a>(
        &'a self,
        tenant: &'a str,
        scope: BlockScope,
        target: &'a str,
        lift: &'a Lift,
    ) -> BoxFut<'a, Option<Block>> {
        Box::pin(self.durable(self.inner.block_lift(tenant, scope, target, lift)))
    }

    fn blocks_list<'a>(&'a self, tenant: &'a str) -> BoxFut<'a, Vec<Block>> {
        let tenant = tenant.to_owned();
        self.blocking(move |inner| inner.blocks_list(&tenant))
    }

    fn event_append<'a>(&'a self, tenant: &'a str, event: &'a Event) -> BoxFut<'a, ()> {
        Box::pin(self.inner.log_append(CF_EVENTS, tenant, event.at, event))
    }

    fn events_range<'a>(&'a self, tenant: &'a str, from: u64, to: u64) -> BoxFut<'a, Vec<Event>> {
        let tenant = tenant.to_owned();
        self.blocking(move |inner| inner.log_range(CF_EVENTS, &tenant, from, to))
    }

    fn audit_append<'a>(&'a self, tenant: &'a str, rec: &'a AuditRecord) -> BoxFut<'a, ()> {
        Box::pin(self.inner.log_append(CF_AUDIT, tenant, rec.at, rec))
    }

    fn audit_range<'a>(&'a self, tenant: &'a str, from: u64, to: u64) -> BoxFut<'a, Vec<AuditRecord>> {
        let tenant = tenant.to_owned();
        self.blocking(move |inner| inner.log_range(CF_AUDIT, &tenant, from, to))
    }

    fn suppression_add<'a>(&'a self, tenant: &'a str, entry: &'a Suppression) -> BoxFut<'a, ()> {
        Box::pin(self.durable(self.inner.suppression_add(tenant, entry)))
    }

    fn suppression_remove<'a>(&'a self, tenant: &'a str, address: &'a str) -> BoxFut<'a, bool> {
        Box::pin(self.durable(self.inner.suppression_remove(tenant, address)))
    }

    fn suppression_contains<'a>(&'a self, tenant: &'a str, address: &'a str) -> BoxFut<'a, bool> {
        Box::pin(async move { self.inner.suppression_contains(tenant, address) })
    }

    fn suppression_list<'a>(&'a self, tenant: &'a str) -> BoxFut<'a, Vec<Suppression>> {
        let tenant = tenant.to_owned();
        self.blocking(move |inner| inner.suppression_list(&tenant))
    }

    fn campaigns_live<'a>(&'a self, tenant: &'a str, now: u64) -> BoxFut<'a, Vec<String>> {
        let tenant = tenant.to_owned();
        self.blocking(move |inner| inner.campaigns_live(&tenant, now))
    }

    fn campaign_lookup_or_insert<'a>(
        &'a self,
        tenant: &'a str,
        band_keys: &'a [u64],
        candidate: &'a str,
        now: u64,
        window: Duration,
        pinned: &'a [String],
    ) -> BoxFut<'a, CampaignMatch> {
        Box::pin(self.inner.campaign(tenant, band_keys, candidate, now, window, pinned))
    }

    fn api_token_put<'a>(&'a self, token: &'a ApiToken) -> BoxFut<'a, ()> {
        Box::pin(self.durable(self.inner.api_token_put(token)))
    }

    fn api_token_get<'a>(&'a self, tenant: &'a str, id: &'a str) -> BoxFut<'a, Option<ApiToken>> {
        Box::pin(async move { self.inner.api_token_get(tenant, id) })
    }

    fn api_token_list<'a>(&'a self, tenant: &'a str) -> BoxFut<'a, Vec<ApiToken>> {
        let tenant = tenant.to_owned();
        self.blocking(move |inner| inner.api_token_list(&tenant))
    }

    fn api_token_remove<'a>(&'a self, tenant: &'a str, id: &'a str) -> BoxFut<'a, bool> {
        Box::pin(self.durable(self.inner.api_token_remove(tenant, id)))
    }

    fn checkpoint<'a>(&'a self, dir: &'a std::path::Path) -> BoxFut<'a, bool> {
        Box::pin(async move { self.checkpoint_into(dir).await.map(|()| true) })
    }

    fn message_origin_put<'a>(
        &'a self,
        message_id: &'a str,
        origin: &'a MessageOrigin,
        now: u64,
        retention: Duration,
    ) -> BoxFut<'a, ()> {
        let expires = now.saturating_add(u64::try_from(retention.as_millis()).unwrap_or(u64::MAX));
        Box::pin(self.inner.message_origin_put(message_id, origin, now, expires))
    }

    fn message_origin_get<'a>(&'a self, message_id: &'a str, now: u64) -> BoxFut<'a, Option<MessageOrigin>> {
        Box::pin(async move { self.inner.message_origin_get(message_id, now) })
    }

    fn complaint_put<'a>(&'a self, complaint: &'a StoredComplaint) -> BoxFut<'a, ComplaintPut> {
        Box::pin(self.durable(self.inner.complaint_put(complaint)))
    }

    fn complaint_get<'a>(&'a self, id: &'a str) -> BoxFut<'a, Option<StoredComplaint>> {
        Box::pin(async move { self.inner.complaint_get(id) })
    }

    fn complaints_list<'a>(
        &'a self,
        scope: ComplaintScope<'a>,
        since: &'a str,
        before: &'a str,
        limit: usize,
    ) -> BoxFut<'a, Vec<StoredComplaint>> {
        let owned = match scope {
            ComplaintScope::Tenant(tenant) => Some(tenant.to_owned()),
            _ => None,
        };
        let unattributed = scope == ComplaintScope::Unattributed;
        let (since, before) = (since.to_owned(), before.to_owned());
        self.blocking(move |inner| {
            let scope = match (&owned, unattributed) {
                (Some(tenant), _) => ComplaintScope::Tenant(tenant),
                (None, true) => ComplaintScope::Unattributed,
                (None, false) => ComplaintScope::All,
            };
            inner.complaints_list(scope, &since, &before, limit)
        })
    }

    fn complaints_expire<'a>(&'a self, before: &'a str, limit: usize) -> BoxFut<'a, usize> {
        let before = before.to_owned();
        Box::pin(async move {
            let old = self
                .blocking(move |inner| inner.complaints_list(ComplaintScope::All, "", &before, limit))
                .await?;
            self.inner.complaints_remove(&old).await?;
            Ok(old.len())
        })
    }
}

//! The rate store: the one boundary for state that policy decisions read and charge.
//!
//! Parts:
//! - [`RateStore`] — the trait every check uses: windowed counters, exact capped distinct sets and
//!   event logs (check-and-add, atomic per key), tenant records, blocks, event and audit logs,
//!   suppression lists, the campaign index.
//! - [`key`] — keys from length-prefixed parts, so no user string can forge another key.
//! - [`window`] — bucket arithmetic of the sliding counters and its error bound.
//! - [`rocks`] — the embedded RocksDB backend (default, one process).
//! - [`redis`] — the Redis/Valkey backend (standalone or cluster, shared by several nodes).
//! - [`config`] — `[store]` config and [`open_store`].
//! - [`timed`] — any store with each operation's latency in the metrics.
//!
//! Time is always passed in (`now`, unix milliseconds): the store has no hidden clock on any
//! answer. (Only background garbage collection — RocksDB compaction filters, Redis EXPIRE — looks
//! at the wall clock, and only to drop data that no read can count any more.)
//!
//! A store must never fail open: any failure is a [`StoreError`], never a zero or an empty answer.

pub mod batch;
pub mod complaints;
pub mod config;
pub mod error;
pub mod faulty;
pub mod feed;
pub mod key;
pub mod redis;
pub mod rocks;
mod tenant_codec;
pub mod timed;
pub mod types;
pub mod window;

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

pub use complaints::{ComplaintPut, ComplaintScope, MessageOrigin, StoredComplaint};
pub use config::{open_store, Backend, StoreConfig};
pub use error::StoreError;
pub use key::Key;
pub use types::{
    ApiToken, AuditRecord, Block, BlockScope, CampaignMatch, Charge, CounterWindow, Event, EventCharge, Lift,
    SetCharge, Suppression, TenantChange, TenantCredential, TenantDomain, TenantField, TenantLimits, TenantRecord,
    TenantState,
};

/// A boxed future returning a store result; the trait must be usable as `dyn RateStore`.
pub type BoxFut<'a, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'a>>;

/// Largest cap of a distinct set or event log: they are stored whole, so they must stay small.
pub const MAX_CAP: u32 = 10_000;
/// Longest member of a distinct set (callers should pass a hash of the recipient).
pub const MAX_MEMBER_LEN: usize = 1024;

/// The shared state behind every policy decision. All methods take `now` in unix milliseconds.
///
/// Windows: counters are bucketed (see [`window`] for the error bound: never under-counts, may
/// count up to `W/60` extra of old events); sets and event logs are exact: an entry recorded at
/// `t` counts at `now` iff `now - W < t`.
pub trait RateStore: Send + Sync {
    /// `"rocksdb"` or `"redis"`.
    fn backend(&self) -> &'static str;

    /// What keeps the store from writing now (`/health`), if anything. Redis answers each
    /// operation itself, so an outage shows in the operations (`451 4.3.0`), not here.
    fn degraded(&self) -> Option<String> {
        None
    }

    /// Tests only: holds the store's writes back (as a hung disk would) until the handle is
    /// dropped; `None` where the backend has no writer of its own (Redis).
    #[doc(hidden)]
    fn stall_writes_for_test(&self) -> Option<rocks::WriteStall> {
        None
    }

    /// Waits until every write made so far is as durable as the backend promises: in RocksDB's
    /// WAL (the embedded store writes behind, in batches); Redis has applied a write when it
    /// answers, so there is nothing to wait for.
    fn sync(&self) -> BoxFut<'_, ()> {
        Box::pin(async { Ok(()) })
    }

    /// Adds `n` to a windowed counter without reading it (the cheap hot-path charge).
    fn counter_add<'a>(&'a self, key: &'a Key, n: u64, now: u64, window: Duration) -> BoxFut<'a, ()>;
    /// Adds to several windowed counters in one write (one batch for RocksDB, one
    /// pipeline for Redis): what an accepted message charges. Each entry is `(key, n, window)`.
    fn counter_add_many<'a>(&'a self, charges: &'a [(Key, u64, Duration)], now: u64) -> BoxFut<'a, ()> {
        Box::pin(async move {
            for (key, n, window) in charges {
                self.counter_add(key, *n, now, *window).await?;
            }
            Ok(())
        })
    }
    /// The counter's total over the last `window`.
    fn counter_get<'a>(&'a self, key: &'a Key, now: u64, window: Duration) -> BoxFut<'a, u64>;
    /// The counter's live buckets over the last `window` (admin reads: the usage view's totals
    /// and reset times, with exactly the arithmetic the checks use).
    fn counter_window<'a>(&'a self, key: &'a Key, now: u64, window: Duration) -> BoxFut<'a, CounterWindow>;
    /// Adds `n` only if the total stays `<= limit`; atomic per key.
    fn counter_check_and_add<'a>(
        &'a self,
        key: &'a Key,
        n: u64,
        limit: u64,
        now: u64,
        window: Duration,
    ) -> BoxFut<'a, Charge>;
    /// Takes back `n` that a check-and-add charged at `at` (a message that was not accepted
    /// after all): subtracted from the bucket `at` fell in, never below zero (a bucket already
    /// gone stays gone). Atomic per key.
    fn counter_release<'a>(&'a self, key: &'a Key, n: u64, at: u64, window: Duration) -> BoxFut<'a, ()>;

    /// Records `member` at `now` if it is already in the set or the set stays within `cap`
    /// distinct members over the window; atomic per key. Members beyond the cap are not stored.
    fn set_check_and_add<'a>(
        &'a self,
        key: &'a Key,
        member: &'a [u8],
        now: u64,
        window: Duration,
        cap: u32,
    ) -> BoxFut<'a, SetCharge>;
    /// Distinct members recorded in the window.
    fn set_count<'a>(&'a self, key: &'a Key, now: u64, window: Duration) -> BoxFut<'a, u32>;
    /// Takes back a charge that added `member` at `at` (it was not a member before): removes it
    /// if it was last seen at `at`, so a message that was not accepted after all does not count.
    /// A member seen again since stays: every touch moves its time forward, within one
    /// millisecond too. Atomic per key.
    fn set_release<'a>(&'a self, key: &'a Key, member: &'a [u8], at: u64, window: Duration) -> BoxFut<'a, ()>;

    /// Records one occurrence at `now` if the window holds fewer than `cap`; exact (every
    /// timestamp is kept, so "more than `cap` in ANY window" is exact); atomic per key.
    fn events_check_and_add<'a>(
        &'a self,
        key: &'a Key,
        now: u64,
        window: Duration,
        cap: u32,
    ) -> BoxFut<'a, EventCharge>;
    /// Occurrences recorded in the window.
    fn events_count<'a>(&'a self, key: &'a Key, now: u64, window: Duration) -> BoxFut<'a, u32>;
    /// Every event log whose key is `prefix` followed by more parts, with its occurrences in the
    /// window (logs with none left out), in no particular order; each as (the encoded parts after
    /// `prefix`, count). An admin read (the usage view), never on the mail path: RocksDB scans
    /// the prefix, Redis SCANs the tenant's keys.
    fn events_counts_under<'a>(
        &'a self,
        prefix: &'a Key,
        now: u64,
        window: Duration,
    ) -> BoxFut<'a, Vec<(Vec<u8>, u32)>>;
    /// Takes back one occurrence recorded at `at` (a charge of a message that was not accepted
    /// after all); nothing when there is none. Atomic per key.
    fn events_release<'a>(&'a self, key: &'a Key, at: u64, window: Duration) -> BoxFut<'a, ()>;

    /// A tenant record (a record of an earlier version is read as it is).
    fn tenant_get<'a>(&'a self, id: &'a str) -> BoxFut<'a, Option<TenantRecord>>;
    /// All tenant records, ordered by id.
    fn tenant_list(&self) -> BoxFut<'_, Vec<TenantRecord>>;
    /// Creates a tenant; `false` (and nothing written) when the id exists.
    fn tenant_create<'a>(&'a self, rec: &'a TenantRecord) -> BoxFut<'a, bool>;
    /// Creates a tenant from a `[[tenant]]` entry unless it exists; a record of an earlier
    /// version is rewritten as fields, keeping its state, ladder restart and domain
    /// verifications. `true` when something was written.
    fn tenant_seed<'a>(&'a self, rec: &'a TenantRecord) -> BoxFut<'a, bool>;
    /// Applies field-level changes to a tenant, atomically, without reading or rewriting any
    /// other field; `false` (and nothing written) when there is no such tenant.
    fn tenant_update<'a>(&'a self, id: &'a str, changes: &'a [TenantChange]) -> BoxFut<'a, bool>;
    /// Deletes a tenant record; `false` when there was none. Its logs and blocks stay (audit).
    fn tenant_delete<'a>(&'a self, id: &'a str) -> BoxFut<'a, bool>;
    /// A number that changes whenever any tenant record is written (on any node sharing the
    /// store), so followers re-read the tenants only when something changed.
    fn tenant_generation(&self) -> BoxFut<'_, u64>;

    /// Places (or replaces) a block and audits it, in one atomic write.
    fn block_add<'a>(&'a self, block: &'a Block) -> BoxFut<'a, ()>;
    /// The block on (tenant, scope, target), if any.
    fn block_get<'a>(&'a self, tenant: &'a str, scope: BlockScope, target: &'a str) -> BoxFut<'a, Option<Block>>;
    /// Lifts a block and audits it, in one atomic write; returns the lifted block (None: there
    /// was none, nothing is audited).
    fn block_lift<'a>(
        &'a self,
        tenant: &'a str,
        scope: BlockScope,
        target: &'a str,
        lift: &'a Lift,
    ) -> BoxFut<'a, Option<Block>>;
    /// The tenant's blocks, ordered by (scope, target).
    fn blocks_list<'a>(&'a self, tenant: &'a str) -> BoxFut<'a, Vec<Block>>;

    /// Appends to the tenant's event log.
    fn event_append<'a>(&'a self, tenant: &'a str, event: &'a Event) -> BoxFut<'a, ()>;
    /// Events with `from <= at <= to`, oldest first (insertion order within one ms).
    fn events_range<'a>(&'a self, tenant: &'a str, from: u64, to: u64) -> BoxFut<'a, Vec<Event>>;
    /// Appends to the tenant's audit log.
    fn audit_append<'a>(&'a self, tenant: &'a str, rec: &'a AuditRecord) -> BoxFut<'a, ()>;
    /// Audit records with `from <= at <= to`, oldest first.
    fn audit_range<'a>(&'a self, tenant: &'a str, from: u64, to: u64) -> BoxFut<'a, Vec<AuditRecord>>;

    /// Adds (or replaces) an address on the tenant's suppression list.
    fn suppression_add<'a>(&'a self, tenant: &'a str, entry: &'a Suppression) -> BoxFut<'a, ()>;
    /// Removes an address; true if it was there.
    fn suppression_remove<'a>(&'a self, tenant: &'a str, address: &'a str) -> BoxFut<'a, bool>;
    /// Whether the address is suppressed for the tenant.
    fn suppression_contains<'a>(&'a self, tenant: &'a str, address: &'a str) -> BoxFut<'a, bool>;
    /// The tenant's suppression list, ordered by address.
    fn suppression_list<'a>(&'a self, tenant: &'a str) -> BoxFut<'a, Vec<Suppression>>;

    /// The ids of the tenant's live campaigns (those the campaign index still maps a band key
    /// to at `now`), sorted, each once. An admin read (the usage view).
    fn campaigns_live<'a>(&'a self, tenant: &'a str, now: u64) -> BoxFut<'a, Vec<String>>;

    /// The campaign index for the bulk check; atomic per tenant. If any of `band_keys` maps to a
    /// live campaign, returns the one most of them map to (a tie: the smallest id); else
    /// registers `candidate`. Either way every band key is set to the returned id (keys of
    /// another campaign are re-pointed, so the copies that follow converge on one campaign) and
    /// lives at least `window` after `now` (a backend may keep it up to 1/64 of the window longer
    /// to avoid rewriting it on every message; the windowed counts of a campaign do not depend
    /// on it). Keys of a `pinned` campaign (one an operator blocked) are never re-pointed, so a
    /// blocked mailing keeps its keys and every later copy names it (in `id` or `merged`).
    fn campaign_lookup_or_insert<'a>(
        &'a self,
        tenant: &'a str,
        band_keys: &'a [u64],
        candidate: &'a str,
        now: u64,
        window: Duration,
        pinned: &'a [String],
    ) -> BoxFut<'a, CampaignMatch>;

    /// Stores (or replaces) a tenant API token record (its hash, never the token).
    fn api_token_put<'a>(&'a self, token: &'a ApiToken) -> BoxFut<'a, ()>;
    /// The tenant's token `id`, if it exists (not revoked).
    fn api_token_get<'a>(&'a self, tenant: &'a str, id: &'a str) -> BoxFut<'a, Option<ApiToken>>;
    /// The tenant's tokens, ordered by id.
    fn api_token_list<'a>(&'a self, tenant: &'a str) -> BoxFut<'a, Vec<ApiToken>>;
    /// Revokes token `id`; true if it existed.
    fn api_token_remove<'a>(&'a self, tenant: &'a str, id: &'a str) -> BoxFut<'a, bool>;

    /// Writes a consistent copy of the store, as of now, into `dir` (which must not exist) while
    /// the store keeps serving: the online backup (`crate::backup`). `false` (nothing written)
    /// when the data lives outside this process: Redis keeps it, with its own persistence.
    fn checkpoint<'a>(&'a self, dir: &'a std::path::Path) -> BoxFut<'a, bool> {
        let _ = dir;
        Box::pin(async { Ok(false) })
    }
    // --- Complaint intake (`complaints::intake`, `complaints::book`; see `complaints.rs`) ---

    /// Remembers which accepted message `message_id` names, until `now + retention`, unless a
    /// live entry names one already (the first writer keeps it: one namespace for all tenants,
    /// so a tenant re-sending a Message-ID cannot move complaints to another). Written where the
    /// acceptance is audited; read to attribute a complaint by Message-ID.
    fn message_origin_put<'a>(
        &'a self,
        message_id: &'a str,
        origin: &'a MessageOrigin,
        now: u64,
        retention: Duration,
    ) -> BoxFut<'a, ()>;
    /// The accepted message `message_id` names, if it is remembered at `now`.
    fn message_origin_get<'a>(&'a self, message_id: &'a str, now: u64) -> BoxFut<'a, Option<MessageOrigin>>;
    /// Stores a complaint unless one with the same `dedup_key` is stored (then writes nothing
    /// and names it); atomic, and durable when it returns.
    fn complaint_put<'a>(&'a self, complaint: &'a StoredComplaint) -> BoxFut<'a, ComplaintPut>;
    /// The complaint `id`.
    fn complaint_get<'a>(&'a self, id: &'a str) -> BoxFut<'a, Option<StoredComplaint>>;
    /// Complaints of `scope` with `since <= id < before` (ids sort by time; an empty `before`
    /// has no upper bound), newest first, at most `limit`.
    fn complaints_list<'a>(
        &'a self,
        scope: ComplaintScope<'a>,
        since: &'a str,
        before: &'a str,
        limit: usize,
    ) -> BoxFut<'a, Vec<StoredComplaint>>;
    /// Removes up to `limit` complaints with `id < before` (ids sort by time: older than the
    /// retention), each with its dedup entry and index entries, atomically per call; returns
    /// how many went. A sweep calls it until it returns fewer than `limit`.
    fn complaints_expire<'a>(&'a self, before: &'a str, limit: usize) -> BoxFut<'a, usize>;
    // --- One round trip per SMTP stage (issue 18) ---
    /// Runs a stage's operations in order, all of `tenant`, up to and including the first
    /// adverse answer ([`batch::StageAnswer::is_adverse`]); keys may hold the campaign the
    /// batch's lookup returns ([`batch::CAMPAIGN_SLOT`]). Each operation is as atomic and exact as
    /// its single method; Redis runs the whole batch in one script, others one by one.
    fn stage_batch<'a>(
        &'a self,
        tenant: &'a str,
        ops: &'a [batch::StageOp],
        now: u64,
    ) -> BoxFut<'a, Vec<batch::StageAnswer>> {
        Box::pin(batch::one_by_one(self, tenant, ops, now))
    }

    // --- Tenant change feed (issue 18) ---
    /// The tenant generation now and, where the store keeps a feed, the ids of the tenants
    /// written (records or blocks) after generation `since`, so a follower reads only those.
    /// Without a feed (RocksDB: one node, nobody follows) every tenant counts as changed.
    fn tenant_changes(&self, since: u64) -> BoxFut<'_, feed::TenantChanges> {
        let _ = since;
        Box::pin(async move {
            Ok(feed::TenantChanges {
                generation: self.tenant_generation().await?,
                changed: None,
            })
        })
    }
}

/// Window length in ms; a zero window is a caller bug and an error (never "count nothing").
pub(crate) fn window_ms(window: Duration) -> Result<u64, StoreError> {
    let ms = u64::try_from(window.as_millis()).unwrap_or(u64::MAX);
    if ms == 0 {
        return Err(StoreError::InvalidArgument("window must be at least 1 ms".into()));
    }
    Ok(ms)
}

pub(crate) fn check_cap(cap: u32) -> Result<(), StoreError> {
    if cap > MAX_CAP {
        return Err(StoreError::InvalidArgument(format!("cap {cap} above {MAX_CAP}")));
    }
    Ok(())
}

pub(crate) fn check_member(member: &[u8]) -> Result<(), StoreError> {
    if member.len() > MAX_MEMBER_LEN {
        return Err(StoreError::InvalidArgument(format!(
            "set member of {} bytes (max {MAX_MEMBER_LEN})",
            member.len()
        )));
    }
    Ok(())
}

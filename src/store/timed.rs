//! [`Timed`]: any store, with the latency of each operation recorded in the
//! `aupgate_store_latency_seconds{op}` histogram (`crate::telemetry`). It forwards every call
//! unchanged; it decides nothing and must never change an answer.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{
    rocks, ApiToken, AuditRecord, Block, BlockScope, BoxFut, CampaignMatch, Charge, CounterWindow, Event, EventCharge,
    Key, Lift, RateStore, SetCharge, Suppression, TenantChange, TenantRecord,
};
use super::{ComplaintPut, ComplaintScope, MessageOrigin, StoredComplaint};

/// A store whose operations are timed.
pub struct Timed(pub Arc<dyn RateStore>);

fn timed<'a, T: 'a>(op: &'static str, operation: BoxFut<'a, T>) -> BoxFut<'a, T> {
    Box::pin(async move {
        let started = Instant::now();
        let answer = operation.await;
        crate::telemetry::store_latency(op, started.elapsed());
        answer
    })
}

impl RateStore for Timed {
    fn backend(&self) -> &'static str {
        self.0.backend()
    }
    fn degraded(&self) -> Option<String> {
        self.0.degraded()
    }
    fn stall_writes_for_test(&self) -> Option<rocks::WriteStall> {
        self.0.stall_writes_for_test()
    }
    fn sync(&self) -> BoxFut<'_, ()> {
        timed("sync", self.0.sync())
    }
    fn counter_add<'a>(&'a self, key: &'a Key, n: u64, now: u64, window: Duration) -> BoxFut<'a, ()> {
        timed("counter_add", self.0.counter_add(key, n, now, window))
    }
    fn counter_add_many<'a>(&'a self, charges: &'a [(Key, u64, Duration)], now: u64) -> BoxFut<'a, ()> {
        timed("counter_add_many", self.0.counter_add_many(charges, now))
    }
    fn counter_get<'a>(&'a self, key: &'a Key, now: u64, window: Duration) -> BoxFut<'a, u64> {
        timed("counter_get", self.0.counter_get(key, now, window))
    }
    fn counter_window<'a>(&'a self, key: &'a Key, now: u64, window: Duration) -> BoxFut<'a, CounterWindow> {
        timed("counter_window", self.0.counter_window(key, now, window))
    }
    fn counter_check_and_add<'a>(
        &'a self,
        key: &'a Key,
        n: u64,
        limit: u64,
        now: u64,
        window: Duration,
    ) -> BoxFut<'a, Charge> {
        timed(
            "counter_check_and_add",
            self.0.counter_check_and_add(key, n, limit, now, window),
        )
    }
    fn set_check_and_add<'a>(
        &'a self,
        key: &'a Key,
        member: &'a [u8],
        now: u64,
        window: Duration,
        cap: u32,
    ) -> BoxFut<'a, SetCharge> {
        timed(
            "set_check_and_add",
            self.0.set_check_and_add(key, member, now, window, cap),
        )
    }
    fn set_count<'a>(&'a self, key: &'a Key, now: u64, window: Duration) -> BoxFut<'a, u32> {
        timed("set_count", self.0.set_count(key, now, window))
    }
    fn counter_release<'a>(&'a self, key: &'a Key, n: u64, at: u64, window: Duration) -> BoxFut<'a, ()> {
        timed("counter_release", self.0.counter_release(key, n, at, window))
    }
    fn set_release<'a>(&'a self, key: &'a Key, member: &'a [u8], at: u64, window: Duration) -> BoxFut<'a, ()> {
        timed("set_release", self.0.set_release(key, member, at, window))
    }
    fn events_check_and_add<'a>(
        &'a self,
        key: &'a Key,
        now: u64,
        window: Duration,
        cap: u32,
    ) -> BoxFut<'a, EventCharge> {
        timed(
            "events_check_and_add",
            self.0.events_check_and_add(key, now, window, cap),
        )
    }
    fn events_count<'a>(&'a self, key: &'a Key, now: u64, window: Duration) -> BoxFut<'a, u32> {
        timed("events_count", self.0.events_count(key, now, window))
    }
    fn events_counts_under<'a>(
        &'a self,
        prefix: &'a Key,
        now: u64,
        window: Duration,
    ) -> BoxFut<'a, Vec<(Vec<u8>, u32)>> {
        timed("events_counts_under", self.0.events_counts_under(prefix, now, window))
    }
    fn events_release<'a>(&'a self, key: &'a Key, at: u64, window: Duration) -> BoxFut<'a, ()> {
        timed("events_release", self.0.events_release(key, at, window))
    }
    fn tenant_get<'a>(&'a self, id: &'a str) -> BoxFut<'a, Option<TenantRecord>> {
        timed("tenant_get", self.0.tenant_get(id))
    }
    fn tenant_list(&self) -> BoxFut<'_, Vec<TenantRecord>> {
        timed("tenant_list", self.0.tenant_list())
    }
    fn tenant_create<'a>(&'a self, rec: &'a TenantRecord) -> BoxFut<'a, bool> {
        timed("tenant_create", self.0.tenant_create(rec))
    }
    fn tenant_seed<'a>(&'a self, rec: &'a TenantRecord) -> BoxFut<'a, bool> {
        timed("tenant_seed", self.0.tenant_seed(rec))
    }
    fn tenant_update<'a>(&'a self, id: &'a str, changes: &'a [TenantChange]) -> BoxFut<'a, bool> {
        timed("tenant_update", self.0.tenant_update(id, changes))
    }
    fn tenant_delete<'a>(&'a self, id: &'a str) -> BoxFut<'a, bool> {
        timed("tenant_delete", self.0.tenant_delete(id))
    }
    fn tenant_generation(&self) -> BoxFut<'_, u64> {
        timed("tenant_generation", self.0.tenant_generation())
    }
    fn block_add<'a>(&'a self, block: &'a Block) -> BoxFut<'a, ()> {
        timed("block_add", self.0.block_add(block))
    }
    fn block_get<'a>(&'a self, tenant: &'a str, scope: BlockScope, target: &'a str) -> BoxFut<'a, Option<Block>> {
        timed("block_get", self.0.block_get(tenant, scope, target))
    }
    fn block_lift<'a>(
        &'a self,
        tenant: &'a str,
        scope: BlockScope,
        target: &'a str,
        lift: &'a Lift,
    ) -> BoxFut<'a, Option<Block>> {
        timed("block_lift", self.0.block_lift(tenant, scope, target, lift))
    }
    fn blocks_list<'a>(&'a self, tenant: &'a str) -> BoxFut<'a, Vec<Block>> {
        timed("blocks_list", self.0.blocks_list(tenant))
    }
    fn event_append<'a>(&'a self, tenant: &'a str, event: &'a Event) -> BoxFut<'a, ()> {
        timed("event_append", self.0.event_append(tenant, event))
    }
    fn events_range<'a>(&'a self, tenant: &'a str, from: u64, to: u64) -> BoxFut<'a, Vec<Event>> {
        timed("events_range", self.0.events_range(tenant, from, to))
    }
    fn audit_append<'a>(&'a self, tenant: &'a str, rec: &'a AuditRecord) -> BoxFut<'a, ()> {
        timed("audit_append", self.0.audit_append(tenant, rec))
    }
    fn audit_range<'a>(&'a self, tenant: &'a str, from: u64, to: u64) -> BoxFut<'a, Vec<AuditRecord>> {
        timed("audit_range", self.0.audit_range(tenant, from, to))
    }
    fn suppression_add<'a>(&'a self, tenant: &'a str, entry: &'a Suppression) -> BoxFut<'a, ()> {
        timed("suppression_add", self.0.suppression_add(tenant, entry))
    }
    fn suppression_remove<'a>(&'a self, tenant: &'a str, address: &'a str) -> BoxFut<'a, bool> {
        timed("suppression_remove", self.0.suppression_remove(tenant, address))
    }
    fn suppression_contains<'a>(&'a self, tenant: &'a str, address: &'a str) -> BoxFut<'a, bool> {
        timed("suppression_contains", self.0.suppression_contains(tenant, address))
    }
    fn suppression_list<'a>(&'a self, tenant: &'a str) -> BoxFut<'a, Vec<Suppression>> {
        timed("suppression_list", self.0.suppression_list(tenant))
    }
    fn campaigns_live<'a>(&'a self, tenant: &'a str, now: u64) -> BoxFut<'a, Vec<String>> {
        timed("campaigns_live", self.0.campaigns_live(tenant, now))
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
        timed(
            "campaign_lookup_or_insert",
            self.0
                .campaign_lookup_or_insert(tenant, band_keys, candidate, now, window, pinned),
        )
    }
    fn api_token_put<'a>(&'a self, token: &'a ApiToken) -> BoxFut<'a, ()> {
        timed("api_token_put", self.0.api_token_put(token))
    }
    fn api_token_get<'a>(&'a self, tenant: &'a str, id: &'a str) -> BoxFut<'a, Option<ApiToken>> {
        timed("api_token_get", self.0.api_token_get(tenant, id))
    }
    fn api_token_list<'a>(&'a self, tenant: &'a str) -> BoxFut<'a, Vec<ApiToken>> {
        timed("api_token_list", self.0.api_token_list(tenant))
    }
    fn api_token_remove<'a>(&'a self, tenant: &'a str, id: &'a str) -> BoxFut<'a, bool> {
        timed("api_token_remove", self.0.api_token_remove(tenant, id))
    }
    fn checkpoint<'a>(&'a self, dir: &'a std::path::Path) -> BoxFut<'a, bool> {
        self.0.checkpoint(dir)
    }
    fn message_origin_put<'a>(
        &'a self,
        message_id: &'a str,
        origin: &'a MessageOrigin,
        now: u64,
        retention: Duration,
    ) -> BoxFut<'a, ()> {
        timed(
            "message_origin_put",
            self.0.message_origin_put(message_id, origin, now, retention),
        )
    }
    fn message_origin_get<'a>(&'a self, message_id: &'a str, now: u64) -> BoxFut<'a, Option<MessageOrigin>> {
        timed("message_origin_get", self.0.message_origin_get(message_id, now))
    }
    fn complaint_put<'a>(&'a self, complaint: &'a StoredComplaint) -> BoxFut<'a, ComplaintPut> {
        timed("complaint_put", self.0.complaint_put(complaint))
    }
    fn complaint_get<'a>(&'a self, id: &'a str) -> BoxFut<'a, Option<StoredComplaint>> {
        timed("complaint_get", self.0.complaint_get(id))
    }
    fn complaints_list<'a>(
        &'a self,
        scope: ComplaintScope<'a>,
        since: &'a str,
        before: &'a str,
        limit: usize,
    ) -> BoxFut<'a, Vec<StoredComplaint>> {
        timed("complaints_list", self.0.complaints_list(scope, since, before, limit))
    }
    fn complaints_expire<'a>(&'a self, before: &'a str, limit: usize) -> BoxFut<'a, usize> {
        timed("complaints_expire", self.0.complaints_expire(before, limit))
    }
    fn stage_batch<'a>(
        &'a self,
        tenant: &'a str,
        ops: &'a [super::batch::StageOp],
        now: u64,
    ) -> BoxFut<'a, Vec<super::batch::StageAnswer>> {
        timed("stage_batch", self.0.stage_batch(tenant, ops, now))
    }
    fn tenant_changes(&self, since: u64) -> BoxFut<'_, super::feed::TenantChanges> {
        timed("tenant_changes", self.0.tenant_changes(since))
    }
}

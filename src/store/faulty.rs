//! [`Faulty`]: any store, with chosen operations failing on demand — for tests of what a
//! caller does when the store fails part-way (the complaint pipeline's retries) — or held until
//! several callers reach them (tests of callers racing). It forwards every call unchanged unless
//! told otherwise; never used by the server.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::{
    rocks, ApiToken, AuditRecord, Block, BlockScope, BoxFut, CampaignMatch, Charge, CounterWindow, Event, EventCharge,
    Key, Lift, RateStore, SetCharge, StoreError, Suppression, TenantChange, TenantRecord,
};
use super::{ComplaintPut, ComplaintScope, MessageOrigin, StoredComplaint};

/// A store whose operations fail, or wait for each other, when told to.
pub struct Faulty(
    pub Arc<dyn RateStore>,
    Mutex<HashMap<&'static str, (u32, u32)>>,
    Mutex<HashMap<&'static str, Arc<tokio::sync::Barrier>>>,
    Mutex<HashMap<&'static str, Duration>>,
);

impl Faulty {
    /// `inner`, failing nothing yet.
    pub fn new(inner: Arc<dyn RateStore>) -> Faulty {
        Faulty(
            inner,
            Mutex::new(HashMap::new()),
            Mutex::new(HashMap::new()),
            Mutex::new(HashMap::new()),
        )
    }

    /// Every call of `op` waits until `callers` calls of it are waiting, then all go on: the
    /// callers race from the same point.
    pub fn meet(&self, op: &'static str, callers: usize) {
        self.2
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(op, Arc::new(tokio::sync::Barrier::new(callers)));
    }

    /// Every call of `op` waits `delay` first: the other callers of a race get past the point
    /// they race from before this one ends.
    pub fn slow(&self, op: &'static str, delay: Duration) {
        self.3.lock().unwrap_or_else(|p| p.into_inner()).insert(op, delay);
    }

    /// The next `times` calls of `op` (the method's name, e.g. `"event_append"`) fail with
    /// [`StoreError::Write`].
    pub fn fail_next(&self, op: &'static str, times: u32) {
        self.fail_after(op, 0, times);
    }

    /// After `skip` more calls of `op` succeed, the next `times` fail.
    pub fn fail_after(&self, op: &'static str, skip: u32, times: u32) {
        self.1
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(op, (skip, times));
    }

    fn gate<'a, T: 'a>(&'a self, op: &'static str, operation: BoxFut<'a, T>) -> BoxFut<'a, T> {
        let fail = {
            let mut left = self.1.lock().unwrap_or_else(|p| p.into_inner());
            match left.get_mut(op) {
                Some((skip, _)) if *skip > 0 => {
                    *skip -= 1;
                    false
                }
                Some((_, n)) if *n > 0 => {
                    *n -= 1;
                    true
                }
                _ => false,
            }
        };
        let meeting = self.2.lock().unwrap_or_else(|p| p.into_inner()).get(op).cloned();
        let delay = self.3.lock().unwrap_or_else(|p| p.into_inner()).get(op).copied();
        Box::pin(async move {
            if let Some(barrier) = meeting {
                barrier.wait().await;
            }
            if let Some(delay) = delay {
                tokio::time::sleep(delay).await;
            }
            if fail {
                return Err(StoreError::Write(format!("injected failure of {op}")));
            }
            operation.await
        })
    }
}

impl RateStore for Faulty {
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
        self.gate("sync", self.0.sync())
    }
    fn counter_add<'a>(&'a self, key: &'a Key, n: u64, now: u64, window: Duration) -> BoxFut<'a, ()> {
        self.gate("counter_add", self.0.counter_add(key, n, now, window))
    }
    fn counter_add_many<'a>(&'a self, charges: &'a [(Key, u64, Duration)], now: u64) -> BoxFut<'a, ()> {
        self.gate("counter_add_many", self.0.counter_add_many(charges, now))
    }
    fn counter_get<'a>(&'a self, key: &'a Key, now: u64, window: Duration) -> BoxFut<'a, u64> {
        self.gate("counter_get", self.0.counter_get(key, now, window))
    }
    fn counter_window<'a>(&'a self, key: &'a Key, now: u64, window: Duration) -> BoxFut<'a, CounterWindow> {
        self.gate("counter_window", self.0.counter_window(key, now, window))
    }
    fn counter_check_and_add<'a>(
        &'a self,
        key: &'a Key,
        n: u64,
        limit: u64,
        now: u64,
        window: Duration,
    ) -> BoxFut<'a, Charge> {
        self.gate(
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
        self.gate(
            "set_check_and_add",
            self.0.set_check_and_add(key, member, now, window, cap),
        )
    }
    fn set_count<'a>(&'a self, key: &'a Key, now: u64, window: Duration) -> BoxFut<'a, u32> {
        self.gate("set_count", self.0.set_count(key, now, window))
    }
    fn counter_release<'a>(&'a self, key: &'a Key, n: u64, at: u64, window: Duration) -> BoxFut<'a, ()> {
        self.gate("counter_release", self.0.counter_release(key, n, at, window))
    }
    fn set_release<'a>(&'a self, key: &'a Key, member: &'a [u8], at: u64, window: Duration) -> BoxFut<'a, ()> {
        self.gate("set_release", self.0.set_release(key, member, at, window))
    }
    fn events_check_and_add<'a>(
        &'a self,
        key: &'a Key,
        now: u64,
        window: Duration,
        cap: u32,
    ) -> BoxFut<'a, EventCharge> {
        self.gate(
            "events_check_and_add",
            self.0.events_check_and_add(key, now, window, cap),
        )
    }
    fn events_count<'a>(&'a self, key: &'a Key, now: u64, window: Duration) -> BoxFut<'a, u32> {
        self.gate("events_count", self.0.events_count(key, now, window))
    }
    fn events_counts_under<'a>(
        &'a self,
        prefix: &'a Key,
        now: u64,
        window: Duration,
    ) -> BoxFut<'a, Vec<(Vec<u8>, u32)>> {
        self.gate("events_counts_under", self.0.events_counts_under(prefix, now, window))
    }
    fn events_release<'a>(&'a self, key: &'a Key, at: u64, window: Duration) -> BoxFut<'a, ()> {
        self.gate("events_release", self.0.events_release(key, at, window))
    }
    fn tenant_get<'a>(&'a self, id: &'a str) -> BoxFut<'a, Option<TenantRecord>> {
        self.gate("tenant_get", self.0.tenant_get(id))
    }
    fn tenant_list(&self) -> BoxFut<'_, Vec<TenantRecord>> {
        self.gate("tenant_list", self.0.tenant_list())
    }
    fn tenant_create<'a>(&'a self, rec: &'a TenantRecord) -> BoxFut<'a, bool> {
        self.gate("tenant_create", self.0.tenant_create(rec))
    }
    fn tenant_seed<'a>(&'a self, rec: &'a TenantRecord) -> BoxFut<'a, bool> {
        self.gate("tenant_seed", self.0.tenant_seed(rec))
    }
    fn tenant_update<'a>(&'a self, id: &'a str, changes: &'a [TenantChange]) -> BoxFut<'a, bool> {
        self.gate("tenant_update", self.0.tenant_update(id, changes))
    }
    fn tenant_delete<'a>(&'a self, id: &'a str) -> BoxFut<'a, bool> {
        self.gate("tenant_delete", self.0.tenant_delete(id))
    }
    fn tenant_generation(&self) -> BoxFut<'_, u64> {
        self.gate("tenant_generation", self.0.tenant_generation())
    }
    fn block_add<'a>(&'a self, block: &'a Block) -> BoxFut<'a, ()> {
        self.gate("block_add", self.0.block_add(block))
    }
    fn block_get<'a>(&'a self, tenant: &'a str, scope: BlockScope, target: &'a str) -> BoxFut<'a, Option<Block>> {
        self.gate("block_get", self.0.block_get(tenant, scope, target))
    }
    fn block_lift<'a>(
        &'a self,
        tenant: &'a str,
        scope: BlockScope,
        target: &'a str,
        lift: &'a Lift,
    ) -> BoxFut<'a, Option<Block>> {
        self.gate("block_lift", self.0.block_lift(tenant, scope, target, lift))
    }
    fn blocks_list<'a>(&'a self, tenant: &'a str) -> BoxFut<'a, Vec<Block>> {
        self.gate("blocks_list", self.0.blocks_list(tenant))
    }
    fn event_append<'a>(&'a self, tenant: &'a str, event: &'a Event) -> BoxFut<'a, ()> {
        self.gate("event_append", self.0.event_append(tenant, event))
    }
    fn events_range<'a>(&'a self, tenant: &'a str, from: u64, to: u64) -> BoxFut<'a, Vec<Event>> {
        self.gate("events_range", self.0.events_range(tenant, from, to))
    }
    fn audit_append<'a>(&'a self, tenant: &'a str, rec: &'a AuditRecord) -> BoxFut<'a, ()> {
        self.gate("audit_append", self.0.audit_append(tenant, rec))
    }
    fn audit_range<'a>(&'a self, tenant: &'a str, from: u64, to: u64) -> BoxFut<'a, Vec<AuditRecord>> {
        self.gate("audit_range", self.0.audit_range(tenant, from, to))
    }
    fn suppression_add<'a>(&'a self, tenant: &'a str, entry: &'a Suppression) -> BoxFut<'a, ()> {
        self.gate("suppression_add", self.0.suppression_add(tenant, entry))
    }
    fn suppression_remove<'a>(&'a self, tenant: &'a str, address: &'a str) -> BoxFut<'a, bool> {
        self.gate("suppression_remove", self.0.suppression_remove(tenant, address))
    }
    fn suppression_contains<'a>(&'a self, tenant: &'a str, address: &'a str) -> BoxFut<'a, bool> {
        self.gate("suppression_contains", self.0.suppression_contains(tenant, address))
    }
    fn suppression_list<'a>(&'a self, tenant: &'a str) -> BoxFut<'a, Vec<Suppression>> {
        self.gate("suppression_list", self.0.suppression_list(tenant))
    }
    fn campaigns_live<'a>(&'a self, tenant: &'a str, now: u64) -> BoxFut<'a, Vec<String>> {
        self.gate("campaigns_live", self.0.campaigns_live(tenant, now))
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
        self.gate(
            "campaign_lookup_or_insert",
            self.0
                .campaign_lookup_or_insert(tenant, band_keys, candidate, now, window, pinned),
        )
    }
    fn api_token_put<'a>(&'a self, token: &'a ApiToken) -> BoxFut<'a, ()> {
        self.gate("api_token_put", self.0.api_token_put(token))
    }
    fn api_token_get<'a>(&'a self, tenant: &'a str, id: &'a str) -> BoxFut<'a, Option<ApiToken>> {
        self.gate("api_token_get", self.0.api_token_get(tenant, id))
    }
    fn api_token_list<'a>(&'a self, tenant: &'a str) -> BoxFut<'a, Vec<ApiToken>> {
        self.gate("api_token_list", self.0.api_token_list(tenant))
    }
    fn api_token_remove<'a>(&'a self, tenant: &'a str, id: &'a str) -> BoxFut<'a, bool> {
        self.gate("api_token_remove", self.0.api_token_remove(tenant, id))
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
        self.gate(
            "message_origin_put",
            self.0.message_origin_put(message_id, origin, now, retention),
        )
    }
    fn message_origin_get<'a>(&'a self, message_id: &'a str, now: u64) -> BoxFut<'a, Option<MessageOrigin>> {
        self.gate("message_origin_get", self.0.message_origin_get(message_id, now))
    }
    fn complaint_put<'a>(&'a self, complaint: &'a StoredComplaint) -> BoxFut<'a, ComplaintPut> {
        self.gate("complaint_put", self.0.complaint_put(complaint))
    }
    fn complaint_get<'a>(&'a self, id: &'a str) -> BoxFut<'a, Option<StoredComplaint>> {
        self.gate("complaint_get", self.0.complaint_get(id))
    }
    fn complaints_list<'a>(
        &'a self,
        scope: ComplaintScope<'a>,
        since: &'a str,
        before: &'a str,
        limit: usize,
    ) -> BoxFut<'a, Vec<StoredComplaint>> {
        self.gate("complaints_list", self.0.complaints_list(scope, since, before, limit))
    }
    fn complaints_expire<'a>(&'a self, before: &'a str, limit: usize) -> BoxFut<'a, usize> {
        self.gate("complaints_expire", self.0.complaints_expire(before, limit))
    }
    fn stage_batch<'a>(
        &'a self,
        tenant: &'a str,
        ops: &'a [super::batch::StageOp],
        now: u64,
    ) -> BoxFut<'a, Vec<super::batch::StageAnswer>> {
        self.gate("stage_batch", self.0.stage_batch(tenant, ops, now))
    }
    fn tenant_changes(&self, since: u64) -> BoxFut<'_, super::feed::TenantChanges> {
        self.gate("tenant_changes", self.0.tenant_changes(since))
    }
}

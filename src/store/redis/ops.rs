//! `RateStore` for Redis: argument marshalling around the scripts in [`super::scripts`] (their
//! replies are read in [`super::replies`]).

use std::time::Duration;

use serde::de::DeserializeOwned;

use super::group::Write;
use super::replies::{as_u32, campaign_reply, counter_reply, events_reply, parse_log, script_buckets, set_reply};
use super::RedisStore;
use crate::store::key::push_part;
use crate::store::window::span;
use crate::store::{
    check_cap, check_member, window_ms, ApiToken, AuditRecord, Block, BlockScope, BoxFut, CampaignMatch, Charge,
    CounterWindow, Event, EventCharge, Key, Lift, RateStore, SetCharge, StoreError, Suppression, TenantChange,
    TenantRecord,
};
use crate::store::{ComplaintPut, ComplaintScope, MessageOrigin, StoredComplaint};

const MODE_GET: u8 = 0;
const MODE_CHECK: u8 = 2;
const MODE_WINDOW: u8 = 3;

pub(super) fn suffixed(key: &Key, suffix: u8) -> Vec<u8> {
    let mut k = key.redis_key();
    k.push(suffix);
    k
}

pub(super) fn rec_key(kind: &str, tenant: &str) -> Vec<u8> {
    Key::new(kind, tenant).redis_key()
}

pub(super) fn block_field(scope: BlockScope, target: &str) -> Vec<u8> {
    let mut f = Vec::new();
    push_part(&mut f, scope.as_str().as_bytes());
    push_part(&mut f, target.as_bytes());
    f
}

/// A glob pattern matching every key that starts with `prefix` (each byte taken literally).
fn glob_prefix(prefix: &[u8]) -> Vec<u8> {
    let mut pattern = Vec::with_capacity(prefix.len() * 2 + 1);
    for b in prefix {
        if matches!(b, b'*' | b'?' | b'[' | b']' | b'\\') {
            pattern.push(b'\\');
        }
        pattern.push(*b);
    }
    pattern.push(b'*');
    pattern
}

impl RedisStore {
    /// Every key that starts with `prefix` (which starts with a tenant's hash tag), by SCAN on the
    /// node holding that tenant: an admin read, never on the mail path.
    async fn keys_with_prefix(&self, prefix: &[u8]) -> Result<Vec<Vec<u8>>, StoreError> {
        let pattern = glob_prefix(prefix);
        let mut keys = Vec::new();
        let mut cursor: u64 = 0;
        loop {
            let mut scan = redis::cmd("SCAN");
            scan.arg(cursor).arg("MATCH").arg(&pattern).arg("COUNT").arg(1000);
            let (next, batch): (u64, Vec<Vec<u8>>) = self.on_node_of(prefix, &scan).await?;
            keys.extend(batch);
            if next == 0 {
                return Ok(keys);
            }
            cursor = next;
        }
    }

    async fn counter_window(&self, key: &Key, now: u64, window: Duration) -> Result<CounterWindow, StoreError> {
        let w = window_ms(window)?;
        let s = span(now, w);
        let mut inv = self.scripts.counter.prepare_invoke();
        inv.key(suffixed(key, b'c'))
            .arg(MODE_WINDOW)
            .arg(0)
            .arg(0)
            .arg(now)
            .arg(w)
            .arg(s.size);
        let r: Vec<i64> = self.script(&inv).await?;
        if r.len() < 2 {
            return Err(StoreError::corrupt("counter", "short script reply"));
        }
        Ok(CounterWindow {
            bucket_ms: s.size,
            buckets: script_buckets(&r[2..]),
        })
    }

    async fn counter(
        &self,
        mode: u8,
        key: &Key,
        n: u64,
        limit: u64,
        now: u64,
        window: Duration,
    ) -> Result<(Charge, u64), StoreError> {
        let w = window_ms(window)?;
        let s = span(now, w);
        let mut inv = self.scripts.counter.prepare_invoke();
        inv.key(suffixed(key, b'c'))
            .arg(mode)
            .arg(n)
            .arg(limit)
            .arg(now)
            .arg(w)
            .arg(s.size);
        let r: Vec<i64> = self.script(&inv).await?;
        counter_reply(&r, n, limit, now, w, s.size)
    }

    async fn log_append(&self, kind: &str, tenant: &str, at: u64, json: Vec<u8>) -> Result<(), StoreError> {
        let write = self.log_write(kind, tenant, at, json);
        self.write_grouped(tenant, vec![write]).await
    }

    /// The group commit's write of one log record, numbered now.
    pub(super) fn log_write(&self, kind: &str, tenant: &str, at: u64, json: Vec<u8>) -> Write {
        Write::Log {
            log: rec_key(kind, tenant),
            seq: self.log_sequence(),
            at,
            json,
            cutoff: at.saturating_sub(self.retention_ms),
            ttl: self.retention_ms.max(1),
        }
    }

    /// Counter adds (`counter_add_many`), group-committed; each tenant's on its shard.
    async fn add_grouped(&self, charges: &[(Key, u64, Duration)], now: u64) -> Result<(), StoreError> {
        let mut by_tenant: Vec<(&str, Vec<Write>)> = Vec::new();
        for (key, n, window) in charges {
            let w = window_ms(*window)?;
            let write = Write::Counter {
                key: suffixed(key, b'c'),
                n: *n,
                window: w,
                bucket: span(now, w).size,
                at: now,
            };
            match by_tenant.iter_mut().find(|(tenant, _)| *tenant == key.tenant()) {
                Some((_, writes)) => writes.push(write),
                None => by_tenant.push((key.tenant(), vec![write])),
            }
        }
        for (tenant, writes) in by_tenant {
            self.write_grouped(tenant, writes).await?;
        }
        Ok(())
    }

    async fn log_range<T: DeserializeOwned>(
        &self,
        kind: &str,
        tenant: &str,
        from: u64,
        to: u64,
    ) -> Result<Vec<T>, StoreError> {
        let members: Vec<Vec<u8>> = self
            .cmd(redis::cmd("ZRANGEBYSCORE").arg(rec_key(kind, tenant)).arg(from).arg(to))
            .await?;
        parse_log(members)
    }
}

impl RateStore for RedisStore {
    fn backend(&self) -> &'static str {
        "redis"
    }

    fn counter_add<'a>(&'a self, key: &'a Key, n: u64, now: u64, window: Duration) -> BoxFut<'a, ()> {
        Box::pin(async move {
            self.add_grouped(std::slice::from_ref(&(key.clone(), n, window)), now)
                .await
        })
    }

    fn counter_add_many<'a>(&'a self, charges: &'a [(Key, u64, Duration)], now: u64) -> BoxFut<'a, ()> {
        Box::pin(self.add_grouped(charges, now))
    }

    fn counter_get<'a>(&'a self, key: &'a Key, now: u64, window: Duration) -> BoxFut<'a, u64> {
        Box::pin(async move { Ok(self.counter(MODE_GET, key, 0, 0, now, window).await?.1) })
    }

    fn counter_window<'a>(&'a self, key: &'a Key, now: u64, window: Duration) -> BoxFut<'a, CounterWindow> {
        Box::pin(RedisStore::counter_window(self, key, now, window))
    }

    fn counter_check_and_add<'a>(
        &'a self,
        key: &'a Key,
        n: u64,
        limit: u64,
        now: u64,
        window: Duration,
    ) -> BoxFut<'a, Charge> {
        Box::pin(async move { Ok(self.counter(MODE_CHECK, key, n, limit, now, window).await?.0) })
    }

    fn set_check_and_add<'a>(
        &'a self,
        key: &'a Key,
        member: &'a [u8],
        now: u64,
        window: Duration,
        cap: u32,
    ) -> BoxFut<'a, SetCharge> {
        Box::pin(async move {
            let w = window_ms(window)?;
            check_cap(cap)?;
            check_member(member)?;
            let mut inv = self.scripts.set.prepare_invoke();
            inv.key(suffixed(key, b's')).arg(member).arg(now).arg(w).arg(cap);
            let r: Vec<i64> = self.script(&inv).await?;
            set_reply(&r)
        })
    }

    fn counter_release<'a>(&'a self, key: &'a Key, n: u64, at: u64, window: Duration) -> BoxFut<'a, ()> {
        Box::pin(async move {
            let w = window_ms(window)?;
            let mut inv = self.scripts.counter_release.prepare_invoke();
            inv.key(suffixed(key, b'c'))
                .arg(n)
                .arg((at / span(at, w).size).to_string());
            let _: i64 = self.script(&inv).await?;
            Ok(())
        })
    }

    fn set_release<'a>(&'a self, key: &'a Key, member: &'a [u8], at: u64, window: Duration) -> BoxFut<'a, ()> {
        Box::pin(async move {
            window_ms(window)?;
            check_member(member)?;
            let mut inv = self.scripts.set_release.prepare_invoke();
            inv.key(suffixed(key, b's')).arg(member).arg(at);
            let _: i64 = self.script(&inv).await?;
            Ok(())
        })
    }

    fn set_count<'a>(&'a self, key: &'a Key, now: u64, window: Duration) -> BoxFut<'a, u32> {
        Box::pin(async move {
            let w = window_ms(window)?;
            let cutoff = format!("({}", i128::from(now) - i128::from(w));
            let n: i64 = self
                .cmd(redis::cmd("ZCOUNT").arg(suffixed(key, b's')).arg(cutoff).arg("+inf"))
                .await?;
            Ok(as_u32(n))
        })
    }

    fn events_check_and_add<'a>(
        &'a self,
        key: &'a Key,
        now: u64,
        window: Duration,
        cap: u32,
    ) -> BoxFut<'a, EventCharge> {
        Box::pin(async move {
            let w = window_ms(window)?;
            check_cap(cap)?;
            let mut inv = self.scripts.events.prepare_invoke();
            inv.key(suffixed(key, b'e'))
                .arg(now)
                .arg(w)
                .arg(cap)
                .arg(self.occurrence_nonce());
            let r: Vec<i64> = self.script(&inv).await?;
            events_reply(&r)
        })
    }

    fn events_release<'a>(&'a self, key: &'a Key, at: u64, window: Duration) -> BoxFut<'a, ()> {
        Box::pin(async move {
            window_ms(window)?;
            let mut inv = self.scripts.events_release.prepare_invoke();
            inv.key(suffixed(key, b'e')).arg(at);
            let _: i64 = self.script(&inv).await?;
            Ok(())
        })
    }

    fn events_count<'a>(&'a self, key: &'a Key, now: u64, window: Duration) -> BoxFut<'a, u32> {
        Box::pin(async move {
            let w = window_ms(window)?;
            let cutoff = format!("({}", i128::from(now) - i128::from(w));
            let n: i64 = self
                .cmd(redis::cmd("ZCOUNT").arg(suffixed(key, b'e')).arg(cutoff).arg("+inf"))
                .await?;
            Ok(as_u32(n))
        })
    }

    fn events_counts_under<'a>(
        &'a self,
        prefix: &'a Key,
        now: u64,
        window: Duration,
    ) -> BoxFut<'a, Vec<(Vec<u8>, u32)>> {
        Box::pin(async move {
            let w = window_ms(window)?;
            let cutoff = format!("({}", i128::from(now) - i128::from(w));
            let start = prefix.redis_key();
            let mut out = Vec::new();
            for key in self.keys_with_prefix(&start).await? {
                // Event logs end in `e` (their sequences in `q`); the key itself is not under it.
                if key.len() <= start.len() + 1 || key.last() != Some(&b'e') {
                    continue;
                }
                let n: i64 = self
                    .cmd(redis::cmd("ZCOUNT").arg(&key).arg(&cutoff).arg("+inf"))
                    .await?;
                if n > 0 {
                    out.push((key[start.len()..key.len() - 1].to_vec(), as_u32(n)));
                }
            }
            Ok(out)
        })
    }

    fn tenant_get<'a>(&'a self, id: &'a str) -> BoxFut<'a, Option<TenantRecord>> {
        Box::pin(self.tenant_read(id))
    }

    fn tenant_list(&self) -> BoxFut<'_, Vec<TenantRecord>> {
        Box::pin(self.tenant_read_all())
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
        Box::pin(self.generation())
    }

    fn block_add<'a>(&'a self, block: &'a Block) -> BoxFut<'a, ()> {
        Box::pin(async move {
            let audit = serde_json::to_vec(&AuditRecord::block_added(block))?;
            let mut inv = self.scripts.block_add.prepare_invoke();
            inv.key(rec_key("_blocks", &block.tenant))
                .key(rec_key("_audit", &block.tenant))
                .arg(block_field(block.scope, &block.target))
                .arg(serde_json::to_vec(block)?)
                .arg(block.at)
                .arg(audit)
                .arg(block.at.saturating_sub(self.retention_ms))
                .arg(self.retention_ms.max(1))
                .arg(self.log_sequence());
            let _: i64 = self.script(&inv).await?;
            // Other nodes learn of the block from the change feed.
            self.note_tenant_change(&block.tenant).await
        })
    }

    fn block_get<'a>(&'a self, tenant: &'a str, scope: BlockScope, target: &'a str) -> BoxFut<'a, Option<Block>> {
        Box::pin(async move {
            let v: Option<Vec<u8>> = self
                .cmd(
                    redis::cmd("HGET")
                        .arg(rec_key("_blocks", tenant))
                        .arg(block_field(scope, target)),
                )
                .await?;
            v.map(|v| serde_json::from_slice(&v).map_err(StoreError::from))
                .transpose()
        })
    }

    fn block_lift<'a>(
        &'a self,
        tenant: &'a str,
        scope: BlockScope,
        target: &'a str,
        lift: &'a Lift,
    ) -> BoxFut<'a, Option<Block>> {
        Box::pin(async move {
            let audit = serde_json::to_vec(&AuditRecord::block_lifted(scope, target, lift))?;
            let mut inv = self.scripts.block_lift.prepare_invoke();
            inv.key(rec_key("_blocks", tenant))
                .key(rec_key("_audit", tenant))
                .arg(block_field(scope, target))
                .arg(lift.at)
                .arg(audit)
                .arg(lift.at.saturating_sub(self.retention_ms))
                .arg(self.retention_ms.max(1))
                .arg(self.log_sequence());
            let v: Option<Vec<u8>> = self.script(&inv).await?;
            if v.is_some() {
                self.note_tenant_change(tenant).await?;
            }
            v.map(|v| serde_json::from_slice(&v).map_err(StoreError::from))
                .transpose()
        })
    }

    fn blocks_list<'a>(&'a self, tenant: &'a str) -> BoxFut<'a, Vec<Block>> {
        Box::pin(async move {
            let vals: Vec<Vec<u8>> = self.cmd(redis::cmd("HVALS").arg(rec_key("_blocks", tenant))).await?;
            let mut out = vals
                .iter()
                .map(|v| serde_json::from_slice::<Block>(v).map_err(StoreError::from))
                .collect::<Result<Vec<_>, _>>()?;
            Block::sort(&mut out);
            Ok(out)
        })
    }

    fn event_append<'a>(&'a self, tenant: &'a str, event: &'a Event) -> BoxFut<'a, ()> {
        Box::pin(async move {
            self.log_append("_events", tenant, event.at, serde_json::to_vec(event)?)
                .await
        })
    }

    fn events_range<'a>(&'a self, tenant: &'a str, from: u64, to: u64) -> BoxFut<'a, Vec<Event>> {
        Box::pin(async move { self.log_range("_events", tenant, from, to).await })
    }

    fn audit_append<'a>(&'a self, tenant: &'a str, rec: &'a AuditRecord) -> BoxFut<'a, ()> {
        Box::pin(async move {
            self.log_append("_audit", tenant, rec.at, serde_json::to_vec(rec)?)
                .await
        })
    }

    fn audit_range<'a>(&'a self, tenant: &'a str, from: u64, to: u64) -> BoxFut<'a, Vec<AuditRecord>> {
        Box::pin(async move { self.log_range("_audit", tenant, from, to).await })
    }

    fn suppression_add<'a>(&'a self, tenant: &'a str, entry: &'a Suppression) -> BoxFut<'a, ()> {
        Box::pin(async move {
            let _: i64 = self
                .cmd(
                    redis::cmd("HSET")
                        .arg(rec_key("_suppr", tenant))
                        .arg(&entry.address)
                        .arg(serde_json::to_vec(entry)?),
                )
                .await?;
            Ok(())
        })
    }

    fn suppression_remove<'a>(&'a self, tenant: &'a str, address: &'a str) -> BoxFut<'a, bool> {
        Box::pin(async move {
            let n: i64 = self
                .cmd(redis::cmd("HDEL").arg(rec_key("_suppr", tenant)).arg(address))
                .await?;
            Ok(n > 0)
        })
    }

    fn suppression_contains<'a>(&'a self, tenant: &'a str, address: &'a str) -> BoxFut<'a, bool> {
        Box::pin(async move {
            let n: i64 = self
                .cmd(redis::cmd("HEXISTS").arg(rec_key("_suppr", tenant)).arg(address))
                .await?;
            Ok(n == 1)
        })
    }

    fn suppression_list<'a>(&'a self, tenant: &'a str) -> BoxFut<'a, Vec<Suppression>> {
        Box::pin(async move {
            let vals: Vec<Vec<u8>> = self.cmd(redis::cmd("HVALS").arg(rec_key("_suppr", tenant))).await?;
            let mut out = vals
                .iter()
                .map(|v| serde_json::from_slice::<Suppression>(v).map_err(StoreError::from))
                .collect::<Result<Vec<_>, _>>()?;
            out.sort_by(|a, b| a.address.cmp(&b.address));
            Ok(out)
        })
    }

    fn campaigns_live<'a>(&'a self, tenant: &'a str, now: u64) -> BoxFut<'a, Vec<String>> {
        Box::pin(async move {
            let start = Key::new("_campaign", tenant).redis_key();
            let mut ids = std::collections::BTreeSet::new();
            for key in self.keys_with_prefix(&start).await? {
                let value: Option<Vec<u8>> = self.cmd(redis::cmd("GET").arg(&key)).await?;
                // `expiry:id`, as the campaign script writes it.
                let Some(value) = value else { continue };
                let text = String::from_utf8(value).map_err(|_| StoreError::corrupt("campaign", "not UTF-8"))?;
                let (expiry, id) = text
                    .split_once(':')
                    .ok_or_else(|| StoreError::corrupt("campaign", "value without expiry"))?;
                if expiry.parse::<u64>().is_ok_and(|expiry| expiry > now) {
                    ids.insert(id.to_owned());
                }
            }
            Ok(ids.into_iter().collect())
        })
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
        Box::pin(async move {
            let w = window_ms(window)?;
            if band_keys.is_empty() {
                return Ok(CampaignMatch {
                    id: candidate.to_owned(),
                    is_new: true,
                    merged: Vec::new(),
                });
            }
            let mut inv = self.scripts.campaign.prepare_invoke();
            for b in band_keys {
                inv.key(Key::new("_campaign", tenant).part_u64(*b).redis_key());
            }
            inv.arg(candidate).arg(now).arg(w);
            for id in pinned {
                inv.arg(id);
            }
            let reply: Vec<redis::Value> = self.script(&inv).await?;
            campaign_reply(&reply)
        })
    }

    fn api_token_put<'a>(&'a self, token: &'a ApiToken) -> BoxFut<'a, ()> {
        Box::pin(self.put_api_token(token))
    }

    fn api_token_get<'a>(&'a self, tenant: &'a str, id: &'a str) -> BoxFut<'a, Option<ApiToken>> {
        Box::pin(self.get_api_token(tenant, id))
    }

    fn api_token_list<'a>(&'a self, tenant: &'a str) -> BoxFut<'a, Vec<ApiToken>> {
        Box::pin(self.list_api_tokens(tenant))
    }

    fn api_token_remove<'a>(&'a self, tenant: &'a str, id: &'a str) -> BoxFut<'a, bool> {
        Box::pin(self.remove_api_token(tenant, id))
    }

    fn message_origin_put<'a>(
        &'a self,
        message_id: &'a str,
        origin: &'a MessageOrigin,
        _now: u64,
        retention: Duration,
    ) -> BoxFut<'a, ()> {
        let retention_ms = u64::try_from(retention.as_millis()).unwrap_or(u64::MAX);
        Box::pin(self.put_message_origin(message_id, origin, retention_ms))
    }

    fn message_origin_get<'a>(&'a self, message_id: &'a str, _now: u64) -> BoxFut<'a, Option<MessageOrigin>> {
        Box::pin(self.get_message_origin(message_id))
    }

    fn complaint_put<'a>(&'a self, complaint: &'a StoredComplaint) -> BoxFut<'a, ComplaintPut> {
        Box::pin(self.put_complaint(complaint))
    }

    fn complaint_get<'a>(&'a self, id: &'a str) -> BoxFut<'a, Option<StoredComplaint>> {
        Box::pin(self.get_complaint(id))
    }

    fn complaints_expire<'a>(&'a self, before: &'a str, limit: usize) -> BoxFut<'a, usize> {
        Box::pin(self.expire_complaints(before, limit))
    }

    fn complaints_list<'a>(
        &'a self,
        scope: ComplaintScope<'a>,
        since: &'a str,
        before: &'a str,
        limit: usize,
    ) -> BoxFut<'a, Vec<StoredComplaint>> {
        Box::pin(self.list_complaints(scope, since, before, limit))
    }

    // --- One round trip per SMTP stage (issue 18): see `super::batch` ---
    fn stage_batch<'a>(
        &'a self,
        tenant: &'a str,
        ops: &'a [crate::store::batch::StageOp],
        now: u64,
    ) -> BoxFut<'a, Vec<crate::store::batch::StageAnswer>> {
        Box::pin(self.run_batch(tenant, ops, now))
    }

    // --- Tenant change feed (issue 18): see `super::feed` ---
    fn tenant_changes(&self, since: u64) -> BoxFut<'_, crate::store::feed::TenantChanges> {
        Box::pin(self.changes_since(since))
    }
}

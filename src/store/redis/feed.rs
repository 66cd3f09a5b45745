//! The tenant change feed in Redis ([`crate::store::feed`]): the generation counter and a sorted
//! set of `generation:id` entries scored by generation, written together by one script after
//! every tenant write. Both keys live in the slot of the generation counter (the feed's hash
//! tag is the counter's name), so the script is legal in a cluster; the tenant's own write lives
//! on the tenant's shard and comes first, so a follower that sees an entry reads the write.
//!
//! A reader gets the ids only when the feed holds exactly one entry per generation since the
//! one it asked about: a feed trimmed past it, or a generation moved by a node that writes no
//! feed, makes it read every tenant instead (`changed: None`), never miss one.

use super::tenants::TENANT_GENERATION;
use super::RedisStore;
use crate::store::feed::TenantChanges;
use crate::store::StoreError;

/// The feed: `generation:id` members scored by generation.
const TENANT_FEED: &[u8] = b"{aupgate:tenants:generation}:feed";

/// Entries kept: a follower more than this many changes behind reads every tenant.
const FEED_KEEP: u64 = 50_000;

/// KEYS[1] generation, KEYS[2] feed. ARGV id, entries kept. Returns the new generation.
pub(super) const NOTE: &str = r"
local g = redis.call('INCR', KEYS[1])
redis.call('ZADD', KEYS[2], g, string.format('%d', g) .. ':' .. ARGV[1])
redis.call('ZREMRANGEBYRANK', KEYS[2], 0, -(tonumber(ARGV[2]) + 1))
return g
";

/// KEYS[1] generation, KEYS[2] feed. ARGV since, entries kept.
/// Returns {generation, complete (1|0), entries after `since`...}.
pub(super) const READ: &str = r"
local g = tonumber(redis.call('GET', KEYS[1]) or '0')
local since = tonumber(ARGV[1])
if g == since then return {g, 1} end
if g < since or g - since > tonumber(ARGV[2]) then return {g, 0} end
local entries = redis.call('ZRANGEBYSCORE', KEYS[2], '(' .. ARGV[1], '+inf')
if #entries ~= g - since then return {g, 0} end
local out = {g, 1}
for i = 1, #entries do out[#out + 1] = entries[i] end
return out
";

impl RedisStore {
    /// Moves the tenant generation and names `id` in the feed (after `id`'s write).
    pub(super) async fn note_tenant_change(&self, id: &str) -> Result<(), StoreError> {
        let mut inv = self.scripts.feed_note.prepare_invoke();
        inv.key(TENANT_GENERATION).key(TENANT_FEED).arg(id).arg(FEED_KEEP);
        let _: i64 = self.script(&inv).await?;
        Ok(())
    }

    /// [`crate::store::RateStore::tenant_changes`].
    pub(super) async fn changes_since(&self, since: u64) -> Result<TenantChanges, StoreError> {
        let mut inv = self.scripts.feed_read.prepare_invoke();
        inv.key(TENANT_GENERATION).key(TENANT_FEED).arg(since).arg(FEED_KEEP);
        let reply: Vec<redis::Value> = self.script(&inv).await?;
        let number = |v: &redis::Value| -> Result<u64, StoreError> {
            redis::from_redis_value_ref(v).map_err(|e| StoreError::corrupt("tenant feed", e.to_string()))
        };
        let (Some(generation), Some(complete)) = (reply.first(), reply.get(1)) else {
            return Err(StoreError::corrupt("tenant feed", "short script reply"));
        };
        let generation = number(generation)?;
        if number(complete)? != 1 {
            return Ok(TenantChanges {
                generation,
                changed: None,
            });
        }
        let mut ids = Vec::with_capacity(reply.len() - 2);
        for entry in &reply[2..] {
            let entry: String =
                redis::from_redis_value_ref(entry).map_err(|e| StoreError::corrupt("tenant feed", e.to_string()))?;
            let (_, id) = entry
                .split_once(':')
                .ok_or_else(|| StoreError::corrupt("tenant feed", "entry without generation"))?;
            ids.push(id.to_string());
        }
        ids.sort();
        ids.dedup();
        Ok(TenantChanges {
            generation,
            changed: Some(ids),
        })
    }
}

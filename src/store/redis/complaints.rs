//! Complaint intake in Redis.
//!
//! - The Message-ID index: one string per accepted message, `_msgorig` keyed (and hash-tagged)
//!   by the hex of the Message-ID's 16-byte digest, so the entries spread over the cluster's
//!   shards; `MessageOrigin::encode` as value, `PX` the retention.
//! - Complaints: every key under the `_cpl` kind of no tenant, so they share one hash tag and one
//!   Lua script stores a complaint atomically (the dedup key checked and set, the record and its
//!   indexes written). Complaints are few (people clicking "this is spam"), so one shard holding
//!   them all is no load. The indexes are sorted sets of ids with score 0, read in lex order,
//!   which is time order.

use super::RedisStore;
use crate::store::complaints::{check_complaint, decode_complaint, encode_complaint, message_id_digest};
use crate::store::key::hex;
use crate::store::{ComplaintPut, ComplaintScope, Key, MessageOrigin, StoreError, StoredComplaint};

const PUT: &str = r"
local existing = redis.call('GET', KEYS[1])
if existing then return existing end
redis.call('SET', KEYS[1], ARGV[1])
redis.call('SET', KEYS[2], ARGV[2])
redis.call('ZADD', KEYS[3], 0, ARGV[1])
redis.call('ZADD', KEYS[4], 0, ARGV[1])
return false
";

/// KEYS[1] the index of all complaints, then per complaint its record, dedup and scope index
/// keys; ARGV the complaints' ids. Removes each (its dedup entry only while it names it).
const REMOVE: &str = r"
for n = 1, #ARGV do
  local id = ARGV[n]
  local base = 1 + (n - 1) * 3
  redis.call('ZREM', KEYS[1], id)
  redis.call('ZREM', KEYS[base + 3], id)
  redis.call('DEL', KEYS[base + 1])
  if redis.call('GET', KEYS[base + 2]) == id then redis.call('DEL', KEYS[base + 2]) end
end
return #ARGV
";

fn origin_key(message_id: &str) -> Vec<u8> {
    Key::new("_msgorig", &hex(&message_id_digest(message_id))).redis_key()
}

fn complaint_key(part: &str, value: &[u8]) -> Vec<u8> {
    Key::new("_cpl", "").part(part).part(value).redis_key()
}

fn scope_key(scope: ComplaintScope<'_>) -> Vec<u8> {
    match scope {
        ComplaintScope::All => complaint_key("all", b""),
        ComplaintScope::Unattributed => complaint_key("unattributed", b""),
        ComplaintScope::Tenant(tenant) => complaint_key("tenant", tenant.as_bytes()),
    }
}

impl RedisStore {
    pub(crate) async fn put_message_origin(
        &self,
        message_id: &str,
        origin: &MessageOrigin,
        retention_ms: u64,
    ) -> Result<(), StoreError> {
        // NX: the first writer keeps the Message-ID until it expires. Group-committed with the
        // acceptance's other writes (`group`).
        let write = super::group::Write::SetNx {
            key: origin_key(message_id),
            value: origin.encode(),
            ttl: retention_ms,
        };
        self.write_grouped(&origin.tenant, vec![write]).await
    }

    pub(crate) async fn get_message_origin(&self, message_id: &str) -> Result<Option<MessageOrigin>, StoreError> {
        let value: Option<Vec<u8>> = self.cmd(redis::cmd("GET").arg(origin_key(message_id))).await?;
        value.map(|v| MessageOrigin::decode(&v)).transpose()
    }

    pub(crate) async fn put_complaint(&self, complaint: &StoredComplaint) -> Result<ComplaintPut, StoreError> {
        check_complaint(complaint)?;
        let scope = match &complaint.tenant {
            Some(tenant) => ComplaintScope::Tenant(tenant),
            None => ComplaintScope::Unattributed,
        };
        let script = redis::Script::new(PUT);
        let mut invocation = script.prepare_invoke();
        invocation
            .key(complaint_key("dedup", complaint.dedup_key.as_bytes()))
            .key(complaint_key("record", complaint.id.as_bytes()))
            .key(scope_key(ComplaintScope::All))
            .key(scope_key(scope))
            .arg(&complaint.id)
            .arg(encode_complaint(complaint));
        let existing: Option<String> = self.script(&invocation).await?;
        Ok(match existing {
            Some(id) => ComplaintPut::Duplicate { id },
            None => ComplaintPut::New,
        })
    }

    /// [`crate::store::RateStore::complaints_expire`]: the oldest ids below `before` read, then
    /// removed in one script (every complaint key shares one hash tag).
    pub(crate) async fn expire_complaints(&self, before: &str, limit: usize) -> Result<usize, StoreError> {
        let old = self.list_complaints(ComplaintScope::All, "", before, limit).await?;
        if old.is_empty() {
            return Ok(0);
        }
        let script = redis::Script::new(REMOVE);
        let mut invocation = script.prepare_invoke();
        invocation.key(scope_key(ComplaintScope::All));
        for complaint in &old {
            let scope = match &complaint.tenant {
                Some(tenant) => ComplaintScope::Tenant(tenant),
                None => ComplaintScope::Unattributed,
            };
            invocation
                .key(complaint_key("record", complaint.id.as_bytes()))
                .key(complaint_key("dedup", complaint.dedup_key.as_bytes()))
                .key(scope_key(scope))
                .arg(&complaint.id);
        }
        let removed: i64 = self.script(&invocation).await?;
        Ok(usize::try_from(removed).unwrap_or(0))
    }

    pub(crate) async fn get_complaint(&self, id: &str) -> Result<Option<StoredComplaint>, StoreError> {
        let value: Option<Vec<u8>> = self
            .cmd(redis::cmd("GET").arg(complaint_key("record", id.as_bytes())))
            .await?;
        value.map(|v| decode_complaint(id, &v)).transpose()
    }

    pub(crate) async fn list_complaints(
        &self,
        scope: ComplaintScope<'_>,
        since: &str,
        before: &str,
        limit: usize,
    ) -> Result<Vec<StoredComplaint>, StoreError> {
        let max = if before.is_empty() {
            "+".to_string()
        } else {
            format!("({before}")
        };
        let ids: Vec<String> = self
            .cmd(
                redis::cmd("ZREVRANGEBYLEX")
                    .arg(scope_key(scope))
                    .arg(max)
                    .arg(format!("[{since}"))
                    .arg("LIMIT")
                    .arg(0)
                    .arg(limit),
            )
            .await?;
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            match self.get_complaint(&id).await? {
                Some(complaint) => out.push(complaint),
                None => return Err(StoreError::corrupt("complaint index", format!("no record {id}"))),
            }
        }
        Ok(out)
    }
}

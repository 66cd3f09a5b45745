//! The Lua scripts of the Redis backend. Each runs atomically on the shard that owns its keys;
//! every key of one call carries the same `{tenant}` hash tag, so this holds in a cluster too.
//! Numbers are formatted with `%d` because Lua would print large ones in exponent notation.

use redis::Script;

/// Appends a record to a log (sorted set scored by time, member = zero-padded sequence, space,
/// JSON), trims entries older than the retention and refreshes the expiry.
const LOG_APPEND_FN: &str = r"
local function log_append(zk, sk, at, json, cutoff, ttl)
  local s = redis.call('INCR', sk)
  redis.call('ZADD', zk, at, string.format('%020d', s) .. ' ' .. json)
  redis.call('ZREMRANGEBYSCORE', zk, '-inf', '(' .. cutoff)
  redis.call('PEXPIRE', zk, ttl)
  redis.call('PEXPIRE', sk, ttl)
end
";

/// KEYS[1] hash bucket->count. ARGV mode (0 get, 1 add, 2 check-and-add, 3 read the buckets), n,
/// limit, now, window, bucket size. Returns {ok, total, [idx, count]...} (buckets only on refusal
/// and in mode 3).
const COUNTER: &str = r"
local mode = tonumber(ARGV[1])
local n = tonumber(ARGV[2])
local limit = tonumber(ARGV[3])
local now = tonumber(ARGV[4])
local w = tonumber(ARGV[5])
local b = tonumber(ARGV[6])
local first = math.floor(math.max(now - w, 0) / b)
local cur = math.floor(now / b)
local function charge()
  redis.call('HINCRBY', KEYS[1], string.format('%d', cur), n)
  redis.call('PEXPIRE', KEYS[1], string.format('%d', math.max((cur + 1) * b + w - now, 1)))
end
if mode == 1 and redis.call('HLEN', KEYS[1]) < 128 then
  charge()
  return {1, 0}
end
local h = redis.call('HGETALL', KEYS[1])
local total = 0
local buckets = {}
for i = 1, #h, 2 do
  local idx = tonumber(h[i])
  local c = tonumber(h[i + 1])
  if idx < first then
    redis.call('HDEL', KEYS[1], h[i])
  elseif idx <= cur then
    total = total + c
    buckets[#buckets + 1] = idx
    buckets[#buckets + 1] = c
  end
end
if mode == 0 then
  return {1, total}
end
if mode == 3 then
  local out = {1, total}
  for i = 1, #buckets do out[#out + 1] = buckets[i] end
  return out
end
if mode == 2 and total + n > limit then
  local out = {0, total}
  for i = 1, #buckets do out[#out + 1] = buckets[i] end
  return out
end
charge()
return {1, total + n}
";

/// KEYS[1] sorted set member->last seen. ARGV member, now, window, cap.
/// Returns {admitted, already_member, distinct}.
const SET: &str = r"
local now = tonumber(ARGV[2])
local w = tonumber(ARGV[3])
local cap = tonumber(ARGV[4])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', string.format('%d', now - w))
local old = redis.call('ZSCORE', KEYS[1], ARGV[1])
local n = redis.call('ZCARD', KEYS[1])
local already = 0
if old then
  already = 1
  -- Every touch moves the member forward, even within one millisecond (see set_release).
  redis.call('ZADD', KEYS[1], string.format('%d', math.max(now, tonumber(old) + 1)), ARGV[1])
elseif n < cap then
  redis.call('ZADD', KEYS[1], string.format('%d', now), ARGV[1])
  n = n + 1
else
  return {0, 0, n}
end
local top = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
redis.call('PEXPIRE', KEYS[1], string.format('%d', math.max(tonumber(top[2]) + w - now, 1)))
return {1, already, n}
";

/// KEYS[1] sorted set of occurrences, KEYS[2] sequence. ARGV now, window, cap.
/// Returns {admitted, count, retry_after (-1: never)}.
const EVENTS: &str = r"
local now = tonumber(ARGV[1])
local w = tonumber(ARGV[2])
local cap = tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', string.format('%d', now - w))
local n = redis.call('ZCARD', KEYS[1])
if n < cap then
  local s = redis.call('INCR', KEYS[2])
  redis.call('ZADD', KEYS[1], string.format('%d', now), string.format('%d:%d', now, s))
  local top = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
  local ttl = string.format('%d', math.max(tonumber(top[2]) + w - now, 1))
  redis.call('PEXPIRE', KEYS[1], ttl)
  redis.call('PEXPIRE', KEYS[2], ttl)
  return {1, n + 1, 0}
end
if cap == 0 then return {0, n, -1} end
local r = redis.call('ZRANGE', KEYS[1], n - cap, n - cap, 'WITHSCORES')
return {0, n, math.max(tonumber(r[2]) + w - now, 1)}
";

/// KEYS[1] sorted set member->last seen. ARGV member, at. Removes the member if it was last
/// seen at `at` (a charge taken back).
const SET_RELEASE: &str = r"
local seen = redis.call('ZSCORE', KEYS[1], ARGV[1])
if seen and tonumber(seen) == tonumber(ARGV[2]) then redis.call('ZREM', KEYS[1], ARGV[1]) end
return 1
";

/// KEYS[1] sorted set of occurrences. ARGV at. Removes one occurrence recorded at `at`.
const EVENTS_RELEASE: &str = r"
local found = redis.call('ZREVRANGEBYSCORE', KEYS[1], ARGV[1], ARGV[1], 'LIMIT', 0, 1)
if found[1] then redis.call('ZREM', KEYS[1], found[1]) end
return 1
";

/// KEYS band keys (value `expiry:id`). ARGV candidate, now, window, then the pinned ids (never
/// re-pointed). Returns {id, is_new, the other live ids the keys named...}.
const CAMPAIGN: &str = r"
local now = tonumber(ARGV[2])
local w = tonumber(ARGV[3])
local cur = {}
local votes = {}
local found = false
for i = 1, #KEYS do
  local v = redis.call('GET', KEYS[i])
  local live = false
  if v then
    local e, c = string.match(v, '^(%d+):(.*)$')
    if e and tonumber(e) > now then live = c end
  end
  cur[i] = live
  if live then
    votes[live] = (votes[live] or 0) + 1
    if (not found) or votes[live] > votes[found] or (votes[live] == votes[found] and live < found) then
      found = live
    end
  end
end
local id = found or ARGV[1]
local val = string.format('%d', now + w) .. ':' .. id
local pinned = {}
for i = 4, #ARGV do pinned[ARGV[i]] = true end
for i = 1, #KEYS do
  if not (cur[i] and cur[i] ~= id and pinned[cur[i]]) then
    redis.call('SET', KEYS[i], val, 'PX', string.format('%d', w))
  end
end
local out = {id, 0}
if not found then out[2] = 1 end
for other, _ in pairs(votes) do
  if other ~= id then table.insert(out, other) end
end
return out
";

/// KEYS[1] log, KEYS[2] sequence. ARGV at, json, cutoff, ttl.
const LOG: &str = r"
log_append(KEYS[1], KEYS[2], ARGV[1], ARGV[2], ARGV[3], ARGV[4])
return 1
";

/// KEYS[1] blocks hash, KEYS[2] audit log, KEYS[3] audit sequence.
/// ARGV field, block json, at, audit json, cutoff, ttl.
const BLOCK_ADD: &str = r"
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
log_append(KEYS[2], KEYS[3], ARGV[3], ARGV[4], ARGV[5], ARGV[6])
return 1
";

/// Same keys; ARGV field, at, audit json, cutoff, ttl. Returns the lifted block or nil.
const BLOCK_LIFT: &str = r"
local v = redis.call('HGET', KEYS[1], ARGV[1])
if not v then return false end
redis.call('HDEL', KEYS[1], ARGV[1])
log_append(KEYS[2], KEYS[3], ARGV[2], ARGV[3], ARGV[4], ARGV[5])
return v
";

/// KEYS[1] tenant fields hash, KEYS[2] the tenant's record of an earlier version.
/// ARGV mode (0 create, 1 seed, 2 update), the `id` field, the legacy record the caller read
/// (seed), then (op `p` put / `d` delete, field, value) triples. Returns 1 written, 0 refused
/// (create: exists; seed: exists; update: no such tenant), -1 the legacy record changed meanwhile.
const TENANT_WRITE: &str = r"
local mode = tonumber(ARGV[1])
local exists = redis.call('HEXISTS', KEYS[1], ARGV[2]) == 1
if mode == 0 then
  if exists or redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
elseif mode == 1 then
  if exists then return 0 end
  local legacy = redis.call('GET', KEYS[2]) or ''
  if legacy ~= ARGV[3] then return -1 end
  redis.call('DEL', KEYS[2])
else
  if not exists then return 0 end
end
for i = 4, #ARGV, 3 do
  if ARGV[i] == 'p' then
    redis.call('HSET', KEYS[1], ARGV[i + 1], ARGV[i + 2])
  else
    redis.call('HDEL', KEYS[1], ARGV[i + 1])
  end
end
return 1
";

/// The loaded scripts (hashes are computed once; Redis caches the bodies).
pub(super) struct Scripts {
    pub counter: Script,
    pub set: Script,
    pub set_release: Script,
    pub events: Script,
    pub events_release: Script,
    pub campaign: Script,
    pub log: Script,
    pub block_add: Script,
    pub block_lift: Script,
    pub tenant_write: Script,
}

impl Scripts {
    pub(super) fn new() -> Self {
        let with_log = |body: &str| Script::new(&format!("{LOG_APPEND_FN}{body}"));
        Scripts {
            counter: Script::new(COUNTER),
            set: Script::new(SET),
            set_release: Script::new(SET_RELEASE),
            events: Script::new(EVENTS),
            events_release: Script::new(EVENTS_RELEASE),
            campaign: Script::new(CAMPAIGN),
            log: with_log(LOG),
            block_add: with_log(BLOCK_ADD),
            block_lift: with_log(BLOCK_LIFT),
            tenant_write: Script::new(TENANT_WRITE),
        }
    }
}

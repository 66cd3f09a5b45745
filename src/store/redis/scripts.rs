//! The Lua scripts of the Redis backend. Each runs atomically on the shard that owns its keys;
//! every key of one call carries the same `{tenant}` hash tag, so this holds in a cluster too.
//! Numbers are formatted with `%d` because Lua would print large ones in exponent notation.

use redis::Script;

/// Appends a record to a log (sorted set scored by time, member = the gateway's zero-padded
/// sequence, space, JSON: `RedisStore::log_sequence`), trims entries older than the retention
/// and refreshes the expiry.
const LOG_APPEND_FN: &str = r"
local function log_append(zk, seq, at, json, cutoff, ttl)
  redis.call('ZADD', zk, at, seq .. ' ' .. json)
  redis.call('ZREMRANGEBYSCORE', zk, '-inf', '(' .. cutoff)
  redis.call('PEXPIRE', zk, ttl)
end
";

/// The bucket scan of a windowed counter (hash `key`): a field per bucket, named by its index,
/// holding its count, and four bookkeeping fields with negative names — `-1` the total of every
/// bucket in the hash, `-2` and `-3` the lowest and highest index among them, `-4` when they were
/// last worked out from the buckets (ms). (Versions before the bookkeeping read every field as a
/// bucket: they drop these as long gone instead of failing on them.) The scan drops the buckets
/// that left the window (`first`), writes the bookkeeping again and returns the total up to
/// `cur` and the hash as read (dropped fields set to false) for `scanned_buckets`.
const SCAN_FN: &str = r"
local function scan(key, first, cur, now)
  local h = redis.call('HGETALL', key)
  local total, all, lo, hi = 0, 0, false, false
  for i = 1, #h, 2 do
    local idx = tonumber(h[i])
    if idx < 0 then
      h[i] = false
    elseif idx < first then
      redis.call('HDEL', key, h[i])
      h[i] = false
    else
      local c = tonumber(h[i + 1])
      all = all + c
      if idx <= cur then total = total + c end
      if not lo or idx < lo then lo = idx end
      if not hi or idx > hi then hi = idx end
    end
  end
  if lo then
    redis.call('HSET', key, '-1', string.format('%d', all), '-2', string.format('%d', lo),
      '-3', string.format('%d', hi), '-4', string.format('%d', now))
  else
    redis.call('HDEL', key, '-1', '-2', '-3', '-4')
  end
  return total, h
end
-- Whether the bookkeeping read from a counter can stand for its buckets' total: the window
-- (`first` to `cur`) holds every bucket, and the buckets were worked out at most a minute ago.
local function believed(all, lo, hi, at, first, cur, now)
  return all and lo and hi and at and lo >= first and hi <= cur and math.abs(now - at) <= 60000
end
local function scanned_buckets(h, cur, out)
  for i = 1, #h, 2 do
    local idx = h[i] and tonumber(h[i])
    if idx and idx <= cur then
      out[#out + 1] = idx
      out[#out + 1] = tonumber(h[i + 1])
    end
  end
  return out
end
-- Keeps the bookkeeping of a charge of `n` to bucket `cur` (`fresh`: the charge started it):
-- the total always (a hash without the rest of the bookkeeping is scanned before the total is
-- believed), the bounds when they are there.
local function booked(key, n, cur, fresh)
  redis.call('HINCRBY', key, '-1', n)
  if fresh then
    local bounds = redis.call('HMGET', key, '-2', '-3')
    local lo, hi = tonumber(bounds[1]), tonumber(bounds[2])
    if lo and cur < lo then redis.call('HSET', key, '-2', string.format('%d', cur)) end
    if hi and cur > hi then redis.call('HSET', key, '-3', string.format('%d', cur)) end
  end
end
";

/// The windowed counter on hash `key` (see `scan` for its fields): mode 0 get, 1 add, 2
/// check-and-add, 3 read the buckets. Returns {ok, total, [idx, count]...} (buckets only on
/// refusal and in mode 3). A get or check whose window holds every bucket of the hash, by
/// bookkeeping worked out from the buckets at most a minute before (so whatever wrote a bucket
/// without keeping the total — a node of an earlier version during a rolling upgrade — is
/// counted again within a minute), reads the total alone — one HMGET, however many
/// buckets a day's traffic left; otherwise the buckets are scanned.
const COUNTER_FN: &str = r"
local function counter(key, mode, n, limit, now, w, b)
local first = math.floor(math.max(now - w, 0) / b)
local cur = math.floor(now / b)
-- The key must live until the current bucket leaves the window: the same moment for every
-- charge in the bucket, so the expiry is set when the bucket is started, and only ever moved
-- out (a bucket started late by a node whose clock is behind must not shorten it); a new key
-- has no expiry for GT to compare with, so NX sets it.
-- Returns whether the charge started a bucket.
local function charge()
  local fresh = redis.call('HINCRBY', key, string.format('%d', cur), n) == n
  booked(key, n, cur, fresh)
  if fresh then
    local ttl = string.format('%d', math.max((cur + 1) * b + w - now, 1))
    if redis.call('PEXPIRE', key, ttl, 'GT') == 0 then
      redis.call('PEXPIRE', key, ttl, 'NX')
    end
  end
  return fresh
end
-- A plain add reads nothing; only when it starts a bucket and the hash has grown long are the
-- buckets that left the window dropped.
if mode == 1 then
  if charge() and redis.call('HLEN', key) >= 128 then scan(key, first, cur, now) end
  return {1, 0}
end
local total, h = false, false
if mode ~= 3 then
  local book = redis.call('HMGET', key, '-1', '-2', '-3', '-4')
  local all, lo, hi, at = tonumber(book[1]), tonumber(book[2]), tonumber(book[3]), tonumber(book[4])
  if believed(all, lo, hi, at, first, cur, now) then
    total = all
  end
end
if not total then total, h = scan(key, first, cur, now) end
if mode == 0 then
  return {1, total}
end
if mode == 3 then
  return scanned_buckets(h, cur, {1, total})
end
if total + n > limit then
  if not h then total, h = scan(key, first, cur, now) end
  return scanned_buckets(h, cur, {0, total})
end
-- A zero charge is a pure check (MAIL FROM's and RCPT TO's quota checks): no write, as in RocksDB.
if n > 0 then charge() end
return {1, total + n}
end
";

/// KEYS[1] hash bucket->count. ARGV mode, n, limit, now, window, bucket size (see `counter`).
const COUNTER: &str = r"
return counter(KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]),
  tonumber(ARGV[5]), tonumber(ARGV[6]))
";

/// The capped distinct set `key` (sorted set member->last seen): records `member` at `now`. The
/// expiry only ever moves out (`GT`), past the newest member's window end.
/// `nows` and `ws` are `now` and `w` as the caller's decimal arguments (a stage batch has them;
/// formatting a number again costs more than the rest of a step). Returns {admitted,
/// already_member, distinct}.
const SET_FN: &str = r"
local function set_add(key, member, now, w, cap, nows, ws)
-- An empty (or missing) set has nothing to trim and no member: one read instead of three.
local n = redis.call('ZCARD', key)
local old = false
if n > 0 then
  n = n - redis.call('ZREMRANGEBYSCORE', key, '-inf', string.format('%d', now - w))
  if n > 0 then old = redis.call('ZSCORE', key, member) end
end
local already = 0
local score = nows
local ttl = ws
if old then
  already = 1
  -- Every touch moves the member forward, even within one millisecond (see set_release).
  local at = math.max(now, tonumber(old) + 1)
  if at ~= now then
    score = string.format('%d', at)
    ttl = string.format('%d', at + w - now)
  end
elseif n < cap then
  n = n + 1
else
  return {0, 0, n}
end
redis.call('ZADD', key, score, member)
if n == 1 and already == 0 then
  redis.call('PEXPIRE', key, ttl)
else
  redis.call('PEXPIRE', key, ttl, 'GT')
end
return {1, already, n}
end
";

/// KEYS[1] sorted set member->last seen. ARGV member, now, window, cap (see `set_add`).
const SET: &str = r"
return set_add(KEYS[1], ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]), ARGV[2], ARGV[3])
";

/// The exact event log `key` (sorted set of occurrences, member `now:nonce`, the caller's nonce
/// unique per occurrence): records one occurrence at `now` if fewer than `cap` lie in the window.
/// The expiry only ever moves out (`GT`), so it stays past the newest occurrence's window end
/// whichever node's clock wrote it. `nows` and `ws` are `now` and `w` as decimal arguments (see
/// `set_add`). Returns {admitted, count, retry_after (-1: never)}.
const EVENTS_FN: &str = r"
local function events_add(key, nonce, now, w, cap, nows, ws)
-- A new log (every recipient's first message) has nothing to trim.
local n = redis.call('ZCARD', key)
if n > 0 then n = n - redis.call('ZREMRANGEBYSCORE', key, '-inf', string.format('%d', now - w)) end
if n < cap then
  redis.call('ZADD', key, nows, nows .. ':' .. nonce)
  if n == 0 then
    redis.call('PEXPIRE', key, ws)
  else
    redis.call('PEXPIRE', key, ws, 'GT')
  end
  return {1, n + 1, 0}
end
if cap == 0 then return {0, n, -1} end
local r = redis.call('ZRANGE', key, n - cap, n - cap, 'WITHSCORES')
return {0, n, math.max(tonumber(r[2]) + w - now, 1)}
end
";

/// KEYS[1] sorted set of occurrences. ARGV now, window, cap, nonce (see `events_add`).
const EVENTS: &str = r"
return events_add(KEYS[1], ARGV[4], tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[1], ARGV[2])
";

/// KEYS[1] a counter's hash (see `scan`). ARGV n, the bucket the charge went to. Takes `n`
/// back from it, never below zero (an emptied bucket is removed; a bucket already gone stays
/// gone), and from the total. The bounds may then be wider than the buckets: that only sends
/// a check to the scan sooner.
const COUNTER_RELEASE: &str = r"
local c = tonumber(redis.call('HGET', KEYS[1], ARGV[2]) or '0')
local n = tonumber(ARGV[1])
if c > n then
  redis.call('HINCRBY', KEYS[1], ARGV[2], -n)
  redis.call('HINCRBY', KEYS[1], '-1', -n)
elseif c > 0 then
  redis.call('HDEL', KEYS[1], ARGV[2])
  redis.call('HINCRBY', KEYS[1], '-1', -c)
end
return 1
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

/// The campaign index: `keys` the band keys (value `expiry:id`), `pinned` a set of ids never
/// re-pointed. A key lives at least a window after the last message that used it: it is written
/// with some slack (1/64 of the window) and rewritten only once that slack is used up, so an
/// active campaign does not rewrite its keys on every message (as in RocksDB).
/// Returns {id, is_new, the other live ids the keys named...}.
const CAMPAIGN_FN: &str = r"
local function campaign(keys, candidate, now, w, pinned)
local cur = {}
local exp = {}
local votes = {}
local found = false
for i = 1, #keys do
  local v = redis.call('GET', keys[i])
  local live = false
  if v then
    local e, c = string.match(v, '^(%d+):(.*)$')
    if e and tonumber(e) > now then
      live = c
      exp[i] = tonumber(e)
    end
  end
  cur[i] = live
  if live then
    votes[live] = (votes[live] or 0) + 1
    if (not found) or votes[live] > votes[found] or (votes[live] == votes[found] and live < found) then
      found = live
    end
  end
end
local id = found or candidate
local ttl = w + math.floor(w / 64)
local val = string.format('%d', now + ttl) .. ':' .. id
for i = 1, #keys do
  local keep = cur[i] and cur[i] ~= id and pinned[cur[i]]
  local fresh = cur[i] == id and exp[i] >= now + w
  if not (keep or fresh) then
    redis.call('SET', keys[i], val, 'PX', string.format('%d', ttl))
  end
end
local out = {id, 0}
if not found then out[2] = 1 end
for other, _ in pairs(votes) do
  if other ~= id then table.insert(out, other) end
end
return out
end
";

/// KEYS band keys. ARGV candidate, now, window, then the pinned ids (see `campaign`).
const CAMPAIGN: &str = r"
local pinned = {}
for i = 4, #ARGV do pinned[ARGV[i]] = true end
return campaign(KEYS, ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), pinned)
";

/// KEYS[1] blocks hash, KEYS[2] audit log.
/// ARGV field, block json, at, audit json, cutoff, ttl, the record's sequence (see `log_append`).
const BLOCK_ADD: &str = r"
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
log_append(KEYS[2], ARGV[7], ARGV[3], ARGV[4], ARGV[5], ARGV[6])
return 1
";

/// Same keys; ARGV field, at, audit json, cutoff, ttl, the record's sequence. Returns the lifted
/// block or nil.
const BLOCK_LIFT: &str = r"
local v = redis.call('HGET', KEYS[1], ARGV[1])
if not v then return false end
redis.call('HDEL', KEYS[1], ARGV[1])
log_append(KEYS[2], ARGV[6], ARGV[2], ARGV[3], ARGV[4], ARGV[5])
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

/// The stage batches (`store::batch`) of several callers of one tenant (`batch`), one caller
/// after another, each caller's operations in order up to and including its first adverse answer:
/// the answers are those the callers' single batches would give in that order.
///
/// KEYS[1] any key of the tenant (routes the call to its shard; every key below carries the same
/// hash tag). ARGV, per caller: the number of its arguments, then its `now` and its operations,
/// each a code and its arguments; a key is `k <key>`, or `t <prefix> <suffix>` around the
/// campaign id the caller's lookup (`m`) returned:
/// - `c` key n limit window bucket: counter check-and-add → `counter`'s reply
/// - `a` key n window bucket: counter add → `counter`'s reply
/// - `w` key window bucket: counter read → `counter`'s reply with the buckets (mode 3)
/// - `s` key member window cap → `set_add`'s reply
/// - `e` key nonce window cap → `events_add`'s reply
/// - `p` hash address → {1 suppressed | 0}
/// - `b` hash field → {1, block json} | {0}
/// - `m` count keys... candidate window count pinned... → `campaign`'s reply
///
/// A counter check-and-add that neither starts a bucket nor is refused, on bookkeeping `counter`
/// would believe, reads the counter's fields once a call and adds up its charges in a mirror,
/// written at the end of the call (or before anything else touches the counter): one `HMGET`
/// and one `HSET` a counter, however many callers charge it. Every other case goes to
/// `counter` itself.
///
/// Returns one flat list (a Lua table per answer would cost more to send than the rest of the
/// work): per caller `1`, the number of items that follow, and per answer its length and its
/// items; or `0` and the error the caller's operations raised. A caller whose charges the final
/// write could not apply gets that error too.
const BATCH: &str = r"
local mirror = {}
local failed = {}
-- The reply, written as the callers run: per caller its status, its length and its answers
-- (`out[start[c]]` onwards); `len` is its length so far.
local out = {}
local len = 0
local function error_text(err)
  if type(err) == 'table' then return tostring(err.err or err.message or 'error') end
  return tostring(err)
end
local function answer(r)
  out[len + 1] = #r
  for x = 1, #r do out[len + 1 + x] = r[x] end
  len = len + 1 + #r
end
local function settle(key)
  local m = mirror[key]
  if not m then return end
  mirror[key] = nil
  if m.add == 0 then return end
  -- The bucket and the total as they now stand (read at the call's first check; nothing else
  -- touched the key since: every other step settles it first): one write.
  local ok, err = pcall(function()
    redis.call('HSET', key, m.curf, string.format('%d', m.c), '-1', string.format('%d', m.all))
  end)
  -- The callers whose charges these were fail; whatever settled the counter goes on (and meets
  -- the broken key itself if it touches it).
  if not ok then
    for c, _ in pairs(m.users) do failed[c] = err end
  end
end
-- Answers a counter check-and-add; returns whether it was refused.
local function counter_check(key, n, limit, now, w, b, caller)
  local cur = math.floor(now / b)
  local m = mirror[key]
  if m and m.cur ~= cur then
    settle(key)
    m = nil
  end
  if not m then
    local curf = string.format('%d', cur)
    local v = redis.call('HMGET', key, '-1', '-2', '-3', '-4', curf)
    m = {all = tonumber(v[1]), lo = tonumber(v[2]), hi = tonumber(v[3]), at = tonumber(v[4]),
      c = tonumber(v[5]) or 0, cur = cur, curf = curf, add = 0, users = {}}
    mirror[key] = m
  end
  local first = math.floor(math.max(now - w, 0) / b)
  if believed(m.all, m.lo, m.hi, m.at, first, cur, now) and m.all + n <= limit and (n == 0 or m.c > 0) then
    if n > 0 then
      m.all = m.all + n
      m.c = m.c + n
      m.add = m.add + n
      m.users[caller] = true
    end
    out[len + 1] = 2
    out[len + 2] = 1
    out[len + 3] = m.all
    len = len + 3
    return false
  end
  settle(key)
  local r = counter(key, 2, n, limit, now, w, b)
  answer(r)
  return r[1] == 0
end
local function run(caller, i, stop)
  local nows = ARGV[i]
  local now = tonumber(nows)
  i = i + 1
  -- The campaign id the lookup returned, with its length before it, as keys embed it.
  local camp = false
  -- Nothing past the caller's own arguments is read (checked before each operation runs).
  local function need(n)
    if i + n - 1 > stop then error('batch arguments overrun') end
  end
  local function key()
    if ARGV[i] == 'k' then
      need(2)
      i = i + 2
      return ARGV[i - 1]
    end
    need(3)
    i = i + 3
    if not camp then error('batch: a campaign key before the lookup') end
    return ARGV[i - 2] .. camp .. ARGV[i - 1]
  end
  while i <= stop do
    local op = ARGV[i]
    i = i + 1
    local adverse = false
    if op == 'c' then
      local k = key()
      need(4)
      adverse = counter_check(k, tonumber(ARGV[i]), tonumber(ARGV[i + 1]), now, tonumber(ARGV[i + 2]),
        tonumber(ARGV[i + 3]), caller)
      i = i + 4
    elseif op == 'a' then
      local k = key()
      need(3)
      settle(k)
      answer(counter(k, 1, tonumber(ARGV[i]), 0, now, tonumber(ARGV[i + 1]), tonumber(ARGV[i + 2])))
      i = i + 3
    elseif op == 'w' then
      local k = key()
      need(2)
      settle(k)
      answer(counter(k, 3, 0, 0, now, tonumber(ARGV[i]), tonumber(ARGV[i + 1])))
      i = i + 2
    elseif op == 's' or op == 'e' then
      -- The same arguments: key, member (a set) or nonce (a log), window, cap.
      local add = set_add
      if op == 'e' then add = events_add end
      local k = key()
      need(3)
      local r = add(k, ARGV[i], now, tonumber(ARGV[i + 1]), tonumber(ARGV[i + 2]), nows, ARGV[i + 1])
      i = i + 3
      answer(r)
      adverse = r[1] == 0
    elseif op == 'p' then
      local k = key()
      need(1)
      local r = redis.call('HEXISTS', k, ARGV[i])
      i = i + 1
      answer({r})
      adverse = r == 1
    elseif op == 'b' then
      local k = key()
      need(1)
      local v = redis.call('HGET', k, ARGV[i])
      i = i + 1
      if v then
        answer({1, v})
        adverse = true
      else
        answer({0})
      end
    elseif op == 'm' then
      local keys = {}
      need(1)
      local count = tonumber(ARGV[i])
      i = i + 1
      for j = 1, count do keys[j] = key() end
      need(3)
      local candidate, w = ARGV[i], tonumber(ARGV[i + 1])
      local pinned = {}
      count = tonumber(ARGV[i + 2])
      need(3 + count)
      for j = 1, count do pinned[ARGV[i + 2 + j]] = true end
      i = i + 3 + count
      local r = campaign(keys, candidate, now, w, pinned)
      camp = struct.pack('>I4', #r[1]) .. r[1]
      answer(r)
      adverse = #r > 2
    else
      error('unknown batch operation ' .. tostring(op))
    end
    if adverse then break end
  end
end
-- Replaces caller `c`'s answers in the reply (from `at` to `len`) by its error.
local function fail(at, err)
  for x = at + 2, len do out[x] = nil end
  out[at] = 0
  out[at + 1] = error_text(err)
  len = at + 1
end
local starts = {}
local callers = 0
local j = 1
while j <= #ARGV do
  local count = tonumber(ARGV[j])
  if not count or count < 1 or j + count > #ARGV then
    return redis.error_reply('batch: bad count at ' .. j)
  end
  callers = callers + 1
  local at = len + 1
  starts[callers] = at
  out[at] = 1
  out[at + 1] = 0
  len = at + 1
  local ok, err = pcall(run, callers, j + 1, j + count)
  if ok then
    out[at + 1] = len - at - 1
  else
    fail(at, err)
    failed[callers] = err
  end
  j = j + count + 1
end
for k, _ in pairs(mirror) do settle(k) end
-- A caller whose charges the final write-back could not apply fails too (rare: the reply is
-- written again).
local late = false
for c, _ in pairs(failed) do
  if out[starts[c]] == 1 then late = true end
end
if late then
  local again = {}
  for c = 1, callers do
    local at, stop = starts[c], (starts[c + 1] or len + 1) - 1
    if failed[c] then
      again[#again + 1] = 0
      again[#again + 1] = error_text(failed[c])
    else
      for x = at, stop do again[#again + 1] = out[x] end
    end
  end
  return again
end
return out
";

/// The group commit's writes (`group`): several callers' writes, each caller's under `pcall`.
/// KEYS[1] any key of the tenant (routes the call to its shard). ARGV, per caller: the number of
/// its writes, then each write, a code and its arguments:
/// - `a` key n field ttl first now: counter add, the gateway having worked out the bucket
///   (`field`), the expiry a new bucket gives the key (`ttl`, only ever moved out) and the first
///   bucket still in the window (`first`: older ones are dropped when a bucket starts on a long
///   hash) — what `counter` computes in mode 1, without its Lua arithmetic on the hot path
/// - `l` log sequence at json cutoff ttl: log append (`log_append`; a log's later records in the
///   same call are only added)
/// - `x` key value ttl: `SET key value PX ttl NX` (a Message-ID entry; standalone servers only,
///   its key has its own hash tag)
///
/// Returns one status per caller: 1, or the error its writes raised (the writes before the
/// failing one stay applied, as with a single call).
const APPLY: &str = r"
local i = 1
-- The logs trimmed and given their expiry by an earlier record of this call (the call's records
-- are milliseconds apart: the next call trims what the first cutoff left).
local trimmed = {}
local function write()
  local op = ARGV[i]
  if op == 'a' then
    local key, n, cur = ARGV[i + 1], tonumber(ARGV[i + 2]), tonumber(ARGV[i + 3])
    local fresh = redis.call('HINCRBY', key, ARGV[i + 3], n) == n
    booked(key, n, cur, fresh)
    if fresh then
      if redis.call('PEXPIRE', key, ARGV[i + 4], 'GT') == 0 then
        redis.call('PEXPIRE', key, ARGV[i + 4], 'NX')
      end
      if redis.call('HLEN', key) >= 128 then
        scan(key, tonumber(ARGV[i + 5]), cur, tonumber(ARGV[i + 6]))
      end
    end
    i = i + 7
  elseif op == 'l' then
    local key = ARGV[i + 1]
    if trimmed[key] then
      redis.call('ZADD', key, ARGV[i + 3], ARGV[i + 2] .. ' ' .. ARGV[i + 4])
    else
      log_append(key, ARGV[i + 2], ARGV[i + 3], ARGV[i + 4], ARGV[i + 5], ARGV[i + 6])
      trimmed[key] = true
    end
    i = i + 7
  elseif op == 'x' then
    redis.call('SET', ARGV[i + 1], ARGV[i + 2], 'PX', ARGV[i + 3], 'NX')
    i = i + 4
  else
    error('unknown write ' .. tostring(op))
  end
end
local widths = {a = 7, l = 7, x = 4}
-- The layout is checked whole first: a misread count must fail every caller, never answer one
-- with another's status.
local j = 1
while j <= #ARGV do
  local count = tonumber(ARGV[j])
  if not count then return redis.error_reply('group commit: bad count at ' .. j) end
  j = j + 1
  for _ = 1, count do
    local width = widths[ARGV[j]]
    if not width then return redis.error_reply('group commit: unknown write at ' .. j) end
    j = j + width
  end
end
if j ~= #ARGV + 1 then return redis.error_reply('group commit: arguments overrun') end
local out = {}
while i <= #ARGV do
  local count = tonumber(ARGV[i])
  i = i + 1
  local stop = i
  for _ = 1, count do stop = stop + widths[ARGV[stop]] end
  local ok, err = pcall(function()
    for _ = 1, count do write() end
  end)
  if ok then
    out[#out + 1] = 1
  elseif type(err) == 'table' then
    -- A failed redis.call raises a table holding the error reply.
    out[#out + 1] = tostring(err.err or err.message or 'error')
  else
    out[#out + 1] = tostring(err)
  end
  -- The next caller's writes start where this caller's end, whatever failed.
  i = stop
end
return out
";

/// The loaded scripts (hashes are computed once; Redis caches the bodies).
pub(super) struct Scripts {
    pub counter: Script,
    pub counter_release: Script,
    pub set: Script,
    pub set_release: Script,
    pub events: Script,
    pub events_release: Script,
    pub campaign: Script,
    pub block_add: Script,
    pub block_lift: Script,
    pub tenant_write: Script,
    pub batch: Script,
    pub apply: Script,
    pub feed_note: Script,
    pub feed_read: Script,
}

impl Scripts {
    pub(super) fn new() -> Self {
        let with_log = |body: &str| Script::new(&format!("{LOG_APPEND_FN}{body}"));
        Scripts {
            counter: Script::new(&format!("{SCAN_FN}{COUNTER_FN}{COUNTER}")),
            counter_release: Script::new(COUNTER_RELEASE),
            set: Script::new(&format!("{SET_FN}{SET}")),
            set_release: Script::new(SET_RELEASE),
            events: Script::new(&format!("{EVENTS_FN}{EVENTS}")),
            events_release: Script::new(EVENTS_RELEASE),
            campaign: Script::new(&format!("{CAMPAIGN_FN}{CAMPAIGN}")),
            block_add: with_log(BLOCK_ADD),
            block_lift: with_log(BLOCK_LIFT),
            tenant_write: Script::new(TENANT_WRITE),
            batch: Script::new(&format!("{SCAN_FN}{COUNTER_FN}{SET_FN}{EVENTS_FN}{CAMPAIGN_FN}{BATCH}")),
            apply: Script::new(&format!("{LOG_APPEND_FN}{SCAN_FN}{APPLY}")),
            feed_note: Script::new(super::feed::NOTE),
            feed_read: Script::new(super::feed::READ),
        }
    }
}

"""The Redis store's Lua scripts: every multi-key step runs as one, atomic on the server.

Kept apart from `storage.redis` (the client side, which registers them) so each file reads as
one concept; the key layout they use is described there.
"""

from __future__ import annotations

from storage.base import UNCERTAIN

# KEYS: state, due, queued, reply_seq, then (msg, replies) per message.
# ARGV: expected_version, data, now, then (key, channel, text, blocks, "=meta" | "", reply).
SAVE_LUA = """
local cur = tonumber(redis.call('HGET', KEYS[1], 'version') or '0')
if cur ~= tonumber(ARGV[1]) then return 0 end
local now = ARGV[3]
redis.call('HSET', KEYS[1], 'version', cur + 1, 'data', ARGV[2], 'updated_at', now)
for i = 0, (#KEYS - 4) / 2 - 1 do
  local mk, rk, a = KEYS[5 + 2 * i], KEYS[6 + 2 * i], 4 + 6 * i
  if redis.call('EXISTS', mk) == 0 then
    redis.call('HSET', mk, 'channel', ARGV[a + 1], 'version', 1, 'sent_version', 0,
      'due_at', now, 'queued_at', now, 'attempts', 0, 'lease_until', 0, 'pending', 1)
  else
    redis.call('HINCRBY', mk, 'version', 1)
    if redis.call('HGET', mk, 'pending') ~= '1' then
      redis.call('HSET', mk, 'due_at', now, 'queued_at', now, 'pending', 1)
    end
  end
  redis.call('HSET', mk, 'text', ARGV[a + 2], 'blocks_json', ARGV[a + 3])
  if ARGV[a + 4] == '' then redis.call('HDEL', mk, 'metadata_json')
  else redis.call('HSET', mk, 'metadata_json', string.sub(ARGV[a + 4], 2)) end
  local f = redis.call('HMGET', mk, 'due_at', 'queued_at')
  redis.call('ZADD', KEYS[2], 'NX', f[1], ARGV[a])
  redis.call('ZADD', KEYS[3], 'NX', f[2], ARGV[a])
  if ARGV[a + 5] ~= '' then
    redis.call('HSET', rk, redis.call('INCR', KEYS[4]), ARGV[a + 5])
  end
end
return 1
"""

# KEYS: due. ARGV: now, lease, lease_until, prefix, scan limit, excluded channels...
CLAIM_LUA = """
local now = tonumber(ARGV[1])
local skip = {}
for i = 6, #ARGV do skip[ARGV[i]] = true end
local keys = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[5])
for _, key in ipairs(keys) do
  local mk = ARGV[4] .. 'msg:' .. key
  local f = redis.call('HMGET', mk, 'channel', 'pending', 'due_at', 'lease_until')
  if f[2] ~= '1' then
    redis.call('ZREM', KEYS[1], key)
  elseif not skip[f[1]] and tonumber(f[3]) <= now and tonumber(f[4]) < now then
    local abandoned = redis.call('HGET', mk, 'lease') or ''
    redis.call('HSET', mk, 'lease', ARGV[2], 'lease_until', ARGV[3], 'due_at', ARGV[1])
    redis.call('ZADD', KEYS[1], ARGV[3], key)
    local replies = redis.call('HGETALL', ARGV[4] .. 'replies:' .. key)
    return {key, redis.call('HGETALL', mk), replies, abandoned}
  end
end
return false
"""

# KEYS: msg, replies, due, queued. ARGV: key, channel_id, ts, version, sent reply ids...
COMPLETE_LUA = """
for i = 5, #ARGV do redis.call('HDEL', KEYS[2], ARGV[i]) end
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local f = redis.call('HMGET', KEYS[1], 'version', 'sent_version', 'due_at', 'queued_at')
local sent = math.max(tonumber(f[2]), tonumber(ARGV[4]))
redis.call('HSET', KEYS[1], 'channel_id', ARGV[2], 'ts', ARGV[3], 'sent_version', sent,
  'attempts', 0, 'lease_until', 0)
redis.call('HDEL', KEYS[1], 'last_error', 'lease')
if tonumber(f[1]) > sent or redis.call('HLEN', KEYS[2]) > 0 then
  redis.call('HSET', KEYS[1], 'pending', 1)
  redis.call('ZADD', KEYS[3], f[3], ARGV[1])
  redis.call('ZADD', KEYS[4], f[4], ARGV[1])
else
  redis.call('HSET', KEYS[1], 'pending', 0)
  redis.call('ZREM', KEYS[3], ARGV[1])
  redis.call('ZREM', KEYS[4], ARGV[1])
end
return 1
"""

# KEYS: msg, due. ARGV: key, lease, at, error, "1" if the outcome is uncertain.
RETRY_LUA = (
    """
if redis.call('HGET', KEYS[1], 'lease') ~= ARGV[2] then return 0 end
redis.call('HSET', KEYS[1], 'due_at', ARGV[3], 'last_error', ARGV[4], 'lease_until', 0)
redis.call('HINCRBY', KEYS[1], 'attempts', 1)
if ARGV[5] == '1' then
  redis.call('HSET', KEYS[1], 'lease', '"""
    + UNCERTAIN
    + """')
else
  redis.call('HDEL', KEYS[1], 'lease')
end
if redis.call('HGET', KEYS[1], 'pending') == '1' then
  redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
end
return 1
"""
)

# KEYS: msg, due. ARGV: key, lease, lease_until. The due score is max(due_at, lease_until).
RENEW_LUA = """
local f = redis.call('HMGET', KEYS[1], 'lease', 'due_at', 'pending')
if f[1] ~= ARGV[2] then return 0 end
redis.call('HSET', KEYS[1], 'lease_until', ARGV[3])
if f[3] == '1' then
  redis.call('ZADD', KEYS[2], math.max(tonumber(f[2]), tonumber(ARGV[3])), ARGV[1])
end
return 1
"""


# KEYS: pace:<channel>. ARGV: now, interval. The key outlives its slot by a minute, then goes.
RESERVE_LUA = """
local now = tonumber(ARGV[1])
local at = math.max(now, tonumber(redis.call('GET', KEYS[1]) or '0'))
local after = at + tonumber(ARGV[2])
redis.call('SET', KEYS[1], string.format('%.6f', after),
  'PX', math.ceil((after - now) * 1000) + 60000)
return string.format('%.6f', at)
"""

-- A socket connected. KEYS[1] = the user's socket set, ARGV[1] = the
-- socket's device, ARGV[2] = its stamp, ARGV[3] = TTL in milliseconds,
-- ARGV[4] = how long the set outlives its last write (ms).
-- Members are "<device>|<stamp>" scored by their expiry (ms of Redis's
-- clock). Expired members (sockets whose connector stopped refreshing
-- them) are dropped first. A newer socket of the device already there:
-- nothing to record. Older ones of the device are replaced.
-- Returns 1 if no socket of the user was live before (they came online).
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = tonumber(ARGV[3])
local stamp = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local members = redis.call('ZRANGE', KEYS[1], 0, -1)
local prefix = ARGV[1] .. '|'
for _, m in ipairs(members) do
  if string.sub(m, 1, #prefix) == prefix then
    local s = tonumber(string.sub(m, #prefix + 1)) or 0
    if s > stamp then
      return 0
    elseif s < stamp then
      redis.call('ZREM', KEYS[1], m)
    end
  end
end
redis.call('ZADD', KEYS[1], now + ttl, prefix .. ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
if #members == 0 then
  return 1
end
return 0

-- Heartbeat for one device this connector holds.
-- KEYS[1] = presence key, ARGV[1] = this connector's id, ARGV[2] = TTL seconds.
-- Still ours: extend the TTL. Gone (expired, or Redis restarted empty): claim
-- it again, the socket is still here. Another connector's: leave it alone and
-- return 0, so this connector closes its stale socket (4009).
local v = redis.call('GET', KEYS[1])
if v == ARGV[1] then
  redis.call('EXPIRE', KEYS[1], ARGV[2])
  return 1
end
if not v then
  redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
  return 1
end
return 0

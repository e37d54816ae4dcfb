-- Heartbeat for one socket this connector holds. KEYS[1] = presence key,
-- ARGV[1] = the socket's record ("<connector id>|<stamp>"), ARGV[2] = its
-- stamp, ARGV[3] = TTL seconds.
-- Still this socket's: extend the TTL. Gone (expired, or Redis restarted
-- empty) or an older socket's: take it, the socket is still here. A newer
-- socket's, or another socket's with the same stamp (it claimed last): leave
-- it and return 0, so this connector closes its stale socket (4009).
local v = redis.call('GET', KEYS[1])
if v == ARGV[1] then
  redis.call('EXPIRE', KEYS[1], ARGV[3])
  return 1
end
if v then
  local s = tonumber(string.match(v, '|(%d+)$') or '0')
  if s >= tonumber(ARGV[2]) then
    return 0
  end
end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[3])
return 1

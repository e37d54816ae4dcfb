-- A socket takes its device's record. KEYS[1] = presence key,
-- ARGV[1] = the socket's record ("<connector id>|<stamp>"), ARGV[2] = its
-- stamp, ARGV[3] = TTL seconds.
-- The record of a newer socket (a higher stamp) stays: the late claim of an
-- older socket never overwrites it, and 0 tells its connector to close the
-- older socket (4009). Otherwise the record becomes this socket's: 1.
-- A record without a stamp (a connector from before stamps) counts as 0.
local v = redis.call('GET', KEYS[1])
if v and v ~= ARGV[1] then
  local s = tonumber(string.match(v, '|(%d+)$') or '0')
  if s > tonumber(ARGV[2]) then
    return 0
  end
end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[3])
return 1

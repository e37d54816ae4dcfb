-- Heartbeat for a batch of sockets one connector holds. KEYS = their
-- devices' presence keys; ARGV[1] = TTL seconds, ARGV[2] = the connector's
-- id, ARGV[2+i] = the stamp of the socket of KEYS[i]. A socket's record is
-- "<connector id>|<stamp>" (FormatRecord).
-- One MGET reads every record; then, per socket: still its own, extend the
-- TTL (one EXPIRE: the common case); gone (expired, or Redis restarted
-- empty) or an older socket's, take it, the socket is still here; a newer
-- socket's, or another socket's with the same stamp (it claimed last),
-- leave it and report the socket lost, so its connector closes it (4009).
-- A record without a stamp counts as 0.
-- Returns the (1-based) indexes of the lost sockets.
local ttl = ARGV[1]
local vals = redis.call('MGET', unpack(KEYS))
local lost = {}
for i, key in ipairs(KEYS) do
  local stamp = ARGV[2 + i]
  local mine = ARGV[2] .. '|' .. stamp
  local v = vals[i]
  if v == mine then
    redis.call('EXPIRE', key, ttl)
  elseif v and tonumber(string.match(v, '|(%d+)$') or '0') >= tonumber(stamp) then
    lost[#lost + 1] = i
  else
    redis.call('SET', key, mine, 'EX', ttl)
  end
end
return lost

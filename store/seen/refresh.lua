-- Heartbeat of sockets. KEYS = pairs (socket set, last seen) of their
-- users (a user may repeat), ARGV[1] = TTL in milliseconds, ARGV[2] = how
-- long to keep a last seen (seconds), ARGV[2+i] = the member of the i-th
-- socket ("<device>|<stamp>"). Each member is live for TTL again (added
-- again if it vanished), and its user was seen now: if its connector dies
-- without a word, the user's last seen is its last heartbeat.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = tonumber(ARGV[1])
for i = 1, #KEYS, 2 do
  local n = (i + 1) / 2
  redis.call('ZADD', KEYS[i], now + ttl, ARGV[2 + n])
  redis.call('PEXPIRE', KEYS[i], ttl)
  redis.call('SET', KEYS[i + 1], tostring(now), 'EX', ARGV[2])
end
return #KEYS / 2

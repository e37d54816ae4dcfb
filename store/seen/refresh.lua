-- Heartbeat of sockets. KEYS = their users' socket sets (a user may
-- repeat), ARGV[1] = TTL in milliseconds, ARGV[2] = how long a set
-- outlives its last write (ms), ARGV[2+i] = the member of the socket of
-- KEYS[i] ("<device>|<stamp>"). One ZADD per socket, the common case:
-- its member is live for TTL again. A member that was not there (its set
-- vanished: a Redis restart) is added, and its set given its lifetime.
-- The member's score is the heartbeat: once it expires (its connector
-- died without a word), expiry - TTL is the user's last seen.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local until_ = now + tonumber(ARGV[1])
for i, key in ipairs(KEYS) do
  if redis.call('ZADD', key, until_, ARGV[2 + i]) == 1 then
    redis.call('PEXPIRE', key, ARGV[2])
  end
end
return #KEYS

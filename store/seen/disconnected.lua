-- A socket left. KEYS[1] = the user's socket set, KEYS[2] = their last
-- seen; ARGV[1] = the socket's member ("<device>|<stamp>"), ARGV[2] = when
-- it left (ms), ARGV[3] = how long to keep the last seen (seconds).
-- Removes the member and the expired ones; if none is left, the user is
-- offline: the last seen becomes ARGV[2] unless a later one is recorded.
-- Returns 1 if the user has no live socket left.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) > 0 then
  return 0
end
local prev = tonumber(redis.call('GET', KEYS[2]) or '0') or 0
local at = tonumber(ARGV[2])
if at > prev then
  redis.call('SET', KEYS[2], ARGV[2], 'EX', ARGV[3])
end
return 1

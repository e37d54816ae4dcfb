-- KEYS[1] counter, ARGV[1] window in ms, ARGV[2] limit.
-- Counts one attempt; returns 0 when allowed, else the ms until the window ends.
local n = redis.call('INCR', KEYS[1])
if n == 1 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
end
if n <= tonumber(ARGV[2]) then
  return 0
end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  -- a counter without expiry (should not happen) must not block forever
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return ttl

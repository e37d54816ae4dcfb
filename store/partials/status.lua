-- Keep the latest lifecycle status of an answer (partials.Redis.KeepStatus).
-- KEYS[1]: the answer's hash; KEYS[2]: the conversation's set of answers.
-- ARGV: the answer's member in the set, the status's index, its record,
-- max bytes, TTL in milliseconds.
-- Returns 1 if it is the answer's latest status now, 0 if refused.
if redis.call('HEXISTS', KEYS[1], 'end') == 1 then
  return 0 -- the answer is finished: a late status
end
local idx = tonumber(ARGV[2])
local cur = redis.call('HGET', KEYS[1], 'si')
if cur and tonumber(cur) >= idx then
  return 0 -- a later (or the same) status is kept
end
if string.len(ARGV[3]) > tonumber(ARGV[4]) then
  return 0
end
redis.call('HSET', KEYS[1], 'si', ARGV[2], 's', ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
redis.call('SADD', KEYS[2], ARGV[1])
redis.call('PEXPIRE', KEYS[2], ARGV[5])
return 1

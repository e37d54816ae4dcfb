-- Keep one partial of an answer (partials.Redis.Keep).
-- KEYS[1]: the answer's hash; KEYS[2]: the conversation's set of answers.
-- ARGV: the answer's member in the set, the partial's field, its record,
-- max partials, max bytes, TTL in milliseconds.
-- Returns 1 if the partial is kept (now or before), 0 if refused.
if redis.call('HEXISTS', KEYS[1], 'end') == 1 then
  return 0 -- the answer is finished: a late or redelivered partial
end
if redis.call('HEXISTS', KEYS[1], ARGV[2]) == 1 then
  return 1 -- a redelivery
end
local n = tonumber(redis.call('HGET', KEYS[1], 'n') or '0')
local size = tonumber(redis.call('HGET', KEYS[1], 'bytes') or '0') + string.len(ARGV[3])
if n + 1 > tonumber(ARGV[4]) or size > tonumber(ARGV[5]) then
  return 0
end
redis.call('HSET', KEYS[1], ARGV[2], ARGV[3], 'n', n + 1, 'bytes', size)
redis.call('PEXPIRE', KEYS[1], ARGV[6])
redis.call('SADD', KEYS[2], ARGV[1])
redis.call('PEXPIRE', KEYS[2], ARGV[6])
return 1

-- Finish an answer (partials.Redis.Finish): drop its partials, leave a
-- mark that refuses late ones for the TTL, and take it out of the
-- conversation's set.
-- KEYS[1]: the answer's hash; KEYS[2]: the conversation's set of answers.
-- ARGV: the answer's member in the set, TTL in milliseconds.
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'end', '1')
redis.call('PEXPIRE', KEYS[1], ARGV[2])
redis.call('SREM', KEYS[2], ARGV[1])
return 1

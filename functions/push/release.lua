-- Ends a device's burst (KEYS[1]) only if the event ARGV[1] started it
-- (the value is "<start ms>:<event id>", claim.lua): a newer burst,
-- started after this one ended, stays.
local cur = redis.call('GET', KEYS[1])
if cur and string.match(cur, '^%d+:(.*)$') == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0

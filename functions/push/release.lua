-- Ends a device's burst (KEYS[1]) only if the event ARGV[1] started it:
-- a newer burst, started after this one expired, stays.
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0

-- KEYS[1] counter. Takes back one attempt without creating the key or
-- dropping below zero.
local n = tonumber(redis.call('GET', KEYS[1]) or '0')
if n > 0 then
  redis.call('DECR', KEYS[1])
end
return 0

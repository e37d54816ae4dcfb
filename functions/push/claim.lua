-- Starts a device's burst (KEYS[1]) for the event ARGV[1] for ARGV[2] ms,
-- unless one is running. ARGV[3] is when the device's user last came
-- back for it (ms of the epoch; 0: never): a burst that started before
-- it is over, since the user has been online after its push. A burst the
-- same event started is never over that way (a redelivery pushes nothing
-- again). The value is "<start ms of Redis's clock>:<event id>". Returns
-- 1 if this call started the burst.
local cur = redis.call('GET', KEYS[1])
if cur then
  local start, ev = string.match(cur, '^(%d+):(.*)$')
  if not start or ev == ARGV[1] or tonumber(start) >= tonumber(ARGV[3]) then
    return 0
  end
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('SET', KEYS[1], string.format('%d', now) .. ':' .. ARGV[1], 'PX', ARGV[2])
return 1

-- Disconnect of one device. KEYS[1] = presence key, ARGV[1] = this connector's id.
-- Delete only if the key still names this connector: if the device already
-- reconnected elsewhere, its new record must survive the old socket's close.
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0

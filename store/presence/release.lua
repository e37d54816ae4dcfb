-- Disconnect of one socket. KEYS[1] = presence key, ARGV[1] = the socket's
-- record ("<connector id>|<stamp>").
-- Delete only if the record is still this socket's: a newer socket of the
-- device, here or elsewhere, keeps its record when the old one closes.
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0

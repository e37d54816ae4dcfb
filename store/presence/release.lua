-- Disconnect of a batch of sockets one connector held. KEYS = their
-- devices' presence keys, ARGV[i] = the record of the socket of KEYS[i]
-- ("<connector id>|<stamp>").
-- Delete a record only if it is still its socket's: a newer socket of the
-- device, here or elsewhere, keeps its record when the old one closes.
-- One MGET, then one DEL of every key still its socket's.
-- Returns how many records it deleted.
local vals = redis.call('MGET', unpack(KEYS))
local gone = {}
for i, key in ipairs(KEYS) do
  if vals[i] == ARGV[i] then
    gone[#gone + 1] = key
  end
end
if #gone == 0 then
  return 0
end
return redis.call('DEL', unpack(gone))

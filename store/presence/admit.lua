-- A stamp for a new socket of one device, taken just before its upgrade is
-- answered. KEYS[1] = the device's presence key.
-- Returns Redis's clock in microseconds, or the stamp in the device's record
-- plus one if the clock is not past it: a new socket is always newer than
-- the one recorded, even if the clock stepped back. One clock for every
-- connector; a record is "<connector id>|<stamp>" (FormatRecord).
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local v = redis.call('GET', KEYS[1])
if v then
  local s = string.match(v, '|(%d+)$')
  if s and tonumber(s) >= now then
    now = tonumber(s) + 1
  end
end
return now

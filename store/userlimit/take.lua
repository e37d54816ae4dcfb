-- Take one token from each of KEYS (per-user buckets, GCRA). For KEYS[i],
-- ARGV[2i-1] is its emission interval (microseconds one token takes to come
-- back) and ARGV[2i] its capacity (Burst intervals). A bucket's value is its
-- TAT: microseconds of Redis's clock at which it is full again (missing or
-- past: full now). Returns, for each key in order, 0 when its token was
-- taken, or the microseconds until the bucket has one (nothing taken).
-- One key may appear more than once: each asks for a token.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local out = {}
for i, key in ipairs(KEYS) do
  local interval = tonumber(ARGV[2 * i - 1])
  local capacity = tonumber(ARGV[2 * i])
  local tat = tonumber(redis.call('GET', key) or '0') or 0
  if tat < now then
    tat = now
  end
  local after = tat + interval
  local over = after - now - capacity
  if over > 0 then
    out[i] = over
  else
    -- Microseconds since the epoch are exact in a double (below 2^53);
    -- '%.0f' writes them without an exponent on every Lua.
    redis.call('SET', key, string.format('%.0f', after), 'PX', math.floor((after - now) / 1000) + 1)
    out[i] = 0
  end
end
return out

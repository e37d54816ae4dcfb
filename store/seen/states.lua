-- States of users. KEYS = pairs (socket set, last seen) per user; ARGV[1]
-- = TTL in milliseconds. Returns, per user, {last seen ms or "", live
-- member, ...}. A user with no live member was last seen when the last
-- one left (their last-seen key), or at the last heartbeat of a socket
-- whose connector stopped refreshing it (its expiry - TTL), whichever is
-- later.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = tonumber(ARGV[1])
local out = {}
for i = 1, #KEYS, 2 do
  local live = redis.call('ZRANGEBYSCORE', KEYS[i], '(' .. now, '+inf')
  local last = tonumber(redis.call('GET', KEYS[i + 1]) or '0') or 0
  if #live == 0 then
    local dead = redis.call('ZREVRANGEBYSCORE', KEYS[i], now, '-inf', 'WITHSCORES', 'LIMIT', 0, 1)
    if #dead == 2 then
      last = math.max(last, tonumber(dead[2]) - ttl)
    end
  end
  local row = { last > 0 and string.format('%d', last) or '' }
  for _, m in ipairs(live) do
    row[#row + 1] = m
  end
  out[#out + 1] = row
end
return out

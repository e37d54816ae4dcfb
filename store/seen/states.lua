-- States of users. KEYS = pairs (socket set, last seen) per user.
-- Returns, per user, {last seen ms or "", live member, ...}.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local out = {}
for i = 1, #KEYS, 2 do
  local row = { redis.call('GET', KEYS[i + 1]) or '' }
  for _, m in ipairs(redis.call('ZRANGEBYSCORE', KEYS[i], '(' .. now, '+inf')) do
    row[#row + 1] = m
  end
  out[#out + 1] = row
end
return out

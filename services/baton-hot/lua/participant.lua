-- Baton's participant writes on Redis: one script, one round trip, one hash slot per call.
-- ARGV[1] names the operation. Every key a call touches shares the participant's shard hash
-- tag; an attempt's key is its participant's key + ':a:' + attempt id.
-- Mirrors baton_core::scoring (judge, totals, finished_at, is_better); the conformance suite
-- holds this script and the embedded store to the same behaviour.
-- Records: answer 'choice_mask,correct,points,timed_out,elapsed_ms,attempt_score';
--          finish 'score,correct_count,total_ms,reached_ms'; best 'score,total_ms,reached_ms'.
-- Every change appends its event (baton_core::events, JSON, field 'e') to the shard's stream in
-- the same call; a call that changes nothing appends nothing. Ids in events are validated
-- slugs, so they need no JSON escaping.

local op = ARGV[1]
local function fmt(x) return string.format('%d', x) end

-- The aggregate counters a participant counts towards ('p:<place>' for its place and every
-- place above it, 'u:<unit>') are kept one a field, g1, g2, …: a comma-separated list in one field
-- would often be longer than hash-max-listpack-value (64 bytes), and one long value turns the
-- whole hash from a compact listpack into a hash table, twice the memory. A hash written before
-- holds the list in the field 'aggs', which is still read.
local function agg_fields(list)
  local out, i = {}, 0
  for f in string.gmatch(list, '[^,]+') do
    i = i + 1
    out[#out + 1] = 'g' .. i
    out[#out + 1] = f
  end
  return out
end
local function aggs_of(key)
  local out = {}
  while true do
    local f = redis.call('HGET', key, 'g' .. (#out + 1))
    if not f then break end
    out[#out + 1] = f
  end
  if #out == 0 then
    for f in string.gmatch(redis.call('HGET', key, 'aggs') or '', '[^,]+') do out[#out + 1] = f end
  end
  return out
end

if op == 'join' then
  -- KEYS: participant, aggregates, stream. ARGV: op, region, unit, nickname, now, aggregate
  -- fields, event, relay code, inviter ('' for none), depth.
  if redis.call('EXISTS', KEYS[1]) == 1 then
    return {'existing', redis.call('HGETALL', KEYS[1])}
  end
  redis.call('HSET', KEYS[1], 'region', ARGV[2], 'unit', ARGV[3], 'nick', ARGV[4],
    'joined', ARGV[5], 'day', '0', 'dayn', '0', 'code', ARGV[8], 'depth', ARGV[10],
    unpack(agg_fields(ARGV[6])))
  redis.call('HINCRBY', KEYS[2], 'all:n', 1)
  local relayed = ARGV[9] ~= ''
  if relayed then
    redis.call('HSET', KEYS[1], 'inviter', ARGV[9])
    redis.call('HINCRBY', KEYS[2], 'all:r', 1)
  end
  for f in string.gmatch(ARGV[6], '[^,]+') do
    redis.call('HINCRBY', KEYS[2], f .. ':n', 1)
    if relayed then redis.call('HINCRBY', KEYS[2], f .. ':r', 1) end
  end
  redis.call('XADD', KEYS[3], '*', 'e', ARGV[7])
  return {'created', redis.call('HGETALL', KEYS[1])}

elseif op == 'start' then
  -- KEYS: participant, new attempt, stream. ARGV: op, attempt id, now, day, per day, ttl ms,
  -- event, then the new attempt's hash as field, value pairs.
  if redis.call('EXISTS', KEYS[1]) == 0 then return {'no_participant'} end
  local now = tonumber(ARGV[3])
  local open = redis.call('HGET', KEYS[1], 'open')
  if open then
    local akey = KEYS[1] .. ':a:' .. open
    local expires = redis.call('HGET', akey, 'expires')
    if expires then
      if now < tonumber(expires) then
        return {'resumed', open, redis.call('HGETALL', akey)}
      end
      return {'expired', open}
    end
  end
  local n = 0
  if redis.call('HGET', KEYS[1], 'day') == ARGV[4] then
    n = tonumber(redis.call('HGET', KEYS[1], 'dayn'))
  end
  if n >= tonumber(ARGV[5]) then return {'exhausted'} end
  redis.call('HSET', KEYS[1], 'day', ARGV[4], 'dayn', fmt(n + 1), 'open', ARGV[2])
  local fields = {}
  for i = 8, #ARGV do fields[#fields + 1] = ARGV[i] end
  redis.call('HSET', KEYS[2], unpack(fields))
  redis.call('PEXPIRE', KEYS[2], ARGV[6])
  redis.call('XADD', KEYS[3], '*', 'e', ARGV[7])
  return {'started'}

elseif op == 'answer' then
  -- KEYS: attempt, stream. ARGV: op, question id, choice mask, now, grace ms, campaign,
  -- participant, attempt id.
  if redis.call('EXISTS', KEYS[1]) == 0 then return {'not_found'} end
  local idx = redis.call('HGET', KEYS[1], 'i:' .. ARGV[2])
  if not idx then return {'not_in_attempt'} end
  local prev = redis.call('HMGET', KEYS[1], 'r' .. idx, 'm' .. idx)
  if prev[1] then
    if string.match(prev[1], '^(%d+),') == ARGV[3] then return {'repeat', idx, prev[1], prev[2]} end
    return {'conflict', idx, prev[1], prev[2]}
  end
  if redis.call('HEXISTS', KEYS[1], 'fin') == 1 then return {'finished'} end
  local a = redis.call('HMGET', KEYS[1], 'cursor', 'limit', 'score', 'm' .. idx, 'pt' .. idx, 'expires')
  local cursor, limit, score = tonumber(a[1]), tonumber(a[2]), tonumber(a[3])
  local now = tonumber(ARGV[4])
  -- Past its expiry every question's time is up: the attempt takes no more answers.
  if a[6] and now > tonumber(a[6]) then return {'finished'} end
  local elapsed = now - cursor
  if elapsed < 0 then elapsed = 0 end
  local timed_out = elapsed > limit + tonumber(ARGV[5])
  local correct = (not timed_out) and a[4] == ARGV[3]
  local points = 0
  if correct then points = tonumber(a[5]) end
  local next_cursor = now
  if timed_out then next_cursor = cursor + limit end
  if elapsed > limit then elapsed = limit end
  score = score + points
  local rec = table.concat({ARGV[3], correct and '1' or '0', fmt(points),
    timed_out and '1' or '0', fmt(elapsed), fmt(score)}, ',')
  redis.call('HSET', KEYS[1], 'r' .. idx, rec, 'cursor', fmt(next_cursor), 'score', fmt(score))
  local p, at = ARGV[7], ARGV[8]
  redis.call('XADD', KEYS[2], '*', 'e', string.format(
    '{"v":1,"id":"a:%s:%s:%s","campaign":"%s","at":%s,"kind":"answered","participant":"%s",' ..
    '"attempt":"%s","question":"%s","index":%s,"judged":{"choice_mask":%s,"correct":%s,' ..
    '"points":%s,"timed_out":%s,"elapsed_ms":%s,"attempt_score":%s},"cursor":%s}',
    p, at, ARGV[2], ARGV[6], ARGV[4], p, at, ARGV[2], idx, ARGV[3], correct and 'true' or 'false',
    fmt(points), timed_out and 'true' or 'false', fmt(elapsed), fmt(score), fmt(next_cursor)))
  return {'judged', idx, rec, a[4]}

elseif op == 'finish' then
  -- KEYS: attempt, participant, aggregates, stream. ARGV: op, attempt id, now, ttl ms after
  -- closing, campaign, participant.
  if redis.call('EXISTS', KEYS[1]) == 0 then return {'not_found'} end
  local fin = redis.call('HGET', KEYS[1], 'fin')
  if fin then return {'repeat', fin, redis.call('HGET', KEYS[2], 'best')} end
  local a = redis.call('HMGET', KEYS[1], 'n', 'limit', 'expires')
  local n, limit, expires = tonumber(a[1]), tonumber(a[2]), tonumber(a[3])
  local score, correct, total, answered = 0, 0, 0, 0
  for i = 0, n - 1 do
    local r = redis.call('HGET', KEYS[1], 'r' .. i)
    if r then
      local _, c, p, _, e = string.match(r, '^(%d+),(%d),(%d+),(%d),(%d+),')
      answered = answered + 1
      score = score + tonumber(p)
      correct = correct + tonumber(c)
      total = total + tonumber(e)
    end
  end
  total = total + (n - answered) * limit
  local reached = tonumber(ARGV[3])
  if expires < reached then reached = expires end
  fin = table.concat({fmt(score), fmt(correct), fmt(total), fmt(reached)}, ',')
  redis.call('HSET', KEYS[1], 'fin', fin)
  if redis.call('HGET', KEYS[2], 'open') == ARGV[2] then redis.call('HDEL', KEYS[2], 'open') end
  local best = redis.call('HGET', KEYS[2], 'best')
  local better, old = true, 0
  if best then
    local bs, bt = string.match(best, '^(%d+),(%d+),')
    old = tonumber(bs)
    better = score > old or (score == old and total < tonumber(bt))
  end
  if better then
    local first = not best
    best = table.concat({fmt(score), fmt(total), fmt(reached)}, ',')
    redis.call('HSET', KEYS[2], 'best', best)
    for _, f in ipairs(aggs_of(KEYS[2])) do
      redis.call('HINCRBY', KEYS[3], f .. ':bs', score - old)
      if first then redis.call('HINCRBY', KEYS[3], f .. ':bc', 1) end
    end
  end
  redis.call('PEXPIRE', KEYS[1], ARGV[4])
  local bs, bt, br = string.match(best, '^(%d+),(%d+),(%d+)$')
  redis.call('XADD', KEYS[4], '*', 'e', string.format(
    '{"v":1,"id":"f:%s:%s","campaign":"%s","at":%s,"kind":"attempt_finished","participant":"%s",' ..
    '"attempt":"%s","totals":{"score":%s,"correct_count":%s,"total_ms":%s},"reached_at":%s,' ..
    '"best":{"score":%s,"total_ms":%s,"reached_ms":%s}}',
    ARGV[6], ARGV[2], ARGV[5], ARGV[3], ARGV[6], ARGV[2], fmt(score), fmt(correct), fmt(total),
    fmt(reached), bs, bt, br))
  return {'finished', fin, best}

elseif op == 'restore_participant' then
  -- A rebuild puts a participant back (no event). KEYS: participant, aggregates.
  -- ARGV: op, region, unit, nickname, joined, aggregate fields, day, day count, open attempt
  -- ('' for none), best record ('' for none), relay code, inviter ('' for none), depth.
  redis.call('HSET', KEYS[1], 'region', ARGV[2], 'unit', ARGV[3], 'nick', ARGV[4],
    'joined', ARGV[5], 'day', ARGV[7], 'dayn', ARGV[8], 'code', ARGV[11], 'depth', ARGV[13],
    unpack(agg_fields(ARGV[6])))
  local relayed = ARGV[12] ~= ''
  if relayed then
    redis.call('HSET', KEYS[1], 'inviter', ARGV[12])
    redis.call('HINCRBY', KEYS[2], 'all:r', 1)
  end
  if ARGV[9] ~= '' then redis.call('HSET', KEYS[1], 'open', ARGV[9]) end
  local score = nil
  if ARGV[10] ~= '' then
    redis.call('HSET', KEYS[1], 'best', ARGV[10])
    score = tonumber(string.match(ARGV[10], '^(%d+),'))
  end
  redis.call('HINCRBY', KEYS[2], 'all:n', 1)
  for f in string.gmatch(ARGV[6], '[^,]+') do
    redis.call('HINCRBY', KEYS[2], f .. ':n', 1)
    if relayed then redis.call('HINCRBY', KEYS[2], f .. ':r', 1) end
    if score then
      redis.call('HINCRBY', KEYS[2], f .. ':bs', score)
      redis.call('HINCRBY', KEYS[2], f .. ':bc', 1)
    end
  end
  return {'restored'}

elseif op == 'share' or op == 'click' then
  -- A participant shared its link, or someone opened it. KEYS: participant, aggregates,
  -- stream. ARGV: op, now, campaign, participant, channel (share only).
  if redis.call('EXISTS', KEYS[1]) == 0 then return {'unknown'} end
  local p = ARGV[4]
  if op == 'share' then
    local n = redis.call('HINCRBY', KEYS[1], 'shares', 1)
    redis.call('HINCRBY', KEYS[2], 'all:sh', 1)
    redis.call('XADD', KEYS[3], '*', 'e', string.format(
      '{"v":1,"id":"sh:%s:%d","campaign":"%s","at":%s,"kind":"shared","participant":"%s",' ..
      '"channel":"%s","n":%d}', p, n, ARGV[3], ARGV[2], p, ARGV[5], n))
    return {'done', n}
  end
  local n = redis.call('HINCRBY', KEYS[1], 'clicks', 1)
  redis.call('HINCRBY', KEYS[2], 'all:ck', 1)
  redis.call('XADD', KEYS[3], '*', 'e', string.format(
    '{"v":1,"id":"c:%s:%d","campaign":"%s","at":%s,"kind":"clicked","participant":"%s","n":%d}',
    p, n, ARGV[3], ARGV[2], p, n))
  return {'done', n}

elseif op == 'hide' or op == 'unhide' then
  -- An organizer hides a participant from the boards, or shows it again (no event: the
  -- console records the decision in SQL first). KEYS: participant. ARGV: op.
  if redis.call('EXISTS', KEYS[1]) == 0 then return {'unknown'} end
  if op == 'hide' then
    redis.call('HSET', KEYS[1], 'hidden', '1')
    return {'hidden'}
  end
  redis.call('HDEL', KEYS[1], 'hidden')
  return {'shown', redis.call('HGET', KEYS[1], 'best') or ''}

elseif op == 'restore_attempt' then
  -- A rebuild puts an attempt back (no event). KEYS: attempt. ARGV: op, ttl ms, then the
  -- attempt's hash as field, value pairs.
  redis.call('DEL', KEYS[1])
  local fields = {}
  for i = 3, #ARGV do fields[#fields + 1] = ARGV[i] end
  redis.call('HSET', KEYS[1], unpack(fields))
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return {'restored'}
end
return redis.error_reply('unknown operation ' .. tostring(op))

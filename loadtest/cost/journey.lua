-- A citizen's journey through Baton's HTTP API, for wrk (docs/SCALING.md, loadtest/cost/run.sh).
--
--   wrk -t 32 -c 32 -d 20s -s loadtest/cost/journey.lua http://127.0.0.1:8080 -- STEPS TAG
--
-- Each connection plays journeys one after another, each as a new citizen (a unique device):
--   1 page    GET  /api/v1/campaigns/demo                     (the campaign page: rules, places, units, stats)
--   2 join    POST /api/v1/campaigns/demo/participants         (unique device_id, a township and unit, a nickname)
--   3 start   POST /api/v1/attempts
--   4 answer  POST /api/v1/attempts/{aid}/answers             x the attempt's questions but the last (ids
--                                                               from the start response; choice [0])
--   5 finish  POST /api/v1/attempts/{aid}/finish
--   6 board   GET  /api/v1/campaigns/demo/leaderboards/score?limit=20, then
--             GET  /api/v1/campaigns/demo/leaderboards/score-region-{county}?around=me (with the token)
--   7 share   POST /api/v1/shares                              {"channel": "wechat_friend"}
--   8 click   GET  /r/{relay code}                             (a friend opens the shared link: 302)
-- Half the joins carry an invite_code: the relay code of a citizen who joined earlier on the same
-- thread, chosen uniformly, so relay chains grow as a random tree (depth ~ ln n), not as one
-- endless chain: the relay worker's roll-up walks every ancestor of a relayed join.
-- STEPS (default 8) stops each journey after that many steps, so that runs stopping at 1, 2, ... 8
-- give each step's cost by difference. TAG makes device ids unique across runs.
--
-- wrk's callbacks do not say which connection a response belongs to, so a journey's state is
-- per thread: run it with as many threads as connections (-t N -c N), one connection each.
--
-- So that the anti-cheat signals see citizens rather than one robot (they are computed by the
-- archiver in SQL, and a signal shared by everybody is a pathological case, not the normal cost):
-- each journey has its own User-Agent (its client fingerprint, network + User-Agent, is its
-- own: no `shared_device` group), and each attempt leaves its last question unanswered (wrk
-- answers within milliseconds, so every attempt would have the same timing print and form one
-- `same_timing` group; an attempt with a question unanswered takes no part in that signal).
-- Answers are still faster than anyone reads: every attempt is flagged `fast_answers` (one row).

local steps = {"page", "join", "start", "answer", "finish", "board", "share", "click"}

-- Townships of the demo campaign (services/baton/demo/campaign.json) and a unit in each.
local homes = {
  {"hetang-yuetang", "u-hetang-yuanjiawan-community", "hetang"},
  {"hetang-yuetang", "u-hetang-nanyueling-community", "hetang"},
  {"lusong-jianshe", "u-lusong-gongyuan-community", "lusong"},
  {"lusong-dongjiaduan", "u-lusong-aecc-south", "lusong"},
  {"shifeng-tianxin", "u-shifeng-crrc-zelc", "shifeng"},
  {"tianyuan-songshanlu", "u-tianyuan-xiangyin-community", "tianyuan"},
  {"lukou-lukou", "u-lukou-fuboling-community", "lukou"},
  {"liling-pukou", "u-liling-pukou-gov", "liling"},
  {"youxian-chunlian", "u-youxian-chunlian-community", "youxian"},
  {"chaling-yunyang", "u-chaling-mishui-community", "chaling"},
  {"yanling-xiayang", "u-yanling-no1-middle-school", "yanling"},
  {"yanling-xiayang", nil, "yanling"},
}
local names = {"王小明", "李静", "张伟", "刘芳芳", "陈子轩", "杨欣怡", "黄浩然", "赵雨桐", "吴一诺", "周晨阳"}

local threads = {}
local next_id = 0

function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

-- Per thread (one connection): the journey in progress and what has been counted.
local stop_after, tag
local n = 0                 -- journeys begun by this thread
local step = 0              -- index into steps
local token, aid, county, code
local codes = {}            -- relay codes of the citizens who joined on this thread
local qids, qi = {}, 0
local board_reads = 0
counts = {}                 -- requests answered, by step (read by done())
errors = {}                 -- of them not 2xx, or not as expected
journeys = 0                -- journeys completed

function init(args)
  stop_after = tonumber(args[1] or "8") or 8
  tag = args[2] or tostring(os.time())
  math.randomseed(os.time() * 1000 + id)
  for _, s in ipairs(steps) do counts[s] = 0; errors[s] = 0 end
end

local function agent()
  return string.format("Mozilla/5.0 (Linux; Android 13; wrk %s-%d-%d) MicroMessenger/8.0.47", tag, id, n)
end

local function plain()
  return {["User-Agent"] = agent()}
end

local function json()
  return {["Content-Type"] = "application/json", ["User-Agent"] = agent()}
end

local function auth()
  return {["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. token, ["User-Agent"] = agent()}
end

local function begin()
  n = n + 1
  step = 1
  token, aid, code, qids, qi, board_reads = nil, nil, nil, {}, 0, 0
end

local function advance()
  step = step + 1
  if step > stop_after then
    journeys = journeys + 1
    begin()
  end
end

begin()

function request()
  local s = steps[step]
  if s == "page" then
    return wrk.format("GET", "/api/v1/campaigns/demo", plain())
  elseif s == "join" then
    local h = homes[(n + id) % #homes + 1]
    county = h[3]
    local unit = h[2] and string.format(',"unit_id":"%s"', h[2]) or ""
    local inv = ""
    if #codes > 0 and n % 2 == 0 then
      inv = string.format(',"invite_code":"%s"', codes[math.random(#codes)])
    end
    local body = string.format('{"device_id":"wrk-%s-%d-%d","region_id":"%s"%s,"nickname":"%s"%s}',
      tag, id, n, h[1], unit, names[n % #names + 1], inv)
    return wrk.format("POST", "/api/v1/campaigns/demo/participants", json(), body)
  elseif s == "start" then
    return wrk.format("POST", "/api/v1/attempts", auth(), "{}")
  elseif s == "answer" then
    local body = string.format('{"question_id":"%s","choice":[0]}', qids[qi])
    return wrk.format("POST", "/api/v1/attempts/" .. aid .. "/answers", auth(), body)
  elseif s == "finish" then
    return wrk.format("POST", "/api/v1/attempts/" .. aid .. "/finish", auth(), "{}")
  elseif s == "board" then
    if board_reads == 0 then
      return wrk.format("GET", "/api/v1/campaigns/demo/leaderboards/score?limit=20", plain())
    end
    return wrk.format("GET", "/api/v1/campaigns/demo/leaderboards/score-region-" .. county .. "?around=me&limit=20",
      auth())
  elseif s == "share" then
    return wrk.format("POST", "/api/v1/shares", auth(), '{"channel":"wechat_friend"}')
  else
    return wrk.format("GET", "/r/" .. code, plain())
  end
end

function response(status, headers, body)
  local s = steps[step]
  counts[s] = counts[s] + 1
  local ok = status >= 200 and status <= 299
  if s == "click" then ok = status == 302 end
  if not ok then
    errors[s] = errors[s] + 1
    begin()                                   -- a journey that failed starts over as a new citizen
    return
  end
  if s == "join" then
    token = string.match(body, '"token":"([^"]+)"')
    code = string.match(body, '"relay_code":"([^"]+)"')
    if not token or not code then errors[s] = errors[s] + 1; begin(); return end
    codes[#codes + 1] = code
  elseif s == "start" then
    aid = string.match(body, '"attempt_id":"([^"]+)"')
    qids = {}
    for q in string.gmatch(body, '"id":"([^"]+)","kind"') do qids[#qids + 1] = q end
    qids[#qids] = nil                         -- the last question stays unanswered (see above)
    if not aid or #qids == 0 then errors[s] = errors[s] + 1; begin(); return end
    qi = 1
  elseif s == "answer" then
    qi = qi + 1
    if qi <= #qids then return end            -- the next question
  elseif s == "board" then
    board_reads = board_reads + 1
    if board_reads < 2 then return end
  end
  advance()
end

function done(summary, latency, requests)
  local total, errs, done_journeys = {}, {}, 0
  for _, s in ipairs(steps) do total[s] = 0; errs[s] = 0 end
  for _, t in ipairs(threads) do
    local c, e = t:get("counts"), t:get("errors")
    for _, s in ipairs(steps) do
      total[s] = total[s] + (c[s] or 0)
      errs[s] = errs[s] + (e[s] or 0)
    end
    done_journeys = done_journeys + t:get("journeys")
  end
  local line = {}
  for _, s in ipairs(steps) do line[#line + 1] = string.format("%s=%d", s, total[s]) end
  for _, s in ipairs(steps) do line[#line + 1] = string.format("err_%s=%d", s, errs[s]) end
  io.write(string.format(
    "COST requests=%d duration_us=%d journeys=%d socket_errors=%d non2xx=%d p50_us=%d p90_us=%d p99_us=%d max_us=%d %s\n",
    summary.requests, summary.duration, done_journeys,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.errors.status, latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    table.concat(line, " ")))
end

-- Answers at full speed with wrk, for loadtest/bench.sh: the same load generator that measures
-- the plain actix-web ceiling, so the two rates compare like for like.
--
--   baton-sim bench --participants N --answers-file answers.txt   # joins, starts, writes the answers to make
--   wrk -t 2 -c 64 -d 5s -s loadtest/answers.lua http://127.0.0.1:8080 -- answers.txt 2
--
-- Each line of the file is `token attempt question`, ordered question by question across the
-- attempts; the second argument is wrk's thread count (-t). Each thread takes every nth line
-- and posts them in order (choice [0]). wrk runs for its duration whatever happens, so the file
-- must hold more answers than the run makes: a thread past its last line resends it (Baton
-- answers an identical resend with the first result, which is cheaper than an answer), and
-- done() reports how many were resent, which must be 0 for the rate to count. Every request
-- must be answered 200.

local threads = {}
local count = 0

function setup(thread)
  thread:set("id", count)
  count = count + 1
  table.insert(threads, thread)
end

local lines = {}
local next_line = 0
answered = 0
failed = 0
resent = 0

function init(args)
  local nthreads = tonumber(args[2] or "1")
  local n = 0
  for line in io.lines(args[1]) do
    if n % nthreads == id then
      local token, aid, qid = line:match("^(%S+) (%S+) (%S+)$")
      lines[#lines + 1] = {token, aid, qid}
    end
    n = n + 1
  end
end

function request()
  next_line = next_line + 1
  if next_line > #lines then resent = resent + 1 end
  local l = lines[math.min(next_line, #lines)]
  return wrk.format("POST", "/api/v1/attempts/" .. l[2] .. "/answers",
    {["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. l[1],
     ["User-Agent"] = "Mozilla/5.0 (Linux; Android 13; wrk answers) MicroMessenger/8.0.47"},
    '{"question_id":"' .. l[3] .. '","choice":[0]}')
end

function response(status, headers, body)
  if status == 200 then answered = answered + 1 else failed = failed + 1 end
end

function done(summary, latency, requests)
  local ok, bad, again = 0, 0, 0
  for _, t in ipairs(threads) do
    ok = ok + t:get("answered")
    bad = bad + t:get("failed")
    again = again + t:get("resent")
  end
  io.write(string.format("ANSWERS requests=%d answered=%d failed=%d resent=%d socket_errors=%d duration_us=%d per_second=%.0f p50_ms=%.2f p99_ms=%.2f\n",
    summary.requests, ok, bad, again,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.duration, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end

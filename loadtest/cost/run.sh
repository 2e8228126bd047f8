#!/usr/bin/env bash
# Per-request cost of Baton on one node (docs/SCALING.md).
#
# Starts a throwaway redis-server and a fresh PostgreSQL database, runs Baton with the Redis hot
# store (the quiz, relay and console roles in one process, the archiver in another, so each one's
# CPU is seen apart), drives citizen journeys with wrk (loadtest/cost/journey.lua), and reads the
# CPU time (utime + stime from /proc/PID/stat) of Baton, the archiver, redis-server and the
# PostgreSQL backends of its database before and after each run. Runs stop each journey after
# 1, 2, ... 8 steps (page, join, start, answers, finish, boards, share, click); solving "CPU of run =
# sum over request kinds of cost x count" gives each kind's CPU cost. Then, with ALLINONE=1
# (default), one more run of whole journeys against a single `baton serve` (every role).
#
#   loadtest/cost/run.sh            (BATON_BIN defaults to target/release/baton)
#
# Settings (environment): BATON_BIN, CONNS (wrk connections = threads, 192), DURATION (per run,
# 30s), WARMUP (10s), PG_URL (postgres://postgres@127.0.0.1:5432), ALLINONE (1), KEEP (0: keep
# the temp dir). Everything it starts it stops; the database it creates it drops.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
BATON_BIN="${BATON_BIN:-$here/../../target/release/baton}"
CONNS="${CONNS:-192}"
DURATION="${DURATION:-30s}"
WARMUP="${WARMUP:-10s}"
ALLINONE="${ALLINONE:-1}"
CLK_TCK="$(getconf CLK_TCK)"

# shellcheck source=loadtest/lib.sh
. "$here/../lib.sh"
need wrk redis-server redis-cli psql createdb dropdb curl python3
[ -x "$BATON_BIN" ] || { echo "no baton binary at $BATON_BIN: BATON_WEB_BUILD=always cargo build --release -p baton" >&2; exit 1; }

throwaway cost
start_redis "$tmp"
create_db
keep_statistics
use_stores

wal_lsn() { # WAL written by the whole PostgreSQL server (ours and anyone else's meanwhile)
  psql -h "$pg_host" -p "$pg_port" -U postgres -Atc "select pg_current_wal_lsn()"
}

stream_keys=""   # the shards' event streams, found once (a SCAN inside a measured run would count)
stream_backlog() { # entries not yet archived: the archiver group's lag + pending, over the shards
  for key in $stream_keys; do
    redis-cli -p "$rport" XINFO GROUPS "$key" | awk 'prev=="pending"||prev=="lag"{s+=$1} {prev=$1} END{print s+0}'
  done | awk '{s+=$1} END{print s+0}'
}

wait_archived() {
  local t0=$SECONDS
  while [ "$(stream_backlog)" != 0 ] && [ $((SECONDS - t0)) -lt 300 ]; do sleep 0.5; done
  echo $((SECONDS - t0))
}

measure() { # label steps url api_pid archiver_pid(or 0)
  local label=$1 steps=$2 url=$3 api=$4 arch=$5
  redis-cli -p "$rport" CONFIG RESETSTAT >/dev/null
  local a0 r0 g0 c0 p0
  a0=$(ticks "$api"); r0=$(ticks "$redis_pid"); p0=$(pg_ticks); c0=0
  local w0; w0=$(wal_lsn)
  [ "$arch" != 0 ] && c0=$(ticks "$arch")
  wrk -t "$CONNS" -c "$CONNS" -d "$DURATION" --latency -s "$here/journey.lua" "$url" -- "$steps" "$label-$$" >"$tmp/wrk-$label.txt"
  # What the stream holds right after the run (the archiver trims every few seconds): bytes per entry.
  local key xlen=0 sbytes=0
  for key in $stream_keys; do
    xlen=$((xlen + $(redis-cli -p "$rport" XLEN "$key")))
    sbytes=$((sbytes + $(redis-cli -p "$rport" MEMORY USAGE "$key" SAMPLES 0)))
  done
  local drained; drained=$(wait_archived)
  local a1 r1 p1 c1=0
  a1=$(ticks "$api"); r1=$(ticks "$redis_pid"); p1=$(pg_ticks)
  local wal; wal=$(psql -h "$pg_host" -p "$pg_port" -U postgres -Atc "select pg_wal_lsn_diff(pg_current_wal_lsn(), '$w0')::bigint")
  [ "$arch" != 0 ] && c1=$(ticks "$arch")
  redis-cli -p "$rport" INFO commandstats >"$tmp/commandstats-$label.txt"
  echo "RUN label=$label steps=$steps api_ticks=$((a1 - a0)) archiver_ticks=$((c1 - c0)) redis_ticks=$((r1 - r0)) pg_ticks=$((p1 - p0)) drain_s=$drained wal_bytes=$wal stream_entries=$xlen stream_bytes=$sbytes $(grep '^COST' "$tmp/wrk-$label.txt" | cut -d' ' -f2-)" | tee -a "$tmp/runs.txt"
}

echo "machine: $(nproc) cores, $(awk '/MemTotal/{printf "%.0f GiB", $2/1048576}' /proc/meminfo), load $(cut -d' ' -f1-3 /proc/loadavg); $("$BATON_BIN" --version); $(redis-server --version | cut -d' ' -f1-3); wrk -t $CONNS -c $CONNS -d $DURATION"
echo "postgresql: $statistics" | tee -a "$tmp/runs.txt"

# Split: quiz + relay + console in one process, the archiver in another.
aport="$(free_port)"; cport="$(free_port)"
start_baton api "$aport" quiz,relay,console --demo; api=$started
start_baton archiver "$cport" archiver; arch=$started
url="http://127.0.0.1:$aport"
wrk -t "$CONNS" -c "$CONNS" -d "$WARMUP" -s "$here/journey.lua" "$url" -- 8 "warmup-$$" >/dev/null
stream_keys="$(redis-cli -p "$rport" --scan --pattern '*:events')"
echo "event streams: $stream_keys"
wait_archived >/dev/null
# What the processes spend doing nothing (the archiver's polling, campaign reloads), for scale.
i0="$(ticks "$api") $(ticks "$arch") $(ticks "$redis_pid") $(pg_ticks)"; sleep 20
i1="$(ticks "$api") $(ticks "$arch") $(ticks "$redis_pid") $(pg_ticks)"
echo "IDLE 20 s: ticks api/archiver/redis/pg before $i0 after $i1" | tee -a "$tmp/runs.txt"
for steps in 1 2 3 4 5 6 7 8; do
  measure "split$steps" "$steps" "$url" "$api" "$arch"
done
# The campaign page with the counters of a real campaign's size: the demo has 55 places and 26
# units; a city campaign has ~120 places and ~3000 units, 4 counters each, in every shard's hash.
# Made-up counters are added to the demo's hash for one run of page views, then taken out.
fake='local function each(f) for i = 1, 3000 do f(string.format("u:u-zz-district-unit-%d", i)) end
  for i = 1, 120 do f(string.format("p:zz-district-place-%d", i)) end end
  if ARGV[1] == "add" then
    each(function(f) redis.call("HSET", KEYS[1], f .. ":n", 10, f .. ":r", 5, f .. ":bs", 700, f .. ":bc", 9) end)
  else
    each(function(f) redis.call("HDEL", KEYS[1], f .. ":n", f .. ":r", f .. ":bs", f .. ":bc") end)
  end return 0'
agg_key="$(redis-cli -p "$rport" --scan --pattern '*{v1:demo:*}:agg' | sed -n 1p)"
redis-cli -p "$rport" EVAL "$fake" 1 "$agg_key" add >/dev/null
echo "counters hash $agg_key: $(redis-cli -p "$rport" HLEN "$agg_key") fields"
CONNS=8 measure "bigagg" 1 "$url" "$api" "$arch"   # a few connections: 14 ms a page, no queue
redis-cli -p "$rport" EVAL "$fake" 1 "$agg_key" remove >/dev/null
echo "counters hash back to $(redis-cli -p "$rport" HLEN "$agg_key") fields"
stop "$api"; stop "$arch"

if [ "$ALLINONE" = 1 ]; then
  port="$(free_port)"
  start_baton all "$port" all; all=$started
  url="http://127.0.0.1:$port"
  wrk -t "$CONNS" -c "$CONNS" -d "$WARMUP" -s "$here/journey.lua" "$url" -- 8 "warmup2-$$" >/dev/null
  wait_archived >/dev/null
  measure "all" 8 "$url" "$all" 0
  stop "$all"
fi

# What the runs left: attempts in Redis (each kept 24 h after it closes), rows in PostgreSQL.
{
  echo
  echo "== what the runs left =="
  echo "redis: $(redis-cli -p "$rport" DBSIZE) keys, $(redis-cli -p "$rport" INFO memory | grep -E '^used_memory:' | tr -d '\r')"
  redis-cli -p "$rport" --scan --pattern '*:a:*' | sed -n 1,300p >"$tmp/attempt-keys.txt"
  n=0; total=0; encs=""
  while read -r k; do
    total=$((total + $(redis-cli -p "$rport" MEMORY USAGE "$k" SAMPLES 0))); n=$((n + 1))
    encs="$encs $(redis-cli -p "$rport" OBJECT ENCODING "$k")"
  done <"$tmp/attempt-keys.txt"
  [ "$n" -gt 0 ] && echo "attempt hash: $((total / n)) bytes on average over $n finished attempts; encodings:$(echo "$encs" | tr ' ' '\n' | sort | uniq -c | tr '\n' ' ')"
  psql -h "$pg_host" -p "$pg_port" -U postgres -d "$db" -At -F ' ' -c "
    select 'events', count(*) from events;
    select 'database_bytes', pg_database_size(current_database());
    select 'table ' || c.relname, pg_total_relation_size(c.oid), c.reltuples::bigint
      from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where n.nspname = 'public' and c.relkind = 'r' order by 2 desc limit 8;"
} | tee "$tmp/left.txt"

python3 "$here/summarize.py" "$CLK_TCK" "$tmp/runs.txt" "$tmp" | tee "$tmp/summary.txt"
# Kept next to the scripts: the raw lines the summary came from.
mkdir -p "$here/results"; cat "$tmp/runs.txt" "$tmp/left.txt" "$tmp/summary.txt" >"$here/results/run-latest.txt"

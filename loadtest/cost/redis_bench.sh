#!/usr/bin/env bash
# What one Redis core does on this machine (docs/SCALING.md): redis-benchmark on a throwaway
# redis-server for plain commands, then the leaderboard commands on a 2.5 M-member sorted set
# (ZADD GT, ZREVRANK, ZCARD, a top-20 page) and HGETALL of a counters hash the size of a real
# campaign's (3000 units and 120 places, 4 counters each). For each: requests/s from
# redis-benchmark and the redis-server process's CPU per command (utime + stime / commands).
#
#   loadtest/cost/redis_bench.sh            # MEMBERS=2500000 CLIENTS=50 N=200000
set -euo pipefail

MEMBERS="${MEMBERS:-2500000}"
CLIENTS="${CLIENTS:-50}"
N="${N:-200000}"
hz="$(getconf CLK_TCK)"
tmp="$(mktemp -d /tmp/baton-rbench.XXXXXX)"
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --dir "$tmp" --logfile "$tmp/redis.log" &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$tmp"' EXIT
until redis-cli -p "$port" ping >/dev/null 2>&1; do sleep 0.1; done
cli() { redis-cli -p "$port" "$@"; }
ticks() { awk '{print $14 + $15}' "/proc/$pid/stat"; }

echo "machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); $(redis-server --version | cut -d' ' -f1-3); $CLIENTS clients, redis-benchmark on the same machine"
bench() { # label n args...
  local label=$1 n=$2; shift 2
  local t0 t1 out
  t0=$(ticks)
  out=$(redis-benchmark -p "$port" -c "$CLIENTS" -n "$n" -q "$@" 2>/dev/null | tr '\r' '\n' | grep -E 'requests per second' | tail -1)
  t1=$(ticks)
  local rps; rps=$(echo "$out" | grep -oE '[0-9.]+ requests per second' | cut -d' ' -f1)
  printf '%-44s %10s req/s %8.2f us redis CPU each\n' "$label" "$rps" "$(awk -v d="$((t1 - t0))" -v hz="$hz" -v n="$n" 'BEGIN{print d / hz * 1e6 / n}')"
}

bench "SET" "$N" -t set
bench "GET" "$N" -t get
bench "INCR" "$N" -t incr
bench "HSET" "$N" -t hset
bench "ZADD (small set)" "$N" -t zadd
bench "SET, pipelined 16" "$((N * 5))" -t set -P 16
bench "EVALSHA of a 1-command script" "$N" \
  EVAL "return redis.call('INCR', KEYS[1])" 1 "k:__rand_int__"

# A 2.5 M-member board: members p:000000000001..., scores spread over [0, MEMBERS) so that a
# random score in that range beats about half of them (a finish that improves a best).
echo "filling a sorted set of $MEMBERS members ..."
fill='local b = tonumber(ARGV[1]) for i = b + 1, b + tonumber(ARGV[2]) do
  redis.call("ZADD", KEYS[1], (i * 7919) % tonumber(ARGV[3]), string.format("p:%012d", i)) end return 0'
for ((b = 0; b < MEMBERS; b += 100000)); do
  cli EVAL "$fill" 1 lb "$b" "$((MEMBERS - b < 100000 ? MEMBERS - b : 100000))" "$MEMBERS" >/dev/null
done
echo "ZCARD lb = $(cli ZCARD lb), MEMORY USAGE = $(cli MEMORY USAGE lb SAMPLES 0) bytes ($(cli OBJECT ENCODING lb))"
bench "ZREVRANK on the ${MEMBERS}-member set" "$N" -r "$MEMBERS" ZREVRANK lb "p:__rand_int__"
bench "ZCARD" "$N" ZCARD lb
bench "ZREVRANGE 0 19 WITHSCORES (top 20)" "$N" ZREVRANGE lb 0 19 WITHSCORES
bench "ZADD GT, existing member, random score" "$N" -r "$MEMBERS" ZADD lb GT "__rand_int__" "p:__rand_int__"
bench "ZADD GT, new member (the set grows)" "$N" -r 1000000000 ZADD lb GT "__rand_int__" "q:__rand_int__"
echo "ZCARD lb = $(cli ZCARD lb) after the new members"

# The counters of a campaign of 3000 units and 120 places (4 counters each), one shard's hash.
agg='for i = 1, tonumber(ARGV[1]) do local f = string.format("u:u-district-unitname-%d", i)
  redis.call("HSET", KEYS[1], f .. ":n", i, f .. ":r", i, f .. ":bs", i * 70, f .. ":bc", i) end return 0'
cli EVAL "$agg" 1 agg 3120 >/dev/null
echo "agg: $(cli HLEN agg) fields, $(cli MEMORY USAGE agg SAMPLES 0) bytes"
bench "HGETALL of the 12480-field counters hash" 4000 HGETALL agg

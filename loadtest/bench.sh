#!/usr/bin/env bash
# Baton's benchmark: in one run on this machine, the raw ceilings and Baton's rates as ratios of
# them (docs/PERFORMANCE.md).
#
#   loadtest/bench.sh                     # everything (about 15 minutes once built)
#   MEMORY_PARTICIPANTS=0 loadtest/bench.sh   # without the 2.5 M memory fill (about 5 minutes)
#
# 1. Ceilings: a trivial actix-web route (`baton-sim ceiling`, 2 workers like Baton's) measured
#    with wrk and with the simulator's own HTTP client; redis-benchmark on the Redis commands
#    the hot path uses (loadtest/cost/redis_bench.sh, boards of BOARD_MEMBERS members).
# 2. Baton on the Redis store (quiz, relay and console roles; the archiver stopped, so events
#    wait in the streams): `baton-sim bench` joins PARTICIPANTS citizens, starts their attempts,
#    answers every question, finishes, reads boards, each phase at full speed with CONCURRENCY
#    requests in flight; each rate with p50/p99 and as a ratio of the ceilings. Then answers
#    once more, driven by wrk (loadtest/answers.lua), the generator the ceiling was measured with.
# 3. The archiver's sustained rate: an archiver is started on the streams the phases filled and
#    timed until it has committed them all to PostgreSQL.
# 4. The same phases on the embedded store with SQLite (`baton serve --demo`, nothing else).
# 5. Redis memory per participant at MEMORY_PARTICIPANTS (2500000) participants
#    (services/baton-hot/examples/hot_memory.rs on a throwaway Redis).
#
# Settings (environment): PARTICIPANTS (20000), CONCURRENCY (64), BOARD_MEMBERS (2500000),
# MEMORY_PARTICIPANTS (2500000; 0 skips), PG_URL (postgres://postgres@127.0.0.1:5432), OUT
# (loadtest/results/bench-<time>), PROFILE (0; 1: `perf record` Baton during a second, unmeasured
# wrk answers run, and the archiver and its PostgreSQL backends during the drain, into
# $OUT/perf-*.txt; the drain's rate is then slowed by the sampling). Everything it starts it stops; the database it creates it drops.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
PARTICIPANTS="${PARTICIPANTS:-20000}"
CONCURRENCY="${CONCURRENCY:-64}"
BOARD_MEMBERS="${BOARD_MEMBERS:-2500000}"
MEMORY_PARTICIPANTS="${MEMORY_PARTICIPANTS:-2500000}"
OUT="${OUT:-$root/loadtest/results/bench-$(date -u +%Y%m%dT%H%M%SZ)}"

if ! command -v wrk >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get install -y wrk >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y wrk >/dev/null; }
  fi
fi
# shellcheck source=loadtest/lib.sh
. "$here/lib.sh"
need wrk redis-server redis-cli redis-benchmark psql createdb dropdb curl python3
echo "building release baton, baton-sim and the hot_memory example…" >&2
(cd "$root" && cargo build --release -q -p baton -p baton-sim && cargo build --release -q -p baton-hot --example hot_memory)
BATON="$root/target/release/baton"
SIM="$root/target/release/baton-sim"

mkdir -p "$OUT"
throwaway bench
log() { echo "$*" | tee -a "$OUT/bench.txt"; }

log "machine: $(nproc) cores, $(awk '/MemTotal/{printf "%.0f GiB", $2/1048576}' /proc/meminfo), load $(cut -d' ' -f1-3 /proc/loadavg); $("$BATON" --version); $(redis-server --version | cut -d' ' -f1-3); $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?')"
log "settings: PARTICIPANTS=$PARTICIPANTS CONCURRENCY=$CONCURRENCY BOARD_MEMBERS=$BOARD_MEMBERS MEMORY_PARTICIPANTS=$MEMORY_PARTICIPANTS"

# 1. Ceilings.
log "== 1. ceilings"
cport="$(free_port)"
"$SIM" ceiling --listen "127.0.0.1:$cport" --workers 2 >"$tmp/ceiling.log" 2>&1 &
ceiling_pid=$!; pids+=("$ceiling_pid")
wait_ready "http://127.0.0.1:$cport/" "$ceiling_pid" "$tmp/ceiling.log"
wrk -t 2 -c "$CONCURRENCY" -d 10s "http://127.0.0.1:$cport/" >/dev/null # warm-up
wrk -t 2 -c "$CONCURRENCY" -d 15s --latency "http://127.0.0.1:$cport/" >"$tmp/wrk.txt"
wrk_rps="$(awk '/^Requests\/sec/{print $2}' "$tmp/wrk.txt")"
log "plain actix-web, wrk -t2 -c$CONCURRENCY: $wrk_rps req/s ($(awk '/ 50%/{print "p50 " $2}' "$tmp/wrk.txt"), $(awk '/ 99%/{print "p99 " $2}' "$tmp/wrk.txt"))"
log "redis-benchmark, one Redis core (loadtest/cost/redis_bench.sh, MEMBERS=$BOARD_MEMBERS):"
MEMBERS="$BOARD_MEMBERS" bash "$root/loadtest/cost/redis_bench.sh" | tee -a "$OUT/bench.txt"

# 2. Baton on Redis, the archiver stopped.
log "== 2. Baton on Redis (quiz, relay, console; the archiver stopped)"
start_redis "$tmp"
create_db
keep_statistics
log "postgresql: $statistics"
aport="$(free_port)"
BATON_REDIS_URL="redis://127.0.0.1:$rport" BATON_DATABASE_URL="$PG_URL/$db" RUST_LOG=warn \
  "$BATON" serve --role quiz,relay,console --demo --listen "127.0.0.1:$aport" --rate-limits off >"$tmp/api.log" 2>&1 &
api_pid=$!; pids+=("$api_pid")
wait_ready "http://127.0.0.1:$aport/readyz" "$api_pid" "$tmp/api.log"
"$SIM" bench --base-url "http://127.0.0.1:$aport" --participants "$PARTICIPANTS" --concurrency "$CONCURRENCY" \
  --ceiling-url "http://127.0.0.1:$cport" --out "$OUT/redis.json" 2>/dev/null | tee -a "$OUT/bench.txt"
# Answers again, driven by wrk like the ceiling: 2 x PARTICIPANTS more citizens join and start,
# then wrk posts their answers for 5 s (loadtest/answers.lua; it must not run out).
"$SIM" bench --base-url "http://127.0.0.1:$aport" --participants "$((PARTICIPANTS * 2))" --concurrency "$CONCURRENCY" \
  --answers-file "$tmp/answers.txt" >"$tmp/prepare.txt" 2>&1
profiling=""
profile() { # name seconds pids (comma-separated): perf samples of those processes, summed by symbol
  profiling=""
  [ "${PROFILE:-0}" = 1 ] || return 0
  command -v perf >/dev/null || { echo "PROFILE=1 needs perf (apt-get install linux-perf)" >&2; return 0; }
  ( sleep 1; perf record -q -F 499 -g -p "$3" -o "$tmp/$1.data" -- sleep "$2" >/dev/null 2>&1
    perf report -i "$tmp/$1.data" --stdio --no-children --percent-limit 1 --sort comm,dso,symbol 2>/dev/null \
      | grep -E '^ +[0-9.]+%' | sed -E 's/[[:space:]]+-[[:space:]]+-[[:space:]]*$//; s/[[:space:]]+$//' >"$OUT/perf-$1.txt" ) &
  profiling=$!
}
profiled() { [ -z "$profiling" ] || wait "$profiling"; }
wrk -t 2 -c "$CONCURRENCY" -d 5s -s "$here/answers.lua" "http://127.0.0.1:$aport" -- "$tmp/answers.txt" 2 \
  | grep '^ANSWERS' | tee -a "$OUT/bench.txt"
if [ "${PROFILE:-0}" = 1 ]; then # sampled apart from the measured run: perf slows what it samples
  "$SIM" bench --base-url "http://127.0.0.1:$aport" --participants "$PARTICIPANTS" --concurrency "$CONCURRENCY" \
    --answers-file "$tmp/answers.txt" >"$tmp/prepare.txt" 2>&1
  profile baton-answers 4 "$api_pid"
  wrk -t 2 -c "$CONCURRENCY" -d 5s -s "$here/answers.lua" "http://127.0.0.1:$aport" -- "$tmp/answers.txt" 2 >/dev/null
  profiled
fi
stop "$api_pid"

# 3. The archiver's sustained rate on what the phases left in the streams.
log "== 3. the archiver into PostgreSQL"
events=0
for key in $(redis-cli -p "$rport" --scan --pattern '*:events'); do events=$((events + $(redis-cli -p "$rport" XLEN "$key"))); done
xport="$(free_port)"
BATON_REDIS_URL="redis://127.0.0.1:$rport" BATON_DATABASE_URL="$PG_URL/$db" RUST_LOG=warn \
  "$BATON" serve --role archiver --listen "127.0.0.1:$xport" >"$tmp/archiver.log" 2>&1 &
arch_pid=$!; pids+=("$arch_pid")
wait_ready "http://127.0.0.1:$xport/readyz" "$arch_pid" "$tmp/archiver.log"
t0=$(date +%s.%N)
backends=$(psql -h "$pg_host" -p "$pg_port" -U postgres -Atc "select string_agg(pid::text, ',') from pg_stat_activity where datname = '$db'")
profile archiver 10 "$arch_pid${backends:+,$backends}"
while :; do
  done_events=$(curl -fs "http://127.0.0.1:$xport/metrics" | awk '/^baton_archiver_events_total/{s+=$2} END{print int(s)}')
  [ "${done_events:-0}" -ge "$events" ] && break
  python3 -c "import sys, time; sys.exit(time.time() - $t0 > 1800)" || { echo "the archiver committed $done_events of $events events in 30 minutes (log: $tmp/archiver.log)" >&2; exit 1; }
  sleep 0.2
done
secs=$(python3 -c "import time; print(f'{time.time() - $t0:.1f}')")
log "BENCH phase=archiver events=$events seconds=$secs per_second=$(python3 -c "print(round($events / $secs))")"
profiled
stop "$arch_pid"; stop "$redis_pid"

# 4. The embedded store with SQLite.
log "== 4. Baton on the embedded store with SQLite"
eport="$(free_port)"
(unset BATON_REDIS_URL; BATON_DATABASE_URL="sqlite://$tmp/bench.db" RUST_LOG=warn \
  exec "$BATON" serve --demo --listen "127.0.0.1:$eport" --rate-limits off) >"$tmp/embedded.log" 2>&1 &
emb_pid=$!; pids+=("$emb_pid")
wait_ready "http://127.0.0.1:$eport/readyz" "$emb_pid" "$tmp/embedded.log"
"$SIM" bench --base-url "http://127.0.0.1:$eport" --participants "$PARTICIPANTS" --concurrency "$CONCURRENCY" \
  --ceiling-url "http://127.0.0.1:$cport" --out "$OUT/embedded.json" 2>/dev/null | tee -a "$OUT/bench.txt"
stop "$emb_pid"; stop "$ceiling_pid"

# 5. Redis memory per participant.
if [ "$MEMORY_PARTICIPANTS" != 0 ]; then
  log "== 5. Redis memory per participant at $MEMORY_PARTICIPANTS participants"
  start_redis "$tmp/mem"
  "$root/target/release/examples/hot_memory" --redis-url "redis://127.0.0.1:$rport" --participants "$MEMORY_PARTICIPANTS" \
    >"$OUT/hot_memory.txt" 2>&1
  grep '^RESULT' "$OUT/hot_memory.txt" | tee -a "$OUT/bench.txt"
  stop "$redis_pid"
fi

# Summary.
log "== summary"
WRK_RPS="$wrk_rps" python3 - "$OUT" <<'EOF' | tee -a "$OUT/bench.txt"
import json, os, re, sys
out = sys.argv[1]
wrk = float(os.environ["WRK_RPS"])
text = open(os.path.join(out, "bench.txt")).read()
print(f"ceiling: plain actix-web {wrk:,.0f} req/s with wrk", end="")
rows = []
for store in ("redis", "embedded"):
    path = os.path.join(out, f"{store}.json")
    if not os.path.exists(path):
        continue
    for p in json.load(open(path)):
        rows.append((store, p))
client = next((p["per_second"] for s, p in rows if p["name"] == "plain actix-web"), None)
print(f", {client:,.0f} req/s with the simulator's client" if client else "")
print(f"{'store':<9} {'phase':<18} {'per s':>9} {'p50 ms':>7} {'p99 ms':>7} {'/ wrk':>7} {'/ client':>8} {'errors':>6}")
for store, p in rows:
    if p["name"] == "plain actix-web":
        continue
    f = lambda v: "-" if v is None else f"{v:.2f}"
    print(f"{store:<9} {p['name']:<18} {p['per_second']:>9,.0f} {f(p['p50_ms']):>7} {f(p['p99_ms']):>7} "
          f"{p['per_second'] / wrk:>7.3f} {f(p['ratio']):>8} {p['errors']:>6}")
m = re.search(r"BENCH phase=archiver events=(\d+) seconds=([\d.]+) per_second=(\d+)", text)
if m:
    print(f"archiver: {int(m[1]):,} events into PostgreSQL in {m[2]} s: {int(m[3]):,} events/s sustained")
m = re.search(r"RESULT participants=(\d+) .*bytes_per_participant=([\d.]+)", text)
if m:
    print(f"Redis memory: {float(m[2]):,.0f} bytes per participant at {int(m[1]):,} participants (target 400)")
m = re.search(r"ANSWERS requests=(\d+) answered=(\d+) failed=(\d+) resent=(\d+) .*per_second=(\d+) p50_ms=([\d.]+) p99_ms=([\d.]+)", text)
if m and int(m[4]) > 0:
    print(f"wrk ran out of answers ({m[4]} resent): run again with a larger PARTICIPANTS")
elif m:
    m = [None, m[1], m[2], m[3], m[5], m[6], m[7]]
    rate = int(m[4])
    print(f"redis     answers with wrk   {rate:>9,} {float(m[5]):>7.2f} {float(m[6]):>7.2f} {rate / wrk:>7.3f} {'-':>8} {int(m[3]):>6}")
    ok = rate >= wrk / 3
    print(f"target: answers/s at least 1/3 of plain actix-web, both driven by wrk: {rate:,} vs {wrk / 3:,.0f}: "
          + ("met" if ok else f"MISSED by {wrk / 3 / rate:.2f}x"))
EOF
echo "results in $OUT" >&2

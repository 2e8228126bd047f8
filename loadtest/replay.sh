#!/usr/bin/env bash
# Replays the seed campaign against one node of this machine (docs/PERFORMANCE.md).
#
# Starts a throwaway redis-server and a fresh PostgreSQL database, runs Baton with the Redis hot
# store (quiz, relay and console roles in one process, the archiver in another, so that its lag
# can be scraped from its own /metrics), adds an organizer, and plays the campaign with
# `baton-sim run`: citizens arriving on the seed campaign's ten-day curve with its flash crowds,
# compressed SPEED times, and two organizers on the dashboard. Then it waits for the archiver to
# drain, checks that SQL holds exactly what the citizens were told (`baton-sim check`), records
# the hot store's memory and how PostgreSQL read and wrote each table (`pg_tables.txt`: scans,
# rows read by sequential scans, updates, dead rows), and draws the plots.
#
#   loadtest/replay.sh                                    # all 2.52 M participants at 500×
#   SPEED=180 SIM_ARGS="--max-active 2000" loadtest/replay.sh   # … at 180× (docs/PERFORMANCE.md 2d)
#   PARTICIPANTS=25200 loadtest/replay.sh                 # a hundredth of the campaign, same curve
#   FROM_HOUR=212 TO_HOUR=216 loadtest/replay.sh          # the last evening's peak only
#
# Settings (environment): PARTICIPANTS (2520000), SPEED (500), FROM_HOUR / TO_HOUR (the whole
# campaign), MAX_P99_MS (50), MAX_LAG_S (5), OUT (loadtest/results/replay-<time>), PG_URL
# (postgres://postgres@127.0.0.1:5432), SIM_ARGS (more `baton-sim run` flags), KEEP (1: keep the
# temp dir and the database). Binaries: BATON_BIN, SIM_BIN (target/release/…; built if missing).
# Everything it starts it stops; the database it creates it drops (unless KEEP=1).
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
PARTICIPANTS="${PARTICIPANTS:-2520000}"
SPEED="${SPEED:-500}"
MAX_P99_MS="${MAX_P99_MS:-50}"
MAX_LAG_S="${MAX_LAG_S:-5}"
OUT="${OUT:-$root/loadtest/results/replay-$(date -u +%Y%m%dT%H%M%SZ)}"
BATON_BIN="${BATON_BIN:-$root/target/release/baton}"
SIM_BIN="${SIM_BIN:-$root/target/release/baton-sim}"

# shellcheck source=loadtest/lib.sh
. "$here/lib.sh"
need redis-server redis-cli psql createdb dropdb curl python3
if [ ! -x "$BATON_BIN" ] || [ ! -x "$SIM_BIN" ]; then
  echo "building release baton and baton-sim…" >&2
  (cd "$root" && cargo build --release -p baton -p baton-sim)
fi

throwaway replay
start_redis "$tmp"
create_db
keep_statistics
use_stores
aport="$(free_port)"; cport="$(free_port)"
start_baton api "$aport" quiz,relay,console --demo; api_pid=$started
start_baton archiver "$cport" archiver; arch_pid=$started
BATON_ORGANIZER_PASSWORD="replay-organizer-pw" "$BATON_BIN" organizer add --role organizer --campaign demo sim >/dev/null

mkdir -p "$OUT"
window=()
[ -n "${FROM_HOUR:-}" ] && window+=(--from-hour "$FROM_HOUR")
[ -n "${TO_HOUR:-}" ] && window+=(--to-hour "$TO_HOUR")
commit="$(git -C "$root" describe --always --dirty 2>/dev/null || echo unknown)"
echo "machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); $("$BATON_BIN" --version) at $commit; $(redis-server --version | cut -d' ' -f1-3)" | tee "$OUT/machine.txt"
echo "replay: $PARTICIPANTS participants at ${SPEED}× ${window[*]:-whole campaign} ${SIM_ARGS:-}" | tee -a "$OUT/machine.txt"
echo "postgresql: $statistics" | tee -a "$OUT/machine.txt"
child_ticks() { awk '{print $16 + $17}' "/proc/$$/stat"; } # children waited for: the simulator
cpu0="$(ticks "$api_pid") $(ticks "$arch_pid") $(ticks "$redis_pid") $(pg_ticks) $(child_ticks)"
t0=$(date +%s.%N)
status=0
# shellcheck disable=SC2086
"$SIM_BIN" run --base-url "http://127.0.0.1:$aport" --participants "$PARTICIPANTS" --speed "$SPEED" "${window[@]}" \
  --organizer "sim:replay-organizer-pw" --archiver-metrics "http://127.0.0.1:$cport/metrics" \
  --max-p99-ms "$MAX_P99_MS" --max-archiver-lag-s "$MAX_LAG_S" --out "$OUT" ${SIM_ARGS:-} || status=$?
[ "$status" -le 1 ] || exit "$status"

echo "waiting for the archiver to drain…" >&2
drain0=$SECONDS
while :; do
  backlog=$(curl -fs "http://127.0.0.1:$cport/metrics" | awk '$1=="baton_archiver_backlog"{print $2}')
  [ "${backlog:-1}" = 0 ] && break
  [ $((SECONDS - drain0)) -lt 7200 ] || { echo "the archiver did not drain in 2 h" >&2; exit 1; }
  sleep 1
done
echo "drained $((SECONDS - drain0)) s after the last journey; wall $(python3 -c "import time; print(round(time.time() - $t0))") s in all" | tee -a "$OUT/machine.txt"
cpu1="$(ticks "$api_pid") $(ticks "$arch_pid") $(ticks "$redis_pid") $(pg_ticks) $(child_ticks)"
python3 - "$cpu0" "$cpu1" "$(getconf CLK_TCK)" "$OUT/report.json" <<'EOF' | tee -a "$OUT/machine.txt"
import json, sys
a, b = [list(map(int, x.split())) for x in sys.argv[1:3]]
hz = int(sys.argv[3])
r = json.load(open(sys.argv[4]))
names = ["baton (quiz, relay, console)", "archiver", "redis-server", "PostgreSQL backends", "baton-sim"]
secs = [(y - x) / hz for x, y in zip(a, b)]
journeys = max(r["journeys_done"] + r["journeys_failed"], 1)
print(f"CPU over the run and the drain ({journeys} journeys, {r['requests']} requests):")
for n, s in zip(names, secs):
    print(f"  {n:<30} {s:8.1f} s  {s * 1000 / journeys:6.2f} ms a journey")
print(f"  {'all':<30} {sum(secs):8.1f} s  {sum(secs) * 1000 / journeys:6.2f} ms a journey")
EOF
# Which tables PostgreSQL scanned and rewrote during the run (the database is this run's alone),
# read before the check below adds its own scans.
psql -h "$pg_host" -p "$pg_port" -U postgres -d "$db" -c "SELECT relname AS table, seq_scan, seq_tup_read, \
  idx_scan, idx_tup_fetch, n_tup_ins AS inserted, n_tup_upd AS updated, n_tup_hot_upd AS hot_updated, \
  n_live_tup AS live, n_dead_tup AS dead, vacuum_count + autovacuum_count AS vacuums, \
  analyze_count + autoanalyze_count AS analyzes FROM pg_stat_user_tables \
  ORDER BY seq_tup_read DESC, idx_tup_fetch DESC" >"$OUT/pg_tables.txt" 2>&1 || true
# The relay roll-up runs every few seconds in the relay role; let it catch up before the check.
sleep 6
"$SIM_BIN" check --ledger "$OUT/ledger.csv" --base-url "http://127.0.0.1:$aport" | tee "$OUT/check.txt" || status=1
{
  echo "redis used_memory after the run: $(redis-cli -p "$rport" INFO memory | awk -F: '/^used_memory:/{print $2}' | tr -d '\r') bytes"
  echo "redis keys: $(redis-cli -p "$rport" DBSIZE)"
} | tee -a "$OUT/machine.txt"
bash "$here/plot.sh" "$OUT" || echo "plots failed (see above); the report is in $OUT" >&2
echo "results in $OUT"
exit "$status"

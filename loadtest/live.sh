#!/usr/bin/env bash
# Many organizers watching one scope's live feed: two builds of Baton compared on the same data,
# in one run on this machine (docs/PERFORMANCE.md, section 6).
#
#   loadtest/live.sh BEFORE_BINARY AFTER_BINARY
#
# Starts a throwaway Redis and a PostgreSQL database of its own, serves the demo campaign with
# BEFORE_BINARY and has PARTICIPANTS citizens play it (`baton-sim bench`), so the feed has
# samples to read. Then, for each binary in turn on those same stores: DASHBOARDS organizers of
# the same scope (the whole campaign) hold `GET …/live` open; after 5 s to settle, the CPU of
# Baton and of the database's PostgreSQL backends is counted over MEASURE seconds. It prints
# each binary's CPU and the overview events the dashboards received (the same for both when
# every tick reached every dashboard).
#
# Settings (environment): DASHBOARDS (100), PARTICIPANTS (2000), MEASURE (60 seconds),
# PG_URL (postgres://postgres@127.0.0.1:5432). Everything it starts it stops; the database it
# creates it drops.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
# shellcheck source=loadtest/lib.sh
. "$here/lib.sh"
two_builds "$@"
DASHBOARDS="${DASHBOARDS:-100}"
PARTICIPANTS="${PARTICIPANTS:-2000}"
MEASURE="${MEASURE:-60}"
need redis-server redis-cli createdb dropdb psql curl python3
build_sim
throwaway live
create_db
keep_statistics
start_redis "$tmp/redis"
use_stores
password='correct horse battery staple'
echo "before: ${bins[0]}"
echo "after:  ${bins[1]}"
echo "machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); $DASHBOARDS dashboards, $PARTICIPANTS participants, ${MEASURE} s; postgresql: $statistics"

for i in 0 1; do
  port="$(free_port)"
  BATON_BIN="${bins[$i]}" start_baton "${names[$i]}" "$port" all --demo
  pid=$started
  base="http://127.0.0.1:$port"
  if [ "$i" = 0 ]; then
    BATON_ORGANIZER_PASSWORD="$password" "${bins[0]}" organizer add live-admin --role admin >"$tmp/organizer.log" 2>&1
    "$SIM" bench --base-url "$base" --participants "$PARTICIPANTS" --concurrency 16 >"$tmp/sim.txt" 2>&1 ||
      { cat "$tmp/sim.txt" >&2; exit 1; }
  fi
  token="$(curl -fsS -X POST -H 'content-type: application/json' \
    -d "{\"username\":\"live-admin\",\"password\":\"$password\"}" "$base/api/v1/console/login" |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["token"])')"
  streams=()
  for n in $(seq "$DASHBOARDS"); do
    curl -sN -H "Authorization: Bearer $token" "$base/api/v1/console/campaigns/demo/live" >"$tmp/${names[$i]}-$n.sse" 2>/dev/null &
    streams+=("$!")
    sleep 0.02 # dashboards open over two seconds, so their ticks are spread like real ones
  done
  sleep 5
  b0="$(ticks "$pid")"; p0="$(pg_ticks)"
  sleep "$MEASURE"
  b1="$(ticks "$pid")"; p1="$(pg_ticks)"
  kill "${streams[@]}" 2>/dev/null || true
  wait "${streams[@]}" 2>/dev/null || true
  overviews="$(cat "$tmp/${names[$i]}"-*.sse | grep -c '^event: overview' || true)"
  hz="$(getconf CLK_TCK)"
  echo "${names[$i]}: Baton $(( (b1 - b0) * 1000 / hz )) ms of CPU, PostgreSQL $(( (p1 - p0) * 1000 / hz )) ms, over ${MEASURE} s; overview events received: $overviews"
  stop "$pid"
done

#!/usr/bin/env bash
# What archiving costs PostgreSQL and the archiver: two builds of Baton compared on the same
# events, in one run on this machine (docs/PERFORMANCE.md, section 4).
#
#   loadtest/archive.sh BEFORE_BINARY AFTER_BINARY
#
# Starts a throwaway Redis and a PostgreSQL database of its own, serves the demo campaign with
# BEFORE_BINARY (quiz, relay and console; no archiver) and has citizens play a window of the seed
# campaign (`baton-sim run`, the busiest six minutes of the evening flash crowd by default), so
# the hot store's streams hold their events, unarchived. Then, for each binary in turn, from a
# copy of that Redis (its snapshot) and a copy of the database as the run left it: one archiver
# drains the streams into the copy while the CPU of the archiver and of the copy's PostgreSQL
# backends is counted; `baton-sim check` then checks that the copy holds exactly what the
# citizens were told. It prints, for each binary, the events, the drain's wall time, and the CPU
# of each process in all and a journey (a citizen), and the database's size.
#
# LOG_STATEMENTS=1 also logs every statement of the drains (log_min_duration_statement = 0 on
# the copies; PG_LOG names the server's log, /var/log/postgresql/postgresql-15-main.log by
# default, readable by this user) and prints each binary's statements grouped by text, with
# their total, count, mean and max time. Logging costs PostgreSQL CPU of its own: compare the
# CPU of runs without it.
#
# Settings (environment): PARTICIPANTS (2520000, the campaign the window is cut from),
# FROM_HOUR (67.45), TO_HOUR (67.55), SPEED (4, campaign seconds a second), LOG_STATEMENTS (0),
# PG_URL (postgres://postgres@127.0.0.1:5432). Everything it starts it stops; the databases it
# creates it drops.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
# shellcheck source=loadtest/lib.sh
. "$here/lib.sh"
two_builds "$@"
PARTICIPANTS="${PARTICIPANTS:-2520000}"
FROM_HOUR="${FROM_HOUR:-67.45}"
TO_HOUR="${TO_HOUR:-67.55}"
SPEED="${SPEED:-4}"
LOG_STATEMENTS="${LOG_STATEMENTS:-0}"
PG_LOG="${PG_LOG:-/var/log/postgresql/postgresql-15-main.log}"
need redis-server redis-cli createdb dropdb psql curl python3
if [ "$LOG_STATEMENTS" = 1 ] && [ ! -r "$PG_LOG" ]; then
  echo "LOG_STATEMENTS=1 reads the server's log, and $PG_LOG is not readable: set PG_LOG" >&2
  exit 2
fi
build_sim
throwaway archive
create_db
keep_statistics
start_redis "$tmp/redis"
use_stores
hz="$(getconf CLK_TCK)"
echo "before: ${bins[0]} ($("${bins[0]}" --version))"
echo "after:  ${bins[1]} ($("${bins[1]}" --version))"
echo "machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); hours $FROM_HOUR-$TO_HOUR of $PARTICIPANTS participants at ${SPEED}x; postgresql: $statistics"

# The events: citizens play with the archiver stopped, so every event stays in the streams.
port="$(free_port)"
BATON_BIN="${bins[0]}" start_baton play "$port" quiz,relay,console --demo
play=$started
status=0
"$SIM" run --base-url "http://127.0.0.1:$port" --participants "$PARTICIPANTS" --speed "$SPEED" \
  --from-hour "$FROM_HOUR" --to-hour "$TO_HOUR" --organizers 0 --progress-s 30 --out "$tmp/play" \
  >"$tmp/play.txt" 2>&1 || status=$?
# 1: a threshold missed (reported below); the events are still what the citizens were told.
[ "$status" -le 1 ] || { tail -20 "$tmp/play.txt" >&2; exit 1; }
grep '^THRESHOLD' "$tmp/play.txt" || true
citizens="$(python3 -c 'import csv, sys; print(sum(1 for _ in csv.DictReader(open(sys.argv[1]))))' "$tmp/play/ledger.csv")"
stop "$play"
[ -z "${vacuum_pid:-}" ] || stop "$vacuum_pid"
# A database is copied only when nobody uses it: wait for the stopped sessions' backends to go.
for _ in $(seq 100); do
  [ "$(psql -h "$pg_host" -p "$pg_port" -U postgres -Atc "select count(*) from pg_stat_activity where datname = '$db'")" = 0 ] && break
  sleep 0.1
done
redis-cli -p "$rport" SAVE >/dev/null
stop "$redis_pid"
echo "played: $citizens citizens ($(grep -m1 -o 'requests=[0-9]*' "$tmp/play.txt" || echo "see $tmp/play.txt"))"

for i in 0 1; do
  name="${names[$i]}"
  copy="${db}_$name"
  createdb -h "$pg_host" -p "$pg_port" -U postgres -T "$db" "$copy"
  dbs+=("$copy")
  keep_statistics "$copy"
  if [ "$LOG_STATEMENTS" = 1 ]; then
    psql -h "$pg_host" -p "$pg_port" -U postgres -qc "ALTER DATABASE $copy SET log_min_duration_statement = 0"
  fi
  mkdir -p "$tmp/$name"
  cp "$tmp/redis/dump.rdb" "$tmp/$name/"
  start_redis "$tmp/$name" # loads the snapshot: the streams as the citizens left them
  until redis-cli -p "$rport" INFO persistence | grep -q '^loading:0'; do sleep 0.1; done
  # Every event of the run, in the shards' streams (nothing has trimmed them).
  entries="$(redis-cli -p "$rport" EVAL "local n, c = 0, '0' repeat local r = redis.call('SCAN', c, 'TYPE', 'stream', 'COUNT', 10000) \
    c = r[1] for _, k in ipairs(r[2]) do n = n + redis.call('XLEN', k) end until c == '0' return n" 0)"
  [ "$entries" -gt 0 ] || { echo "$name: no events in the streams of the snapshot" >&2; exit 1; }
  export BATON_REDIS_URL="redis://127.0.0.1:$rport" BATON_DATABASE_URL="$PG_URL/$copy"
  log_from=0
  [ "$LOG_STATEMENTS" = 1 ] && log_from="$(stat -c %s "$PG_LOG")"
  xport="$(free_port)"
  BATON_BIN="${bins[$i]}" start_baton "$name-archiver" "$xport" archiver
  arch=$started
  a0="$(ticks "$arch")"; p0="$(pg_ticks "$copy")"; t0="$(date +%s.%N)"
  while :; do
    done_events="$(curl -fs "http://127.0.0.1:$xport/metrics" | awk '/^baton_archiver_events_total/{s+=$2} END{print int(s)}')"
    [ "$done_events" -ge "$entries" ] && break
    python3 -c "import sys, time; sys.exit(time.time() - $t0 > 3600)" ||
      { echo "$name: the archiver did not drain in an hour (log: $tmp/$name-archiver.log)" >&2; exit 1; }
    sleep 0.5
  done
  a1="$(ticks "$arch")"; p1="$(pg_ticks "$copy")"; t1="$(date +%s.%N)"
  events="$done_events"
  stop "$arch"
  stop "$redis_pid"
  if [ "$LOG_STATEMENTS" = 1 ]; then
    psql -h "$pg_host" -p "$pg_port" -U postgres -qc "ALTER DATABASE $copy RESET log_min_duration_statement"
    tail -c "+$((log_from + 1))" "$PG_LOG" >"$tmp/$name-statements.log"
  fi
  size="$(psql -h "$pg_host" -p "$pg_port" -U postgres -Atc "select pg_size_pretty(pg_database_size('$copy'))")"
  "$SIM" check --database-url "$PG_URL/$copy" --ledger "$tmp/play/ledger.csv" >"$tmp/$name-check.txt" 2>&1 ||
    { cat "$tmp/$name-check.txt" >&2; echo "$name: SQL does not hold what the citizens were told" >&2; exit 1; }
  python3 - "$name" "$events" "$citizens" "$t0" "$t1" "$((a1 - a0))" "$((p1 - p0))" "$hz" "$size" <<'PY'
import sys
name, events, citizens, t0, t1, arch, pg, hz, size = sys.argv[1:]
events, citizens, arch, pg, hz = int(events), int(citizens), int(arch), int(pg), int(hz)
wall = float(t1) - float(t0)
ms = lambda ticks: ticks * 1000 / hz
print(f"{name}: {events:,} events in {wall:.1f} s ({events / wall:,.0f}/s); CPU archiver {ms(arch) / 1000:.1f} s, "
      f"PostgreSQL {ms(pg) / 1000:.1f} s; a journey: archiver {ms(arch) / citizens:.2f} ms, PostgreSQL "
      f"{ms(pg) / citizens:.2f} ms; an event: {ms(arch + pg) * 1000 / events:.0f} us in all; database {size}; "
      "SQL holds what the citizens were told")
PY
done

if [ "$LOG_STATEMENTS" = 1 ]; then
  for name in "${names[@]}"; do
    echo "== $name: statements of the drain (${db}_$name), by text"
    python3 - "$tmp/$name-statements.log" "${db}_$name" <<'PY'
import re, sys, collections
path, database = sys.argv[1:]
# A logged step: "… user@database LOG:  duration: 1.234 ms  parse|bind|execute <name>: TEXT"
# (or "statement: TEXT") and its continuation lines, up to the next log line.
head = re.compile(r"^\d{4}-\d\d-\d\d .*?@(\S+) LOG:  duration: ([\d.]+) ms  (statement|parse|bind|execute)[^:]*: (.*)$")
entries, cur = [], None
for line in open(path, errors="replace"):
    m = head.match(line)
    if m:
        cur = [m[3], float(m[2]), m[4].rstrip("\n")] if m[1] == database else None
        if cur: entries.append(cur)
    elif re.match(r"^\d{4}-\d\d-\d\d ", line):
        cur = None
    elif cur is not None:
        cur[2] += " " + line.strip()
groups = collections.defaultdict(lambda: [0.0, 0, 0.0])
steps = collections.defaultdict(lambda: [0.0, 0])
for step, ms, text in entries:
    steps[step][0] += ms; steps[step][1] += 1
    if step != "execute" and step != "statement":
        continue
    text = re.sub(r"VALUES \(.*?\)(?:, \(.*?\))*(?= AS v|\) AS v| ON CONFLICT| RETURNING|$)", "VALUES (...)", text)
    text = re.sub(r"\$\d+", "$", text)
    g = groups[text[:240]]
    g[0] += ms; g[1] += 1; g[2] = max(g[2], ms)
print("by step: " + ", ".join(f"{step} {ms / 1000:.1f} s ({n}x)" for step, (ms, n) in sorted(steps.items())))
total = sum(g[0] for g in groups.values())
print(f"executed: {total / 1000:.1f} s in {sum(g[1] for g in groups.values())} statements")
for text, (ms, n, mx) in sorted(groups.items(), key=lambda kv: -kv[1][0])[:30]:
    print(f"{ms / 1000:8.2f} s {n:7d}x avg {ms / n:7.2f} max {mx:7.1f}  {text}")
PY
  done
fi

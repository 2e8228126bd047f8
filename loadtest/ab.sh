#!/usr/bin/env bash
# Two builds of Baton compared on the answer path, in one run on this machine, for changes whose
# effect is smaller than the machine's noise from one run to the next (docs/PERFORMANCE.md).
#
#   git worktree add /tmp/before <rev> && (cd /tmp/before && cargo build --release -p baton)
#   cargo build --release -p baton
#   loadtest/ab.sh /tmp/before/target/release/baton target/release/baton
#
# Each round measures the plain actix-web ceiling with wrk, then each binary in turn (the order
# alternating from round to round) on a fresh Redis: 2 x PARTICIPANTS citizens join and start
# (`baton-sim bench --answers-file`), then wrk posts their answers for 5 s (loadtest/answers.lua),
# as in loadtest/bench.sh. It prints every round, then each binary's median answers/s and median
# ratio to the ceiling of its round.
#
# Settings (environment): ROUNDS (4), PARTICIPANTS (20000), CONCURRENCY (64),
# PG_URL (postgres://postgres@127.0.0.1:5432). Everything it starts it stops; the database it
# creates it drops.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
# shellcheck source=loadtest/lib.sh
. "$here/lib.sh"
two_builds "$@"
ROUNDS="${ROUNDS:-4}"
PARTICIPANTS="${PARTICIPANTS:-20000}"
CONCURRENCY="${CONCURRENCY:-64}"
need wrk redis-server redis-cli createdb dropdb curl python3
build_sim
throwaway ab
create_db
cport="$(free_port)"
"$SIM" ceiling --listen "127.0.0.1:$cport" --workers 2 >"$tmp/ceiling.log" 2>&1 &
ceiling_pid=$!; pids+=("$ceiling_pid")
wait_ready "http://127.0.0.1:$cport/" "$ceiling_pid" "$tmp/ceiling.log"
wrk -t 2 -c "$CONCURRENCY" -d 5s "http://127.0.0.1:$cport/" >/dev/null # warm-up

echo "before: ${bins[0]} ($("${bins[0]}" --version))"
echo "after:  ${bins[1]} ($("${bins[1]}" --version))"
echo "machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); $ROUNDS rounds, $PARTICIPANTS participants, $CONCURRENCY connections"
: >"$tmp/results.txt"
for round in $(seq "$ROUNDS"); do
  ceiling="$(wrk -t 2 -c "$CONCURRENCY" -d 5s "http://127.0.0.1:$cport/" | awk '/^Requests\/sec/{print $2}')"
  order=(0 1); [ $((round % 2)) = 0 ] && order=(1 0)
  for i in "${order[@]}"; do
    start_redis "$tmp/redis-$round-$i"
    use_stores
    port="$(free_port)"
    BATON_BIN="${bins[$i]}" start_baton "api-$round-$i" "$port" quiz,relay,console --demo
    api_pid=$started
    "$SIM" bench --base-url "http://127.0.0.1:$port" --participants "$((PARTICIPANTS * 2))" --concurrency "$CONCURRENCY" \
      --answers-file "$tmp/answers.txt" >"$tmp/prepare.txt" 2>&1
    line="$(wrk -t 2 -c "$CONCURRENCY" -d 5s -s "$here/answers.lua" "http://127.0.0.1:$port" -- "$tmp/answers.txt" 2 | grep '^ANSWERS')"
    stop "$api_pid"; stop "$redis_pid"
    case "$line" in *" failed=0 resent=0 socket_errors=0 "*) ;; *) echo "round $round, ${names[$i]}: not a clean run: $line" >&2; exit 1 ;; esac
    rate="${line##*per_second=}"; rate="${rate%% *}"
    echo "round $round  ${names[$i]}  answers/s $rate  ceiling $ceiling  ratio $(python3 -c "print(f'{$rate / $ceiling:.3f}')")  ${line#ANSWERS }"
    echo "${names[$i]} $rate $ceiling" >>"$tmp/results.txt"
  done
done
python3 - "$tmp/results.txt" <<'EOF'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
med = {}
for name in ("before", "after"):
    rates = [float(r[1]) for r in rows if r[0] == name]
    ratios = [float(r[1]) / float(r[2]) for r in rows if r[0] == name]
    med[name] = statistics.median(rates)
    print(f"{name:6}  median answers/s {med[name]:9,.0f}  median ratio to the ceiling {statistics.median(ratios):.3f}")
print(f"after / before: {med['after'] / med['before']:.3f}")
EOF

# Shared by loadtest/replay.sh, bench.sh, ab.sh, live.sh, archive.sh and cost/run.sh (sourced):
# throwaway servers, stopped when the script exits, and PostgreSQL databases of the script's own,
# dropped then.
#
#   throwaway NAME       a temp dir ($tmp) and a database name ($db, created by create_db);
#                        on exit every pid in $pids is stopped, the database and those named in
#                        $dbs dropped, the dir removed (all kept with KEEP=1, to look into
#                        afterwards)
#   start_redis DIR      a redis-server on a free port ($rport, $redis_pid), nothing on disk
#   create_db            creates $db on PG_URL
#   keep_statistics [DB] when the server runs without autovacuum, vacuums and analyzes $db (or DB) every
#                        minute from one session of its own (as autovacuum would), so plans and
#                        costs are those of a server with PostgreSQL's defaults; $statistics says
#                        which, for the script's record, and $vacuum_pid the session's (if any)
#   use_stores           points BATON_REDIS_URL and BATON_DATABASE_URL at them (RUST_LOG=warn)
#   start_baton NAME PORT ROLE [ARGS]   `$BATON_BIN serve --role ROLE` without rate limits, ready;
#                        sets $started to its pid
#   wait_ready URL PID LOG, stop PID, free_port, ticks PID (CPU ticks), pg_ticks [DB] (the CPU of
#                        $db's backends, or DB's)
#   need TOOL…           exits naming the first missing tool and the Debian package that has it
#   two_builds BEFORE AFTER   (ab.sh, live.sh, archive.sh) checks both binaries; sets $bins (absolute paths)
#                        and $names (before, after)
#   build_sim            builds baton-sim (release) and sets $SIM

PG_URL="${PG_URL:-postgres://postgres@127.0.0.1:5432}"
pg_host="${PG_URL#postgres://}"; pg_host="${pg_host#*@}"; pg_port="${pg_host#*:}"; pg_host="${pg_host%%:*}"
pids=()
dbs=()

throwaway() {
  tmp="$(mktemp -d "/tmp/baton-$1.XXXXXX")"
  db="baton_$1_$$"
  trap cleanup EXIT
}

cleanup() {
  set +e
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
  if [ "${KEEP:-0}" = 1 ]; then
    echo "kept $tmp and the databases $db ${dbs[*]} (dropdb each when done)"
  else
    # --force: a backend of a session just stopped (keep_statistics') may not have exited yet.
    local d
    for d in "${dbs[@]}" "$db"; do
      dropdb -h "$pg_host" -p "$pg_port" -U postgres --if-exists --force "$d" 2>/dev/null ||
        echo "could not drop the database $d: drop it by hand (dropdb --force $d)" >&2
    done
    rm -rf "$tmp"
  fi
}

need() {
  local tool pkg
  for tool in "$@"; do
    command -v "$tool" >/dev/null && continue
    case "$tool" in
      redis-cli | redis-benchmark) pkg=redis-tools ;;
      psql | createdb | dropdb) pkg=postgresql-client ;;
      *) pkg="$tool" ;;
    esac
    echo "missing $tool (apt-get install $pkg)" >&2
    exit 1
  done
}

two_builds() {
  [ $# = 2 ] || { echo "usage: $0 BEFORE_BINARY AFTER_BINARY" >&2; exit 2; }
  local b
  for b in "$1" "$2"; do
    [ -x "$b" ] || { echo "not an executable: $b (build it first, see the top of loadtest/ab.sh)" >&2; exit 2; }
  done
  bins=("$(realpath "$1")" "$(realpath "$2")")
  names=(before after)
}

build_sim() {
  (cd "$root" && cargo build --release -q -p baton-sim)
  SIM="$root/target/release/baton-sim"
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

start_redis() {
  rport="$(free_port)"
  mkdir -p "$1"
  redis-server --port "$rport" --bind 127.0.0.1 --save '' --appendonly no --dir "$1" --logfile "$1/redis.log" &
  redis_pid=$!; pids+=("$redis_pid")
  until redis-cli -p "$rport" ping >/dev/null 2>&1; do sleep 0.1; done
}

create_db() { createdb -h "$pg_host" -p "$pg_port" -U postgres "$db"; }

keep_statistics() { # [DATABASE] ($db by default)
  local av on="${1:-$db}"
  av="$(psql -h "$pg_host" -p "$pg_port" -U postgres -d "$on" -Atc "SHOW autovacuum")"
  statistics="autovacuum $av"
  [ "$av" = off ] || return 0
  statistics="autovacuum off; VACUUM (ANALYZE) of the run's database every 60 s by the script"
  printf 'VACUUM (ANALYZE) \\watch 60\n' |
    psql -h "$pg_host" -p "$pg_port" -U postgres -d "$on" -q >>"$tmp/vacuum.log" 2>&1 &
  vacuum_pid=$!; pids+=("$vacuum_pid")
}

use_stores() {
  export BATON_REDIS_URL="redis://127.0.0.1:$rport"
  export BATON_DATABASE_URL="$PG_URL/$db"
  export RUST_LOG="${RUST_LOG:-warn}"
}

started=0
start_baton() { # name port role [args]; sets $started to its pid
  local name=$1 port=$2 role=$3; shift 3
  "$BATON_BIN" serve --role "$role" --listen "127.0.0.1:$port" --rate-limits off "$@" >"$tmp/$name.log" 2>&1 &
  local pid=$!; pids+=("$pid"); started=$pid
  wait_ready "http://127.0.0.1:$port/readyz" "$pid" "$tmp/$name.log"
}

wait_ready() { # url pid log
  for _ in $(seq 600); do
    curl -fs "$1" >/dev/null 2>&1 && return
    kill -0 "$2" 2>/dev/null || { cat "$3" >&2; exit 1; }
    sleep 0.2
  done
  echo "not ready: $1 (log: $3)" >&2; exit 1
}

stop() { kill "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }

ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }

pg_ticks() { # [DATABASE]: the CPU of the PostgreSQL backends serving it ($db by default)
  local sum=0
  for p in $(psql -h "$pg_host" -p "$pg_port" -U postgres -Atc "select pid from pg_stat_activity where datname = '${1:-$db}' and pid <> pg_backend_pid()"); do
    sum=$((sum + $(ticks "$p")))
  done
  echo "$sum"
}

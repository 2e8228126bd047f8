#!/usr/bin/env bash
# Fuzzes the served API against its own OpenAPI document with Schemathesis (PyPI): every
# operation of `GET /api/v1/openapi.json` gets generated requests, valid and invalid, and every
# response must be no server error (5xx) and match the documented status codes, content types,
# headers and schemas. Any failure fails this script (and so ./tests/run).
#
# It builds the debug `baton` binary, starts `baton serve --demo` on a free loopback port with a
# throwaway SQLite file and the embedded hot store, makes a participant with an attempt in
# progress (a join, a start) and an admin organizer (`baton organizer add` + login), and runs
# Schemathesis on the participant API with the participant's token and on the console with the
# organizer's, twice each: once with generated ids, once with ids that exist (so generated
# queries and bodies get past the 404s). Everything it makes lives in a temp dir removed at the
# end; Schemathesis itself lives in a venv under target/.
#
#   SCHEMATHESIS_MAX_EXAMPLES  test cases per operation and phase (default 50)
#   SCHEMATHESIS_SEED          a fixed seed to reproduce a run (default: random, printed)
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD

SCHEMATHESIS_VERSION=4.32.5
venv=$repo/target/schemathesis-venv
max_examples=${SCHEMATHESIS_MAX_EXAMPLES:-50}
seed=${SCHEMATHESIS_SEED:-$RANDOM$RANDOM}

say() { printf '\n==> %s\n' "$*"; }

if ! "$venv/bin/schemathesis" --version 2>/dev/null | grep -q "$SCHEMATHESIS_VERSION"; then
  say "installing schemathesis $SCHEMATHESIS_VERSION into $venv"
  if ! python3 -c 'import ensurepip, venv' >/dev/null 2>&1; then
    # Debian ships venv (and its pip) apart from python3.
    if [ "$(id -u)" = 0 ]; then as_root() { "$@"; }; else as_root() { sudo "$@"; }; fi
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
  fi
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
fi
command -v curl >/dev/null || { echo "tests/schemathesis.sh needs curl"; exit 1; }

say "cargo build -p baton"
cargo build -q -p baton
baton=$repo/target/debug/baton

work=$(mktemp -d /tmp/baton-schemathesis.XXXXXX)
server_pid=""
cleanup() {
  if [ -n "$server_pid" ]; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT
# Schemathesis keeps a cache of failures in the working directory: keep it in the temp dir.
cd "$work"

port=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
base="http://127.0.0.1:$port"
export BATON_DATABASE_URL="sqlite://$work/baton.db"
export BATON_PUBLIC_URL="$base"

say "starting baton serve --demo on $base"
# Every generated request comes from this one address: with the production rate limits most
# would be answered 429 (documented, so still valid) and reach nothing behind them.
"$baton" serve --demo --rate-limits off --listen "127.0.0.1:$port" >"$work/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 300); do
  if curl -fsS "$base/healthz" >/dev/null 2>&1; then break; fi
  if ! kill -0 "$server_pid" 2>/dev/null; then
    cat "$work/server.log"
    echo "baton exited"
    exit 1
  fi
  sleep 0.1
done
curl -fsS "$base/healthz" >/dev/null

# `json_field a.0.b` prints that member of the JSON on standard input.
json_field() {
  python3 -c 'import json, sys
v = json.load(sys.stdin)
for k in sys.argv[1].split("."):
    v = v[int(k) if k.isdigit() else k]
print(v)' "$1"
}
joined=$(curl -fsS -X POST "$base/api/v1/campaigns/demo/participants" -H 'content-type: application/json' \
  -d '{"device_id":"schemathesis-device-0001","region_id":"hetang-yuetang","nickname":"模糊测试"}')
participant=$(json_field token <<<"$joined")
relay_code=$(json_field relay_code <<<"$joined")
attempt=$(curl -fsS -X POST "$base/api/v1/attempts" -H "Authorization: Bearer $participant")
attempt_id=$(json_field attempt_id <<<"$attempt")
question_id=$(json_field questions.0.id <<<"$attempt")
organizer_password="schemathesis-$(python3 -c 'import secrets;print(secrets.token_hex(12))')"
BATON_ORGANIZER_PASSWORD="$organizer_password" "$baton" organizer add schemathesis-admin --role admin >/dev/null
organizer=$(curl -fsS -X POST "$base/api/v1/console/login" -H 'content-type: application/json' \
  -d "{\"username\":\"schemathesis-admin\",\"password\":\"$organizer_password\"}" | json_field token)

touch "$work/generated.toml"
cat >"$work/existing.toml" <<EOF
[parameters]
"path.cid" = "demo"
"path.aid" = "$attempt_id"
"path.board" = "score"
"path.code" = "$relay_code"
"path.file" = "participants.csv"
"body.question_id" = "$question_id"
EOF

# Checks: no 5xx, and every response as documented (status code, content type, headers, body
# schema). Not run: negative_data_rejection and positive_data_acceptance (they judge validation
# rules a schema cannot express: a question id must be one of the attempt's, a region one of
# the campaign's places), and the stateful checks (this API has no DELETE to use after).
checks=not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance
status=0
# One worker: with two threads, Hypothesis parses lambda sources concurrently and CPython 3.11's
# AST constructor can fail ("AST constructor recursion depth mismatch"), a crash of the tool that
# would read as a finding.
run() { # run CONFIG TOKEN FILTER...
  local config=$1 token=$2
  shift 2
  "$venv/bin/schemathesis" --config-file "$config" run "$base/api/v1/openapi.json" \
    --checks "$checks" \
    --max-examples "$max_examples" \
    --seed "$seed" \
    --phases examples,coverage,fuzzing \
    --workers 1 \
    --request-timeout 20 \
    --suppress-health-check all \
    --warnings off \
    -H "Authorization: Bearer $token" "$@" || status=1
}
say "schemathesis (seed $seed, at most $max_examples examples per operation and phase)"
for ids in generated existing; do
  say "participant API, with a participant token ($ids ids)"
  run "$work/$ids.toml" "$participant" --exclude-path-regex '^/api/v1/console/'
  # The live feed is an endless event stream, which a fuzzer would wait on forever; its
  # refusals (400/401/403/404) are covered by tests/tests/console_*.rs.
  say "console API, with an admin organizer token ($ids ids)"
  run "$work/$ids.toml" "$organizer" --include-path-regex '^/api/v1/console/' \
    --exclude-path '/api/v1/console/campaigns/{cid}/live'
done

if grep -qiE 'panicked|internal server error' "$work/server.log"; then
  say "the server logged errors:"
  grep -iE 'panicked|internal server error' "$work/server.log" | head -n 20
  status=1
fi
if [ $status != 0 ]; then
  say "schemathesis found problems (SCHEMATHESIS_SEED=$seed bash tests/schemathesis.sh repeats this run)"
  exit 1
fi
say "schemathesis: no server errors, every response as documented"

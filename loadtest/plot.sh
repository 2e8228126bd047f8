#!/usr/bin/env bash
# Draws the campaign simulator's report charts as PNGs (loadtest/plot.py).
#
#   bash loadtest/plot.sh REPORT_DIR [--out DIR]
#
# Runs plot.py with python3 when it can import matplotlib; otherwise with a venv kept at
# ${XDG_CACHE_HOME:-$HOME/.cache}/baton/plot-venv, where matplotlib is installed on first use.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
py=python3
if ! python3 -c 'import matplotlib' 2>/dev/null; then
  venv="${XDG_CACHE_HOME:-$HOME/.cache}/baton/plot-venv"
  if ! "$venv/bin/python" -c 'import matplotlib' 2>/dev/null; then
    if ! python3 -c 'import venv, ensurepip' 2>/dev/null; then
      echo "plot.sh: python3 cannot create a venv: apt-get install python3-venv" >&2
      exit 1
    fi
    echo "plot.sh: installing matplotlib into $venv (once)" >&2
    python3 -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check matplotlib
  fi
  py="$venv/bin/python"
fi
exec "$py" "$here/plot.py" "$@"

#!/usr/bin/env bash
# Makes sure DuckDB's Python package is in the project's virtualenv (the one
# scripts/moto-server.sh makes), for the test that reads `--events-out DIR/` back with DuckDB's
# Hive partitioning. Prints the path of the virtualenv's python. Idempotent: a warm machine only
# checks.
#
#   DENYTRAIL_VENV   where the virtualenv lives (default ~/.cache/denytrail-venv)
#   DUCKDB_VERSION   pip requirement for duckdb (default: duckdb>=1.1,<3)
set -euo pipefail

venv="${DENYTRAIL_VENV:-$HOME/.cache/denytrail-venv}"
requirement="duckdb${DUCKDB_VERSION:->=1.1,<3}"
say() { echo "scripts/duckdb.sh: $*" >&2; }

if [ ! -x "$venv/bin/python" ]; then
    say "creating a virtualenv in $venv"
    if ! python3 -m venv "$venv" >&2; then
        say "cannot create a virtualenv with python3 (on Debian/Ubuntu: apt-get install python3-venv)"
        exit 1
    fi
fi
if ! "$venv/bin/python" -c "import duckdb" >/dev/null 2>&1; then
    say "installing $requirement into $venv"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "$requirement" >&2
    if ! "$venv/bin/python" -c "import duckdb" >/dev/null 2>&1; then
        say "duckdb does not import after installing $requirement"
        exit 1
    fi
fi

echo "$venv/bin/python"

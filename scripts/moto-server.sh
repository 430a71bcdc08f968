#!/usr/bin/env bash
# Makes sure moto's server (PyPI `moto[server]`, an S3- and CloudTrail-compatible API server) is
# installed in a private virtualenv, then prints the path of its `moto_server` program.
#
# The S3 integration tests (tests/s3.rs) start that program on loopback themselves; they look for
# it in $DENYTRAIL_MOTO_SERVER, then in the virtualenv below. Idempotent: a warm machine only
# checks that the program runs.
#
#   DENYTRAIL_VENV  where the virtualenv lives (default ~/.cache/denytrail-venv)
#   MOTO_VERSION    pip requirement for moto (default: moto[server]>=5,<6)
set -euo pipefail

venv="${DENYTRAIL_VENV:-$HOME/.cache/denytrail-venv}"
requirement="moto[server]${MOTO_VERSION:->=5,<6}"
server="$venv/bin/moto_server"

say() { echo "scripts/moto-server.sh: $*" >&2; }

python=""
for candidate in python3 python; do
    if command -v "$candidate" >/dev/null 2>&1; then
        python="$candidate"
        break
    fi
done
if [ -z "$python" ]; then
    say "python3 is not installed; install it (e.g. apt-get install python3 python3-venv) and re-run"
    exit 1
fi

if [ ! -x "$venv/bin/python" ]; then
    say "creating a virtualenv in $venv"
    if ! "$python" -m venv "$venv" >&2; then
        say "cannot create a virtualenv with $python (on Debian/Ubuntu: apt-get install python3-venv)"
        exit 1
    fi
fi

if ! "$server" --help >/dev/null 2>&1; then
    say "installing $requirement into $venv"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "$requirement" >&2
    if ! "$server" --help >/dev/null 2>&1; then
        say "moto_server does not run after installing $requirement"
        exit 1
    fi
fi

echo "$server"

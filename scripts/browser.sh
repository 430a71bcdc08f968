#!/usr/bin/env bash
# Makes sure the HTML report's browser test can run: Debian's chromium and chromedriver, and
# Selenium in the project's virtualenv (the one scripts/moto-server.sh makes). Prints the path
# of the virtualenv's python. Idempotent: a warm machine only checks.
#
# Selenium is pointed at /usr/bin/chromium and /usr/bin/chromedriver and runs offline
# (SE_OFFLINE=1), so nothing is downloaded at test time.
set -euo pipefail

venv="${DENYTRAIL_VENV:-$HOME/.cache/denytrail-venv}"
say() { echo "scripts/browser.sh: $*" >&2; }

if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; then
    if [ "$(id -u)" -ne 0 ]; then
        say "chromium and chromium-driver are missing; install them (apt-get install chromium chromium-driver) as root"
        exit 1
    fi
    say "installing Debian's chromium and chromium-driver"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium chromium-driver >&2 \
        || { apt-get update -q >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium chromium-driver >&2; }
fi

if [ ! -x "$venv/bin/python" ]; then
    say "creating a virtualenv in $venv"
    python3 -m venv "$venv" >&2
fi
if ! "$venv/bin/python" -c "import selenium" >/dev/null 2>&1; then
    say "installing selenium into $venv"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "selenium>=4.20,<5" >&2
fi

echo "$venv/bin/python"

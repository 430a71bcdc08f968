#!/usr/bin/env bash
# The long S3 fault soak: tests/soak.rs at a larger size. A generated trail in moto on loopback,
# scanned once straight and once through the fault-injecting proxy (503 SlowDown storms, 500/503
# errors, connection resets, bodies cut short, slow drips, bodies stalled past the SDK's
# stalled-stream protection, listing pages that fail, an outage mid-scan); every object must end
# read (with exactly the clean run's records) or failed with its key and reason, and the report
# must equal a clean scan of the readable objects. Prints the counts.
#
#   OBJECTS=5000            delivery files in the trail
#   SEED=1                  seed of every fault choice (a run is reproducible from it)
#   PAGE=100                keys per listing page (0 = moto's own 1000)
#   OUTAGE_MS=1500          how long the proxy's port stays closed mid-scan (longer makes a
#                           non-permanent object failing by chance likelier: see tests/soak.rs)
#   STALLS=3                objects whose first GET stalls (each costs the SDK's 5 s grace period)
#   PERMANENT_EVERY=100     one object in this many fails on every attempt (at least 5 do)
#
# Uses CARGO_TARGET_DIR when set, like scripts/test.
set -euo pipefail
cd "$(dirname "$0")/.."

DENYTRAIL_MOTO_SERVER="$(scripts/moto-server.sh)"
export DENYTRAIL_MOTO_SERVER
export DENYTRAIL_SOAK_OBJECTS="${OBJECTS:-5000}"
export DENYTRAIL_SOAK_SEED="${SEED:-1}"
export DENYTRAIL_SOAK_PAGE="${PAGE:-100}"
export DENYTRAIL_SOAK_OUTAGE_MS="${OUTAGE_MS:-1500}"
export DENYTRAIL_SOAK_STALLS="${STALLS:-3}"
export DENYTRAIL_SOAK_PERMANENT_EVERY="${PERMANENT_EVERY:-100}"

start=$(date +%s)
cargo test --locked --test soak -- --nocapture --test-threads 1
echo "s3-soak: $DENYTRAIL_SOAK_OBJECTS objects, seed $DENYTRAIL_SOAK_SEED, $(( $(date +%s) - start )) s in all" >&2

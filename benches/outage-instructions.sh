#!/usr/bin/env bash
# The outage bar in instructions: the CPU work of a scan of an outage trail (half the records
# denied) against the same-size trail at 1%, counted by valgrind (cachegrind, no cache model),
# one worker. Unlike wall or CPU time on a shared machine, the counts repeat to a fraction of a
# percent from run to run, so a change of 1-2% shows; they do not see cache misses or SIMD width,
# so the wall-clock bar itself is measured by benches/outage.sh.
#
#   benches/outage-instructions.sh                # 512 MiB trails
#   benches/outage-instructions.sh 128MiB         # quicker (the report's fixed cost weighs more)
#   BASELINE=old/denytrail benches/outage-instructions.sh   # the same counts for another build
#
# Environment: DENYTRAIL, SYNTH, DENYTRAIL_BENCH_DIR (as benches/outage.sh). Needs valgrind.
set -euo pipefail

# shellcheck source=benches/binaries.sh
. "$(dirname "$0")/binaries.sh"
command -v valgrind > /dev/null || { echo "outage-instructions.sh: needs valgrind" >&2; exit 1; }
size="${1:-512MiB}"

instructions() { # binary trail -> instructions executed by one scan with one worker
    valgrind --tool=cachegrind --cache-sim=no --cachegrind-out-file=/dev/null \
        "$1" scan "$2" -q -f json -j 1 2>&1 > /dev/null | awk '/I *refs:/ { gsub(",", "", $4); print $4 }'
}

outage="$(outage_trail "$size" 0.5)"
usual="$(outage_trail "$size" 0.01)"
echo "| build | outage $size: instructions | 1% $size: instructions | ratio (the bar: >= 0.5) |"
echo "|---|--:|--:|--:|"
for build in ${BASELINE:+"$BASELINE"} "$DENYTRAIL"; do
    o="$(instructions "$build" "$outage")"
    u="$(instructions "$build" "$usual")"
    awk -v b="$build" -v o="$o" -v u="$u" 'BEGIN { printf "| %s | %.3f G | %.3f G | %.3f |\n", b, o / 1e9, u / 1e9, u / o }'
done

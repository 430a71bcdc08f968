#!/usr/bin/env bash
# Shard and merge against one scan, in one run: a generated trail is scanned whole (-j 2), then
# as N shards run concurrently (-j 1 each, as N machines would; here they share the cores) and
# merged. Prints the wall times, the ratio to the single scan, and whether the merged report
# equals the single scan's (it must).
#
#   benches/shards.sh [SIZE=512MiB] [SHARDS="2 4"]
# Environment: DENYTRAIL, DENYTRAIL_SYNTH (binaries; default: the release builds, built here).
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
size="${1:-512MiB}"
shards="${2:-2 4}"
if [ -z "${DENYTRAIL:-}" ]; then
    export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/denytrail-target}"
    (cd "$repo" && cargo build --release --quiet -p denytrail -p denytrail-synth)
    DENYTRAIL="$CARGO_TARGET_DIR/release/denytrail"
fi
SYNTH="${DENYTRAIL_SYNTH:-$(dirname "$DENYTRAIL")/denytrail-synth}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
"$SYNTH" --out "$work/trail" --size "$size" --seed 3 >"$work/synth.json"
echo "trail: $(cat "$work/synth.json")"
now() { date +%s.%N; }
s=$(now); "$DENYTRAIL" scan -q -f json -j 2 "$work/trail" >"$work/one.json" || [ $? -eq 3 ]; e=$(now)
one=$(echo "$e - $s" | bc)
printf '%-28s %8.2f s  1.00x\n' "one scan (-j 2)" "$one"
for n in $shards; do
    rm -f "$work"/p*.partial
    s=$(now)
    for i in $(seq 0 $((n - 1))); do
        "$DENYTRAIL" scan -q -j 1 "$work/trail" --shard "$i/$n" --partial "$work/p$i.partial" &
    done
    wait
    m=$(now)
    "$DENYTRAIL" merge -q -f json "$work/p*.partial" >"$work/m.json" || [ $? -eq 3 ]
    e=$(now)
    same=$(python3 -c "
import json,sys
a,b=(json.load(open(f)) for f in sys.argv[1:])
for r in (a,b): r['stats'].pop('elapsed_seconds')
print('equal' if a==b else 'DIFFERENT')" "$work/m.json" "$work/one.json")
    total=$(echo "$e - $s" | bc)
    printf '%-28s %8.2f s  %.2fx  (shards %.2f s, merge %.2f s; report %s)\n' "$n shards + merge" "$total" \
        "$(echo "$total / $one" | bc -l)" "$(echo "$m - $s" | bc)" "$(echo "$e - $m" | bc)" "$same"
done

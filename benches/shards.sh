#!/usr/bin/env bash
# Shard and merge against one scan, in one run: a generated trail is scanned whole (-j 2), then
# as N shards run concurrently (-j 1 each, as N machines would; here they share the cores) and
# merged. Prints the wall times, the ratio to the single scan, the peak RSS of the scan, of the
# largest shard and of the merge, the partials' size, and whether the merged report equals the
# single scan's (it must).
#
#   benches/shards.sh [SIZE=512MiB] [SHARDS="2 4"]
# Environment: DENYTRAIL, DENYTRAIL_SYNTH (binaries; default: the release builds, built here);
# TRAIL=DIR scans that trail instead of generating one (an outage trail of `denytrail-synth
# --denied-ratio 0.5`, say: what a shard's ledger costs grows with its denials).
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
trail="${TRAIL:-$work/trail}"
if [ -z "${TRAIL:-}" ]; then
    "$SYNTH" --out "$trail" --size "$size" --seed 3 >"$work/synth.json"
    echo "trail: $(cat "$work/synth.json")"
else
    echo "trail: $trail"
fi
now() { date +%s.%N; }
# Peak RSS in MiB of a command run under /usr/bin/time, written to the file named first.
rss() { local out="$1"; shift; /usr/bin/time -f %M -o "$out" "$@"; }
mib() { echo $(($(cat "$1") / 1024)); }
s=$(now); rss "$work/one.rss" "$DENYTRAIL" scan -q -f json -j 2 "$trail" >"$work/one.json" || [ $? -eq 3 ]; e=$(now)
one=$(echo "$e - $s" | bc)
printf '%-28s %8.2f s  1.00x  (peak RSS %s MiB)\n' "one scan (-j 2)" "$one" "$(mib "$work/one.rss")"
for n in $shards; do
    rm -f "$work"/p*.partial "$work"/p*.rss
    s=$(now)
    for i in $(seq 0 $((n - 1))); do
        rss "$work/p$i.rss" "$DENYTRAIL" scan -q -j 1 "$trail" --shard "$i/$n" --partial "$work/p$i.partial" &
    done
    wait
    m=$(now)
    rss "$work/m.rss" "$DENYTRAIL" merge -q -f json "$work/p*.partial" >"$work/m.json" || [ $? -eq 3 ]
    e=$(now)
    shard_rss=$(cat "$work"/p*.rss | sort -n | tail -1)
    partials=$(du -cm "$work"/p*.partial | tail -1 | cut -f1)
    same=$(python3 -c "
import json,sys
a,b=(json.load(open(f)) for f in sys.argv[1:])
for r in (a,b): r['stats'].pop('elapsed_seconds')
print('equal' if a==b else 'DIFFERENT')" "$work/m.json" "$work/one.json")
    total=$(echo "$e - $s" | bc)
    printf '%-28s %8.2f s  %.2fx  (shards %.2f s, merge %.2f s; peak RSS: a shard %s MiB, merge %s MiB; partials %s MB; report %s)\n' \
        "$n shards + merge" "$total" "$(echo "$total / $one" | bc -l)" "$(echo "$m - $s" | bc)" "$(echo "$e - $m" | bc)" \
        "$((shard_rss / 1024))" "$(mib "$work/m.rss")" "$partials" "$same"
done

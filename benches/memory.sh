#!/usr/bin/env bash
# Peak memory against input size: the same kind of trail at 1 GiB and at 4 GiB (decompressed),
# scanned with all threads; prints peak RSS, the matched set, and the growth per extra GB.
#
#   benches/memory.sh                 # 1 GiB and 4 GiB trails (generated once, then reused)
#   benches/memory.sh 512MiB 2GiB     # other sizes
#
# Memory should follow the matched set (the denied writes kept for the report), not the input:
# every file streams through a 1 MiB window per worker. Environment: DENYTRAIL (binary; default
# `cargo build --release`), DENYTRAIL_BENCH_DIR (default ~/.cache/denytrail-bench). Needs GNU time.
set -euo pipefail

# shellcheck source=benches/binaries.sh
. "$(dirname "$0")/binaries.sh"
bench_dir="${DENYTRAIL_BENCH_DIR:-$HOME/.cache/denytrail-bench}"
sizes=("${@:-1GiB 4GiB}")
read -r -a sizes <<< "${sizes[*]}"

printf '| trail | decompressed MB | records | denied writes kept | wall s | peak RSS MiB |\n|---|--:|--:|--:|--:|--:|\n'
prev_mb="" prev_rss=""
for size in "${sizes[@]}"; do
    trail="$bench_dir/trail-$size-450KiB-45MiB-seed7"
    if [ ! -f "$trail.json" ]; then
        echo "memory.sh: generating $trail" >&2
        "$SYNTH" --out "$trail" --size "$size" --min-file 450KiB --max-file 45MiB --seed 7 > "$trail.json.tmp"
        mv "$trail.json.tmp" "$trail.json"
    fi
    cat "$(find "$trail" -type f | head -1)" > /dev/null
    report="$(mktemp)"
    /usr/bin/time -f '%e %M' -o "$report.time" "$DENYTRAIL" scan "$trail" -q -f json > "$report" || [ $? -eq 3 ]
    read -r wall rss_kb < "$report.time"
    stats="$(python3 -c 'import json,sys; s=json.load(open(sys.argv[1]))["stats"]; print(s["bytes_decompressed"]//1000000, s["records_read"], s["events_unique"])' "$report")"
    read -r mb records kept <<< "$stats"
    rss=$((rss_kb / 1024))
    printf '| %s | %s | %s | %s | %s | %s |\n' "$size" "$mb" "$records" "$kept" "$wall" "$rss"
    if [ -n "$prev_mb" ]; then
        awk -v a="$prev_rss" -v b="$rss" -v x="$prev_mb" -v y="$mb" \
            'BEGIN { printf "\n%.1f MiB more per extra GB decompressed (%s MiB -> %s MiB)\n", (b - a) / ((y - x) / 1000), a, b }'
    fi
    prev_mb="$mb" prev_rss="$rss"
    rm -f "$report" "$report.time"
done

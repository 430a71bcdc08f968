#!/usr/bin/env bash
# An outage, beyond `scan`: peak memory and wall time of the commands that also write or read the
# events whole — `scan --events-out` (one Parquet file), `query` (SQL over the events table) and
# `explain` (every group in prose) — against the size of the outage trail, with a plain `scan`
# of the same trail as the baseline measured in the same run.
#
#   benches/outage-commands.sh                  # outage trails of 1, 2 and 4 GiB
#   benches/outage-commands.sh 512MiB 1GiB      # other sizes
#   BASELINE=old/denytrail benches/outage-commands.sh   # also run an older build
#
# What it shows: each command's peak RSS flat across sizes (it holds what a scan holds, the
# events waiting on disk), and its wall time as a ratio of the plain scan's. Environment:
# DENYTRAIL (binary; default `cargo build --release`), SYNTH, DENYTRAIL_BENCH_DIR (default
# ~/.cache/denytrail-bench). Needs GNU time.
set -euo pipefail

# shellcheck source=benches/binaries.sh
. "$(dirname "$0")/binaries.sh"
bench_setup "1GiB 2GiB 4GiB" "$@"
sql="SELECT principal, COUNT(*) AS denied FROM events WHERE role = 'target' GROUP BY principal ORDER BY denied DESC"

# run BINARY COMMAND TRAIL: prints "wall_s rss_mib"; exit statuses 0 and 3 (findings) pass.
run() {
    local bin="$1" command="$2" trail="$3"
    local args
    case "$command" in
        scan) args=(scan "$trail" -q -f json) ;;
        events-out) args=(scan "$trail" -q -f json --events-out "$work/events.parquet") ;;
        query) args=(query "$trail" -q -f csv --sql "$sql") ;;
        explain) args=(explain "$trail" -q) ;;
    esac
    /usr/bin/time -f '%e %M' -o "$work/time" "$bin" "${args[@]}" > "$work/out" || [ $? -eq 3 ]
    rm -f "$work/events.parquet"
    read -r wall rss_kb < "$work/time"
    echo "$wall $((rss_kb / 1024))"
}

header='| trail | command | wall s | x scan | peak RSS MiB |'
rule='|---|---|--:|--:|--:|'
if [ -n "${BASELINE:-}" ]; then
    header="$header baseline wall s | baseline peak RSS MiB |"
    rule="$rule--:|--:|"
fi
echo "$header"
echo "$rule"
for size in "${sizes[@]}"; do
    trail="$(outage_trail "$size" 0.5)"
    # A first scan brings the trail into the page cache; the second is the baseline.
    run "$DENYTRAIL" scan "$trail" > /dev/null
    for command in scan events-out query explain; do
        read -r wall rss <<< "$(run "$DENYTRAIL" "$command" "$trail")"
        [ "$command" = scan ] && scan_wall="$wall"
        ratio="$(awk -v a="$wall" -v b="$scan_wall" 'BEGIN { printf "%.2f", a / b }')"
        line="| $size | $command | $wall | $ratio | $rss |"
        if [ -n "${BASELINE:-}" ]; then
            read -r bwall brss <<< "$(run "$BASELINE" "$command" "$trail")"
            line="$line $bwall | $brss |"
        fi
        echo "$line"
    done
done

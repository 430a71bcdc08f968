#!/usr/bin/env bash
# An outage: half the records are denied writes. Peak memory and throughput against the size of
# the trail, and against the same-size trail at the usual 1%, measured in the same run.
#
#   benches/outage.sh                      # outage trails of 1, 2 and 4 GiB, and a 1% trail of 4 GiB
#   benches/outage.sh 512MiB 1GiB          # other sizes (the 1% trail takes the largest)
#   BASELINE=old/denytrail benches/outage.sh   # also run an older build on the same trails, and
#                                              # check both report the same groups and counts
#
# The bars (issue 13): peak RSS flat across sizes and <= 256 MB at 4 GiB; the outage trail's
# throughput >= 0.5x the 1% trail's. Environment: DENYTRAIL (binary; default `cargo build
# --release`), SYNTH, DENYTRAIL_BENCH_DIR (default ~/.cache/denytrail-bench). Needs GNU time.
set -euo pipefail

# shellcheck source=benches/binaries.sh
. "$(dirname "$0")/binaries.sh"
sizes=("${@:-1GiB 2GiB 4GiB}")
read -r -a sizes <<< "${sizes[*]}"
largest="${sizes[${#sizes[@]}-1]}"

# One timed scan: prints "wall_s rss_mib decompressed_mb denied groups", keeps the JSON report.
measure() { # binary trail report
    cat "$(find "$2" -type f | head -1)" > /dev/null
    /usr/bin/time -f '%e %M' -o "$3.time" "$1" scan "$2" -q -f json > "$3" || [ $? -eq 3 ]
    read -r wall rss_kb < "$3.time"
    python3 - "$3" "$wall" "$rss_kb" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
s = r["stats"]
print(sys.argv[2], int(sys.argv[3]) // 1024, s["bytes_decompressed"] // 1000000, s["events_unique"], len(r["groups"]))
EOF
}

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
header='| trail | denied ratio | decompressed MB | denied writes | groups | wall s | MB/s | peak RSS MiB |'
rule='|---|--:|--:|--:|--:|--:|--:|--:|'
if [ -n "${BASELINE:-}" ]; then
    header="$header baseline wall s | baseline peak RSS MiB | groups equal |"
    rule="$rule--:|--:|---|"
fi
echo "$header"
echo "$rule"
declare -A mbps rss_of
for run in "${sizes[@]/%/ 0.5}" "$largest 0.01"; do
    read -r size ratio <<< "$run"
    trail="$(outage_trail "$size" "$ratio")"
    read -r wall rss mb denied groups <<< "$(measure "$DENYTRAIL" "$trail" "$work/new.json")"
    rate="$(awk -v m="$mb" -v w="$wall" 'BEGIN { printf "%.0f", m / w }')"
    mbps["$size $ratio"]="$rate"
    rss_of["$size $ratio"]="$rss"
    line="| $size | $ratio | $mb | $denied | $groups | $wall | $rate | $rss |"
    if [ -n "${BASELINE:-}" ]; then
        read -r bwall brss _ _ _ <<< "$(measure "$BASELINE" "$trail" "$work/old.json")"
        # The same groups with the same exact counts (the new report may mark distinct counts as
        # estimates past 4,096 values; those are compared within 3%).
        same="$(python3 - "$work/new.json" "$work/old.json" <<'EOF'
import json, sys
def rows(p):
    return {(g["principal"], g["bucket"], g["prefix"]): g for g in json.load(open(p))["groups"]}
new, old = rows(sys.argv[1]), rows(sys.argv[2])
bad = [k for k in set(new) | set(old) if k not in new or k not in old]
for k in set(new) & set(old):
    n, o = new[k], old[k]
    for c in ["denied", "first_seen", "last_seen", "operations", "principal_type", "account", "bucket_owner"]:
        if n[c] != o[c]:
            bad.append((k, c))
    for c in ["keys", "sessions", "source_ips"]:
        if c in n.get("estimated", "") and o[c] and abs(n[c] - o[c]) / o[c] <= 0.03:
            continue
        if n[c] != o[c]:
            bad.append((k, c, n[c], o[c]))
print("yes" if not bad else f"NO: {bad[:3]}")
EOF
)"
        line="$line $bwall | $brss | $same |"
    fi
    echo "$line"
done
echo
first="${sizes[0]}"
awk -v a="${rss_of[$first 0.5]}" -v b="${rss_of[$largest 0.5]}" -v x="$first" -v y="$largest" \
    'BEGIN { printf "peak RSS of the outage trail: %s MiB at %s, %s MiB at %s (%.2fx)\n", a, x, b, y, b / a }'
awk -v o="${mbps[$largest 0.5]}" -v n="${mbps[$largest 0.01]}" -v s="$largest" \
    'BEGIN { printf "throughput at %s: outage %s MB/s, 1%% trail %s MB/s: %.2fx (the bar: >= 0.5x)\n", s, o, n, o / n }'

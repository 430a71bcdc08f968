#!/usr/bin/env bash
# denytrail against the decompression floor, DuckDB and jq, on one synthetic trail, in one run.
#
#   benches/compare.sh                   # 1 GiB trail (decompressed), files of ~50 KB-5 MB gzip'd
#   benches/compare.sh --small-files     # ~23,000 files of ~2 KB gzip'd, as low-traffic trails are
#   benches/compare.sh --size 256MiB --runs 5 --keep /tmp/cmp
#
# Options: --size SIZE (decompressed size of the trail; default 1GiB, or 96MiB with --small-files),
# --small-files, --seed N (42), --runs N (best of N, default 3), --budget SECONDS (a contender gets
# another run only while its runs fit in this, default 60: jq runs once on 1 GiB), --keep DIR
# (keep each contender's output and the timings in DIR instead of a temporary folder).
# Environment: DENYTRAIL (binary to measure; default: `cargo build --release`, then
# $CARGO_TARGET_DIR/release/denytrail), DENYTRAIL_BENCH_DIR (where trails are generated and reused,
# default ~/.cache/denytrail-bench), DENYTRAIL_VENV (Python venv for DuckDB, created and given
# `pip install duckdb` when missing; default ~/.cache/denytrail-venv). Needs pigz, jq, python3, awk.
#
# The trail is `denytrail-synth` output: AWSLogs/<acct>/CloudTrail/<region>/..., ~1% denied S3
# writes. The page cache is warmed first, so every contender reads from memory. Contenders:
#   denytrail scan           the whole job (report as JSON), 1 thread and all threads
#   denytrail --decode-only  denytrail's own gzip stage alone (hidden flag), 1 thread and all threads
#   pigz -dc                 bare decompression to /dev/null: one process, then one per core
#                            (xargs -P) -- the latter is "the floor"
#   DuckDB                   benches/compare/denied.sql through the Python package, all threads
#   jq                       pigz -dc | jq -f benches/compare/denied.jq | awk -f merge.awk: one jq
#                            process (jq has no threads), the decompression beside it in the pipe
# DuckDB and jq compute the same groups as denytrail (same principal/bucket/prefix rules, same
# eventID dedupe and sharedEventID merge); the script checks that and prints a check line.
#
# Columns: wall s = best wall-clock time of the runs (process start to exit); decompressed MB/s =
# the trail's decompressed bytes (10^6) / wall; events/s = CloudTrail records in the trail / wall
# (every contender reads them all); files/s = log files / wall; peak RSS MiB = the largest single
# process of the contender, as GNU time's %M reports it (for a pipeline, its biggest stage; for
# DuckDB, the Python process around it); x floor = wall / the floor's wall.
# Numbers only mean something with a release binary on a quiet machine. Tests never assert timings.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
helpers="$here/compare"
repo="$(dirname "$here")"

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit "${1:-0}"; }

size=""
small=0
seed=42
runs=3
budget=60
keep=""
while [ $# -gt 0 ]; do
    case "$1" in
        --size) size="${2:?--size needs a value}"; shift 2 ;;
        --small-files) small=1; shift ;;
        --seed) seed="${2:?--seed needs a value}"; shift 2 ;;
        --runs) runs="${2:?--runs needs a value}"; shift 2 ;;
        --budget) budget="${2:?--budget needs a value}"; shift 2 ;;
        --keep) keep="${2:?--keep needs a folder}"; shift 2 ;;
        -h|--help) usage 0 ;;
        *) echo "compare.sh: unknown argument $1" >&2; usage 2 >&2 ;;
    esac
done

say() { echo "compare.sh: $*" >&2; }
for tool in pigz jq python3 awk xargs; do
    command -v "$tool" >/dev/null || { say "$tool is required"; exit 1; }
done
[ -x /usr/bin/time ] ||
    say "note: no /usr/bin/time (apt-get install time): each peak RSS will include ~14 MB of Python"
cores="$(nproc)"

# --- the binary -----------------------------------------------------------------------------------
if [ -z "${DENYTRAIL:-}" ]; then
    export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/denytrail-target}"
    say "building the release binary (set DENYTRAIL=... to measure another one)"
    (cd "$repo" && cargo build --release --locked --quiet -p denytrail -p denytrail-synth)
    DENYTRAIL="$CARGO_TARGET_DIR/release/denytrail"
fi
# The trail writer is a dev tool beside the binary (crates/synth), not part of what users install.
SYNTH="${SYNTH:-$(dirname "$DENYTRAIL")/denytrail-synth}"
[ -x "$SYNTH" ] || (cd "$repo" && cargo build --release --quiet -p denytrail-synth)
[ -x "$DENYTRAIL" ] || { say "DENYTRAIL=$DENYTRAIL is not an executable"; exit 1; }
case "$DENYTRAIL" in
    */debug/*) say "warning: $DENYTRAIL is a debug build: its numbers mean nothing" ;;
esac

# --- the output folder ----------------------------------------------------------------------------
if [ -n "$keep" ]; then
    mkdir -p "$keep"
    work="$(cd "$keep" && pwd)"
else
    work="$(mktemp -d "${TMPDIR:-/tmp}/denytrail-compare.XXXXXX")"
    trap 'rm -rf "$work"' EXIT
fi

# --- DuckDB ---------------------------------------------------------------------------------------
venv="${DENYTRAIL_VENV:-$HOME/.cache/denytrail-venv}"
if ! "$venv/bin/python" -c 'import duckdb' 2>/dev/null; then
    say "installing the duckdb Python package into $venv"
    { [ -x "$venv/bin/python" ] || python3 -m venv "$venv"; } && "$venv/bin/pip" install --quiet duckdb >&2 ||
        say "could not install duckdb: its row will be missing"
fi
have_duckdb=0
"$venv/bin/python" -c 'import duckdb' 2>/dev/null && have_duckdb=1

# --- the trail ------------------------------------------------------------------------------------
if [ "$small" = 1 ]; then
    size="${size:-96MiB}" min_file=2KiB max_file=6KiB        # ~2 KB gzip'd, 2-3 records a file
else
    size="${size:-1GiB}" min_file=450KiB max_file=45MiB      # ~50 KB-5 MB gzip'd at ~9:1
fi
bench_dir="${DENYTRAIL_BENCH_DIR:-$HOME/.cache/denytrail-bench}"
trail="$bench_dir/trail-$size-$min_file-$max_file-seed$seed"
summary="$trail.json"          # written last: its presence marks a complete trail
if [ ! -s "$summary" ]; then
    say "generating $trail"
    rm -rf "$trail"
    mkdir -p "$bench_dir"
    "$SYNTH" --out "$trail" --size "$size" --min-file "$min_file" --max-file "$max_file" \
        --seed "$seed" >"$summary.tmp"
    mv "$summary.tmp" "$summary"
else
    say "reusing $trail"
fi
read -r files records denied_writes bytes_c bytes_d < <(jq -r \
    '"\(.files) \(.records) \(.denied_writes) \(.bytes_compressed) \(.bytes_decompressed)"' "$summary")
if [ "$small" = 1 ] && [ "$files" -lt 20000 ]; then
    say "note: $files files, fewer than the 20,000 of the small-files benchmark (raise --size)"
fi

find "$trail" -type f -name '*.json.gz' -print0 | sort -z >"$work/files"
# pigz and jq get the files in batches: few processes, yet one batch per core and then some.
batch=$(( files / (cores * 8) ))
[ "$batch" -ge 1 ] || batch=1
[ "$batch" -le 512 ] || batch=512
# DuckDB reads each file as one JSON object: its limit must exceed the largest decompressed file
# (gzip's trailer holds the size).
max_object=$(python3 - "$work/files" <<'EOF'
import struct, sys
biggest = 0
for path in open(sys.argv[1], "rb").read().split(b"\0"):
    if path:
        with open(path, "rb") as f:
            f.seek(-4, 2)
            biggest = max(biggest, struct.unpack("<I", f.read(4))[0])
print(max(biggest + (1 << 20), 16 << 20))
EOF
)

say "warming the page cache"
xargs -0 -a "$work/files" cat >/dev/null

# --- the contenders -------------------------------------------------------------------------------
keys=()
declare -A label wall rss nruns
# measure KEY LABEL OUT -- COMMAND...: best of $runs (within $budget), stdout to OUT.
measure() {
    local key="$1" name="$2" out="$3" result
    shift 4
    printf 'compare.sh:   %-44s ' "$name" >&2
    keys+=("$key")
    if ! result="$(python3 "$helpers/timeit.py" --runs "$runs" --budget "$budget" --out "$out" -- "$@")"; then
        echo "FAILED" >&2
        label[$key]="$name (failed: see above)"
        return 0
    fi
    read -r "wall[$key]" "rss[$key]" "nruns[$key]" <<<"$result"
    label[$key]="$name"
    echo "${wall[$key]} s, ${nruns[$key]} run(s)" >&2
}

say "timing (best of $runs; $cores cores; $files files, $records records)"
measure dt1 "denytrail scan -j 1" "$work/denytrail-1.json" -- \
    "$DENYTRAIL" scan -q --format json -j 1 "$trail"
measure dtN "denytrail scan -j $cores" "$work/denytrail.json" -- \
    "$DENYTRAIL" scan -q --format json -j "$cores" "$trail"
mkdir -p "$work/empty"
if "$DENYTRAIL" scan --decode-only -q --format json "$work/empty" >/dev/null 2>&1; then
    measure dec1 "denytrail --decode-only -j 1" "$work/decode-1.json" -- \
        "$DENYTRAIL" scan --decode-only -q --format json -j 1 "$trail"
    measure decN "denytrail --decode-only -j $cores" "$work/decode.json" -- \
        "$DENYTRAIL" scan --decode-only -q --format json -j "$cores" "$trail"
else
    say "this denytrail has no --decode-only: its decode-stage row is n/a"
    keys+=(decN)
    label[decN]="denytrail --decode-only (not in this binary)"
fi
measure pigz1 "pigz -dc, 1 process" /dev/null -- \
    xargs -0 -a "$work/files" -n "$batch" pigz -p1 -dc
measure pigzN "pigz -dc, $cores processes (the floor)" /dev/null -- \
    xargs -0 -a "$work/files" -n "$batch" -P "$cores" pigz -p1 -dc
if [ "$have_duckdb" = 1 ]; then
    measure duck "DuckDB, $cores threads" /dev/null -- \
        "$venv/bin/python" "$helpers/duckdb_query.py" "$trail" "$work/duckdb.tsv" "$max_object"
fi
# shellcheck disable=SC2016 # the inner script's own arguments
measure jq "jq, 1 process (fed by pigz -dc)" "$work/jq.tsv" -- bash -c \
    'set -o pipefail; xargs -0 -a "$1" -n "$2" pigz -p1 -dc | jq -r -f "$3" | awk -f "$4" | sort -rn' \
    _ "$work/files" "$batch" "$helpers/denied.jq" "$helpers/merge.awk"

# --- the table ------------------------------------------------------------------------------------
has() { [ -n "${wall[$1]:-}" ]; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
# speed OTHER_WALL DENYTRAIL_WALL: "N.NNx faster" or "N.NNx slower", for denytrail.
speed() {
    awk -v o="$1" -v d="$2" 'BEGIN { if (o >= d) printf "%.2fx faster", o / d; else printf "%.2fx slower", d / o }'
}
{
    echo "$records" "$bytes_d" "$files" "${wall[pigzN]:-0}"
    for k in "${keys[@]}"; do
        printf '%s\t%s\t%s\t%s\n' "${label[$k]}" "${wall[$k]:-}" "${rss[$k]:-}" "${nruns[$k]:-}"
    done
} >"$work/timings.tsv"

echo
echo "### denytrail vs the floor, DuckDB and jq"
echo
duckdb_version=n/a
[ "$have_duckdb" = 0 ] || duckdb_version="$("$venv/bin/python" -c 'import duckdb; print(duckdb.__version__)')"
printf 'Trail: %s files, %s records (%s denied S3 writes), %.1f MB gzip'"'"'d, %.1f MB decompressed (%.1f KB a file gzip'"'"'d).\n' \
    "$files" "$records" "$denied_writes" "$(ratio "$bytes_c" 1e6)" "$(ratio "$bytes_d" 1e6)" \
    "$(ratio "$bytes_c" "$(( files * 1000 ))")"
echo "Machine: $cores cores. $("$DENYTRAIL" --version) ($DENYTRAIL), DuckDB $duckdb_version, $(jq --version), $(pigz --version 2>&1)."
echo
awk -F '\t' '
    NR == 1 { split($0, h, " "); recs = h[1]; bytes = h[2]; files = h[3]; floor = h[4]; next }
    NR == 2 {
        print "| contender | runs | wall s | decompressed MB/s | events/s | files/s | peak RSS MiB | x floor |"
        print "|---|--:|--:|--:|--:|--:|--:|--:|"
    }
    $2 == "" { printf "| %s | 0 | n/a | n/a | n/a | n/a | n/a | n/a |\n", $1; next }
    {
        xf = floor > 0 ? sprintf("%.2f", $2 / floor) : "n/a"
        printf "| %s | %d | %.2f | %.0f | %.0f | %.0f | %.0f | %s |\n", \
            $1, $4, $2, bytes / 1e6 / $2, recs / $2, files / $2, $3 / 1024, xf
    }' "$work/timings.tsv"
echo

# --- the ratios -----------------------------------------------------------------------------------
if has dtN && has pigzN; then
    echo "- denytrail ($cores threads) / floor (pigz -dc, $cores processes): $(ratio "${wall[dtN]}" "${wall[pigzN]}")x the floor's wall time"
fi
if has dtN && has decN; then
    echo "- denytrail ($cores threads) / its own decode stage alone ($cores threads): $(ratio "${wall[dtN]}" "${wall[decN]}")x"
elif has dtN; then
    echo "- denytrail / its own decode stage alone: n/a (no --decode-only in this binary)"
fi
if has dtN && has duck; then
    echo "- DuckDB / denytrail ($cores threads each): denytrail is $(speed "${wall[duck]}" "${wall[dtN]}")"
fi
if has jq && has dtN; then
    line="- jq / denytrail: denytrail is $(speed "${wall[jq]}" "${wall[dtN]}") with $cores threads"
    ! has dt1 || line="$line, $(speed "${wall[jq]}" "${wall[dt1]}") with 1 thread"
    echo "$line"
fi
if [ "$small" = 1 ]; then
    for k in dt1 dtN pigz1 pigzN; do
        has "$k" && echo "- files/s, ${label[$k]}: $(awk -v f="$files" -v w="${wall[$k]}" 'BEGIN { printf "%.0f", f / w }')"
    done
fi
for k in "${keys[@]}"; do
    if has "$k" && [ "${nruns[$k]}" -lt "$runs" ]; then
        echo "- ${label[$k]} ran ${nruns[$k]} time(s), not $runs: one more run would have exceeded the ${budget} s budget"
    fi
done

# --- the same answer? -----------------------------------------------------------------------------
# denied<TAB>principal<TAB>bucket<TAB>prefix, sorted, for each contender that computes groups.
groups_of() { sort -t "$(printf '\t')" -k2,4 "$1" >"$1.sorted"; }
mismatch=0
if has dtN; then
    jq -r '.groups[] | [.denied, .principal, (.bucket // ""), (.prefix // "")] | map(tostring) | join("\t")' \
        "$work/denytrail.json" >"$work/denytrail.tsv"
    groups_of "$work/denytrail.tsv"
    read -r dt_read dt_unique < <(jq -r '"\(.stats.records_read) \(.stats.events_unique)"' "$work/denytrail.json")
    [ "$dt_read" = "$records" ] || echo "- WARNING: denytrail read $dt_read records, the trail has $records"
    summary_of() { awk -F '\t' '{ n++; d += $1 } END { printf "%d groups, %d denied", n, d }' "$1"; }
    echo "- same answer? (groups = principal x bucket x prefix)"
    echo "  - denytrail: $(summary_of "$work/denytrail.tsv.sorted") ($dt_unique unique events)"
    for contender in "duck DuckDB duckdb.tsv" "jq jq jq.tsv"; do
        read -r k name out <<<"$contender"
        has "$k" || continue
        groups_of "$work/$out"
        if cmp -s "$work/denytrail.tsv.sorted" "$work/$out.sorted"; then
            verdict="identical groups and counts"
        else
            mismatch=1
            verdict="DIFFERENT in $(diff "$work/denytrail.tsv.sorted" "$work/$out.sorted" | grep -c '^[<>]' || true) lines"
            verdict="$verdict ($([ -n "$keep" ] && echo "diff $work/{denytrail.tsv,$out}.sorted" || echo "see them with --keep DIR"))"
        fi
        echo "  - $name: $(summary_of "$work/$out.sorted"): $verdict"
    done
    echo "  - DuckDB and jq drop repeated eventIDs and count the copies of a cross-account request (same"
    echo "    sharedEventID) once, as denytrail does; without that merge their counts would be higher by"
    echo "    the bucket owner's copies, grouped under the caller's AROA... id."
fi
[ -z "$keep" ] || say "outputs and timings kept in $work"
[ "$mismatch" = 0 ] || { say "DuckDB or jq did not find denytrail's groups: the comparison is not like for like"; exit 1; }

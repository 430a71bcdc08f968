# Sourced by the benchmark scripts: sets `repo`, `DENYTRAIL` (the binary measured; built with
# `cargo build --release` when not given) and `SYNTH` (the trail writer beside it, a dev tool in
# crates/synth that users do not install; built when missing), and defines `outage_trail`.
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [ -z "${DENYTRAIL:-}" ]; then
    export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/denytrail-target}"
    (cd "$repo" && cargo build --release --quiet -p denytrail -p denytrail-synth)
    DENYTRAIL="$CARGO_TARGET_DIR/release/denytrail"
fi
SYNTH="${SYNTH:-$(dirname "$DENYTRAIL")/denytrail-synth}"
[ -x "$SYNTH" ] || (cd "$repo" && cargo build --release --quiet -p denytrail-synth)

# outage_trail SIZE RATIO: the directory of the generated trail of that size and denied ratio
# (seed 7) under DENYTRAIL_BENCH_DIR (default ~/.cache/denytrail-bench), written once.
outage_trail() {
    local dir="${DENYTRAIL_BENCH_DIR:-$HOME/.cache/denytrail-bench}/outage-$1-ratio$2-seed7"
    if [ ! -f "$dir.json" ]; then
        echo "$(basename "$0"): generating $dir" >&2
        mkdir -p "$(dirname "$dir")"
        "$SYNTH" --out "$dir" --size "$1" --denied-ratio "$2" --seed 7 > "$dir.json.tmp"
        mv "$dir.json.tmp" "$dir.json"
    fi
    echo "$dir"
}

# bench_setup DEFAULT ARGS...: `sizes`, the arguments or else the sizes in DEFAULT, and `work`, a
# scratch directory removed on exit.
bench_setup() {
    local default="$1"
    shift
    read -r -a sizes <<< "${*:-$default}"
    work="$(mktemp -d)"
    trap 'rm -rf "$work"' EXIT
}

# scan_rss BINARY TRAIL OUT: scans TRAIL into OUT (JSON); prints "wall_s rss_mib".
scan_rss() {
    local status=0
    /usr/bin/time -f "%e %M" -o "$work/time" "$1" scan -q -f json "$2" > "$3" || status=$?
    [ "$status" -eq 0 ] || [ "$status" -eq 3 ] || { echo "$1 exited $status" >&2; exit 1; }
    awk '{ printf "%s %d", $1, $2 / 1024 }' "$work/time"
}

# against_baseline LABEL TRAIL_FN SAME_FN: a table row per size in `sizes`, the trail made by
# TRAIL_FN SIZE, scanned by DENYTRAIL and (if set) BASELINE, SAME_FN NEW.json OLD.json saying
# whether the two reports agree (LABEL names that column and the first).
against_baseline() {
    local label="$1" trail_fn="$2" same_fn="$3" n t wall rss bwall brss row
    printf '| %s | wall s | peak RSS MiB |%s\n' "${label%%,*}" "${BASELINE:+ baseline wall s | baseline peak RSS MiB | ${label#*,} |}"
    printf '|--:|--:|--:|%s\n' "${BASELINE:+--:|--:|---|}"
    for n in "${sizes[@]}"; do
        t="$("$trail_fn" "$n")"
        read -r wall rss <<< "$(scan_rss "$DENYTRAIL" "$t" "$work/new.json")"
        row="| $n | $wall | $rss |"
        if [ -n "${BASELINE:-}" ]; then
            read -r bwall brss <<< "$(scan_rss "$BASELINE" "$t" "$work/old.json")"
            row="$row $bwall | $brss | $("$same_fn" "$work/new.json" "$work/old.json") |"
        fi
        echo "$row"
    done
}

# same_groups NEW.json OLD.json [FIELD...]: "yes" when both reports have the same groups (principal,
# bucket, prefix, denied and the FIELDs) and unique events, else "NO".
same_groups() {
    python3 -c "
import json, sys
a, b = (json.load(open(f)) for f in sys.argv[1:3])
key = lambda r: sorted([g['principal'], g['bucket'], g['prefix'], g['denied']] + [str(g.get(f)) for f in sys.argv[3:]] for g in r['groups'])
print('yes' if key(a) == key(b) and a['stats']['events_unique'] == b['stats']['events_unique'] else 'NO')" "$@"
}

# python_trail NAME N: the directory of trail NAME-N under DENYTRAIL_BENCH_DIR (default
# ~/.cache/denytrail-bench), written once by the python3 program on stdin, which is given the
# directory and N.
python_trail() {
    local dir="${DENYTRAIL_BENCH_DIR:-$HOME/.cache/denytrail-bench}/$1-$2"
    if [ ! -f "$dir.done" ]; then
        echo "$(basename "$0"): generating $dir" >&2
        rm -rf "$dir"
        python3 - "$dir" "$2"
        touch "$dir.done"
    fi
    echo "$dir"
}

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

# Sourced by the benchmark scripts: sets `repo`, `DENYTRAIL` (the binary measured; built with
# `cargo build --release` when not given) and `SYNTH` (the trail writer beside it, a dev tool in
# crates/synth that users do not install; built when missing).
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [ -z "${DENYTRAIL:-}" ]; then
    export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/denytrail-target}"
    (cd "$repo" && cargo build --release --quiet -p denytrail -p denytrail-synth)
    DENYTRAIL="$CARGO_TARGET_DIR/release/denytrail"
fi
SYNTH="${SYNTH:-$(dirname "$DENYTRAIL")/denytrail-synth}"
[ -x "$SYNTH" ] || (cd "$repo" && cargo build --release --quiet -p denytrail-synth)

#!/usr/bin/env bash
# Compares flate2's gzip backends on the .json.gz files under DIR, single-threaded, same run.
# zlib-ng needs cmake (apt-get install cmake).  Usage: benches/gzip-backends.sh DIR [ROUNDS]
set -euo pipefail
here="$(cd "$(dirname "$0")/gzip-backends" && pwd)"
dir="${1:?usage: $0 DIR [ROUNDS]}"
rounds="${2:-3}"
target="${CARGO_TARGET_DIR:-$HOME/.cache/denytrail-target}/gzip-backends"
for backend in miniz zlib-rs zlib-ng; do
    cargo build --quiet --release --manifest-path "$here/Cargo.toml" --features "$backend" \
        --target-dir "$target/$backend"
done
for backend in miniz zlib-rs zlib-ng; do
    "$target/$backend/release/gzip-backends" "$dir" "$rounds"
done
if command -v pigz >/dev/null; then
    bytes=$(find "$dir" -name '*.json.gz' -print0 | xargs -0 cat | pigz -dc | wc -c)
    start=$(date +%s.%N)
    find "$dir" -name '*.json.gz' -print0 | xargs -0 cat | pigz -p1 -dc >/dev/null
    end=$(date +%s.%N)
    awk -v b="$bytes" -v s="$start" -v e="$end" 'BEGIN { printf "pigz -p1 -dc\t%.0f MB/s\t(reference, includes cat)\n", b/1e6/(e-s) }'
fi

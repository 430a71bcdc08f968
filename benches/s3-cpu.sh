#!/usr/bin/env bash
# denytrail's CPU per S3 object, against a fast S3 server on loopback (s3s-fs, a Rust S3 server
# over a directory: moto tops out near 200 GETs/s and would hide the client's cost). Prints, for
# each --concurrency, the wall time, objects/s, and denytrail's user+sys CPU per object, beside
# the CPU per file of a local scan of the same files measured in the same run.
#
#   benches/s3-cpu.sh                     # ~7,600 small objects, --concurrency 64 and 256
#   SIZE=80MiB CONCURRENCY="16 64" benches/s3-cpu.sh
#
# The bar (issue 13): <= 120 us of denytrail CPU per small object. Each S3 row is run twice:
# as shipped, and with DENYTRAIL_S3_GET=sdk (every GET through the SDK's orchestrator), the
# baseline measured in the same run. Environment: DENYTRAIL
# (binary; default `cargo build --release`), SYNTH, S3S_FS (default: installed once with
# `cargo install s3s-fs --version 0.14.1 --features binary` into ~/.cache/denytrail-tools).
# Both processes share this machine's cores: the server's CPU is not counted.
set -euo pipefail

# shellcheck source=benches/binaries.sh
. "$(dirname "$0")/binaries.sh"
tools="$HOME/.cache/denytrail-tools"
S3S_FS="${S3S_FS:-$tools/bin/s3s-fs}"
if [ ! -x "$S3S_FS" ]; then
    echo "s3-cpu.sh: installing s3s-fs 0.14.1 into $tools" >&2
    cargo install s3s-fs --version 0.14.1 --features binary --locked --root "$tools" >&2
fi
size="${SIZE:-40MiB}"
concurrency="${CONCURRENCY:-64 256}"

work="$(mktemp -d)"
server=""
cleanup() {
    if [ -n "$server" ]; then kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

mkdir -p "$work/root"
"$SYNTH" --out "$work/root/trail" --size "$size" --min-file 2KiB --max-file 8KiB --seed 7 > "$work/synth.json"
objects="$(find "$work/root/trail" -type f | wc -l)"
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
"$S3S_FS" --host 127.0.0.1 --port "$port" --access-key bench --secret-key bench-secret "$work/root" > "$work/server.log" 2>&1 &
server=$!
for _ in $(seq 50); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
    sleep 0.1
done
export AWS_ACCESS_KEY_ID=bench AWS_SECRET_ACCESS_KEY=bench-secret AWS_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true

cpu_of() { # time file -> "wall cpu_seconds"
    awk '{ printf "%s %.3f", $1, $2 + $3 }' "$1"
}

echo "$objects objects ($(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["bytes_compressed"]//1024, "KiB gzip,", d["bytes_decompressed"]//1024, "KiB")' "$work/synth.json"))"
echo
echo "| run | wall s | objects/s | denytrail CPU s | us CPU per object |"
echo "|---|--:|--:|--:|--:|"
/usr/bin/time -f '%e %U %S' -o "$work/local.time" "$DENYTRAIL" scan "$work/root/trail" -q -f json > "$work/local.json" || [ $? -eq 3 ]
read -r wall cpu <<< "$(cpu_of "$work/local.time")"
awk -v w="$wall" -v c="$cpu" -v n="$objects" 'BEGIN { printf "| local files | %s | %.0f | %s | %.0f |\n", w, n / w, c, c * 1e6 / n }'
# Each --concurrency twice: GETs as denytrail sends them (direct, the SDK's orchestrator only
# for misses), then all through the SDK's client (DENYTRAIL_S3_GET=sdk): the baseline, same run.
for c in $concurrency; do
    for mode in direct sdk; do
        /usr/bin/time -f '%e %U %S' -o "$work/s3.time" env DENYTRAIL_S3_GET="$mode" "$DENYTRAIL" scan "s3://trail/" \
            --endpoint-url "http://127.0.0.1:$port" --concurrency "$c" -q -f json > "$work/s3.json" || [ $? -eq 3 ]
        read -r wall cpu <<< "$(cpu_of "$work/s3.time")"
        read -r files same <<< "$(python3 - "$work/s3.json" "$work/local.json" <<'EOF'
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
key = lambda r: sorted((g["principal"], g["bucket"], g["prefix"], g["denied"]) for g in r["groups"])
print(a["stats"]["files_read"], "yes" if key(a) == key(b) else "NO")
EOF
)"
        [ "$same" = yes ] || echo "s3-cpu.sh: the S3 scan's groups differ from the local scan's" >&2
        [ "$files" -eq "$objects" ] || echo "s3-cpu.sh: read $files of $objects objects" >&2
        [ "$mode" = direct ] && direct_cpu="$cpu"
        label="s3, --concurrency $c"
        [ "$mode" = sdk ] && label="$label, all through the SDK (DENYTRAIL_S3_GET=sdk)"
        awk -v w="$wall" -v c="$cpu" -v n="$objects" -v l="$label" 'BEGIN { printf "| %s | %s | %.0f | %s | %.0f |\n", l, w, n / w, c, c * 1e6 / n }'
    done
    awk -v d="$direct_cpu" -v s="$cpu" -v k="$c" 'BEGIN { printf "--concurrency %s: direct GETs cost %.2fx the CPU of SDK GETs\n", k, d / s }' >&2
done

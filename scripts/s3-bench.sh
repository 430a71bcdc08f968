#!/usr/bin/env bash
# Measures `denytrail scan s3://…` against moto on loopback: objects/s, MB/s (compressed and
# decompressed) and peak RSS, at --concurrency 1 and at the default, on a synthetic trail of many
# small objects (`denytrail-synth`, ~12,400 objects of 2-8 KiB decompressed for 64MiB).
#
#   PROFILE=debug|release|dev-opt
#                           which build to measure: debug (default); release (~20 min cold);
#                           dev-opt = the debug build with denytrail's own crate at opt-level 3
#                           (dependencies stay as built; rebuilds only denytrail, and replaces
#                           the debug binary until the next plain `cargo build`)
#   BIN=path                measure this binary instead of building one (PROFILE is then a label)
#   SIZE=64MiB              decompressed size of the synthetic trail
#   CONCURRENCY="1 256"     the --concurrency values to measure (256 is the default)
#
# Note that moto (a single Python process) is usually the bottleneck, not denytrail: the
# figures are a floor for what a real S3 endpoint gives.
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/denytrail-target}"
profile="${PROFILE:-debug}"
size="${SIZE:-64MiB}"
concurrency="${CONCURRENCY:-1 256}"

moto="$(scripts/moto-server.sh)"
python="$(dirname "$moto")/python"

if [ -n "${BIN:-}" ]; then
    bin="$BIN"
else case "$profile" in
    release) cargo build --release --quiet; bin="$CARGO_TARGET_DIR/release/denytrail" ;;
    dev-opt) cargo build --quiet --config 'profile.dev.package.denytrail.opt-level=3'; bin="$CARGO_TARGET_DIR/debug/denytrail" ;;
    *) cargo build --quiet; bin="$CARGO_TARGET_DIR/debug/denytrail" ;;
esac; fi
# The trail writer is a dev tool (crates/synth), built beside the binary being measured.
synth="$(dirname "$bin")/denytrail-synth"
if [ ! -x "$synth" ]; then
    cargo build --quiet --release -p denytrail-synth
    synth="$CARGO_TARGET_DIR/release/denytrail-synth"
fi

work="$(mktemp -d)"
moto_pid=""
cleanup() {
    if [ -n "$moto_pid" ]; then kill "$moto_pid" 2>/dev/null || true; wait "$moto_pid" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

echo "== synthetic trail ($size)" >&2
"$synth" --out "$work/trail" --size "$size" --min-file 2KiB --max-file 8KiB >"$work/synth.json"
cat "$work/synth.json" >&2

port="$("$python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
"$moto" -H 127.0.0.1 -p "$port" >"$work/moto.log" 2>&1 &
moto_pid=$!
endpoint="http://127.0.0.1:$port"

export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true
echo "== uploading to $endpoint" >&2
"$python" - "$endpoint" "$work/trail" <<'EOF'
import os, sys, time
from concurrent.futures import ThreadPoolExecutor
import boto3, botocore

endpoint, root = sys.argv[1], sys.argv[2]
for _ in range(100):
    try:
        s3 = boto3.client("s3", endpoint_url=endpoint, config=botocore.config.Config(max_pool_connections=32))
        s3.create_bucket(Bucket="bench")
        break
    except Exception:
        time.sleep(0.2)
files = [os.path.join(d, f) for d, _, fs in os.walk(root) for f in fs]
def put(path):
    with open(path, "rb") as f:
        s3.put_object(Bucket="bench", Key=os.path.relpath(path, root), Body=f.read())
with ThreadPoolExecutor(32) as pool:
    list(pool.map(put, files))
print(f"uploaded {len(files)} objects", file=sys.stderr)
EOF

measure() {
    local label="$1"; shift
    local out="$work/$label.json" timing="$work/$label.time"
    local code=0
    /usr/bin/time -v "$bin" scan --format json -q "$@" >"$out" 2>"$timing" || code=$?
    "$python" - "$label" "$out" "$timing" "$code" <<'EOF'
import json, re, sys
label, out, timing, code = sys.argv[1:]
s = json.load(open(out))["stats"]
t = open(timing).read()
rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", t).group(1))
wall = s["elapsed_seconds"]
print(f"{label:<22} exit {code}  {s['files_read']:>6} objects  {wall:6.2f} s  "
      f"{s['files_read']/wall:8.0f} objects/s  {s['bytes_compressed']/wall/1e6:6.2f} MB/s compressed  "
      f"{s['bytes_decompressed']/wall/1e6:6.2f} MB/s decompressed  peak RSS {rss/1024:6.1f} MiB  "
      f"({s['records_read']} records, {s['files_failed']} failed)")
EOF
}

echo "== $profile build, $(nproc) cores" >&2
measure "local" "$work/trail"
for c in $concurrency; do
    measure "s3 --concurrency $c" --concurrency "$c" --endpoint-url "$endpoint" "s3://bench/"
done

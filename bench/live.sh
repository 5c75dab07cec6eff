#!/usr/bin/env bash
# Live-edge latency of the file sink: one chunked upload, 100 readers of the
# same growing file, chunk send-to-delivery latency p50/p99 (on loopback).
#
#   bench/live.sh [READERS] [CHUNKS]
set -euo pipefail
cd "$(dirname "$0")/.."
READERS=${1:-100}
CHUNKS=${2:-400}
cargo build --release -q -p httpout
cargo build --release -q -p httpout-static --example live_latency
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$work"' EXIT
./target/release/httpout --rdirs="$work" --wdir="$work" --ifce=127.0.0.1 --port=0 \
  --maxc=0 --maxp=0 --wait_new=5000 > "$work/out" 2>&1 &
for _ in $(seq 50); do grep -q listening "$work/out" && break; sleep 0.1; done
url=$(sed -n 's/^listening on //p' "$work/out")
./target/release/examples/live_latency "$url" "$READERS" "$CHUNKS"

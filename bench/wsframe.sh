#!/usr/bin/env bash
# WebSocket framing: echo servers on tokio-tungstenite 0.30 (configured as
# httpout-core configures it: 4 KiB read buffer, no write buffer), on
# fastwebsockets, and on tokio-tungstenite with its default buffers, each a
# child process of bench/wsframe/ driven over loopback by one client
# (tokio-tungstenite's). Per round and server: 64 KiB binary echo
# throughput and 100 B text round trips per second, each with the server's CPU
# time per MiB or per round trip (the figure to compare on a loaded machine),
# and the server RSS growth with IDLE
# idle open sockets. Rounds interleave the servers, order flipped each
# round; medians and ratios to tungstenite at the end. Results and the
# command go in docs/benchmarks.md.
#
#   bench/wsframe.sh                 # 5 s windows, 5 rounds, 1000 idle sockets (about 3 min)
#   bench/wsframe.sh 10 5 1000
set -euo pipefail
cd "$(dirname "$0")/.."
WINDOW=${1:-5}
ROUNDS=${2:-5}
IDLE=${3:-1000}
for v in WINDOW ROUNDS IDLE; do
  [[ ${!v} =~ ^[1-9][0-9]*$ ]] || { echo "$v must be a positive number, not '${!v}'" >&2; exit 2; }
done
# The client holds IDLE sockets and the server IDLE more, each in its process.
need=$((IDLE + 64))
[ "$(ulimit -Hn)" -ge "$need" ] || { echo "open files hard limit $(ulimit -Hn) is under $need for IDLE=$IDLE" >&2; exit 1; }
ulimit -n "$need"
# Own target dir, like bench/fanout/: the bench is not in the workspace.
(cd bench/wsframe && CARGO_TARGET_DIR=target cargo build --release --quiet)
echo "# $(nproc) cores shared by the server under test and the client"
exec bench/wsframe/target/release/wsframe "$WINDOW" "$ROUNDS" "$IDLE"

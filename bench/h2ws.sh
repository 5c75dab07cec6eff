#!/usr/bin/env bash
# HTTP/2 WebSockets (RFC 8441) under load, beside HTTP/1.1 ones: httpout-
# core's WebSocket echo server (h2c by prior knowledge and HTTP/1.1 on one
# listener, engine defaults but no connection limits) as a child process
# of bench/h2ws/, driven over loopback by one client (hyper 1's client
# connections + tokio-tungstenite). Over HTTP/2 every socket is a stream
# (extended CONNECT), as many per connection as the server's max concurrent
# streams (32); over HTTP/1.1 every socket is a connection. Per round and
# protocol, each on a fresh server: SOCKETS sockets echoing 64 KiB binary
# messages at once (MiB/s, server CPU per MiB), then 100 B text (round
# trips/s, server CPU per round trip); one bulk socket beside one ping
# socket (the ping's median and p99 round trip), the bulk flat out, then
# paced at 62.5 MiB/s, then silent; the server RSS growth per idle open
# socket with IDLE of them. Rounds interleave the protocols, order flipped
# each round; medians and h2/h1 ratios at the end. Results and the command
# go in docs/benchmarks.md. H2WS_ONLY=h1 or h2 runs one protocol (to
# attach perf to its server).
#
#   bench/h2ws.sh                    # 3 s windows, 5 rounds, 100 sockets, 1000 idle (about 3.5 min)
#   bench/h2ws.sh 5 7 100 1000
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -le 4 ] || { echo "usage: bench/h2ws.sh [SECONDS] [ROUNDS] [SOCKETS] [IDLE]" >&2; exit 2; }
WINDOW=${1:-3}
ROUNDS=${2:-5}
SOCKETS=${3:-100}
IDLE=${4:-1000}
for v in WINDOW ROUNDS SOCKETS IDLE; do
  [[ ${!v} =~ ^[1-9][0-9]*$ ]] || { echo "$v must be a positive number, not '${!v}'" >&2; exit 2; }
done
# Over HTTP/1.1 the client holds IDLE (+1) connections and the server as
# many, each in its process; the load sockets are closed by then.
max=$(( IDLE > SOCKETS ? IDLE : SOCKETS ))
need=$((max + 64))
[ "$(ulimit -Hn)" -ge "$need" ] || { echo "open files hard limit $(ulimit -Hn) is under $need for IDLE=$IDLE SOCKETS=$SOCKETS" >&2; exit 1; }
ulimit -n "$need"
# Own target dir, like bench/wsframe/: the bench is not in the workspace.
(cd bench/h2ws && CARGO_TARGET_DIR=target cargo build --release --quiet)
echo "# $(nproc) cores shared by the server under test and the client"
exec bench/h2ws/target/release/h2ws "$WINDOW" "$ROUNDS" "$SOCKETS" "$IDLE"

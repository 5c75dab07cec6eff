#!/usr/bin/env bash
# The latency relays add, on a three-level tree on loopback: an origin
# (httpout, a 128 kbit/s MP3 paced with --rt), two relays of it, and a relay
# of the first relay (a fourth level, for depth); one listener on each, all
# asking for ICY titles. RUNS times, the origin's title is changed
# (/admin/metadata) and each listener's arrival time of the new title is
# taken; a title travels in-band with the audio, so its delay is the
# stream's. Prints, per relay, the added latency (its listener's arrival
# minus the origin listener's): median and max in ms. Results and the
# command go in docs/benchmarks.md.
#
#   bench/relay_tree.sh                 # 20 changes, default --batch (250 ms)
#   RUNS=50 BATCH=20 bench/relay_tree.sh
#
# METAINT: ICY interval of every server (default 500 bytes, 31 ms of the
# stream: the resolution of the measure). Needs: ffmpeg, python3, curl.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-20}
BATCH=${BATCH:-250}
METAINT=${METAINT:-500}
BIN=${CARGO_TARGET_DIR:-target}/release/httpout
[ -x "$BIN" ] || cargo build --release -p httpout
for tool in ffmpeg python3 curl; do
  command -v "$tool" >/dev/null || { echo "$tool is missing" >&2; exit 1; }
done

work=$(mktemp -d)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null; rm -rf "$work"' EXIT
ffmpeg -loglevel error -f lavfi -i sine=frequency=440:duration=60 -ar 44100 \
  -c:a libmp3lame -b:a 128k -f mp3 "$work/tone.mp3"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
start() {   # PORT ARGS...
  local port=$1; shift
  "$BIN" --ifce=127.0.0.1 --port="$port" --metaint="$METAINT" --batch="$BATCH" "$@" \
    > "$work/$port.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 100); do grep -q '^listening on' "$work/$port.log" && return; sleep 0.1; done
  echo "httpout on $port did not start" >&2; cat "$work/$port.log" >&2; exit 1
}
O=$(free_port); A=$(free_port); B=$(free_port); C=$(free_port)
start "$O" --admin_password=adminpw -i "$work/tone.mp3" -o http://127.0.0.1/live.mp3 --rt --reopen --title=T
start "$A" -i "http://127.0.0.1:$O/live.mp3" -o http://127.0.0.1/live.mp3
start "$B" -i "http://127.0.0.1:$O/live.mp3" -o http://127.0.0.1/live.mp3
start "$C" -i "http://127.0.0.1:$A/live.mp3" -o http://127.0.0.1/live.mp3
sleep 2

echo "httpout $(git describe --always --dirty 2>/dev/null || echo '?'), --batch=$BATCH, --metaint=$METAINT, $RUNS title changes" >&2
python3 - "$O" "$A" "$B" "$C" "$RUNS" "$METAINT" <<'PY'
import base64, socket, statistics, sys, threading, time, urllib.request

o, a, b, c, runs, metaint = sys.argv[1:7]
runs, metaint = int(runs), int(metaint)
ports = {"origin": o, "relay A": a, "relay B": b, "relay of A": c}
seen = {name: {} for name in ports}   # title -> monotonic arrival

def listen(name, port):
    s = socket.create_connection(("127.0.0.1", int(port)))
    s.sendall(b"GET /live.mp3 HTTP/1.0\r\nIcy-MetaData: 1\r\n\r\n")
    buf = b""
    while b"\r\n\r\n" not in buf:
        buf += s.recv(4096)
    buf = buf.split(b"\r\n\r\n", 1)[1]
    until = metaint
    while True:
        while len(buf) <= until:
            more = s.recv(65536)
            if not more:
                return
            buf += more
        buf = buf[until:]
        n = buf[0] * 16
        while len(buf) < 1 + n:
            buf += s.recv(65536)
        text = buf[1:1 + n].rstrip(b"\0").decode("utf-8", "replace")
        buf = buf[1 + n:]
        until = metaint
        if text.startswith("StreamTitle='"):
            title = text[len("StreamTitle='"):].split("';")[0]
            seen[name].setdefault(title, time.monotonic())

for name, port in ports.items():
    threading.Thread(target=listen, args=(name, port), daemon=True).start()
time.sleep(3)
auth = base64.b64encode(b"admin:adminpw").decode()
added = {name: [] for name in ports if name != "origin"}
for i in range(runs):
    title = f"change {i}"
    req = urllib.request.Request(
        f"http://127.0.0.1:{o}/admin/metadata?mount=/live.mp3&mode=updinfo&song=change%20{i}",
        headers={"Authorization": f"Basic {auth}"})
    urllib.request.urlopen(req, timeout=5).read()
    deadline = time.monotonic() + 15
    while any(title not in seen[n] for n in ports) and time.monotonic() < deadline:
        time.sleep(0.01)
    if any(title not in seen[n] for n in ports):
        sys.exit(f"{title} did not reach every listener in 15 s: " +
                 ", ".join(n for n in ports if title not in seen[n]))
    for n in added:
        added[n].append((seen[n][title] - seen["origin"][title]) * 1000)
    time.sleep(0.7)
print(f"{'listener':<12} {'added latency, median ms':>26} {'max ms':>8}   every change, ms")
for n, v in added.items():
    print(f"{n:<12} {statistics.median(v):>26.0f} {max(v):>8.0f}   " + " ".join(f"{x:.0f}" for x in v))
PY

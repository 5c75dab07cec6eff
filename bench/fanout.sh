#!/usr/bin/env bash
# Live fan-out: httpout's live sink and icecast2 side by side, N listeners of
# one 128 kbit/s MP3 stream pushed by ffmpeg (icecast:// source, one ffmpeg per
# server, same file, same moment), on loopback. For each N it prints the
# server's CPU time during the measuring window, peak and final RSS, how many
# listeners connected, were dropped, fell behind, and their median rate; then
# the ratio httpout / icecast2 for CPU and RSS. Results and the command go in
# docs/benchmarks.md.
#
#   bench/fanout.sh                       # N = 100 1000 10000, 20 s windows
#   bench/fanout.sh "100 1000" 10
#   STALL=0 RATE=300 SETTLE=2 HTTPOUT_ARGS=... bench/fanout.sh
#
# STALL: extra listeners per run that connect and never read (default 10);
# RATE: connects per second during the ramp (default 300: Icecast listens with
# a backlog of 5, faster ramps measure its SYN drops, see bench/fanout/);
# SETTLE: seconds between the end of the ramp and the window (default 2).
# Needs: icecast2, ffmpeg, curl, python3 (Debian packages; not installed here).
set -euo pipefail
cd "$(dirname "$0")/.."
N_LIST=${1:-"100 1000 10000"}
WINDOW=${2:-20}        # not SECONDS: that one is bash's own clock
STALL=${STALL:-10}
RATE=${RATE:-300}
SETTLE=${SETTLE:-2}
BITRATE=128000

need=()
for tool in icecast2:icecast2 ffmpeg:ffmpeg curl:curl python3:python3; do
  command -v "${tool%%:*}" >/dev/null || need+=("${tool#*:}")
done
if [ ${#need[@]} -gt 0 ]; then
  echo "missing: ${need[*]}; install with: apt-get install -y ${need[*]}" >&2
  exit 1
fi

# Every listener is a file descriptor in the client and one in the server.
ulimit -n "$(ulimit -Hn)"
max_n=0; for n in $N_LIST; do [ "$n" -gt "$max_n" ] && max_n=$n; done
if [ $((max_n + STALL + 200)) -gt "$(ulimit -n)" ]; then
  echo "ulimit -n is $(ulimit -n): too low for $max_n listeners (+$STALL stalled)" >&2
  exit 1
fi

cargo build --release -q -p httpout
cargo build --release -q --manifest-path bench/fanout/Cargo.toml
FANOUT=bench/fanout/target/release/fanout

work=$(mktemp -d)
chmod 755 "$work"        # icecast2 drops root for its own user and writes its logs here
pids=()                  # every process this script started, stopped by id
stop_all() {
  local p
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for _ in $(seq 50); do   # up to 5 s for them to go, then SIGKILL
    local alive=0
    for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
    [ $alive = 0 ] && break
    sleep 0.1
  done
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  pids=()
}
trap 'stop_all; rm -rf "$work"' EXIT
trap 'exit 130' INT TERM

ffmpeg -nostdin -loglevel error -f lavfi -i sine=frequency=440:duration=30 \
  -c:a libmp3lame -b:a 128k "$work/tone.mp3"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# icecast2 refuses to run as root unless <changeowner> is set: then it binds as
# root and switches to that user (the Debian package's icecast2:icecast).
ICE_OWNER=""
if [ "$(id -u)" -eq 0 ]; then
  if id icecast2 >/dev/null 2>&1; then
    ICE_OWNER="<changeowner><user>icecast2</user><group>$(id -gn icecast2)</group></changeowner>"
    ice_user=icecast2
  else
    ICE_OWNER="<changeowner><user>nobody</user><group>nogroup</group></changeowner>"
    ice_user=nobody
  fi
fi

# start_icecast N -> ICE_PID, ICE_PORT
start_icecast() {
  local dir="$work/icecast-$1"
  mkdir -p "$dir/log"
  [ -n "$ICE_OWNER" ] && chown "$ice_user" "$dir/log"
  ICE_PORT=$(free_port)
  cat > "$dir/icecast.xml" <<XML
<icecast>
  <limits>
    <clients>$(($1 + STALL + 100))</clients>
    <sources>2</sources>
    <queue-size>524288</queue-size>
    <burst-size>65536</burst-size>
  </limits>
  <authentication>
    <source-password>hackme</source-password>
    <admin-user>admin</admin-user>
    <admin-password>hackme</admin-password>
  </authentication>
  <hostname>127.0.0.1</hostname>
  <listen-socket><port>$ICE_PORT</port><bind-address>127.0.0.1</bind-address></listen-socket>
  <paths>
    <logdir>$dir/log</logdir>
    <webroot>/usr/share/icecast2/web</webroot>
    <adminroot>/usr/share/icecast2/admin</adminroot>
  </paths>
  <logging><accesslog>access.log</accesslog><errorlog>error.log</errorlog><loglevel>3</loglevel></logging>
  <security><chroot>0</chroot>$ICE_OWNER</security>
</icecast>
XML
  icecast2 -c "$dir/icecast.xml" > "$dir/icecast.out" 2>&1 &   # foreground: no <background>
  ICE_PID=$!
  pids+=("$ICE_PID")
  for _ in $(seq 50); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$ICE_PORT/")" != 000 ] && return 0
    kill -0 "$ICE_PID" 2>/dev/null || break
    sleep 0.1
  done
  echo "icecast2 did not start:" >&2; cat "$dir/icecast.out" "$dir/log/error.log" >&2 2>/dev/null
  return 1
}

# start_httpout N -> HO_PID, HO_PORT (returns 1 if httpout cannot run the live sink)
start_httpout() {
  local out="$work/httpout-$1.out"
  # shellcheck disable=SC2086
  ./target/release/httpout --ifce=127.0.0.1 --port=0 --source_password=hackme --maxc=0 --maxp=0 \
    --max_async_buf=512K --burst=64K ${HTTPOUT_ARGS:-} > "$out" 2>&1 &
  HO_PID=$!
  pids+=("$HO_PID")
  for _ in $(seq 50); do
    grep -q '^listening on' "$out" && break
    kill -0 "$HO_PID" 2>/dev/null || break
    sleep 0.1
  done
  HO_PORT=$(sed -n 's#^listening on http://127.0.0.1:\([0-9]*\).*#\1#p' "$out" | head -1)
  if [ -z "$HO_PORT" ]; then
    echo "httpout did not start (live sink options not available?):" >&2; cat "$out" >&2
    return 1
  fi
}

# start_source PORT LOGNAME: ffmpeg pushes the tone, looped, at its own pace;
# returns once the mount answers 200 (at most 10 s).
start_source() {
  ffmpeg -nostdin -loglevel warning -re -stream_loop -1 -i "$work/tone.mp3" -c copy -f mp3 \
    -content_type audio/mpeg "icecast://source:hackme@127.0.0.1:$1/live.mp3" > "$work/$2" 2>&1 &
  pids+=("$!")
  for _ in $(seq 20); do
    # a live body never ends: curl stops after 1 s (exit 28) but has the status
    [ "$(curl -s -m 1 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$1/live.mp3" || true)" = 200 ] && return 0
    sleep 0.5
  done
  echo "the source on port $1 did not come up:" >&2; cat "$work/$2" >&2
  return 1
}

# field KEY < RESULT line
field() { awk -v k="$1" '{ for (i = 1; i <= NF; i++) { split($i, kv, "="); if (kv[1] == k) print kv[2] } }'; }
mib() { awk -v k="$1" 'BEGIN { if (k ~ /^[0-9]+$/) printf "%.1f", k / 1024; else print "n/a" }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a ~ /^[0-9.]+$/ && b ~ /^[0-9.]+$/ && b > 0) printf "%.2f", a/b; else print "n/a" }'; }

cat <<EOF
# bench/fanout.sh: N listeners of one ${BITRATE} bit/s MP3 live stream, ${WINDOW} s window, loopback
# $(nproc) cores shared by the server under test, the load client (one thread), and two ffmpeg
# sources (one per server; both servers and sources run during each N, loaded one at a time).
# Ramp: $RATE connects/s, at most 200 in flight, then ${SETTLE} s settle; $STALL more listeners
# per run never read.
# icecast2 $(icecast2 -v 2>/dev/null | head -1 | awk '{print $2}'): queue-size 512K, burst-size 64K;
# httpout: --max_async_buf=512K --burst=64K ${HTTPOUT_ARGS:-}
# Rates are payload (httpout's chunk framing removed by the client's decoder).
EOF

rows=()
httpout_ok=1
for n in $N_LIST; do
  start_icecast "$n"
  start_source "$ICE_PORT" "ffmpeg-icecast-$n.log"
  servers=("icecast2 $ICE_PID $ICE_PORT")
  if [ $httpout_ok = 1 ] && start_httpout "$n"; then
    start_source "$HO_PORT" "ffmpeg-httpout-$n.log"
    servers+=("httpout $HO_PID $HO_PORT")
  else
    httpout_ok=0
  fi
  declare -A res=()
  for s in "${servers[@]}"; do
    read -r name pid port <<<"$s"
    echo
    echo "== $name, N=$n"
    # the client's own watchdog ends it well before this outer bound
    timeout $((2 * n / RATE + SETTLE + WINDOW + 90)) "$FANOUT" "http://127.0.0.1:$port/live.mp3" "$n" \
      "$WINDOW" "$BITRATE" --stall "$STALL" --pid "$pid" --rate "$RATE" --settle "$SETTLE" \
      | tee "$work/$name-$n.txt"
    kill -0 "$pid" 2>/dev/null || echo "!! $name (pid $pid) is not running any more" >&2
    res[$name]=$(grep '^RESULT' "$work/$name-$n.txt" || echo RESULT)
  done
  # what the servers logged about dropping listeners
  ice_drops=$(grep -c 'fallen too far behind' "$work/icecast-$n/log/error.log" 2>/dev/null || true)
  echo "icecast2 log: ${ice_drops:-0} listeners 'fallen too far behind'"
  if [ -f "$work/httpout-$n.out" ]; then
    echo "httpout log: $(grep -c 'behind the live point' "$work/httpout-$n.out" || true) listeners dropped for lag"
  fi
  for name in icecast2 httpout; do
    r=${res[$name]:-}
    [ -n "$r" ] || continue
    rows+=("$(printf '%-9s %6s %7s %6s %9s %8s %7s %7s %7s %7s %8s' "$name" "$n" \
      "$(field server_cpu_s <<<"$r")" "$(field server_cpu_pct <<<"$r")" \
      "$(mib "$(field hwm_kib <<<"$r")")" "$(mib "$(field rss_kib <<<"$r")")" \
      "$(field ok <<<"$r")" "$(($(field bad_status <<<"$r") + $(field failed <<<"$r") + $(field pending <<<"$r")))" \
      "$(field dropped <<<"$r")" "$(field behind <<<"$r")" "$(field median_kbps <<<"$r")")")
  done
  if [ -n "${res[httpout]:-}" ]; then
    a=${res[httpout]}; b=${res[icecast2]}
    rows+=("$(printf '%-9s %6s %7s %6s %9s %8s' "ratio" "$n" \
      "$(ratio "$(field server_cpu_s <<<"$a")" "$(field server_cpu_s <<<"$b")")" "" \
      "$(ratio "$(field hwm_kib <<<"$a")" "$(field hwm_kib <<<"$b")")" \
      "$(ratio "$(field rss_kib <<<"$a")" "$(field rss_kib <<<"$b")")")")
  fi
  unset res
  stop_all
done

echo
echo "# ${WINDOW} s window; CPU = utime+stime of the server in the window; RSS in MiB (VmHWM, VmRSS at the end);"
echo "# ok = got 200; no 200 = failed to connect, other status or no response; ratio = httpout / icecast2"
printf '%-9s %6s %7s %6s %9s %8s %7s %7s %7s %7s %8s\n' server N "CPU s" "CPU %" "peak RSS" "RSS end" \
  ok "no 200" dropped behind "kbit/s"
printf '%s\n' "${rows[@]}"
[ $httpout_ok = 1 ] || echo "# httpout did not run: its live sink options are not available in this build"

#!/usr/bin/env bash
# Side-by-side benchmark of httpout's static server and nginx (one worker)
# on the same files, on loopback. Results and the command go in
# docs/benchmarks.md.
#
#   bench/static.sh                       # 10 s runs, 3 pairs per figure
#   DURATION=20 REPEAT=5 bench/static.sh
#   HTTPOUT_ARGS=--block_size=10000 bench/static.sh   # extra httpout options
#
# DURATION: seconds per run (default 10). REPEAT: pairs per figure (default 3).
#
# Every figure is measured in interleaved pairs, httpout then nginx, REPEAT
# times (h, n, h, n, h, n): a slow drift of the machine (another process, CPU
# frequency, page cache) lands on both servers instead of on whichever ran
# last. The table prints the MEDIAN run of each server, which one outlier
# cannot move, and the ratio httpout / nginx of the medians; every run is
# listed below the table to show the spread.
#
# Figures:
#   - 1 KiB GET, keep-alive, 50 connections, HTTP/1.1 (wrk -t1): req/s.
#   - 1 KiB GET over h2c with prior knowledge, 50 connections x 10 streams
#     (h2load -t1): req/s. httpout speaks h2c prior knowledge on its plain TCP
#     port; nginx 1.22 does on a `listen ... http2` port without ssl (a second
#     port of the same server block: such a port answers only HTTP/2).
#   - 1 GiB download, one client (curl, one whole file): MiB/s.
#   - 10 MiB downloads, 100 connections (wrk -t1): MiB/s.
#   - 1 GiB downloads, 1000 connections (wrk -t1): MiB/s; no download
#     finishes within a run, wrk counts the bytes as they arrive.
#   - Peak RSS during the 1000-connection run, KiB. VmHWM is the peak since the
#     process started, so read at the end of the script it would report the
#     worst of all runs, and after an earlier run it would carry that run's
#     peak. Each server is therefore RESTARTED just before each of its
#     1000-connection runs and its VmHWM read right after: the figure is the
#     peak of a fresh process (its start-up, i.e. the idle RSS, plus that one
#     run), exact rather than sampled. For nginx it is the worker's (the master
#     only forks it and stays at its start-up size).
#
# nginx 1.22 (Debian nginx-light): worker_processes 1, sendfile on,
# tcp_nopush on, access_log off. httpout: release build, --maxc=0 --maxp=0
# (the default per-peer limit of 6 would turn most of wrk's connections away).
# Files in the page cache. Client and servers share the machine's cores.
#
# Needs: nginx, wrk, h2load, curl, python3 (installed with apt-get when
# missing).
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-10}
REPEAT=${REPEAT:-3}
[ "$REPEAT" -ge 1 ] || { echo "REPEAT must be >= 1" >&2; exit 1; }

need=()
for tool in nginx:nginx-light wrk:wrk h2load:nghttp2-client curl:curl python3:python3; do
  command -v "${tool%%:*}" >/dev/null || need+=("${tool#*:}")
done
if [ ${#need[@]} -gt 0 ]; then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}"
fi

# 1000 connections: one descriptor each in wrk and in the server.
ulimit -n "$(ulimit -Hn)"
[ "$(ulimit -n)" -ge 2200 ] || { echo "ulimit -n is $(ulimit -n): too low for 1000 connections" >&2; exit 1; }

cargo build --release -q -p httpout
HTTPOUT_BIN=${CARGO_TARGET_DIR:-target}/release/httpout

work=$(mktemp -d)
HTTPOUT_PID=""; NGINX_MASTER=""
stop_httpout() {
  [ -n "$HTTPOUT_PID" ] || return 0
  kill "$HTTPOUT_PID" 2>/dev/null || true
  wait "$HTTPOUT_PID" 2>/dev/null || true
  HTTPOUT_PID=""
}
stop_nginx() {
  [ -n "$NGINX_MASTER" ] || return 0
  kill "$NGINX_MASTER" 2>/dev/null || true   # TERM: fast shutdown
  for _ in $(seq 50); do kill -0 "$NGINX_MASTER" 2>/dev/null || break; sleep 0.1; done
  NGINX_MASTER=""
}
trap 'stop_httpout; stop_nginx; rm -rf "$work"' EXIT
chmod 755 "$work"   # nginx's worker runs as www-data
mkdir -p "$work/www" "$work/nginx"
head -c 1024 /dev/urandom > "$work/www/1k.bin"
head -c $((10 << 20)) /dev/urandom > "$work/www/10m.bin"
head -c 1G /dev/zero > "$work/www/1g.bin"
cat "$work/www/"* > /dev/null   # warm the page cache: neither server pays for the first read

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
NGINX_PORT=$(free_port)
NGINX_H2_PORT=$(free_port)
cat > "$work/nginx/nginx.conf" <<CONF
worker_processes 1;
pid $work/nginx.pid;
error_log $work/nginx/error.log;
events { worker_connections 4096; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 1000000;
  client_body_temp_path $work/nginx;
  proxy_temp_path $work/nginx;
  fastcgi_temp_path $work/nginx;
  uwsgi_temp_path $work/nginx;
  scgi_temp_path $work/nginx;
  server {
    listen 127.0.0.1:$NGINX_PORT;
    listen 127.0.0.1:$NGINX_H2_PORT http2;   # h2c, prior knowledge only
    root $work/www;
  }
}
CONF
NGINX_URL="http://127.0.0.1:$NGINX_PORT"
NGINX_H2_URL="http://127.0.0.1:$NGINX_H2_PORT"

# (Re)start a server; sets its pid (for nginx: the worker's, NGINX_PID) and URL.
start_nginx() {
  stop_nginx
  rm -f "$work/nginx.pid"
  nginx -c "$work/nginx/nginx.conf" -e "$work/nginx/error.log"
  for _ in $(seq 50); do [ -s "$work/nginx.pid" ] && break; sleep 0.1; done
  NGINX_MASTER=$(cat "$work/nginx.pid")
  NGINX_PID=""
  for _ in $(seq 50); do
    NGINX_PID=$(pgrep -P "$NGINX_MASTER" | head -1 || true)
    [ -n "$NGINX_PID" ] && break
    sleep 0.1
  done
  [ -n "$NGINX_PID" ] || { echo "nginx started no worker" >&2; exit 1; }
}
start_httpout() {
  stop_httpout
  # shellcheck disable=SC2086
  "$HTTPOUT_BIN" --rdirs="$work/www" --ifce=127.0.0.1 --port=0 --maxc=0 --maxp=0 ${HTTPOUT_ARGS:-} \
    > "$work/httpout.out" 2>&1 &
  HTTPOUT_PID=$!
  for _ in $(seq 50); do grep -q '^listening on ' "$work/httpout.out" && break; sleep 0.1; done
  HTTPOUT_URL=$(sed -n 's/^listening on //p' "$work/httpout.out" | head -1)
  [ -n "$HTTPOUT_URL" ] || { echo "httpout did not start:" >&2; cat "$work/httpout.out" >&2; exit 1; }
}
start_nginx
start_httpout

# Both servers must answer 200, over HTTP/1.1 and over h2c prior knowledge.
check() {
  local got
  got=$(curl -s -o /dev/null -w '%{http_code} %{http_version}' "${@:2}" "$1/1k.bin")
  [ "${got%% *}" = 200 ] || { echo "sanity check failed: $* -> $got" >&2; exit 1; }
  case "$*" in *--http2-prior-knowledge*) [ "${got#* }" = 2 ] || { echo "not h2: $* -> $got" >&2; exit 1; } ;; esac
}
check "$HTTPOUT_URL"; check "$NGINX_URL"
check "$HTTPOUT_URL" --http2-prior-knowledge; check "$NGINX_H2_URL" --http2-prior-knowledge

# wrk prints its Transfer/sec with three significant digits ("1.04GB", a
# step of 10 MiB/s); this hook prints the exact byte rate at the end of a run.
cat > "$work/bytes.lua" <<'LUA'
done = function(summary, latency, requests)
  io.write(string.format("bytes_per_sec %.0f\n", summary.bytes / (summary.duration / 1e6)))
end
LUA

# One run of each client, printing one number. Client errors are reported on
# stderr (wrk's timeouts are not: a 1 GiB download outlasts its 2 s timeout by
# design, and wrk keeps reading).
wrk_run() {
  local out
  out=$(wrk -t1 -c"$2" -d"${DURATION}s" -s "$work/bytes.lua" "$1")
  if grep -Eq 'Non-2xx|Socket errors: connect [1-9]|read [1-9]|write [1-9]' <<<"$out"; then
    grep -E 'Non-2xx|Socket errors' <<<"$out" | sed "s|^|  wrk $1 -c$2: |" >&2
  fi
  printf '%s\n' "$out"
}
wrk_rps() { wrk_run "$1" "$2" | awk '/Requests\/sec/ {printf "%.0f", $2}'; }
wrk_mbps() { wrk_run "$1" "$2" | awk '/^bytes_per_sec / {printf "%.0f", $2/1048576}'; }
curl_mbps() { curl -s -o /dev/null -w '%{speed_download}' "$1" | awk '{printf "%.0f", $1/1048576}'; }
h2_rps() {
  local out
  out=$(h2load -t1 -c50 -m10 -D "$DURATION" "$1")
  if ! grep -q ' 0 failed, 0 errored' <<<"$out"; then
    grep -E '^requests:' <<<"$out" | sed "s|^|  h2load $1: |" >&2
  fi
  awk '/^finished in/ {v=$4; sub(",","",v); printf "%.0f", v}' <<<"$out"
}
hwm() { awk '/^VmHWM/ {print $2}' "/proc/$1/status"; }   # peak resident set, KiB

median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {m=(NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2; printf "%.0f", m}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a/b; else print "n/a" }'; }

# figure LABEL CLIENT PATH [ARGS]: REPEAT interleaved pairs over HTTP/1.1 (or
# h2c when CLIENT is h2_rps); records the medians and every run.
rows=(); runs=()
record() {   # LABEL, then the httpout runs, "|", the nginx runs
  local label=$1 h=() n=() side=h v
  shift
  for v in "$@"; do
    if [ "$v" = "|" ]; then side=n; elif [ $side = h ]; then h+=("$v"); else n+=("$v"); fi
  done
  local mh mn; mh=$(median "${h[@]}"); mn=$(median "${n[@]}")
  rows+=("$(printf '%-46s %12s %12s %8s' "$label" "$mh" "$mn" "$(ratio "$mh" "$mn")")")
  runs+=("$(printf '%-46s %s | %s' "$label" "${h[*]}" "${n[*]}")")
}
progress() { echo "  [$1/$REPEAT] $2 $3: $4" >&2; }
figure() {
  local label=$1 client=$2 path=$3 h=() n=() i v
  shift 3
  for i in $(seq "$REPEAT"); do
    v=$("$client" "$HTTPOUT_URL$path" "$@"); h+=("$v"); progress "$i" "$label" httpout "$v"
    local nurl=$NGINX_URL; [ "$client" = h2_rps ] && nurl=$NGINX_H2_URL
    v=$("$client" "$nurl$path" "$@"); n+=("$v"); progress "$i" "$label" nginx "$v"
  done
  record "$label" "${h[@]}" "|" "${n[@]}"
}

echo "httpout $(git describe --always --dirty 2>/dev/null || echo '?')${HTTPOUT_ARGS:+ $HTTPOUT_ARGS}, $(nginx -v 2>&1 | sed 's/^nginx version: //'), $(nproc) cores; ${DURATION} s runs, $REPEAT pairs per figure" >&2
figure "1 KiB GET, keep-alive, 50 conns (req/s)" wrk_rps /1k.bin 50
figure "1 KiB GET, h2c, 50 conns x 10 streams (req/s)" h2_rps /1k.bin
figure "1 GiB download, one client (MiB/s)" curl_mbps /1g.bin
figure "10 MiB downloads, 100 conns (MiB/s)" wrk_mbps /10m.bin 100

# The 1000-connection run restarts each server first (see the header): its
# VmHWM afterwards is the peak of that run.
bh=(); bn=(); mh=(); mn=()
for i in $(seq "$REPEAT"); do
  start_httpout
  v=$(wrk_mbps "$HTTPOUT_URL/1g.bin" 1000); bh+=("$v"); mh+=("$(hwm "$HTTPOUT_PID")")
  progress "$i" "1 GiB downloads, 1000 conns" httpout "$v MiB/s, peak RSS ${mh[-1]} KiB"
  start_nginx
  v=$(wrk_mbps "$NGINX_URL/1g.bin" 1000); bn+=("$v"); mn+=("$(hwm "$NGINX_PID")")
  progress "$i" "1 GiB downloads, 1000 conns" nginx "$v MiB/s, peak RSS ${mn[-1]} KiB"
done
record "1 GiB downloads, 1000 conns (MiB/s)" "${bh[@]}" "|" "${bn[@]}"
record "peak RSS in the 1000-conn run (KiB)" "${mh[@]}" "|" "${mn[@]}"

printf '%-46s %12s %12s %8s\n' "benchmark (${DURATION} s runs, median of $REPEAT)" httpout nginx ratio
printf '%s\n' "${rows[@]}"
echo
echo "every run, in order (httpout | nginx):"
printf '%s\n' "${runs[@]}"

#!/usr/bin/env bash
# Side-by-side benchmark of httpout's static server and nginx (one worker)
# on the same files, on loopback. Prints each figure for both and the ratio
# httpout / nginx. Results and the command go in docs/benchmarks.md.
#
#   bench/static.sh            # default durations
#   DURATION=20 bench/static.sh
#   HTTPOUT_ARGS=--block_size=10000 bench/static.sh   # extra httpout options
#
# Needs: nginx, wrk, curl (installed with apt-get when missing).
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-10}

need=()
for tool in nginx:nginx-light wrk:wrk curl:curl; do
  command -v "${tool%%:*}" >/dev/null || need+=("${tool#*:}")
done
command -v python3 >/dev/null || need+=(python3)
if [ ${#need[@]} -gt 0 ]; then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}"
fi

cargo build --release -q -p httpout
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; [ -f "$work/nginx.pid" ] && kill "$(cat "$work/nginx.pid")" 2>/dev/null; rm -rf "$work"' EXIT
chmod 755 "$work"   # nginx's worker runs as www-data
mkdir -p "$work/www" "$work/nginx"
head -c 1024 /dev/urandom > "$work/www/1k.bin"
head -c $((10 << 20)) /dev/urandom > "$work/www/10m.bin"
head -c 1G /dev/zero > "$work/www/1g.bin"
cat "$work/www/"* > /dev/null   # warm the page cache: neither server pays for the first read

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
NGINX_PORT=$(free_port)
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
  server { listen 127.0.0.1:$NGINX_PORT; root $work/www; }
}
CONF
nginx -c "$work/nginx/nginx.conf" -e "$work/nginx/error.log"
sleep 0.3
NGINX_PID=$(pgrep -P "$(cat "$work/nginx.pid")" | head -1)   # the worker

# shellcheck disable=SC2086
./target/release/httpout --rdirs="$work/www" --ifce=127.0.0.1 --port=0 --maxc=0 --maxp=0 ${HTTPOUT_ARGS:-} \
  > "$work/httpout.out" 2>&1 &
HTTPOUT_PID=$!
for _ in $(seq 50); do grep -q listening "$work/httpout.out" && break; sleep 0.1; done
HTTPOUT_URL=$(sed -n 's/^listening on //p' "$work/httpout.out")
NGINX_URL="http://127.0.0.1:$NGINX_PORT"

for url in "$HTTPOUT_URL" "$NGINX_URL"; do
  code=$(curl -s -o /dev/null -w '%{http_code}' "$url/1k.bin")
  [ "$code" = 200 ] || { echo "sanity check failed: $url/1k.bin -> $code" >&2; exit 1; }
done

rss() { awk '/VmHWM/ {print $2}' "/proc/$1/status"; }   # peak resident set, KiB
wrk_rps() { wrk -t1 -c"$2" -d"${DURATION}s" "$1" | awk '/Requests\/sec/ {print $2}'; }
wrk_mbps() {
  wrk -t1 -c"$2" -d"${DURATION}s" "$1" | awk '/Transfer\/sec/ {
    v=$2; if (v ~ /GB/) {sub("GB","",v); v*=1024} else if (v ~ /MB/) {sub("MB","",v)} else if (v ~ /KB/) {sub("KB","",v); v/=1024}; print v}'
}
curl_mbps() { curl -s -o /dev/null -w '%{speed_download}' "$1" | awk '{printf "%.0f", $1/1048576}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a/b; else print "n/a" }'; }
row() { printf '%-44s %12s %12s %8s\n' "$1" "$2" "$3" "$(ratio "$2" "$3")"; }

printf '%-44s %12s %12s %8s\n' "benchmark (${DURATION}s runs, loopback)" httpout nginx ratio
row "1 KiB GET, keep-alive, 50 conns (req/s)" "$(wrk_rps "$HTTPOUT_URL/1k.bin" 50)" "$(wrk_rps "$NGINX_URL/1k.bin" 50)"
row "1 GiB download, one client (MiB/s)" "$(curl_mbps "$HTTPOUT_URL/1g.bin")" "$(curl_mbps "$NGINX_URL/1g.bin")"
row "10 MiB downloads, 100 conns (MiB/s)" "$(wrk_mbps "$HTTPOUT_URL/10m.bin" 100)" "$(wrk_mbps "$NGINX_URL/10m.bin" 100)"
row "1 GiB downloads, 1000 conns (MiB/s)" "$(wrk_mbps "$HTTPOUT_URL/1g.bin" 1000)" "$(wrk_mbps "$NGINX_URL/1g.bin" 1000)"
row "peak RSS after all runs (KiB)" "$(rss $HTTPOUT_PID)" "$(rss "$NGINX_PID")"

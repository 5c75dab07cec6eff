#!/usr/bin/env bash
# The edge tier of docs/deploy/: PLAYERS simulated LL-DASH players split
# across a Varnish edge and an nginx edge in front of one httpout origin,
# against PLAYERS players directly on the origin. ffmpeg pushes a live
# LL-DASH stream by PUT (1 s segments, 320x240 H.264, as the tests'
# media::ll_dash) into a fresh origin for each run. Results and the command
# go in docs/benchmarks.md ("Edge tier") and docs/deploy/README.md.
#
#   bench/edge.sh                        # 200 players, 15 segments, 2 pairs
#   PLAYERS=100 SEGMENTS=10 REPEAT=3 bench/edge.sh
#
# PLAYERS: players per run (default 200): through edges, half on each.
# SEGMENTS: segments each player plays after the init segment (default 15).
# REPEAT: pairs of runs (default 2), interleaved: edges, direct, edges,
#   direct... so a drift of the machine lands on both.
#
# The players are bench/edge-player/ (httpout-test's `player`; release build): each
# fetches the MPD (again every 2 s), starts at the live edge computed from
# availabilityStartTime, and GETs each segment as soon as it is available
# (its media time started: the origin holds it with --wait_new until the
# upload begins), i.e. while it is being uploaded, with its own connections.
#
# Figures, per run kind (median over runs where it applies):
#   - origin GETs per segment from each edge (goal: 1), and for the MPD;
#   - time to first byte of a segment requested while it is uploaded:
#     through Varnish, through nginx, directly at the origin (goal: the edge
#     within 50 ms of the origin), median and 90th percentile over every
#     segment fetch; and how many fetches got their first byte before the
#     upload ended (streamed) vs after (waited for the whole segment), and
#     the time to first byte of the first player of each segment (with
#     nginx, the one holding the cache lock);
#   - origin CPU (utime + stime from /proc/PID/stat) from the players' start
#     to their end, with the players through the edges vs direct; the
#     edges' own CPU beside;
#   - failures: fetches not 200, not complete, or not identical to the
#     origin's file at the end.
#
# Needs: varnish, nginx-light, ffmpeg, python3 (installed with apt-get when
# missing). Everything on 127.0.0.1; client, origin and edges share the
# machine's cores.
set -euo pipefail
cd "$(dirname "$0")/.."
PLAYERS=${PLAYERS:-200}
SEGMENTS=${SEGMENTS:-15}
REPEAT=${REPEAT:-2}
[ "$REPEAT" -ge 1 ] || { echo "REPEAT must be >= 1" >&2; exit 1; }
[ "$PLAYERS" -ge 2 ] || { echo "PLAYERS must be >= 2" >&2; exit 1; }

export PATH="$PATH:/usr/sbin"
need=()
for tool in varnishd:varnish nginx:nginx-light ffmpeg:ffmpeg python3:python3; do
  command -v "${tool%%:*}" >/dev/null || need+=("${tool#*:}")
done
if [ ${#need[@]} -gt 0 ]; then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}"
fi
ulimit -n "$(ulimit -Hn)"

cargo build --release -q -p httpout --bin httpout
HTTPOUT_BIN=${CARGO_TARGET_DIR:-target}/release/httpout
# Own target dir, like bench/wsframe/: the players are not in the workspace.
(cd bench/edge-player && CARGO_TARGET_DIR=target cargo build --release -q)
PLAYER_BIN=bench/edge-player/target/release/edge-player

work=$(mktemp -d)
pids=()
stop_all() {
  local p
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  pids=()
}
trap 'stop_all; rm -rf "$work"' EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() {   # PORT WHAT
  for _ in $(seq 300); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.1
  done
  echo "$2 did not start" >&2; exit 1
}
root_user=""; jail=()
if [ "$(id -u)" -eq 0 ]; then root_user="user root; "; jail=(-j none); fi
cpu_ticks() {   # PID...: utime + stime of each, summed (clock ticks)
  local p s=0
  for p in "$@"; do
    [ -r "/proc/$p/stat" ] || continue
    s=$((s + $(sed 's/^.*) //' "/proc/$p/stat" | awk '{print $12 + $13}')))
  done
  echo "$s"
}
TICK_MS=$((1000 / $(getconf CLK_TCK)))

# run KIND N: one run, KIND edges or direct; writes $work/runN/.
run() {
  local kind=$1 dir=$work/run$2
  mkdir -p "$dir/www" "$dir/varnish" "$dir/nginx/run" "$dir/nginx/cache"
  local oport; oport=$(free_port)
  "$HTTPOUT_BIN" --ifce=127.0.0.1 --port="$oport" --rdirs="$dir/www" --wdir="$dir/www" \
    --wait_new=3000 --maxc=0 --maxp=0 --max_cache_segs=0 \
    --access_log="$dir/access.log" --log_format=json > "$dir/httpout.out" 2>&1 &
  local origin=$!; pids+=("$origin")
  wait_port "$oport" httpout
  local bases=() edge_pids=()
  if [ "$kind" = edges ]; then
    local vport nport
    vport=$(free_port); nport=$(free_port)
    sed -e "s/@ORIGIN_HOST@/127.0.0.1/; s/@ORIGIN_PORT@/$oport/" docs/deploy/varnish.vcl > "$dir/varnish/edge.vcl"
    varnishd -F "${jail[@]}" -n "$dir/varnish/work" -a "127.0.0.1:$vport" -T none \
      -f "$dir/varnish/edge.vcl" -s malloc,256m > "$dir/varnish/log" 2>&1 &
    pids+=("$!"); edge_pids+=("$!")
    sed -e "s/@ORIGIN@/127.0.0.1:$oport/; s/@LISTEN@/127.0.0.1:$nport/; s#@RUN_DIR@#$dir/nginx/run#; s#@CACHE_DIR@#$dir/nginx/cache#" \
      docs/deploy/nginx-edge.conf > "$dir/nginx/edge.conf"
    nginx -p "$dir/nginx" -c "$dir/nginx/edge.conf" -g "${root_user}daemon off;" 2>/dev/null &
    pids+=("$!"); edge_pids+=("$!")
    wait_port "$vport" varnishd; wait_port "$nport" nginx
    bases=("http://127.0.0.1:$vport player-varnish" "http://127.0.0.1:$nport player-nginx")
  else
    bases=("http://127.0.0.1:$oport player-direct" "http://127.0.0.1:$oport player-direct")
  fi
  ffmpeg -hide_banner -nostdin -loglevel error -re -f lavfi -i testsrc=size=320x240:rate=25 \
    -t $((SEGMENTS + 8)) -c:v libx264 -preset ultrafast -tune zerolatency -g 25 \
    -f dash -seg_duration 1 -streaming 1 -ldash 1 -use_template 1 -use_timeline 0 \
    -window_size 5 -extra_window_size 1000 -method PUT "http://127.0.0.1:$oport/live/live.mpd" \
    2> "$dir/ffmpeg.err" &
  local ff=$!; pids+=("$ff")
  for _ in $(seq 150); do [ -s "$dir/www/live/live.mpd" ] && break; sleep 0.1; done
  [ -s "$dir/www/live/live.mpd" ] || { echo "no MPD from ffmpeg" >&2; cat "$dir/ffmpeg.err" >&2; exit 1; }
  # The edges' worker processes (Varnish's child, nginx's workers).
  local kids=()
  for p in "${edge_pids[@]}"; do mapfile -t -O "${#kids[@]}" kids < <(pgrep -P "$p" || true); done
  local c0 e0; c0=$(cpu_ticks "$origin"); e0=$(cpu_ticks "${edge_pids[@]}" "${kids[@]}")
  local half=$((PLAYERS / 2)) b ppids=() i=0
  for b in "${bases[@]}"; do
    "$PLAYER_BIN" "${b% *}" /live/live.mpd "$half" "$SEGMENTS" "${b#* }" $((SEGMENTS + 30)) \
      > "$dir/players$i.tsv" &
    ppids+=("$!"); i=$((i + 1))
  done
  for p in "${ppids[@]}"; do wait "$p"; done
  local c1 e1; c1=$(cpu_ticks "$origin"); e1=$(cpu_ticks "${edge_pids[@]}" "${kids[@]}")
  wait "$ff" || { echo "ffmpeg failed:" >&2; cat "$dir/ffmpeg.err" >&2; }
  sleep 0.5   # the access log's writer
  echo "$kind $(( (c1 - c0) * TICK_MS )) $(( (e1 - e0) * TICK_MS ))" > "$dir/cpu"
  stop_all
}

echo "httpout $(git describe --always --dirty 2>/dev/null || echo '?'), $(varnishd -V 2>&1 | head -1 | sed 's/^varnishd //'), $(nginx -v 2>&1 | sed 's/^nginx version: //'), $(nproc) cores; $PLAYERS players, $SEGMENTS segments, $REPEAT pairs" >&2
n=0
for i in $(seq "$REPEAT"); do
  for kind in edges direct; do
    n=$((n + 1)); echo "  [$i/$REPEAT] $kind..." >&2
    run "$kind" "$n"
  done
done

python3 - "$work" <<'PY'
import json, os, sys, glob, statistics, datetime

def utc(s):
    return datetime.datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%fZ").replace(
        tzinfo=datetime.timezone.utc).timestamp()

def fnv(b):
    h = 0xcbf29ce484222325
    for x in b:
        h = ((h ^ x) * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    return h

def pct(v, p):
    if not v: return float("nan")
    v = sorted(v); return v[min(len(v) - 1, int(p * len(v)))]

work = sys.argv[1]
rows = {}   # figure -> list per run
def add(k, v): rows.setdefault(k, []).append(v)
for d in sorted(glob.glob(work + "/run*"), key=lambda d: int(d.rsplit("run", 1)[1])):
    kind, origin_ms, edge_ms = open(d + "/cpu").read().split()
    log = [json.loads(l) for l in open(d + "/access.log")]
    upload_end = {l["path"]: utc(l["time"]) for l in log if l["method"] == "PUT"}
    hashes = {}
    fetches = []
    for f in glob.glob(d + "/players*.tsv"):
        for line in open(f):
            c = line.rstrip("\n").split("\t")
            fetches.append(dict(ua=c[0].rsplit("/", 1)[0], path=c[1], num=c[2], status=int(c[3]),
                                bytes=int(c[4]), hash=int(c[5], 16), complete=c[6] == "1",
                                sent=float(c[7]), first=float(c[8]), last=float(c[9])))
    bad = 0
    for f in fetches:
        if f["path"].endswith(".mpd"): continue
        if f["path"] not in hashes:
            try: hashes[f["path"]] = fnv(open(d + "/www" + f["path"], "rb").read())
            except OSError: hashes[f["path"]] = None
        if f["status"] != 200 or not f["complete"] or f["hash"] != hashes[f["path"]]: bad += 1
    add(f"{kind}: fetches / failed (not 200, cut, or differing)", f"{len(fetches)}/{bad}")
    add(f"{kind}: origin CPU while playing (ms)", int(origin_ms))
    if kind == "edges": add("edges: edges' own CPU while playing (ms)", int(edge_ms))
    for ua in sorted({f["ua"] for f in fetches}):
        name = ua.replace("player-", "")
        segs = [f for f in fetches if f["ua"] == ua and f["num"] != "-"]
        gets = {}
        for l in log:
            if l["method"] == "GET" and l["user_agent"].startswith(ua + "/"):
                gets[l["path"]] = gets.get(l["path"], 0) + 1
        if kind == "edges":
            per = [gets.get(p, 0) for p in {f["path"] for f in segs}]
            add(f"{name}: origin GETs per segment, mean / max", f"{statistics.mean(per):.2f} / {max(per)}")
            mpd_players = sum(1 for f in fetches if f["ua"] == ua and f["path"].endswith(".mpd"))
            add(f"{name}: origin GETs for the MPD / player GETs", f"{gets.get('/live/live.mpd', 0)}/{mpd_players}")
        ttfb = [(f["first"] - f["sent"]) * 1000 for f in segs]
        streamed = sum(1 for f in segs if f["path"] in upload_end and f["first"] < upload_end[f["path"]])
        after = [(f["last"] - upload_end[f["path"]]) * 1000 for f in segs if f["path"] in upload_end]
        add(f"{name}: segment TTFB ms, median / p90", f"{pct(ttfb, .5):.0f} / {pct(ttfb, .9):.0f}")
        add(f"{name}: first byte before upload end (fetches)", f"{streamed}/{len(segs)}")
        # The first player to get bytes of each segment (nginx: the one that
        # holds the cache lock and streams; the others wait).
        first = {}
        for f in segs:
            if f["path"] not in first or f["first"] < first[f["path"]]["first"]:
                first[f["path"]] = f
        lead = [(f["first"] - f["sent"]) * 1000 for f in first.values()]
        add(f"{name}: TTFB of each segment's first player ms, median", f"{pct(lead, .5):.0f}")
        add(f"{name}: last byte after upload end ms, median", f"{pct(after, .5):.0f}")
print(f"{'figure (one column per run)':58} values")
for k, v in rows.items():
    print(f"{k:58} {'  '.join(str(x) for x in v)}")
e = [v for v in rows.get("edges: origin CPU while playing (ms)", [])]
dr = [v for v in rows.get("direct: origin CPU while playing (ms)", [])]
if e and dr and statistics.median(dr) > 0:
    print(f"{'origin CPU, edges / direct (medians)':58} {statistics.median(e) / statistics.median(dr):.2f}")
PY

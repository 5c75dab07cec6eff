#!/usr/bin/env bash
# Live fan-out: httpout's live sink and icecast2 side by side, N listeners of
# one 128 kbit/s MP3 stream pushed by ffmpeg (icecast:// source, one ffmpeg per
# server, same file, same moment), on loopback. For each N it prints the
# server's CPU time during the measuring window and that CPU per listener
# (server CPU µs per listener-second: flat across N = cost linear in
# listeners), peak and final RSS, how many listeners connected, were dropped,
# fell behind, and their median rate; then the ratio httpout / icecast2 for
# CPU and RSS. Results and the command go in docs/benchmarks.md.
#
#   bench/fanout.sh                       # N = 100 1000 10000, 20 s windows
#   bench/fanout.sh "100 1000" 10
#   SERVERS=httpout RATE=2000 bench/fanout.sh "100 1000 10000 50000" 20
#   STALL=0 RATE=300 SETTLE=2 CLIENTS=2 HTTPOUT_ARGS=... bench/fanout.sh
#
# SERVERS: which servers to load, "httpout icecast2" (default) or one of them;
#   a server left out gets n/a in the table. icecast2 listens with a backlog of
#   5 and drops SYNs from about 10 000 listeners on: run it up to 10 000.
# STALL: extra listeners per run that connect and never read (default 10);
# RATE: connects per second during the ramp, all clients together (default
#   300: Icecast listens with a backlog of 5, faster ramps measure its SYN
#   drops, see bench/fanout/; httpout alone takes 2000/s);
# CONC: connects in flight at once, all clients together (default 200);
# SETTLE: seconds between the end of the ramp and the window (default 2);
# CLIENTS: load client processes (default 1). Each takes N / CLIENTS listeners
#   and RATE / CLIENTS; their windows start together and their figures are
#   merged (bench/fanout/ `fanout merge`). Raised per N when one process
#   cannot hold its share of sockets under `ulimit -n`.
# HTTPOUT_ENV: environment for httpout alone, e.g. an allocator to compare:
#   HTTPOUT_ENV=LD_PRELOAD=/usr/lib/x86_64-linux-gnu/libjemalloc.so.2
#   HTTPOUT_ENV=MALLOC_ARENA_MAX=1
# THREADS: worker threads per client process (default 1).
# NETNS: auto (default), 1 or 0: run in a private network namespace (needs
#   root), whose ip_local_port_range is widened to 1024-65535 without
#   touching the machine's. auto does so when N + STALL listeners to the one
#   server port need more source ports than the machine's range holds
#   (32768-60999: 28 232 ports; the client closes with a reset, so no port
#   sits in TIME_WAIT between runs). Where that is refused (not root,
#   unshare(2) denied, no iproute2) the script says why and runs in the
#   machine's namespace.
#
# Kernel limits, checked before anything starts (each listener is a socket in
# the server and one in the client):
# - the server holds N + STALL sockets in one process: the hard limit of open
#   files (ulimit -Hn) must allow N + STALL + 256. As root the script raises
#   fs.nr_open and the hard limit if needed; where even root cannot
#   (no CAP_SYS_RESOURCE, e.g. in a sandbox) an N over the limit is skipped and
#   said so in the table;
# - each client process holds its share: CLIENTS is raised to fit;
# - fs.file-max must hold both sides (checked, with a warning).
# Needs: icecast2 (when in SERVERS), ffmpeg, curl, python3 (Debian packages).
set -euo pipefail
SELF=$(realpath "$0")
cd "$(dirname "$0")/.."
N_LIST=${1:-"100 1000 10000"}
WINDOW=${2:-20}        # not SECONDS: that one is bash's own clock
STALL=${STALL:-10}
RATE=${RATE:-300}
CONC=${CONC:-200}
SETTLE=${SETTLE:-2}
CLIENTS=${CLIENTS:-1}
THREADS=${THREADS:-1}
SERVERS=${SERVERS:-"httpout icecast2"}
NETNS=${NETNS:-auto}
BITRATE=128000
FD_RESERVE=256         # server fds besides listeners: listening socket, source, logs, runtime
CLIENT_FD_RESERVE=64   # client fds besides listeners

run_ice=0; run_ho=0
for s in $SERVERS; do
  case $s in
    icecast2) run_ice=1 ;;
    httpout) run_ho=1 ;;
    *) echo "SERVERS: unknown server '$s' (httpout, icecast2)" >&2; exit 2 ;;
  esac
done
[ $((run_ice + run_ho)) -gt 0 ] || { echo "SERVERS is empty" >&2; exit 2; }
for v in STALL RATE CONC SETTLE CLIENTS THREADS WINDOW; do
  [[ ${!v} =~ ^[0-9]+$ ]] || { echo "$v must be a number, not '${!v}'" >&2; exit 2; }
done
if [ "$RATE" -eq 0 ] || [ "$CONC" -eq 0 ] || [ "$CLIENTS" -eq 0 ] || [ "$THREADS" -eq 0 ]; then
  echo "RATE, CONC, CLIENTS and THREADS must be at least 1" >&2; exit 2
fi
max_n=0
for n in $N_LIST; do
  if ! [[ $n =~ ^[0-9]+$ ]] || [ "$n" -eq 0 ]; then echo "N must be positive numbers, not '$n'" >&2; exit 2; fi
  [ "$n" -gt "$max_n" ] && max_n=$n
done

need=()
tools="ffmpeg:ffmpeg curl:curl python3:python3"
[ $run_ice = 1 ] && tools="icecast2:icecast2 $tools"
for tool in $tools; do
  command -v "${tool%%:*}" >/dev/null || need+=("${tool#*:}")
done
if [ ${#need[@]} -gt 0 ]; then
  echo "missing: ${need[*]}; install with: apt-get install -y ${need[*]}" >&2
  exit 1
fi

is_root=0; [ "$(id -u)" -eq 0 ] && is_root=1

# --- Source ports: every listener is one (127.0.0.1:port -> 127.0.0.1:server)
# 4-tuple, so N + STALL connections to one server port need that many source
# ports from ip_local_port_range. Widening the machine's range would touch a
# shared setting; a private network namespace has its own range (and its own
# loopback, 127.0.0.1 as ever), so widen it there. The script re-runs itself
# inside one (unshare --net) after building.
read -r port_lo port_hi < /proc/sys/net/ipv4/ip_local_port_range
ports_needed=$((max_n + STALL + 100))   # + the curl probes and the servers' own ports
in_netns=${FANOUT_IN_NETNS:-0}
want_netns=0
case $NETNS in
  1) want_netns=1 ;;
  auto) [ "$ports_needed" -gt $((port_hi - port_lo + 1)) ] && want_netns=1 ;;
  0) ;;
  *) echo "NETNS must be auto, 1 or 0" >&2; exit 2 ;;
esac

if [ "$in_netns" = 0 ]; then
  cargo build --release -q -p httpout
  # The load client is its own workspace: its own target dir, whatever CARGO_TARGET_DIR says.
  cargo build --release -q --manifest-path bench/fanout/Cargo.toml --target-dir bench/fanout/target
  if [ $want_netns = 1 ]; then
    # Try the whole set-up once in a throw-away namespace first: where
    # unshare(2), the loopback or the sysctl is refused (not root, a sandbox,
    # no iproute2), say why and run here instead of failing half-way.
    why=""
    if [ $is_root = 0 ]; then
      why="needs root"
    elif ! command -v unshare >/dev/null || ! command -v ip >/dev/null; then
      why="needs unshare (util-linux) and ip (iproute2)"
    elif ! why=$(unshare --net -- sh -c 'ip link set lo up && sysctl -qw net.ipv4.ip_local_port_range="1024 65535"' 2>&1); then
      why="refused here: ${why:-unshare --net failed}"
    else
      echo "# $ports_needed source ports needed, ip_local_port_range $port_lo-$port_hi: running in a private network namespace" >&2
      exec unshare --net -- env FANOUT_IN_NETNS=1 bash "$SELF" "$@"
    fi
    short=""
    [ "$ports_needed" -gt $((port_hi - port_lo + 1)) ] && short=": listeners past that fail to connect"
    echo "warning: no private network namespace ($why); running in this one, whose" \
      "ip_local_port_range $port_lo-$port_hi holds $((port_hi - port_lo + 1)) source ports for the" \
      "$ports_needed needed$short" >&2
  fi
else
  ip link set lo up
  sysctl -qw net.ipv4.ip_local_port_range="1024 65535"
  read -r port_lo port_hi < /proc/sys/net/ipv4/ip_local_port_range
fi
HTTPOUT=${CARGO_TARGET_DIR:-target}/release/httpout
FANOUT=bench/fanout/target/release/fanout

# --- File descriptors. The server needs max_n + STALL + FD_RESERVE in one process.
fd_need=$((max_n + STALL + FD_RESERVE))
fd_note=""
if [ "$fd_need" -gt "$(ulimit -Hn)" ] && [ $is_root = 1 ]; then
  # fs.nr_open caps any process's limit; raising the cap gives nobody more fds by itself
  if [ "$fd_need" -gt "$(sysctl -n fs.nr_open)" ]; then
    sysctl -qw fs.nr_open="$fd_need" || fd_note="cannot raise fs.nr_open;"
  fi
  # Raising a hard limit needs CAP_SYS_RESOURCE, which root lacks in some sandboxes.
  ulimit -Hn "$fd_need" 2>/dev/null || fd_note="${fd_note:+$fd_note }cannot raise the hard limit (no CAP_SYS_RESOURCE?)"
fi
ulimit -n "$(ulimit -Hn)"
FD_LIMIT=$(ulimit -n)
if [ "$fd_need" -gt "$FD_LIMIT" ]; then
  echo "warning: open files limit $FD_LIMIT: N over $((FD_LIMIT - STALL - FD_RESERVE)) will be skipped${fd_note:+ ($fd_note)}" >&2
fi
read -r files_used _ files_max < /proc/sys/fs/file-nr
if [ $((2 * (max_n + STALL) + 2 * FD_RESERVE + files_used)) -gt "$files_max" ]; then
  echo "warning: fs.file-max $files_max (in use $files_used) is short of 2 x $max_n listeners" >&2
fi

# clients_for N: client processes for N listeners (+ STALL, all on client 0).
clients_for() {
  local per=$((FD_LIMIT - CLIENT_FD_RESERVE - STALL))
  local k=$(( ($1 + per - 1) / per ))
  [ "$k" -lt "$CLIENTS" ] && k=$CLIENTS
  echo "$k"
}

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
if [ $is_root = 1 ]; then
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
  env ${HTTPOUT_ENV:-} "$HTTPOUT" --ifce=127.0.0.1 --port=0 --source_password=hackme --maxc=0 --maxp=0 \
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

# run_load NAME PID PORT N: K client processes share the N listeners (client 0
# also takes the STALL ones and watches the server's pid), each ramps at its
# share of RATE; once all have ramped and settled, the go file starts their
# common window. Their dumps are merged into $work/NAME-N.txt (also printed).
run_load() {
  local name=$1 pid=$2 port=$3 n=$4
  local k; k=$(clients_for "$n")
  local sync="$work/sync-$name-$n"
  mkdir -p "$sync"
  local rate=$(( (RATE + k - 1) / k )) conc=$(( (CONC + k - 1) / k ))
  local cpids=() i
  for ((i = 0; i < k; i++)); do
    local ni=$(( n / k + (i < n % k ? 1 : 0) ))
    local extra=(--stall 0)
    [ "$i" = 0 ] && extra=(--stall "$STALL" --pid "$pid")
    # the client's own watchdog ends it well before this outer bound
    timeout $((2 * ni / rate + 30 + SETTLE + WINDOW + 60)) "$FANOUT" \
      "http://127.0.0.1:$port/live.mp3" "$ni" "$WINDOW" "$BITRATE" "${extra[@]}" \
      --rate "$rate" --conc "$conc" --settle "$SETTLE" --threads "$THREADS" \
      --sync "$sync" --id "$i" --dump "$sync/dump.$i" > "$sync/out.$i" 2>&1 &
    cpids+=("$!")
    pids+=("$!")
  done
  # Go once every client still running is ready. Bounded: the clients' own
  # watchdogs end them, and then none is left to wait for.
  while :; do
    local waiting=0
    for ((i = 0; i < k; i++)); do
      [ -e "$sync/ready.$i" ] || ! kill -0 "${cpids[$i]}" 2>/dev/null || waiting=1
    done
    [ $waiting = 0 ] && break
    sleep 0.02
  done
  : > "$sync/go"
  for ((i = 0; i < k; i++)); do wait "${cpids[$i]}" || echo "!! client $i exited with $?" >&2; done
  if [ "$k" -gt 1 ]; then
    for ((i = 0; i < k; i++)); do
      local r; r=$(grep '^RESULT' "$sync/out.$i" || echo RESULT)
      echo "  client $i: $(field n <<<"$r") listeners, $(field ok <<<"$r") got 200," \
        "ramp $(field ramp_s <<<"$r") s, CPU $(field client_cpu_pct <<<"$r") % of a core"
    done
  fi
  grep -h '^fanout:' "$sync"/out.* | grep -v '^fanout: [0-9]' >&2 || true   # clients' complaints
  ls "$sync"/dump.* >/dev/null 2>&1 || { echo RESULT > "$work/$name-$n.txt"; cat "$sync"/out.* >&2; return 0; }
  "$FANOUT" merge "$sync"/dump.* | tee "$work/$name-$n.txt"
}

# field KEY < RESULT line
field() { awk -v k="$1" '{ for (i = 1; i <= NF; i++) { split($i, kv, "="); if (kv[1] == k) print kv[2] } }'; }
mib() { awk -v k="$1" 'BEGIN { if (k ~ /^[0-9]+$/) printf "%.1f", k / 1024; else print "n/a" }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a ~ /^[0-9.]+$/ && b ~ /^[0-9.]+$/ && b > 0) printf "%.2f", a/b; else print "n/a" }'; }
ROW='%-9s %6s %7s %6s %9s %9s %8s %7s %7s %7s %7s %8s'
# shellcheck disable=SC2059   # ROW is the table's format
row_na() { printf "$ROW  %s" "$1" "$2" n/a n/a n/a n/a n/a n/a n/a n/a n/a n/a "$3"; }

cat <<EOF
# bench/fanout.sh: N listeners of one ${BITRATE} bit/s MP3 live stream, ${WINDOW} s window, loopback
# $(nproc) cores shared by the server under test, the load client(s) (${THREADS} thread(s) each), and
# one ffmpeg source per server (servers: $SERVERS; all run during each N, loaded one at a time).
# Ramp: $RATE connects/s, at most $CONC in flight, then ${SETTLE} s settle; $STALL more listeners
# per run never read. Client processes: at least $CLIENTS, more where one cannot hold its share.
# Open files limit $FD_LIMIT; source ports $port_lo-$port_hi$([ "$in_netns" = 1 ] && echo " (private network namespace)").
EOF
[ $run_ice = 1 ] && echo "# icecast2 $(icecast2 -v 2>/dev/null | head -1 | awk '{print $2}'): queue-size 512K, burst-size 64K"
[ $run_ho = 1 ] && echo "# httpout: --max_async_buf=512K --burst=64K${HTTPOUT_ARGS:+ $HTTPOUT_ARGS}${HTTPOUT_ENV:+ (env $HTTPOUT_ENV)}"
echo "# Rates are payload (httpout's chunk framing removed by the client's decoder)."

rows=()
httpout_ok=$run_ho
for n in $N_LIST; do
  servers=()
  declare -A res=() skip=()
  if [ $((n + STALL + FD_RESERVE)) -gt "$FD_LIMIT" ]; then
    for name in $SERVERS; do skip[$name]="skipped: needs $((n + STALL + FD_RESERVE)) open files, limit $FD_LIMIT"; done
    echo; echo "== N=$n: ${skip[${SERVERS%% *}]}"
  else
    if [ $run_ice = 1 ]; then
      start_icecast "$n"
      start_source "$ICE_PORT" "ffmpeg-icecast-$n.log"
      servers+=("icecast2 $ICE_PID $ICE_PORT")
    fi
    if [ $httpout_ok = 1 ] && start_httpout "$n"; then
      start_source "$HO_PORT" "ffmpeg-httpout-$n.log"
      servers+=("httpout $HO_PID $HO_PORT")
    elif [ $run_ho = 1 ]; then
      httpout_ok=0
      skip[httpout]="did not start"
    fi
  fi
  for s in "${servers[@]}"; do
    read -r name pid port <<<"$s"
    echo
    echo "== $name, N=$n, $(clients_for "$n") client process(es)"
    run_load "$name" "$pid" "$port" "$n"
    kill -0 "$pid" 2>/dev/null || echo "!! $name (pid $pid) is not running any more" >&2
    res[$name]=$(grep '^RESULT' "$work/$name-$n.txt" || echo RESULT)
  done
  # what the servers logged about dropping listeners
  if [ -n "${res[icecast2]:-}" ]; then
    ice_drops=$(grep -c 'fallen too far behind' "$work/icecast-$n/log/error.log" 2>/dev/null || true)
    echo "icecast2 log: ${ice_drops:-0} listeners 'fallen too far behind'"
  fi
  if [ -n "${res[httpout]:-}" ]; then
    echo "httpout log: $(grep -c 'behind the live point' "$work/httpout-$n.out" || true) listeners dropped for lag"
    grep -m3 'accept failed' "$work/httpout-$n.out" || true
  fi
  for name in icecast2 httpout; do
    r=${res[$name]:-}
    if [ -z "$r" ]; then
      case " $SERVERS " in
        *" $name "*) rows+=("$(row_na "$name" "$n" "${skip[$name]:-did not run}")") ;;
        *) rows+=("$(row_na "$name" "$n" "not in SERVERS")") ;;
      esac
      continue
    fi
    if [ -z "$(field ok <<<"$r")" ]; then   # no dump from any client: see its output above
      rows+=("$(row_na "$name" "$n" "no result from the load client")")
      continue
    fi
    # shellcheck disable=SC2059   # ROW is the table's format
    rows+=("$(printf "$ROW" "$name" "$n" \
      "$(field server_cpu_s <<<"$r")" "$(field server_cpu_pct <<<"$r")" \
      "$(field cpu_us_per_listener_s <<<"$r")" \
      "$(mib "$(field hwm_kib <<<"$r")")" "$(mib "$(field rss_kib <<<"$r")")" \
      "$(field ok <<<"$r")" "$(($(field bad_status <<<"$r") + $(field failed <<<"$r") + $(field pending <<<"$r")))" \
      "$(field dropped <<<"$r")" "$(field behind <<<"$r")" "$(field median_kbps <<<"$r")")")
  done
  if [ -n "${res[httpout]:-}" ] && [ -n "${res[icecast2]:-}" ]; then
    a=${res[httpout]}; b=${res[icecast2]}
    rows+=("$(printf '%-9s %6s %7s %6s %9s %9s %8s' "ratio" "$n" \
      "$(ratio "$(field server_cpu_s <<<"$a")" "$(field server_cpu_s <<<"$b")")" "" \
      "$(ratio "$(field cpu_us_per_listener_s <<<"$a")" "$(field cpu_us_per_listener_s <<<"$b")")" \
      "$(ratio "$(field hwm_kib <<<"$a")" "$(field hwm_kib <<<"$b")")" \
      "$(ratio "$(field rss_kib <<<"$a")" "$(field rss_kib <<<"$b")")")")
  fi
  unset res skip
  stop_all
done

echo
echo "# ${WINDOW} s window; CPU = utime+stime of the server in the window (10 ms ticks);"
echo "# us/lis-s = server CPU microseconds per listener-second (CPU / (listeners streaming through the"
echo "#   window x window); includes the server's fixed costs, which weigh at small N);"
echo "# RSS in MiB (VmHWM, VmRSS at the end); ok = got 200; no 200 = failed to connect, other status"
echo "# or no response; ratio = httpout / icecast2"
# shellcheck disable=SC2059
printf "$ROW\n" server N "CPU s" "CPU %" "us/lis-s" "peak RSS" "RSS end" ok "no 200" dropped behind "kbit/s"
printf '%s\n' "${rows[@]}"
[ $run_ho = 0 ] || [ $httpout_ok = 1 ] || echo "# httpout did not run: its live sink options are not available in this build"

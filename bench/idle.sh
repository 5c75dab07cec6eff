#!/usr/bin/env bash
# Idle memory of the static server: builds the release binary and starts
#   httpout --rdirs=. --port=0 --ifce=127.0.0.1
# in a directory holding one 1 KiB file, then reports (KiB, from
# /proc/PID/status) its resident set right after start-up ("listening on"
# printed, then 0.5 s to settle) and again after one request for that file
# with curl (the first request touches the parser, the file path, the
# response code: their pages and the allocations they keep):
#   VmRSS    resident now; = RssAnon (heap, stacks) + RssFile (mapped pages
#            of the binary and libraries actually touched) + RssShmem
#   VmHWM    peak resident since start
# and the size of the binary. Each start is repeated RUNS times (default 3);
# the median of each figure is printed (they differ by a few pages; with an
# even RUNS, the lower of the two middle runs).
#
#   bench/idle.sh
#   RUNS=5 bench/idle.sh
#   HTTPOUT_BIN=/path/to/httpout bench/idle.sh       # measure that binary, no build
#   MALLOC_ARENA_MAX=2 bench/idle.sh                   # the environment reaches httpout
#
# Needs: curl.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-3}
if [ -z "${HTTPOUT_BIN:-}" ]; then
  cargo build --release -q -p httpout
  HTTPOUT_BIN=${CARGO_TARGET_DIR:-target}/release/httpout
fi
HTTPOUT_BIN=$(realpath "$HTTPOUT_BIN")
# RssFile counts the binary's pages mapped into the process, and on a fault
# the kernel also maps the neighbours that are already in the page cache
# (fault-around, 64 KiB): a binary half in the cache (just linked, or partly
# evicted) shows less. Reading it first gives the same, fully cached, state
# on every run.
cat "$HTTPOUT_BIN" > /dev/null

work=$(mktemp -d)
pid=""
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$work"' EXIT
head -c 1024 /dev/urandom > "$work/1k.bin"

status() { awk -v k="$2" '$1 == k":" {print $2}' "/proc/$1/status"; }
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

keys=(VmRSS RssAnon RssFile VmHWM)
declare -A start after
for _ in $(seq "$RUNS"); do
  (cd "$work" && exec "$HTTPOUT_BIN" --rdirs=. --port=0 --ifce=127.0.0.1) > "$work/out" 2>&1 &
  pid=$!
  for _ in $(seq 100); do grep -q '^listening on ' "$work/out" && break; sleep 0.05; done
  url=$(sed -n 's/^listening on //p' "$work/out" | head -1)
  [ -n "$url" ] || { echo "httpout did not start:" >&2; cat "$work/out" >&2; exit 1; }
  sleep 0.5
  for k in "${keys[@]}"; do start[$k]+="$(status "$pid" "$k") "; done
  code=$(curl -s -o /dev/null -w '%{http_code}' "$url/1k.bin")
  [ "$code" = 200 ] || { echo "GET $url/1k.bin -> $code" >&2; exit 1; }
  sleep 0.2
  for k in "${keys[@]}"; do after[$k]+="$(status "$pid" "$k") "; done
  kill "$pid"; wait "$pid" 2>/dev/null || true; pid=""
done

echo "binary: $HTTPOUT_BIN, $(stat -c %s "$HTTPOUT_BIN") bytes${MALLOC_ARENA_MAX:+, MALLOC_ARENA_MAX=$MALLOC_ARENA_MAX}"
printf '%-22s' "KiB (median of $RUNS)"; printf '%10s' "${keys[@]}"; echo
printf '%-22s' "after start"
# shellcheck disable=SC2086
for k in "${keys[@]}"; do printf '%10s' "$(median ${start[$k]})"; done; echo
printf '%-22s' "after one request"
# shellcheck disable=SC2086
for k in "${keys[@]}"; do printf '%10s' "$(median ${after[$k]})"; done; echo

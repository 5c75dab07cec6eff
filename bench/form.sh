#!/usr/bin/env bash
# Upload forms against plain PUTs: what parsing multipart/form-data costs
# the static server. One release httpout (`--wdir` on tmpfs, so the disk does
# not drown the figures) takes the same SIZE MB file ROUNDS times each way,
# interleaved and the order flipped every other round, with curl:
#   put    curl -T file URL/put.bin
#   form   curl -F f=@file URL/          (core's form::Multipart, multer)
# and reads the server's CPU time (utime + stime from /proc/PID/stat, in
# clock ticks) around each upload. Prints the medians in ms of server CPU
# per GB and the ratio form / put. A second binary (HTTPOUT_BIN_B) is
# measured the same way beside the first, its figures and its ratio to the
# first printed too: how a change to the form path was checked (a build
# with and one without it).
#
#   bench/form.sh                      # 1000 MB, 5 rounds
#   bench/form.sh 500 9
#   HTTPOUT_BIN_B=/tmp/httpout-other bench/form.sh
#
# Needs: curl, a tmpfs at /dev/shm with room for the file twice over.
set -euo pipefail
cd "$(dirname "$0")/.."
SIZE=${1:-1000}
ROUNDS=${2:-5}
for v in SIZE ROUNDS; do
  [[ ${!v} =~ ^[1-9][0-9]*$ ]] || { echo "$v must be a positive number, not '${!v}'" >&2; exit 2; }
done
if [ -z "${HTTPOUT_BIN:-}" ]; then
  cargo build --release -q -p httpout
  HTTPOUT_BIN=${CARGO_TARGET_DIR:-target}/release/httpout
fi
bins=("$(realpath "$HTTPOUT_BIN")")
[ -n "${HTTPOUT_BIN_B:-}" ] && bins+=("$(realpath "$HTTPOUT_BIN_B")")

work=$(mktemp -d)
shm=$(mktemp -d /dev/shm/httpout-form.XXXXXX)
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; rm -rf "$work" "$shm"' EXIT
head -c "$((SIZE * 1000000))" /dev/urandom > "$work/file.bin"

# One server per binary, each writing into its own tmpfs directory.
urls=()
for i in "${!bins[@]}"; do
  mkdir -p "$shm/$i"
  "${bins[$i]}" --wdir="$shm/$i" --port=0 --ifce=127.0.0.1 --maxs=$((SIZE * 2))M \
    > "$work/out$i" 2>&1 &
  pids+=($!)
  for _ in $(seq 100); do grep -q '^listening on ' "$work/out$i" && break; sleep 0.05; done
  url=$(sed -n 's/^listening on //p' "$work/out$i" | head -1)
  [ -n "$url" ] || { echo "httpout did not start:" >&2; cat "$work/out$i" >&2; exit 1; }
  urls+=("$url")
done

ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

declare -A runs
upload() { # binary index, kind
  local i=$1 kind=$2 before after code
  rm -f "$shm/$i"/*
  before=$(ticks "${pids[$i]}")
  if [ "$kind" = put ]; then
    code=$(curl -s -o /dev/null -w '%{http_code}' -T "$work/file.bin" "${urls[$i]}/put.bin")
  else
    code=$(curl -s -o /dev/null -w '%{http_code}' -F "f=@$work/file.bin" "${urls[$i]}/")
  fi
  after=$(ticks "${pids[$i]}")
  [ "$code" = 201 ] || { echo "$kind upload to ${urls[$i]} answered $code" >&2; exit 1; }
  # ms of server CPU per GB.
  runs[$i.$kind]+="$(( (after - before) * 1000 * 1000 / hz / SIZE )) "
}

echo "# $(nproc) cores; $SIZE MB per upload, $ROUNDS rounds, server CPU in ms per GB (medians)"
for round in $(seq "$ROUNDS"); do
  order=(put form)
  [ $((round % 2)) -eq 0 ] && order=(form put)
  for kind in "${order[@]}"; do
    for i in "${!bins[@]}"; do upload "$i" "$kind"; done
  done
done

for i in "${!bins[@]}"; do
  put=$(median ${runs[$i.put]})
  form=$(median ${runs[$i.form]})
  echo "binary $i (${bins[$i]}): put $put, form $form, form/put $(awk -v a="$form" -v b="$put" 'BEGIN {printf "%.2f", a / b}')"
  echo "  rounds: put ${runs[$i.put]}| form ${runs[$i.form]}"
done
if [ "${#bins[@]}" -eq 2 ]; then
  a=$(median ${runs[0.form]}); b=$(median ${runs[1.form]})
  echo "form, binary 1 / binary 0: $(awk -v a="$b" -v b="$a" 'BEGIN {printf "%.2f", a / b}')"
fi

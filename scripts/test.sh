#!/usr/bin/env bash
# Runs every test of the workspace on a fresh Debian machine: installs the
# real clients and peers the tests drive, then `cargo test --workspace`.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages the tests use as real clients or peers. nginx-light has
# the proxy module and its cache, and varnish brings varnishd: the edge tier
# of docs/deploy/ (crates/httpout/tests/edge.rs) runs both.
packages=(curl ffmpeg mpv vlc-bin vlc-plugin-base chromium nginx-light varnish haproxy icecast2 strace openssl procps nghttp2-client python3-prometheus-client)
missing=()
for p in "${packages[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}"
fi

cargo test --workspace "$@"

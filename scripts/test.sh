#!/usr/bin/env bash
# Runs every test of the workspace on a fresh Debian machine: installs the
# real clients and peers the tests drive, then `cargo test --workspace`.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages the tests use as real clients or peers. nginx-light has
# the proxy module and its cache, and varnish brings varnishd: the edge tier
# of docs/deploy/ (crates/httpout/tests/edge.rs) runs both.
packages=(curl python3 ffmpeg mpv vlc-bin vlc-plugin-base chromium nginx-light varnish haproxy icecast2 strace openssl procps nghttp2-client python3-prometheus-client python3-venv nodejs)
# npm installs the browser-side packages below; some nodejs builds bring it.
command -v npm >/dev/null 2>&1 || packages+=(npm)
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

# The browser-side packages the web tests run in Chromium, as locked:
# hls.js and dash.js (crates/httpout/tests/players_web.rs), tus-js-client
# and puppeteer-core, which drives Debian's Chromium through the listing's
# upload form (crates/httpout/tests/uploads_web.rs); again when the lock
# file is newer than the last install.
web=crates/httpout/tests/web
if [ ! -f "$web/node_modules/.package-lock.json" ] ||
   [ "$web/package-lock.json" -nt "$web/node_modules/.package-lock.json" ]; then
  (cd "$web" && npm ci --no-audit --no-fund)
fi

# The Python clients of the resumable uploads' tests
# (crates/httpout/tests/resumable.rs) and of the WebSocket tests
# (crates/httpout-core/tests/ws*.rs): tuspy and websockets, pinned, in a
# venv of ours.
pyenv=target/pyenv
tuspy=tuspy==1.1.0
websockets=websockets==17.4
if ! "$pyenv/bin/python" -c 'import tusclient, websockets' >/dev/null 2>&1 ||
   ! "$pyenv/bin/pip" show tuspy 2>/dev/null | grep -qx "Version: ${tuspy#*==}" ||
   ! "$pyenv/bin/pip" show websockets 2>/dev/null | grep -qx "Version: ${websockets#*==}"; then
  python3 -m venv "$pyenv"
  "$pyenv/bin/pip" install -q --disable-pip-version-check "$tuspy" "$websockets"
fi

cargo test --workspace "$@"

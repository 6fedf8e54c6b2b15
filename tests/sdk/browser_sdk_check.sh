#!/usr/bin/env bash
# RudderStack's JavaScript SDK in a real headless Chromium, against the service and a fake Ometria. Builds
# nothing; run by scripts/test.sh after ctest. Needs node (>= 18), npm, python3 and Debian's chromium.
#
#   tests/sdk/browser_sdk_check.sh [--build-dir DIR] [--record DIR] [--keep]
#
# Installs (once, into a cache folder: $OMT_NPM_CACHE, default ~/.cache/ometria-transformer/npm) the pinned
# @rudderstack/analytics-js and the DevTools client chrome-remote-interface from the npm registry; starts
# fake-ometria and `ometria-transformer serve` from the build directory (default: ./build) on loopback, the
# service with a source whose allowed_origins is the page's origin; serves a shop page from another origin
# (another port) that loads the SDK's bundled dist file and calls identify, track, page and an "Order Completed"
# track as the SDK's documentation shows, then, loaded again with useBeacon, an identify and an order sent by
# navigator.sendBeacon (tests/sdk/browser_sdk_drive.js); and checks that every request the SDK sent got a 2xx it
# could read (CORS), every event it handed over arrived at the fake as the record it should be (or was listed as
# rejected, with its reason), the page call was skipped, and the browser's console showed no error
# (tests/sdk/browser_sdk_verify.py).
# --record DIR: also write each request the browser sent (preflights too) byte for byte to DIR/<name>.http, as
# tests/integration/data/browser_sdk/ holds them for test_ingest_real_clients.cpp.
# Exit 0 when all of it holds; 1 when not (or npm cannot be reached); 2 for a missing tool or build.
set -euo pipefail

# The versions checked; the docs (docs/ingest.md, "Sending from a browser") name the same.
sdk_package=@rudderstack/analytics-js@3.34.1
cdp_package=chrome-remote-interface@0.34.0

root=$(cd "$(dirname "$0")/../.." && pwd)
build_dir=$root/build
record_dir=""
keep=0
while (($#)); do
  case "$1" in
    --build-dir) build_dir=$(cd "$2" && pwd); shift 2 ;;
    --record) mkdir -p "$2"; record_dir=$(cd "$2" && pwd); shift 2 ;;
    --keep) keep=1; shift ;;
    -h|--help) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "browser_sdk_check: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done

check=browser_sdk_check
tools=(node npm python3 chromium)
# shellcheck source=tests/sdk/sdk_check_common.sh
source "$root/tests/sdk/sdk_check_common.sh"
chromium_bin=$(command -v chromium)

# ---- the SDK and the DevTools client, from the npm registry, into a cache folder kept between runs ----
cache=${OMT_NPM_CACHE:-${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/ometria-transformer/npm}/browser-sdk
mkdir -p "$cache"
if ! node -e "process.exit(require('$cache/node_modules/@rudderstack/analytics-js/package.json').version === '${sdk_package##*@}' &&
                          require('$cache/node_modules/chrome-remote-interface/package.json').version === '${cdp_package##*@}' ? 0 : 1)" 2>/dev/null; then
  [[ -f $cache/package.json ]] || echo '{"name":"omt-browser-sdk-check","private":true}' >"$cache/package.json"
  if ! (cd "$cache" && timeout 300 npm install --no-audit --no-fund --loglevel=error "$sdk_package" "$cdp_package") >"$work/npm.log" 2>&1; then
    cat "$work/npm.log" >&2
    echo "browser_sdk_check: FAIL: could not install $sdk_package and $cdp_package from the npm registry (is it reachable?)" >&2
    exit 1
  fi
fi
sdk_file=$cache/node_modules/@rudderstack/analytics-js/dist/npm/modern/bundled/umd/index.js
[[ -f $sdk_file ]] || { echo "browser_sdk_check: FAIL: $sdk_file is not in the package" >&2; exit 1; }

# ---- fake Ometria ----
api_key=ometria-key-browser-sdk-check
start_fake "$api_key"

# ---- the service; the page's port is chosen now, as its origin goes into the config ----
port=$(free_port)
page_port=$(free_port)
write_key=wk-web
cat >"$work/config.json" <<EOF
{
  "server": {"listen": "127.0.0.1:$port"},
  "queue": {"path": "$work/queue.db"},
  "ometria": {"endpoint": "http://127.0.0.1:$fake_port/v2/push", "allow_plain_http": true},
  "delivery": {"linger": "20ms"},
  "sources": [{"name": "shop", "write_key": "$write_key", "api_key": "$api_key",
               "allowed_origins": ["http://127.0.0.1:$page_port"]}]
}
EOF
"$service_bin" serve --config "$work/config.json" --log-level info 2>"$work/service.log" &
service_pid=$!
wait_for "the service to listen" 20 grep -qs "listening on" "$work/service.log"
echo "browser_sdk_check: $sdk_package in $("$chromium_bin" --version 2>/dev/null | head -1), node $(node --version)"
echo "browser_sdk_check: page on http://127.0.0.1:$page_port, service on 127.0.0.1:$port, fake Ometria on 127.0.0.1:$fake_port"

# ---- the browser ----
record_args=()
[[ -n $record_dir ]] && record_args=(--record "$record_dir")
if ! NODE_PATH=$cache/node_modules timeout 120 node "$root/tests/sdk/browser_sdk_drive.js" \
    --data-plane "http://127.0.0.1:$port" --write-key "$write_key" --sdk-file "$sdk_file" --chromium "$chromium_bin" \
    --page-port "$page_port" --out "$work" "${record_args[@]}" >"$work/drive.log" 2>&1; then
  cat "$work/drive.log" >&2
  echo "browser_sdk_check: FAIL: the browser could not be driven" >&2
  exit 1
fi

# ---- the SDK's side and the fake's side (waits up to 30 s for delivery) ----
python3 "$root/tests/sdk/browser_sdk_verify.py" "$work"

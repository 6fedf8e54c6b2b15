#!/usr/bin/env bash
# Load benchmark of `ometria-transformer serve` with Debian's wrk (apt-get install wrk).
#
#   bench/load/run.sh [--binary PATH] [--runs N] [--duration 10s] [--connections 32] [--wrk-threads 2]
#                     [--server-threads N]
#
# Writes three bodies (1 identify event; 100 mixed events as a processor body; the same 100 as a router body;
# events of 3-4 KB with the full RudderStack context), then for each starts a fresh server on 127.0.0.1 (port
# chosen by the server), checks that the body transforms, runs wrk N times and prints the medians of
# requests/s, events/s and p50/p99 latency, with the server's peak RSS (VmHWM) for that body.
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=bench/load/lib.sh
source "$root/bench/load/lib.sh"
binary="$root/build/ometria-transformer"
runs=3
duration=10s
connections=32
wrk_threads=2
server_threads=$(nproc)
while [[ $# -gt 0 ]]; do
  case "$1" in
    --binary) binary=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --duration) duration=$2; shift 2 ;;
    --connections) connections=$2; shift 2 ;;
    --wrk-threads) wrk_threads=$2; shift 2 ;;
    --server-threads) server_threads=$2; shift 2 ;;
    -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done
command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install wrk)" >&2; exit 2; }
[[ -x "$binary" ]] || { echo "no server binary at $binary (build first: scripts/build.sh)" >&2; exit 2; }

work=$(mktemp -d /tmp/omt-load.XXXXXX)
server_pid=""
cleanup() {
  if [[ -n "$server_pid" ]] && kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

python3 "$root/bench/load/make_payloads.py" "$work"

start_server() {
  "$binary" serve --listen 127.0.0.1:0 --threads "$server_threads" --log-level info 2>"$work/server.log" &
  server_pid=$!
  wait_for_listening "$server_pid" "$work/server.log"
}

stop_server() {
  kill -TERM "$server_pid"
  wait "$server_pid" || { echo "the server exited with status $?" >&2; exit 1; }
  server_pid=""
}


printf '%-14s %6s %12s %12s %9s %9s %9s\n' body events req/s events/s p50_ms p99_ms rss_MiB
for scenario in "identify identify.json /v0/destinations/ometria 1" \
                "processor100 processor100.json /v0/destinations/ometria 100" \
                "router100 router100.json /routerTransform 100"; do
  read -r name file path events <<<"$scenario"
  start_server
  # The body must transform: HTTP 200 and no failed event.
  status=$(curl -s -o "$work/answer.json" -w '%{http_code}' -H 'Content-Type: application/json' \
           --data-binary "@$work/$file" "http://127.0.0.1:$port$path")
  if [[ "$status" != 200 ]] || grep -q '"statusCode":[45]' "$work/answer.json"; then
    echo "$name: the body does not transform cleanly (HTTP $status): $(head -c 300 "$work/answer.json")" >&2
    exit 1
  fi
  : >"$work/results"
  for _ in $(seq 1 "$runs"); do
    OMT_BODY_FILE="$work/$file" wrk -t"$wrk_threads" -c"$connections" -d"$duration" \
      -s "$root/bench/load/post.lua" "http://127.0.0.1:$port$path" | grep '^RESULT' >>"$work/results"
  done
  rss_kib=$(awk '/VmHWM/ {print $2}' "/proc/$server_pid/status")
  stop_server
  if awk '{for (i = 2; i <= NF; i++) {split($i, kv, "="); if ((kv[1] == "non2xx" || kv[1] == "socket_errors") && kv[2] > 0) bad = 1}} END {exit !bad}' "$work/results"; then
    echo "$name: wrk saw errors:" >&2
    cat "$work/results" >&2
  fi
  field() { sed -E "s/.* $1=([0-9]+).*/\\1/" "$work/results"; }
  rps=$(paste -d' ' <(field requests) <(field duration_us) | awk '{printf "%.0f\n", $1 / ($2 / 1e6)}' | median)
  p50=$(field p50_us | median)
  p99=$(field p99_us | median)
  printf '%-14s %6d %12.0f %12.0f %9.2f %9.2f %9.1f\n' "$name" "$events" "$rps" "$(awk -v r="$rps" -v e="$events" 'BEGIN {print r * e}')" \
    "$(awk -v v="$p50" 'BEGIN {print v / 1000}')" "$(awk -v v="$p99" 'BEGIN {print v / 1000}')" \
    "$(awk -v v="$rss_kib" 'BEGIN {print v / 1024}')"
done
echo "(medians of $runs runs; wrk -t$wrk_threads -c$connections -d$duration; server --threads $server_threads)"

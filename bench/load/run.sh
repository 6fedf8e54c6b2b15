#!/usr/bin/env bash
# Load benchmark of `ometria-transformer serve` with Debian's wrk (apt-get install wrk), side by side with its
# floor: a bare Beast server (bench/load/floor.cpp, built as build/bench/omt_load_floor) that reads the same
# requests and answers a body of the same size as the service's answer, with no parsing and no mapping.
#
#   bench/load/run.sh [--binary PATH] [--mappings DIR] [--floor PATH] [--runs N] [--duration 10s]
#                     [--connections 32] [--wrk-threads 2] [--server-threads N]
#                     [--bodies identify,processor100,...,ingest]
#
# --mappings: the mapping files for a --binary copied out of its build tree (one in a build tree finds its
# source's, one installed finds those beside it); give those of the commit it was built from (OMT_MAPPINGS_DIR).
#
# Writes the bodies (1 identify event; 100 mixed events as a processor body; the same 100 as a router body;
# events of 3-4 KB with the full RudderStack context; the 100-event bodies also in rudder-server's compacted form,
# sent with X-Content-Format: json+compactedv1), then for each starts a fresh service and a fresh floor on
# 127.0.0.1, checks that the body transforms, runs wrk N times against each, alternating, and prints the medians
# of requests/s, events/s and p50/p99 latency for both, the service as a share of the floor, and the service's
# peak RSS (VmHWM). Machines differ from one session to the next: compare the ratios, which one run measures.
#
# Then the ingest path: one service with a durable queue (durability full, a source with a write key, delivery
# pointed at a closed port so that nothing drains and nothing competes for the CPU), loaded alternately with
# the 100 events on /v0/destinations/ometria and the same 100 on /v1/batch (HTTP Basic); it prints the events/s
# each acknowledged and the ingest path as a share of the transform path. --no-ingest skips it; --bodies runs only
# the scenarios named (identify processor100 processor100c router100 router100c ingest; comma-separated).
#
# Each server is loaded only once it listens and accepts connections (bench/load/lib.sh), and a wrk that still
# cannot connect stops the run with the server's log.
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=bench/load/lib.sh
source "$root/bench/load/lib.sh"
binary="$root/build/ometria-transformer"
floor="$root/build/bench/omt_load_floor"
runs=3
duration=10s
connections=32
wrk_threads=2
server_threads=$(nproc)
bodies=identify,processor100,processor100c,router100,router100c,ingest
mappings=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --binary) binary=$2; shift 2 ;;
    --mappings) mappings=$2; shift 2 ;;
    --floor) floor=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --duration) duration=$2; shift 2 ;;
    --connections) connections=$2; shift 2 ;;
    --wrk-threads) wrk_threads=$2; shift 2 ;;
    --server-threads) server_threads=$2; shift 2 ;;
    --no-ingest) bodies=${bodies//,ingest/}; shift ;;
    --bodies) bodies=$2; shift 2 ;;
    -h|--help) sed -n '2,27p' "$0"; exit 0 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done
for name in ${bodies//,/ }; do
  case "$name" in
    identify|processor100|processor100c|router100|router100c|ingest) ;;
    *) echo "--bodies: unknown scenario $name (identify processor100 processor100c router100 router100c ingest)" >&2
       exit 2 ;;
  esac
done
wanted() { [[ ",$bodies," == *",$1,"* ]]; }
command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install wrk)" >&2; exit 2; }
[[ -x "$binary" ]] || { echo "no server binary at $binary (build first: scripts/build.sh)" >&2; exit 2; }
if [[ -n "$mappings" ]]; then
  [[ -d "$mappings" ]] || { echo "--mappings: no folder at $mappings" >&2; exit 2; }
  OMT_MAPPINGS_DIR=$(cd "$mappings" && pwd)
  export OMT_MAPPINGS_DIR
fi
[[ -x "$floor" ]] || { echo "no floor server at $floor (build the benchmarks: scripts/build.sh)" >&2; exit 2; }

work=$(mktemp -d /tmp/omt-load.XXXXXX)
server_pid=""
floor_pid=""
cleanup() {
  for pid in "$server_pid" "$floor_pid"; do
    if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then
      kill -TERM "$pid" 2>/dev/null || true
      wait "$pid" 2>/dev/null || true
    fi
  done
  rm -rf "$work"
}
trap cleanup EXIT

python3 "$root/bench/load/make_payloads.py" "$work"

start_server() {  # $@: more arguments for serve
  : >"$work/server.log"  # no line of the last server's left for wait_for_listening to read
  "$binary" serve --listen 127.0.0.1:0 --threads "$server_threads" --log-level info "$@" 2>"$work/server.log" &
  server_pid=$!
  wait_for_listening "$server_pid" "$work/server.log"
  server_port=$port
}

start_floor() {  # $1: the size of the answer to send
  : >"$work/floor.log"
  "$floor" --listen 127.0.0.1:0 --threads "$server_threads" --answer-bytes "$1" 2>"$work/floor.log" &
  floor_pid=$!
  wait_for_listening "$floor_pid" "$work/floor.log"
  floor_port=$port
}

stop_pid() {
  kill -TERM "$1"
  wait "$1" || { echo "process $1 exited with status $?" >&2; exit 1; }
}

# wrk once against port $1 with body $2 at path $3, appending its RESULT line to file $4; X-Content-Format: $5;
# Authorization: $6.
load_once() {
  if ! OMT_BODY_FILE="$work/$2" OMT_CONTENT_FORMAT="$5" OMT_AUTHORIZATION="${6:-}" wrk -t"$wrk_threads" \
       -c"$connections" -d"$duration" -s "$root/bench/load/post.lua" "http://127.0.0.1:$1$3" >"$work/wrk.out" 2>&1 ||
     ! grep '^RESULT' "$work/wrk.out" >>"$4"; then
    echo "wrk against 127.0.0.1:$1$3 failed: $(cat "$work/wrk.out")" >&2
    local log="$work/server.log"
    [[ "$1" == "${floor_port:-}" ]] && log="$work/floor.log"
    echo "the server's log ($log):" >&2
    tail -n 20 "$log" >&2
    exit 1
  fi
}

check_errors() {  # $1: name, $2: results file
  if awk '{for (i = 2; i <= NF; i++) {split($i, kv, "="); if ((kv[1] == "non2xx" || kv[1] == "socket_errors") && kv[2] > 0) bad = 1}} END {exit !bad}' "$2"; then
    echo "$1: wrk saw errors:" >&2
    cat "$2" >&2
  fi
}

field() { sed -E "s/.* $1=([0-9]+).*/\\1/" "$2"; }
events_of() {  # $1: results file, $2: events a request; the median events/s of the 2xx answers
  paste -d' ' <(field requests "$1") <(field non2xx "$1") <(field duration_us "$1") |
    awk -v e="$2" '{printf "%.0f\n", ($1 - $2) * e / ($3 / 1e6)}' | median
}
rps_of() { paste -d' ' <(field requests "$1") <(field duration_us "$1") | awk '{printf "%.0f\n", $1 / ($2 / 1e6)}' | median; }
ms_of() { field "$1" "$2" | median | awk '{print $1 / 1000}'; }

transforms=${bodies//ingest/}
[[ $transforms == *[a-z]* ]] &&
printf '%-13s %6s | %10s %10s %7s %7s | %10s %10s %7s %7s | %6s %6s | %7s\n' body events \
  req/s events/s p50_ms p99_ms floor_rq/s floor_ev/s f_p50 f_p99 share p99_x rss_MiB
compacted=json+compactedv1
for scenario in "identify identify.json /v0/destinations/ometria 1" \
                "processor100 processor100.json /v0/destinations/ometria 100" \
                "processor100c processor100_compacted.json /v0/destinations/ometria 100 $compacted" \
                "router100 router100.json /routerTransform 100" \
                "router100c router100_compacted.json /routerTransform 100 $compacted"; do
  read -r name file path events content_format <<<"$scenario"
  wanted "$name" || continue
  start_server
  # The body must transform: HTTP 200 and no failed event.
  status=$(curl -s -o "$work/answer.json" -w '%{http_code}' -H 'Content-Type: application/json' \
           ${content_format:+-H "X-Content-Format: $content_format"} \
           --data-binary "@$work/$file" "http://127.0.0.1:$server_port$path")
  if [[ "$status" != 200 ]] || grep -q '"statusCode":[45]' "$work/answer.json"; then
    echo "$name: the body does not transform cleanly (HTTP $status): $(head -c 300 "$work/answer.json")" >&2
    exit 1
  fi
  start_floor "$(stat -c %s "$work/answer.json")"
  : >"$work/results"
  : >"$work/floor_results"
  for _ in $(seq 1 "$runs"); do  # alternating, so that both see the same machine
    load_once "$server_port" "$file" "$path" "$work/results" "$content_format"
    load_once "$floor_port" "$file" "$path" "$work/floor_results" "$content_format"
  done
  rss_kib=$(awk '/VmHWM/ {print $2}' "/proc/$server_pid/status")
  stop_pid "$server_pid"; server_pid=""
  stop_pid "$floor_pid"; floor_pid=""
  check_errors "$name" "$work/results"
  check_errors "$name (floor)" "$work/floor_results"
  rps=$(rps_of "$work/results"); floor_rps=$(rps_of "$work/floor_results")
  p50=$(ms_of p50_us "$work/results"); p99=$(ms_of p99_us "$work/results")
  f_p50=$(ms_of p50_us "$work/floor_results"); f_p99=$(ms_of p99_us "$work/floor_results")
  printf '%-13s %6d | %10.0f %10.0f %7.2f %7.2f | %10.0f %10.0f %7.2f %7.2f | %5.0f%% %6.2f | %7.1f\n' \
    "$name" "$events" "$rps" "$(awk -v r="$rps" -v e="$events" 'BEGIN {print r * e}')" "$p50" "$p99" \
    "$floor_rps" "$(awk -v r="$floor_rps" -v e="$events" 'BEGIN {print r * e}')" "$f_p50" "$f_p99" \
    "$(awk -v a="$rps" -v b="$floor_rps" 'BEGIN {print 100 * a / b}')" \
    "$(awk -v a="$p99" -v b="$f_p99" 'BEGIN {print (b > 0 ? a / b : 0)}')" \
    "$(awk -v v="$rss_kib" 'BEGIN {print v / 1024}')"
done
[[ $transforms == *[a-z]* ]] && {
echo "(medians of $runs runs each, alternating; wrk -t$wrk_threads -c$connections -d$duration; --threads $server_threads;"
echo " share: the service's requests/s as a share of the floor's; p99_x: its p99 over the floor's;"
echo " processor100c, router100c: the same 100 events as processor100, router100 in the compacted form)"
}

wanted ingest || exit 0
# ---- the ingest path beside the transform path: one service, one run ------------------------------------------
write_key="wk-bench-load"
authorization="Basic $(printf '%s:' "$write_key" | base64 -w0)"
cat >"$work/ingest.json" <<EOF
{
  "queue": {"path": "$work/queue.db", "durability": "full", "high_water_mark": 1000000000},
  "ingest": {"slow_down_from": 0},
  "ometria": {"endpoint": "http://127.0.0.1:9/v2/push", "allow_plain_http": true},
  "sources": [{"name": "bench", "write_key": "$write_key", "api_key": "bench-api-key"}]
}
EOF
start_server --config "$work/ingest.json"
status=$(curl -s -o "$work/answer.json" -w '%{http_code}' -H "Authorization: $authorization" \
         -H 'Content-Type: application/json' --data-binary "@$work/batch100.json" "http://127.0.0.1:$server_port/v1/batch")
if [[ "$status" != 200 ]] || ! grep -q '"accepted":100,' "$work/answer.json"; then
  echo "batch100: the body is not accepted whole (HTTP $status): $(head -c 300 "$work/answer.json")" >&2
  exit 1
fi
: >"$work/transform_results"
: >"$work/ingest_results"
for _ in $(seq 1 "$runs"); do  # alternating, so that both see the same machine
  load_once "$server_port" processor100.json /v0/destinations/ometria "$work/transform_results" ""
  load_once "$server_port" batch100.json /v1/batch "$work/ingest_results" "" "$authorization"
done
rss_kib=$(awk '/VmHWM/ {print $2}' "/proc/$server_pid/status")
stop_pid "$server_pid"; server_pid=""
check_errors "processor100 (ingest run)" "$work/transform_results"
check_errors "batch100" "$work/ingest_results"
transform_events=$(events_of "$work/transform_results" 100)
ingest_events=$(events_of "$work/ingest_results" 100)
echo
printf '%-24s %10s %7s %7s\n' path events/s p50_ms p99_ms
printf '%-24s %10.0f %7.2f %7.2f\n' /v0/destinations/ometria "$transform_events" \
  "$(ms_of p50_us "$work/transform_results")" "$(ms_of p99_us "$work/transform_results")"
printf '%-24s %10.0f %7.2f %7.2f\n' "/v1/batch (acknowledged)" "$ingest_events" \
  "$(ms_of p50_us "$work/ingest_results")" "$(ms_of p99_us "$work/ingest_results")"
printf 'ingest share: %.0f%%   peak RSS %.1f MiB\n' \
  "$(awk -v a="$ingest_events" -v b="$transform_events" 'BEGIN {print 100 * a / b}')" \
  "$(awk -v v="$rss_kib" 'BEGIN {print v / 1024}')"
echo "(the same 100 events: processor100 on /v0/destinations/ometria, batch100 on /v1/batch into the queue at"
echo " durability full; medians of $runs runs each, alternating; only 2xx answers count as acknowledged)"

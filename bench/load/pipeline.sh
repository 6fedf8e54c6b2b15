#!/usr/bin/env bash
# The whole ingest pipeline under load: wrk -> POST /v1/batch (100 events of 3-4 KB a request, HTTP Basic) ->
# the durable queue -> delivery -> the fake Ometria (the `fake-ometria` program), with no rate limit.
#
#   bench/load/pipeline.sh [--build DIR] [--runs N] [--duration 15s] [--connections 16] [--wrk-threads 1]
#                          [--server-threads 2] [--durability full|normal] [--tls] [--drain-timeout 60]
#                          [--lanes N]   (delivery.pushes_per_partition, default 4)
#                          [--keep-logs DIR]   (copies each run's server and fake logs there)
#
# Each run starts a fresh fake Ometria (GET /_fake/stats counts the records it accepted) and a fresh server on a new
# queue file, checks that the body is accepted, runs wrk, then reports:
#   acked/s      events acknowledged per second (wrk's 2xx requests x 100 / wrk's duration)
#   delivered/s  records the fake accepted per second during the same window
#   depth_mid    records queued half-way through (omt_queue_depth, sampled each second): alike to depth_end when
#                delivery keeps pace (ingest is held back past ingest.slow_down_from, see docs/ingest.md)
#   depth_end    records still queued when wrk stopped (`ometria-transformer queue stats`)
#   drain_s      seconds after wrk stopped until every acknowledged record had reached the fake
#   server_cpu   cores the server used while wrk ran (1.00 = one core all the time); fake_cpu: the same for the fake
# and the medians over the runs. Needs wrk (apt-get install wrk) and a build with tests (for fake-ometria).
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=bench/load/lib.sh
source "$root/bench/load/lib.sh"
build="$root/build"
runs=3
duration=15s
connections=16
wrk_threads=1
server_threads=2
durability=full
tls=0
drain_timeout=60
lanes=4
keep_logs=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --build) build=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --duration) duration=$2; shift 2 ;;
    --connections) connections=$2; shift 2 ;;
    --wrk-threads) wrk_threads=$2; shift 2 ;;
    --server-threads) server_threads=$2; shift 2 ;;
    --durability) durability=$2; shift 2 ;;
    --tls) tls=1; shift ;;
    --drain-timeout) drain_timeout=$2; shift 2 ;;
    --lanes) lanes=$2; shift 2 ;;
    --keep-logs) keep_logs=$2; shift 2 ;;
    -h|--help) sed -n '2,19p' "$0"; exit 0 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done
binary="$build/ometria-transformer"
fake="$build/tests/fake-ometria"
[[ -x "$fake" ]] || fake="$build/fake-ometria"
command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install wrk)" >&2; exit 2; }
[[ -x "$binary" ]] || { echo "no server binary at $binary (build first: scripts/build.sh)" >&2; exit 2; }
[[ -x "$fake" ]] || { echo "no fake-ometria under $build (build with tests)" >&2; exit 2; }

api_key="bench-api-key"
write_key="wk-bench-pipeline"
authorization="Basic $(printf '%s:' "$write_key" | base64 -w0)"

work=$(mktemp -d /tmp/omt-pipeline.XXXXXX)
server_pid=""
fake_pid=""
stop_pid() {  # TERM, then wait for it; only processes this script started
  local pid=$1
  if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  fi
}
cleanup() {
  stop_pid "$server_pid"
  stop_pid "$fake_pid"
  rm -rf "$work"
}
trap cleanup EXIT

python3 "$root/bench/load/make_payloads.py" "$work" 2>/dev/null
body="$work/batch100.json"

# Waits (bounded: 10 s) until FILE exists and is not empty.
wait_for_file() {
  for _ in $(seq 1 200); do
    [[ -s "$1" ]] && return 0
    sleep 0.05
  done
  return 1
}
# Records the fake has accepted so far (asking it is cheap; counting a growing output file is not).
delivered() {
  if [[ $tls == 1 ]]; then curl -s --cacert "$work/tls/ca.pem" "https://127.0.0.1:$fake_port/_fake/stats"
  else curl -s "http://127.0.0.1:$fake_port/_fake/stats"; fi | sed -E 's/.*"records":([0-9]+).*/\1/'
}
now() { date +%s.%N; }

start_fake() {
  local tls_args=()
  [[ $tls == 1 ]] && tls_args=(--tls-dir "$work/tls")
  rm -f "$work/fake.port"
  "$fake" --listen 127.0.0.1:0 --keys "$api_key" --port-file "$work/fake.port" \
    "${tls_args[@]}" >/dev/null 2>"$work/fake.log" &
  fake_pid=$!
  wait_for_file "$work/fake.port" || { echo "fake-ometria did not start:" >&2; cat "$work/fake.log" >&2; exit 1; }
  fake_port=$(cat "$work/fake.port")
}

write_config() {
  local scheme=http extra=""
  if [[ $tls == 1 ]]; then
    scheme=https
    extra=", \"extra_ca_file\": \"$work/tls/ca.pem\""
  fi
  cat >"$work/config.json" <<EOF
{
  "server": {"listen": "127.0.0.1:0", "threads": $server_threads},
  "queue": {"path": "$work/queue.db", "durability": "$durability"},
  "ometria": {"endpoint": "$scheme://127.0.0.1:$fake_port/v2/push", "allow_plain_http": true$extra},
  "delivery": {"requests_per_second": 0, "pushes_per_partition": $lanes},
  "sources": [{"name": "bench", "write_key": "$write_key", "api_key": "$api_key"}]
}
EOF
}

start_server() {
  rm -f "$work/queue.db" "$work/queue.db-wal" "$work/queue.db-shm"
  # At the default level (info), as in production: one line per push goes to the log file.
  "$binary" serve --config "$work/config.json" --log-level info 2>"$work/server.log" &
  server_pid=$!
  wait_for_listening "$server_pid" "$work/server.log"
}

queue_depth() {
  "$binary" queue stats --config "$work/config.json" 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["depth"])'
}

# CPU seconds (user + system) a process has used so far.
cpu_seconds() { awk -v hz="$(getconf CLK_TCK)" '{print ($14 + $15) / hz}' "/proc/$1/stat" 2>/dev/null || echo 0; }


: >"$work/summary"
printf '%-4s %10s %12s %12s %10s %10s %9s %9s %9s %11s %9s\n' run requests acked/s delivered/s depth_mid depth_end drain_s \
  p50_ms p99_ms server_cpu fake_cpu
for run in $(seq 1 "$runs"); do
  start_fake
  write_config
  start_server
  status=$(curl -s -o "$work/answer.json" -w '%{http_code}' -H "Authorization: $authorization" \
           -H 'Content-Type: application/json' --data-binary "@$body" "http://127.0.0.1:$port/v1/batch")
  if [[ "$status" != 200 ]] || ! grep -q '"accepted":100,"rejected":\[\]' "$work/answer.json"; then
    echo "the body is not accepted whole (HTTP $status): $(head -c 300 "$work/answer.json")" >&2
    exit 1
  fi
  # Let the check request's records through first, so the window below starts from a quiet pipeline.
  for _ in $(seq 1 100); do [[ $(delivered) -ge 100 ]] && break; sleep 0.05; done

  delivered_before=$(delivered)
  t0=$(now)
  server_cpu0=$(cpu_seconds "$server_pid"); fake_cpu0=$(cpu_seconds "$fake_pid")
  # The queue's depth once a second while wrk runs: flat in the second half means delivery keeps pace.
  : >"$work/depth.log"
  ( while sleep 1; do
      curl -s "http://127.0.0.1:$port/metrics" | awk '/^omt_queue_depth /{print $2}' >>"$work/depth.log"
    done ) &
  sampler_pid=$!
  OMT_BODY_FILE="$body" OMT_AUTHORIZATION="$authorization" wrk -t"$wrk_threads" -c"$connections" -d"$duration" \
    -s "$root/bench/load/post.lua" "http://127.0.0.1:$port/v1/batch" >"$work/wrk.out"
  t1=$(now)
  kill "$sampler_pid" 2>/dev/null; wait "$sampler_pid" 2>/dev/null || true
  samples=$(wc -l <"$work/depth.log")
  depth_mid=$(sed -n "$(( (samples + 1) / 2 ))p" "$work/depth.log"); depth_mid=${depth_mid:-0}
  server_cpu1=$(cpu_seconds "$server_pid"); fake_cpu1=$(cpu_seconds "$fake_pid")
  delivered_after=$(delivered)
  depth_end=$(queue_depth)
  result=$(grep '^RESULT' "$work/wrk.out")
  field() { sed -E "s/.* $1=([0-9]+).*/\\1/" <<<"$result"; }
  requests=$(field requests); duration_us=$(field duration_us); non2xx=$(field non2xx); socket_errors=$(field socket_errors)
  acked_events=$(( (requests - non2xx) * 100 ))
  if (( non2xx > 0 || socket_errors > 0 )); then echo "run $run: wrk saw $non2xx non-2xx answers, $socket_errors socket errors" >&2; fi

  # Drain: every acknowledged event (plus the check request's 100) must reach the fake.
  want=$(( acked_events + 100 ))
  drain_start=$(now)
  drained=0
  for _ in $(seq 1 $(( drain_timeout * 10 ))); do
    if [[ $(delivered) -ge $want ]]; then drained=1; break; fi
    sleep 0.1
  done
  drain_s=$(awk -v a="$drain_start" -v b="$(now)" 'BEGIN {printf "%.1f", b - a}')
  [[ $drained == 1 ]] || { echo "run $run: only $(delivered) of $want records arrived within ${drain_timeout}s" >&2; drain_s="timeout"; }

  acked_rate=$(awk -v e="$acked_events" -v d="$duration_us" 'BEGIN {printf "%.0f", e / (d / 1e6)}')
  delivered_rate=$(awk -v n="$((delivered_after - delivered_before))" -v a="$t0" -v b="$t1" 'BEGIN {printf "%.0f", n / (b - a)}')
  p50=$(awk -v v="$(field p50_us)" 'BEGIN {printf "%.1f", v / 1000}')
  p99=$(awk -v v="$(field p99_us)" 'BEGIN {printf "%.1f", v / 1000}')
  # Cores used while wrk ran (1.00 = one core busy all the time).
  server_cores=$(awk -v a="$server_cpu0" -v b="$server_cpu1" -v t0="$t0" -v t1="$t1" 'BEGIN {printf "%.2f", (b - a) / (t1 - t0)}')
  fake_cores=$(awk -v a="$fake_cpu0" -v b="$fake_cpu1" -v t0="$t0" -v t1="$t1" 'BEGIN {printf "%.2f", (b - a) / (t1 - t0)}')
  printf '%-4s %10d %12d %12d %10d %10d %9s %9s %9s %11s %9s\n' "$run" "$requests" "$acked_rate" "$delivered_rate" \
    "$depth_mid" "$depth_end" "$drain_s" "$p50" "$p99" "$server_cores" "$fake_cores"
  echo "$acked_rate $delivered_rate $depth_end" >>"$work/summary"

  stop_pid "$server_pid"; server_pid=""
  stop_pid "$fake_pid"; fake_pid=""
  if [[ -n "$keep_logs" ]]; then
    mkdir -p "$keep_logs"
    cp "$work/server.log" "$keep_logs/server.$run.log"
    cp "$work/fake.log" "$keep_logs/fake.$run.log"
  fi
done
printf '%-4s %10s %12d %12d %10s %10d\n' median "" "$(cut -d' ' -f1 "$work/summary" | median)" \
  "$(cut -d' ' -f2 "$work/summary" | median)" "" "$(cut -d' ' -f3 "$work/summary" | median)"
echo "(wrk -t$wrk_threads -c$connections -d$duration, POST /v1/batch with 100 events; server --threads $server_threads," \
     "queue durability $durability, $([[ $tls == 1 ]] && echo HTTPS || echo plain HTTP) to fake-ometria; $(nproc) cores)"

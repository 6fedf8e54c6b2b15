#!/usr/bin/env bash
# `ometria-transformer import` of N JSON Lines events of 3-4 KB (plain, then gzip) and of an N-row Shopify order
# export CSV (make_import_csv.py: N/2 orders), plan and enqueue, beside POST /v1/batch ingest of the same N events
# into a running serve, in the same run:
#
#   bench/load/import.sh [--build DIR] [--events 1000000] [--durability full|normal] [--clients 4] [--before BINARY]
#                        [--wrk-duration 10]
#
# Reports for each: seconds, items/s, CPU seconds (user + system: what counts on a busy machine) and CPU
# microseconds per item, peak RSS (/usr/bin/time -v for the importer, VmHWM for serve), and the ratios of import
# to ingest: throughput (items/s over ingest's events/s) and CPU per item (ingest's over the import's; above 1:
# the import spends less). The CSV is compared with the same ingest run record for record: its records/s (one
# order of 1-3 rows each) over ingest's events/s (one record each), and its rows/s likewise.
# --before BINARY also imports the same files with another build (an older commit), for before/after in one run.
# Each import runs on a new queue, with every hazard accepted (the events are history) and import.max_queued
# above N: nothing delivers the import's queue here, so at the default cap (200,000) it would wait forever.
# The ingest side posts bodies of 100 events with `--clients` keep-alive connections (Python, standard library)
# and counts until every request was answered 200; delivery goes to the fake Ometria (no rate limit). Then wrk
# posts one of those bodies for --wrk-duration seconds (ingest.wrk): ingest's capacity, which the Python client may
# not reach on a small machine; the ratios to it are the ones to read.
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=bench/load/lib.sh
source "$root/bench/load/lib.sh"
build="$root/build"
events=1000000
durability=full
clients=4
before=""
wrk_seconds=10
while [[ $# -gt 0 ]]; do
  case "$1" in
    --build) build=$2; shift 2 ;;
    --wrk-duration) wrk_seconds=$2; shift 2 ;;
    --events) events=$2; shift 2 ;;
    --durability) durability=$2; shift 2 ;;
    --clients) clients=$2; shift 2 ;;
    --before) before=$2; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
binary="$build/ometria-transformer"
fake="$build/tests/fake-ometria"
[[ -x "$binary" && -x "$fake" ]] || { echo "build first (with tests): $binary, $fake" >&2; exit 2; }
[[ -z "$before" || -x "$before" ]] || { echo "--before: $before is not an executable" >&2; exit 2; }
[[ -x /usr/bin/time ]] || { echo "/usr/bin/time is missing (apt-get install time)" >&2; exit 2; }

work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

echo "writing $events events..." >&2
python3 "$root/bench/load/make_import_events.py" "$events" "$work/events.jsonl" "$work/batches.jsonl"
gzip -k -1 "$work/events.jsonl"
orders=$(python3 "$root/bench/load/make_import_csv.py" "$events" "$work/orders.csv")
# The inputs written out before anything is measured: the kernel's writeback of gigabytes of fresh dirty pages
# would otherwise fall on whichever import runs first.
sync
echo "events.jsonl: $(du -h "$work/events.jsonl" | cut -f1), gzip: $(du -h "$work/events.jsonl.gz" | cut -f1)," \
  "orders.csv: $(du -h "$work/orders.csv" | cut -f1) ($events rows, $orders orders)" >&2

"$fake" --listen 127.0.0.1:0 --keys bench-api-key --port-file "$work/fake.port" >/dev/null 2>"$work/fake.log" &
pids+=($!)
for _ in $(seq 1 200); do [[ -s "$work/fake.port" ]] && break; sleep 0.05; done
[[ -s "$work/fake.port" ]] || { echo "fake-ometria did not start:" >&2; cat "$work/fake.log" >&2; exit 1; }
fake_port=$(cat "$work/fake.port")

config() {  # $1: queue file
  cat <<JSON
{"mappings_dir": "$root/mappings",
 "queue": {"path": "$1", "durability": "$durability", "high_water_mark": 100000000},
 "ingest": {"slow_down_from": 0},
 "import": {"max_queued": $((events + 1))},
 "ometria": {"endpoint": "http://127.0.0.1:$fake_port/v2/push", "allow_plain_http": true},
 "delivery": {"requests_per_second": 0},
 "log": {"level": "warn"},
 "sources": [{"name": "bench", "write_key": "bench-write-key", "api_key": "bench-api-key"}]}
JSON
}

# ---- import: plain, gzip, CSV (and the same with --before) ----
run_import() {  # $1: binary, $2: input file, $3: label, $4: items (events or rows); extra import options after
  local bin=$1 input=$2 label=$3 items=$4
  shift 4
  local dir="$work/$label"
  mkdir -p "$dir"
  config "$dir/queue.db" >"$dir/config.json"
  local start end
  sync  # the last case's writes on disk before this one starts (writeback would fall on this one)
  start=$(date +%s.%N)
  /usr/bin/time -v "$bin" import "$input" --source bench --config "$dir/config.json" --quiet --json "$@" \
    --accept optin-without-timestamp --accept one-optin-for-all --accept old-custom-events --max-bad-records "$items" \
    >"$dir/summary.json" 2>"$dir/time.txt"
  end=$(date +%s.%N)
  local seconds queued rss cpu
  seconds=$(echo "$end - $start" | bc -l)
  queued=$(python3 -c "import json,sys; print(json.load(open('$dir/summary.json'))['queued'])")
  rss=$(grep 'Maximum resident set size' "$dir/time.txt" | awk '{print $NF}')
  cpu=$(awk -F': ' '/User time|System time/ {s += $2} END {print s}' "$dir/time.txt")
  printf '%-16s %8.1f s  %10.0f items/s  cpu %6.1f s (%6.1f us/item)  %8s records queued  peak RSS %6.1f MiB\n' "$label" \
    "$seconds" "$(echo "$items / $seconds" | bc -l)" "$cpu" "$(echo "$cpu * 1000000 / $items" | bc -l)" "$queued" \
    "$(echo "$rss / 1024" | bc -l)"
  echo "$seconds" >"$dir/seconds"
  echo "$cpu" >"$dir/cpu"
  echo "$queued" >"$dir/queued"
  rm -f "$dir"/queue.db*  # gigabytes that no later step reads
}
labels=(import import.gz import.csv)
run_all() {  # $1: binary, $2: label suffix
  run_import "$1" "$work/events.jsonl" "import$2" "$events"
  run_import "$1" "$work/events.jsonl.gz" "import.gz$2" "$events"
  run_import "$1" "$work/orders.csv" "import.csv$2" "$events" --type order
}
run_all "$binary" ""
if [[ -n "$before" ]]; then
  run_all "$before" ".before"
  labels+=(import.before import.gz.before import.csv.before)
fi

# ---- ingest of the same events ----
sync  # as before each import
mkdir -p "$work/ingest"
config "$work/ingest/queue.db" >"$work/ingest/config.json"
"$binary" serve --config "$work/ingest/config.json" --listen 127.0.0.1:0 --log-level info 2>"$work/ingest/server.log" &
server=$!
pids+=($server)
wait_for_listening "$server" "$work/ingest/server.log"
start=$(date +%s.%N)
python3 - "$port" "$clients" "$work/batches.jsonl" <<'PY'
import base64, http.client, sys, threading
port, clients, path = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
bodies = open(path, "rb").read().splitlines()
auth = "Basic " + base64.b64encode(b"bench-write-key:").decode()
failed = []
def post(share):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    for body in share:
        while True:
            c.request("POST", "/v1/batch", body, {"Content-Type": "application/json", "Authorization": auth})
            r = c.getresponse(); r.read()
            if r.status == 200: break
            if r.status not in (429, 503): failed.append(r.status); break
threads = [threading.Thread(target=post, args=(bodies[i::clients],)) for i in range(clients)]
for t in threads: t.start()
for t in threads: t.join()
if failed: sys.exit("ingest failed: %r" % failed[:5])
PY
end=$(date +%s.%N)
ingest_seconds=$(echo "$end - $start" | bc -l)
server_rss=$(grep VmHWM "/proc/$server/status" | awk '{print $2}')
# serve's CPU while it ingested (delivery to the fake included: it runs beside ingest).
server_cpu=$(awk -v hz="$(getconf CLK_TCK)" '{print ($14 + $15) / hz}' "/proc/$server/stat")
printf '%-12s %8.1f s  %10.0f events/s  cpu %6.1f s  (serve, delivery included; peak RSS %6.1f MiB)\n' ingest \
  "$ingest_seconds" "$(echo "$events / $ingest_seconds" | bc -l)" "$server_cpu" "$(echo "$server_rss / 1024" | bc -l)"
# Ratios to ingest: throughput (import items/s over ingest events/s; the CSV by records, then by rows) and CPU
# per item (ingest's CPU per event over the import's CPU per item: above 1, the import spends less).
for label in "${labels[@]}"; do
  d="$work/$label"
  if [[ "$label" == import.csv* ]]; then
    printf '%-16s vs ingest: throughput %.2f by records (%.2f by rows), CPU per record %.2f\n' "$label" \
      "$(echo "($(cat "$d/queued") / $(cat "$d/seconds")) / ($events / $ingest_seconds)" | bc -l)" \
      "$(echo "$ingest_seconds / $(cat "$d/seconds")" | bc -l)" \
      "$(echo "($server_cpu / $events) / ($(cat "$d/cpu") / $(cat "$d/queued"))" | bc -l)"
  else
    printf '%-16s vs ingest: throughput %.2f, CPU per event %.2f\n' "$label" \
      "$(echo "$ingest_seconds / $(cat "$d/seconds")" | bc -l)" "$(echo "$server_cpu / $(cat "$d/cpu")" | bc -l)"
  fi
done

# ---- ingest at full speed: wrk posting the first of the same 100-event bodies again and again ----
# On a small machine the Python client above is the narrowest point of its own run (serve waits for it, well short
# of its cores), so its events/s understate what ingest can take. wrk, as bench/load/run.sh drives it, shows
# ingest's capacity for events of the same size: the import's throughput is given over that too, and that is
# the ratio to read.
if command -v wrk >/dev/null; then
  kill "$server" 2>/dev/null || true
  wait "$server" 2>/dev/null || true
  rm -f "$work/ingest"/queue.db*
  sync
  mkdir -p "$work/ingest-wrk"
  config "$work/ingest-wrk/queue.db" >"$work/ingest-wrk/config.json"
  head -1 "$work/batches.jsonl" >"$work/ingest-wrk/body.json"
  "$binary" serve --config "$work/ingest-wrk/config.json" --listen 127.0.0.1:0 --log-level info \
    2>"$work/ingest-wrk/server.log" &
  server=$!
  pids+=($server)
  wait_for_listening "$server" "$work/ingest-wrk/server.log"
  hz=$(getconf CLK_TCK)
  cpu_before=$(awk -v hz="$hz" '{print ($14 + $15) / hz}' "/proc/$server/stat")
  result=$(OMT_BODY_FILE="$work/ingest-wrk/body.json" OMT_AUTHORIZATION="Basic $(printf 'bench-write-key:' | base64)" \
    wrk -t2 -c8 -d"${wrk_seconds}s" -s "$root/bench/load/post.lua" "http://127.0.0.1:$port/v1/batch" | grep '^RESULT')
  cpu_after=$(awk -v hz="$hz" '{print ($14 + $15) / hz}' "/proc/$server/stat")
  requests=$(sed -E 's/.*requests=([0-9]+).*/\1/' <<<"$result")
  non2xx=$(sed -E 's/.*non2xx=([0-9]+).*/\1/' <<<"$result")
  duration_us=$(sed -E 's/.*duration_us=([0-9]+).*/\1/' <<<"$result")
  acked=$(( (requests - non2xx) * 100 ))
  wrk_rate=$(echo "$acked / ($duration_us / 1000000)" | bc -l)
  wrk_cpu=$(echo "$cpu_after - $cpu_before" | bc -l)
  printf '%-12s %8.1f s  %10.0f events/s  cpu %6.1f s  (serve, wrk -t2 -c8, %d acknowledged, %d not 2xx)\n' \
    ingest.wrk "$(echo "$duration_us / 1000000" | bc -l)" "$wrk_rate" "$wrk_cpu" "$acked" "$non2xx"
  for label in "${labels[@]}"; do
    d="$work/$label"
    printf '%-16s vs ingest.wrk: throughput %.2f (records/s over events/s), CPU per record %.2f\n' "$label" \
      "$(echo "($(cat "$d/queued") / $(cat "$d/seconds")) / $wrk_rate" | bc -l)" \
      "$(echo "($wrk_cpu / $acked) / ($(cat "$d/cpu") / $(cat "$d/queued"))" | bc -l)"
  done
else
  echo "(wrk is not installed: only the Python client's ingest above, which may understate ingest)" >&2
fi

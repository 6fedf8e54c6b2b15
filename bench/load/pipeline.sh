#!/usr/bin/env bash
# The whole ingest pipeline under load: wrk -> POST /v1/batch (100 events of 3-4 KB a request, HTTP Basic) ->
# the durable queue -> delivery -> the fake Ometria (the `fake-ometria` program), with no rate limit.
#
#   bench/load/pipeline.sh [--build DIR] [--runs N] [--duration 15s] [--connections 16] [--wrk-threads 1]
#                          [--server-threads 2] [--durability full|normal] [--tls] [--drain-timeout 60]
#                          [--lanes N]   (delivery.pushes_per_partition, default 4)
#                          [--keys N]   (N sources, each its own write key and API key, wrk's requests taking them
#                                        in turn; default 1: with several instances, each key has one owner)
#                          [--keep-logs DIR]   (copies each run's server and fake logs there)
#                          [--backends "sqlite postgres postgres-2"]   (the queues to compare, in one run)
#                          [--pg-bindir DIR]   (initdb and postgres; default /usr/lib/postgresql/15/bin)
#                          [--pg-setting NAME=VALUE]   (one more PostgreSQL setting; repeat for several)
#                          [--pg-statements]   (pg_stat_statements: each PostgreSQL run's 12 costliest statements,
#                                               to stderr; with --keep-logs, also to statements.RUN.txt there)
#
# Backends: sqlite (the queue file), postgres (one instance on a PostgreSQL queue), postgres-2 (two instances on
# one database, wrk's connections split between them). The script starts its own PostgreSQL in its temporary
# folder (initdb; as the system user postgres when run as root), with PostgreSQL's durable defaults (fsync on,
# synchronous_commit on) as SQLite's durability full is, and docs/scaling.md's recommended sizes (shared_buffers,
# max_wal_size, checkpoint_timeout, wal_compression); every run gets a new database.
#
# Each run starts a fresh fake Ometria (GET /_fake/stats counts the records it accepted) and a fresh server on a new
# queue file, checks that the body is accepted, runs wrk, then reports:
#   acked/s      events acknowledged per second (wrk's 2xx requests x 100 / wrk's duration)
#   delivered/s  records the fake accepted per second during the same window
#   depth_mid    records queued half-way through (omt_queue_depth, sampled each second): alike to depth_end when
#                delivery keeps pace (ingest is held back past ingest.slow_down_from, see docs/ingest.md)
#   depth_end    records still queued when wrk stopped (`ometria-transformer queue stats`)
#   drain_s      seconds after wrk stopped until every acknowledged record had reached the fake
#   server_cpu   cores the server used while wrk ran (1.00 = one core all the time); fake_cpu: the same for the fake;
#                db_cpu: the same for PostgreSQL (the postmaster and every backend)
#   xacts/push   PostgreSQL transactions committed (pg_stat_database.xact_commit: ingest's group commits, the
#                leases, acks, request log, each a round trip or more) per push the fake received, while wrk ran
#   trips/push   answers the instances awaited from PostgreSQL (omt_queue_database_round_trips_total, every
#                instance's /metrics summed: statements, prepares, BEGIN and COMMIT) per push, while wrk ran
#   recs/push    records per push the fake received while wrk ran (a full push is 100 records)
# What limits delivery here is the queue, not Ometria: the fake has no rate limit (no --rate-limit) and
# delivery.requests_per_second is 0, so no push waits for a token; one API key's record types are its partitions,
# each with up to --lanes pushes in flight, and the fake answers each push at once.
# and the medians over the runs, per backend. Needs wrk (apt-get install wrk) and a build with tests (for fake-ometria).
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
keys=1
keep_logs=""
backends="sqlite postgres postgres-2"
pg_bindir=/usr/lib/postgresql/15/bin
pg_settings=()
pg_statements=0
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
    --keys) keys=$2; shift 2 ;;
    --keep-logs) keep_logs=$2; shift 2 ;;
    --backends) backends=$2; shift 2 ;;
    --pg-bindir) pg_bindir=$2; shift 2 ;;
    --pg-setting) pg_settings+=(-c "$2"); shift 2 ;;
    --pg-statements) pg_statements=1; shift ;;
    -h|--help) sed -n '2,37p' "$0"; exit 0 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done
binary="$build/ometria-transformer"
fake="$build/tests/fake-ometria"
[[ -x "$fake" ]] || fake="$build/fake-ometria"
command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install wrk)" >&2; exit 2; }
[[ -x "$binary" ]] || { echo "no server binary at $binary (build first: scripts/build.sh)" >&2; exit 2; }
[[ -x "$fake" ]] || { echo "no fake-ometria under $build (build with tests)" >&2; exit 2; }

[[ $keys =~ ^[1-9][0-9]*$ ]] || { echo "--keys wants a whole number from 1" >&2; exit 2; }
# One source per key: bench-api-key / wk-bench-pipeline alone, or -1, -2, ... after each.
api_keys=() write_keys=() authorizations=()
for k in $(seq 1 "$keys"); do
  suffix=""
  [[ $keys -gt 1 ]] && suffix="-$k"
  api_keys+=("bench-api-key$suffix")
  write_keys+=("wk-bench-pipeline$suffix")
  authorizations+=("Basic $(printf '%s:' "wk-bench-pipeline$suffix" | base64 -w0)")
done
authorization=${authorizations[0]}  # the check request's
every_authorization=""
[[ $keys -gt 1 ]] && every_authorization="${authorizations[*]}"

for b in $backends; do
  case "$b" in sqlite|postgres|postgres-2) ;; *) echo "unknown backend: $b (sqlite, postgres, postgres-2)" >&2; exit 2 ;; esac
done
wants_postgres=0
[[ " $backends " == *" postgres"* ]] && wants_postgres=1
if [[ $wants_postgres == 1 ]]; then
  [[ -x "$pg_bindir/initdb" && -x "$pg_bindir/postgres" ]] || { echo "no initdb/postgres in $pg_bindir (--pg-bindir)" >&2; exit 2; }
  command -v psql >/dev/null || { echo "psql is not installed (postgresql-client)" >&2; exit 2; }
fi

work=$(mktemp -d /tmp/omt-pipeline.XXXXXX)
server_pids=()
fake_pid=""
pg_pid=""
stop_pid() {  # TERM, then wait for it; only processes this script started
  local pid=$1
  if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  fi
}
stop_servers() {
  local pid
  for pid in "${server_pids[@]}"; do stop_pid "$pid"; done
  server_pids=()
}
cleanup() {
  stop_servers
  stop_pid "$fake_pid"
  stop_pid "$pg_pid"  # SIGTERM: PostgreSQL's smart shutdown, the clients are gone by now
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
  "$fake" --listen 127.0.0.1:0 --keys "$(IFS=,; echo "${api_keys[*]}")" --port-file "$work/fake.port" \
    "${tls_args[@]}" >/dev/null 2>"$work/fake.log" &
  fake_pid=$!
  wait_for_file "$work/fake.port" || { echo "fake-ometria did not start:" >&2; cat "$work/fake.log" >&2; exit 1; }
  fake_port=$(cat "$work/fake.port")
}

# PostgreSQL in $work/pg on a free port, run as the user postgres under root (it refuses to run as root).
start_postgres() {
  local as=() dir="$work/pg"
  mkdir -p "$dir"
  if [[ $(id -u) == 0 ]]; then
    chmod o+x "$work"  # mktemp's folder is the owner's only: postgres must pass through it to its own
    chown postgres "$dir"
    as=(runuser -u postgres --)
  fi
  "${as[@]}" "$pg_bindir/initdb" -D "$dir/data" -U omt -A trust -E UTF8 --locale=C >"$work/initdb.log" 2>&1 ||
    { echo "initdb failed:" >&2; cat "$work/initdb.log" >&2; exit 1; }
  pg_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  # As a production server would be set (docs/scaling.md, "Recommended settings"), durability untouched: room for
  # the queue's hot pages, and checkpoints by time rather than every few seconds of WAL, each one's full-page
  # images compressed.
  local production=(-c shared_buffers=512MB -c max_wal_size=4GB -c checkpoint_timeout=15min -c wal_compression=lz4)
  local statements=()
  [[ $pg_statements == 1 ]] && statements=(-c shared_preload_libraries=pg_stat_statements -c pg_stat_statements.track=all)
  "${as[@]}" "$pg_bindir/postgres" -D "$dir/data" -p "$pg_port" -k "$dir" -c listen_addresses=127.0.0.1 \
    -c max_connections=40 -c log_min_messages=warning "${production[@]}" "${statements[@]}" "${pg_settings[@]}" \
    >"$work/postgres.log" 2>&1 &
  pg_pid=$!
  for _ in $(seq 1 200); do
    if psql -qAt "postgresql://omt@127.0.0.1:$pg_port/postgres" -c 'SELECT 1' >/dev/null 2>&1; then
      [[ $pg_statements == 1 ]] && pg_sql "CREATE EXTENSION pg_stat_statements" >/dev/null
      return 0
    fi
    kill -0 "$pg_pid" 2>/dev/null || break
    sleep 0.1
  done
  echo "PostgreSQL did not start:" >&2; cat "$work/postgres.log" >&2; exit 1
}
pg_sql() { psql -qAt "postgresql://omt@127.0.0.1:$pg_port/${2:-postgres}" -c "$1"; }
new_database() {
  database="bench_$1"
  pg_sql "CREATE DATABASE $database" >/dev/null
  queue_url="postgresql://omt@127.0.0.1:$pg_port/$database"
}
# The run's costliest statements (pg_stat_statements since the window began): where the database's time goes.
statement_report() {
  pg_sql "SELECT to_char(s.total_exec_time, 'FM9999990') || ' ms', s.calls || ' calls',
                 to_char(s.total_exec_time / greatest(s.calls, 1), 'FM990.000') || ' ms each', s.rows || ' rows',
                 left(regexp_replace(s.query, '\s+', ' ', 'g'), 110)
          FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid
          WHERE d.datname = '$database' ORDER BY s.total_exec_time DESC LIMIT 12" | tr '|' '\t'
}
xact_commits() { pg_sql "SELECT xact_commit FROM pg_stat_database WHERE datname = '$database'"; }
# Round trips to the database so far, every instance together (each instance counts its own).
round_trips() {
  local p total=0 n
  for p in "${ports[@]}"; do
    n=$(curl -s "http://127.0.0.1:$p/metrics" | awk '/^omt_queue_database_round_trips_total /{print $2}')
    total=$(( total + ${n:-0} ))
  done
  echo "$total"
}
pushes() {
  if [[ $tls == 1 ]]; then curl -s --cacert "$work/tls/ca.pem" "https://127.0.0.1:$fake_port/_fake/stats"
  else curl -s "http://127.0.0.1:$fake_port/_fake/stats"; fi | sed -E 's/.*"pushes":([0-9]+).*/\1/'
}

write_config() {
  local backend=$1 scheme=http extra="" queue
  if [[ $backend == sqlite ]]; then queue="{\"path\": \"$work/queue.db\", \"durability\": \"$durability\"}"
  else queue="{\"backend\": \"postgres\", \"url\": \"$queue_url\"}"; fi
  if [[ $tls == 1 ]]; then
    scheme=https
    extra=", \"extra_ca_file\": \"$work/tls/ca.pem\""
  fi
  local sources="" k
  for k in "${!api_keys[@]}"; do
    [[ -n "$sources" ]] && sources+=", "
    sources+="{\"name\": \"bench${api_keys[$k]#bench-api-key}\", \"write_key\": \"${write_keys[$k]}\", \"api_key\": \"${api_keys[$k]}\"}"
  done
  cat >"$work/config.json" <<EOF
{
  "server": {"listen": "127.0.0.1:0", "threads": $server_threads},
  "queue": $queue,
  "ometria": {"endpoint": "$scheme://127.0.0.1:$fake_port/v2/push", "allow_plain_http": true$extra},
  "delivery": {"requests_per_second": 0, "pushes_per_partition": $lanes},
  "sources": [$sources]
}
EOF
}

# Starts N servers on the same queue; sets ports=(...) and port (the first).
start_servers() {
  local n=$1 i
  rm -f "$work/queue.db" "$work/queue.db-wal" "$work/queue.db-shm"
  ports=()
  for i in $(seq 1 "$n"); do
    # At the default level (info), as in production: one line per push goes to the log file.
    "$binary" serve --config "$work/config.json" --log-level info 2>"$work/server.$i.log" &
    server_pids+=($!)
    wait_for_listening "$!" "$work/server.$i.log"
    ports+=("$port")
  done
  port=${ports[0]}
}

queue_depth() {
  "$binary" queue stats --config "$work/config.json" 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["depth"])'
}

# CPU seconds (user + system) a process has used so far.
cpu_seconds() { awk -v hz="$(getconf CLK_TCK)" '{print ($14 + $15) / hz}' "/proc/$1/stat" 2>/dev/null || echo 0; }


# CPU seconds of a process and all its descendants (PostgreSQL: the postmaster, under runuser as root, and its backends).
tree_cpu() {
  local total pid
  total=$(cpu_seconds "$1")
  for pid in $(pgrep -P "$1" || true); do total=$(awk -v a="$total" -v b="$(tree_cpu "$pid")" 'BEGIN {print a + b}'); done
  echo "$total"
}

servers_cpu() {
  local pid total=0
  for pid in "${server_pids[@]}"; do total=$(awk -v a="$total" -v b="$(cpu_seconds "$pid")" 'BEGIN {print a + b}'); done
  echo "$total"
}

[[ $wants_postgres == 1 ]] && start_postgres
: >"$work/summary"
printf '%-10s %-4s %9s %10s %12s %10s %10s %8s %8s %8s %10s %8s %8s %10s %10s %9s\n' backend run requests acked/s delivered/s \
  depth_mid depth_end drain_s p50_ms p99_ms server_cpu fake_cpu db_cpu xacts/push trips/push recs/push
run_number=0
for backend in $backends; do
  instances=1
  [[ $backend == postgres-2 ]] && instances=2
  for run in $(seq 1 "$runs"); do
    run_number=$((run_number + 1))
    [[ $backend != sqlite ]] && new_database "$run_number"
    start_fake
    write_config "$backend"
    start_servers "$instances"
    status=$(curl -s -o "$work/answer.json" -w '%{http_code}' -H "Authorization: $authorization" \
             -H 'Content-Type: application/json' --data-binary "@$body" "http://127.0.0.1:$port/v1/batch")
    if [[ "$status" != 200 ]] || ! grep -q '"accepted":100,"rejected":\[\]' "$work/answer.json"; then
      echo "the body is not accepted whole (HTTP $status): $(head -c 300 "$work/answer.json")" >&2
      exit 1
    fi
    # Let the check request's records through first, so the window below starts from a quiet pipeline.
    for _ in $(seq 1 100); do [[ $(delivered) -ge 100 ]] && break; sleep 0.05; done

    delivered_before=$(delivered)
    pushes_before=$(pushes)
    [[ $backend != sqlite ]] && xacts_before=$(xact_commits) && trips_before=$(round_trips)
    [[ $backend != sqlite && $pg_statements == 1 ]] && pg_sql "SELECT pg_stat_statements_reset()" >/dev/null
    t0=$(now)
    server_cpu0=$(servers_cpu); fake_cpu0=$(cpu_seconds "$fake_pid"); db_cpu0=0
    [[ $backend != sqlite ]] && db_cpu0=$(tree_cpu "$pg_pid")
    # The queue's depth once a second while wrk runs: flat in the second half means delivery keeps pace.
    : >"$work/depth.log"
    ( while sleep 1; do
        curl -s "http://127.0.0.1:$port/metrics" | awk '/^omt_queue_depth /{print $2}' >>"$work/depth.log"
      done ) &
    sampler_pid=$!
    # One wrk per instance, the connections split between them (two instances: as behind a balancer).
    wrk_pids=()
    for i in "${!ports[@]}"; do
      OMT_BODY_FILE="$body" OMT_AUTHORIZATION="$authorization" OMT_AUTHORIZATIONS="$every_authorization" wrk -t"$wrk_threads" -c"$(( connections / instances ))" \
        -d"$duration" -s "$root/bench/load/post.lua" "http://127.0.0.1:${ports[$i]}/v1/batch" >"$work/wrk.$i.out" &
      wrk_pids+=($!)
    done
    for pid in "${wrk_pids[@]}"; do wait "$pid"; done
    t1=$(now)
    kill "$sampler_pid" 2>/dev/null; wait "$sampler_pid" 2>/dev/null || true
    samples=$(wc -l <"$work/depth.log")
    depth_mid=$(sed -n "$(( (samples + 1) / 2 ))p" "$work/depth.log"); depth_mid=${depth_mid:-0}
    server_cpu1=$(servers_cpu); fake_cpu1=$(cpu_seconds "$fake_pid"); db_cpu1=0
    [[ $backend != sqlite ]] && db_cpu1=$(tree_cpu "$pg_pid")
    delivered_after=$(delivered)
    pushes_after=$(pushes)
    [[ $backend != sqlite ]] && xacts_after=$(xact_commits) && trips_after=$(round_trips)
    if [[ $backend != sqlite && $pg_statements == 1 ]]; then
      statement_report >"$work/statements.txt"
      { echo "$backend run $run: the costliest statements while wrk ran"; cat "$work/statements.txt"; } >&2
      [[ -n "$keep_logs" ]] && mkdir -p "$keep_logs" && cp "$work/statements.txt" "$keep_logs/statements.$backend.$run.txt"
    fi
    depth_end=$(queue_depth)
    requests=0 duration_us=0 non2xx=0 socket_errors=0 p50_us=0 p99_us=0
    for i in "${!ports[@]}"; do
      result=$(grep '^RESULT' "$work/wrk.$i.out")
      field() { sed -E "s/.* $1=([0-9]+).*/\\1/" <<<"$result"; }
      requests=$(( requests + $(field requests) )); non2xx=$(( non2xx + $(field non2xx) ))
      socket_errors=$(( socket_errors + $(field socket_errors) ))
      # The longest window, the slower instance's latencies.
      (( $(field duration_us) > duration_us )) && duration_us=$(field duration_us)
      (( $(field p50_us) > p50_us )) && p50_us=$(field p50_us)
      (( $(field p99_us) > p99_us )) && p99_us=$(field p99_us)
    done
    acked_events=$(( (requests - non2xx) * 100 ))
    if (( non2xx > 0 || socket_errors > 0 )); then
      echo "$backend run $run: wrk saw $non2xx non-2xx answers, $socket_errors socket errors" >&2
    fi

    # Drain: every acknowledged event (plus the check request's 100) must reach the fake.
    want=$(( acked_events + 100 ))
    drain_start=$(now)
    drained=0
    for _ in $(seq 1 $(( drain_timeout * 10 ))); do
      if [[ $(delivered) -ge $want ]]; then drained=1; break; fi
      sleep 0.1
    done
    drain_s=$(awk -v a="$drain_start" -v b="$(now)" 'BEGIN {printf "%.1f", b - a}')
    if [[ $drained != 1 ]]; then
      echo "$backend run $run: only $(delivered) of $want records arrived within ${drain_timeout}s" >&2
      drain_s="timeout"
    fi

    acked_rate=$(awk -v e="$acked_events" -v d="$duration_us" 'BEGIN {printf "%.0f", e / (d / 1e6)}')
    delivered_rate=$(awk -v n="$((delivered_after - delivered_before))" -v a="$t0" -v b="$t1" 'BEGIN {printf "%.0f", n / (b - a)}')
    p50=$(awk -v v="$p50_us" 'BEGIN {printf "%.1f", v / 1000}')
    p99=$(awk -v v="$p99_us" 'BEGIN {printf "%.1f", v / 1000}')
    # Cores used while wrk ran (1.00 = one core busy all the time), every instance together.
    server_cores=$(awk -v a="$server_cpu0" -v b="$server_cpu1" -v t0="$t0" -v t1="$t1" 'BEGIN {printf "%.2f", (b - a) / (t1 - t0)}')
    fake_cores=$(awk -v a="$fake_cpu0" -v b="$fake_cpu1" -v t0="$t0" -v t1="$t1" 'BEGIN {printf "%.2f", (b - a) / (t1 - t0)}')
    db_cores="-"
    [[ $backend != sqlite ]] && db_cores=$(awk -v a="$db_cpu0" -v b="$db_cpu1" -v t0="$t0" -v t1="$t1" 'BEGIN {printf "%.2f", (b - a) / (t1 - t0)}')
    xacts_per_push="-" trips_per_push="-"
    if [[ $backend != sqlite ]]; then
      xacts_per_push=$(awk -v x="$((xacts_after - xacts_before))" -v p="$((pushes_after - pushes_before))" \
                       'BEGIN {if (p > 0) printf "%.1f", x / p; else print "-"}')
      trips_per_push=$(awk -v x="$((trips_after - trips_before))" -v p="$((pushes_after - pushes_before))" \
                       'BEGIN {if (p > 0) printf "%.1f", x / p; else print "-"}')
    fi
    records_per_push=$(awk -v n="$((delivered_after - delivered_before))" -v p="$((pushes_after - pushes_before))" \
                       'BEGIN {if (p > 0) printf "%.0f", n / p; else print "-"}')
    printf '%-10s %-4s %9d %10d %12d %10d %10d %8s %8s %8s %10s %8s %8s %10s %10s %9s\n' "$backend" "$run" "$requests" "$acked_rate" \
      "$delivered_rate" "$depth_mid" "$depth_end" "$drain_s" "$p50" "$p99" "$server_cores" "$fake_cores" "$db_cores" "$xacts_per_push" \
      "$trips_per_push" "$records_per_push"
    echo "$backend $acked_rate $delivered_rate $depth_end $xacts_per_push $trips_per_push" >>"$work/summary"

    stop_servers
    stop_pid "$fake_pid"; fake_pid=""
    if [[ -n "$keep_logs" ]]; then
      mkdir -p "$keep_logs"
      for i in "${!ports[@]}"; do cp "$work/server.$((i + 1)).log" "$keep_logs/server.$backend.$run.$((i + 1)).log"; done
      cp "$work/fake.log" "$keep_logs/fake.$backend.$run.log"
    fi
  done
done
echo
printf '%-10s %12s %12s %10s %10s %10s %12s %14s\n' median acked/s delivered/s depth_end xacts/push trips/push "acked/sqlite" \
  "delivered/sqlite"
sqlite_acked="" sqlite_delivered=""
for backend in $backends; do
  rows=$(awk -v b="$backend" '$1 == b' "$work/summary")
  acked=$(cut -d' ' -f2 <<<"$rows" | median)
  delivered_median=$(cut -d' ' -f3 <<<"$rows" | median)
  depth=$(cut -d' ' -f4 <<<"$rows" | median)
  xacts="-" trips="-"
  [[ $backend != sqlite ]] && xacts=$(cut -d' ' -f5 <<<"$rows" | median) && trips=$(cut -d' ' -f6 <<<"$rows" | median)
  if [[ $backend == sqlite ]]; then sqlite_acked=$acked; sqlite_delivered=$delivered_median; fi
  ratio() { [[ -n "$2" ]] && awk -v a="$1" -v b="$2" 'BEGIN {if (b > 0) printf "%.2f", a / b; else print "-"}' || echo "-"; }
  printf '%-10s %12.0f %12.0f %10.0f %10s %10s %12s %14s\n' "$backend" "$acked" "$delivered_median" "$depth" "$xacts" "$trips" \
    "$(ratio "$acked" "$sqlite_acked")" "$(ratio "$delivered_median" "$sqlite_delivered")"
done
echo "(wrk -t$wrk_threads -c$connections -d$duration, POST /v1/batch with 100 events; server --threads $server_threads each," \
     "SQLite durability $durability, PostgreSQL fsync on; $([[ $tls == 1 ]] && echo HTTPS || echo plain HTTP) to fake-ometria;" \
     "$(nproc) cores, everything on this one machine; load average $(cut -d' ' -f1-3 /proc/loadavg) at the end)"
echo "($keys API key(s), wrk's requests taking them in turn: each key's record types are its partitions, up to $lanes" \
     "pushes each in flight; the fake has no rate limit" \
     "and delivery.requests_per_second is 0, so the queue is the limit, not Ometria's rate)"
if [[ " $backends " == *" postgres-2 "* ]]; then
  echo "(postgres-2: two instances on one database; each API key is delivered by the instance that owns it" \
       "(queue.lease_timeout), so one key's pushes come from one instance at a time)"
fi

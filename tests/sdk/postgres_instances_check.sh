#!/usr/bin/env bash
# Three instances on one real PostgreSQL 15 under load from a real SDK, with an instance killed and the database
# restarted meanwhile (issue 12). Builds nothing; run by scripts/test.sh after the browser check. Needs node
# (>= 18), npm, python3 and PostgreSQL 15's server binaries (postgresql-15: initdb, pg_ctl).
#
#   tests/sdk/postgres_instances_check.sh [--build-dir DIR] [--events N] [--pg-bindir DIR] [--keep]
#
# Installs (once, into a cache folder: $OMT_NPM_CACHE, default ~/.cache/ometria-transformer/npm) the pinned
# @rudderstack/rudder-sdk-node; starts PostgreSQL in a temporary folder (initdb, as the user `postgres` under root,
# on a free port of 127.0.0.1), fake-ometria with six keys and --rate-limit 8, and three `ometria-transformer serve`
# on one queue (queue.backend postgres, queue.lease_timeout 3s; delivery 4 pushes/s with a burst of 4 a key, so
# no second holds more than 4 pushes of a key: a key pushed by two instances at once, or a new owner's burst beside
# the old owner's last second, would show up as up to 8, and the fake's limit of 8 would answer none of it 429).
# Three SDK senders (tests/sdk/node_sdk_send.js), one per instance, four write keys each (every key is sent by
# two senders, so every key keeps getting records while an instance is down), send N events in all (default 4500)
# at a steady pace. Meanwhile: SIGKILL the second instance once a quarter are acknowledged, wait for the survivors
# to take its keys over, start it again on its port, then `pg_ctl restart -m fast` while events still flow. Then
# checks at the fake that every event an SDK saw acknowledged arrived (once at least, as its record type), that no
# key was pushed more than 4 times within any sliding 900 ms (100 ms for the arrival jitter) and none answered 429, that
# the senders of the instances not killed had every event acknowledged (the database's restart included) and the
# killed one's sender lost only events refused a connection while it was down, and that every instance still
# running stops cleanly on SIGTERM. Exit 0 when all of it holds; 1 when not; 2 for a missing tool or build. About a
# minute.
set -euo pipefail

sdk_package=@rudderstack/rudder-sdk-node@3.0.13  # the version docs/ingest.md reports on

root=$(cd "$(dirname "$0")/../.." && pwd)
build_dir=$root/build
events=4500
pg_bindir=/usr/lib/postgresql/15/bin
keep=0
while (($#)); do
  case "$1" in
    --build-dir) build_dir=$(cd "$2" && pwd); shift 2 ;;
    --events) events=$2; shift 2 ;;
    --pg-bindir) pg_bindir=$2; shift 2 ;;
    --keep) keep=1; shift ;;
    -h|--help) sed -n '2,24p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "postgres_instances_check: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done

check=postgres_instances_check
tools=(node npm python3)
# shellcheck source=tests/sdk/sdk_check_common.sh
source "$root/tests/sdk/sdk_check_common.sh"
for tool in initdb pg_ctl createdb; do
  [[ -x $pg_bindir/$tool ]] || { echo "$check: $pg_bindir/$tool is missing (postgresql-15, scripts/install-deps.sh)" >&2; exit 2; }
done

# ---- cleanup of what this script starts (sdk_check_common's cleanup does the fake and the work directory) ----
instances=3
declare -a instance_pid=() sender_pid=()
pg_dir=""
stop_everything() {
  local pid
  for pid in "${sender_pid[@]}" "${instance_pid[@]}"; do
    [[ -n $pid ]] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
  done
  if [[ -n $pg_dir && -f $pg_dir/data/postmaster.pid ]]; then
    as_postgres "$pg_bindir/pg_ctl" -D "$pg_dir/data" -m immediate -w stop >/dev/null 2>&1 || true
  fi
  if [[ -n $pg_dir ]]; then
    if ((keep)); then echo "$check: kept $pg_dir"; else rm -rf "$pg_dir"; fi
  fi
  cleanup
}
trap stop_everything EXIT
trap 'exit 130' INT TERM

# PostgreSQL refuses to run as root: under root (CI) its programs run as the system user `postgres`.
as_postgres() {
  if ((EUID == 0)); then runuser -u postgres -- "$@"; else "$@"; fi
}

# ---- the SDK, from the npm registry, into a cache folder kept between runs ----
cache=${OMT_NPM_CACHE:-${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/ometria-transformer/npm}/node-sdk
mkdir -p "$cache"
if ! node -e "process.exit(require('$cache/node_modules/@rudderstack/rudder-sdk-node/package.json').version === '${sdk_package##*@}' ? 0 : 1)" 2>/dev/null; then
  [[ -f $cache/package.json ]] || echo '{"name":"omt-node-sdk-check","private":true}' >"$cache/package.json"
  if ! (cd "$cache" && timeout 300 npm install --no-audit --no-fund --loglevel=error "$sdk_package") >"$work/npm.log" 2>&1; then
    cat "$work/npm.log" >&2
    echo "$check: FAIL: could not install $sdk_package from the npm registry (is it reachable?)" >&2
    exit 1
  fi
fi

# ---- PostgreSQL 15 in a temporary folder (as tests/support/postgres_server.cpp starts it) ----
pg_dir=$(mktemp -d "${TMPDIR:-/tmp}/omt-$check-pg.XXXXXX")
((EUID == 0)) && chown postgres: "$pg_dir"
chmod 700 "$pg_dir"
as_postgres "$pg_bindir/initdb" -D "$pg_dir/data" -U omt -A trust -E UTF8 --locale=C -N >"$pg_dir/initdb.log" 2>&1 ||
  { cat "$pg_dir/initdb.log" >&2; echo "$check: initdb failed" >&2; exit 1; }
pg_port=$(free_port)
as_postgres "$pg_bindir/pg_ctl" -D "$pg_dir/data" -l "$pg_dir/postgres.log" -w -t 30 \
  -o "-p $pg_port -k $pg_dir -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off -c shared_buffers=16MB -c max_connections=60" \
  start >/dev/null || { cat "$pg_dir/postgres.log" >&2; echo "$check: PostgreSQL would not start" >&2; exit 1; }
"$pg_bindir/createdb" -h 127.0.0.1 -p "$pg_port" -U omt omt
queue_url="postgresql://omt@127.0.0.1:$pg_port/omt"

# ---- fake Ometria: six keys, Ometria's rate limit (more than 8 pushes of a key in a second: 429) ----
keys=6
api_keys=()
for ((k = 0; k < keys; ++k)); do api_keys+=("ometria-key-pg-$k"); done
"$fake_bin" --listen 127.0.0.1:0 --keys "$(IFS=,; echo "${api_keys[*]}")" --rate-limit 8 --threads 2 \
  --out "$work/received.jsonl" --port-file "$work/fake.port" >"$work/fake.stdout" 2>"$work/fake.log" &
fake_pid=$!
wait_for "fake-ometria's port" 15 test -s "$work/fake.port"
fake_port=$(cat "$work/fake.port")

# ---- three instances on the one queue, each on a port chosen now (a restart keeps its SDK's URL) ----
sources=""
for ((k = 0; k < keys; ++k)); do
  sources+="${sources:+,}{\"name\": \"shop-$k\", \"write_key\": \"wk-pg-$k\", \"api_key\": \"${api_keys[k]}\"}"
done
declare -a port=() starts=()
rate=4  # pushes a second per key, across the instances
for ((n = 0; n < instances; ++n)); do
  port[n]=$(free_port)
  starts[n]=0
  cat >"$work/config-$n.json" <<EOF
{
  "server": {"listen": "127.0.0.1:${port[n]}", "shutdown_deadline": "5s"},
  "queue": {"backend": "postgres", "url": "$queue_url", "lease_timeout": "3s"},
  "ometria": {"endpoint": "http://127.0.0.1:$fake_port/v2/push", "allow_plain_http": true},
  "delivery": {"requests_per_second": $rate, "burst": $rate, "linger": "20ms"},
  "sources": [$sources]
}
EOF
done
start_instance() {  # n
  local n=$1
  starts[n]=$((starts[n] + 1))
  local log=$work/instance-$n-${starts[n]}.log
  "$service_bin" serve --config "$work/config-$n.json" --log-level info 2>"$log" &
  instance_pid[n]=$!
  wait_for "instance $n to listen" 30 grep -qs "listening on" "$log"
}
for ((n = 0; n < instances; ++n)); do start_instance "$n"; done
echo "$check: $sdk_package, node $(node --version); PostgreSQL on 127.0.0.1:$pg_port, instances on ${port[*]}," \
  "fake Ometria on 127.0.0.1:$fake_port; $events events"

# ---- the SDKs send: one sender per instance, four write keys each (each key from two senders), ~100 events/s each ----
per_sender=$((events / instances))
for ((n = 0; n < instances; ++n)); do
  mkdir -p "$work/sender-$n"
  next=$(((n + 1) % instances))
  NODE_PATH=$cache/node_modules node "$root/tests/sdk/node_sdk_send.js" --sdk rudderstack \
    --url "http://127.0.0.1:${port[n]}" --events "$per_sender" \
    --write-key "wk-pg-$n,wk-pg-$((n + instances)),wk-pg-$next,wk-pg-$((next + instances))" \
    --first $((n * per_sender)) --per-tick 1 --deadline-ms 120000 --out "$work/sender-$n" \
    >"$work/sender-$n.stdout" 2>"$work/sender-$n.log" &
  sender_pid[n]=$!
done
acknowledged() {
  local total=0 n
  for ((n = 0; n < instances; ++n)); do total=$((total + $(cat "$work/sender-$n/progress" 2>/dev/null || echo 0))); done
  echo "$total"
}
acknowledged_at_least() { (($(acknowledged) >= $1)); }
wait_acknowledged() { wait_for "$1 events to be acknowledged" 120 acknowledged_at_least "$1"; }

# ---- meanwhile: an instance killed, and PostgreSQL restarted ----
killed=1
wait_acknowledged $((events / 4))
# Killed once it delivers keys of its own (they spread within a few rounds of the last instance joining).
owns_keys() {
  python3 -c "import re, sys, urllib.request
m = urllib.request.urlopen('http://127.0.0.1:$1/metrics', timeout=2).read().decode()
sys.exit(0 if int(float(re.search(r'^omt_delivery_owned_keys (\S+)', m, re.M).group(1))) > 0 else 1)" 2>/dev/null
}
wait_for "instance $killed to own keys" 30 owns_keys "${port[killed]}"
survivor_takeovers() { cat "$work"/instance-0-*.log "$work"/instance-2-*.log | grep -c "delivery: took over key" || true; }
takeovers_before=$(survivor_takeovers)
kill -KILL "${instance_pid[killed]}"
wait "${instance_pid[killed]}" 2>/dev/null || true
instance_pid[killed]=""
echo "$check: SIGKILL instance $killed with $(acknowledged) events acknowledged"
# Its claims last queue.lease_timeout (3 s): the others take its keys over (every key keeps getting records from
# the two senders left), then it starts again (a new instance).
took_over() { (($(survivor_takeovers) > takeovers_before)); }
if ! wait_for "the survivors to take over the killed instance's keys" 20 took_over; then
  tail -20 "$work/instance-0-1.log" "$work/instance-2-1.log" >&2
  exit 1
fi
echo "$check: the survivors took over $(($(survivor_takeovers) - takeovers_before)) keys" \
  "($(cat "$work"/instance-0-*.log "$work"/instance-2-*.log | grep -c "(its owner's claim expired unrenewed)" || true) from its expired claims)"
start_instance "$killed"
echo "$check: instance $killed started again with $(acknowledged) events acknowledged"
wait_acknowledged $((events / 2))
as_postgres "$pg_bindir/pg_ctl" -D "$pg_dir/data" -l "$pg_dir/postgres.log" -m fast -w -t 30 restart >/dev/null ||
  { cat "$pg_dir/postgres.log" >&2; echo "$check: pg_ctl restart failed" >&2; exit 1; }
echo "$check: PostgreSQL restarted (-m fast) with $(acknowledged) events acknowledged"

sender_failed=0
for ((n = 0; n < instances; ++n)); do
  wait "${sender_pid[n]}" || { echo "$check: sender $n failed:" >&2; cat "$work/sender-$n.log" >&2; sender_failed=1; }
  sender_pid[n]=""
  cat "$work/sender-$n.stdout"
done
((sender_failed == 0)) || exit 1

# ---- count on the far side (waits up to 60 s for delivery) ----
verdict=0
python3 - "$work" "$events" "$instances" "$fake_port" "$killed" "$rate" <<'EOF' || verdict=1
import json, os, sys, time, urllib.request
work, events, instances, fake_port = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
killed, rate = int(sys.argv[5]), int(sys.argv[6])
acked, failed, sender_problems = [], 0, []
for n in range(instances):
    folder = os.path.join(work, f"sender-{n}")
    acked += [json.loads(line) for line in open(os.path.join(folder, "acked.jsonl")) if line.strip()]
    summary = json.load(open(os.path.join(folder, "sender.json")))
    failed += summary["failed"]
    if n != killed and summary["acked"] != summary["sent"]:
        sender_problems.append(f"sender {n} (its instance never killed) had {summary['sent'] - summary['acked']} "
                               f"events not acknowledged: {summary['errors']}")
    # The killed instance's sender may give up on events only while nothing listened on its port.
    if n == killed and set(summary["errors"]) - {"ECONNREFUSED", "ECONNRESET"}:
        sender_problems.append(f"sender {n} saw errors other than a refused connection: {summary['errors']}")
    if summary["unanswered"]:
        sender_problems.append(f"sender {n} had {summary['unanswered']} events unanswered at its deadline")
skipped = [e for e in acked if e["type"] == "skipped"]  # page calls: no record
records = [e for e in acked if e["type"] != "skipped"]

def received():
    by_id = {}
    path = os.path.join(work, "received.jsonl")
    if os.path.exists(path):
        for line in open(path):
            if not line.endswith("\n"):
                break  # a line still being written
            record = json.loads(line)["record"]
            by_id.setdefault(str(record.get("id")), []).append(record)
    return by_id

deadline = time.monotonic() + 60
while True:
    by_id = received()
    missing = [e for e in records if e["id"] not in by_id]
    if not missing or time.monotonic() > deadline:
        break
    time.sleep(0.5)
wrong = [e for e in records if e["id"] in by_id and by_id[e["id"]][0].get("@type") != e["type"]]
duplicates = sum(len(v) - 1 for v in by_id.values())
# A window 100 ms short of a second: a request read a little late beside one read on time is not a breach, while a
# key pushed by two owners at once, or a new owner's burst beside the old owner's last second, still is.
window_ms = 900
rates = json.load(urllib.request.urlopen(f"http://127.0.0.1:{fake_port}/_fake/rates?window_ms={window_ms}", timeout=10))
most = rates["most_pushes_in_any_second"]
calendar_most = max((max(s.values()) for s in rates["pushes_per_key_second"].values() if s), default=0)
over = {key: n for key, n in most.items() if n > rate}

print(f"sent by the SDKs:             {events - events % instances}")
print(f"acknowledged to the SDKs:     {len(acked)} ({len(skipped)} page calls)")
print(f"given up by the SDKs:         {failed}")
print(f"acknowledged and arrived:     {len(records) - len(missing)} of {len(records)}")
print(f"acknowledged, missing:        {len(missing)}")
print(f"arrived as another type:      {len(wrong)}")
print(f"duplicates (at-least-once):   {duplicates}")
print(f"most of a key in any {window_ms} ms: {max(most.values()) if most else 0} (rate {rate}/s) {most}")
print(f"most in a calendar second:    {calendar_most}")
print(f"answered 429 by the fake:     {rates['rate_limited']}")
ok = not missing and not wrong and not over and rates["rate_limited"] == 0 and most and not sender_problems
if missing:
    print("first missing:", [e["id"] for e in missing[:10]])
for problem in sender_problems:
    print(problem)
sys.exit(0 if ok else 1)
EOF

# Every instance still running stops cleanly.
for ((n = 0; n < instances; ++n)); do
  [[ -n ${instance_pid[n]} ]] || continue
  kill -TERM "${instance_pid[n]}"
  status=0
  wait "${instance_pid[n]}" || status=$?
  instance_pid[n]=""
  if ((status != 0)); then
    echo "$check: instance $n exited $status on SIGTERM:" >&2
    tail -20 "$work/instance-$n-${starts[n]}.log" >&2
    verdict=1
  fi
done
echo "$check: RESULT: $( ((verdict == 0)) && echo PASS || echo FAIL)"
exit "$verdict"

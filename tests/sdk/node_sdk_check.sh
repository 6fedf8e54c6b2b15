#!/usr/bin/env bash
# A real Node SDK against the service, end to end. NOT run by CI or ctest: it downloads the SDK from the npm
# registry. Needs node (>= 18), npm and python3.
#
#   tests/sdk/node_sdk_check.sh [--sdk rudderstack|segment] [--build-dir DIR] [--events N] [--kill]
#                               [--sdk-version V] [--keep]
#
# In a temporary directory: installs the SDK (--sdk rudderstack, the default: @rudderstack/rudder-sdk-node;
# --sdk segment: @segment/analytics-node; latest unless --sdk-version), starts fake-ometria and
# `ometria-transformer serve` from the build directory (default: ./build) on loopback, sends N events (default
# 3000: identify, "Order Completed" with a product, a custom event, a page call, in turn) through the SDK with its
# default options (tests/sdk/node_sdk_send.js), and counts on the fake's side that every event the SDK saw
# acknowledged arrived once at least, as the record it should be (type, id, e-mail; orders with their line item),
# and that no page call made a record.
# --kill: SIGKILL the service once a third of the events are acknowledged, and start it again on the same port
# and queue (the SDK retries network errors meanwhile; events it gives up on are reported, not counted).
# Exit 0 when every acknowledged event arrived (and, without --kill, every event was acknowledged); 1 otherwise.
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
build_dir=$root/build
events=3000
kill_mode=0
sdk=rudderstack
sdk_version=latest
keep=0
while (($#)); do
  case "$1" in
    --sdk) sdk=$2; shift 2 ;;
    --build-dir) build_dir=$(cd "$2" && pwd); shift 2 ;;
    --events) events=$2; shift 2 ;;
    --kill) kill_mode=1; shift ;;
    --sdk-version) sdk_version=$2; shift 2 ;;
    --keep) keep=1; shift ;;
    -h|--help) sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "node_sdk_check: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done

case "$sdk" in
  rudderstack) sdk_package=@rudderstack/rudder-sdk-node ;;
  segment) sdk_package=@segment/analytics-node ;;
  *) echo "node_sdk_check: --sdk must be rudderstack or segment" >&2; exit 2 ;;
esac
check=node_sdk_check
tools=(node npm python3)
# shellcheck source=tests/sdk/sdk_check_common.sh
source "$root/tests/sdk/sdk_check_common.sh"

# ---- the SDK, from the registry ----
mkdir -p "$work/sdk"
(cd "$work/sdk" && npm init -y >/dev/null 2>&1 &&
  npm install --no-audit --no-fund --loglevel=error "$sdk_package@$sdk_version" >"$work/npm.log" 2>&1) ||
  { cat "$work/npm.log" >&2; echo "node_sdk_check: npm install failed" >&2; exit 1; }
installed=$(node -p "require('$work/sdk/node_modules/$sdk_package/package.json').version")
echo "node_sdk_check: $sdk_package $installed, node $(node --version)"

# ---- fake Ometria ----
api_key=ometria-key-node-sdk-check
start_fake "$api_key"

# ---- the service, on a port chosen now so that a restart keeps the SDK's data plane URL ----
port=$(free_port)
write_key=wk-node-sdk-check
cat >"$work/config.json" <<EOF
{
  "server": {"listen": "127.0.0.1:$port"},
  "queue": {"path": "$work/queue.db"},
  "ometria": {"endpoint": "http://127.0.0.1:$fake_port/v2/push", "allow_plain_http": true},
  "sources": [{"name": "node-sdk", "write_key": "$write_key", "api_key": "$api_key"}]
}
EOF
starts=0
start_service() {
  starts=$((starts + 1))
  "$service_bin" serve --config "$work/config.json" --log-level info 2>"$work/service-$starts.log" &
  service_pid=$!
  wait_for "the service to listen" 20 grep -qs "listening on" "$work/service-$starts.log"
}
start_service
echo "node_sdk_check: service on 127.0.0.1:$port, fake Ometria on 127.0.0.1:$fake_port, $events events"

# ---- the SDK sends ----
NODE_PATH=$work/sdk/node_modules node "$root/tests/sdk/node_sdk_send.js" --sdk "$sdk" --url "http://127.0.0.1:$port" \
  --write-key "$write_key" --events "$events" --out "$work" >"$work/sender.stdout" 2>"$work/sender.log" &
sender_pid=$!
if ((kill_mode)); then
  wait_for "a third of the events to be acknowledged" 120 \
    bash -c "[[ -s '$work/progress' ]] && (( \$(cat '$work/progress') >= $events / 3 ))"
  kill -KILL "$service_pid"
  wait "$service_pid" 2>/dev/null || true
  echo "node_sdk_check: SIGKILL with $(cat "$work/progress") events acknowledged; restarting"
  start_service
fi
sender_status=0
wait "$sender_pid" || sender_status=$?
cat "$work/sender.stdout"
if ((sender_status != 0)); then
  cat "$work/sender.log" >&2
  echo "node_sdk_check: the sender failed" >&2
  exit 1
fi

# ---- count on the far side (waits up to 60 s for delivery) ----
python3 - "$work" "$events" "$kill_mode" <<'EOF'
import json, os, sys, time
work, events, kill_mode = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "1"
acked = [json.loads(line) for line in open(os.path.join(work, "acked.jsonl")) if line.strip()]
sender = json.load(open(os.path.join(work, "sender.json")))

def received():
    by_id, lines = {}, 0
    path = os.path.join(work, "received.jsonl")
    if os.path.exists(path):
        for line in open(path):
            if not line.endswith("\n"):
                break  # a line still being written
            lines += 1
            record = json.loads(line)["record"]
            by_id.setdefault(str(record.get("id")), []).append(record)
    return by_id, lines

skipped = [e for e in acked if e["type"] == "skipped"]  # page calls: no record
acked = [e for e in acked if e["type"] != "skipped"]
deadline = time.monotonic() + 60
while True:
    by_id, lines = received()
    missing = [e for e in acked if e["id"] not in by_id]
    if not missing or time.monotonic() > deadline:
        break
    time.sleep(0.5)

def email_of(record):
    return record.get("email") or record.get("identity_email") or (record.get("customer") or {}).get("email")

wrong = []
for e in acked:
    for record in by_id.get(e["id"], []):
        ok = record.get("@type") == e["type"] and email_of(record) == e["email"]
        if e["type"] == "order":
            items = record.get("lineitems") or []
            ok = ok and len(items) == 1 and items[0].get("product_id") == "p-1" and items[0].get("quantity") == 2
        if not ok:
            wrong.append(record)
            break
duplicates = sum(len(v) - 1 for v in by_id.values() if len(v) > 1)
types = {}
for v in by_id.values():
    types[v[0].get("@type")] = types.get(v[0].get("@type"), 0) + 1

print(f"sent by the SDK:            {events}")
print(f"acknowledged to the SDK:    {len(acked) + len(skipped)} ({len(skipped)} page calls)")
print(f"given up by the SDK:        {sender['failed']} {sender['errors'] or ''}".rstrip())
print(f"records at the fake:        {lines} lines, {len(by_id)} distinct ids {types}")
print(f"acknowledged and arrived:   {len(acked) - len(missing)}")
print(f"acknowledged, missing:      {len(missing)}")
print(f"arrived with wrong content: {len(wrong)}")
print(f"duplicates (at-least-once): {duplicates}")
page_records = [i for i in by_id if i.startswith("sdk-page-")]
if page_records:
    print(f"page calls with a record:   {len(page_records)}")
ok = not missing and not wrong and not page_records and (kill_mode or len(acked) + len(skipped) == events)
if missing:
    print("first missing:", [e["id"] for e in missing[:10]])
if wrong:
    print("first wrong:", json.dumps(wrong[0]))
print("RESULT:", "PASS" if ok else "FAIL")
sys.exit(0 if ok else 1)
EOF

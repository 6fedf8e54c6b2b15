#!/usr/bin/env bash
# Runs the compose profile "postgres" (docker/compose.yaml: PostgreSQL, two instances, nginx on port 9091) for
# real, kills one instance and counts what arrived. NOT run by CI or ctest: it installs a Docker engine, builds
# the images (the project compiles inside Docker: 15-25 minutes on 2 cores the first time) and downloads a Node
# SDK from the npm registry. For a person who wants to see the deployment work, on Debian 12 as root.
#
#   scripts/compose_check.sh [--events N] [--keep]
#
# 1. Installs what is missing with apt: docker.io (dockerd, containerd, runc), docker-compose (1.29) unless the
#    docker CLI has its compose plugin, curl, nodejs and npm; starts dockerd if none answers (storage driver
#    overlay2, vfs when overlay2 fails), and leaves it running.
# 2. Base images: when debian:bookworm / debian:bookworm-slim are neither present nor pullable, makes them from
#    Debian's packages with debootstrap (minbase) and `docker import`, and says so. Every other image is built
#    from these (docker/Dockerfile, postgres.Dockerfile, nginx.Dockerfile): no other registry is needed.
# 3. `up --build -d` of the balancer and what it depends on; waits until they are healthy; sends N events
#    (default 3000) through the real Node SDK (tests/sdk/node_sdk_send.js) to port 9091; once a third are
#    acknowledged, SIGKILLs the instance that owns the API key (`docker kill -s KILL`) while the SDK keeps
#    sending; then waits until every acknowledged event is at the fake Ometria (its output: docker logs), which
#    needs the survivor to take the key over after queue.lease_timeout (30 s).
# 4. `down -v` (unless --keep). Exit 0 only if every acknowledged event arrived, as the record it should be.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
events=3000
keep=0
while (($#)); do
  case "$1" in
    --events) events=$2; shift 2 ;;
    --keep) keep=1; shift ;;
    -h|--help) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "compose_check: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
say() { echo "compose_check: $(date -u +%H:%M:%S) $*"; }
die() { echo "compose_check: $*" >&2; exit 1; }
((EUID == 0)) || die "run it as root (it installs packages and starts dockerd)"

work=$(mktemp -d "${TMPDIR:-/tmp}/omt-compose-check.XXXXXX")
trap 'rm -rf "$work"' EXIT  # until the deployment is up (then cleanup below)
state=/var/tmp/omt-compose-check  # dockerd's log and pid, kept across runs
mkdir -p "$state"

# ---- 1. the engine -----------------------------------------------------------------------------------------
install_missing() {  # packages...
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  ((${#missing[@]})) || return 0
  say "installing ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >"$work/apt.log" 2>&1 ||
    { cat "$work/apt.log" >&2; die "apt-get install failed"; }
}
install_missing docker.io iptables curl python3
# node and npm may come from elsewhere than Debian's packages (a newer node ships its own npm): asked for by command.
command -v node >/dev/null || install_missing nodejs
command -v npm >/dev/null || install_missing npm
if docker compose version >/dev/null 2>&1; then
  compose=(docker compose)
else
  install_missing docker-compose
  compose=(docker-compose)
fi
compose+=(-f "$root/docker/compose.yaml" --profile postgres)

start_dockerd() {  # storage driver; returns 1 when it does not answer within 30 s
  say "starting dockerd (storage driver $1, log $state/dockerd.log)"
  setsid dockerd --storage-driver "$1" >>"$state/dockerd.log" 2>&1 </dev/null &
  echo $! >"$state/dockerd.pid"
  local deadline=$((SECONDS + 30))
  until docker info >/dev/null 2>&1; do
    if ! kill -0 "$(cat "$state/dockerd.pid")" 2>/dev/null || ((SECONDS >= deadline)); then
      kill "$(cat "$state/dockerd.pid")" 2>/dev/null || true
      tail -5 "$state/dockerd.log" >&2
      return 1
    fi
    sleep 0.5
  done
}
if ! docker info >/dev/null 2>&1; then
  start_dockerd overlay2 || start_dockerd vfs || die "dockerd does not start (see $state/dockerd.log)"
  say "dockerd runs as pid $(cat "$state/dockerd.pid") and stays running (stop it with: kill $(cat "$state/dockerd.pid"))"
fi
say "engine: dockerd $(docker version -f '{{.Server.Version}}'), storage driver $(docker info -f '{{.Driver}}');" \
  "compose: $("${compose[@]:0:$((${#compose[@]} - 4))}" version --short 2>/dev/null)"

# ---- 2. base images from Debian's packages -----------------------------------------------------------------
have_image() { docker image inspect "$1" >/dev/null 2>&1; }
if ! have_image debian:bookworm-slim || ! have_image debian:bookworm; then
  for image in debian:bookworm-slim debian:bookworm; do
    have_image "$image" || timeout 60 docker pull -q "$image" >/dev/null 2>&1 || true
  done
fi
if ! have_image debian:bookworm-slim || ! have_image debian:bookworm; then
  install_missing debootstrap
  rootfs=$work/rootfs
  say "debian:bookworm(-slim) cannot be pulled: making it with debootstrap (minbase) and docker import"
  debootstrap --variant=minbase bookworm "$rootfs" >"$work/debootstrap.log" 2>&1 ||
    { tail -20 "$work/debootstrap.log" >&2; die "debootstrap failed"; }
  # The host's Debian sources (on a Debian 12 host: updates and security too), as the official image has them.
  if grep -qs 'VERSION_CODENAME=bookworm' /etc/os-release && [[ -f /etc/apt/sources.list.d/debian.sources ]]; then
    cp /etc/apt/sources.list.d/debian.sources "$rootfs/etc/apt/sources.list.d/"
    rm -f "$rootfs/etc/apt/sources.list"
  fi
  chroot "$rootfs" apt-get clean
  rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin
  tar -C "$rootfs" --numeric-owner -c . | docker import --change 'CMD ["bash"]' - debian:bookworm-slim >/dev/null
  docker tag debian:bookworm-slim debian:bookworm
  rm -rf "$rootfs"
  say "made debian:bookworm-slim (also tagged debian:bookworm) from debootstrap"
fi

# ---- 3. up, send, kill, count ------------------------------------------------------------------------------
services=(fake-ometria postgres omt-a omt-b balancer)
cleanup() {
  if ((keep)); then
    say "kept the deployment running (stop it: ${compose[*]} down -v) and $work"
  else
    "${compose[@]}" down -v >"$work/down.log" 2>&1 || cat "$work/down.log" >&2
    rm -rf "$work"
  fi
}
trap cleanup EXIT

say "building the images and starting ${services[*]} (the first build compiles the project: 15-25 minutes)"
started=$SECONDS
"${compose[@]}" up --build -d balancer >"$work/up.log" 2>&1 || { tail -40 "$work/up.log" >&2; die "compose up failed"; }
say "up after $((SECONDS - started)) s"

container_of() { "${compose[@]}" ps -q "$1"; }
health_of() { docker inspect -f '{{if .State.Health}}{{.State.Health.Status}}{{else}}{{.State.Status}}{{end}}' "$(container_of "$1")"; }
deadline=$((SECONDS + 180))
for s in "${services[@]}"; do
  until [[ $(health_of "$s") == healthy ]]; do
    ((SECONDS < deadline)) || { "${compose[@]}" logs --tail 20 "$s" >&2; die "$s is not healthy: $(health_of "$s")"; }
    sleep 1
  done
done
say "healthy: ${services[*]}"
"${compose[@]}" ps

# The SDK, from the npm registry (as tests/sdk/node_sdk_check.sh installs it).
mkdir -p "$work/sdk"
(cd "$work/sdk" && npm init -y >/dev/null 2>&1 &&
  npm install --no-audit --no-fund --loglevel=error @rudderstack/rudder-sdk-node >"$work/npm.log" 2>&1) ||
  { cat "$work/npm.log" >&2; die "npm install failed"; }

say "sending $events events through the RudderStack Node SDK to http://127.0.0.1:9091"
NODE_PATH=$work/sdk/node_modules node "$root/tests/sdk/node_sdk_send.js" --sdk rudderstack \
  --url http://127.0.0.1:9091 --write-key trial-write-key --events "$events" --out "$work" --per-tick 1 \
  >"$work/sender.stdout" 2>"$work/sender.log" &
sender_pid=$!  # one event every 10 ms: still sending when the instance dies, and its key still has records
deadline=$((SECONDS + 120))
until [[ -s $work/progress ]] && (($(cat "$work/progress") >= events / 3)); do
  kill -0 "$sender_pid" 2>/dev/null || break
  ((SECONDS < deadline)) || die "a third of the events were not acknowledged within 120 s"
  sleep 0.1
done

# The owner of the API key: its instance id starts with the container's host name (docs/scaling.md).
owner=$(docker exec "$(container_of postgres)" psql -U omt -d omt -Atc "SELECT instance_id FROM key_owners LIMIT 1" || true)
victim=omt-a
[[ $owner == "$(docker inspect -f '{{.Config.Hostname}}' "$(container_of omt-b)")"* ]] && victim=omt-b
killed_at=$(date -u +%s.%N)
docker kill -s KILL "$(container_of "$victim")" >/dev/null
say "SIGKILL $victim at $(date -u -d "@$killed_at" +%H:%M:%S.%3N) (owner of the key: ${owner:-none yet})" \
  "with $(cat "$work/progress") events acknowledged"

sender_status=0
wait "$sender_pid" || sender_status=$?
cat "$work/sender.stdout"
((sender_status == 0)) || { cat "$work/sender.log" >&2; die "the sender failed"; }

# Counting: the fake prints its port, then one JSON line per accepted record.
fake=$(container_of fake-ometria)
status=0
python3 - "$work" "$fake" "$killed_at" <<'EOF' || status=$?
import json, subprocess, sys, time
work, fake, killed_at = sys.argv[1], sys.argv[2], float(sys.argv[3])
acked = [json.loads(line) for line in open(f"{work}/acked.jsonl") if line.strip()]
sender = json.load(open(f"{work}/sender.json"))
skipped = [e for e in acked if e["type"] == "skipped"]  # page calls: no record
acked = [e for e in acked if e["type"] != "skipped"]

def received():
    out = subprocess.run(["docker", "logs", fake], capture_output=True, text=True).stdout
    by_id = {}
    for line in out.splitlines():
        if line.startswith("{"):
            record = json.loads(line)["record"]
            by_id.setdefault(str(record.get("id")), []).append(record)
    return by_id

deadline = time.monotonic() + 150  # lease_timeout (30 s) + a round + the rate limit's backlog, with room
while True:
    by_id = received()
    missing = [e for e in acked if e["id"] not in by_id]
    if not missing or time.monotonic() > deadline:
        break
    time.sleep(1)
all_arrived = time.time()

def email_of(record):
    return record.get("email") or record.get("identity_email") or (record.get("customer") or {}).get("email")

wrong = [r for e in acked for r in by_id.get(e["id"], [])[:1]
         if r.get("@type") != e["type"] or email_of(r) != e["email"]]
duplicates = sum(len(v) - 1 for v in by_id.values() if len(v) > 1)
print(f"acknowledged to the SDK:    {len(acked) + len(skipped)} of {sender['sent']} ({len(skipped)} page calls)")
print(f"given up by the SDK:        {sender['failed']} {sender['errors'] or ''}".rstrip())
print(f"records at the fake:        {sum(len(v) for v in by_id.values())}, {len(by_id)} distinct ids")
print(f"acknowledged and arrived:   {len(acked) - len(missing)}")
print(f"acknowledged, missing:      {len(missing)}")
print(f"arrived with wrong content: {len(wrong)}")
print(f"duplicates (at-least-once): {duplicates}")
print(f"the last one arrived:       {all_arrived - killed_at:.1f} s after the SIGKILL")
if missing:
    print("first missing:", [e["id"] for e in missing[:10]])
ok = not missing and not wrong
print("RESULT:", "PASS" if ok else "FAIL")
sys.exit(0 if ok else 1)
EOF
survivor=omt-a; [[ $victim == omt-a ]] && survivor=omt-b
sleep 1  # docker's log of the survivor may lag its last line
say "the survivor's ($survivor) ownership lines:"
docker logs "$(container_of "$survivor")" 2>&1 | grep -E 'took over key|gave back key|listening on' | cut -c1-240 || true
exit $status

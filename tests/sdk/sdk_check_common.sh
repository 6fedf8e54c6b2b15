# What the live SDK checks (node_sdk_check.sh, browser_sdk_check.sh) share; sourced, not run. Before sourcing,
# set: check (the script's name, for messages), build_dir, keep (1: keep the work directory), tools (required
# commands). Gives: service_bin, fake_bin, work (a new temporary directory, removed at exit unless keep), the
# cleanup of the processes started here (only those, by their ids: fake_pid, service_pid), wait_for, free_port
# and start_fake (fake-ometria on a free port, its records in $work/received.jsonl; sets fake_port).

service_bin=$build_dir/ometria-transformer
fake_bin=$build_dir/tests/fake-ometria
for f in "$service_bin" "$fake_bin"; do
  [[ -x $f ]] || { echo "$check: $f is missing: build the project first" >&2; exit 2; }
done
for tool in "${tools[@]}"; do
  command -v "$tool" >/dev/null || { echo "$check: $tool is required (scripts/install-deps.sh installs it)" >&2; exit 2; }
done

work=$(mktemp -d "${TMPDIR:-/tmp}/omt-$check.XXXXXX")
fake_pid=""
service_pid=""
cleanup() {
  [[ -n $service_pid ]] && kill "$service_pid" 2>/dev/null && wait "$service_pid" 2>/dev/null || true
  [[ -n $fake_pid ]] && kill "$fake_pid" 2>/dev/null && wait "$fake_pid" 2>/dev/null || true
  if ((keep)); then echo "$check: kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

# Waits (bounded) until the command succeeds: a file exists and is not empty, a log has a line.
wait_for() {  # description, seconds, command...
  local what=$1 seconds=$2
  shift 2
  local deadline=$((SECONDS + seconds))
  until "$@"; do
    if ((SECONDS >= deadline)); then echo "$check: timed out waiting for $what" >&2; return 1; fi
    sleep 0.1
  done
}

# A port free on 127.0.0.1 now (for an address that must be known before its server starts).
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'; }

start_fake() {  # api key
  "$fake_bin" --listen 127.0.0.1:0 --keys "$1" --out "$work/received.jsonl" --port-file "$work/fake.port" \
    >"$work/fake.stdout" 2>"$work/fake.log" &
  fake_pid=$!
  wait_for "fake-ometria's port" 15 test -s "$work/fake.port"
  fake_port=$(cat "$work/fake.port")
}

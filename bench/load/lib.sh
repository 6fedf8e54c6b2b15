# Shared by the load scripts (sourced): waiting for a started server, medians.

# Waits (bounded: 10 s) for the server with PID to log "listening on 127.0.0.1:PORT" in LOG; sets $port.
# Exits with the log when the server dies or never listens.
wait_for_listening() {
  local pid=$1 log=$2
  port=""
  for _ in $(seq 1 200); do
    port=$(grep -so 'listening on 127\.0\.0\.1:[0-9]*' "$log" | head -1 | cut -d: -f2 || true)
    [[ -n "$port" ]] && return 0
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.05
  done
  echo "the server did not start:" >&2
  cat "$log" >&2
  exit 1
}

# The median of the numbers on stdin, one a line.
median() { sort -n | awk '{v[NR]=$1} END {if (NR % 2) print v[(NR+1)/2]; else print (v[NR/2]+v[NR/2+1])/2}'; }

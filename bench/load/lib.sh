# Shared by the load scripts (sourced): waiting for a started server, medians.

# Waits (bounded: 10 s) until the server with PID listens on the 127.0.0.1 port its LOG names ("listening on
# 127.0.0.1:PORT"), then until that port accepts a connection; sets $port. Exits with a clear error and the log
# when the server dies first or the time runs out. A port the log names counts only once PID itself holds a
# listening socket on it: a log file left over from an earlier server (the shell truncates it only once the
# new process runs, and `cmd 2>log &` returns before that) can name a port that is closed by now, which made
# wrk abort with "unable to connect ... Connection refused".
wait_for_listening() {
  local pid=$1 log=$2 named="" deadline=$((SECONDS + 10))
  port=""
  while ((SECONDS < deadline)); do
    named=$(grep -so 'listening on 127\.0\.0\.1:[0-9]*' "$log" | head -1 | cut -d: -f2 || true)
    if [[ -n "$named" ]] && pid_listens_on "$pid" "$named" && port_accepts "$named"; then
      port=$named
      return 0
    fi
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "the server (pid $pid) exited before it listened; its log ($log):" >&2
      cat "$log" >&2
      exit 1
    fi
    sleep 0.05
  done
  if [[ -n "$named" ]]; then
    echo "the server (pid $pid) did not accept connections on 127.0.0.1:$named within 10 s; its log ($log):" >&2
  else
    echo "the server (pid $pid) did not log \"listening on 127.0.0.1:PORT\" within 10 s; its log ($log):" >&2
  fi
  cat "$log" >&2
  exit 1
}

# Whether process PID holds a TCP socket listening on 127.0.0.1:PORT (or on every address) (from /proc: the
# socket inodes in LISTEN state on that port, and PID's open descriptors).
pid_listens_on() {
  local pid=$1 hex inode
  hex=$(printf '%04X' "$2")
  for inode in $(awk -v port="$hex" '$4 == "0A" && $2 ~ (":" port "$") {print $10}' /proc/net/tcp /proc/net/tcp6 2>/dev/null); do
    find "/proc/$pid/fd" -maxdepth 1 -lname "socket:\[$inode\]" 2>/dev/null | grep -q . && return 0
  done
  return 1
}

# Whether 127.0.0.1:PORT accepts a TCP connection (bash's /dev/tcp; at most 1 s).
port_accepts() { timeout 1 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null; }

# The median of the numbers on stdin, one a line.
median() { sort -n | awk '{v[NR]=$1} END {if (NR % 2) print v[(NR+1)/2]; else print (v[NR/2]+v[NR/2+1])/2}'; }

#!/bin/sh
# docker/postgres.Dockerfile's entrypoint: on the first start (an empty data directory) creates the cluster with
# POSTGRES_USER as its superuser (password POSTGRES_PASSWORD, scram-sha-256 over TCP from anywhere, trust on
# the local socket only) and the database POSTGRES_DB (default: the user's name); then runs the server.
set -eu
: "${POSTGRES_USER:?POSTGRES_USER is required}" "${POSTGRES_PASSWORD:?POSTGRES_PASSWORD is required}"
db=${POSTGRES_DB:-$POSTGRES_USER}
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  pwfile=$(mktemp)
  printf '%s\n' "$POSTGRES_PASSWORD" > "$pwfile"
  initdb -D "$PGDATA" -U "$POSTGRES_USER" --pwfile="$pwfile" -E UTF8 --locale=C.UTF-8 \
    --auth-local=trust --auth-host=scram-sha-256 >/dev/null
  rm -f "$pwfile"
  echo "host all all all scram-sha-256" >> "$PGDATA/pg_hba.conf"
  echo "listen_addresses = '*'" >> "$PGDATA/postgresql.conf"
  if [ "$db" != postgres ]; then
    # Single-user mode: no server, no socket, one statement; its log (a checkpoint) shown only when it fails.
    log=$(mktemp)
    echo "CREATE DATABASE \"$db\" OWNER \"$POSTGRES_USER\"" | postgres --single -D "$PGDATA" postgres \
      >"$log" 2>&1 || { cat "$log" >&2; exit 1; }
    rm -f "$log"
  fi
  echo "postgres-entrypoint: created the cluster, user $POSTGRES_USER, database $db"
fi
exec postgres -D "$PGDATA" "$@"

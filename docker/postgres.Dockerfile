# PostgreSQL 15 for the compose profile "postgres" (docker/compose.yaml), from Debian's own package, so that the
# deployment needs no image but debian:bookworm-slim. It behaves as the official image does for what compose
# uses: POSTGRES_USER, POSTGRES_PASSWORD and POSTGRES_DB create the cluster on first start (data in
# /var/lib/postgresql/data, a volume), password logins over TCP, a pg_isready healthcheck.
#   docker build -f docker/postgres.Dockerfile -t omt-postgres docker
FROM debian:bookworm-slim
# Debian's package creates a cluster of its own on install ("main"); the entrypoint makes the one we use.
RUN mkdir -p /etc/postgresql-common \
 && echo 'create_main_cluster = false' > /etc/postgresql-common/createcluster.conf \
 && apt-get update \
 && apt-get install -y --no-install-recommends postgresql-15 \
 && rm -rf /var/lib/apt/lists/* \
 && install -d -o postgres -g postgres -m 700 /var/lib/postgresql/data \
 && install -d -o postgres -g postgres -m 2775 /var/run/postgresql
COPY postgres-entrypoint.sh /usr/local/bin/postgres-entrypoint.sh
ENV PATH=/usr/lib/postgresql/15/bin:$PATH \
    PGDATA=/var/lib/postgresql/data
USER postgres
VOLUME ["/var/lib/postgresql/data"]
EXPOSE 5432
# SIGINT is PostgreSQL's fast shutdown (SIGTERM's "smart" one waits for every client to leave).
STOPSIGNAL SIGINT
HEALTHCHECK --interval=2s --timeout=3s --start-period=10s --retries=30 \
  CMD pg_isready -q -h 127.0.0.1 -U "$POSTGRES_USER" -d "${POSTGRES_DB:-$POSTGRES_USER}" || exit 1
ENTRYPOINT ["/usr/local/bin/postgres-entrypoint.sh"]

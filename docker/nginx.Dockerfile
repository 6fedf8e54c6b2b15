# nginx for the compose profile "postgres" (docker/compose.yaml): Debian's package on debian:bookworm-slim, so
# that the deployment needs no image but Debian's. compose mounts docker/compose.nginx.conf as its one site;
# the access and error logs go to the container's output (docker compose logs balancer).
#   docker build -f docker/nginx.Dockerfile -t omt-nginx docker
FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends nginx curl \
 && rm -rf /var/lib/apt/lists/* \
 && rm -f /etc/nginx/sites-enabled/default \
 && ln -sf /dev/stdout /var/log/nginx/access.log \
 && ln -sf /dev/stderr /var/log/nginx/error.log
EXPOSE 9090
# SIGQUIT: nginx's graceful stop (finishes the requests it has).
STOPSIGNAL SIGQUIT
# Healthy when nginx answers on its port at all: a 502 (both instances down) still counts, without -f.
HEALTHCHECK --interval=2s --timeout=3s --retries=15 \
  CMD curl -sS -o /dev/null http://127.0.0.1:9090/health || exit 1
CMD ["nginx", "-g", "daemon off;"]

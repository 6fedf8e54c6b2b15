#!/usr/bin/env bash
# Installs every build, test and benchmark dependency from Debian 12 packages.
# Idempotent: packages already present are skipped, so a second run costs one dpkg query.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config ccache
  libboost1.74-dev libboost-system1.74-dev
  libsimdjson-dev nlohmann-json3-dev libspdlog-dev libfmt-dev
  libhowardhinnant-date-dev libphonenumber-dev libprotobuf-dev libicu-dev
  libexpected-dev libcli11-dev libssl-dev libsqlite3-dev zlib1g-dev
  libpq-dev   # the PostgreSQL queue backend (queue.backend: "postgres") links libpq
  postgresql-15  # the tests start their own server from /usr/lib/postgresql/15/bin (tests/support/postgres_server)
  libgtest-dev libgmock-dev libbenchmark-dev
  python3 curl openssl wrk linux-perf  # linux-perf: `perf record -g` of the load benchmark (bench/load/run.sh)
  nodejs chromium  # tests/sdk/browser_sdk_check.sh: the SDKs come from npm, the browser is Debian's
)
# Optional extras: fuzzing (clang + libFuzzer runtime). Asked for with OMT_WITH_FUZZ=1.
if [[ "${OMT_WITH_FUZZ:-0}" == 1 ]]; then
  packages+=(clang-14 libclang-rt-14-dev)
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if ((${#missing[@]})); then
  echo "install-deps: installing ${missing[*]}"
  sudo_cmd=()
  [[ $(id -u) -ne 0 ]] && sudo_cmd=(sudo)
  export DEBIAN_FRONTEND=noninteractive
  "${sudo_cmd[@]}" apt-get update -qq
  "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "install-deps: all packages present"
fi

# PostgreSQL refuses to run as root, and CI runs as root: the tests start their server as this system user
# (Debian's postgresql-common creates it; made here too in case a trimmed image lacks it).
if ! id -u postgres >/dev/null 2>&1; then
  sudo_cmd=()
  [[ $(id -u) -ne 0 ]] && sudo_cmd=(sudo)
  "${sudo_cmd[@]}" useradd --system --home-dir /var/lib/postgresql --shell /usr/sbin/nologin postgres
fi

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

#!/usr/bin/env bash
# Installs what is missing, builds, and runs the whole test suite: first a normal build, then the same suite
# under AddressSanitizer + UndefinedBehaviorSanitizer (skip that second pass with OMT_TEST_SANITIZERS=0).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/install-deps.sh"

OMT_BUILD_DIR="$root/build" "$root/scripts/build.sh" -DCMAKE_BUILD_TYPE=RelWithDebInfo
ctest --test-dir "$root/build" --output-on-failure -j "$(nproc)"

if [[ "${OMT_TEST_SANITIZERS:-1}" == 1 ]]; then
  OMT_BUILD_DIR="$root/build-asan" "$root/scripts/build.sh" -DCMAKE_BUILD_TYPE=Debug \
    -DOMT_SANITIZE=address,undefined -DOMT_BUILD_BENCH=OFF
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest --test-dir "$root/build-asan" --output-on-failure -j "$(nproc)"
fi

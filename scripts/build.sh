#!/usr/bin/env bash
# Configures and builds the project into ${OMT_BUILD_DIR:-build} (Ninja, ccache when present).
# Extra arguments are passed to CMake's configure step, e.g. -DOMT_SANITIZE=address,undefined.
# OMT_BUILD_TARGETS="a b" builds only those targets.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build_dir=${OMT_BUILD_DIR:-$root/build}
cmake -S "$root" -B "$build_dir" -G Ninja "$@" >/dev/null
targets=()
for t in ${OMT_BUILD_TARGETS:-}; do targets+=(--target "$t"); done
cmake --build "$build_dir" -j "$(nproc)" "${targets[@]}"

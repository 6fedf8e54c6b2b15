#!/usr/bin/env bash
# Builds the libFuzzer targets with clang + ASan + UBSan and runs each for ${FUZZ_SECONDS:-30} seconds on a copy of
# its seed corpus (tests/fuzz/corpus/<target>). Any crash, leak or sanitizer report fails the run.
# FUZZ_RUNS=N runs each target for N executions instead of a time.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
OMT_WITH_FUZZ=1 "$root/scripts/install-deps.sh"
build="$root/build-fuzz"
CC=clang-14 CXX=clang++-14 cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DOMT_BUILD_FUZZ=ON -DOMT_SANITIZE=address,undefined -DOMT_BUILD_TESTS=OFF -DOMT_BUILD_BENCH=OFF >/dev/null
cmake --build "$build" -j "$(nproc)" --target fuzz_transform fuzz_request_body fuzz_mapping_load fuzz_ingest \
  fuzz_csv_tokenizer fuzz_csv_table

limit=(-max_total_time="${FUZZ_SECONDS:-30}")
[[ -n "${FUZZ_RUNS:-}" ]] && limit=(-runs="$FUZZ_RUNS")
for target in transform request_body mapping_load ingest csv_tokenizer csv_table; do
  corpus="$build/corpus/$target"
  mkdir -p "$corpus"
  cp -n "$root/tests/fuzz/corpus/$target/"* "$corpus/" 2>/dev/null || true
  echo "fuzz_$target: ${limit[*]}"
  ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
    "$build/tests/fuzz/fuzz_$target" "${limit[@]}" -max_len=${FUZZ_MAX_LEN:-16384} -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$build/" "$corpus" >"$build/fuzz_$target.log" 2>&1 && status=0 || status=$?
  grep -E "^(stat::number_of_executed_units|#[0-9]+ +DONE|==|SUMMARY)|ERROR|what\(\)" "$build/fuzz_$target.log" || true
  # The fuzzer's own status: a crash, leak or sanitizer report is nonzero (the artifact is in $build/crash-*).
  if ((status != 0)); then echo "fuzz_$target: FAILED (exit $status; log: $build/fuzz_$target.log)" >&2; exit 1; fi
done
echo "fuzz: all targets clean"

#!/usr/bin/env bash
# Installs what is missing, builds, and runs the whole test suite:
#   1. the normal build and every test (ctest: unit, golden cases, integration), then RudderStack's JavaScript
#      SDK in headless Chromium against the binary (tests/sdk/browser_sdk_check.sh; installs npm packages);
#   2. every command of README.md (tests/readme/run_readme_commands.py), the transcripts of docs/
#      (tests/readme/check_doc_transcripts.py) and `scripts/run.sh --version`;
#   3. the same tests built with AddressSanitizer + UndefinedBehaviorSanitizer (skip: OMT_TEST_SANITIZERS=0);
#   4. each libFuzzer target for ${FUZZ_SECONDS:-20} s under ASan + UBSan (skip: OMT_TEST_FUZZ=0).
#
# `scripts/test.sh --quick`: step 1 only (the normal build and ctest), for the daily loop on a 2-core machine.
# The README's test command and .ci/run run everything.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
quick=0
case "${1:-}" in
  --quick) quick=1 ;;
  "") ;;
  -h|--help) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  *) echo "test.sh: unknown option '$1' (use --quick, or nothing for the whole suite)" >&2; exit 2 ;;
esac

if ((quick)); then
  "$root/scripts/install-deps.sh"
else
  OMT_WITH_FUZZ=1 "$root/scripts/install-deps.sh"
fi

OMT_BUILD_DIR="$root/build" "$root/scripts/build.sh" -DCMAKE_BUILD_TYPE=RelWithDebInfo
ctest --test-dir "$root/build" --output-on-failure -j "$(nproc)"
# RudderStack's JavaScript SDK (from npm) in Debian's Chromium against the binary just built: about 10 s.
"$root/tests/sdk/browser_sdk_check.sh" --build-dir "$root/build"
"$root/tests/sdk/postgres_instances_check.sh" --build-dir "$root/build"  # 3 instances, 1 PostgreSQL, node SDK: ~1 min
((quick)) && exit 0

"$root/scripts/run.sh" --version
python3 "$root/tests/readme/run_readme_commands.py" "$root"
python3 "$root/tests/readme/check_doc_transcripts.py" "$root"

if [[ "${OMT_TEST_SANITIZERS:-1}" == 1 ]]; then
  OMT_BUILD_DIR="$root/build-asan" "$root/scripts/build.sh" -DCMAKE_BUILD_TYPE=Debug \
    -DOMT_SANITIZE=address,undefined -DOMT_BUILD_BENCH=OFF
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest --test-dir "$root/build-asan" --output-on-failure -j "$(nproc)"
fi

if [[ "${OMT_TEST_FUZZ:-1}" == 1 ]]; then
  FUZZ_SECONDS="${FUZZ_SECONDS:-20}" "$root/scripts/fuzz.sh"
fi

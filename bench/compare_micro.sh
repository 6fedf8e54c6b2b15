#!/usr/bin/env bash
# The micro benchmarks (omt_bench: one Google Benchmark per pure stage) of two commits, side by side:
#
#   bench/compare_micro.sh [--rounds 3] [--filter REGEX] [--min-time SECONDS] [--work DIR]
#                          [--build-type RelWithDebInfo] BEFORE AFTER
#
# Builds omt_bench at each commit (a detached git worktree and its own build directory under --work, kept and
# reused by the next comparison), then runs every stage that either binary lists, the two binaries in turn
# (before, after, before, after, ...: --rounds runs each, every run one --benchmark_repetitions=1 of one stage),
# so that a load that comes and goes on the machine falls on both alike. Prints one table: stage, the median
# events/s (items_per_second, from CPU time) of before and after, and after / before. A stage that one commit
# does not have shows "absent"; one that reports no items_per_second shows "-". Compare ratios, not absolute
# figures, and say whether the machine was quiet: the load average is printed with the table.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
rounds=3
filter=.
min_time=""  # Google Benchmark's own (0.5 s of CPU a run) unless given: on a loaded machine 0.1 saves minutes
work=/tmp/omt-compare-micro
build_type=RelWithDebInfo
commits=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --rounds) rounds=$2; shift 2 ;;
    --filter) filter=$2; shift 2 ;;
    --work) work=$2; shift 2 ;;
    --build-type) build_type=$2; shift 2 ;;
    --min-time) min_time=$2; shift 2 ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    -*) echo "unknown argument: $1" >&2; exit 2 ;;
    *) commits+=("$1"); shift ;;
  esac
done
[[ ${#commits[@]} -eq 2 ]] || { echo "usage: bench/compare_micro.sh [options] BEFORE AFTER (see --help)" >&2; exit 2; }
[[ $rounds =~ ^[1-9][0-9]*$ ]] || { echo "--rounds must be a positive whole number" >&2; exit 2; }

# Builds omt_bench at commit $1 and sets $bench to it.
build_at() {
  local commit
  commit=$(git -C "$root" rev-parse --verify --quiet "$1^{commit}") || { echo "no such commit: $1" >&2; exit 2; }
  local tree="$work/${commit:0:12}"
  if [[ ! -d "$tree" ]]; then
    mkdir -p "$work"
    git -C "$root" worktree add --detach "$tree" "$commit" >/dev/null 2>&1 ||
      { echo "cannot check out $1 into $tree" >&2; exit 1; }
  fi
  echo "building omt_bench at $1 (${commit:0:12}) in $tree/build-$build_type ..." >&2
  OMT_BUILD_DIR="$tree/build-$build_type" OMT_BUILD_TARGETS=omt_bench nice "$tree/scripts/build.sh" \
    -DCMAKE_BUILD_TYPE="$build_type" -DOMT_BUILD_TESTS=OFF -DOMT_BUILD_BENCH=ON >"$tree/build-$build_type.log" 2>&1 ||
    { echo "the build at $1 failed; see $tree/build-$build_type.log" >&2; exit 1; }
  bench="$tree/build-$build_type/bench/omt_bench"
}
build_at "${commits[0]}"; before=$bench
build_at "${commits[1]}"; after=$bench

# Every run's JSON stays here (one document a line) beside the builds, for a second look.
results="$work/runs-$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$results"
"$before" --benchmark_list_tests --benchmark_filter="$filter" >"$results/before.list"
"$after" --benchmark_list_tests --benchmark_filter="$filter" >"$results/after.list"
# Both lists' stages, in the after binary's order, then those only the before binary has.
mapfile -t stages < <(cat "$results/after.list" "$results/before.list" | awk '!seen[$0]++')
[[ ${#stages[@]} -gt 0 ]] || { echo "no stage matches --filter $filter" >&2; exit 2; }

load_at_start=$(cut -d' ' -f1-3 /proc/loadavg)
# One run of stage $2 by binary $1, its JSON appended to file $3 (one document a line, for the summary below).
run_once() {
  local pattern
  pattern="^$(printf '%s' "$2" | sed 's/[][\.*^$+?(){}|]/\\&/g')\$"
  "$1" --benchmark_filter="$pattern" --benchmark_repetitions=1 ${min_time:+--benchmark_min_time="$min_time"} \
    --benchmark_format=json 2>/dev/null |
    python3 -c 'import json, sys; print(json.dumps(json.load(sys.stdin)))' >>"$3"
}
for stage in "${stages[@]}"; do
  echo "running $stage ($rounds rounds) ..." >&2
  for _ in $(seq 1 "$rounds"); do
    grep -qxF "$stage" "$results/before.list" && run_once "$before" "$stage" "$results/before.json"
    grep -qxF "$stage" "$results/after.list" && run_once "$after" "$stage" "$results/after.json"
  done
done
load_at_end=$(cut -d' ' -f1-3 /proc/loadavg)

touch "$results/before.json" "$results/after.json"
printf '%s\n' "${stages[@]}" >"$results/stages"
python3 - "$results" "${commits[@]}" <<'EOF'
import json, statistics, sys

def medians(path):
    runs = {}
    for line in open(path):
        for b in json.loads(line)["benchmarks"]:
            if b.get("run_type") == "iteration":
                runs.setdefault(b["name"], []).append(b.get("items_per_second"))
    return {name: (None if None in v else statistics.median(v)) for name, v in runs.items()}

results = sys.argv[1]
before, after = medians(results + "/before.json"), medians(results + "/after.json")
stages = [line.rstrip("\n") for line in open(results + "/stages") if line.strip()]
width = max(len(s) for s in stages + ["stage"])
def cell(table, name):
    if name not in table: return "absent"
    return "-" if table[name] is None else f"{table[name]:,.0f}"
print(f"{'stage':<{width}}  {'before events/s':>16}  {'after events/s':>16}  {'ratio':>6}")
for s in stages:
    b, a = before.get(s), after.get(s)
    ratio = f"{a / b:.2f}" if a and b else "-"
    print(f"{s:<{width}}  {cell(before, s):>16}  {cell(after, s):>16}  {ratio:>6}")
print(f"(before: {sys.argv[2]}, after: {sys.argv[3]}; events/s = items_per_second from CPU time; runs in {results})")
EOF
echo "(medians of $rounds interleaved runs each${min_time:+, --benchmark_min_time=$min_time}; $(nproc) cores; load average $load_at_start at the start," \
     "$load_at_end at the end)"

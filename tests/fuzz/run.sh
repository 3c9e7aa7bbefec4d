#!/usr/bin/env bash
# Builds the libFuzzer harnesses (clang, ASan + UBSan, build dir build-fuzz or $OIM_FUZZ_BUILD)
# and runs each in turn, one at a time, printing executions, coverage (cov/ft) and crashes.
# Usage: tests/fuzz/run.sh [--seconds N] [--runs N] [harness...]
#   default --seconds 60; --runs N stops each harness after N executions (e.g. --runs 1000000).
# Seeds: tests/fuzz/seeds/<name>/ (committed); new corpus entries go to the build dir only.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${OIM_FUZZ_BUILD:-$root/build-fuzz}
seconds=60 runs=-1 names=()
while (($#)); do
  case "$1" in
    --seconds) seconds=$2; shift 2 ;;
    --runs) runs=$2; seconds=0; shift 2 ;;
    -h|--help) sed -n '2,6p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) names+=("$1"); shift ;;
  esac
done
command -v clang >/dev/null || { echo "fuzz: clang not installed (deploy/install-deps.sh)" >&2; exit 3; }
((${#names[@]})) || names=(wire ingest pbjson analyze search email stream_id cursor validate)
CC=clang cmake -S "$root" -B "$build" -DBUILD_TESTING=OFF -DOIM_FUZZ=ON >/dev/null
cmake --build "$build" -j2 --target "${names[@]/#/fuzz_}" >/dev/null
failed=0
printf '%-10s %12s %8s %8s %s\n' harness execs cov ft result
for n in "${names[@]}"; do
  corpus=$build/corpus/$n; mkdir -p "$corpus" "$build/crashes"
  log=$build/fuzz_$n.log
  rc=0
  "$build/tests/fuzz/fuzz_$n" -max_total_time="$seconds" -runs="$runs" -print_final_stats=1 \
    -artifact_prefix="$build/crashes/$n-" "$corpus" "$root/tests/fuzz/seeds/$n" >"$log" 2>&1 || rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
  last=$(grep -E '^#[0-9]+' "$log" | tail -1)
  cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last"); ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
  result=clean; ((rc == 0)) || { result="CRASH (rc $rc, see $log)"; failed=1; }
  printf '%-10s %12s %8s %8s %s\n' "$n" "${execs:-?}" "${cov:-?}" "${ft:-?}" "$result"
done
exit $failed

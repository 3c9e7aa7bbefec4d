#!/usr/bin/env bash
# Runs the whole OI Market test suite on a fresh Debian 12 machine:
#   1. installs every dependency (deploy/install-deps.sh, apt-get; quick when present),
#   2. builds and runs every test (unit + integration: real Redis, real daemons),
#   3. builds again with AddressSanitizer + UBSan (leak checking on) and runs every test again,
#   4. runs the container tests when a Docker engine is present (says so plainly when not).
# Usage: tests/run.sh [--quick]   (--quick: skip the sanitizer pass and the container tests)
# Environment: OIM_TEST_JOBS (parallel ctest jobs, default 2), OIM_SKIP_DOCKER=1.
set -euo pipefail
cd "$(dirname "$0")/.."
quick=0
[[ ${1:-} == --quick ]] && quick=1
[[ ${1:-} == -h || ${1:-} == --help ]] && { sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; exit 0; }
jobs=${OIM_TEST_JOBS:-2}
t0=$SECONDS
phase() { printf '\n=== %s (%ds elapsed)\n' "$1" $((SECONDS - t0)); }

phase "dependencies"
deploy/install-deps.sh

build_and_test() {   # dir, extra cmake args...
  local dir=$1; shift
  cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >"$dir.configure.log" 2>&1 \
    || { cat "$dir.configure.log"; return 1; }
  cmake --build "$dir" -j"$(nproc)" 2>&1 | grep -Ev '^\[ *[0-9]+%\]|^-- ' || true
  [[ ${PIPESTATUS[0]} -eq 0 ]] || { echo "build failed in $dir"; return 1; }
  ctest --test-dir "$dir" --output-on-failure -j"$jobs" --timeout 900
}

# Figures the tests wrote for the log (test_failover: acknowledged, lost, failover time...).
figures() { for f in "$1"/figures/*.txt; do [[ -f $f ]] && cat "$f"; done; return 0; }

phase "build + tests"
mkdir -p build
build_and_test build
figures build

if ((quick == 0)); then
  phase "AddressSanitizer + UBSan build + tests"
  export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:halt_on_error=1
  export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
  export LSAN_OPTIONS=suppressions=$PWD/tests/lsan.supp:print_suppressions=0
  mkdir -p build-asan
  build_and_test build-asan -DOIM_SANITIZE=ON
  figures build-asan
  unset ASAN_OPTIONS UBSAN_OPTIONS LSAN_OPTIONS

  phase "fuzz smoke (libFuzzer, ASan + UBSan, 20 s per harness)"
  if command -v clang >/dev/null; then
    tests/fuzz/run.sh --seconds "${OIM_FUZZ_SECONDS:-20}"
  else
    echo "fuzz smoke: SKIPPED — clang not installed (deploy/install-deps.sh installs it)"
  fi

  phase "container tests"
  if [[ ${OIM_SKIP_DOCKER:-0} == 1 ]]; then
    echo "container tests: SKIPPED (OIM_SKIP_DOCKER=1)"
  elif ! command -v docker >/dev/null || ! docker info >/dev/null 2>&1; then
    echo "container tests: NOT RUN — no Docker engine reachable on this machine"
  else
    rc=0
    deploy/compose-test.sh || rc=$?
    if ((rc == 77)); then
      echo "container tests: NOT RUN — deploy/compose-test.sh found no usable Docker engine"
    elif ((rc != 0)); then
      echo "container tests FAILED (exit $rc)"; exit "$rc"
    fi
  fi
fi
phase "all tests passed"

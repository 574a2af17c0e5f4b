#!/usr/bin/env bash
# The test command: installs what is missing, checks the formatting, docker/ (hadolint, the
# compose file) and the Helm chart (deploy/helm/check.sh), builds with ASan/UBSan (through ccache,
# linked by mold), brings up the local infrastructure (Kafka x3, PostgreSQL, Redis) while the build
# runs, runs every ctest test (labels "unit" and "integration") in parallel (tests that stop a
# shared server run alone: tests/CMakeLists.txt), runs each fuzz target for 20 s
# (tests/fuzz/run.sh), stops what it started, and prints where the time went.
# Exits non-zero on any failure.
#
#   tests/run.sh [extra ctest args]       e.g. tests/run.sh -L unit
#
# STREAMMETRICS_TEST_JOBS sets ctest's parallelism (default: twice the number of cores; the
# integration tests spend most of their time waiting for windows to close, not computing).
#
# An infrastructure that was already running before (yours, from deploy/local/up.sh) is reused
# and left running.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=../deploy/local/lib.sh
source "$root/deploy/local/lib.sh"
SM_COMPONENT=tests
started=$SECONDS
phases=()
phase_started=$SECONDS
# Records how long the phase that just ended took, for the summary at exit.
phase_done() {
  phases+=("$(printf '%-28s %5ds' "$1" $((SECONDS - phase_started)))")
  phase_started=$SECONDS
}

"$root/deploy/install-deps.sh"
phase_done "install (idempotent)"

# Google style, checked before anything is built (clang-format 14 from Debian 12).
sm_log "checking the formatting (clang-format-14 --dry-run -Werror)"
mapfile -t sources < <(cd "$root" && git ls-files '*.cc' '*.h')
if ! (cd "$root" && clang-format-14 --dry-run -Werror "${sources[@]}"); then
  sm_log "ERROR: files above are not formatted; run: clang-format-14 -i <file>"
  exit 1
fi
phase_done "format check"

# The images and the compose file, checked offline (hadolint, docker-compose config).
"$root/docker/check.sh"
phase_done "docker check"
# The Helm chart: helm lint and kubeconform against the Kubernetes schemas, offline.
"$root/deploy/helm/check.sh"
phase_done "helm check"

build="${STREAMMETRICS_TEST_BUILD_DIR:-$root/build/test}"
up_log="$STATE/../test-up.log"
mkdir -p "$STATE"

stack_started_here=0
up_pid=""
if "$root/deploy/local/status.sh" >/dev/null 2>&1; then
  sm_log "reusing the running local stack ($STATE)"
else
  stack_started_here=1
  sm_log "starting the local infrastructure in the background (log: $up_log)"
  STREAMMETRICS_SKIP_INSTALL=1 "$root/deploy/local/up.sh" --infra-only >"$up_log" 2>&1 &
  up_pid=$!
fi

cleanup() {
  local rc=$?
  if [ -n "$up_pid" ]; then wait "$up_pid" 2>/dev/null || true; fi
  if [ "$stack_started_here" = 1 ]; then
    sm_log "stopping the infrastructure this run started"
    "$root/deploy/local/down.sh" || true
    phase_done "stack stop"
  fi
  {
    echo "where the time went:"
    for p in "${phases[@]}"; do echo "  $p"; done
    printf '  %-28s %5ds\n' "total" $((SECONDS - started))
  } >&2
  sm_log "finished in $((SECONDS - started))s with exit code $rc"
  exit $rc
}
trap cleanup EXIT

# ccache keys on paths relative to the checkout, so a fresh clone elsewhere reuses what an
# earlier build of the same sources compiled.
export CCACHE_BASEDIR="$root" CCACHE_NOHASHDIR=1
if command -v ccache >/dev/null; then ccache --zero-stats >/dev/null; fi
sm_log "building with ASan/UBSan in $build"
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DSTREAMMETRICS_SANITIZE=ON -DCMAKE_PREFIX_PATH="$STREAMMETRICS_RDKAFKA_PREFIX" >/dev/null
phase_done "configure"
cmake --build "$build"
phase_done "build"
if command -v ccache >/dev/null; then ccache --show-stats 2>/dev/null | grep -E 'Hits|Misses' >&2 || true; fi

if [ -n "$up_pid" ]; then
  if ! wait "$up_pid"; then
    up_pid=""
    sm_log "ERROR: the local infrastructure did not come up:"
    cat "$up_log" >&2
    exit 1
  fi
  up_pid=""
  sm_log "infrastructure ready"
fi
phase_done "wait for the stack"

# Fail on any sanitizer finding; leak checking covers our code and the libraries we link.
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:strict_string_checks=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
jobs="${STREAMMETRICS_TEST_JOBS:-$((2 * $(nproc)))}"
sm_log "running ctest with $jobs jobs"
set +e
ctest --test-dir "$build" --output-on-failure --timeout 900 -j "$jobs" "$@"
ctest_rc=$?
set -e
phase_done "ctest"

# Every fuzz target, briefly: its regression inputs, then 20 s of fuzzing from its seeds
# (STREAMMETRICS_FUZZ_SECONDS; 0 skips). The long runs are tests/fuzz/run.sh --runs 10000000.
fuzz_rc=0
fuzz_seconds="${STREAMMETRICS_FUZZ_SECONDS:-20}"
if [ "$fuzz_seconds" -gt 0 ]; then
  "$root/tests/fuzz/run.sh" "$fuzz_seconds" || fuzz_rc=$?
  phase_done "fuzz"
fi
[ "$ctest_rc" -ne 0 ] && exit "$ctest_rc"
exit $fuzz_rc

#!/usr/bin/env bash
# The test command: installs what is missing, builds with ASan/UBSan, brings up the local
# infrastructure (Kafka x3, PostgreSQL, Redis) while the build runs, runs every ctest test (labels
# "unit" and "integration"), and stops what it started. Exits non-zero on any failure.
#
#   tests/run.sh [extra ctest args]       e.g. tests/run.sh -L unit
#
# An infrastructure that was already running before (yours, from deploy/local/up.sh) is reused
# and left running.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=../deploy/local/lib.sh
source "$root/deploy/local/lib.sh"
SM_COMPONENT=tests
started=$SECONDS

"$root/deploy/install-deps.sh"

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
  [ -n "$up_pid" ] && wait "$up_pid" 2>/dev/null
  if [ "$stack_started_here" = 1 ]; then
    sm_log "stopping the infrastructure this run started"
    "$root/deploy/local/down.sh" || true
  fi
  sm_log "finished in $((SECONDS - started))s with exit code $rc"
  exit $rc
}
trap cleanup EXIT

sm_log "building with ASan/UBSan in $build"
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DSTREAMMETRICS_SANITIZE=ON -DCMAKE_PREFIX_PATH="$STREAMMETRICS_RDKAFKA_PREFIX" >/dev/null
cmake --build "$build"

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

# Fail on any sanitizer finding; leak checking covers our code and the libraries we link.
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:strict_string_checks=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
sm_log "running ctest"
ctest --test-dir "$build" --output-on-failure --timeout 900 "$@"

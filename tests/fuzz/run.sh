#!/usr/bin/env bash
# Builds the libFuzzer targets (clang-14, ASan + UBSan, build/fuzz) and runs each over its seed
# corpus (tests/fuzz/corpus/<target>) after replaying its regression inputs
# (tests/fuzz/regressions/<target>: every finding, kept once fixed). Prints a table: executions,
# coverage, corpus size, findings. Exits non-zero when a target finds a crash, a leak or undefined
# behaviour; the input is then in build/fuzz/findings/<target>/ (copy it to regressions/ with the
# fix).
#
#   tests/fuzz/run.sh [SECONDS] [TARGET...]   each target for SECONDS (default 60)
#   tests/fuzz/run.sh --runs N [TARGET...]    each target for N executions (e.g. 10000000)
#   tests/fuzz/run.sh --seeds                 rewrites tests/fuzz/corpus from fuzz_make_seeds
#
# STREAMMETRICS_FUZZ_JOBS targets run at once (default: the number of cores).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# shellcheck source=../../deploy/env.sh
source "$root/deploy/env.sh"
SM_COMPONENT=fuzz

limit=(-max_total_time=60)
label="60 s"
seeds=0
case "${1:-}" in
  --runs) limit=(-runs="$2"); label="$2 runs"; shift 2 ;;
  --seeds) seeds=1; shift ;;
  '' | *[!0-9]*) ;;
  *) limit=(-max_total_time="$1"); label="$1 s"; shift ;;
esac
all=(ingest_batch_fuzz otlp_export_fuzz record_decoder_fuzz dedup_chunk_fuzz page_token_fuzz
  ddsketch_fuzz config_fuzz)
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=("${all[@]}")

for tool in clang++-14 clang-14; do
  command -v "$tool" >/dev/null || sm_die "$tool is missing: run deploy/install-deps.sh"
done
build="$root/build/fuzz"
export CCACHE_BASEDIR="$root" CCACHE_NOHASHDIR=1
sm_log "building ${#targets[@]} targets with clang-14 (libFuzzer, ASan, UBSan) in $build"
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_C_COMPILER=clang-14 -DCMAKE_CXX_COMPILER=clang++-14 -DSTREAMMETRICS_FUZZ=ON \
  -DSTREAMMETRICS_BUILD_TESTS=OFF -DCMAKE_PREFIX_PATH="$STREAMMETRICS_RDKAFKA_PREFIX" >/dev/null
cmake --build "$build" --target "${targets[@]}" fuzz_make_seeds

if [ "$seeds" = 1 ]; then
  rm -rf "$root/tests/fuzz/corpus"
  "$build/tests/fuzz/fuzz_make_seeds" "$root/tests/fuzz/corpus"
  exit 0
fi

export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
results="$build/results"
rm -rf "$results"
mkdir -p "$results"

# One target: regressions first (each must pass as a plain input), then fuzzing over a copy of
# the seeds, so the repository's corpus stays as committed.
run_one() {
  local t=$1 bin="$build/tests/fuzz/$1" log="$results/$1.log"
  local corpus="$build/corpus/$t" findings="$build/findings/$t"
  rm -rf "$corpus" "$findings"
  mkdir -p "$corpus" "$findings"
  cp -r "$root/tests/fuzz/corpus/$t/." "$corpus/" 2>/dev/null || true
  local regressions="$root/tests/fuzz/regressions/$t"
  if [ -d "$regressions" ] && [ -n "$(ls -A "$regressions")" ]; then
    if ! "$bin" "$regressions"/* >"$results/$t.regressions.log" 2>&1; then
      echo "regression" >"$results/$t.status"
      return
    fi
  fi
  if "$bin" "${limit[@]}" -print_final_stats=1 -artifact_prefix="$findings/" \
    -rss_limit_mb=2048 "$corpus" >"$log" 2>&1; then
    echo "ok" >"$results/$t.status"
  else
    echo "FINDING" >"$results/$t.status"
  fi
}

jobs="${STREAMMETRICS_FUZZ_JOBS:-$(nproc)}"
sm_log "running each target for $label, $jobs at a time"
running=0
for t in "${targets[@]}"; do
  run_one "$t" &
  running=$((running + 1))
  if [ "$running" -ge "$jobs" ]; then
    wait -n
    running=$((running - 1))
  fi
done
wait

failed=0
printf '\n| %-20s | %12s | %8s | %8s | %7s | %-10s |\n' target executions exec/s coverage corpus result
printf '|%s|%s|%s|%s|%s|%s|\n' "$(printf -- '-%.0s' {1..22})" "$(printf -- '-%.0s' {1..14})" \
  "$(printf -- '-%.0s' {1..10})" "$(printf -- '-%.0s' {1..10})" "$(printf -- '-%.0s' {1..9})" \
  "$(printf -- '-%.0s' {1..12})"
for t in "${targets[@]}"; do
  log="$results/$t.log"
  status=$(cat "$results/$t.status" 2>/dev/null || echo "no result")
  execs=$(grep -hoE 'stat::number_of_executed_units: *[0-9]+' "$log" 2>/dev/null | grep -oE '[0-9]+$' || echo 0)
  speed=$(grep -hoE 'stat::average_exec_per_sec: *[0-9]+' "$log" 2>/dev/null | grep -oE '[0-9]+$' || echo 0)
  cov=$(grep -hoE 'cov: [0-9]+' "$log" 2>/dev/null | tail -1 | grep -oE '[0-9]+' || echo 0)
  corp=$(grep -hoE 'corp: [0-9]+' "$log" 2>/dev/null | tail -1 | grep -oE '[0-9]+' || echo 0)
  printf '| %-20s | %12s | %8s | %8s | %7s | %-10s |\n' "$t" "$execs" "$speed" "$cov" "$corp" "$status"
  if [ "$status" != ok ]; then
    failed=1
    sm_log "$t: $status; log: ${log/%.log/.log} (regressions: $results/$t.regressions.log)"
    grep -m 20 -E 'ERROR|SUMMARY|runtime error|artifact' "$log" "$results/$t.regressions.log" \
      2>/dev/null >&2 || true
  fi
done
echo
exit $failed

#!/usr/bin/env bash
# otlp_bench.sh: the OTLP door against the native door, in one run, on the local stack's ingest
# service (which serves both). ingest_bench drives each door to its maximum in turns (native,
# OTLP, native, OTLP, ...) with the same content: --mode=grpc sends IngestStream batches of 500
# events, --mode=otlp MetricsService/Export calls of 500 gauge points, 8 calls in flight per
# stream. The table gives acked points (events) per second, the ingest service's CPU time per
# point (from /proc/<pid>/stat, every thread) and the OTLP/native ratios. Results also land in
# .local/bench/otlp-<time>.tsv.
#   bench/otlp_bench.sh [seconds-per-run, default 15] [rounds, default 2]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=../deploy/local/lib.sh
source "$root/deploy/local/lib.sh"
# shellcheck source=bench_lib.sh
source "$root/bench/bench_lib.sh"
SM_COMPONENT=bench
secs="${1:-15}"
rounds="${2:-2}"
build="$root/build/release"
out_dir="$root/.local/bench"
mkdir -p "$out_dir"
stamp="$(date -u +%Y%m%dT%H%M%SZ)"
out="$out_dir/otlp-$stamp.d"
mkdir -p "$out"
tsv="$out_dir/otlp-$stamp.tsv"

bench_stack_up ingest_bench
pid=$(running_pid ingest-service) || sm_die "the ingest service is not running"
: "${STREAMMETRICS_INGEST_ADDRESS:=127.0.0.1:50051}"
: "${STREAMMETRICS_OTLP_ADDRESS:=127.0.0.1:4317}"
hz=$(getconf CLK_TCK)

printf 'door\tstreams\tround\tacked\tfailed\tseconds\tpoints_per_s\tack_p50_ms\tack_p99_ms\tcpu_us_per_point\n' >"$tsv"
run() {  # door mode target streams round
  local door="$1" mode="$2" target="$3" streams="$4" round="$5" before after row
  sm_log "$door door, $streams stream(s), round $round, ${secs}s"
  before=$(ticks "$pid")
  # A run with failed calls still prints its row (failed counted) and exits 1: keep the row.
  row=$("$build/bench/ingest_bench" --mode="$mode" --target="$target" --streams="$streams" \
    --batch=500 --window=8 --duration="${secs}s") || true
  after=$(ticks "$pid")
  [ -n "$row" ] || sm_die "ingest_bench printed no result for the $door door"
  # row: mode streams batch window acked failed seconds events_per_s p50 p99
  awk -F'\t' -v door="$door" -v round="$round" -v t=$((after - before)) -v hz="$hz" '{
    cpu = ($5 > 0) ? t * 1e6 / hz / $5 : 0
    printf "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%.2f\n", door, $2, round, $5, $6, $7, $8, $9, $10, cpu
  }' <<<"$row" >>"$tsv"
}
for streams in 1 8; do
  for round in $(seq 1 "$rounds"); do
    run native grpc "$STREAMMETRICS_INGEST_ADDRESS" "$streams" "$round"
    run otlp otlp "$STREAMMETRICS_OTLP_ADDRESS" "$streams" "$round"
  done
done

echo
echo "OTLP door vs native door (acked points/s; 500 per call, 8 calls in flight per stream, ${secs}s per run, median of $rounds rounds)"
awk -F'\t' '
  NR == 1 { next }
  { key = $1 SUBSEP $2; n[key]++; pps[key, n[key]] = $7; cpu[key, n[key]] = $10
    p50[key, n[key]] = $8; p99[key, n[key]] = $9; failed[key] += $5; streams[$2] = 1 }
  function median(a, key, m,   i, j, v, t) {
    for (i = 1; i <= m; i++) v[i] = a[key, i]
    for (i = 1; i <= m; i++) for (j = i + 1; j <= m; j++) if (v[j] < v[i]) { t = v[i]; v[i] = v[j]; v[j] = t }
    return (m % 2) ? v[(m + 1) / 2] : (v[m / 2] + v[m / 2 + 1]) / 2
  }
  END {
    printf "| %-6s | %7s | %10s | %9s | %12s | %9s | %10s | %10s | %6s |\n", "door", "streams", "points/s", "vs native", "CPU us/point", "vs native", "ack p50 ms", "ack p99 ms", "failed"
    printf "|--------|---------|------------|-----------|--------------|-----------|------------|------------|--------|\n"
    for (s = 1; s <= 64; s++) {
      if (!(s in streams)) continue
      nk = "native" SUBSEP s; ok = "otlp" SUBSEP s
      np = median(pps, nk, n[nk]); nc = median(cpu, nk, n[nk])
      split("native otlp", doors, " ")
      for (d = 1; d <= 2; d++) {
        k = doors[d] SUBSEP s
        p = median(pps, k, n[k]); c = median(cpu, k, n[k])
        printf "| %-6s | %7d | %10.0f | %9s | %12.2f | %9s | %10.1f | %10.1f | %6d |\n", doors[d], s, p,
          (np > 0) ? sprintf("%.2f", p / np) : "-", c, (nc > 0) ? sprintf("%.2f", c / nc) : "-",
          median(p50, k, n[k]), median(p99, k, n[k]), failed[k]
      }
    }
  }' "$tsv"
echo
echo "raw: $tsv"

#!/usr/bin/env bash
# ingest_bench.sh: acked events/s into the real local cluster, printed as a table.
#   - baseline: KafkaRecordSink driven directly (same producer settings, same batches, no gRPC);
#   - service:  the same load through the running ingest service (IngestStream);
# for 1 and 8 streams, measured in this run, plus lz4 vs zstd compression on the baseline.
# Starts the stack and the service with deploy/local/up.sh if needed. Results also land in
# .local/bench/ingest-<time>.tsv.
#   bench/ingest_bench.sh [seconds-per-row, default 15]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=../deploy/local/lib.sh
source "$root/deploy/local/lib.sh"
SM_COMPONENT=bench
secs="${1:-15}"
batch=500
window=8

"$root/deploy/local/up.sh" >/dev/null
cmake --build "$root/build/release" --target ingest_bench >/dev/null
bin="$root/build/release/bench/ingest_bench"
out_dir="$root/.local/bench"
mkdir -p "$out_dir"
out="$out_dir/ingest-$(date -u +%Y%m%dT%H%M%SZ).tsv"

run() {  # label mode streams [extra flags]
  local label="$1" mode="$2" streams="$3"
  shift 3
  sm_log "$label: $mode, $streams stream(s), ${secs}s"
  printf '%s\t' "$label" >>"$out"
  "$bin" --mode="$mode" --streams="$streams" --batch="$batch" --window="$window" \
    --duration="${secs}s" "$@" >>"$out"
}

printf 'label\tmode\tstreams\tbatch\twindow\tacked\tfailed\tseconds\tevents_per_s\tack_p50_ms\tack_p99_ms\n' >"$out"
run baseline-lz4 sink 1
run service grpc 1
run baseline-lz4 sink 8
run service grpc 8
run baseline-zstd sink 8 --kafka_properties=compression.type=zstd

echo
echo "Ingest throughput (acked events/s; batch $batch events, window $window batches/stream, ${secs}s per row)"
awk -F'\t' '
  NR == 1 { next }
  { rows[NR] = $0; label[NR] = $1; streams[NR] = $3; eps[NR] = $9
    if ($1 == "baseline-lz4") base[$3] = $9 }
  END {
    printf "| %-14s | %7s | %12s | %11s | %10s | %10s | %6s |\n", "run", "streams", "events/s", "vs baseline", "ack p50 ms", "ack p99 ms", "failed"
    printf "|%s|%s|%s|%s|%s|%s|%s|\n", "----------------", "---------", "--------------", "-------------", "------------", "------------", "--------"
    for (i = 2; i <= NR; i++) {
      split(rows[i], f, "\t")
      ratio = (base[f[3]] > 0) ? sprintf("%.2f", f[9] / base[f[3]]) : "-"
      printf "| %-14s | %7s | %12.0f | %11s | %10s | %10s | %6s |\n", f[1], f[3], f[9], ratio, f[10], f[11], f[7]
    }
  }' "$out"
echo
echo "raw: $out"

#!/usr/bin/env bash
# linger_sweep.sh: client ack latency at 5,000 events/s for several producer lingers, on the local
# stack. For each linger, a scratch ingest service of this build (its own topic laid out like
# metrics-events, so the stack's aggregator stays idle) is started with
# --kafka_properties=linger.ms=N, warmed for 5 s (a new topic's first seconds wait for leaders and
# the producer id, which would otherwise be most of the tail), then streammetrics-loadgen sends
# 5,000 events/s over 4 streams with the default 5 ms client batch delay. The table gives the
# client's ack percentiles and the share of batches whose Kafka stage (records handed to the
# producer to the last delivery report) took over 16 and over 128 ms. Each linger runs `rounds`
# times, interleaved, since the tail moves between runs on a shared machine.
#   bench/linger_sweep.sh [seconds per run, default 20] [rounds, default 2] [lingers, default "50 20 10 5"]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=../deploy/local/lib.sh
source "$root/deploy/local/lib.sh"
# shellcheck source=bench_lib.sh
source "$root/bench/bench_lib.sh"
SM_COMPONENT=linger
secs="${1:-20}"
rounds="${2:-2}"
lingers="${3:-50 20 10 5}"
build="$root/build/release"
stamp=$(date -u +%Y%m%dT%H%M%SZ)
out="$root/.local/bench/linger-$stamp"
mkdir -p "$out"
bench_stack_up streammetrics-loadgen streammetrics-ingest
port="${STREAMMETRICS_BENCH_INGEST_PORT:-50063}"
metrics_port="${STREAMMETRICS_BENCH_INGEST_METRICS_PORT:-9475}"
pid=""
topic=""
cleanup() {
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null; fi
  pid=""
  if [ -n "$topic" ]; then kafka_topics --delete --topic "$topic" >/dev/null 2>&1 || true; fi
  topic=""
  return 0
}
trap cleanup EXIT

healthy() {
  grpcurl -plaintext -max-time 1 -d '{"service":"streammetrics.v1.IngestService"}' \
    "127.0.0.1:$port" grpc.health.v1.Health/Check 2>/dev/null | grep -q SERVING
}

printf 'linger_ms\tround\tp50\tp90\tp99\tp999\tkafka_over_16ms\tkafka_over_128ms\n' >"$out/runs.tsv"
for round in $(seq 1 "$rounds"); do
  for linger in $lingers; do
    sm_log "linger.ms=$linger, round $round: warm-up 5 s, then ${secs}s at 5,000 events/s"
    topic="bench-linger-$stamp-$linger-$round"
    scratch_topic "$topic"
    "$build/ingest-service/streammetrics-ingest" --ingest_address="127.0.0.1:$port" \
      --ingest_metrics_address="127.0.0.1:$metrics_port" --otlp_address= --events_topic="$topic" \
      --kafka_properties="linger.ms=$linger" >"$out/ingest-$linger-$round.log" 2>&1 &
    pid=$!
    wait_until "the scratch ingest" "$out/ingest-$linger-$round.log" 60 healthy
    "$build/tools/streammetrics-loadgen" --target="127.0.0.1:$port" --rate=5000 --duration=5s \
      --streams=4 --run_id="warm-$stamp-$linger-$round" >/dev/null 2>&1 ||
      sm_die "the warm-up failed"
    # Only the measured run's batches count: the histogram is read before and after it.
    curl -s "127.0.0.1:$metrics_port/metrics" >"$out/before-$linger-$round.txt"
    "$build/tools/streammetrics-loadgen" --target="127.0.0.1:$port" --rate=5000 \
      --duration="${secs}s" --streams=4 --run_id="run-$stamp-$linger-$round" \
      --report_json="$out/report-$linger-$round.json" >"$out/loadgen-$linger-$round.log" 2>&1 ||
      sm_die "the load generator reported problems; see $out/loadgen-$linger-$round.log"
    curl -s "127.0.0.1:$metrics_port/metrics" >"$out/after-$linger-$round.txt"
    cleanup
    bucket() {  # file le: the kafka stage's cumulative count at bucket `le`
      grep -F "streammetrics_ingest_batch_latency_seconds_bucket{stage=\"kafka\",le=\"$2\"}" "$1" |
        awk '{print $2}'
    }
    total=$(($(bucket "$out/after-$linger-$round.txt" +Inf) - $(bucket "$out/before-$linger-$round.txt" +Inf)))
    le16=$(($(bucket "$out/after-$linger-$round.txt" 0.016) - $(bucket "$out/before-$linger-$round.txt" 0.016)))
    le128=$(($(bucket "$out/after-$linger-$round.txt" 0.128) - $(bucket "$out/before-$linger-$round.txt" 0.128)))
    r="$out/report-$linger-$round.json"
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$linger" "$round" "$(json_number "$r" p50)" \
      "$(json_number "$r" p90)" "$(json_number "$r" p99)" "$(json_number "$r" p999)" \
      "$(awk -v a="$le16" -v t="$total" 'BEGIN { printf "%.1f%%", t ? 100 * (t - a) / t : 0 }')" \
      "$(awk -v a="$le128" -v t="$total" 'BEGIN { printf "%.1f%%", t ? 100 * (t - a) / t : 0 }')" \
      >>"$out/runs.tsv"
  done
done

echo
echo "Client ack latency (ms) at 5,000 events/s by producer linger.ms; ${secs}s per run after a 5 s warm-up"
awk -F'\t' 'NR == 1 { next }
  { printf "| %9s | %5s | %7.1f | %7.1f | %7.1f | %7.1f | %15s | %16s |\n", $1, $2, $3, $4, $5, $6, $7, $8 }
  BEGIN {
    printf "| %9s | %5s | %7s | %7s | %7s | %7s | %15s | %16s |\n", "linger.ms", "round", "p50", "p90", "p99", "p99.9", "kafka > 16 ms", "kafka > 128 ms"
    printf "|-----------|-------|---------|---------|---------|---------|-----------------|------------------|\n"
  }' "$out/runs.tsv"
echo
echo "raw: $out/runs.tsv"

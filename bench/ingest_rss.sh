#!/usr/bin/env bash
# ingest_rss.sh: the ingest service's memory while Kafka is stopped under load. Streams load with 8
# streams, freezes all three brokers (SIGSTOP) for a while, thaws them, and samples the service's
# RSS and bytes in flight every second. With backpressure RSS stays flat during the outage
# (bounded by the byte budget), and every event is acked once the brokers are back.
#   bench/ingest_rss.sh [outage-seconds, default 30]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=../deploy/local/lib.sh
source "$root/deploy/local/lib.sh"
SM_COMPONENT=rss
outage="${1:-30}"
"$root/deploy/local/up.sh" >/dev/null
cmake --build "$root/build/release" --target ingest_bench >/dev/null
ingest_pid=$(running_pid ingest-service) || sm_die "ingest service not running"
metrics="http://${STREAMMETRICS_INGEST_METRICS_ADDRESS:-$H:9464}/metrics"

thaw() { for n in 1 2 3; do kill -CONT "$(running_pid "kafka-$n")" 2>/dev/null || true; done; }
trap thaw EXIT

total=$((outage + 30))
# The client window is effectively unbounded: only the service's byte budget holds it back.
"$root/build/release/bench/ingest_bench" --mode=grpc --streams=8 --batch=500 --window=1000000 \
  --duration="${total}s" >"$STATE/rss-load.tsv" 2>/dev/null &
load=$!

printf '| %4s | %-8s | %8s | %15s | %14s |\n' t phase "RSS MiB" "bytes in flight" "events acked"
printf '|------|----------|----------|-----------------|----------------|\n'
phase=load
for t in $(seq 1 "$total"); do
  if [ "$t" = 10 ]; then
    for n in 1 2 3; do kill -STOP "$(running_pid "kafka-$n")"; done
    phase=outage
  fi
  if [ "$t" = $((10 + outage)) ]; then
    thaw
    phase=recover
  fi
  sleep 1  # sampling period of this report
  rss=$(awk '/VmRSS/ {printf "%.1f", $2/1024}' "/proc/$ingest_pid/status")
  m=$(curl -s "$metrics")
  inflight=$(awk '/^streammetrics_ingest_bytes_in_flight / {printf "%.0f", $2}' <<<"$m")
  acked=$(awk '/^streammetrics_ingest_events_accepted_total / {printf "%.0f", $2}' <<<"$m")
  printf '| %4d | %-8s | %8s | %15s | %14s |\n' "$t" "$phase" "$rss" "$inflight" "$acked"
done
wait "$load" && echo "load finished: every batch acked (no failures)" ||
  echo "load reported failed batches"
cat "$STATE/rss-load.tsv"

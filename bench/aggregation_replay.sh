#!/usr/bin/env bash
# Replay rate of the aggregation service from a pre-filled topic, against a plain librdkafka
# consume loop over the same topic in the same run, and its checkpoint latency with 10,000 open
# series. Needs the local infrastructure (deploy/local/up.sh --infra-only) and a release build:
#
#   cmake -S . -B build/release -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
#     -DSTREAMMETRICS_BUILD_TESTS=OFF -DCMAKE_PREFIX_PATH=$HOME/.cache/streammetrics/librdkafka-2.8.0
#   cmake --build build/release --target streammetrics-aggregation replay_bench
#   bench/aggregation_replay.sh [events (1000000)] [series (10000)] [minutes of event time (10)]
#
# Every 1-minute window is written to PostgreSQL at least once, so events / (series * minutes)
# (events per window) decides whether the replay is bound by consuming or by writing windows.
#
# Prints a markdown table; the aggregator's log is kept in $OUT/aggregator.log.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
source "$root/deploy/local/lib.sh"  # addresses of the local stack (and deploy/env.sh)
events=${1:-1000000}
series=${2:-10000}
minutes=${3:-10}
build=${BUILD:-$root/build/release}
OUT=${OUT:-$(mktemp -d /tmp/replay.XXXX)}
stamp=$(date +%s)
topic="bench-replay-$stamp"
group="bench-replay-$stamp"
pg=${STREAMMETRICS_PG_URL:-postgresql://streammetrics:streammetrics@127.0.0.1:55432/streammetrics}
metrics_port=${METRICS_PORT:-9482}

echo "creating $topic (6 partitions, RF 3)" >&2
java -cp "$STREAMMETRICS_KAFKA_LIBS/*" -Dlog4j.configuration=file:/dev/null \
  org.apache.kafka.tools.TopicCommand --bootstrap-server "$STREAMMETRICS_KAFKA_BOOTSTRAP" \
  --create --topic "$topic" --partitions 6 --replication-factor 3 \
  --config min.insync.replicas=2 >/dev/null
# KRaft spreads a new topic's metadata asynchronously: wait until every broker knows its
# partitions, or the producer may route to a broker that does not know them yet.
for broker in ${STREAMMETRICS_KAFKA_BOOTSTRAP//,/ }; do
  until kcat -L -b "$broker" -t "$topic" -m 5 2>/dev/null | grep -q "topic \"$topic\" with 6 partitions"; do
    sleep 0.2  # poll interval
  done
done
"$build/bench/replay_bench" fill --topic "$topic" --events "$events" --series "$series" \
  --minutes "$minutes"

echo "baseline: plain consume loop" >&2
"$build/bench/replay_bench" consume --topic "$topic" --events "$events" >"$OUT/baseline.txt"
baseline=$(awk '/^rate/ {print $2}' "$OUT/baseline.txt")
baseline_cpu=$(awk '/^cpu_us_per_record/ {print $2}' "$OUT/baseline.txt")

committed() {
  psql "$pg" -Atc "SELECT coalesce(sum(next_offset), 0) FROM metrics.consumer_offsets
                   WHERE consumer_group = '$group'"
}

echo "aggregator: replaying $events events of $series series" >&2
"$build/aggregation-service/streammetrics-aggregation" --events_topic="$topic" \
  --consumer_group="$group" --query_address=127.0.0.1:0 \
  --aggregation_metrics_address="127.0.0.1:$metrics_port" >"$OUT/aggregator.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
# The clock starts at the first claim, as the baseline's starts at its first record.
until grep -q partitions_assigned "$OUT/aggregator.log"; do sleep 0.05; done
start=$(date +%s.%N)
max_open=0
while :; do
  done_records=$(committed)
  open=$(curl -s "127.0.0.1:$metrics_port/metrics" |
    awk '/^streammetrics_aggregation_open_windows / {print int($2)}')
  [ -n "$open" ] && [ "$open" -gt "$max_open" ] && max_open=$open
  printf '\raggregator: %d / %d committed, %d open windows' "$done_records" "$events" "${open:-0}" >&2
  [ "$done_records" -ge "$events" ] && break
  sleep 0.2  # progress poll, not a wait for time to pass
done
end=$(date +%s.%N)
echo >&2
curl -s "127.0.0.1:$metrics_port/metrics" >"$OUT/metrics.txt"
# CPU per record (utime + stime of every thread, in clock ticks): unlike the rate, it does not
# depend on what else the machine was doing.
cpu_us=$(awk -v ticks="$(getconf CLK_TCK)" -v n="$events" \
  '{ printf "%.2f", ($14 + $15) / ticks * 1e6 / n }' "/proc/$pid/stat")
kill -TERM $pid && wait $pid || true
trap - EXIT

rate=$(awk -v n="$events" -v s="$start" -v e="$end" 'BEGIN {printf "%.0f", n / (e - s)}')
# Checkpoint latency from the histogram: mean, and the bucket bounds holding p50 and p99.
read -r ck_count ck_mean ck_p50 ck_p99 ck_windows < <(awk '
  /^streammetrics_aggregation_checkpoint_seconds_bucket/ {
    match($0, /le="[^"]+"/); le = substr($0, RSTART + 4, RLENGTH - 5); n++; b[n] = le; c[n] = $2 }
  /^streammetrics_aggregation_checkpoint_seconds_sum/ { sum = $2 }
  /^streammetrics_aggregation_checkpoint_seconds_count/ { count = $2 }
  /^streammetrics_aggregation_checkpoint_windows_sum/ { wsum = $2 }
  END {
    for (i = 1; i <= n; i++) { if (!p50 && c[i] >= count * 0.5) p50 = b[i]; if (!p99 && c[i] >= count * 0.99) p99 = b[i] }
    printf "%d %.3f %s %s %.0f\n", count, sum / count, p50, p99, wsum / count }' "$OUT/metrics.txt")

cat <<TABLE
| measure | value |
|---|---|
| events in the topic | $events ($series series over $minutes minutes of event time, 6 partitions) |
| plain librdkafka consume loop (baseline, same run) | $baseline records/s |
| aggregator replay (claim to last offset committed) | $rate records/s |
| aggregator / baseline | $(awk -v a="$rate" -v b="$baseline" 'BEGIN {printf "%.2f", a / b}') |
| CPU per record: baseline / aggregator | $baseline_cpu µs / $cpu_us µs (both include their start and group join; the aggregator's also its checkpoints) |
| open windows (max seen) | $max_open |
| checkpoints | $ck_count, mean $ck_mean s, p50 <= $ck_p50 s, p99 <= $ck_p99 s, $ck_windows window rows each on average |
TABLE

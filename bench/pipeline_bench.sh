#!/usr/bin/env bash
# pipeline_bench.sh: the end-to-end benchmark, in one go on the local stack, each stage measured
# in this run so the ratios compare like with like. The ingest stages write to a scratch topic
# through a second ingest service of the same build, so the running aggregation service stays
# idle and they measure the ingest path alone:
#   ceiling   a plain librdkafka producer with the ingest service's producer settings and records
#             (ingest_bench --mode=plain);
#   gRPC      the ingest service's gRPC, validation and batch preparation over a sink that keeps
#             nothing (ingest_bench --mode=serve-null, driven by ingest_bench --mode=grpc);
#   ingest    the ingest service into Kafka (ingest_bench --mode=grpc): its maximum M;
#   latency   ack latency of streammetrics-loadgen paced at 50 % and 80 % of M, measured from each
#             event's intended send time;
#   pipeline  streammetrics-loadgen unpaced through the ingest and aggregation services: events
#             acked / time until the aggregator has counted all of them, then --verify (every
#             final 1m and 5m window equals what was acked; waits up to 8 min for windows to close).
# Targets: ingest >= 0.8 / (1/ceiling + 1/gRPC); pipeline >= max(0.85 M, 100,000 events/s); zero
# lost and zero double-counted. Prints the table, writes it as markdown and JSON, and draws a PNG
# (throughput over time, latency distribution) under .local/bench/. A second table says where the
# CPU went during the pipeline stage: microseconds per event for each process of the stack.
#
#   bench/pipeline_bench.sh [seconds per stage, default 20]
# Environment: STREAMMETRICS_BENCH_STREAMS (8), STREAMMETRICS_BENCH_SERIES as
# services:metrics:tag_sets (10:10:10), STREAMMETRICS_BENCH_PROFILE=1 to record the services with
# perf during the pipeline stage and print where their time goes.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=../deploy/local/lib.sh
source "$root/deploy/local/lib.sh"
# shellcheck source=bench_lib.sh
source "$root/bench/bench_lib.sh"
SM_COMPONENT=bench
secs="${1:-20}"
streams="${STREAMMETRICS_BENCH_STREAMS:-8}"
IFS=: read -r services metrics tag_sets <<<"${STREAMMETRICS_BENCH_SERIES:-10:10:10}"
build="$root/build/release"
out_dir="$root/.local/bench"
stamp=$(date -u +%Y%m%dT%H%M%SZ)
out="$out_dir/pipeline-$stamp"
mkdir -p "$out_dir" "$out"

bench_stack_up ingest_bench streammetrics-loadgen
ingest_bench="$build/bench/ingest_bench"
loadgen="$build/tools/streammetrics-loadgen"
ingest_address="${STREAMMETRICS_INGEST_ADDRESS:-$H:50051}"
query_address="${STREAMMETRICS_QUERY_ADDRESS:-$H:50052}"
aggregation_metrics="${STREAMMETRICS_AGGREGATION_METRICS_ADDRESS:-$H:9465}"

# ingest_bench row: "events_per_s ack_p50_ms ack_p99_ms failed".
bench_row() {  # label mode [flags...]
  local label="$1" mode="$2"
  shift 2
  sm_log "$label: ingest_bench --mode=$mode, $streams streams, ${secs}s"
  "$ingest_bench" --mode="$mode" --streams="$streams" --duration="${secs}s" "$@" \
    >"$out/$label.tsv" 2>"$out/$label.log" || true
  awk -F'\t' '{print $8, $9, $10, $6}' "$out/$label.tsv"
}

# The scratch topic, laid out like metrics-events, and an ingest service writing to it.
scratch="bench-ingest-$stamp"
scratch_topic "$scratch"
scratch_port="${STREAMMETRICS_BENCH_INGEST_PORT:-50062}"
scratch_metrics_port="${STREAMMETRICS_BENCH_INGEST_METRICS_PORT:-9474}"
require_free_port bench "$scratch_port"
require_free_port bench "$scratch_metrics_port"
"$build/ingest-service/streammetrics-ingest" --ingest_address="$H:$scratch_port" \
  --ingest_metrics_address="$H:$scratch_metrics_port" --otlp_address= --events_topic="$scratch" \
  >"$out/scratch-ingest.log" 2>&1 &
scratch_pid=$!
cleanup() {  # idempotent: each process and the topic are let go of once
  [ -n "${null_pid:-}" ] && kill "$null_pid" 2>/dev/null
  [ -n "${sampler:-}" ] && kill "$sampler" 2>/dev/null
  if [ -n "${scratch_pid:-}" ]; then
    kill "$scratch_pid" 2>/dev/null && wait "$scratch_pid" 2>/dev/null
    kafka_topics --delete --topic "$scratch" >/dev/null 2>&1
  fi
  null_pid="" sampler="" scratch_pid=""
  return 0
}
trap cleanup EXIT
wait_until "the scratch ingest service" "$out/scratch-ingest.log" 60 \
  grep -q "event=ingest_serving" "$out/scratch-ingest.log"
scratch_address="$H:$scratch_port"

read -r ceiling ceiling_p50 ceiling_p99 ceiling_failed < <(bench_row ceiling plain --events_topic="$scratch")
require_numbers ceiling "$ceiling"

null_port="${STREAMMETRICS_BENCH_NULL_PORT:-50061}"
require_free_port bench "$null_port"
"$ingest_bench" --mode=serve-null --listen="$H:$null_port" --duration=1h 2>"$out/serve-null.log" &
null_pid=$!
wait_until "the null-sink ingest server" "$out/serve-null.log" 30 \
  grep -q "serving IngestService" "$out/serve-null.log"
read -r grpc_null grpc_p50 grpc_p99 grpc_failed < <(bench_row grpc-null grpc --target="$H:$null_port")
require_numbers "gRPC over a null sink" "$grpc_null"
kill "$null_pid" 2>/dev/null || true
wait "$null_pid" 2>/dev/null || true
null_pid=""

read -r ingest ingest_p50 ingest_p99 ingest_failed < <(bench_row ingest grpc --target="$scratch_address")
require_numbers "ingest into Kafka" "$ingest"

loadgen_run() {  # label target rate [flags...]: runs the load generator, report in $out/label.json
  local label="$1" target="$2" rate="$3"
  shift 3
  sm_log "$label: streammetrics-loadgen --rate=$rate, $streams streams, ${secs}s"
  "$loadgen" --target="$target" --query_target="$query_address" --rate="$rate" \
    --duration="${secs}s" --streams="$streams" --services="$services" --metrics="$metrics" \
    --tag_sets="$tag_sets" --run_id="bench-$label-$(date +%s)" --progress_interval=1s \
    --report_json="$out/$label.json" "$@" >"$out/$label.txt" 2>"$out/$label.log"
}

rate50=$(awk -v m="$ingest" 'BEGIN { printf "%d", m * 0.5 }')
rate80=$(awk -v m="$ingest" 'BEGIN { printf "%d", m * 0.8 }')
loadgen_run latency50 "$scratch_address" "$rate50" || sm_log "latency50: the load generator reported problems (see $out/latency50.txt)"
loadgen_run latency80 "$scratch_address" "$rate80" || sm_log "latency80: the load generator reported problems (see $out/latency80.txt)"

cleanup

# Pipeline: sample the aggregator's counted events each second while the load runs and drains,
# with the CPU time the stack's processes have used so far, for where the time goes.
counted() {
  curl -s "http://$aggregation_metrics/metrics" |
    awk '$1 == "streammetrics_aggregation_events_counted_total" { printf "%d\n", $2 }'
}
ingest_pid=$(running_pid ingest-service) || sm_die "the ingest service is not running"
aggregation_pid=$(running_pid aggregation-service) || sm_die "the aggregation service is not running"
kafka_pids="$(running_pid kafka-1) $(running_pid kafka-2) $(running_pid kafka-3)"
postgres_pid=$(running_pid postgres) || sm_die "PostgreSQL is not running"
redis_pid=$(running_pid redis) || sm_die "Redis is not running"
cpu_sample() {  # ingest aggregation kafka postgres redis, in clock ticks
  # shellcheck disable=SC2046,SC2086
  echo "$(ticks "$ingest_pid") $(ticks "$aggregation_pid") $(ticks $kafka_pids)" \
    "$(ticks "$postgres_pid" $(pgrep -P "$postgres_pid")) $(ticks "$redis_pid")"
}
counted_before=$(counted)
start=$(date +%s.%N)
(
  while true; do
    # A failed scrape reads as 0 rather than shifting the CPU columns left.
    c=$(counted)
    echo "$(date +%s.%N) ${c:-0} $(cpu_sample)"
    sleep 1  # sampling period of the throughput plot
  done
) >"$out/counted.txt" &
sampler=$!
perf_pids=""
if [ "${STREAMMETRICS_BENCH_PROFILE:-0}" = 1 ]; then
  for name in ingest-service aggregation-service; do
    pid=$(running_pid "$name") || continue
    perf record -F 499 -g -p "$pid" -o "$out/perf-$name.data" -- sleep "$secs" \
      >"$out/perf-$name.log" 2>&1 &
    perf_pids="$perf_pids $!"
  done
fi
pipeline_ok=1
loadgen_run pipeline "$ingest_address" 0 --verify --verify_timeout=8m || pipeline_ok=0
kill "$sampler" 2>/dev/null || true
wait "$sampler" 2>/dev/null || true
sampler=""
[ -n "$perf_pids" ] && wait $perf_pids 2>/dev/null || true
accepted=$(json_number "$out/pipeline.json" events_accepted)
require_numbers "the pipeline stage's report" "$accepted"
# The moment the aggregator had counted every accepted event: the first sample at or past it.
done_at=$(awk -v base="$counted_before" -v n="$accepted" '$2 - base >= n { print $1; exit }' "$out/counted.txt")
if [ -n "$done_at" ]; then
  pipeline=$(awk -v n="$accepted" -v a="$start" -v b="$done_at" 'BEGIN { printf "%.0f", n / (b - a) }')
else
  pipeline=0
  pipeline_ok=0
fi
# CPU per accepted event from the start until the aggregator had counted them all: each
# process's, the load generator's own account of its load phase, and what two cores offered.
cpu_row=""
if [ -n "$done_at" ]; then
  cpu_row=$(awk -v n="$accepted" -v hz="$(getconf CLK_TCK)" -v at="$done_at" \
    -v lg="$(json_number "$out/pipeline.json" cpu_seconds)" -v cores="$(nproc)" '
    NR == 1 { t0 = $1; for (i = 3; i <= 7; i++) c0[i] = $i }
    $1 == at {
      all = lg * 1e6 / n
      for (i = 3; i <= 7; i++) { us[i] = ($i - c0[i]) / hz * 1e6 / n; all += us[i] }
      printf "%.2f %.2f %.2f %.2f %.2f %.2f %.2f %.2f", us[3], us[4], us[5], us[6], us[7],
        lg * 1e6 / n, all, cores * ($1 - t0) * 1e6 / n
    }' "$out/counted.txt")
fi
verify_passed=$(grep -o '"passed":[a-z]*' "$out/pipeline.json" | cut -d: -f2 || true)
[ "$verify_passed" = true ] || pipeline_ok=0
# What the ingest service acked per second in this same stage, beside the aggregator: the
# pipeline row over it says whether the aggregator kept up, apart from the CPU it took.
acked_rate=$(awk -v n="$accepted" -v s="$(json_number "$out/pipeline.json" seconds)" \
  'BEGIN { printf "%.0f", (s > 0 ? n / s : 0) }')
lost=$(awk -v a="$(json_number "$out/pipeline.json" events_expected)" \
  -v b="$(json_number "$out/pipeline.json" events_observed)" 'BEGIN { d = a - b; print (d > 0 ? d : 0) }')
doubled=$(awk -v a="$(json_number "$out/pipeline.json" events_expected)" \
  -v b="$(json_number "$out/pipeline.json" events_observed)" 'BEGIN { d = b - a; print (d > 0 ? d : 0) }')

ingest_target=$(awk -v c="$ceiling" -v g="$grpc_null" 'BEGIN { printf "%.0f", (c > 0 && g > 0) ? 0.8 / (1 / c + 1 / g) : 0 }')
pipeline_target=$(awk -v m="$ingest" 'BEGIN { t = 0.85 * m; printf "%.0f", (t > 100000 ? t : 100000) }')
verdict() { awk -v v="$1" -v t="$2" 'BEGIN { print (v >= t ? "met" : "MISSED") }'; }

table="$out/table.md"
{
  echo "| stage | events/s | target | result | ack p50 ms | ack p99 ms | notes |"
  echo "|---|---:|---:|---|---:|---:|---|"
  printf '| ceiling: plain librdkafka producer | %.0f | | | %s | %s | %s failed |\n' "$ceiling" "$ceiling_p50" "$ceiling_p99" "$ceiling_failed"
  printf '| gRPC cost: ingest over a null sink | %.0f | | | %s | %s | %s failed |\n' "$grpc_null" "$grpc_p50" "$grpc_p99" "$grpc_failed"
  printf '| ingest service into Kafka (M) | %.0f | %s | %s | %s | %s | %s failed |\n' "$ingest" "$ingest_target" "$(verdict "$ingest" "$ingest_target")" "$ingest_p50" "$ingest_p99" "$ingest_failed"
  for l in 50 80; do
    f="$out/latency$l.json"
    printf '| loadgen paced at %s%% of M | %.0f | | | %.1f | %.1f | from intended send time |\n' "$l" \
      "$(awk -v a="$(json_number "$f" events_sent)" -v s="$(json_number "$f" seconds)" 'BEGIN { print a / s }')" \
      "$(json_number "$f" p50)" "$(json_number "$f" p99)"
  done
  printf '| whole pipeline into windows | %s | %s | %s | %.1f | %.1f | %s acked (%s/s, so windows at %s of it), lost %s, double-counted %s, verify %s |\n' \
    "$pipeline" "$pipeline_target" "$(verdict "$pipeline" "$pipeline_target")" \
    "$(json_number "$out/pipeline.json" p50)" "$(json_number "$out/pipeline.json" p99)" \
    "$accepted" "$acked_rate" \
    "$(awk -v p="$pipeline" -v a="$acked_rate" 'BEGIN { printf "%.2f", (a > 0 ? p / a : 0) }')" \
    "$lost" "$doubled" "${verify_passed:-missing}"
} >"$table"
cpu_table="$out/cpu.md"
if [ -n "$cpu_row" ]; then
  read -r cpu_ingest cpu_aggregation cpu_kafka cpu_postgres cpu_redis cpu_loadgen cpu_all cpu_offered <<<"$cpu_row"
  {
    echo "| CPU µs per event, whole pipeline stage | ingest | aggregation | Kafka (3 brokers) | PostgreSQL | Redis | loadgen | all | $(nproc) cores offered |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
    echo "| | $cpu_ingest | $cpu_aggregation | $cpu_kafka | $cpu_postgres | $cpu_redis | $cpu_loadgen | $cpu_all | $cpu_offered |"
  } >"$cpu_table"
fi

cat >"$out/summary.json" <<JSON
{"when": "$stamp", "seconds_per_stage": $secs, "streams": $streams,
 "series": "$services x $metrics x $tag_sets",
 "ceiling": $ceiling, "grpc_null": $grpc_null, "ingest": $ingest, "ingest_target": $ingest_target,
 "pipeline": $pipeline, "pipeline_target": $pipeline_target, "accepted": ${accepted:-0},
 "pipeline_acked_rate": ${acked_rate:-0},
 "lost": $lost, "double_counted": $doubled, "verify_passed": ${verify_passed:-false},
 "cpu_us_per_event": {"ingest": ${cpu_ingest:-0}, "aggregation": ${cpu_aggregation:-0},
   "kafka": ${cpu_kafka:-0}, "postgres": ${cpu_postgres:-0}, "redis": ${cpu_redis:-0},
   "loadgen": ${cpu_loadgen:-0}, "all": ${cpu_all:-0}, "offered": ${cpu_offered:-0}}}
JSON

# Plots: acked and counted events per second during the pipeline stage; the ack latency
# distribution at 50 % and 80 % of M.
awk -v t0="$start" 'NR > 1 && prev != "" { printf "%.1f %.0f\n", $1 - t0, ($2 - prev) / ($1 - pt) }
  { prev = $2; pt = $1 }' "$out/counted.txt" >"$out/counted_rate.dat"
# Progress lines: "t=   5s  sent 24,996 (4,999/s)  acked 24,766 (4,959/s) ...".
sed -n 's/^t= *\([0-9]*\)s .* acked [0-9,]* (\([0-9,]*\)\/s).*/\1 \2/p' "$out/pipeline.log" |
  tr -d ',' >"$out/acked_rate.dat"
for l in 50 80; do
  # The only [number,number] pairs in the report are the latency distribution's.
  grep -o '\[[-0-9.e+]*,[-0-9.e+]*\]' "$out/latency$l.json" | tr -d '[]' |
    awk -F, '{ print $2, $1 }' >"$out/cdf$l.dat"
done
if command -v gnuplot >/dev/null; then
  gnuplot <<GNUPLOT 2>"$out/gnuplot.log" || sm_log "gnuplot failed; see $out/gnuplot.log"
set terminal pngcairo size 1200,500 noenhanced
set output "$out/pipeline.png"
set multiplot layout 1,2
set title "Pipeline: events per second"
set xlabel "seconds since start"
set ylabel "events/s"
set key bottom right
set xrange [0:$(awk -v a="$start" -v b="${done_at:-$start}" 'BEGIN { printf "%d", b - a + 10 }')]
plot "$out/acked_rate.dat" using 1:2 with lines lw 2 title "acked by ingest", \
     "$out/counted_rate.dat" using 1:2 with lines lw 2 title "counted by aggregator"
set title "Ack latency from intended send time"
set xlabel "milliseconds"
set ylabel "fraction of events"
set logscale x
set autoscale x
set key bottom right
plot "$out/cdf50.dat" using 1:2 with lines lw 2 title "50% of M", \
     "$out/cdf80.dat" using 1:2 with lines lw 2 title "80% of M"
unset multiplot
GNUPLOT
fi

if [ -n "$perf_pids" ]; then
  for name in ingest-service aggregation-service; do
    [ -f "$out/perf-$name.data" ] || continue
    echo
    echo "Where $name spends its time (perf, self time, top 25):"
    # Flat (-g none), and head's early exit must not fail the script through pipefail.
    perf report -i "$out/perf-$name.data" --stdio --no-children -g none --sort symbol 2>/dev/null |
      grep -v '^#' | grep -v '^$' | head -n 25 || true
  done
fi

echo
echo "End-to-end benchmark ($secs s per stage, $streams streams, $services x $metrics x $tag_sets series)"
cat "$table"
if [ -f "$cpu_table" ]; then
  echo
  cat "$cpu_table"
fi
echo
echo "markdown: $table${cpu_row:+, $cpu_table}"
echo "json:     $out/summary.json"
[ -f "$out/pipeline.png" ] && echo "plot:     $out/pipeline.png"
[ "$pipeline_ok" = 1 ] || { sm_log "the pipeline stage did not verify (see $out/pipeline.txt)"; exit 1; }

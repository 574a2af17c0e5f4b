#!/usr/bin/env bash
# latency.sh: ack latency across the load range, and acks through broker and ingest faults, all
# measured on the local stack in one run so the rows compare like with like.
#
# Part 1, latency. For each configuration, a scratch ingest service of this build (its own topic,
# laid out like metrics-events, so the stack's aggregator stays idle) is driven unpaced for its
# maximum M, then paced at 5, 25, 50 and 80 % of M and at 5,000 events/s:
#   before  the settings this replaced: producer socket timeouts at librdkafka's defaults (60 s,
#           30 s), client batch delay 50 ms;
#   now     the shipped defaults, client batch delay 5 ms.
# Client latency: streammetrics-loadgen, per event, from its intended send time to its ack.
# Server latency: the ingest's streammetrics_ingest_batch_latency_seconds{stage="answer"}, per
# batch, from read to answer; quantiles interpolated inside the histogram's buckets. At 80 %:
# CPU µs per event of the ingest service and of the three brokers.
#
# Part 2, faults. streammetrics-loadgen at 5,000 events/s through the stack's own ingest and
# aggregation services, with --verify: broker 2 stopped (SIGSTOP) for 20 s; broker 2 killed
# (SIGKILL) and started again 20 s later; the ingest service killed and started again. Per fault,
# the seconds in which acks fell under 10 % of the offered rate; for the run, events lost and
# counted twice (every final window against the ledger). Before the faults, the same SIGSTOP on a
# scratch ingest with the old socket timeouts, for comparison (no aggregator behind it: no verify).
#
#   bench/latency.sh [seconds per latency stage, default 15]
# Writes the tables as markdown and two PNGs (latency by load, acked rate through the faults)
# under .local/bench/latency-<time>/. Takes about 15 minutes (the verify waits for 5-minute
# windows to close).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=../deploy/local/lib.sh
source "$root/deploy/local/lib.sh"
# shellcheck source=bench_lib.sh
source "$root/bench/bench_lib.sh"
SM_COMPONENT=latency
secs="${1:-15}"
streams=4
build="$root/build/release"
stamp=$(date -u +%Y%m%dT%H%M%SZ)
out="$root/.local/bench/latency-$stamp"
mkdir -p "$out"
goal_rate=5000

bench_stack_up streammetrics-loadgen
loadgen="$build/tools/streammetrics-loadgen"
ingest_bin="$build/ingest-service/streammetrics-ingest"
kafka_pids="$(running_pid kafka-1) $(running_pid kafka-2) $(running_pid kafka-3)"
hz=$(getconf CLK_TCK)

scratch="bench-latency-$stamp"
scratch_topic "$scratch"
scratch_port="${STREAMMETRICS_BENCH_INGEST_PORT:-50063}"
scratch_metrics_port="${STREAMMETRICS_BENCH_INGEST_METRICS_PORT:-9475}"
scratch_pid=""
cleanup() {  # idempotent; also continues broker 2 should the script stop mid-fault
  "$root/deploy/local/kafka-node.sh" resume 2 >/dev/null 2>&1 || true
  if [ -n "$scratch_pid" ]; then kill "$scratch_pid" 2>/dev/null && wait "$scratch_pid" 2>/dev/null; fi
  scratch_pid=""
  kafka_topics --delete --topic "$scratch" >/dev/null 2>&1 || true
  return 0
}
trap cleanup EXIT

start_scratch() {  # label kafka_properties
  require_free_port latency "$scratch_port"
  "$ingest_bin" --ingest_address="$H:$scratch_port" --ingest_metrics_address="$H:$scratch_metrics_port" \
    --otlp_address= --events_topic="$scratch" --kafka_properties="$2" >"$out/ingest-$1.log" 2>&1 &
  scratch_pid=$!
  wait_until "the scratch ingest service" "$out/ingest-$1.log" 60 \
    grep -q "event=ingest_serving" "$out/ingest-$1.log"
}
stop_scratch() {
  kill "$scratch_pid" && wait "$scratch_pid" || true
  scratch_pid=""
}

# The answer-stage histogram's cumulative buckets, "le count" per line.
answer_buckets() {
  curl -s "http://$H:$scratch_metrics_port/metrics" |
    awk '/^streammetrics_ingest_batch_latency_seconds_bucket/ && /stage="answer"/ {
      match($0, /le="[^"]*"/); print substr($0, RSTART + 4, RLENGTH - 5), $NF }'
}
# p50 p90 p99 p99.9 in ms of the batches answered between two answer_buckets snapshots.
server_quantiles() {  # before_file after_file
  awk 'NR == FNR { before[$1] = $2; next }
    { le[n] = $1; cum[n] = $2 - before[$1]; n++ }
    END {
      total = cum[n - 1]
      split("0.5 0.9 0.99 0.999", qs, " ")
      for (k = 1; k <= 4; k++) {
        target = qs[k] * total; lo = 0; prev = 0; v = "n/a"
        for (i = 0; i < n && total > 0; i++) {
          hi = (le[i] == "+Inf") ? lo : le[i]
          if (cum[i] >= target) {
            v = sprintf("%.1f", 1000 * (lo + (hi - lo) * (cum[i] > prev ? (target - prev) / (cum[i] - prev) : 1)))
            break
          }
          lo = hi; prev = cum[i]
        }
        printf "%s%s", v, (k < 4 ? " " : "\n")
      }
    }' "$1" "$2"
}

# Report and table on stdout ($out/label.txt), progress lines ("t= 12s ... acked N (R/s) ...") on
# stderr ($out/label.log).
run_loadgen() {  # label target rate delay [flags...]
  local label="$1" target="$2" rate="$3" delay="$4"
  shift 4
  "$loadgen" --target="$target" --rate="$rate" --max_batch_delay="$delay" --streams="$streams" \
    --run_id="latency-$label-$(date +%s)" --progress_interval=1s --report_json="$out/$label.json" \
    "$@" >"$out/$label.txt" 2>"$out/$label.log"
}

# Part 1 rows: config load rate client_p50 p90 p99 p999 server_p50 p90 p99 p999.
rows="$out/latency.tsv"
: >"$rows"
cpu_rows="$out/cpu.tsv"
: >"$cpu_rows"
measure() {  # config delay label rate
  local config="$1" delay="$2" label="$3" rate="$4" tag
  tag="$config-$(printf '%s' "$label" | tr -c 'A-Za-z0-9._-' '_')"  # a file name and run id
  answer_buckets >"$out/$tag.before"
  local t0 k0
  t0=$(ticks "$scratch_pid")
  # shellcheck disable=SC2086
  k0=$(ticks $kafka_pids)
  sm_log "$config: $label, rate $rate, batch delay $delay, ${secs}s"
  run_loadgen "$tag" "$H:$scratch_port" "$rate" "$delay" --duration="${secs}s" ||
    sm_log "$tag: the load generator reported problems (see $out/$tag.txt)"
  answer_buckets >"$out/$tag.after"
  local accepted
  accepted=$(json_number "$out/$tag.json" events_accepted)
  require_numbers "$tag" "$accepted"
  if [ "$label" = "80%" ]; then
    # shellcheck disable=SC2086
    awk -v i=$(($(ticks "$scratch_pid") - t0)) -v k=$(($(ticks $kafka_pids) - k0)) -v n="$accepted" \
      -v hz="$hz" -v c="$config" 'BEGIN { printf "%s\t%.1f\t%.1f\n", c, i / hz * 1e6 / n, k / hz * 1e6 / n }' >>"$cpu_rows"
  fi
  printf '%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\n' "$config" "$label" \
    "$(awk -v a="$accepted" -v s="$secs" 'BEGIN { printf "%d", a / s }')" \
    "$(json_number "$out/$tag.json" p50)" "$(json_number "$out/$tag.json" p90)" \
    "$(json_number "$out/$tag.json" p99)" "$(json_number "$out/$tag.json" p999)" \
    "$(server_quantiles "$out/$tag.before" "$out/$tag.after" | tr ' ' '\t')" >>"$rows"
}

before_props="socket.timeout.ms=60000,socket.connection.setup.timeout.ms=30000"
max_rates=""
for config in before now; do
  if [ "$config" = before ]; then props="$before_props" delay=50ms; else props="" delay=5ms; fi
  start_scratch "$config" "$props"
  sm_log "$config: maximum rate, unpaced, ${secs}s"
  run_loadgen "$config-max" "$H:$scratch_port" 0 "$delay" --duration="${secs}s" ||
    sm_log "$config-max: the load generator reported problems"
  accepted=$(json_number "$out/$config-max.json" events_accepted)
  require_numbers "$config maximum" "$accepted"
  max=$(awk -v a="$accepted" -v s="$secs" 'BEGIN { printf "%d", a / s }')
  max_rates="$max_rates$config $max"$'\n'
  for pct in 5 25 50 80; do
    measure "$config" "$delay" "$pct%" "$(awk -v m="$max" -v p="$pct" 'BEGIN { printf "%d", m * p / 100 }')"
  done
  measure "$config" "$delay" "$goal_rate/s" "$goal_rate"
  stop_scratch
done

# Part 2: the stall with the old socket timeouts, on a scratch ingest (comparison row).
# "second acked_per_second" for each progress line of a loadgen log (its stderr:
# "t= 12s  sent ... acked N (R/s) ...").
acked_rates() {
  awk '$1 == "t=" { r = $8; gsub(/[(,\/s)]/, "", r); print $2 + 0, r + 0 }' "$1"
}
timeline_gaps() {  # log from to: seconds in (from, to] with acks under 10 % of the goal rate
  acked_rates "$1" | awk -v from="$2" -v to="$3" -v floor="$((goal_rate / 10))" '
    $1 > from && $1 <= to && $2 < floor { n++ } END { print n + 0 }'
}
# stall_broker: broker 2 stopped with SIGSTOP for $stall seconds, $fault_at seconds from now.
stall_broker() {
  sleep "$fault_at" && "$root/deploy/local/kafka-node.sh" pause 2 && sleep "$stall" &&
    "$root/deploy/local/kafka-node.sh" resume 2
}
fault_at=20
stall=20
sm_log "faults: broker 2 stopped for ${stall}s under the old socket timeouts (scratch ingest)"
start_scratch stall-before "$before_props"
stall_broker >"$out/inject-stall-before.log" 2>&1 &
fault_pid=$!
run_loadgen stall-before "$H:$scratch_port" "$goal_rate" 5ms --duration=60s ||
  sm_log "stall-before: the load generator reported problems"
wait "$fault_pid" || sm_die "the fault injection failed; see $out/inject-stall-before.log"
stop_scratch
stall_before=$(timeline_gaps "$out/stall-before.log" "$fault_at" $((fault_at + 30)))
sleep 15  # let broker 2 rejoin every ISR before the next run

# Part 2 proper: the stack's services, three faults in one run, then --verify.
restart_ingest() {  # as up.sh starts it: its log, its pid file
  setsid nohup "$ingest_bin" >>"$STATE/ingest-service.log" 2>&1 </dev/null &
  record_pid ingest-service $!
}
kill_at=60
ingest_at=105
sm_log "faults: broker 2 SIGSTOP at ${fault_at}s for ${stall}s, SIGKILL at ${kill_at}s (restart 20 s later), ingest SIGKILL at ${ingest_at}s"
(
  stall_broker
  sleep $((kill_at - fault_at - stall)) && "$root/deploy/local/kafka-node.sh" kill 2 && sleep 20 &&
    "$root/deploy/local/kafka-node.sh" start 2
  sleep $((ingest_at - kill_at - 20 - 5)) # starting broker 2 takes about 5 s
  kill -KILL "$(running_pid ingest-service)" && restart_ingest
) >"$out/inject-faults.log" 2>&1 &
fault_pid=$!
run_loadgen faults "${STREAMMETRICS_INGEST_ADDRESS:-$H:50051}" "$goal_rate" 5ms --duration=150s \
  --query_target="${STREAMMETRICS_QUERY_ADDRESS:-$H:50052}" --verify --verify_timeout=9m ||
  sm_log "faults: the load generator reported problems (see $out/faults.txt)"
wait "$fault_pid" || sm_die "the fault injection failed; see $out/inject-faults.log"
expected=$(json_number "$out/faults.json" events_expected)
observed=$(json_number "$out/faults.json" events_observed)
require_numbers "the fault run's verify" "$expected" "$observed"
lost=$(awk -v e="$expected" -v o="$observed" 'BEGIN { print (e > o ? e - o : 0) }')
doubled=$(awk -v e="$expected" -v o="$observed" 'BEGIN { print (o > e ? o - e : 0) }')
different=$(json_number "$out/faults.json" windows_different)
missing=$(json_number "$out/faults.json" windows_missing)

table="$out/latency.md"
{
  echo "| config | load | events/s | client p50 | p90 | p99 | p99.9 | server p50 | p90 | p99 | p99.9 |"
  echo "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
  awk -F'\t' '{ printf "| %s | %s | %s | %.1f | %.1f | %.1f | %.1f | %s | %s | %s | %s |\n", $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11 }' "$rows"
  echo
  echo "Latencies in ms. Client: per event, intended send time to ack. Server: per batch, read to answer."
  echo
  echo "| config | max events/s | ingest CPU µs/event at 80 % | brokers CPU µs/event at 80 % |"
  echo "|---|---:|---:|---:|"
  while read -r config max; do
    [ -n "$config" ] || continue
    awk -F'\t' -v c="$config" -v m="$max" '$1 == c { printf "| %s | %s | %s | %s |\n", c, m, $2, $3 }' "$cpu_rows"
  done <<<"$max_rates"
  echo
  echo "| fault (5,000 events/s offered) | seconds with acks < 10 % | lost | doubled |"
  echo "|---|---:|---:|---:|"
  echo "| broker SIGSTOP ${stall} s, old socket timeouts (scratch ingest, not verified) | $stall_before | – | – |"
  echo "| broker SIGSTOP ${stall} s | $(timeline_gaps "$out/faults.log" "$fault_at" "$kill_at") | $lost | $doubled |"
  echo "| broker SIGKILL, restart after 20 s | $(timeline_gaps "$out/faults.log" "$kill_at" "$ingest_at") | $lost | $doubled |"
  echo "| ingest SIGKILL and restart | $(timeline_gaps "$out/faults.log" "$ingest_at" 150) | $lost | $doubled |"
  echo
  echo "Lost and doubled are for the whole fault run (one verify of every final window against the"
  echo "ledger): $different windows different, $missing missing."
} >"$table"

if command -v gnuplot >/dev/null; then
  acked_rates "$out/faults.log" >"$out/faults.dat"
  awk -F'\t' '$2 ~ /%$/ { sub(/%/, "", $2); print $1, $2, $4, $6, $8, $10 }' "$rows" >"$out/latency.dat"
  gnuplot <<GNUPLOT 2>"$out/gnuplot.log" || sm_log "gnuplot failed; see $out/gnuplot.log"
set terminal pngcairo size 1000,420
set output "$out/faults.png"
set title "Acked events per second through the faults (5,000/s offered)"
set xlabel "seconds"; set ylabel "events acked per second"; set grid
set arrow from $fault_at, graph 0 to $fault_at, graph 1 nohead dt 2
set arrow from $kill_at, graph 0 to $kill_at, graph 1 nohead dt 2
set arrow from $ingest_at, graph 0 to $ingest_at, graph 1 nohead dt 2
set label "broker SIGSTOP" at $fault_at, graph 0.95 offset 0.5,0
set label "broker SIGKILL" at $kill_at, graph 0.95 offset 0.5,0
set label "ingest SIGKILL" at $ingest_at, graph 0.95 offset 0.5,0
plot "$out/faults.dat" using 1:2 with lines lw 2 title "acked/s"
set output "$out/latency.png"
unset arrow; unset label
set title "Ack latency by load (% of the configuration's maximum)"
set xlabel "load, % of max"; set ylabel "ms"; set logscale y
plot "$out/latency.dat" using (strcol(1) eq "before" ? \$2 : 1/0):3 with linespoints title "before, client p50", \
     "" using (strcol(1) eq "before" ? \$2 : 1/0):4 with linespoints title "before, client p99", \
     "" using (strcol(1) eq "now" ? \$2 : 1/0):3 with linespoints title "now, client p50", \
     "" using (strcol(1) eq "now" ? \$2 : 1/0):4 with linespoints title "now, client p99", \
     "" using (strcol(1) eq "now" ? \$2 : 1/0):5 with linespoints title "now, server p50", \
     "" using (strcol(1) eq "now" ? \$2 : 1/0):6 with linespoints title "now, server p99"
GNUPLOT
fi
cat "$table"
echo "markdown: $table; plots: $out/faults.png, $out/latency.png"

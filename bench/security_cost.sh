#!/usr/bin/env bash
# security_cost.sh: what TLS and bearer tokens cost the ingest service. Two ingest services run
# side by side against the real local cluster, built alike: one plaintext, one with TLS and a
# tokens file. Each is driven to its maximum by ingest_bench (8 IngestStream streams, batches of
# 500, 8 batches in flight per stream), in turns (plain, secure, plain, secure, ...), and the
# table gives the acked events/s and the service's CPU time per event (from /proc/<pid>/stat) of
# each, with the secure/plain ratio. Results also land in .local/bench/security-<time>.tsv.
#   bench/security_cost.sh [seconds-per-run, default 15] [rounds, default 2]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=../deploy/local/lib.sh
source "$root/deploy/local/lib.sh"
SM_COMPONENT=bench
secs="${1:-15}"
rounds="${2:-2}"

STREAMMETRICS_SKIP_DEMO=1 "$root/deploy/local/up.sh" >/dev/null
build="$root/build/release"
cmake --build "$build" --target ingest_bench streammetrics-ingest streammetrics-token >/dev/null
ingest="$build/ingest-service/streammetrics-ingest"
bench="$build/bench/ingest_bench"
work="$(mktemp -d)"
out_dir="$root/.local/bench"
mkdir -p "$out_dir"
out="$out_dir/security-$(date -u +%Y%m%dT%H%M%SZ).tsv"
pids=()
cleanup() {
  local p
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# A CA, a server certificate for 127.0.0.1 and a writer token, as up.sh --secure makes them.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj "/CN=bench CA" \
  -keyout "$work/ca.key" -out "$work/ca.crt" 2>/dev/null
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=localhost" \
  -keyout "$work/server.key" -out "$work/server.csr" 2>/dev/null
openssl x509 -req -in "$work/server.csr" -CA "$work/ca.crt" -CAkey "$work/ca.key" \
  -CAcreateserial -days 2 -out "$work/server.crt" \
  -extfile <(echo "subjectAltName=DNS:localhost,IP:127.0.0.1") 2>/dev/null
mapfile -t minted < <("$build/tools/streammetrics-token" new bench --scopes ingest 2>/dev/null)
echo "${minted[0]}" >"$work/token"
echo "${minted[1]}" >"$work/tokens"

plain_port=50071 secure_port=50072
# Called directly, not in $(...): a subshell's pids+=() would be lost and cleanup would leave the
# services running.
start() {  # port metrics-port [flags...]; sets started_pid
  local port="$1" mport="$2"
  shift 2
  "$ingest" --ingest_address="127.0.0.1:$port" --ingest_metrics_address="127.0.0.1:$mport" --otlp_address= "$@" \
    >>"$work/ingest-$port.log" 2>&1 &
  started_pid=$!
  pids+=("$started_pid")
}
start $plain_port 9471
plain_pid=$started_pid
start $secure_port 9472 --tls_cert_file="$work/server.crt" \
  --tls_key_file="$work/server.key" --auth_tokens_file="$work/tokens"
secure_pid=$started_pid
for port in $plain_port $secure_port; do
  tls=(-plaintext)
  [ $port = $secure_port ] && tls=(-cacert "$work/ca.crt")
  deadline=$((SECONDS + 120))
  until grpcurl "${tls[@]}" -max-time 2 -d '{"service":"streammetrics.v1.IngestService"}' \
    "127.0.0.1:$port" grpc.health.v1.Health/Check 2>/dev/null | grep -q SERVING; do
    [ $SECONDS -lt $deadline ] || sm_die "the ingest service on $port did not start; see $work"
    sleep 1  # polling a process start, with the deadline above
  done
done

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)

printf 'variant\tround\tevents_per_s\tacked\tcpu_s\tcpu_us_per_event\tack_p50_ms\tack_p99_ms\n' >"$out"
run() {  # variant round port pid [client flags...]
  local variant="$1" round="$2" port="$3" pid="$4" before after line
  shift 4
  sm_log "$variant, round $round: ${secs}s at full speed"
  before=$(cpu_ticks "$pid")
  line=$("$bench" --mode=grpc --target="127.0.0.1:$port" --streams=8 --batch=500 --window=8 \
    --duration="${secs}s" "$@")
  after=$(cpu_ticks "$pid")
  # ingest_bench's columns: mode streams batch window acked failed seconds events/s p50 p99
  awk -F'\t' -v v="$variant" -v r="$round" -v t=$((after - before)) -v hz="$hz" '{
    cpu = t / hz
    printf "%s\t%s\t%.0f\t%d\t%.2f\t%.2f\t%s\t%s\n", v, r, $8, $5, cpu, ($5 > 0 ? cpu * 1e6 / $5 : 0), $9, $10
  }' <<<"$line" >>"$out"
}
for round in $(seq 1 "$rounds"); do
  run plaintext "$round" $plain_port "$plain_pid"
  run tls+token "$round" $secure_port "$secure_pid" --tls_ca_file="$work/ca.crt" \
    --token_file="$work/token"
done

echo
echo "The cost of TLS and bearer tokens on the ingest service (8 streams, batches of 500, ${secs}s per run, $rounds rounds)"
awk -F'\t' '
  NR == 1 { next }
  { n[$1]++; eps[$1] += $3; cpu[$1] += $6; p50[$1] += $7; p99[$1] += $8 }
  END {
    printf "| %-10s | %12s | %14s | %11s | %11s |\n", "variant", "events/s", "CPU us/event", "ack p50 ms", "ack p99 ms"
    printf "|------------|--------------|----------------|-------------|-------------|\n"
    split("plaintext tls+token", order, " ")
    for (i = 1; i <= 2; i++) {
      v = order[i]
      if (!n[v]) continue
      printf "| %-10s | %12.0f | %14.2f | %11.1f | %11.1f |\n", v, eps[v] / n[v], cpu[v] / n[v], p50[v] / n[v], p99[v] / n[v]
    }
    if (n["plaintext"] && n["tls+token"]) {
      printf "\nsecure / plaintext: throughput %.2f, CPU per event %.2f (goal: throughput >= 0.90)\n",
        (eps["tls+token"] / n["tls+token"]) / (eps["plaintext"] / n["plaintext"]),
        (cpu["tls+token"] / n["tls+token"]) / (cpu["plaintext"] / n["plaintext"])
    }
  }' "$out"
echo
echo "raw: $out"

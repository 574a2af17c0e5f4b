#!/usr/bin/env bash
# up.sh [--infra-only] [--secure]: brings up the StreamMetrics local stack as processes of the current user,
# with state under $STREAMMETRICS_STATE_DIR (default .local/stack, git-ignored):
#   Redis 7 (append-only) on 127.0.0.1:56379, PostgreSQL 15 on 127.0.0.1:55432 (database and user
#   streammetrics), three combined broker+controller KRaft Kafka nodes on 127.0.0.1:19092/29092/39092,
#   the four topics of docs/contract.md §4, and the schema migrations.
# Safe to re-run: what runs is left alone, what is missing is started. Readiness is polled with a
# deadline; a component that does not come up is named with the tail of its log.
# Without --infra-only it then builds (release, build/release) and starts the ingest service
# (gRPC 127.0.0.1:50051, /metrics 127.0.0.1:9464) and the aggregation service (QueryService
# 127.0.0.1:50052, /metrics 127.0.0.1:9465), streams a short demo load through them with
# streammetrics-loadgen and prints what QueryService answers, with the grpcurl command that asked
# (STREAMMETRICS_SKIP_DEMO=1 skips the demo; STREAMMETRICS_DEMO_SECONDS / _RATE size it).
# --secure (or STREAMMETRICS_SECURE=1) serves both services with TLS and bearer tokens: a local
# CA, a server certificate for localhost / 127.0.0.1, a writer (ingest) and a reader (query)
# token, all made with openssl under $STREAMMETRICS_STATE_DIR/secure on first use; the grpcurl
# lines it prints carry -cacert and the token header (docs/security.md).
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
SM_COMPONENT=up

infra_only=0
secure=${STREAMMETRICS_SECURE:-0}
for arg in "$@"; do
  case "$arg" in
    --infra-only) infra_only=1 ;;
    --secure) secure=1 ;;
    -h | --help) sed -n '2,18p' "$0"; exit 0 ;;
    *) sm_die "unknown argument $arg (try --help)" ;;
  esac
done

[ "${STREAMMETRICS_SKIP_INSTALL:-0}" = 1 ] || "$STREAMMETRICS_ROOT/deploy/install-deps.sh"
mkdir -p "$STATE/kafka" "$STATE/redis" "$STATE/postgres"

start_kafka() {
  SM_COMPONENT=kafka
  local n
  # A broker answers only once a controller quorum (2 of 3) exists: start all, then wait.
  for n in 1 2 3; do STREAMMETRICS_KAFKA_NO_WAIT=1 "$here_local/kafka-node.sh" start "$n"; done
  for n in 1 2 3; do "$here_local/kafka-node.sh" start "$n" 2>&1 | grep -v ' running (pid' >&2; done
  wait_until "Kafka cluster (3 brokers)" "$STATE/kafka/n1/logs/server.log" \
    "$STREAMMETRICS_READY_TIMEOUT" brokers_are 3
  sm_log "3 brokers ready: $STREAMMETRICS_KAFKA_BOOTSTRAP"
}

brokers_are() {
  [ "$(kcat -L -b "$STREAMMETRICS_KAFKA_BOOTSTRAP" -m 5 2>/dev/null |
    grep -cE '^  +broker [0-9]+ at ')" -eq "$1" ]
}

# name partitions retention_ms
TOPICS=(
  "metrics-events 6 604800000"
  "metrics-aggregated-1m 3 604800000"
  "metrics-aggregated-5m 3 2592000000"
  "metrics-dead-letter 3 1209600000"
)

create_topics() {
  SM_COMPONENT=topics
  local spec name partitions retention have pids=()
  for spec in "${TOPICS[@]}"; do
    read -r name partitions retention <<<"$spec"
    have=$(kcat -L -b "$STREAMMETRICS_KAFKA_BOOTSTRAP" -t "$name" -m 10 2>/dev/null |
      sed -nE "s/^ *topic \"$name\" with ([0-9]+) partitions.*/\1/p")
    if [ -n "$have" ] && [ "$have" != 0 ]; then  # 0 partitions: kcat's "unknown topic"
      [ "$have" = "$partitions" ] ||
        sm_die "topic $name exists with $have partitions, needs $partitions; delete it or the state folder"
      continue
    fi
    java -cp "$STREAMMETRICS_KAFKA_LIBS/*" -Dlog4j.configuration=file:/dev/null \
      org.apache.kafka.tools.TopicCommand --bootstrap-server "$STREAMMETRICS_KAFKA_BOOTSTRAP" \
      --create --if-not-exists --topic "$name" --partitions "$partitions" \
      --replication-factor 3 --config min.insync.replicas=2 --config retention.ms="$retention" \
      >"$STATE/kafka/topic-$name.log" 2>&1 &
    pids+=($!)
  done
  local pid
  for pid in "${pids[@]}"; do
    wait "$pid" || sm_die "topic creation failed; see $STATE/kafka/topic-*.log"
  done
  sm_log "metrics-events(6) metrics-aggregated-1m(3) metrics-aggregated-5m(3) metrics-dead-letter(3), RF 3, min ISR 2"
}

start_redis
start_postgres
SM_COMPONENT=migrate "$STREAMMETRICS_ROOT/deploy/migrate.sh" "$STREAMMETRICS_PG_URL"
start_kafka
create_topics

SM_COMPONENT=up
sm_log "infrastructure up (state in $STATE)"
cat >&2 <<INFO
  Kafka       $STREAMMETRICS_KAFKA_BOOTSTRAP
  PostgreSQL  $STREAMMETRICS_PG_URL
  Redis       $H:$STREAMMETRICS_REDIS_PORT
INFO
if [ "$infra_only" = 1 ]; then
  echo "  status: deploy/local/status.sh   stop: deploy/local/down.sh" >&2
  exit 0
fi

build_services() {
  SM_COMPONENT=build
  local build="$STREAMMETRICS_ROOT/build/release"
  sm_log "building the services in $build (log: $STATE/build.log)"
  { cmake -S "$STREAMMETRICS_ROOT" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      -DSTREAMMETRICS_BUILD_TESTS=OFF -DCMAKE_PREFIX_PATH="$STREAMMETRICS_RDKAFKA_PREFIX" &&
    cmake --build "$build" --target streammetrics-ingest streammetrics-aggregation \
      streammetrics-loadgen; } \
    >"$STATE/build.log" 2>&1 ||
    { tail -n 30 "$STATE/build.log" >&2; sm_die "build failed; see $STATE/build.log"; }
  INGEST_BIN="$build/ingest-service/streammetrics-ingest"
  AGGREGATION_BIN="$build/aggregation-service/streammetrics-aggregation"
  LOADGEN_BIN="$build/tools/streammetrics-loadgen"
}

# grpcurl's transport flags: -plaintext, or the local CA once --secure made one.
GRPCURL_TLS=(-plaintext)
GRPCURL_TLS_SHOWN="-plaintext"
# The query token header for grpcurl (--secure only), and how the printed commands show it.
GRPCURL_AUTH=()
GRPCURL_AUTH_SHOWN=""

# make_secure: the local CA, the services' certificate and the two tokens (once; kept across
# runs so clients keep working), and the settings that make the services and clients use them.
make_secure() {
  SM_COMPONENT=secure
  local dir="$STATE/secure" name token
  mkdir -p "$dir"
  chmod 700 "$dir"
  if [ ! -s "$dir/ca.crt" ] || ! openssl x509 -checkend 86400 -noout -in "$dir/ca.crt" >/dev/null; then
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 825 \
      -subj "/CN=StreamMetrics local CA" -keyout "$dir/ca.key" -out "$dir/ca.crt" 2>/dev/null ||
      sm_die "openssl could not make the local CA in $dir"
    rm -f "$dir/server.crt"
  fi
  # The certificate names localhost, 127.0.0.1 and $H (an address or a host name); it is made
  # again when $H changed or it expires within a day.
  local san="DNS:localhost,IP:127.0.0.1"
  if [[ "$H" =~ ^[0-9.]+$ || "$H" == *:* ]]; then san="$san,IP:$H"; else san="$san,DNS:$H"; fi
  if [ ! -s "$dir/server.crt" ] || [ "$(cat "$dir/server.san" 2>/dev/null)" != "$san" ] ||
    ! openssl x509 -checkend 86400 -noout -in "$dir/server.crt" >/dev/null; then
    openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=localhost" \
      -keyout "$dir/server.key.new" -out "$dir/server.csr" 2>/dev/null &&
      openssl x509 -req -in "$dir/server.csr" -CA "$dir/ca.crt" -CAkey "$dir/ca.key" \
        -CAcreateserial -days 397 -out "$dir/server.crt.new" -extfile <(printf '%s\n' \
          "subjectAltName=$san" "extendedKeyUsage=serverAuth") 2>/dev/null ||
      sm_die "openssl could not make the server certificate in $dir"
    chmod 600 "$dir/server.key.new"
    # Key before certificate, each by rename: a running service sees the old pair or the new.
    mv -f "$dir/server.key.new" "$dir/server.key"
    mv -f "$dir/server.crt.new" "$dir/server.crt"
    echo "$san" >"$dir/server.san"
    rm -f "$dir/server.csr"
  fi
  # Tokens: 256 random bits, base64url, "smt_" first (as streammetrics-token mints them); the
  # tokens file holds only their SHA-256.
  for name in writer reader; do
    if [ ! -s "$dir/$name.token" ]; then
      (umask 077 && printf 'smt_%s' "$(openssl rand -base64 32 | tr '+/' '-_' | tr -d '=\n')" \
        >"$dir/$name.token")
    fi
  done
  # Written aside and renamed over the old file: a running service re-reads it whole or not at all.
  {
    echo "# Made by deploy/local/up.sh --secure: <sha256 of the token> <name> <scopes>"
    for name in writer reader; do
      token=$(cat "$dir/$name.token")
      printf '%s %s %s\n' "$(printf '%s' "$token" | openssl dgst -sha256 -r | cut -d' ' -f1)" \
        "local-$name" "$([ $name = writer ] && echo ingest || echo query)"
    done
  } >"$dir/tokens.new"
  mv -f "$dir/tokens.new" "$dir/tokens"
  chmod 600 "$dir"/*.key "$dir"/*.token
  export STREAMMETRICS_TLS_CERT_FILE="$dir/server.crt" STREAMMETRICS_TLS_KEY_FILE="$dir/server.key"
  export STREAMMETRICS_AUTH_TOKENS_FILE="$dir/tokens"
  # The load generator's side (its flags have other names than the services').
  export STREAMMETRICS_TLS_CA_FILE="$dir/ca.crt" STREAMMETRICS_TOKEN_FILE="$dir/writer.token"
  GRPCURL_TLS=(-cacert "$dir/ca.crt")
  GRPCURL_TLS_SHOWN="-cacert $dir/ca.crt"
  GRPCURL_AUTH=(-H "authorization: Bearer $(cat "$dir/reader.token")")
  GRPCURL_AUTH_SHOWN="-H \"authorization: Bearer \$(cat $dir/reader.token)\""
  sm_log "TLS with the CA $dir/ca.crt; tokens: $dir/writer.token (ingest), $dir/reader.token (query)"
}

grpc_healthy() {  # address service
  grpcurl "${GRPCURL_TLS[@]}" -max-time 2 -d "{\"service\":\"$2\"}" "$1" \
    grpc.health.v1.Health/Check | grep -q '"SERVING"'
}

start_ingest() {
  SM_COMPONENT=ingest-service
  : "${STREAMMETRICS_INGEST_ADDRESS:=$H:50051}"
  : "${STREAMMETRICS_INGEST_METRICS_ADDRESS:=127.0.0.1:9464}"
  : "${STREAMMETRICS_OTLP_ADDRESS:=$H:4317}"
  export STREAMMETRICS_INGEST_ADDRESS STREAMMETRICS_INGEST_METRICS_ADDRESS STREAMMETRICS_OTLP_ADDRESS
  local log="$STATE/ingest-service.log"
  if pid=$(running_pid ingest-service); then
    sm_log "restarting (pid $pid) to run the fresh build"
    stop_process ingest-service TERM 60
  fi
  require_free_port ingest-service "${STREAMMETRICS_INGEST_ADDRESS##*:}"
  require_free_port ingest-service "${STREAMMETRICS_OTLP_ADDRESS##*:}"
  setsid nohup "$INGEST_BIN" >>"$log" 2>&1 </dev/null &
  record_pid ingest-service $!
  wait_until "ingest service" "$log" "$STREAMMETRICS_READY_TIMEOUT" \
    grpc_healthy "$STREAMMETRICS_INGEST_ADDRESS" streammetrics.v1.IngestService
  sm_log "ready on $STREAMMETRICS_INGEST_ADDRESS, OTLP on $STREAMMETRICS_OTLP_ADDRESS (metrics http://$STREAMMETRICS_INGEST_METRICS_ADDRESS/metrics)"
}

start_aggregation() {
  SM_COMPONENT=aggregation-service
  : "${STREAMMETRICS_QUERY_ADDRESS:=$H:50052}"
  : "${STREAMMETRICS_AGGREGATION_METRICS_ADDRESS:=127.0.0.1:9465}"
  export STREAMMETRICS_QUERY_ADDRESS STREAMMETRICS_AGGREGATION_METRICS_ADDRESS
  local log="$STATE/aggregation-service.log"
  if pid=$(running_pid aggregation-service); then
    sm_log "restarting (pid $pid) to run the fresh build"
    stop_process aggregation-service TERM 60
  fi
  require_free_port aggregation-service "${STREAMMETRICS_QUERY_ADDRESS##*:}"
  # One page-token key for every instance of the stack (made once, kept with its state), so a
  # page token issued by one aggregation instance is accepted by another.
  local keys="$STATE/page_token_keys"
  if [ ! -s "$keys" ]; then
    (umask 077 && openssl rand -hex 32 >"$keys.new" && mv "$keys.new" "$keys") ||
      sm_die "could not write $keys"
  fi
  : "${STREAMMETRICS_PAGE_TOKEN_KEYS_FILE:=$keys}"
  export STREAMMETRICS_PAGE_TOKEN_KEYS_FILE
  setsid nohup "$AGGREGATION_BIN" >>"$log" 2>&1 </dev/null &
  record_pid aggregation-service $!
  wait_until "aggregation service" "$log" "$STREAMMETRICS_READY_TIMEOUT" \
    grpc_healthy "$STREAMMETRICS_QUERY_ADDRESS" ""
  sm_log "ready on $STREAMMETRICS_QUERY_ADDRESS (metrics http://$STREAMMETRICS_AGGREGATION_METRICS_ADDRESS/metrics)"
}

# The demo: streammetrics-loadgen streams a short load through the ingest service (with its live
# progress line and final table), then the result a user would look at is read back through
# QueryService with grpcurl: Summarize of one service's request durations over the run. It waits
# until QueryService counts every event the load generator had acked for that metric (the
# checkpoint commits within a second or two; the windows stay open until a minute and the allowed
# lateness have passed, which Summarize reports as includes_open_windows).
DEMO_SECONDS=${STREAMMETRICS_DEMO_SECONDS:-10}
DEMO_RATE=${STREAMMETRICS_DEMO_RATE:-2000}

demo_counted() {  # request expected-count
  grpcurl "${GRPCURL_TLS[@]}" "${GRPCURL_AUTH[@]}" -max-time 2 -d "$1" "$STREAMMETRICS_QUERY_ADDRESS" \
    streammetrics.v1.QueryService/Summarize 2>/dev/null | grep -q "\"count\": \"$2\""
}

demo() {
  SM_COMPONENT=demo
  local run_id ledger from to request expected
  run_id="demo-$(date -u +%H%M%S)"
  ledger="$STATE/demo-ledger.csv"
  from=$(date -u +%Y-%m-%dT%H:%M:%SZ)
  sm_log "streaming ${DEMO_SECONDS}s of demo load at ${DEMO_RATE} events/s (2 services x 4 metrics x 3 tag sets, 1% invalid on purpose):"
  echo "$LOADGEN_BIN --target=$STREAMMETRICS_INGEST_ADDRESS --run_id=$run_id --rate=$DEMO_RATE --duration=${DEMO_SECONDS}s --services=2 --metrics=4 --tag_sets=3 --invalid_fraction=0.01"
  "$LOADGEN_BIN" --target="$STREAMMETRICS_INGEST_ADDRESS" --run_id="$run_id" --rate="$DEMO_RATE" \
    --duration="${DEMO_SECONDS}s" --streams=2 --services=2 --metrics=4 --tag_sets=3 \
    --invalid_fraction=0.01 --progress_interval=2s --ledger="$ledger" ||
    sm_die "the demo load did not go through as expected (see above)"
  to=$(date -u -d '+1 minute' +%Y-%m-%dT%H:%M:%SZ)
  # What the load generator had acked for the service's request durations, over all tag sets.
  expected=$(awk -F'"' -v p="$run_id-svc-0|http.request.duration|" \
    'index($2, p) == 1 { split($3, f, ","); n += f[3] } END { print n + 0 }' "$ledger")
  request="{\"service_id\": \"$run_id-svc-0\", \"metric_name\": \"http.request.duration\",
  \"start\": \"$from\", \"end\": \"$to\", \"quantiles\": [0.5, 0.95, 0.99]}"
  wait_until "QueryService counting the demo's $expected request durations" \
    "$STATE/aggregation-service.log" 30 demo_counted "$request" "$expected"
  sm_log "QueryService counts all $expected of them; the summary over every tag set, fetched with:"
  echo "grpcurl $GRPCURL_TLS_SHOWN ${GRPCURL_AUTH_SHOWN:+$GRPCURL_AUTH_SHOWN }-d '$request' $STREAMMETRICS_QUERY_ADDRESS streammetrics.v1.QueryService/Summarize"
  grpcurl "${GRPCURL_TLS[@]}" "${GRPCURL_AUTH[@]}" -d "$request" "$STREAMMETRICS_QUERY_ADDRESS" \
    streammetrics.v1.QueryService/Summarize
}

case "$H" in
  127.* | localhost | ::1) ;;
  *)
    [ "$secure" = 1 ] || sm_die "STREAMMETRICS_HOST=$H can be reached from other hosts, where the services serve only TLS with tokens: add --secure (or set STREAMMETRICS_HOST=127.0.0.1)"
    ;;
esac
build_services
if [ "$secure" = 1 ]; then make_secure; fi
start_ingest
start_aggregation
if [ "${STREAMMETRICS_SKIP_DEMO:-0}" != 1 ]; then
  demo
fi
SM_COMPONENT=up
if [ "$secure" = 1 ]; then
  cat >&2 <<SECURE
  Both services serve TLS and ask for bearer tokens. For example:
    grpcurl $GRPCURL_TLS_SHOWN $STREAMMETRICS_INGEST_ADDRESS list
    grpcurl $GRPCURL_TLS_SHOWN $GRPCURL_AUTH_SHOWN \\
      -d '{"service_id": "payment-service"}' $STREAMMETRICS_QUERY_ADDRESS streammetrics.v1.QueryService/ListSeries
    grpcurl $GRPCURL_TLS_SHOWN -H "authorization: Bearer \$(cat $STATE/secure/writer.token)" \\
      -d @ $STREAMMETRICS_INGEST_ADDRESS streammetrics.v1.IngestService/StreamMetrics < batch.json
SECURE
fi
sm_log "up: status deploy/local/status.sh, stop deploy/local/down.sh"

#!/usr/bin/env bash
# status.sh: what of the local stack runs where. Exits 0 when every infrastructure component runs,
# 1 otherwise.
set -uo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
all_up=0
row() { printf '%-22s %-10s %-8s %s\n' "$@"; }
row COMPONENT STATE PID ADDRESS
check() {  # name address [infra]
  local pid
  if pid=$(running_pid "$1"); then row "$1" running "$pid" "$2"; else
    row "$1" stopped - "$2"
    [ "${3:-}" = infra ] && all_up=1
  fi
}
for n in 1 2 3; do check "kafka-$n" "$H:$(kafka_port "$n")" infra; done
check postgres "$H:$STREAMMETRICS_PG_PORT" infra
check redis "$H:$STREAMMETRICS_REDIS_PORT" infra
check ingest-service "${STREAMMETRICS_INGEST_ADDR:-$H:50051}"
check aggregation-service "${STREAMMETRICS_QUERY_ADDRESS:-$H:50052}"
echo
if md=$(kcat -L -b "$STREAMMETRICS_KAFKA_BOOTSTRAP" -m 5 2>/dev/null); then
  echo "Kafka: $(grep -cE '^  +broker [0-9]+ at ' <<<"$md") brokers answering"
  grep -E '^  topic "metrics-' <<<"$md" | sed 's/^ */  /'
else
  echo "Kafka: no broker answers at $STREAMMETRICS_KAFKA_BOOTSTRAP"
fi
echo "State: $STATE"
exit $all_up

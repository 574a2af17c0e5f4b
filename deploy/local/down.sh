#!/usr/bin/env bash
# down.sh [--purge]: stops exactly what up.sh started (the processes recorded in the state folder),
# services first, then Kafka (all nodes at once, so no node waits on a vanished quorum),
# PostgreSQL (fast shutdown) and Redis. --purge also deletes the state folder (all data).
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
SM_COMPONENT=down
purge=0
[ "${1:-}" = "--purge" ] && purge=1

if [ -d "$STATE" ]; then
  for svc in aggregation-service ingest-service; do stop_process "$svc" TERM 60; done
  for n in 1 2 3; do stop_process "kafka-$n" TERM 60 & done
  wait
  stop_process postgres INT 60  # SIGINT: PostgreSQL's fast shutdown
  stop_process redis TERM 30
  sm_log "stopped"
fi
if [ "$purge" = 1 ]; then
  rm -rf "$STATE"
  sm_log "purged $STATE"
fi

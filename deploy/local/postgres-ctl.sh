#!/usr/bin/env bash
# postgres-ctl.sh stop|start|restart|status: controls only the local stack's PostgreSQL (the one
# up.sh started, recorded in the state folder), for fault tests that take the database away
# mid-run. stop is PostgreSQL's fast shutdown (SIGINT: sessions are terminated, open transactions
# roll back, committed data is flushed); start returns once the server answers; restart is both.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
SM_COMPONENT=postgres
action="${1:?usage: postgres-ctl.sh stop|start|restart|status}"

stop_postgres() {
  local pid
  if pid=$(running_pid postgres); then
    stop_process postgres INT 60
    sm_log "stopped (was pid $pid)"
  else
    sm_log "not running"
  fi
}

case "$action" in
  stop) stop_postgres ;;
  start) start_postgres ;;
  restart)
    stop_postgres
    start_postgres
    ;;
  status)
    if pid=$(running_pid postgres); then echo "running pid $pid $H:$STREAMMETRICS_PG_PORT"; else
      echo "stopped"
      exit 1
    fi
    ;;
  *) sm_die "unknown action $action (stop|start|restart|status)" ;;
esac

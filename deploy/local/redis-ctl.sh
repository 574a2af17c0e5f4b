#!/usr/bin/env bash
# redis-ctl.sh stop|start|restart|status: controls only the local stack's Redis (the one up.sh
# started, recorded in the state folder), for fault tests that take the cache away mid-run. stop is
# Redis's own shutdown on SIGTERM (the append-only file is flushed, clients are disconnected);
# start returns once the server answers; restart is both.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
SM_COMPONENT=redis
action="${1:?usage: redis-ctl.sh stop|start|restart|status}"

stop_redis() {
  local pid
  if pid=$(running_pid redis); then
    stop_process redis TERM 30
    sm_log "stopped (was pid $pid)"
  else
    sm_log "not running"
  fi
}

case "$action" in
  stop) stop_redis ;;
  start) start_redis ;;
  restart)
    stop_redis
    start_redis
    ;;
  status)
    if pid=$(running_pid redis); then echo "running pid $pid $H:$STREAMMETRICS_REDIS_PORT"; else
      echo "stopped"
      exit 1
    fi
    ;;
  *) sm_die "unknown action $action (stop|start|restart|status)" ;;
esac

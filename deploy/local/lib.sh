# Shared by the deploy/local scripts: addresses (each overridable by STREAMMETRICS_* variables),
# the git-ignored state folder, and process bookkeeping. Sourced, never executed.
#
# Every process the stack starts records "<pid> <start-time>" in $STATE/<name>.pid; stop_process
# only signals a pid whose start time still matches, so a recycled pid is never killed.
here_local="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
STREAMMETRICS_ROOT="$(cd "$here_local/../.." && pwd)"
# shellcheck source=../env.sh
source "$STREAMMETRICS_ROOT/deploy/env.sh"

: "${STREAMMETRICS_STATE_DIR:=$STREAMMETRICS_ROOT/.local/stack}"
: "${STREAMMETRICS_HOST:=127.0.0.1}"
: "${STREAMMETRICS_KAFKA1_PORT:=19092}"
: "${STREAMMETRICS_KAFKA2_PORT:=29092}"
: "${STREAMMETRICS_KAFKA3_PORT:=39092}"
: "${STREAMMETRICS_KAFKA1_CONTROLLER_PORT:=19093}"
: "${STREAMMETRICS_KAFKA2_CONTROLLER_PORT:=29093}"
: "${STREAMMETRICS_KAFKA3_CONTROLLER_PORT:=39093}"
: "${STREAMMETRICS_KAFKA_HEAP:=512m}"
: "${STREAMMETRICS_PG_PORT:=55432}"
: "${STREAMMETRICS_REDIS_PORT:=56379}"
: "${STREAMMETRICS_PG_BIN:=/usr/lib/postgresql/15/bin}"
# Seconds each component may take to become ready before up.sh gives up and names it.
: "${STREAMMETRICS_READY_TIMEOUT:=120}"

STATE="$STREAMMETRICS_STATE_DIR"
H="$STREAMMETRICS_HOST"
kafka_port() { local v="STREAMMETRICS_KAFKA$1_PORT"; echo "${!v}"; }
kafka_controller_port() { local v="STREAMMETRICS_KAFKA$1_CONTROLLER_PORT"; echo "${!v}"; }
: "${STREAMMETRICS_KAFKA_BOOTSTRAP:=$H:$(kafka_port 1),$H:$(kafka_port 2),$H:$(kafka_port 3)}"
: "${STREAMMETRICS_PG_URL:=postgresql://streammetrics:streammetrics@$H:$STREAMMETRICS_PG_PORT/streammetrics}"
: "${STREAMMETRICS_REDIS_HOST:=$H}"
export STREAMMETRICS_STATE_DIR STREAMMETRICS_KAFKA_BOOTSTRAP STREAMMETRICS_PG_URL \
  STREAMMETRICS_REDIS_HOST STREAMMETRICS_REDIS_PORT STREAMMETRICS_PG_PORT

# PostgreSQL refuses to run as root; when we are root it runs as the 'postgres' system user
# (created by the postgresql-15 package).
PG_USER="$(id -un)"
[ "$(id -u)" -eq 0 ] && PG_USER=postgres
# setpriv execs the command (no fork), so a recorded pid is the command's own.
as_pg_prefix() {
  [ "$PG_USER" = "$(id -un)" ] || echo "setpriv --reuid=$PG_USER --regid=$PG_USER --init-groups --"
}
as_pg() { $(as_pg_prefix) "$@"; }

# start_time PID: the process start time in clock ticks (field 22 of /proc/PID/stat), or empty.
start_time() { awk '{print $22}' "/proc/$1/stat" 2>/dev/null || true; }

# record_pid NAME PID
record_pid() { echo "$2 $(start_time "$2")" >"$STATE/$1.pid"; }

# running_pid NAME: prints the recorded pid if that very process is still alive.
running_pid() {
  local f="$STATE/$1.pid" pid st
  [ -f "$f" ] || return 1
  read -r pid st <"$f"
  [ -n "$pid" ] && [ "$(start_time "$pid")" = "$st" ] && [ -n "$st" ] || return 1
  echo "$pid"
}

# wait_until DESCRIPTION LOG TIMEOUT_S COMMAND...: polls COMMAND until it succeeds. On timeout
# fails naming DESCRIPTION and pointing at LOG.
wait_until() {
  local what="$1" log="$2" timeout="$3"
  shift 3
  local deadline=$((SECONDS + timeout))
  until "$@" >/dev/null 2>&1; do
    if [ $SECONDS -ge $deadline ]; then
      sm_log "ERROR: $what not ready after ${timeout}s; see $log"
      [ -f "$log" ] && tail -n 20 "$log" >&2
      return 1
    fi
    sleep 0.2  # poll interval, not a wait for time to pass
  done
}

# stop_process NAME [SIGNAL] [TIMEOUT_S]: signals the recorded process (default TERM) and waits for
# it to exit; escalates to KILL after TIMEOUT_S (default 60). No-op when it is not running.
stop_process() {
  local name="$1" sig="${2:-TERM}" timeout="${3:-60}" pid
  pid=$(running_pid "$name") || { rm -f "$STATE/$name.pid"; return 0; }
  kill "-$sig" "$pid" 2>/dev/null || true
  local deadline=$((SECONDS + timeout))
  while [ -n "$(start_time "$pid")" ]; do
    if [ $SECONDS -ge $deadline ]; then
      sm_log "$name (pid $pid) did not exit after ${timeout}s of SIG$sig; sending SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      deadline=$((SECONDS + 30))
    fi
    sleep 0.2
  done
  rm -f "$STATE/$name.pid"
}

# require_free_port NAME PORT: fails when PORT is taken by a process this stack did not record, e.g.
# the stack of another checkout, instead of starting a process that cannot bind.
require_free_port() {
  if ss -Hltn "sport = :$2" 2>/dev/null | grep -q .; then
    sm_die "$1: port $2 is already in use by another process (another checkout's stack? run its deploy/local/down.sh, or set STREAMMETRICS_*_PORT)"
  fi
}

# pg_state_dir: where the stack's PostgreSQL keeps its data and logs: $STATE/postgres when the
# server's user can reach it. As root the server runs as user postgres, which cannot pass a
# private (0700) directory above the checkout, such as one `mktemp -d` made; the data then lives
# under /var/tmp, in a directory named after the state directory (same checkout, same data).
pg_state_dir() {
  if [ "$PG_USER" = "$(id -un)" ] || as_pg test -x "$STATE"; then
    echo "$STATE/postgres"
  else
    echo "/var/tmp/streammetrics-postgres-$(printf '%s' "$STATE" | sha256sum | cut -c1-16)"
  fi
}

# start_postgres: starts the stack's PostgreSQL 15 unless it runs (initdb on first use), waits until
# it answers and creates the streammetrics database if missing. Used by up.sh and postgres-ctl.sh.
start_postgres() {
  SM_COMPONENT=postgres
  local dir data pid
  dir="$(pg_state_dir)"
  data="$dir/data"
  mkdir -p "$dir"
  [ "$dir" = "$STATE/postgres" ] ||
    sm_log "data and logs in $dir: user $PG_USER cannot reach $STATE"
  export PGPASSWORD=streammetrics
  if ! pid=$(running_pid postgres); then
    require_free_port postgres "$STREAMMETRICS_PG_PORT"
    [ "$PG_USER" = "$(id -un)" ] || chown "$PG_USER" "$dir"
    if [ ! -f "$data/PG_VERSION" ]; then
      echo streammetrics >"$dir/pwfile"
      chmod 600 "$dir/pwfile"
      [ "$PG_USER" = "$(id -un)" ] || chown "$PG_USER" "$dir/pwfile"
      as_pg "$STREAMMETRICS_PG_BIN/initdb" -D "$data" -U streammetrics --pwfile="$dir/pwfile" \
        --auth-local=trust --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8 \
        >"$dir/initdb.log" 2>&1 || sm_die "initdb failed; see $dir/initdb.log"
      rm -f "$dir/pwfile"
    fi
    mkdir -p "$dir/run"
    [ "$PG_USER" = "$(id -un)" ] || chown "$PG_USER" "$dir/run"
    # Durable settings stay on (fsync, full_page_writes): this stack proves exactly-once across
    # crashes. The recorded pid is the postmaster's own (setpriv execs, it does not fork).
    setsid nohup $(as_pg_prefix) "$STREAMMETRICS_PG_BIN/postgres" -D "$data" \
      -p "$STREAMMETRICS_PG_PORT" -c listen_addresses="$H" -k "$dir/run" \
      -c max_connections=100 -c shared_buffers=256MB \
      >>"$dir/postgres.log" 2>&1 </dev/null &
    record_pid postgres $!
  else
    sm_log "already running (pid $pid)"
  fi
  wait_until "PostgreSQL" "$dir/postgres.log" "$STREAMMETRICS_READY_TIMEOUT" \
    psql "postgresql://streammetrics@$H:$STREAMMETRICS_PG_PORT/postgres" -X -q -c "SELECT 1"
  if [ -z "$(psql "postgresql://streammetrics@$H:$STREAMMETRICS_PG_PORT/postgres" -X -t -A \
    -c "SELECT 1 FROM pg_database WHERE datname = 'streammetrics'")" ]; then
    psql "postgresql://streammetrics@$H:$STREAMMETRICS_PG_PORT/postgres" -X -q \
      -c "CREATE DATABASE streammetrics OWNER streammetrics"
  fi
  sm_log "ready on $H:$STREAMMETRICS_PG_PORT"
}

# start_redis: starts the stack's Redis 7 unless it runs (append-only file on, so cached windows
# survive a restart) and waits until it answers. Used by up.sh and redis-ctl.sh.
start_redis() {
  SM_COMPONENT=redis
  local pid
  mkdir -p "$STATE/redis"
  if pid=$(running_pid redis); then sm_log "already running (pid $pid)"; return; fi
  require_free_port redis "$STREAMMETRICS_REDIS_PORT"
  setsid nohup redis-server --bind "$H" --port "$STREAMMETRICS_REDIS_PORT" \
    --dir "$STATE/redis" --appendonly yes --appendfsync everysec --save "" \
    --logfile "$STATE/redis/redis.log" --daemonize no </dev/null >/dev/null 2>&1 &
  record_pid redis $!
  wait_until "Redis" "$STATE/redis/redis.log" "$STREAMMETRICS_READY_TIMEOUT" redis_ready
  sm_log "ready on $H:$STREAMMETRICS_REDIS_PORT"
}

# redis_ready: Redis answers PONG. Not just redis-cli's exit code, which is 0 also for the LOADING
# error Redis answers while it replays its append-only file after a restart.
redis_ready() {
  [ "$(redis-cli -h "$H" -p "$STREAMMETRICS_REDIS_PORT" ping 2>/dev/null)" = PONG ]
}

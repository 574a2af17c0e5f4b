# bench_lib.sh: helpers the benchmark scripts share; source it after deploy/local/lib.sh.
# Functions only: nothing runs when it is sourced. sm_die (lib.sh) reports failures; the caller's
# $out names the directory for logs, $root the checkout and $build the release build directory.

json_number() {  # file key: the first "key":number in the file, empty when there is none
  grep -o "\"$2\":[-0-9.e+]*" "$1" 2>/dev/null | head -n 1 | cut -d: -f2 || true
}

# Dies unless every argument is a number: a stage that failed must not skew the ones after it.
require_numbers() {  # what value...
  local what="$1"
  shift
  for v in "$@"; do
    [[ "$v" =~ ^[0-9]+(\.[0-9]+)?$ ]] || sm_die "$what: no measurement (see the logs in $out)"
  done
}

kafka_topics() {
  java -cp "$STREAMMETRICS_KAFKA_LIBS/*" -Dlog4j.configuration=file:/dev/null \
    org.apache.kafka.tools.TopicCommand --bootstrap-server "$STREAMMETRICS_KAFKA_BOOTSTRAP" "$@"
}

ticks() {  # pid...: their utime + stime so far (every thread), in clock ticks
  local sum=0 pid t
  for pid in "$@"; do
    # Fields counted after "pid (command) ", since a command may hold spaces.
    t=$(awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$pid/stat" 2>/dev/null) || t=0
    sum=$((sum + ${t:-0}))
  done
  echo "$sum"
}

# topic_spread TOPIC PARTITIONS: every broker reports the topic with its partitions (KRaft
# spreads new topics asynchronously; a producer that asks too early gets UNKNOWN_TOPIC).
topic_spread() {
  local broker
  for broker in ${STREAMMETRICS_KAFKA_BOOTSTRAP//,/ }; do
    kcat -L -b "$broker" -t "$1" -m 5 2>/dev/null |
      grep -q "topic \"$1\" with $2 partitions" || return 1
  done
}

# scratch_topic NAME: creates a topic laid out like metrics-events (6 partitions, 3 replicas,
# min.insync.replicas 2) and returns once every broker knows it.
scratch_topic() {
  kafka_topics --create --topic "$1" --partitions 6 --replication-factor 3 \
    --config min.insync.replicas=2 >/dev/null 2>&1 || sm_die "could not create the topic $1"
  wait_until "the scratch topic $1" /dev/null 60 topic_spread "$1" 6
}

# bench_stack_up TARGET...: brings the local stack and both services up (release build, no demo)
# and builds the benchmark's own TARGETs; logs go to $out/up.log and $out/build.log.
bench_stack_up() {
  sm_log "bringing up the stack and the services (release build)"
  STREAMMETRICS_SKIP_DEMO=1 "$root/deploy/local/up.sh" >"$out/up.log" 2>&1 ||
    { tail -n 20 "$out/up.log" >&2; sm_die "up.sh failed; see $out/up.log"; }
  cmake --build "$build" --target "$@" >"$out/build.log" 2>&1 ||
    { tail -n 20 "$out/build.log" >&2; sm_die "build failed; see $out/build.log"; }
}

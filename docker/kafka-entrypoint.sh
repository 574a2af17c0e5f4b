#!/bin/sh
# Starts one combined broker+controller KRaft node. NODE_ID (1..3) and CLUSTER_ID come from the
# environment; with a command (e.g. TopicCommand arguments) it runs that instead of a broker.
set -eu
CP='/opt/kafka/libs/*'
if [ "$#" -gt 0 ]; then exec java -cp "$CP" -Dlog4j.configuration=file:/dev/null "$@"; fi
: "${NODE_ID:?}" "${CLUSTER_ID:?}"
mkdir -p /var/lib/kafka/data /var/lib/kafka/logs
cat >/var/lib/kafka/server.properties <<PROPS
process.roles=broker,controller
node.id=$NODE_ID
controller.quorum.voters=1@kafka-1:9093,2@kafka-2:9093,3@kafka-3:9093
listeners=INTERNAL://0.0.0.0:9092,CONTROLLER://0.0.0.0:9093,EXTERNAL://0.0.0.0:${EXTERNAL_PORT}
advertised.listeners=INTERNAL://kafka-$NODE_ID:9092,EXTERNAL://127.0.0.1:${EXTERNAL_PORT}
listener.security.protocol.map=INTERNAL:PLAINTEXT,CONTROLLER:PLAINTEXT,EXTERNAL:PLAINTEXT
controller.listener.names=CONTROLLER
inter.broker.listener.name=INTERNAL
log.dirs=/var/lib/kafka/data
default.replication.factor=3
min.insync.replicas=2
offsets.topic.replication.factor=3
transaction.state.log.replication.factor=3
transaction.state.log.min.isr=2
auto.create.topics.enable=false
group.initial.rebalance.delay.ms=0
unclean.leader.election.enable=false
# A node that stops answering (a long GC pause, SIGSTOP, a frozen VM) is fenced by the controller
# after its broker session lapses, which moves its partition leaderships and drops it from every
# ISR: acks=all writes go on with the other two. 6 s (Kafka's default is 9 s) with a heartbeat
# every 1.5 s, so that with the clients' 8 s socket timeout acks resume within 10 s of a stall
# (docs/latency.md); still four heartbeats of slack for GC pauses on a loaded machine.
broker.session.timeout.ms=6000
broker.heartbeat.interval.ms=1500
PROPS
[ -f /var/lib/kafka/data/meta.properties ] ||
  java -cp "$CP" kafka.tools.StorageTool format -t "$CLUSTER_ID" -c /var/lib/kafka/server.properties
exec java -Xms512m -Xmx512m -XX:+UseG1GC -Djava.awt.headless=true \
  -Dlog4j.configuration=file:/opt/kafka/log4j.properties -Dkafka.logs.dir=/var/lib/kafka/logs \
  -cp "$CP" kafka.Kafka /var/lib/kafka/server.properties

#!/usr/bin/env bash
# A single-node Apache Kafka broker (KRaft, broker and controller in one JVM) for integration tests.
#
#   kafka.sh fetch     resolve the broker's jars into the cache (once per Kafka version and pom)
#   kafka.sh up        start a fresh broker and wait until it serves metadata and creates topics
#   kafka.sh down      stop it and drop its data
#   kafka.sh brokers   print the address for TITAN_KAFKA_BROKERS
#   kafka.sh pid       print the running broker's process id (the benchmarks read its CPU time)
#
# The jars come from Maven Central through deploy/kafka/pom.xml because that is the registry the
# project's machines reach; the release tarball is not served there. Every up starts from an empty
# data dir so no test sees topics or offsets left by an earlier run.
#
# Environment: TITAN_CACHE_DIR (default ~/.cache/titan), TITAN_KAFKA_PORT (19092),
# TITAN_KAFKA_CONTROLLER_PORT (19093), TITAN_KAFKA_WAIT (90s).
set -euo pipefail

name=kafka
# shellcheck source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

port="${TITAN_KAFKA_PORT:-19092}"
controller_port="${TITAN_KAFKA_CONTROLLER_PORT:-19093}"
wait_for="${TITAN_KAFKA_WAIT:-90s}"

run="$root/.run/kafka"
pidfile="$run/kafka.pid"

stop() { stop_broker "$pidfile" broker; }

write_config() {
  cat >"$run/server.properties" <<EOF
# Written by deploy/kafka/kafka.sh for one test run; rewritten by every up.
process.roles=broker,controller
node.id=1
controller.quorum.bootstrap.servers=127.0.0.1:$controller_port
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$controller_port
advertised.listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$controller_port
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$run/data

# One node: every internal topic must be satisfiable with a single replica.
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1

# The first group join and the first transaction create these topics; 50 partitions each (the
# default) costs seconds on a 2-core machine and buys nothing with one broker.
offsets.topic.num.partitions=4
transaction.state.log.num.partitions=4

# Tests create every topic they use; a typo must fail rather than create a topic.
auto.create.topics.enable=false
num.partitions=1
group.initial.rebalance.delay.ms=0

# Small segments and indexes: many short-lived test topics, little data in each.
log.segment.bytes=8388608
log.index.size.max.bytes=1048576
offsets.topic.segment.bytes=8388608
transaction.state.log.segment.bytes=8388608
# The cleaner's dedupe buffer is allocated on the heap at startup (128 MiB by default).
log.cleaner.dedupe.buffer.size=16777216

num.network.threads=2
num.io.threads=4
EOF
}

up() {
  fetch
  stop
  if port_taken "$port" || port_taken "$controller_port"; then
    die "127.0.0.1:$port or :$controller_port is already in use" \
      "(set TITAN_KAFKA_PORT / TITAN_KAFKA_CONTROLLER_PORT)"
  fi
  need_java

  rm -rf "$run"
  mkdir -p "$run/data" "$run/logs"
  write_config

  local id
  id="$(new_cluster_id)"
  format_storage "$run/server.properties" "$run/logs" "$id" --standalone
  say "formatted $run/data (cluster $id)"

  launch_broker "$run/server.properties" "$run/logs" "$pidfile" 512m
  local pid
  pid="$(cat "$pidfile")"
  say "started broker $version (pid $pid) on 127.0.0.1:$port, logs in $run/logs"

  # Built after the JVM is launched so the two overlap: on a fresh Go build cache this build takes
  # about half a minute on 2 cores, longer than the broker's startup.
  if ! build_kafkawait "$run/kafkawait"; then
    stop
    die "building kafkawait failed"
  fi
  if ! "$run/kafkawait" -brokers "127.0.0.1:$port" -timeout "$wait_for" -pid "$pid"; then
    printf -- '--- %s/logs/kafka.out\n' "$run" >&2
    tail -n 20 "$run/logs/kafka.out" >&2 || true
    printf -- '--- %s/logs/server.log\n' "$run" >&2
    tail -n 60 "$run/logs/server.log" >&2 || true
    stop
    die "broker did not come up"
  fi
  say "broker ready: TITAN_KAFKA_BROKERS=127.0.0.1:$port"
}

down() {
  stop
  rm -rf "$run/data"
}

case "${1:-}" in
  fetch) fetch ;;
  up) up ;;
  down) down ;;
  brokers) printf '127.0.0.1:%s\n' "$port" ;;
  pid) cat "$pidfile" ;;
  *) die "usage: $0 fetch|up|down|brokers|pid" ;;
esac

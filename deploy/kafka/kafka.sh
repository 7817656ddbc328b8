#!/usr/bin/env bash
# A single-node Apache Kafka broker (KRaft, broker and controller in one JVM) for integration tests.
#
#   kafka.sh fetch     resolve the broker's jars into the cache (once per Kafka version and pom)
#   kafka.sh up        start a fresh broker and wait until it serves metadata and creates topics
#   kafka.sh down      stop it and drop its data
#   kafka.sh brokers   print the address for TITAN_KAFKA_BROKERS
#
# The jars come from Maven Central through deploy/kafka/pom.xml because that is the registry the
# project's machines reach; the release tarball is not served there. Every up starts from an empty
# data dir so no test sees topics or offsets left by an earlier run.
#
# Environment: TITAN_CACHE_DIR (default ~/.cache/titan), TITAN_KAFKA_PORT (19092),
# TITAN_KAFKA_CONTROLLER_PORT (19093), TITAN_KAFKA_WAIT (90s).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
pom="$here/pom.xml"

version="$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$pom")"
cache="${TITAN_CACHE_DIR:-$HOME/.cache/titan}/kafka-$version"
libs="$cache/libs"
marker="$cache/libs.complete"

port="${TITAN_KAFKA_PORT:-19092}"
controller_port="${TITAN_KAFKA_CONTROLLER_PORT:-19093}"
wait_for="${TITAN_KAFKA_WAIT:-90s}"

run="$root/.run/kafka"
pidfile="$run/kafka.pid"

say() { printf 'kafka: %s\n' "$*"; }
die() { printf 'kafka: %s\n' "$*" >&2; exit 1; }

# The marker holds the pom's checksum, so editing the pom (a new runtime jar, say) refetches even
# when the Kafka version, and with it the cache dir, stays the same.
pom_sum() { sha256sum "$pom" | cut -d' ' -f1; }

fetch() {
  if [[ -f "$marker" && "$(cat "$marker")" == "$(pom_sum)" ]]; then
    say "jars for $version cached in $libs"
    return
  fi
  command -v mvn >/dev/null || die "mvn not found: install Maven to fetch the broker's jars"
  mkdir -p "$cache"
  local tmp="$cache/libs.tmp.$$"
  rm -rf "$tmp" "$marker"
  # Copy into a private dir and rename it into place, so an interrupted fetch never leaves a
  # partial classpath that a later up would trust.
  if ! mvn -B -q -Dstyle.color=never -f "$pom" dependency:copy-dependencies \
      -DincludeScope=runtime -DoutputDirectory="$tmp" >"$cache/fetch.log" 2>&1; then
    rm -rf "$tmp"
    tail -n 40 "$cache/fetch.log" >&2
    die "fetching jars for $version failed (full log: $cache/fetch.log)"
  fi
  rm -rf "$libs"
  mv "$tmp" "$libs"
  pom_sum >"$marker"
  say "fetched jars for $version into $libs"
}

# Succeeds only for a live broker started by this script: a pid file can outlive its process, and
# the pid may since have gone to something else that must not be signalled.
running_pid() {
  [[ -f "$pidfile" ]] || return 1
  local pid
  pid="$(cat "$pidfile")"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q 'kafka\.Kafka' || return 1
  printf '%s\n' "$pid"
}

stop() {
  local pid
  if pid="$(running_pid)"; then
    kill -TERM "$pid" 2>/dev/null || true
    # A clean shutdown takes a few seconds; past 30 the data dir is about to be dropped anyway.
    local i
    for ((i = 0; i < 300; i++)); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
      kill -KILL "$pid" 2>/dev/null || true
      say "broker (pid $pid) ignored SIGTERM for 30s, killed"
    else
      say "stopped broker (pid $pid)"
    fi
  fi
  rm -f "$pidfile"
}

port_taken() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

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
  command -v java >/dev/null || die "java not found: Kafka $version needs Java 17 or newer"

  rm -rf "$run"
  mkdir -p "$run/data" "$run/logs"
  write_config

  local cp="$libs/*"
  local jvm=(-Djava.awt.headless=true "-Dkafka.logs.dir=$run/logs"
    "-Dlog4j2.configurationFile=$here/log4j2.properties")

  # A cluster id is 16 random bytes in unpadded URL-safe base64; Kafka refuses ids that start with
  # '-' because they read as a flag.
  local id
  id="$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=')"
  if [[ "$id" == -* ]]; then id="A${id:1}"; fi
  # The format tool runs for two seconds; C1 only and the serial collector shave a third off that.
  if ! java -XX:TieredStopAtLevel=1 -XX:+UseSerialGC "${jvm[@]}" -cp "$cp" \
      kafka.tools.StorageTool format -t "$id" -c "$run/server.properties" --standalone \
      >"$run/logs/format.log" 2>&1; then
    cat "$run/logs/format.log" >&2
    die "formatting $run/data failed"
  fi
  say "formatted $run/data (cluster $id)"

  # Started through a subshell so the JVM is reparented away from this script: it must outlive
  # `make`'s shell, and once it exits nobody but init should have to reap it (a zombie would still
  # look alive to kafkawait's -pid check). setsid keeps a Ctrl-C in the terminal from reaching it.
  (
    exec setsid java -Xmx512m -XX:+ExitOnOutOfMemoryError "${jvm[@]}" -cp "$cp" \
      kafka.Kafka "$run/server.properties" </dev/null >"$run/logs/kafka.out" 2>&1 &
    echo $! >"$pidfile"
  )
  local pid
  pid="$(cat "$pidfile")"
  say "started broker $version (pid $pid) on 127.0.0.1:$port, logs in $run/logs"

  # Built after the JVM is launched so the two overlap: on a fresh Go build cache this build takes
  # about half a minute on 2 cores, longer than the broker's startup.
  if ! (cd "$root" && go build -o "$run/kafkawait" ./deploy/kafka/kafkawait); then
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
  *) die "usage: $0 fetch|up|down|brokers" ;;
esac

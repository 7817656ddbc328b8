#!/usr/bin/env bash
# A three-node Apache Kafka cluster on loopback for the tests of how Titan survives a broker's loss.
# Each node is a broker and a KRaft controller in one JVM; the three form a static controller quorum
# (controller.quorum.voters), so any one of them can die and the other two still elect a leader.
# Topics default to replication 3 with min.insync.replicas 2: a write acknowledged by all in-sync
# replicas survives the loss of any one node, and writes go on while one is down.
#
#   cluster.sh fetch     resolve the broker's jars into the cache (shared with kafka.sh)
#   cluster.sh up        start three fresh nodes and wait until all three serve
#   cluster.sh down      kill them and drop their data
#   cluster.sh brokers   print the addresses for TITAN_KAFKA_CLUSTER_BROKERS
#   cluster.sh kill N    SIGKILL node N (1-3), as a crash or a pulled plug would stop it
#   cluster.sh stop N    stop node N cleanly
#   cluster.sh start N   start node N again on its data and wait until it is back in the cluster
#   cluster.sh status    say which nodes run
#
# Node N listens on 127.0.0.1 only: clients on TITAN_KAFKA_CLUSTER_PORT + 2(N-1) (29092, 29094,
# 29096), the controller quorum on the port after it (29093, 29095, 29097). Data and logs live in
# .run/kafka-cluster/N, apart from kafka.sh's single broker, which may run beside it.
#
# Environment: TITAN_CACHE_DIR (default ~/.cache/titan), TITAN_KAFKA_CLUSTER_PORT (29092),
# TITAN_KAFKA_CLUSTER_HEAP (384m per node), TITAN_KAFKA_WAIT (60s per attempt).
set -euo pipefail

name=kafka-cluster
# shellcheck source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

base="${TITAN_KAFKA_CLUSTER_PORT:-29092}"
heap="${TITAN_KAFKA_CLUSTER_HEAP:-384m}"
wait_for="${TITAN_KAFKA_WAIT:-60s}"
nodes=(1 2 3)

run="$root/.run/kafka-cluster"

client_port() { echo $((base + 2 * ($1 - 1))); }
controller_port() { echo $((base + 2 * ($1 - 1) + 1)); }
node_dir() { echo "$run/$1"; }
pidfile() { echo "$run/$1/kafka.pid"; }

brokers() {
  local n out=()
  for n in "${nodes[@]}"; do out+=("127.0.0.1:$(client_port "$n")"); done
  (IFS=,; echo "${out[*]}")
}

voters() {
  local n out=()
  for n in "${nodes[@]}"; do out+=("$n@127.0.0.1:$(controller_port "$n")"); done
  (IFS=,; echo "${out[*]}")
}

check_node() {
  [[ "${1:-}" =~ ^[1-3]$ ]] || die "node must be 1, 2 or 3, not '${1:-}'"
}

write_config() {
  local n="$1" dir port cport
  dir="$(node_dir "$n")"
  port="$(client_port "$n")"
  cport="$(controller_port "$n")"
  cat >"$dir/server.properties" <<EOF
# Written by deploy/kafka/cluster.sh for one test run; rewritten by every up.
process.roles=broker,controller
node.id=$n
controller.quorum.voters=$(voters)
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport
advertised.listeners=PLAINTEXT://127.0.0.1:$port
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$dir/data

# Three replicas, two of which must hold a write before it is acknowledged, everywhere: the topics
# clients create, the group offsets and the transaction log.
default.replication.factor=3
min.insync.replicas=2
offsets.topic.replication.factor=3
transaction.state.log.replication.factor=3
transaction.state.log.min.isr=2
share.coordinator.state.topic.replication.factor=3
share.coordinator.state.topic.min.isr=2
# Never elect a replica that lacks acknowledged writes, whatever the wait.
unclean.leader.election.enable=false

# How soon a node that died is noticed. The controller fences a broker whose heartbeats stop for
# broker.session.timeout.ms (9 s by default) and only then moves its partitions' leadership to the
# survivors; until then clients are told to write to a leader that is gone, which is most of a
# broker kill's failover. 3 s with a heartbeat every 500 ms: six heartbeats may go missing on a
# busy machine before a live node is fenced.
broker.session.timeout.ms=3000
broker.heartbeat.interval.ms=500
# Each node is also a controller. When the node killed is the active one, the others first notice
# that it stopped answering their fetches (2 s by default), elect a new one, and that one gives every
# broker a fresh session before it fences any: the dead node's partitions move 3 s after the
# election. 1 s here; a follower that misses it on a busy machine only asks for a pre-vote
# (KIP-996), which a live leader's voters refuse.
controller.quorum.fetch.timeout.ms=1000
# A follower that stops fetching leaves the ISR after this long; a dead node's replicas are dropped
# from it sooner, when the controller fences the node.
replica.lag.time.max.ms=10000

# The first group join and the first transaction create these topics; 50 partitions each (the
# default) costs seconds on a 2-core machine and buys nothing here.
offsets.topic.num.partitions=4
transaction.state.log.num.partitions=4

# Tests create every topic they use; a typo must fail rather than create a topic.
auto.create.topics.enable=false
num.partitions=1
group.initial.rebalance.delay.ms=0
# The least session timeout a group member may ask for (6 s by default): lowered so the tests can
# measure Titan's failover with a short --group-session-timeout as well as with the default.
group.min.session.timeout.ms=1000

# Small segments and indexes: many short-lived test topics, little data in each.
log.segment.bytes=8388608
log.index.size.max.bytes=1048576
offsets.topic.segment.bytes=8388608
transaction.state.log.segment.bytes=8388608
# The cleaner's dedupe buffer is allocated on the heap at startup (128 MiB by default).
log.cleaner.dedupe.buffer.size=16777216

# Three JVMs share two cores with the tests and Titan.
num.network.threads=2
num.io.threads=2
num.replica.fetchers=1
background.threads=2
EOF
}

# launch N starts node N's JVM on its existing config and data.
launch() {
  local n="$1" dir
  dir="$(node_dir "$n")"
  printf '=== %s: start node %s\n' "$(date -u +%FT%T.%3NZ)" "$n" >>"$dir/logs/kafka.out"
  launch_broker "$dir/server.properties" "$dir/logs" "$(pidfile "$n")" "$heap"
}

# await PID [N] waits until the whole cluster serves: three brokers registered and unfenced, and a
# topic with three replicas can be created. PID is a node just started, whose death ends the wait.
# Given N, the node restarted, it first waits for N itself to serve and catch up (kafkawait -rejoined).
await() {
  local pid="$1" extra=()
  if [[ -n "${2:-}" ]]; then extra=(-rejoined "$2@127.0.0.1:$(client_port "$2")"); fi
  if ! "$run/kafkawait" -brokers "$(brokers)" -replication 3 -timeout "$wait_for" -pid "$pid" "${extra[@]}"; then
    local n
    for n in "${nodes[@]}"; do
      printf -- '--- %s/logs/server.log\n' "$(node_dir "$n")" >&2
      tail -n 30 "$(node_dir "$n")/logs/server.log" >&2 || true
    done
    return 1
  fi
}

# start_fresh formats three empty nodes, starts them and waits until all three serve; it fails
# with the nodes killed when they do not.
start_fresh() {
  # Their data is about to be dropped: no need for a clean shutdown.
  if [[ -d "$run" ]]; then kill_all; fi
  ports_free
  local n
  for n in "${nodes[@]}"; do
    if port_taken "$(client_port "$n")" || port_taken "$(controller_port "$n")"; then
      die "127.0.0.1:$(client_port "$n") or :$(controller_port "$n") is already in use (set TITAN_KAFKA_CLUSTER_PORT)"
    fi
  done

  rm -rf "$run"
  local id
  id="$(new_cluster_id)"
  for n in "${nodes[@]}"; do
    mkdir -p "$(node_dir "$n")/data" "$(node_dir "$n")/logs"
    write_config "$n"
  done
  # The three formats are independent; run together they take one format's time.
  local pids=()
  for n in "${nodes[@]}"; do
    (format_storage "$(node_dir "$n")/server.properties" "$(node_dir "$n")/logs" "$id") &
    pids+=($!)
  done
  for n in "${pids[@]}"; do
    wait "$n" || die "formatting failed"
  done
  say "formatted three nodes (cluster $id)"

  for n in "${nodes[@]}"; do launch "$n"; done
  say "started nodes 1-3 ($version, heap $heap each) on $(brokers), logs in $run/N/logs"
  if ! build_kafkawait "$run/kafkawait"; then
    kill_all
    die "building kafkawait failed"
  fi
  if ! await "$(cat "$(pidfile 1)")"; then
    kill_all
    return 1
  fi
}

# up starts a fresh cluster, and tries a second time when the first does not come up, keeping the
# first attempt's logs in .run/kafka-cluster-failed. The "node that never registers" this was added
# for was kafkawait's doing, not the cluster's: it counted brokers from its client's cached list,
# fetched while the last node was still fenced (see everySeedLists in kafkawait). With that fixed,
# every first attempt tried came up, so a second attempt in the output is a new problem to look into.
up() {
  fetch
  need_java
  local failed="$root/.run/kafka-cluster-failed"
  if ! start_fresh; then
    rm -rf "$failed"
    mkdir -p "$failed"
    local n
    for n in "${nodes[@]}"; do cp -r "$(node_dir "$n")/logs" "$failed/$n" 2>/dev/null || true; done
    say "the cluster did not come up; its logs are in $failed; starting it again"
    start_fresh || die "the cluster did not come up twice"
  fi
  say "cluster ready: TITAN_KAFKA_CLUSTER_BROKERS=$(brokers)"
}

# kill_all SIGKILLs every node: down drops their data anyway, and a clean shutdown of the last
# nodes waits 30 s for a controller quorum that the first ones took with them.
kill_all() {
  local n pid pids=()
  for n in "${nodes[@]}"; do
    if pid="$(running_pid "$(pidfile "$n")")"; then
      kill -KILL "$pid" 2>/dev/null || true
      pids+=("$pid")
      say "killed node $n (pid $pid)"
    fi
  done
  # Gone only once the kernel has closed their sockets, which a following up needs free.
  local i
  for pid in "${pids[@]}"; do
    for ((i = 0; i < 500; i++)); do
      process_alive "$pid" || break
      sleep 0.01
    done
  done
  return 0
}

# ports_free waits up to 10 s for every node's ports to be free.
ports_free() {
  local n i
  for n in "${nodes[@]}"; do
    for ((i = 0; i < 100; i++)); do
      port_taken "$(client_port "$n")" || port_taken "$(controller_port "$n")" || break
      sleep 0.1
    done
  done
}

down() {
  kill_all
  rm -rf "$run"
}

kill_node() {
  local n="$1" pid
  check_node "$n"
  pid="$(running_pid "$(pidfile "$n")")" || die "node $n is not running"
  kill -KILL "$pid"
  # Gone only once the kernel has closed its sockets: a test that restarts it at once needs the
  # ports free, and a test that times the failover needs the moment of death.
  local i
  for ((i = 0; i < 200; i++)); do
    process_alive "$pid" || break
    sleep 0.01
  done
  say "killed node $n (pid $pid) with SIGKILL"
}

stop_node() {
  check_node "$1"
  stop_broker "$(pidfile "$1")" "node $1"
}

start_node() {
  local n="$1" pid
  check_node "$n"
  [[ -f "$(node_dir "$n")/server.properties" ]] || die "no node $n: run up first"
  if pid="$(running_pid "$(pidfile "$n")")"; then
    die "node $n is running (pid $pid)"
  fi
  local i
  for ((i = 0; i < 100; i++)); do
    port_taken "$(client_port "$n")" || port_taken "$(controller_port "$n")" || break
    sleep 0.1
  done
  launch "$n"
  pid="$(cat "$(pidfile "$n")")"
  await "$pid" "$n" || die "node $n did not rejoin the cluster"
  say "node $n (pid $pid) back in the cluster"
}

status() {
  local n pid
  for n in "${nodes[@]}"; do
    if pid="$(running_pid "$(pidfile "$n")")"; then
      say "node $n running (pid $pid) on 127.0.0.1:$(client_port "$n")"
    else
      say "node $n not running"
    fi
  done
}

case "${1:-}" in
  fetch) fetch ;;
  up) up ;;
  down) down ;;
  brokers) brokers ;;
  kill) kill_node "${2:-}" ;;
  stop) stop_node "${2:-}" ;;
  start) start_node "${2:-}" ;;
  status) status ;;
  *) die "usage: $0 fetch|up|down|brokers|kill N|stop N|start N|status" ;;
esac

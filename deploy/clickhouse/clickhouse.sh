#!/usr/bin/env bash
# A ClickHouse server for integration tests: Debian's clickhouse-server (18.16), installed with
# apt-get when it is missing and started by hand, without systemd, on 127.0.0.1 only, with its data
# under .run/clickhouse.
#
#   clickhouse.sh up      install if missing, start a fresh server, wait until it answers a query
#   clickhouse.sh down    stop it and drop its data
#   clickhouse.sh stop    stop it and keep its data; start runs it again on that data
#   clickhouse.sh start
#   clickhouse.sh addr    print the address for TITAN_CLICKHOUSE_ADDR (the native protocol's port)
#
# Every up starts from an empty data dir, so no test sees tables left by an earlier run.
#
# Environment: TITAN_CLICKHOUSE_PORT (19000, native protocol), TITAN_CLICKHOUSE_HTTP_PORT (18123),
# TITAN_CLICKHOUSE_WAIT (seconds, 60), TITAN_CLICKHOUSE_RUN (the server's directory, .run/clickhouse;
# a test that stops a server of its own runs it in a directory and on ports of its own).
set -euo pipefail

name=clickhouse
say() { printf '%s: %s\n' "$name" "$*"; }
die() { printf '%s: %s\n' "$name" "$*" >&2; exit 1; }

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
port="${TITAN_CLICKHOUSE_PORT:-19000}"
http_port="${TITAN_CLICKHOUSE_HTTP_PORT:-18123}"
wait_for="${TITAN_CLICKHOUSE_WAIT:-60}"
run="${TITAN_CLICKHOUSE_RUN:-$root/.run/clickhouse}"
pidfile="$run/clickhouse.pid"

install() {
  if command -v clickhouse-server >/dev/null 2>&1 && command -v clickhouse-client >/dev/null 2>&1; then
    return
  fi
  command -v apt-get >/dev/null 2>&1 || die "clickhouse-server is missing and there is no apt-get to install it"
  say "installing Debian's clickhouse-server and clickhouse-client"
  # The package's own service is never started: there is no systemd here, and the tests run their
  # own server on ports of their own.
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q clickhouse-server clickhouse-client >/dev/null ||
    { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q clickhouse-server clickhouse-client >/dev/null; } ||
    die "apt-get could not install clickhouse-server"
}

running_pid() {
  [[ -f $pidfile ]] || return 1
  local pid
  pid=$(cat "$pidfile")
  [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null && echo "$pid"
}

write_config() {
  mkdir -p "$run/data" "$run/tmp" "$run/user_files" "$run/format_schemas" "$run/log"
  # 18.16 reads <yandex>; current ClickHouse reads it too.
  cat >"$run/config.xml" <<XML
<?xml version="1.0"?>
<!-- Written by deploy/clickhouse/clickhouse.sh for one test run; rewritten by every up. -->
<yandex>
    <logger>
        <level>warning</level>
        <log>$run/log/server.log</log>
        <errorlog>$run/log/error.log</errorlog>
        <size>10M</size>
        <count>2</count>
    </logger>
    <listen_host>127.0.0.1</listen_host>
    <tcp_port>$port</tcp_port>
    <http_port>$http_port</http_port>
    <path>$run/data/</path>
    <tmp_path>$run/tmp/</tmp_path>
    <user_files_path>$run/user_files/</user_files_path>
    <format_schema_path>$run/format_schemas/</format_schema_path>
    <users_config>$run/users.xml</users_config>
    <default_profile>default</default_profile>
    <default_database>default</default_database>
    <mark_cache_size>67108864</mark_cache_size>
    <uncompressed_cache_size>67108864</uncompressed_cache_size>
    <max_concurrent_queries>50</max_concurrent_queries>
</yandex>
XML
  cat >"$run/users.xml" <<XML
<?xml version="1.0"?>
<yandex>
    <profiles>
        <default>
            <max_memory_usage>2000000000</max_memory_usage>
        </default>
    </profiles>
    <users>
        <default>
            <password></password>
            <networks>
                <ip>127.0.0.1</ip>
            </networks>
            <profile>default</profile>
            <quota>default</quota>
        </default>
    </users>
    <quotas>
        <default>
            <interval>
                <duration>3600</duration>
                <queries>0</queries>
                <errors>0</errors>
                <result_rows>0</result_rows>
                <read_rows>0</read_rows>
                <execution_time>0</execution_time>
            </interval>
        </default>
    </quotas>
</yandex>
XML
}

up() {
  install
  if pid=$(running_pid); then
    die "a server is already running (pid $pid); run '$0 down' first"
  fi
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    die "127.0.0.1:$port is taken by another process"
  fi
  rm -rf "$run"
  mkdir -p "$run"
  write_config
  start
}

start() {
  install
  if pid=$(running_pid); then
    die "a server is already running (pid $pid)"
  fi
  [[ -f $run/config.xml ]] || die "no server in $run; run '$0 up' first"
  setsid clickhouse-server --config-file="$run/config.xml" >>"$run/log/stdout.log" 2>&1 </dev/null &
  echo $! >"$pidfile"
  local deadline=$((SECONDS + wait_for))
  until clickhouse-client --host 127.0.0.1 --port "$port" --query 'SELECT 1' >/dev/null 2>&1; do
    if ((SECONDS >= deadline)); then
      tail -n 20 "$run/log/error.log" "$run/log/stdout.log" >&2 2>/dev/null || true
      down >/dev/null 2>&1 || true
      die "the server did not answer within ${wait_for}s"
    fi
    sleep 0.2
  done
  local version
  version=$(clickhouse-client --host 127.0.0.1 --port "$port" --query 'SELECT version()')
  say "started server $version (pid $(running_pid || echo '?')) on 127.0.0.1:$port, logs in $run/log"
  say "server ready: TITAN_CLICKHOUSE_ADDR=127.0.0.1:$port"
}

stop() {
  local pid
  if pid=$(running_pid); then
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -9 "$pid" 2>/dev/null || true
    say "stopped server (pid $pid)"
  fi
  rm -f "$pidfile"
}

down() {
  stop
  rm -rf "$run"
}

case "${1:-}" in
up) up ;;
down) down ;;
stop) stop ;;
start) start ;;
addr) echo "127.0.0.1:$port" ;;
*)
  echo "usage: $0 up|down|stop|start|addr" >&2
  exit 2
  ;;
esac

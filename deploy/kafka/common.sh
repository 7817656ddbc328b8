# Shared by kafka.sh (one broker) and cluster.sh (three): where the broker's jars are cached, how
# they are fetched, how a broker JVM is started, found again and stopped. Sourced, not run; the
# caller sets `name` (the prefix of its messages) first.

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
pom="$here/pom.xml"

version="$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$pom")"
cache="${TITAN_CACHE_DIR:-$HOME/.cache/titan}/kafka-$version"
libs="$cache/libs"
marker="$cache/libs.complete"

say() { printf '%s: %s\n' "$name" "$*"; }
die() { printf '%s: %s\n' "$name" "$*" >&2; exit 1; }

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

# running_pid PIDFILE prints the pid of a live broker started from PIDFILE's script, and fails
# otherwise: a pid file can outlive its process, and the pid may since have gone to something else
# that must not be signalled.
running_pid() {
  local pidfile="$1" pid
  [[ -f "$pidfile" ]] || return 1
  pid="$(cat "$pidfile")"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q 'kafka\.Kafka' || return 1
  printf '%s\n' "$pid"
}

# stop_broker PIDFILE LABEL stops the broker cleanly, or kills it after 30 s, and drops PIDFILE.
stop_broker() {
  local pidfile="$1" label="$2" pid
  if pid="$(running_pid "$pidfile")"; then
    kill -TERM "$pid" 2>/dev/null || true
    # A clean shutdown takes a few seconds; past 30 the data dir is about to be dropped anyway.
    local i
    for ((i = 0; i < 300; i++)); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
      kill -KILL "$pid" 2>/dev/null || true
      say "$label (pid $pid) ignored SIGTERM for 30s, killed"
    else
      say "stopped $label (pid $pid)"
    fi
  fi
  rm -f "$pidfile"
}

# process_alive PID: running, and not a zombie waiting for init to reap it (kill -0 succeeds on one).
process_alive() {
  local stat
  stat="$(cat "/proc/$1/stat" 2>/dev/null)" || return 1
  stat="${stat##*) }"
  [[ "${stat:0:1}" != Z && "${stat:0:1}" != X ]]
}

port_taken() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

need_java() {
  command -v java >/dev/null || die "java not found: Kafka $version needs Java 17 or newer"
}

# new_cluster_id prints 16 random bytes in unpadded URL-safe base64; Kafka refuses ids that start
# with '-' because they read as a flag.
new_cluster_id() {
  local id
  id="$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=')"
  if [[ "$id" == -* ]]; then id="A${id:1}"; fi
  printf '%s\n' "$id"
}

# jvm_opts LOGDIR sets the array jvm to the options every Kafka JVM here runs with.
jvm_opts() {
  jvm=(-Djava.awt.headless=true "-Dkafka.logs.dir=$1"
    "-Dlog4j2.configurationFile=$here/log4j2.properties")
}

# format_storage CONFIG LOGDIR ID [ARGS...] formats the log dirs CONFIG names for cluster ID.
format_storage() {
  local config="$1" logdir="$2" id="$3"
  shift 3
  local jvm
  jvm_opts "$logdir"
  # The format tool runs for two seconds; C1 only and the serial collector shave a third off that.
  if ! java -XX:TieredStopAtLevel=1 -XX:+UseSerialGC "${jvm[@]}" -cp "$libs/*" \
      kafka.tools.StorageTool format -t "$id" -c "$config" "$@" >"$logdir/format.log" 2>&1; then
    cat "$logdir/format.log" >&2
    die "formatting the log dirs of $config failed"
  fi
}

# launch_broker CONFIG LOGDIR PIDFILE HEAP starts kafka.Kafka in the background and writes its pid.
launch_broker() {
  local config="$1" logdir="$2" pidfile="$3" heap="$4"
  local jvm
  jvm_opts "$logdir"
  # Started through a subshell so the JVM is reparented away from this script: it must outlive
  # `make`'s shell (or a test that restarts it), and once it exits nobody but init should have to
  # reap it (a zombie would still look alive to kafkawait's -pid check). setsid keeps a Ctrl-C in
  # the terminal from reaching it.
  (
    exec setsid java "-Xmx$heap" -XX:+ExitOnOutOfMemoryError "${jvm[@]}" -cp "$libs/*" \
      kafka.Kafka "$config" </dev/null >>"$logdir/kafka.out" 2>&1 &
    echo $! >"$pidfile"
  )
}

# build_kafkawait OUT builds the readiness probe.
build_kafkawait() {
  (cd "$root" && go build -o "$1" ./deploy/kafka/kafkawait)
}

#!/usr/bin/env bash
# The local Kafka broker for dev, tests and CI: one KRaft node (combined broker + controller) on
# 127.0.0.1, run from the jars that tools/kafka/pom.xml pins (fetched into .cache/kafka/libs).
#
#   scripts/kafka.sh fetch    fetch the pinned jars unless the stamp says they are there
#   scripts/kafka.sh start    start the broker (formats storage on first start), wait until it
#                             answers requests, print its bootstrap address on stdout
#   scripts/kafka.sh stop     SIGTERM, wait for exit, SIGKILL after MWLAKE_KAFKA_STOP_TIMEOUT
#   scripts/kafka.sh status   exit 0 and print the bootstrap address when it answers; 3 when stopped
#   scripts/kafka.sh ensure   fetch + start unless already running (test runner, .ci/run)
#
# Environment: MWLAKE_KAFKA_PORT (9092), MWLAKE_KAFKA_CONTROLLER_PORT (port + 1),
# MWLAKE_KAFKA_DATA (.cache/kafka/data/<port>), MWLAKE_KAFKA_LOGS (.cache/kafka/logs/<port>),
# MWLAKE_KAFKA_HEAP (1g), MWLAKE_KAFKA_JAVA_OPTS (extra JVM flags),
# MWLAKE_KAFKA_START_TIMEOUT (90 s), MWLAKE_KAFKA_STOP_TIMEOUT (30 s).
# Human messages go to stderr; stdout carries only the bootstrap address.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

POM=tools/kafka/pom.xml
CACHE=$ROOT/.cache/kafka
LIBS=$CACHE/libs
STAMP=$LIBS/.mwlake-stamp
PORT=${MWLAKE_KAFKA_PORT:-9092}
case $PORT in '' | *[!0-9]*) echo "kafka: MWLAKE_KAFKA_PORT must be a port number, found '$PORT'" >&2; exit 78 ;; esac
CONTROLLER_PORT=${MWLAKE_KAFKA_CONTROLLER_PORT:-$((PORT + 1))}
case $CONTROLLER_PORT in '' | *[!0-9]*) echo "kafka: MWLAKE_KAFKA_CONTROLLER_PORT must be a port number, found '$CONTROLLER_PORT'" >&2; exit 78 ;; esac
DATA=$(realpath -m "${MWLAKE_KAFKA_DATA:-$CACHE/data/$PORT}")
LOGS=$(realpath -m "${MWLAKE_KAFKA_LOGS:-$CACHE/logs/$PORT}")
RUN=$CACHE/run
PIDFILE=$RUN/$PORT.pid
CONFIG=$RUN/$PORT.properties
BOOTSTRAP=127.0.0.1:$PORT
HEAP=${MWLAKE_KAFKA_HEAP:-1g}
START_TIMEOUT=${MWLAKE_KAFKA_START_TIMEOUT:-90}
STOP_TIMEOUT=${MWLAKE_KAFKA_STOP_TIMEOUT:-30}

KAFKA_VERSION=$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$POM")
if [ -z "$KAFKA_VERSION" ]; then
  echo "kafka: no <kafka.version> in $POM" >&2
  exit 70
fi

say() { echo "kafka: $*" >&2; }
die() {
  local status=$1
  shift
  say "$*"
  exit "$status"
}

check_java() {
  command -v java >/dev/null 2>&1 \
    || die 69 "java not found; Kafka $KAFKA_VERSION needs Java 17 or newer (Debian: apt-get install openjdk-17-jre-headless)"
  local major
  major=$(java -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -1)
  if [ -z "$major" ] || [ "$major" -lt 17 ]; then
    die 69 "Kafka $KAFKA_VERSION needs Java 17 or newer, found: $(java -version 2>&1 | head -1)"
  fi
}

# The stamp names the version and hashes the pom, so changing any pin (log4j too) refetches.
stamp_value() { echo "kafka $KAFKA_VERSION pom-sha256 $(sha256sum "$POM" | cut -d' ' -f1)"; }

libs_up_to_date() {
  [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$(stamp_value)" ] && [ -f "$LIBS/kafka_2.13-$KAFKA_VERSION.jar" ]
}

cmd_fetch() {
  if libs_up_to_date; then
    say "jars for Kafka $KAFKA_VERSION are up to date in .cache/kafka/libs"
    return 0
  fi
  check_java
  command -v mvn >/dev/null 2>&1 || die 69 "mvn not found; it fetches the Kafka jars (Debian: apt-get install maven)"
  mkdir -p "$CACHE"
  # Two fetches at once (a developer and a test run) must not write the same folder.
  exec 9>"$CACHE/fetch.lock"
  flock -w 600 9 || die 75 "another fetch holds $CACHE/fetch.lock"
  if libs_up_to_date; then
    say "jars for Kafka $KAFKA_VERSION are up to date in .cache/kafka/libs"
    return 0
  fi
  say "fetching Kafka $KAFKA_VERSION jars from Maven Central into .cache/kafka/libs"
  local tmp=$CACHE/libs.tmp.$$ mvn_log
  rm -rf "$tmp"
  # Maven prints its errors on stdout; keep them for a failure only.
  if ! mvn_log=$(mvn --batch-mode --quiet --strict-checksums -Dstyle.color=never -f "$POM" \
    -Dmaven.repo.local="$ROOT/.cache/m2" \
    dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$tmp" 2>&1); then
    echo "$mvn_log" >&2
    rm -rf "$tmp"
    die 69 "fetching the Kafka jars with Maven failed"
  fi
  [ -f "$tmp/kafka_2.13-$KAFKA_VERSION.jar" ] || die 70 "Maven finished but kafka_2.13-$KAFKA_VERSION.jar is missing"
  stamp_value >"$tmp/.mwlake-stamp"
  # Swap the folder whole so a reader never sees half the jars.
  rm -rf "$LIBS.old"
  [ -d "$LIBS" ] && mv "$LIBS" "$LIBS.old"
  mv "$tmp" "$LIBS"
  rm -rf "$LIBS.old"
  if running_pid >/dev/null; then
    say "note: the running broker still uses the jars it started with; restart it to use Kafka $KAFKA_VERSION"
  fi
  say "fetched $(find "$LIBS" -name '*.jar' | wc -l) jars ($(du -sh "$LIBS" | cut -f1))"
}

# Start and stop of one port are serialized (a developer and a test run may race).
lock_port() {
  mkdir -p "$RUN"
  exec 8>"$RUN/$PORT.lock"
  flock -w $((START_TIMEOUT + STOP_TIMEOUT + 30)) 8 || die 75 "another start or stop holds $RUN/$PORT.lock"
}

# Prints the pid of the broker this checkout started on PORT, if it is still alive. The cmdline
# check guards against a recycled pid.
running_pid() {
  [ -f "$PIDFILE" ] || return 1
  local pid
  pid=$(cat "$PIDFILE")
  case $pid in '' | *[!0-9]*) return 1 ;; esac
  kill -0 "$pid" 2>/dev/null || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q "kafka.Kafka $CONFIG" || return 1
  echo "$pid"
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

probe() { node tools/kafka/probe.mjs "$BOOTSTRAP" "$@"; }

write_config() {
  mkdir -p "$RUN" "$DATA" "$LOGS"
  cat >"$CONFIG" <<EOF
# Written by scripts/kafka.sh on every start; edit the script, not this file.
# Single KRaft node: combined broker + controller, static one-voter quorum, 127.0.0.1 only.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$CONTROLLER_PORT
listeners=PLAINTEXT://127.0.0.1:$PORT,CONTROLLER://127.0.0.1:$CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=$DATA

# Sizes: Wikimedia producers allow 10 MiB events (max.request.size 10485760); 32 MiB lets tests
# also produce over-limit events. fetch.max.bytes caps one Fetch response across partitions.
message.max.bytes=33554432
replica.fetch.max.bytes=33554432
fetch.max.bytes=67108864
socket.request.max.bytes=104857600

# One node: replication factor 1 everywhere, few internal partitions so the first group or
# transaction does not wait for 50 partitions to be created.
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=4
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
num.partitions=1
# Topics are created on purpose (tests, setup); a typo must fail rather than create a topic.
auto.create.topics.enable=false

# Fast tests: no wait for more group members, quick compaction and retention passes.
group.initial.rebalance.delay.ms=0
log.cleaner.backoff.ms=1000
log.cleaner.dedupe.buffer.size=33554432
log.retention.check.interval.ms=5000
log.initial.task.delay.ms=1000

# Two shared cores: fewer threads than the defaults.
num.network.threads=2
num.io.threads=4
background.threads=4
num.recovery.threads.per.data.dir=1
EOF
}

format_storage() {
  [ -f "$DATA/meta.properties" ] && return 0
  # A KRaft cluster id is 16 random bytes in URL-safe base64 without padding (Uuid.toString).
  local cluster_id
  # One starting with '-' would be read as an option by the storage tool: draw again.
  cluster_id=-
  while [[ $cluster_id == -* ]]; do cluster_id=$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n'); done
  say "formatting $DATA (cluster id $cluster_id)"
  if ! java -Xmx256m -Dlog4j2.configurationFile="$ROOT/tools/kafka/log4j2.properties" -Dkafka.logs.dir="$LOGS" \
    -cp "$LIBS/*" kafka.tools.StorageTool format --cluster-id "$cluster_id" --config "$CONFIG" --ignore-formatted \
    >>"$LOGS/format.log" 2>&1; then
    tail -n 20 "$LOGS/format.log" >&2
    die 70 "formatting the storage in $DATA failed (full output in $LOGS/format.log)"
  fi
}

cmd_start() {
  check_java
  libs_up_to_date || die 69 "no jars for Kafka $KAFKA_VERSION in .cache/kafka/libs; run: bash scripts/kafka.sh fetch"
  lock_port
  local pid
  if pid=$(running_pid); then
    if probe --wait-ms $((START_TIMEOUT * 1000)) --pid "$pid" >/dev/null; then
      say "already running at $BOOTSTRAP (pid $pid)"
      echo "$BOOTSTRAP"
      return 0
    fi
    die 69 "broker pid $pid is running but does not answer at $BOOTSTRAP; see $LOGS/server.log, or stop it"
  fi
  rm -f "$PIDFILE"
  if port_open "$PORT"; then
    if probe >/dev/null 2>&1; then
      say "a Kafka broker not started from $PIDFILE already answers at $BOOTSTRAP; using it"
      echo "$BOOTSTRAP"
      return 0
    fi
    die 69 "port $PORT is taken by something that is not Kafka; set MWLAKE_KAFKA_PORT"
  fi
  port_open "$CONTROLLER_PORT" && die 69 "controller port $CONTROLLER_PORT is taken; set MWLAKE_KAFKA_CONTROLLER_PORT"

  write_config
  format_storage
  local started=$SECONDS
  local -a jvm=(
    -Xms256m "-Xmx$HEAP" -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35
    -XX:+ExplicitGCInvokesConcurrent -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true
    -Dlog4j2.configurationFile="$ROOT/tools/kafka/log4j2.properties" -Dkafka.logs.dir="$LOGS"
  )
  # shellcheck disable=SC2206 # word splitting of the extra options is intended
  [ -n "${MWLAKE_KAFKA_JAVA_OPTS:-}" ] && jvm+=($MWLAKE_KAFKA_JAVA_OPTS)
  # setsid: the broker gets its own session, so a Ctrl-C in the terminal (or test run) that
  # started it does not kill it under other users; `stop` ends it. Without job control the
  # background child is not a group leader, so setsid execs in place and $! is java's pid.
  # It must not inherit the lock descriptors (8, 9), or it would hold the locks until it exits.
  setsid java "${jvm[@]}" -cp "$LIBS/*" kafka.Kafka "$CONFIG" </dev/null >>"$LOGS/stdout.log" 2>&1 8>&- 9>&- &
  pid=$!
  echo "$pid" >"$PIDFILE"
  local status=0
  probe --wait-ms $((START_TIMEOUT * 1000)) --pid "$pid" >/dev/null || status=$?
  if [ "$status" -ne 0 ]; then
    say "broker did not become ready (probe exit $status); last lines of $LOGS/server.log:"
    tail -n 30 "$LOGS/server.log" >&2 2>/dev/null || true
    tail -n 10 "$LOGS/stdout.log" >&2 2>/dev/null || true
    kill -KILL "$pid" 2>/dev/null || true
    rm -f "$PIDFILE"
    exit 69
  fi
  say "Kafka $KAFKA_VERSION ready at $BOOTSTRAP in $((SECONDS - started))s (pid $pid, data $DATA, logs $LOGS)"
  echo "$BOOTSTRAP"
}

# Polls until the process is gone or the deadline passes; returns 1 on timeout.
wait_exit() {
  local pid=$1 deadline=$((SECONDS + $2))
  while kill -0 "$pid" 2>/dev/null; do
    [ "$SECONDS" -ge "$deadline" ] && return 1
    sleep 0.2
  done
}

cmd_stop() {
  lock_port
  local pid
  if ! pid=$(running_pid); then
    rm -f "$PIDFILE"
    say "not running on port $PORT"
    return 0
  fi
  say "stopping pid $pid (SIGTERM, SIGKILL after ${STOP_TIMEOUT}s)"
  kill -TERM "$pid" 2>/dev/null || true
  if ! wait_exit "$pid" "$STOP_TIMEOUT"; then
    say "pid $pid still running after ${STOP_TIMEOUT}s; sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    wait_exit "$pid" 10 || die 70 "pid $pid survived SIGKILL"
  fi
  rm -f "$PIDFILE"
  say "stopped"
}

cmd_status() {
  local pid
  if pid=$(running_pid); then
    if probe >/dev/null 2>&1; then
      say "running at $BOOTSTRAP (pid $pid, Kafka $KAFKA_VERSION, data $DATA)"
      echo "$BOOTSTRAP"
      return 0
    fi
    say "pid $pid is running but does not answer at $BOOTSTRAP (starting, or see $LOGS/server.log)"
    return 1
  fi
  if port_open "$PORT" && probe >/dev/null 2>&1; then
    say "a broker not started from $PIDFILE answers at $BOOTSTRAP"
    echo "$BOOTSTRAP"
    return 0
  fi
  say "not running on port $PORT"
  return 3
}

case ${1:-} in
  fetch) cmd_fetch ;;
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  ensure)
    cmd_fetch
    cmd_start
    ;;
  *)
    echo "usage: scripts/kafka.sh fetch|start|stop|status|ensure" >&2
    exit 64
    ;;
esac

#!/usr/bin/env bash
# A single-node Apache Kafka broker (KRaft, broker and controller in one JVM)
# on 127.0.0.1, for newcomers and tests.
#
#   scripts/services/kafka.sh start  [STATE_DIR]   prints the bootstrap (127.0.0.1:PORT)
#   scripts/services/kafka.sh stop   [STATE_DIR]   SIGTERM, SIGKILL after KAFKA_STOP_TIMEOUT s (20)
#   scripts/services/kafka.sh status [STATE_DIR]   prints the bootstrap and exits 0 while running, else 1
#
# STATE_DIR defaults to $KAFKA_STATE_DIR, else $HOME/.cache/adtally/kafka-run. It holds the
# config, the data, the log (server.log), the pid and the bootstrap; stop then start on the same
# directory keeps the data and the ports. The broker's jars are fetched once from Maven Central
# by `mvn dependency:copy-dependencies` into $KAFKA_CACHE_DIR (default
# $HOME/.cache/adtally/kafka-4.1.1).
set -euo pipefail

KAFKA_VERSION=4.1.1
LOG4J_VERSION=2.24.3
command=${1:-}
state=${2:-${KAFKA_STATE_DIR:-$HOME/.cache/adtally/kafka-run}}
cache=${KAFKA_CACHE_DIR:-$HOME/.cache/adtally/kafka-$KAFKA_VERSION}
stop_timeout=${KAFKA_STOP_TIMEOUT:-20}
start_timeout=${KAFKA_START_TIMEOUT:-90}

die() {
  echo "kafka.sh: $*" >&2
  exit 1
}

# The broker's pid when the one this state dir started is alive (a reused pid is not it).
running_pid() {
  [[ -f $state/pid ]] || return 1
  local pid
  pid=$(<"$state/pid")
  [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- "kafka.Kafka $state/server.properties" || return 1
  echo "$pid"
}

# Fetches the broker's jars once; a lock keeps parallel starts from fetching twice.
fetch_libs() {
  [[ -f $cache/libs/.complete ]] && return 0
  mkdir -p "$cache"
  exec 8>"$cache/.fetch.lock"
  flock 8
  if [[ ! -f $cache/libs/.complete ]]; then
    echo "kafka.sh: fetching Apache Kafka $KAFKA_VERSION from Maven Central into $cache/libs" >&2
    cat >"$cache/pom.xml" <<EOF
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>adtally</groupId>
  <artifactId>kafka-broker-libs</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>org.apache.kafka</groupId>
      <artifactId>kafka_2.13</artifactId>
      <version>$KAFKA_VERSION</version>
    </dependency>
    <dependency>
      <groupId>org.apache.logging.log4j</groupId>
      <!-- Kafka 4.1 uses SLF4J 1.7, so the binding is the 1.x one. -->
      <artifactId>log4j-slf4j-impl</artifactId>
      <version>$LOG4J_VERSION</version>
    </dependency>
    <dependency>
      <groupId>org.apache.logging.log4j</groupId>
      <artifactId>log4j-core</artifactId>
      <version>$LOG4J_VERSION</version>
    </dependency>
  </dependencies>
</project>
EOF
    rm -rf "$cache/libs.tmp"
    mvn -q -B -f "$cache/pom.xml" dependency:copy-dependencies -DincludeScope=runtime \
      -DoutputDirectory="$cache/libs.tmp" >"$cache/fetch.log" 2>&1 ||
      die "mvn could not fetch the broker's jars (see $cache/fetch.log)"
    rm -rf "$cache/libs"
    mv "$cache/libs.tmp" "$cache/libs"
    touch "$cache/libs/.complete"
  fi
  flock -u 8
}

free_port() {
  node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}

# First start on a state dir: ports, config and formatted KRaft storage, kept for every restart.
init_state() {
  mkdir -p "$state/data"
  local broker_port controller_port
  broker_port=$(free_port)
  controller_port=$(free_port)
  while [[ $controller_port == "$broker_port" ]]; do controller_port=$(free_port); done
  cat >"$state/server.properties" <<EOF
process.roles=broker,controller
node.id=1
controller.quorum.bootstrap.servers=127.0.0.1:$controller_port
listeners=PLAINTEXT://127.0.0.1:$broker_port,CONTROLLER://127.0.0.1:$controller_port
advertised.listeners=PLAINTEXT://127.0.0.1:$broker_port,CONTROLLER://127.0.0.1:$controller_port
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$state/data
# One node: every replication factor and min ISR is 1.
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=6
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
# Topics are created by the adapters with their partition count, never by a metadata request.
auto.create.topics.enable=false
num.partitions=1
# Tests join groups often and pause members past short session timeouts (zombie tests).
group.initial.rebalance.delay.ms=0
group.min.session.timeout.ms=1000
group.consumer.min.session.timeout.ms=1000
group.consumer.min.heartbeat.interval.ms=500
# Keeps the JVM near 200-270 MB RSS (the cleaner's default buffer is 128 MB).
log.cleaner.dedupe.buffer.size=8388608
EOF
  cat >"$state/log4j2.properties" <<EOF
status = warn
appender.file.type = File
appender.file.name = file
appender.file.fileName = $state/server.log
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.file.ref = file
logger.kafka.name = org.apache.kafka
logger.kafka.level = INFO
EOF
  local cluster_id
  cluster_id=$(java -cp "$cache/libs/*" kafka.tools.StorageTool random-uuid 2>/dev/null | tail -n1)
  java -Dlog4j2.configurationFile="$state/log4j2.properties" -cp "$cache/libs/*" kafka.tools.StorageTool \
    format --standalone -t "$cluster_id" -c "$state/server.properties" >"$state/format.log" 2>&1 ||
    die "formatting KRaft storage failed (see $state/format.log)"
  echo "127.0.0.1:$broker_port" >"$state/bootstrap"
}

port_open() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

start() {
  mkdir -p "$state"
  exec 9>"$state/.lock"
  flock 9
  if running_pid >/dev/null; then
    cat "$state/bootstrap"
    return 0
  fi
  fetch_libs
  [[ -f $state/bootstrap && -f $state/data/meta.properties ]] || init_state
  local bootstrap port
  bootstrap=$(<"$state/bootstrap")
  port=${bootstrap##*:}
  port_open "$port" && die "port $port of $state is taken by another process"
  local mark
  mark=$(wc -l <"$state/server.log" 2>/dev/null || echo 0)
  # setsid: the broker outlives the shell and the test runner's process group that started it;
  # it must not inherit the lock fds (8, 9), or it would hold the locks while it runs.
  setsid java -Xmx256m -Xms64m -XX:+UseG1GC -Djava.awt.headless=true \
    -Dlog4j2.configurationFile="$state/log4j2.properties" -cp "$cache/libs/*" \
    kafka.Kafka "$state/server.properties" >>"$state/stdout.log" 2>&1 </dev/null 8>&- 9>&- &
  echo $! >"$state/pid"
  local deadline=$((SECONDS + start_timeout))
  while ((SECONDS < deadline)); do
    # kill -0, not running_pid: until the fork execs java, its command line is still bash's.
    if ! kill -0 "$(<"$state/pid")" 2>/dev/null; then
      tail -n 20 "$state/stdout.log" "$state/server.log" >&2 2>/dev/null || true
      die "the broker exited during start (see $state/server.log)"
    fi
    if port_open "$port" && tail -n +"$((mark + 1))" "$state/server.log" 2>/dev/null | grep -q 'Kafka Server started'; then
      echo "$bootstrap"
      return 0
    fi
    sleep 0.1
  done
  stop >/dev/null 2>&1 || true
  die "the broker did not start within ${start_timeout}s (see $state/server.log)"
}

stop() {
  local pid
  pid=$(running_pid) || return 0
  kill -TERM "$pid" 2>/dev/null || true
  local deadline=$((SECONDS + stop_timeout))
  while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.1; done
  if kill -0 "$pid" 2>/dev/null; then
    echo "kafka.sh: the broker did not stop within ${stop_timeout}s: SIGKILL" >&2
    kill -KILL "$pid" 2>/dev/null || true
    while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done
  fi
}

status() {
  if running_pid >/dev/null; then
    cat "$state/bootstrap"
  else
    echo "stopped" >&2
    return 1
  fi
}

case $command in
  start) start ;;
  stop) stop ;;
  status) status ;;
  *)
    echo "usage: $0 start|stop|status [STATE_DIR]" >&2
    exit 2
    ;;
esac

#!/usr/bin/env bash
# A real single-node Apache Kafka (KRaft) for tests and `npm start` on machines without Docker.
# Jars come from Maven Central (resolved by mvn from ./pom.xml) and are cached; the broker runs
# with the machine's Java (17+).
#
#   kafka-local.sh start    start (or reuse) the broker; prints its bootstrap address
#   kafka-local.sh stop     stop the broker this script started
#   kafka-local.sh status   exit 0 when it runs
#
# Environment: KAFKA_LOCAL_PORT (9092), KAFKA_LOCAL_HOME (state: data, logs, pid; default
# ~/.cache/coexist/kafka-local), KAFKA_LOCAL_HEAP (maximum heap, 512m), KAFKA_LOCAL_HEAP_MIN (initial heap,
# 128m), KAFKA_LOCAL_JVM_OPTS (default: serial GC and
# the C1 compiler only, which start fast for tests; benchmarks pass production-like options).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cache="${XDG_CACHE_HOME:-$HOME/.cache}/coexist"
home="${KAFKA_LOCAL_HOME:-$cache/kafka-local}"
port="${KAFKA_LOCAL_PORT:-9092}"
controller_port=$((port + 1))
heap="${KAFKA_LOCAL_HEAP:-512m}"
heap_min="${KAFKA_LOCAL_HEAP_MIN:-128m}"
jvm_opts="${KAFKA_LOCAL_JVM_OPTS:--XX:+UseSerialGC -XX:TieredStopAtLevel=1}"
version="$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$here/pom.xml")"
libs="$cache/kafka-libs-$version"
pidfile="$home/kafka.pid"
log="$home/kafka.log"

say() { printf 'kafka-local: %s\n' "$*" >&2; }

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

running() { [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; }

fetch_libs() {
  [ -f "$libs/.complete" ] && return 0
  command -v mvn >/dev/null || { say "mvn not found: install Maven (apt-get install maven) or set KAFKA_BROKERS"; exit 1; }
  say "fetching Kafka $version jars from Maven Central into $libs"
  rm -rf "$libs.tmp"
  mvn -q -B -f "$here/pom.xml" dependency:copy-dependencies \
    -DincludeScope=runtime -DoutputDirectory="$libs.tmp" >&2
  rm -rf "$libs" && mv "$libs.tmp" "$libs" && touch "$libs/.complete"
}

start() {
  if running && port_open "$port"; then
    echo "127.0.0.1:$port"; return 0
  fi
  if port_open "$port"; then
    say "port $port is taken by another process; set KAFKA_BROKERS to use it, or KAFKA_LOCAL_PORT"
    exit 1
  fi
  command -v java >/dev/null || { say "java not found: a Java 17+ runtime is needed"; exit 1; }
  fetch_libs
  mkdir -p "$home"
  local data="$home/data-$port"
  sed -e "s|@PORT@|$port|g" -e "s|@CONTROLLER_PORT@|$controller_port|g" -e "s|@DATA_DIR@|$data|g" \
    "$here/server.properties.template" > "$home/server.properties"
  local log4j="-Dlog4j2.configurationFile=file:$here/log4j2.properties"
  if [ ! -f "$data/meta.properties" ]; then
    rm -rf "$data"
    local cid
    cid="$(java -Xmx128m -cp "$libs/*" "$log4j" kafka.tools.StorageTool random-uuid)"
    java -Xmx256m -cp "$libs/*" "$log4j" kafka.tools.StorageTool format --standalone \
      --cluster-id "$cid" --config "$home/server.properties" >&2
  fi
  say "starting broker on 127.0.0.1:$port (log: $log)"
  : > "$log"
  # A session of its own: a Ctrl-C (or a signal to the caller's process group) does not reach the
  # broker, which `stop` ends once its clients are gone (npm start stops the services first).
  # shellcheck disable=SC2086 # jvm_opts is a list of options
  nohup setsid java "-Xms$heap_min" "-Xmx$heap" $jvm_opts -Djava.awt.headless=true \
    "-Dkafka.logs.dir=$home" "$log4j" -cp "$libs/*" kafka.Kafka "$home/server.properties" \
    >>"$log" 2>&1 < /dev/null &
  echo $! > "$pidfile"
  for _ in $(seq 1 240); do
    if grep -q 'Kafka Server started' "$log" 2>/dev/null && port_open "$port"; then
      echo "127.0.0.1:$port"; return 0
    fi
    if ! running; then say "broker exited; last lines of $log:"; tail -20 "$log" >&2; exit 1; fi
    sleep 0.25
  done
  say "broker did not start within 60 s; see $log"; exit 1
}

stop() {
  if running; then
    local pid; pid="$(cat "$pidfile")"
    kill "$pid"
    for _ in $(seq 1 120); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$pidfile"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) running && port_open "$port" ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac

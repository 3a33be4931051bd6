# Sourced by with-secure-broker.sh and with-cluster.sh.  kafka_jars VERSION:
# print the folder holding Apache Kafka VERSION's jars, the cache that
# swarm-broker fills (docs/kafka.md): --cache is not read here, only
# $SWARM_CACHE, $XDG_CACHE_HOME/swarm or ~/.cache/swarm.  A missing folder
# is fetched the way swarm-broker fetches it (mvn dependency:copy-dependencies
# from tests/broker/pom.xml under the same flock and the same
# .swarm-complete marker), so the two never race.  Returns 1 on failure.
kafka_jars() {
  local v=$1 base lib pom tmp
  lib=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
  base=${SWARM_CACHE:-${XDG_CACHE_HOME:+$XDG_CACHE_HOME/swarm}}
  base=${base:-$HOME/.cache/swarm}
  if [[ -e $base/kafka-$v/.swarm-complete ]]; then
    echo "$base/kafka-$v"; return 0
  fi
  pom=${SWARM_BROKER_POM:-$lib/../broker/pom.xml}
  mkdir -p "$base" || return 1
  (
    flock 9
    [[ -e $base/kafka-$v/.swarm-complete ]] && exit 0
    tmp=$base/.kafka-$v.tmp.$$
    rm -rf "$tmp" "$base/kafka-$v"
    echo "kafka-jars: fetching kafka $v into $base/kafka-$v (once; needs Maven Central)" >&2
    if ! mvn -q -B -f "$pom" -Dkafka.version="$v" dependency:copy-dependencies \
        -DoutputDirectory="$tmp" >"$base/kafka-$v.fetch.log" 2>&1; then
      tail -30 "$base/kafka-$v.fetch.log" >&2; rm -rf "$tmp"; exit 1
    fi
    echo "kafka_2.13 $v" >"$tmp/.swarm-complete"
    mv "$tmp" "$base/kafka-$v"
  ) 9>"$base/kafka-$v.lock" || return 1
  echo "$base/kafka-$v"
}

# kafka_java_opts HEAP: the JVM options swarm-broker uses (tests/broker/
# kraft.c: serial GC, C1 only, CRC32C left to the interpreter's intrinsic,
# a small heap), for one broker JVM.
kafka_java_opts() {
  echo "-Xmx$1 -Xms64m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -XX:-UsePerfData" \
    "-XX:CompileCommand=quiet -XX:CompileCommand=exclude,java/util/zip/CRC32C.updateBytes" \
    "-XX:CompileCommand=exclude,java/util/zip/CRC32C.updateDirectByteBuffer -Djava.awt.headless=true"
}

# free_port: a TCP port on 127.0.0.1 that was free a moment ago.
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# kafka_log4j DIR: a log4j.properties that writes DIR/server.log.
kafka_log4j() {
  cat >"$1/log4j.properties" <<L4J
log4j.rootLogger=INFO, file
log4j.appender.file=org.apache.log4j.FileAppender
log4j.appender.file.File=$1/server.log
log4j.appender.file.layout=org.apache.log4j.PatternLayout
log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.org.apache.kafka.clients=WARN
log4j.logger.kafka.request.logger=WARN
L4J
}

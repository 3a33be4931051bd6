#!/usr/bin/env bash
# with-cluster.sh [--topic NAME:PARTITIONS[:RF[:MIN_ISR]]]... -- CMD ARGS...
#
# A real three-node Apache Kafka 3.9.2 cluster on this machine, for fault
# tests that need real leader elections and broker failures (librdkafka's
# mock cluster only pretends: tests/fault, fault_leader).  Each node is a
# combined broker+controller (KRaft, a quorum of three voters: one node
# down leaves a majority), with its own ports (ephemeral, 127.0.0.1), data
# folder and log.  Internal topics have replication factor 3 and
# min.insync.replicas 2; --topic defaults RF to 3 and MIN_ISR to 2.  A dead
# broker is noticed after broker.session.timeout.ms=3000 (default 9 s).
# Each JVM gets -Xmx256m ($SWARM_CLUSTER_HEAP): three of them take about
# 0.9 GB resident.
#
# Runs CMD with
#   SWARM_BOOTSTRAP     the three brokers, host:port,host:port,host:port
#   SWARM_CLUSTER_CTL   a script: `$SWARM_CLUSTER_CTL kill ID` (SIGKILL broker
#                       ID, 1-3), `start ID` (start it again on its ports and
#                       data), `pid ID`, `log ID` (its server.log)
# and stops every broker on every exit.  Exit: CMD's status; 125 when the
# cluster could not be started; 2 on usage.  Needs java and swarm-kadmin
# ($SWARM_KADMIN_BIN, else build/tests/security/swarm-kadmin).
set -u

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=kafka-jars.sh
. "$here/kafka-jars.sh"
# shellcheck source=kafka-common.sh
. "$here/kafka-common.sh"

topics=()
while [[ $# -gt 0 && $1 != -- ]]; do
  case $1 in
    --topic)
      t=$2
      case $t in *:*:*) ;; *:*) t=$t:3:2 ;; *) t=$t:1:3:2 ;; esac
      topics+=(--topic "$t"); shift 2 ;;
    *) echo "with-cluster.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
wrap_need_cmd "with-cluster.sh [--topic NAME:PARTITIONS[:RF[:MIN_ISR]]]... -- CMD ARGS..." $#
shift

kadmin=${SWARM_KADMIN_BIN:-$here/../../build/tests/security/swarm-kadmin}
wrap_need_tools with-cluster.sh java "$kadmin"
jars=$(kafka_jars "${SWARM_KAFKA_VERSION:-3.9.2}") || exit 125
tmp=$(mktemp -d "${TMPDIR:-/tmp}/with-cluster.XXXXXX") || exit 125

stop_all() {
  local p
  for i in 1 2 3; do
    p=$(cat "$tmp/n$i/pid" 2>/dev/null) && kill -TERM "$p" 2>/dev/null
  done
  for _ in $(seq 1 150); do
    local alive=
    for i in 1 2 3; do
      p=$(cat "$tmp/n$i/pid" 2>/dev/null) && kill -0 "$p" 2>/dev/null && alive=1
    done
    [[ -z $alive ]] && break
    sleep 0.1
  done
  for i in 1 2 3; do
    p=$(cat "$tmp/n$i/pid" 2>/dev/null) && kill -KILL "$p" 2>/dev/null
  done
}
cleanup() { stop_all; wait 2>/dev/null; rm -rf "$tmp"; }
wrap_traps cleanup
die() {
  echo "with-cluster.sh: $*" >&2
  for i in 1 2 3; do
    for f in "$tmp/n$i/format.log" "$tmp/n$i/jvm.log" "$tmp/n$i/server.log"; do
      [[ -s $f ]] && { echo "--- $f" >&2; tail -15 "$f" >&2; }
    done
  done
  exit 125
}

declare -a port cport
for i in 1 2 3; do
  port[i]=$(free_port) cport[i]=$(free_port)
done
if [[ $(printf '%s\n' "${port[@]}" "${cport[@]}" | sort -u | wc -l) -ne 6 ]]; then
  die "could not get six distinct free ports"
fi
voters="1@127.0.0.1:${cport[1]},2@127.0.0.1:${cport[2]},3@127.0.0.1:${cport[3]}"
bootstrap="127.0.0.1:${port[1]},127.0.0.1:${port[2]},127.0.0.1:${port[3]}"
for i in 1 2 3; do
  d=$tmp/n$i
  mkdir -p "$d/data"
  kafka_log4j "$d"
  cat >"$d/server.properties" <<PROPS
process.roles=broker,controller
node.id=$i
controller.quorum.voters=$voters
listeners=PLAINTEXT://127.0.0.1:${port[i]},CONTROLLER://127.0.0.1:${cport[i]}
advertised.listeners=PLAINTEXT://127.0.0.1:${port[i]}
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
controller.listener.names=CONTROLLER
log.dirs=$d/data
auto.create.topics.enable=false
default.replication.factor=3
min.insync.replicas=2
num.partitions=1
offsets.topic.replication.factor=3
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=3
transaction.state.log.min.isr=2
transaction.state.log.num.partitions=4
unclean.leader.election.enable=false
group.initial.rebalance.delay.ms=0
broker.session.timeout.ms=3000
broker.heartbeat.interval.ms=500
replica.lag.time.max.ms=10000
num.network.threads=1
num.io.threads=2
num.replica.fetchers=1
num.recovery.threads.per.data.dir=1
background.threads=2
log.flush.interval.ms=60000
PROPS
done

# shellcheck disable=SC2207
jopts=($(kafka_java_opts "${SWARM_CLUSTER_HEAP:-256m}") -cp "$jars/*")
cat >"$tmp/ctl.sh" <<CTL
#!/usr/bin/env bash
# kill|start|pid|log ID: broker ID (1-3) of this with-cluster.sh run
d=$tmp/n\${2:-x}
[[ -d \$d ]] || { echo "usage: \$0 kill|start|pid|log 1|2|3" >&2; exit 2; }
case "\$1" in
kill)  p=\$(cat "\$d/pid") && kill -KILL "\$p" && while kill -0 "\$p" 2>/dev/null; do sleep 0.05; done ;;
start) setsid java ${jopts[*]@Q} "-Dlog4j.configuration=file:\$d/log4j.properties" \\
         kafka.Kafka "\$d/server.properties" >>"\$d/jvm.log" 2>&1 </dev/null &
       echo \$! >"\$d/pid" ;;
pid)   cat "\$d/pid" ;;
log)   echo "\$d/server.log" ;;
*) echo "usage: \$0 kill|start|pid|log 1|2|3" >&2; exit 2 ;;
esac
CTL
chmod 755 "$tmp/ctl.sh"

# the three formats run at once (each is a JVM start)
cid=$(python3 -c 'import base64,os; print(base64.urlsafe_b64encode(os.urandom(16)).decode().rstrip("="))')
fpids=()
for i in 1 2 3; do
  java "${jopts[@]}" "-Dlog4j.configuration=file:$tmp/n$i/log4j.properties" kafka.tools.StorageTool \
    format --cluster-id="$cid" -c "$tmp/n$i/server.properties" >"$tmp/n$i/format.log" 2>&1 &
  fpids+=($!)
done
for p in "${fpids[@]}"; do wait "$p" || die "kafka-storage format failed"; done
for i in 1 2 3; do "$tmp/ctl.sh" start "$i"; done

"$kadmin" -b "$bootstrap" --brokers 3 --wait-s "${SWARM_BROKER_TIMEOUT:-120}" "${topics[@]}" \
  >"$tmp/kadmin.log" 2>&1 || { cat "$tmp/kadmin.log" >&2; die "the cluster did not become ready"; }

export SWARM_BOOTSTRAP=$bootstrap SWARM_CLUSTER_CTL=$tmp/ctl.sh
"$@"
exit $?

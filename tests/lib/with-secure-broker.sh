#!/usr/bin/env bash
# with-secure-broker.sh [--user NAME]... [--topic T:N]... [--acl ACL]... -- CMD ARGS...
#
# A real single-node Apache Kafka 3.9.2 broker (KRaft) that only speaks
# SASL_SSL with SCRAM-SHA-512 and authorizes with StandardAuthorizer, for the
# security tests (docs/kafka.md, "Security").  What it makes, all in a
# throw-away folder, nothing committed:
#   - a test CA and a broker certificate for 127.0.0.1/localhost (openssl,
#     RSA 2048, one day), PEM keystore and truststore;
#   - SCRAM-SHA-512 users `admin` (the broker's own principal and the only
#     super user) and every --user NAME, each with a random password in
#     $SWARM_SECURE_DIR/NAME.password (mode 600), written into the metadata
#     log by `kafka-storage format --add-scram` before the first start;
#   - the controller listener on SASL_PLAINTEXT/PLAIN with the admin
#     principal (KRaft controllers cannot use SCRAM: its credentials live in
#     the metadata log they serve), so no ANONYMOUS principal is super;
#   - the topics (--topic NAME:PARTITIONS) and ALLOW ACLs (--acl
#     PRINCIPAL,OPERATION,TOPIC|GROUP|CLUSTER,NAME[,prefixed], see
#     tests/security/kadmin.c), made as admin; everything else is denied
#     (allow.everyone.if.no.acl.found=false).
# Then runs CMD with
#   SWARM_BOOTSTRAP      127.0.0.1:PORT (the SASL_SSL listener)
#   SWARM_SECURE_DIR     the folder (NAME.password, ca.crt)
#   SWARM_SECURE_CA      the CA certificate clients verify the broker with
#   SWARM_SECURE_LOG     the broker's server.log
# and stops the broker on every exit.  Exit: CMD's status; 125 when the
# broker could not be started; 2 on usage.  Needs java, openssl and
# swarm-kadmin ($SWARM_KADMIN_BIN, else build/tests/security/swarm-kadmin).
set -u

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=kafka-jars.sh
. "$here/kafka-jars.sh"
# shellcheck source=kafka-common.sh
. "$here/kafka-common.sh"

users=(admin) topics=() acls=()
while [[ $# -gt 0 && $1 != -- ]]; do
  case $1 in
    --user) users+=("$2"); shift 2 ;;
    --topic) topics+=(--topic "$2"); shift 2 ;;
    --acl) acls+=(--acl "$2"); shift 2 ;;
    *) echo "with-secure-broker.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
wrap_need_cmd "with-secure-broker.sh [--user N]... [--topic T:N]... [--acl A]... -- CMD ARGS..." $#
shift

kadmin=${SWARM_KADMIN_BIN:-$here/../../build/tests/security/swarm-kadmin}
wrap_need_tools with-secure-broker.sh java openssl "$kadmin"
jars=$(kafka_jars "${SWARM_KAFKA_VERSION:-3.9.2}") || exit 125

tmp=$(mktemp -d "${TMPDIR:-/tmp}/with-secure-broker.XXXXXX") || exit 125
chmod 700 "$tmp"
bpid=
cleanup() {
  wrap_stop "$bpid" 300
  rm -rf "$tmp"
}
wrap_traps cleanup
die() {
  echo "with-secure-broker.sh: $*" >&2
  for f in "$tmp/certs.log" "$tmp/format.log" "$tmp/jvm.log" "$tmp/server.log"; do
    [[ -s $f ]] && { echo "--- $f" >&2; tail -25 "$f" >&2; }
  done
  exit 125
}

# --- the test CA and the broker certificate
(
  set -e
  cd "$tmp"
  openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 1 \
    -subj "/CN=swarm test CA" -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign"
  openssl req -newkey rsa:2048 -nodes -keyout broker.key -out broker.csr -subj "/CN=127.0.0.1"
  printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n' >broker.ext
  openssl x509 -req -in broker.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 1 \
    -extfile broker.ext -out broker.crt
  # Kafka's PEM keystore: a PKCS#8 key followed by the certificate chain
  openssl pkcs8 -topk8 -nocrypt -in broker.key -out broker.p8
  cat broker.p8 broker.crt ca.crt >broker.pem
  rm -f ca.key broker.key broker.p8 broker.csr
) >"$tmp/certs.log" 2>&1 || die "openssl could not make the certificates"

# --- passwords: random, one file per user, never on a command line
for u in "${users[@]}"; do
  [[ $u =~ ^[A-Za-z0-9_.-]+$ ]] || { echo "with-secure-broker.sh: bad user name $u" >&2; exit 2; }
  (umask 077; openssl rand -hex 24 >"$tmp/$u.password")
done
adminpw=$(cat "$tmp/admin.password")

port=$(free_port) cport=$(free_port)
[[ $port == "$cport" ]] && cport=$(free_port)
mkdir "$tmp/data"
kafka_log4j "$tmp"
(umask 077; cat >"$tmp/server.properties" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$cport
listeners=SASL_SSL://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport
advertised.listeners=SASL_SSL://127.0.0.1:$port
listener.security.protocol.map=SASL_SSL:SASL_SSL,CONTROLLER:SASL_PLAINTEXT
inter.broker.listener.name=SASL_SSL
controller.listener.names=CONTROLLER
sasl.enabled.mechanisms=SCRAM-SHA-512
sasl.mechanism.inter.broker.protocol=SCRAM-SHA-512
sasl.mechanism.controller.protocol=PLAIN
listener.name.sasl_ssl.sasl.enabled.mechanisms=SCRAM-SHA-512
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="admin" password="$adminpw";
listener.name.controller.sasl.enabled.mechanisms=PLAIN
listener.name.controller.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username="admin" password="$adminpw" user_admin="$adminpw";
ssl.keystore.type=PEM
ssl.keystore.location=$tmp/broker.pem
ssl.truststore.type=PEM
ssl.truststore.location=$tmp/ca.crt
ssl.client.auth=none
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
super.users=User:admin
allow.everyone.if.no.acl.found=false
log.dirs=$tmp/data
auto.create.topics.enable=false
num.partitions=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=4
group.initial.rebalance.delay.ms=0
num.network.threads=2
num.io.threads=2
num.recovery.threads.per.data.dir=1
PROPS
)

# shellcheck disable=SC2207
jopts=($(kafka_java_opts 512m) "-Dlog4j.configuration=file:$tmp/log4j.properties" -cp "$jars/*")
scram=()
for u in "${users[@]}"; do
  scram+=(--add-scram "SCRAM-SHA-512=[name=$u,password=$(cat "$tmp/$u.password")]")
done
# The passwords are on this one JVM's command line for the second it runs
# (kafka-storage has no file option for --add-scram); only this user can
# read /proc/PID/cmdline where hidepid is set, everyone where it is not.
cid=$(python3 -c 'import base64,os; print(base64.urlsafe_b64encode(os.urandom(16)).decode().rstrip("="))')
java "${jopts[@]}" kafka.tools.StorageTool format --cluster-id="$cid" \
  -c "$tmp/server.properties" "${scram[@]}" >"$tmp/format.log" 2>&1 ||
  die "kafka-storage format failed"
unset scram

java "${jopts[@]}" kafka.Kafka "$tmp/server.properties" >"$tmp/jvm.log" 2>&1 &
bpid=$!

# The admin client: topics, ACLs, and the wait until every topic is led.
"$kadmin" -b "127.0.0.1:$port" -X security.protocol=SASL_SSL -X sasl.mechanisms=SCRAM-SHA-512 \
  -X sasl.username=admin -P "sasl.password=$tmp/admin.password" \
  -X "ssl.ca.location=$tmp/ca.crt" --wait-s "${SWARM_BROKER_TIMEOUT:-120}" \
  "${topics[@]}" "${acls[@]}" >"$tmp/kadmin.log" 2>&1 ||
  { cat "$tmp/kadmin.log" >&2; kill -0 "$bpid" 2>/dev/null || bpid=; die "the broker did not become ready"; }

export SWARM_BOOTSTRAP=127.0.0.1:$port SWARM_SECURE_DIR=$tmp SWARM_SECURE_CA=$tmp/ca.crt \
  SWARM_SECURE_LOG=$tmp/server.log
"$@"
exit $?

#!/usr/bin/env bash
# The Java example client (examples/java) against a real worker: first in
# the plain wire contract (fixed ids 1/2), then through the Schema Registry
# (ids the registry assigned, response schema fetched by id).  Answers are
# compared with the numpy reference.  Runs under with-broker.sh and
# with-registry.sh.  Builds the client with Maven (offline when ~/.m2 has
# everything, which it has after the first build).
# usage: test_java_client.sh CONSUMER MODEL DATA_DIR OUT_DIR
set -euo pipefail
consumer=$1 model=$2 data=$3 out=$4
src=$(cd "$(dirname "$0")/../.." && pwd)
. "$(dirname "$0")/../lib/wait.sh"
test_workdir
fail() { echo "FAIL: $*" >&2; tail -20 "$work/worker.log" >&2 2>/dev/null; exit 1; }
reg=$SWARM_TEST_REGISTRY_URL

mvn=(mvn -q -B -f "$src/examples/java/pom.xml" -Dswarm.java.target="$out" package)
"${mvn[@]}" -o >"$work/mvn.log" 2>&1 || "${mvn[@]}" >"$work/mvn.log" 2>&1 ||
  { tail -30 "$work/mvn.log" >&2; fail "maven build"; }
java=(java -cp "$out/classes:$out/lib/*" io.swarm.examples.SwarmClient)

check() {   # PREDICTIONS N
  /usr/bin/python3 - "$1" "$data/expected.npy" "$2" <<'PY'
import sys, numpy as np
p = np.load(sys.argv[1]); n = int(sys.argv[3]); e = np.load(sys.argv[2])[:n]
assert p.shape == e.shape, (p.shape, e.shape)
d = float(np.abs(p - e).max())
assert d < 1e-4 and (p.argmax(1) == e.argmax(1)).all(), "max |diff| %g" % d
print("  %d rows match the reference (max |diff| %.2g)" % (n, d))
PY
}

start_worker() {  # extra args...
  "$consumer" -b "$SWARM_BOOTSTRAP" -g java-test -M "fashion=$model" --metrics-port 0 \
    -X topic.metadata.propagation.max.ms=1000 "$@" 2>"$work/worker.log" &
  wpid=$!
}
stop_worker() { kill -TERM "$wpid"; wait "$wpid" || fail "worker exited non-zero"; wpid=; }

# 1. the plain wire contract: fixed ids
start_worker
out1=$("${java[@]}" produce -b "$SWARM_BOOTSTRAP" --input "$data/test.npy" --limit 200 \
         --rows-per-request 2 --id-prefix j- --schemas "$src/schemas")
grep -q "^sent=100 rows=200 schema_id=1 " <<<"$out1" || fail "produce: $out1"
out1=$("${java[@]}" read -b "$SWARM_BOOTSTRAP" --expect 200 --id-prefix j- \
         --output "$work/j.npy" --schemas "$src/schemas")
echo "fixed ids: $out1"
grep -q "^answered=100 rows=200 OK=100$" <<<"$out1" || fail "read: $out1"
check "$work/j.npy" 200
stop_worker

# 2. through the registry (something else registered first, so the ids
# are not 1/2)
curl -fsS -X POST -H 'Content-Type: application/vnd.schemaregistry.v1+json' \
  --data '{"schema": "{\"type\":\"record\",\"name\":\"Other\",\"fields\":[{\"name\":\"a\",\"type\":\"int\"}]}"}' \
  "$reg/subjects/other-value/versions" >/dev/null
start_worker -X swarm.schema.registry.url="$reg"
out2=$("${java[@]}" produce -b "$SWARM_BOOTSTRAP" --input "$data/test.npy" --limit 100 \
         --id-prefix r- --registry "$reg" --schemas "$src/schemas")
rid=$(sed -n 's/.* schema_id=\([0-9]*\).*/\1/p' <<<"$out2")
[ -n "$rid" ] && [ "$rid" != 1 ] || fail "registry id: $out2"
out2=$("${java[@]}" read -b "$SWARM_BOOTSTRAP" --expect 100 --id-prefix r- \
         --output "$work/r.npy" --registry "$reg" --schemas "$src/schemas")
echo "registry (request id $rid): $out2"
grep -q "^answered=100 rows=100 OK=100$" <<<"$out2" || fail "read via registry: $out2"
check "$work/r.npy" 100
grep -q "schema registry subject=requests-value id=$rid" "$work/worker.log" ||
  fail "the worker did not use the registry's id $rid"
stop_worker
echo PASS

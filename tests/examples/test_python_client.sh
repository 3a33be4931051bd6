#!/usr/bin/env bash
# The Python example client (examples/python) against a real worker through
# the Schema Registry: requests registered and framed with the registry's
# id, responses framed with the worker's registered id and fetched by the
# reader, an evolved request schema the worker resolves by fetching it, and
# the worker still serving after the registry is gone.  Every answer is
# compared with the numpy reference (expected.npy).
# Runs under with-broker.sh and with-registry.sh.
# usage: test_python_client.sh CONSUMER MODEL DATA_DIR
set -euo pipefail
consumer=$1 model=$2 data=$3
ex=$(cd "$(dirname "$0")/../../examples/python" && pwd)
py=/usr/bin/python3
. "$(dirname "$0")/../lib/wait.sh"
test_workdir
fail() { echo "FAIL: $*" >&2; tail -20 "$work/worker.log" >&2; exit 1; }
reg=$SWARM_TEST_REGISTRY_URL

# Something else registered first, so the registry's ids are not Swarm's
# fixed 1/2 and a worker that ignored them would be caught.
curl -fsS -X POST -H 'Content-Type: application/vnd.schemaregistry.v1+json' \
  --data '{"schema": "{\"type\":\"record\",\"name\":\"Other\",\"fields\":[{\"name\":\"a\",\"type\":\"int\"}]}"}' \
  "$reg/subjects/other-value/versions" >/dev/null

"$consumer" -b "$SWARM_BOOTSTRAP" -g py-test -M "fashion=$model" --metrics-port 0 \
  -X swarm.schema.registry.url="$reg" -X topic.metadata.propagation.max.ms=1000 \
  2>"$work/worker.log" &
wpid=$!
for _ in $(seq 1 100); do
  grep -q "subject=results-value" "$work/worker.log" && break
  kill -0 $wpid 2>/dev/null || fail "worker exited"
  sleep 0.1
done
rid=$(sed -n 's/.*schema registry subject=requests-value id=\([0-9]*\).*/\1/p' "$work/worker.log")
sid=$(sed -n 's/.*schema registry subject=results-value id=\([0-9]*\).*/\1/p' "$work/worker.log")
[ -n "$rid" ] && [ -n "$sid" ] || fail "worker did not register its schemas"
[ "$rid" != 1 ] && [ "$sid" != 2 ] || fail "registry ids $rid/$sid are the fixed ones"
echo "worker registered requests-value id=$rid results-value id=$sid"

check() {   # PREDICTIONS FIRST_ROW N
  "$py" - "$1" "$data/expected.npy" "$2" "$3" <<'PY'
import sys, numpy as np
p = np.load(sys.argv[1]); lo = int(sys.argv[3]); n = int(sys.argv[4])
e = np.load(sys.argv[2])[lo:lo + n]
assert p.shape == e.shape, (p.shape, e.shape)
d = float(np.abs(p - e).max())
assert d < 1e-4, "max |diff| %g" % d
assert (p.argmax(1) == e.argmax(1)).all()
print("  %d rows match the reference (max |diff| %.2g)" % (n, d))
PY
}

# 1. through the registry: 300 rows, 3 per request
out=$("$py" "$ex/produce.py" -b "$SWARM_BOOTSTRAP" --input "$data/test.npy" --limit 300 \
        --rows-per-request 3 --id-prefix a- --registry "$reg")
grep -q "^sent=100 rows=300 schema_id=$rid " <<<"$out" || fail "produce: $out"
out=$("$py" "$ex/read_results.py" -b "$SWARM_BOOTSTRAP" --expect 300 --id-prefix a- \
        --output "$work/a.npy" --registry "$reg")
echo "registry: $out"
grep -q "^answered=100 rows=300 OK=100 " <<<"$out" || fail "read: $out"
check "$work/a.npy" 0 300

# 2. an evolved request schema (a field added, with a default), registered by
# this producer only: the worker fetches and resolves it
"$py" - "$ex/../../schemas/InferenceRequest.avsc" "$work/evolved.avsc" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
s["fields"].append({"name": "priority", "type": "int", "default": 0})
json.dump(s, open(sys.argv[2], "w"))
PY
out=$("$py" "$ex/produce.py" -b "$SWARM_BOOTSTRAP" --input "$data/test.npy" --limit 50 \
        --id-prefix e- --registry "$reg" --schema "$work/evolved.avsc")
eid=$(sed -n 's/.* schema_id=\([0-9]*\).*/\1/p' <<<"$out")
[ -n "$eid" ] && [ "$eid" != "$rid" ] || fail "evolved schema id: $out"
out=$("$py" "$ex/read_results.py" -b "$SWARM_BOOTSTRAP" --expect 50 --id-prefix e- \
        --output "$work/e.npy" --registry "$reg")
grep -q "^answered=50 rows=50 OK=50 " <<<"$out" || fail "evolved: $out"
grep -q "schema registry fetched id=$eid" "$work/worker.log" || fail "worker did not fetch id $eid"
echo "evolved writer id=$eid: fetched by the worker, 50 answered"
check "$work/e.npy" 0 50

# 3. the registry goes away: the worker keeps serving the ids it knows
kill "$SWARM_TEST_REGISTRY_PID"
"$py" "$ex/produce.py" -b "$SWARM_BOOTSTRAP" --input "$data/test.npy" --limit 100 \
  --id-prefix o- --schema-id "$rid" >/dev/null
out=$("$py" "$ex/read_results.py" -b "$SWARM_BOOTSTRAP" --expect 100 --id-prefix o- \
        --output "$work/o.npy" --response-id "$sid")
grep -q "^answered=100 rows=100 OK=100 " <<<"$out" || fail "after the outage: $out"
echo "registry down: 100 more answered"
check "$work/o.npy" 0 100

kill -TERM $wpid; wait $wpid || fail "worker exited non-zero"; wpid=
grep -q "summary messages=250 ok=250 " "$work/worker.log" ||
  fail "worker summary: $(grep summary "$work/worker.log")"
echo PASS

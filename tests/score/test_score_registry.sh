#!/usr/bin/env bash
# The scoring deployment named by the registry: a model's deployment sets
# batch_request_topic / batch_result_topic; a worker started with --registry
# on the batch topic serves the model without --model or -M, and
# `score --registry` sends there and reads the answers there.  Runs under
# with-postgres.sh and with-broker.sh (SWARM_REGISTRY, SWARM_BOOTSTRAP set).
# Usage: test_score_registry.sh REGISTRY CONSUMER PRODUCER CHECK_SCORES MODEL DATA_DIR
set -euo pipefail
registry=$1 consumer=$2 producer=$3 check=$4 model=$5 data=$6
. "$(dirname "$0")/../lib/wait.sh"
test_workdir
fail() { echo "FAIL: $*" >&2; tail -5 "$work/worker.log" >&2 || true; exit 1; }

R=("$registry" --registry "$SWARM_REGISTRY")
"${R[@]}" migrate >/dev/null
"${R[@]}" register fashion "$model" >/dev/null
"${R[@]}" promote fashion 1 >/dev/null
# max_batch_rows=32 is the online fleet's limit: the scoring worker below
# keeps its own --max-batch-rows 1024
"${R[@]}" config fashion request_topic=requests batch_request_topic=requests.scoring \
  batch_result_topic=results.scoring max_batch_rows=32 --reason "offline scoring" >/dev/null
"${R[@]}" --json show fashion >"$work/show.json"
/usr/bin/python3 - "$work/show.json" <<'PY' || fail "deployment does not show the batch topics"
import json, sys
d = json.load(open(sys.argv[1]))["deployment"]
assert d["batch_request_topic"] == "requests.scoring" and d["batch_result_topic"] == "results.scoring", d
PY
rc=0; "${R[@]}" config fashion batch_colour=blue >/dev/null 2>&1 || rc=$?
[ "$rc" != 0 ] || fail "unknown key accepted"

/usr/bin/python3 -c "import numpy as np, sys; np.save(sys.argv[2], np.load(sys.argv[1])[:3000])" \
  "$data/test.npy" "$work/in.npy"
worker() { # log: a scoring worker, from the registry, with its own limits
  "$consumer" -b "$SWARM_BOOTSTRAP" -g scoring -t requests.scoring -r results.scoring \
    --registry "$SWARM_REGISTRY" --max-batch-rows 1024 --max-delay-us 20000 --metrics-port -1 \
    2>"$work/$1" &
  wpid=$!
}
stop_worker() { # log messages: stop it; it answered `messages`; $b: its batches
  kill -TERM "$wpid"; wait "$wpid" || fail "worker exit"; wpid=
  grep -q "summary messages=$2 ok=$2 " "$work/$1" || fail "worker: $(grep ' summary ' "$work/$1")"
  b=$(sed -n 's/.* summary .* batches=\([0-9]*\).*/\1/p' "$work/$1")
}
worker worker.log
"$producer" score -b "$SWARM_BOOTSTRAP" --registry "$SWARM_REGISTRY" --model fashion \
  --input "$work/in.npy" --output "$work/out.avro" --label --rows-per-request 32 >"$work/s.out" 2>"$work/s.err" \
  || fail "score: $(tail -3 "$work/s.err")"
cat "$work/s.out"
grep -q "topic=requests.scoring results=results.scoring" "$work/s.err" || fail "not the deployment's topics: $(grep scoring "$work/s.err")"
grep -q "^summary rows=3000 scored=3000 " "$work/s.out" || fail "summary"
"$check" "$work/out.avro" "$data/expected.npy" 3000 || fail "values"
# the scorer's requests ask to run alone (swarm.batch=alone): a batch each,
# so a row's outputs do not depend on what was queued beside it
stop_worker worker.log 94
[ "$b" = 94 ] || fail "scorer's 94 requests ran in $b batches, want 94 (alone)"
# online-style requests merge, and past the deployment's 32 rows (they would
# stay at 32 under its limit): 94 requests of 32 rows, 64 in flight
worker worker2.log
# a batching the worker does not know: answered INVALID_REQUEST, and the
# worker goes on with the requests after it
/usr/bin/python3 -c "import numpy as np, sys; np.save(sys.argv[2], np.load(sys.argv[1])[:1])" \
  "$data/test.npy" "$work/one.npy"
"$producer" -b "$SWARM_BOOTSTRAP" -t requests.scoring -r results.scoring --model fashion \
  --input "$work/one.npy" --meta swarm.batch=together --wait >"$work/bad.out" 2>"$work/bad.err" || true
grep -q "answered=1 ok=0 invalid_request=1 " "$work/bad.out" \
  || fail "swarm.batch=together: $(grep summary "$work/bad.out")"
grep -qF 'status=INVALID_REQUEST error="metadata "swarm.batch" is "together": want "alone" or "merge"' "$work/bad.err" \
  || fail "no reason for swarm.batch=together: $(grep 'not served' "$work/bad.err")"
"$producer" -b "$SWARM_BOOTSTRAP" -t requests.scoring -r results.scoring --model fashion \
  --input "$work/in.npy" --rows-per-request 32 --window 64 --wait >"$work/p.out" 2>"$work/p.err" \
  || fail "producer: $(tail -3 "$work/p.err")"
kill -TERM "$wpid"; wait "$wpid" || fail "worker exit"; wpid=
grep -q "summary messages=95 ok=94 invalid_request=1 " "$work/worker2.log" \
  || fail "worker: $(grep ' summary ' "$work/worker2.log")"
b=$(sed -n 's/.* summary .* batches=\([0-9]*\).*/\1/p' "$work/worker2.log")
[ -n "$b" ] && [ "$b" -lt 94 ] || fail "94 merge requests of 32 rows ran in $b batches, want fewer"
echo "scoring worker: the scorer's 94 requests in 94 batches, 94 merge requests in $b" \
  "(deployment max_batch_rows=32, worker --max-batch-rows 1024)"

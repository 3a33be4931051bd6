#!/usr/bin/env bash
# Pinned versions (issue 10 defect 5), under with-postgres.sh and
# with-broker.sh: a request pinning an archived version is answered
# MODEL_NOT_FOUND saying it is archived; a request pinning a version that is
# not loaded is answered once the background load is done, while the
# unpinned requests around it are answered at once (not held behind it).
# Usage: test_pinned.sh CONSUMER PRODUCER REGISTRY MODEL DATA_DIR
set -euo pipefail
consumer=$1 producer=$2 registry=$3 model=$4 data=$5
. "$(dirname "$0")/../lib/wait.sh"
test_workdir
fail() { echo "FAIL: $*" >&2; tail -30 "$work/worker.log" >&2; exit 1; }
R() { "$registry" "$@" >/dev/null; }

R migrate
R register fashion "$model"             # v1
R register fashion "$model"             # v2
R register fashion "$model"             # v3
R promote fashion 2
R archive fashion:1
R config fashion request_topic=requests

"$consumer" -b "$SWARM_BOOTSTRAP" -g pinned --registry "$SWARM_REGISTRY" \
  --metrics-port -1 2>"$work/worker.log" &
wpid=$!

# archived v1: MODEL_NOT_FOUND with the reason
out=$("$producer" -b "$SWARM_BOOTSTRAP" -t requests --model fashion --model-version 1 \
        --input "$data/test.csv" --wait --timeout 60 2>"$work/p1.log") || true
grep -q 'model_not_found=100' <<<"$out" || fail "archived v1: $out"
grep -q 'archived' "$work/p1.log" || fail "the reason does not say archived: $(head -3 "$work/p1.log")"

# v3 is not loaded: its requests wait for the load, the production ones do not
out=$("$producer" -b "$SWARM_BOOTSTRAP" -t requests --model fashion --model-version 3 \
        --input "$data/test.csv" --wait --timeout 60 2>"$work/p3.log") || true
grep -q '^summary sent=100 answered=100 ok=100 ' <<<"$out" || fail "pinned v3: $out"
out=$("$producer" -b "$SWARM_BOOTSTRAP" -t requests --model fashion \
        --input "$data/test.csv" --wait --timeout 60 2>/dev/null) || true
grep -q '^summary sent=100 answered=100 ok=100 ' <<<"$out" || fail "production: $out"

kill -TERM $wpid; wait $wpid || fail "worker exited non-zero"; wpid=
echo "pinned: archived v1 -> 100 MODEL_NOT_FOUND (archived), v3 loaded in the background -> 100 ok, production 100 ok"

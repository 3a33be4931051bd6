#!/usr/bin/env bash
# Pinned versions (issue 10 defect 5), under with-postgres.sh and
# with-broker.sh: a request pinning an archived version is answered
# MODEL_NOT_FOUND saying it is archived; a request pinning a version that is
# not loaded is answered once the background load is done, while the
# unpinned requests around it are answered at once (not held behind it);
# a pinned version already in the cache that is then archived stops being
# served (MODEL_NOT_FOUND) once the worker hears of it.  The worker connects
# as a login role in swarm_worker: it needs no write on the registry.
# Usage: test_pinned.sh CONSUMER PRODUCER REGISTRY MODEL DATA_DIR
set -euo pipefail
consumer=$1 producer=$2 registry=$3 model=$4 data=$5
. "$(dirname "$0")/../lib/wait.sh"
test_workdir
fail() { echo "FAIL: $*" >&2; tail -30 "$work/worker.log" >&2; tail -n 5 "$work"/p*.log >&2; exit 1; }
R() { "$registry" "$@" >/dev/null; }

R migrate
R register fashion "$model"             # v1
R register fashion "$model"             # v2
R register fashion "$model"             # v3
R promote fashion 2
R archive fashion:1
R config fashion request_topic=requests

psql -X -q "$SWARM_REGISTRY" -c "create role pinned_worker login in role swarm_worker" >/dev/null
"$consumer" -b "$SWARM_BOOTSTRAP" -g pinned \
  --registry "host=$PGHOST port=$PGPORT dbname=$PGDATABASE user=pinned_worker" \
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

# v3 is cached now; archived, it must stop being served (it was served
# until evicted before the worker re-read cached versions' status)
R archive fashion:3
t0=$(date +%s.%N)
for i in $(seq 1 20); do
  out=$("$producer" -b "$SWARM_BOOTSTRAP" -t requests --model fashion --model-version 3 \
          --input "$data/test.csv" --wait --timeout 60 2>"$work/p3a.log") || true
  grep -q 'model_not_found=100' <<<"$out" && break
  sleep 0.5
done
grep -q 'model_not_found=100' <<<"$out" || fail "cached v3 still served after archive: $out"
grep -q 'archived' "$work/p3a.log" || fail "the reason does not say archived: $(head -3 "$work/p3a.log")"
grep -q 'model version archived name=fashion version=3' "$work/worker.log" || fail "no archive log line"
t_arch=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')

kill -TERM $wpid; wait $wpid || fail "worker exited non-zero"; wpid=
echo "pinned: archived v1 -> 100 MODEL_NOT_FOUND (archived), v3 loaded in the background -> 100 ok, production 100 ok, cached v3 archived -> 100 MODEL_NOT_FOUND after ${t_arch}s (tries=$i)"

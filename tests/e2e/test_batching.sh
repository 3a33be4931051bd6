#!/usr/bin/env bash
# Multi-row requests through the real worker: rows are batched by rows, not
# by messages; a request bigger than --max-batch-rows runs alone; outputs come
# back in input order and match the float64 reference (within 1e-5 of
# each row's largest output).  Batch sizes are read from the worker's
# swarm_worker_batch_rows histogram.  Runs under with-broker.sh
# (SWARM_BOOTSTRAP set).
# Usage: test_batching.sh CONSUMER PRODUCER MODEL DATA_DIR
set -euo pipefail
consumer=$1 producer=$2 model=$3 data=$4
. "$(dirname "$0")/../lib/wait.sh"
test_workdir
fail() { echo "FAIL: $*" >&2; tail -20 "$work/worker.log" >&2; exit 1; }

"$consumer" -b "$SWARM_BOOTSTRAP" -g batching -M "fashion=$model" --max-batch-rows 64 \
  --max-delay-us 5000 --metrics-port 0 2>"$work/worker.log" &
wpid=$!
port=
for _ in $(seq 1 100); do
  port=$(sed -n 's/.*metrics listening port=\([0-9]*\).*/\1/p' "$work/worker.log")
  [ -n "$port" ] && break
  sleep 0.1
done
[ -n "$port" ] || fail "worker did not log its metrics port"
metric() { # name{labels} -> value
  curl -sf "http://127.0.0.1:$port/metrics" | awk -v k="$1" '$1 == k {print $2}'
}
curl -sf "http://127.0.0.1:$port/healthz" >/dev/null || fail "/healthz"
# Answers are counted when the broker acknowledges them, which may be just
# after the producer read them: wait (up to 10 s) for the expected value.
wait_metric() { # name{labels} value
  local v=
  for _ in $(seq 1 100); do
    v=$(metric "$1")
    [ "$v" = "$2" ] && return 0
    sleep 0.1
  done
  fail "$1 is '$v', expected $2"
}
bucket() { # le -> batches with at most le rows
  metric "swarm_worker_batch_rows_bucket{model=\"fashion\",le=\"$1\"}"
}

check() { # rows_per_request
  local n=$1 out
  out=$("$producer" -b "$SWARM_BOOTSTRAP" --model fashion --input "$data/test.npy" \
          --rows-per-request "$n" --wait --timeout 120 --output "$work/out-$n.npy")
  grep -q '^summary .* unanswered=0 ' <<<"$out" || fail "rows-per-request $n: $out"
  /usr/bin/python3 - "$work/out-$n.npy" "$data/expected.npy" "$n" <<'PY' || fail "values, rows-per-request $n"
import sys, numpy as np
got, want = np.load(sys.argv[1]), np.load(sys.argv[2])
assert got.shape == want.shape, (got.shape, want.shape)
# within 1e-5 of each row's largest reference output (float64 reference,
# float32 summation order differs by BLAS kernel)
scale = np.abs(want).max(axis=1, keepdims=True)
err = float((np.abs(got - want) / scale).max())
print(f"rows-per-request {sys.argv[3]}: {got.shape[0]} rows, max scaled error {err:.2e}")
assert err <= 1e-5, err
PY
}
check 7      # 1429 requests of 7 rows (the last one of 5): batches mix requests
curl -sf "http://127.0.0.1:$port/readyz" >/dev/null || fail "/readyz: not ready after serving"
wait_metric 'swarm_worker_requests_total{model="fashion",version="1",status="OK"}' 1429
rows7=$(metric 'swarm_worker_batch_rows_sum{model="fashion"}')
[ "$rows7" = 10000 ] || fail "batch_rows_sum after 10000 rows: '$rows7'"
# every batch within --max-batch-rows 64, and batches mixed requests (fewer
# batches than requests)
n7=$(metric 'swarm_worker_batch_rows_count{model="fashion"}')
[ "$(bucket 64)" = "$n7" ] || fail "batches over 64 rows: le=64 $(bucket 64) of $n7"
[ "$n7" -lt 1429 ] || fail "no batch mixed requests: $n7 batches for 1429 requests"
le32_7=$(bucket 32) le128_7=$(bucket 128) le256_7=$(bucket 256) le512_7=$(bucket 512)
check 300    # bigger than --max-batch-rows 64: each runs alone, whole
wait_metric 'swarm_worker_requests_total{model="fashion",version="1",status="OK"}' $((1429 + 34))
[ "$(metric 'swarm_worker_batch_rows_sum{model="fashion"}')" = 20000 ] || fail "batch_rows_sum"
# 33 requests of 300 rows and one of 100: 34 batches, one each
n300=$(metric 'swarm_worker_batch_rows_count{model="fashion"}')
[ "$n300" = $((n7 + 34)) ] || fail "batches for 34 oversized requests: $((n300 - n7))"
[ "$(bucket 64)" = "$n7" ] || fail "an oversized request was split or merged (le=64)"
[ "$(bucket 128)" = $((le128_7 + 1)) ] || fail "the 100-row request did not run alone"
[ "$(bucket 256)" = $((le256_7 + 1)) ] || fail "le=256: $(bucket 256)"
[ "$(bucket 512)" = $((le512_7 + 34)) ] || fail "the 300-row requests did not run whole"
[ "$(bucket 32)" = "$le32_7" ] || fail "le=32 moved"
[ "$(metric 'swarm_worker_inflight_messages')" = 0 ] || fail "inflight after all answered"

kill -TERM "$wpid"; wait "$wpid" || fail "worker exited non-zero"; wpid=
summary=$(grep " summary " "$work/worker.log")
grep -q "invalid_request=0 model_not_found=0 deadline_exceeded=0 internal_error=0 dead_lettered=0" \
  <<<"$summary" || fail "worker summary: $summary"
echo "batching: $summary"

#!/usr/bin/env bash
# swarm-producer --wait with nobody answering (no worker on the topic, as
# when every worker or the broker is gone mid-run): the window fills, and
# --timeout ends the run, where it used to wait forever (an orphaned
# producer of a stopped benchmark was found still waiting an hour later).
# It must exit non-zero within the timeout plus the start, say why, and
# still print its summary: exactly the window's requests sent, none
# answered.  Runs under with-broker.sh (SWARM_BOOTSTRAP).
# Usage: test_producer_stall.sh PRODUCER
set -euo pipefail
producer=$1
. "$(dirname "$0")/../lib/wait.sh"
test_workdir
fail() { echo "FAIL: $*" >&2; tail -5 "$work/p.err" >&2 || true; exit 1; }

# 64 rows of 4 floats; 100 passes: far more requests than the window
/usr/bin/python3 - "$work/x.npy" <<'PY'
import sys, numpy as np
np.save(sys.argv[1], np.arange(256, dtype=np.float32).reshape(64, 4))
PY
t0=$(date +%s)
rc=0
timeout 60 "$producer" -b "$SWARM_BOOTSTRAP" -t requests -r results --model nobody \
  --input "$work/x.npy" --repeat 100 --window 8 --wait --timeout 5 \
  >"$work/p.out" 2>"$work/p.err" || rc=$?
t1=$(date +%s)
[ "$rc" -ne 124 ] || fail "still waiting after 60 s (--timeout 5)"
[ "$rc" -ne 0 ] || fail "exit 0 with nothing answered"
[ $(( t1 - t0 )) -le 30 ] || fail "took $(( t1 - t0 )) s for --timeout 5"
grep -q "no request completed for 5s with the window full (in_flight=8)" "$work/p.err" ||
  fail "no reason given"
grep -q '^summary sent=8 answered=0 ' "$work/p.out" || fail "summary: $(cat "$work/p.out")"
echo "producer stall: exit $rc after $(( t1 - t0 )) s, $(grep -o 'sent=[0-9]* answered=[0-9]*' "$work/p.out" | head -1)"

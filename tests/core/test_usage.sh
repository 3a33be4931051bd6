#!/usr/bin/env bash
# The programs' shared command line (issue 13, "a consistent command line"):
# a bad value is a usage error (exit 2) found before anything connects, -X
# list shows Swarm's keys, the metrics ports have fixed defaults, --timeout
# bounds a producer run against a dead broker, and -i - reads standard input.
# No broker, no database: 127.0.0.1:1 refuses every connection.
# Usage: test_usage.sh CONSUMER PRODUCER SCALER REGISTRY
set -uo pipefail
consumer=$1 producer=$2 scaler=$3 registry=$4
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fails=0
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }
dead=127.0.0.1:1

# expect RC MAX_SECONDS NEEDLE CMD...: exit code, time bound, stderr text
expect() {
  local want=$1 max=$2 needle=$3; shift 3
  local t0 t1 rc
  t0=$(date +%s%N)
  "$@" >"$work/out" 2>"$work/err"; rc=$?
  t1=$(date +%s%N)
  local ms=$(( (t1 - t0) / 1000000 ))
  [ "$rc" = "$want" ] || fail "$*: exit $rc, want $want: $(head -3 "$work/err")"
  [ "$ms" -le $((max * 1000)) ] || fail "$*: took $ms ms, more than $max s"
  [ -z "$needle" ] || grep -qF -- "$needle" "$work/err" ||
    fail "$*: no \"$needle\" in: $(head -3 "$work/err")"
  echo "ok: exit $rc in $ms ms: $*"
}

expect 2 2 'swarm.max.batch.rows="abc" is not an integer' \
  "$consumer" -b $dead -M x=/nonexistent.onnx --max-batch-rows abc
expect 2 2 'swarm.device="tpu"' "$consumer" -b $dead -M x=/nonexistent.onnx --device tpu
expect 2 2 'out of range' "$consumer" -b $dead -M x=/nonexistent.onnx --metrics-port 70000
expect 2 2 'no model' "$consumer" -b $dead
expect 2 2 'swarm.exactly.once="maybe" is not a boolean' \
  "$consumer" -b $dead -M x=/nonexistent.onnx -X swarm.exactly.once=maybe
expect 2 2 'promote expects NAME VERSION' \
  "$registry" --registry "host=$work/nosock port=1" promote fashion
expect 2 2 'bad version "x"' "$registry" --registry "host=$work/nosock port=1" promote fashion x
expect 2 2 'expected one of none|local|exec' "$scaler" -b $dead -t t -g g --actuator bogus
expect 2 2 'out of range' "$scaler" -b $dead -t t -g g --poll-interval 0
expect 2 2 'swarm.window="abc"' "$producer" -b $dead -m x -i /dev/null --window abc
expect 2 2 'unknown option' "$producer" -b $dead -m x -i /dev/null --frobnicate
# -F is -c
printf 'swarm.max.batch.rows=0\n' >"$work/bad.conf"
expect 2 2 "$work/bad.conf:1: swarm.max.batch.rows=\"0\" is out of range" \
  "$consumer" -F "$work/bad.conf" -b $dead -M x=/nonexistent.onnx

# -X list: Swarm's keys with their defaults, then librdkafka's
"$consumer" -X list >"$work/list" || fail "consumer -X list"
grep -qE '^swarm\.metrics\.port +integer +-1\.\.65535 +9464 ' "$work/list" ||
  fail "consumer -X list: metrics port 9464"
grep -q '^swarm\.max\.batch\.rows ' "$work/list" || fail "consumer -X list: batch rows"
# the exactly-once window defaults (consumer/txn.h TXN_DEFAULT_*)
grep -Eq '^swarm\.txn\.ms .* 100 ' "$work/list" || fail "consumer -X list: txn.ms default"
grep -Eq '^swarm\.txn\.max\.records .* 5000 ' "$work/list" ||
  fail "consumer -X list: txn.max.records default"
grep -q 'bootstrap.servers' "$work/list" || fail "consumer -X list: librdkafka's properties"
"$scaler" -X list >"$work/list" || fail "scaler -X list"
grep -qE '^swarm\.metrics\.port +integer +-1\.\.65535 +9465 ' "$work/list" ||
  fail "scaler -X list: metrics port 9465"
grep -qE '^swarm\.stall\.window\.s +number +[^ ]+ +60 ' "$work/list" ||
  fail "scaler -X list: stall window 60"
"$producer" -X list >"$work/list" || fail "producer -X list"
grep -qE '^swarm\.window +integer +1\.\.1048576 +1024 ' "$work/list" ||
  fail "producer -X list: window 1024"

# --timeout bounds the whole run against a dead broker, -i - reads stdin
/usr/bin/python3 -c "import numpy as np; np.save('$work/x.npy', np.zeros((3, 4), np.float32))" ||
  fail "numpy"
expect 1 4 '' "$producer" -b $dead -m x -i "$work/x.npy" --timeout 2
expect 1 4 '' "$producer" -b $dead -m x -i "$work/x.npy" --timeout 2 --wait
expect 1 4 'input=- rows=3' bash -c "\"$producer\" -b $dead -m x -i - --timeout 1 <\"$work/x.npy\""

[ "$fails" = 0 ] || { echo "$fails failure(s)" >&2; exit 1; }
echo "usage: all checks passed"

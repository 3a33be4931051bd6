#!/usr/bin/env bash
# The exec actuator (run under tests/lib/with-broker.sh --mock, no consumer
# group API): the scaler runs --exec with {n} replaced, once per change of
# the desired count.  It first applies --min (1), and a backlog nobody
# consumes takes it to the partition cap (4 of --max 8) at once.
# Usage: test_scaler_exec.sh SCALER PRODUCER
set -uo pipefail
scaler=$1 producer=$2
work=$(mktemp -d)
spid=
. "$(dirname "$0")/../lib/wait.sh"
cleanup() { stop_pid "$spid"; rm -rf "$work"; }
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; echo "--- applied:" >&2; cat "$work/applied" >&2; tail -30 "$work/scaler.log" >&2; exit 1; }
: >"$work/applied"

# worker capacity 100 req/s and a 2 s drain target: 2,000 requests need 10+
# workers, more than the 4 partitions allow
"$scaler" -b "$SWARM_BOOTSTRAP" -t requests -g exec-test --no-group-api \
  --actuator exec --exec "echo {n} >> '$work/applied'" --min 1 --max 8 \
  --poll-interval 1 --worker-capacity 100 --drain-target 2 --metrics-port -1 \
  2>"$work/scaler.log" &
spid=$!
wait_for 20 "the scaler to apply --min" grep -qx 1 "$work/applied"

printf '0.5,0.25\n' >"$work/x.csv"
"$producer" -b "$SWARM_BOOTSTRAP" -t requests --model m --input "$work/x.csv" \
  --repeat 2000 >"$work/producer.out" 2>"$work/producer.log" ||
  fail "producer: $(tail -5 "$work/producer.log")"
wait_for 20 "the scaler to scale up to the partition cap" grep -qx 4 "$work/applied"
sleep 3 # more polls with the same backlog must not run the command again

kill -TERM "$spid"; wait "$spid"; rc=$?; spid=
[ "$rc" = 0 ] || fail "scaler exited $rc on SIGTERM"
got=$(tr '\n' ' ' <"$work/applied")
[ "$got" = "1 4 " ] || fail "expected the command to run with 1 then 4, got: $got"
grep -q 'exec workers=4 cmd="echo 4 >> ' "$work/scaler.log" || fail "no exec log line"
echo "exec actuator: ran with n=1 (min) then n=4 (backlog, capped at 4 partitions)"

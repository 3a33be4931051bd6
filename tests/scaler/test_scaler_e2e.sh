#!/usr/bin/env bash
# swarm-scaler end to end on a real broker (run under tests/lib/with-broker.sh,
# SWARM_BOOTSTRAP set): --actuator local, min 1, max 3, 1 s polls, 10 s
# scale-down window.  A burst scales the fleet to 3, every request is
# answered, the fleet shrinks back to 1 after the window, a SIGKILLed worker
# is replaced, and /metrics /healthz /readyz answer with moving values.
# Usage: test_scaler_e2e.sh SCALER CONSUMER PRODUCER MODEL
set -uo pipefail
scaler=$1 consumer=$2 producer=$3 model=$4
work=$(mktemp -d)
spid=
. "$(dirname "$0")/../lib/wait.sh"
cleanup() { stop_pid "$spid"; rm -rf "$work"; }
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; grep -v ' DEBUG ' "$work/scaler.log" | tail -60 >&2; exit 1; }
log() { echo "e2e: $*" >&2; }

# GET a path from the scaler's metrics server; prints status line and body
get() {
  exec 3<>"/dev/tcp/127.0.0.1/$port" || return 1
  printf 'GET %s HTTP/1.0\r\n\r\n' "$1" >&3
  cat <&3
  exec 3<&-
}
metric() { get /metrics | awk -v n="$1" '$1 == n {print $2}'; }

/usr/bin/python3 -c "import numpy as np; np.save('$work/x.npy', np.random.default_rng(1).random((1000, 784), dtype=np.float32))" ||
  fail "cannot make input"

"$scaler" -b "$SWARM_BOOTSTRAP" -t requests -g scaler-e2e --actuator local \
  --min 1 --max 3 --poll-interval 1 --scale-down-window 10 --rate-window 5 \
  --drain-target 2 --worker-capacity 2000 --stall-window 30 --metrics-port 0 \
  --stop-timeout 30 -- \
  "$consumer" -b "$SWARM_BOOTSTRAP" -t requests -g scaler-e2e -M "id=$model" \
  -X session.timeout.ms=6000 -X heartbeat.interval.ms=500 \
  2>"$work/scaler.log" &
spid=$!

wait_for 30 "metrics port in the log" grep -q 'metrics listening port=' "$work/scaler.log"
port=$(grep -o 'metrics listening port=[0-9]*' "$work/scaler.log" | head -1 | cut -d= -f2)
get /healthz | grep -q '^ok$' || fail "/healthz"
wait_for 30 "/readyz 200 after the first poll" bash -c "exec 3<>/dev/tcp/127.0.0.1/$port; printf 'GET /readyz HTTP/1.0\r\n\r\n' >&3; head -1 <&3 | grep -q ' 200 '"
[ "$(metric swarm_scaler_desired_workers)" = 1 ] || fail "desired should start at 1"
# the worker owns partitions once it logs its assignment (worker.c's
# rebalance callback); this wait fails the test when it never comes
wait_for 30 "first worker in the group" grep -q 'swarm-consumer: assigned partitions=[1-9]' "$work/scaler.log"

log "burst of 120000 requests"
out=$("$producer" -b "$SWARM_BOOTSTRAP" -t requests --model id --input "$work/x.npy" \
        --repeat 120 --window 4096 --wait --timeout 150 2>"$work/producer.log") ||
  fail "producer: $out $(tail -5 "$work/producer.log")"
log "$out"
sent=$(sed -n 's/^summary sent=\([0-9]*\) .*/\1/p' <<<"$out")
answered=$(sed -n 's/^summary .* answered=\([0-9]*\) .*/\1/p' <<<"$out")
[ -n "$sent" ] && [ "$sent" = 120000 ] && [ "$answered" = "$sent" ] ||
  fail "every request answered: sent=$sent answered=$answered"
grep -q 'decision up .*desired=3' "$work/scaler.log" || fail "no scale-up to 3"
[ "$(grep -c 'worker started' "$work/scaler.log")" -ge 3 ] || fail "fewer than 3 workers started"
up_reason=$(grep -o 'decision up .*' "$work/scaler.log" | head -1)
log "scaled up: ${up_reason:0:120}"

log "waiting for the fleet to shrink after the 10 s window"
wait_for 90 "back to 1 worker" bash -c "[ \"\$(exec 3<>/dev/tcp/127.0.0.1/$port; printf 'GET /metrics HTTP/1.0\r\n\r\n' >&3; awk '\$1==\"swarm_scaler_workers\" {print \$2}' <&3)\" = 1 ]"
grep -q 'decision down .*reason=low_load' "$work/scaler.log" || fail "no low_load scale-down"
get /metrics | grep -q 'swarm_scaler_decisions_total{direction="down",reason="low_load"}' ||
  fail "decision counter by direction and reason"
get /metrics | grep -q '^swarm_scaler_partition_lag{topic="requests",partition="3"} 0$' ||
  fail "per-partition lag drained"
[ "$(metric swarm_scaler_desired_workers)" = 1 ] || fail "desired back to 1"

log "SIGKILL the remaining worker"
victim=$(pgrep -P "$spid" | head -1)
[ -n "$victim" ] || fail "no worker process"
kill -KILL "$victim"
wait_for 20 "the dead worker replaced" grep -q "worker died pid=$victim signal=9" "$work/scaler.log"
wait_for 20 "a new worker" bash -c "[ \$(pgrep -P $spid | wc -l) -ge 1 ] && ! pgrep -P $spid | grep -qx $victim"
# exported at the next poll
wait_for 10 "the restart counted" bash -c "[ \"\$(exec 3<>/dev/tcp/127.0.0.1/$port; printf 'GET /metrics HTTP/1.0\r\n\r\n' >&3; awk '\$1==\"swarm_scaler_worker_restarts_total\" {print \$2}' <&3)\" = 1 ]"

log "requests after the restart are answered too"
out=$("$producer" -b "$SWARM_BOOTSTRAP" -t requests --model id --input "$work/x.npy" \
        --wait --timeout 90 2>>"$work/producer.log") || fail "producer after kill: $out"
grep -q '^summary sent=1000 answered=1000 ' <<<"$out" || fail "after kill: $out"

kill -TERM "$spid"; wait "$spid"; rc=$?; spid=
[ $rc -eq 0 ] || fail "scaler exit $rc"
grep -q 'stopped cleanly, left the group' "$work/scaler.log" || fail "worker did not stop cleanly"
echo "scaler e2e: burst scaled 1->3, $answered/$sent answered, shrank to 1, killed worker replaced"

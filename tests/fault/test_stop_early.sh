#!/usr/bin/env bash
# A worker stopped (SIGTERM) while it joins a group that has another member,
# before its first assignment: librdkafka 2.0.2's sticky assignor asserted
# (assignor_state NULL) in that window, about 1 run in 16.  Runs under
# with-broker.sh.  Usage: test_stop_early.sh CONSUMER MODEL [RUNS]
set -u
consumer=$1 model=$2 runs=${3:-16}
work=$(mktemp -d)
apid=
cleanup() { [ -n "$apid" ] && kill -TERM "$apid" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
"$consumer" -b "$SWARM_BOOTSTRAP" -g stop-early -M "tiny=$model" --metrics-port -1 \
  2>"$work/a.log" &
apid=$!
sleep 5
crashes=0 stopped=0
for i in $(seq 1 "$runs"); do
  # delays over the join window: 0.6 .. 2.9 s
  d=$(awk -v i="$i" 'BEGIN { printf "%.2f", 0.6 + (i * 37 % 24) / 10.0 }')
  "$consumer" -b "$SWARM_BOOTSTRAP" -g stop-early -M "tiny=$model" --metrics-port -1 \
    -X session.timeout.ms=6000 2>"$work/w.log" &
  pid=$!
  sleep "$d"
  kill -TERM $pid
  wait $pid; rc=$?
  if grep -q "Assertion" "$work/w.log" || [ $rc -ne 0 ]; then
    crashes=$((crashes + 1))
    echo "run $i (stop after ${d}s): exit $rc $(grep -o 'Assertion.*' "$work/w.log" | head -1)" >&2
    tail -5 "$work/w.log" >&2
  else
    stopped=$((stopped + 1))
  fi
  sleep 0.3
done
echo "stop before first assignment: runs=$runs clean=$stopped crashed=$crashes"
[ "$crashes" -eq 0 ]

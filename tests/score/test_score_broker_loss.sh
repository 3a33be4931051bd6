#!/usr/bin/env bash
# A lost broker: the broker goes away while `score` runs; the scorer gives
# up after its retries (exit 1, checkpoint kept), and the same command
# against a new broker and worker finishes the job with a file
# byte-identical to an uninterrupted run's.  Starts its own brokers
# ($SWARM_BROKER_BIN), one at a time.
# Usage: test_score_broker_loss.sh BROKER CONSUMER PRODUCER MODEL DATA_DIR
set -euo pipefail
broker=$1 consumer=$2 producer=$3 model=$4 data=$5
work=$(mktemp -d)
bpid= wpid=
stop() { # pid
  [ -n "$1" ] && kill -TERM "$1" 2>/dev/null && wait "$1" 2>/dev/null
  return 0
}
cleanup() { stop "$wpid"; stop "$bpid"; rm -rf "$work"; }
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

start() { # n: a broker with the scoring topics, and a worker on it
  rm -f "$work/bootstrap"
  "$broker" --topic requests.batch:2 --topic results.batch:2 --topic requests.dlq:1 \
    --bootstrap-file "$work/bootstrap" >/dev/null 2>"$work/broker-$1.log" &
  bpid=$!
  for _ in $(seq 1 600); do
    [ -s "$work/bootstrap" ] && break
    kill -0 "$bpid" 2>/dev/null || { cat "$work/broker-$1.log" >&2; exit 125; }
    sleep 0.2
  done
  bs=$(sed -n 's/^bootstrap\.servers=//p' "$work/bootstrap")
  [ -n "$bs" ] || exit 125
  "$consumer" -b "$bs" -g scoring -t requests.batch -r results.batch -M "fashion=$model" --metrics-port -1 \
    -X session.timeout.ms=6000 2>"$work/worker-$1.log" &
  wpid=$!
}

/usr/bin/python3 -c "import numpy as np, sys; np.save(sys.argv[2], np.resize(np.load(sys.argv[1]), (24000, 784)))" \
  "$data/test.npy" "$work/in.npy"
# a narrow window keeps the run long enough to lose the broker halfway
score() { # output [extra]
  local out=$1; shift
  "$producer" score -b "$bs" --model fashion --input "$work/in.npy" --output "$out" \
    -n 64 -w 2 --request-timeout 2 --retries 2 -X message.timeout.ms=3000 \
    -X socket.timeout.ms=2000 --progress-interval 3600 --checkpoint-interval 0.1 "$@"
}

start 1
score "$work/ref.avro" >"$work/ref.out" 2>"$work/ref.err" || fail "reference run: $(tail -3 "$work/ref.err")"
grep -q "scored=24000 " "$work/ref.out" || fail "reference summary"

score "$work/out.avro" >"$work/s1.out" 2>"$work/s1.err" &
spid=$!
lost=
for _ in $(seq 1 1200); do
  s=$(sed -n 's/^scored=//p' "$work/out.avro.ckpt" 2>/dev/null || true)
  if [ -n "$s" ] && [ "$s" -ge 8000 ]; then lost=$s; break; fi
  kill -0 "$spid" 2>/dev/null || break
  sleep 0.05
done
[ -n "$lost" ] || fail "the run ended before the broker could be stopped"
stop "$bpid"; bpid=
rc=0
for _ in $(seq 1 600); do kill -0 "$spid" 2>/dev/null || break; sleep 0.1; done
kill -0 "$spid" 2>/dev/null && fail "the scorer did not give up within 60 s of losing the broker"
wait "$spid" || rc=$?
# the worker of the lost broker cannot leave its group cleanly: not our test
kill -KILL "$wpid" 2>/dev/null; wait "$wpid" 2>/dev/null || true; wpid=
cat "$work/s1.out"
[ "$rc" = 1 ] || fail "lost broker: exit $rc, want 1"
grep -q "complete=0" "$work/s1.out" || fail "lost broker: claims completion"
[ -s "$work/out.avro.ckpt" ] || fail "no checkpoint after the lost broker"

start 2
score "$work/out.avro" >"$work/s2.out" 2>"$work/s2.err" || fail "resume: $(tail -3 "$work/s2.err")"
cat "$work/s2.out"
grep -q "scored=24000 .* resumed=1 complete=1" "$work/s2.out" || fail "resume summary"
cmp "$work/out.avro" "$work/ref.avro" || fail "output after a lost broker differs from the uninterrupted run's"
echo "score broker loss: broker lost at scored>=$lost, resumed on a new broker: byte-identical"

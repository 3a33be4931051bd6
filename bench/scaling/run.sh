#!/usr/bin/env bash
# Latency across scale events: the producer sends at a fixed rate while a
# second worker joins the group (1 -> 2) and later leaves it on SIGTERM
# (2 -> 1), as the scaler's local actuator does.  Prints p50/p99/max of the
# requests sent before, during and after each event, for worker
# configurations in the same run on the same broker:
#   before    the worker before issue 14: no warm-up, librdkafka's 3 s
#             heartbeat, none of consumer/rejoin.h
#   prev      warm-up, 250 ms heartbeat, none of consumer/rejoin.h
#   after     the defaults: warm-up, 100 ms heartbeat, rejoin.h's fast
#             rejoin, fetch wake-up and heartbeat pacing
#   norejoin, nowake, nopace   "after" without one of the three
#   eager     "after" with the eager roundrobin strategy (one round)
#   deferN    --revoke-defer-ms N, none of rejoin.h (e.g. --configs "prev defer900")
#
#   bash bench/scaling/run.sh [--rate R] [--phase S] [--build DIR] [--configs "before after"]
#
# Windows (by send time): "before" = the phase before the event, "during" =
# the first 5 s after it, "after" = the rest of the phase.  Defaults: 600
# requests/s of one Fashion-MNIST row each (a third of what one worker
# serves on a shared 2-core machine), phases of 15 s, real Kafka
# broker (tests/broker/swarm-broker), topics of 8 partitions.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
rate=600 phase=15 build=$root/build/dev configs="before after" during=5 settle=5
while [ $# -gt 0 ]; do
  case "$1" in
    --rate) rate=$2; shift 2 ;;
    --phase) phase=$2; shift 2 ;;
    --build) build=$2; shift 2 ;;
    --configs) configs=$2; shift 2 ;;
    *) echo "usage: $0 [--rate R] [--phase S] [--build DIR] [--configs LIST]" >&2; exit 2 ;;
  esac
done
consumer=$build/consumer/swarm-consumer producer=$build/producer/swarm-producer
broker=$build/tests/broker/swarm-broker
for b in "$consumer" "$producer" "$broker"; do
  [ -x "$b" ] || { echo "missing $b: cmake --build $build --target swarm-consumer swarm-producer swarm-broker" >&2; exit 1; }
done
model=$root/tests/fixtures/fashion-mlp/model.onnx
data=$build/data/fashion
[ -s "$data/test.npy" ] || /usr/bin/python3 tests/fixtures/fashion-mlp/make_data.py "$data" >/dev/null

. "$root/bench/lib.sh"
bench_workdir swarm-scaling

topics=()
for c in $configs; do topics+=(--topic "requests.$c:8" --topic "results.$c:8"); done
bench_broker "${topics[@]}" --topic requests.dlq:1

now_ms() { date +%s%3N; }
wait_log() { # file pattern seconds
  for _ in $(seq 1 $(( $3 * 10 ))); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done
  echo "timeout waiting for '$2' in $1" >&2; tail -5 "$1" >&2; return 1
}

worker() { # config name -> pid in $wpid
  local c=$1 n=$2 x=()
  local off=(-X swarm.fast.rejoin=false -X swarm.fetch.wake=false -X swarm.heartbeat.pace.ms=0)
  case $c in
    before) x=(-X swarm.warmup=false -X heartbeat.interval.ms=3000 -X swarm.revoke.defer.ms=0
               "${off[@]}") ;;
    prev) x=("${off[@]}" -X heartbeat.interval.ms=250) ;;  # main before consumer/rejoin.h
    norejoin) x=(-X swarm.fast.rejoin=false) ;;
    nowake) x=(-X swarm.fetch.wake=false) ;;
    nopace) x=(-X swarm.heartbeat.pace.ms=0) ;;
    eager) x=(-X partition.assignment.strategy=roundrobin) ;;  # one round, all revoked
    defer*) x=(-X "swarm.revoke.defer.ms=${c#defer}" "${off[@]}") ;;   # e.g. defer900
  esac
  # WORKER_ARGS: more worker options for experiments (both configs)
  x+=(${WORKER_ARGS:-})
  "$consumer" -b "$brokers" -t "requests.$c" -r "results.$c" -g "scaling-$c" \
    -M "fashion=$model" --worker-name "$c-$n" --metrics-port -1 "${x[@]}" \
    >/dev/null 2>"$work/$c-$n.log" &
  wpid=$!
}

run() { # config
  local c=$1 a b t0 ev1 ev2 total
  worker "$c" A; a=$wpid; pids+=("$a")
  wait_log "$work/$c-A.log" "assigned partitions=8" 60
  total=$(( rate * (phase * 3 + settle) ))
  "$producer" -b "$brokers" -t "requests.$c" -r "results.$c" --model fashion \
    --input "$data/test.npy" --repeat $(( total / 10000 + 1 )) --rate "$rate" \
    --window 100000 --wait --timeout 60 --id-prefix "$c-" \
    --latency-log "$work/lat-$c" >"$work/out-$c" 2>"$work/producer-$c.log" &
  local ppid=$!
  # the producer's own start (its result consumer joining) is not the
  # workers' latency: the steady window starts after `settle` seconds
  sleep "$settle"
  t0=$(now_ms)
  sleep "$phase"
  ev1=$(now_ms)
  worker "$c" B; b=$wpid; pids+=("$b")
  sleep "$phase"
  ev2=$(now_ms)
  kill -TERM "$b"; wait "$b" || echo "worker $c-B exited $?" >&2
  sleep "$phase"
  kill -INT "$ppid" 2>/dev/null || true; wait "$ppid" || true
  kill -TERM "$a"; wait "$a" || true
  echo "$c $t0 $ev1 $ev2 $(now_ms)" >>"$work/events"
  grep -h "\(assigned\|revoked\) partitions\|warm-up done\|subscribed" "$work/$c-A.log" "$work/$c-B.log" \
    | sed "s/^/  $c: /" >"$work/rebalance-$c"
}

for c in $configs; do run "$c"; done

echo "rate ${rate} req/s, 1 row each, phases of ${phase} s, 8 partitions, real Kafka broker"
printf '%-7s %-12s %-7s %8s %9s %9s %9s\n' config event window n p50_ms p99_ms max_ms
while read -r c t0 ev1 ev2 tend; do
  # the partitions that change owner: those the joiner is assigned
  moved=$(sed -n 's/.*assigned partitions=[1-9][0-9]* \[\([0-9,]*\)\].*/\1/p' \
          "$work/$c-B.log" | head -1)
  /usr/bin/python3 - "$c" "$t0" "$ev1" "$ev2" "$tend" "$during" "$work/lat-$c" "$moved" \
    >>"$work/timeline" <<'PY'
import sys
from collections import defaultdict
c, e1, e2 = sys.argv[1], int(sys.argv[3]), int(sys.argv[4])
moved = {int(p) for p in sys.argv[8].split(",") if p}
rows = [l.split() for l in open(sys.argv[7]) if l.strip()]
for name, e in (("1->2 join", e1), ("2->1 leave", e2)):
    b = defaultdict(lambda: ([], []))
    for r in rows:
        k = (int(r[0]) - e) // 500
        if -1 <= k < 8:
            b[k][int(r[3]) not in moved].append(int(r[1]))
    def f(v):
        v = sorted(v)
        return f"{v[len(v) // 2] / 1000:6.0f} {v[-1] / 1000:6.0f}" if v else f"{'-':>6} {'-':>6}"
    for k in sorted(b):
        print(f"{c:<7} {name:<11} {k / 2:+5.1f}s   moved {f(b[k][0])}   kept {f(b[k][1])}")
PY
  /usr/bin/python3 - "$c" "$t0" "$ev1" "$ev2" "$tend" "$during" "$work/lat-$c" <<'PY'
import sys
c, t0, e1, e2, te, d = sys.argv[1], *map(int, sys.argv[2:7])
d *= 1000
rows = [tuple(map(int, l.split()[:2])) for l in open(sys.argv[7]) if l.strip()]
def emit(ev, win, lo, hi):
    v = sorted(lat for s, lat in rows if lo <= s < hi)
    if not v:
        print(f"{c:<7} {ev:<12} {win:<7} {0:>8} {'-':>9} {'-':>9} {'-':>9}"); return
    p = lambda q: v[min(len(v) - 1, int(len(v) * q / 100))] / 1000
    print(f"{c:<7} {ev:<12} {win:<7} {len(v):>8} {p(50):>9.1f} {p(99):>9.1f} {v[-1] / 1000:>9.1f}")
emit("steady", "all", t0, e1)
emit("1->2 join", "during", e1, e1 + d); emit("1->2 join", "after", e1 + d, e2)
emit("2->1 leave", "during", e2, e2 + d); emit("2->1 leave", "after", e2 + d, te - 2000)
PY
  grep -h '^summary' "$work/out-$c" | sed "s/^/  $c: /"
done <"$work/events"
echo "by send time, each half second from 0.5 s before the event: p50 and max ms of the"
echo "partitions that change owner (moved) and of the others (kept):"
cat "$work/timeline"
echo "rebalance log (partitions moved per event):"
cat "$work"/rebalance-*

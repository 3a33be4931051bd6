#!/usr/bin/env bash
# PostgreSQL faults (under with-postgres.sh and with-broker.sh):
#  1. the registry restarted during a run of 5,000 requests: every one
#     answered OK, and the worker follows a promotion made after the restart;
#  2. the registry down when a worker starts with --start-from-state: it
#     serves the last known state, answers 1,000 requests, and catches up
#     when the registry is back.
# Usage: test_pg_restart.sh CONSUMER PRODUCER REGISTRY MODEL DATA_DIR
set -euo pipefail
consumer=$1 producer=$2 registry=$3 model=$4 data=$5
work=$(mktemp -d)
wpid=
cleanup() { [ -n "$wpid" ] && kill -TERM "$wpid" 2>/dev/null; wait 2>/dev/null
            "$SWARM_PG_CTL" start >/dev/null 2>&1 || true; rm -rf "$work"; return 0; }
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; for f in "$work"/w*.log; do echo "== $f" >&2; grep -v DEBUG "$f" | tail -n 15 >&2; done; exit 1; }
R() { "$registry" "$@" >/dev/null; }
now() { date +%s.%N; }

R migrate
R register fashion "$model"
R register fashion "$model"
R promote fashion 1
R config fashion request_topic=requests
mkdir -p "$work/state"   # the worker does not create it

"$consumer" -b "$SWARM_BOOTSTRAP" -g pg --registry "$SWARM_REGISTRY" --metrics-port -1 \
  --state-dir "$work/state" 2>"$work/w1.log" &
wpid=$!
sleep 4

# 1. restart during a run
"$producer" -b "$SWARM_BOOTSTRAP" -t requests --model fashion --input "$data/test.csv" \
  --repeat 50 --rate 500 --wait --timeout 120 >"$work/p1.out" 2>/dev/null &
ppid=$!
sleep 3
t0=$(now)
"$SWARM_PG_CTL" stop >/dev/null
sleep 4
"$SWARM_PG_CTL" start >/dev/null
t_up=$(now)
wait $ppid || true
grep -q '^summary sent=5000 answered=5000 ok=5000 ' "$work/p1.out" ||
  fail "run across the restart: $(cat "$work/p1.out")"
# a promotion after the restart reaches the worker (it reconnected)
R promote fashion 2
for _ in $(seq 1 100); do
  grep -q 'version=2' "$work/w1.log" && break
  sleep 0.2
done
t_follow=$(now)
grep -q 'version=2' "$work/w1.log" || fail "the promotion after the restart never arrived"
echo "pg restart: requests=5000 answered=5000 down_s=4 promotion_seen_s=$(awk -v a="$t_up" -v b="$t_follow" 'BEGIN{printf "%.1f", b-a}') after restart"
kill -TERM $wpid; wait $wpid || fail "worker 1 exited non-zero"; wpid=

# 2. down at start, with --start-from-state
"$SWARM_PG_CTL" stop >/dev/null
"$consumer" -b "$SWARM_BOOTSTRAP" -g pg --registry "$SWARM_REGISTRY" --metrics-port -1 \
  --state-dir "$work/state" --start-from-state 2>"$work/w2.log" &
wpid=$!
out=$("$producer" -b "$SWARM_BOOTSTRAP" -t requests --model fashion --input "$data/test.csv" \
        --repeat 10 --wait --timeout 120 2>/dev/null) || true
grep -q '^summary sent=1000 answered=1000 ok=1000 ' <<<"$out" ||
  fail "registry down at start: $out"
"$SWARM_PG_CTL" start >/dev/null
R promote fashion 1
for _ in $(seq 1 150); do
  grep -q 'version=1' "$work/w2.log" && break
  sleep 0.2
done
grep -q 'version=1' "$work/w2.log" || fail "no catch-up once the registry was back"
kill -TERM $wpid; wait $wpid || fail "worker 2 exited non-zero"; wpid=
echo "pg down at start: requests=1000 answered=1000 from the state dir; caught up after the registry came back"

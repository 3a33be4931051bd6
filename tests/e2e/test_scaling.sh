#!/usr/bin/env bash
# Scale events under load on a real Kafka broker (consumer/rebalance.c,
# warmup.c, stopguard.c):
#   1. worker B joins while A serves a fixed-rate stream: B logs its model
#      warm-up before it subscribes; the cooperative rebalance moves only
#      some partitions: A revokes exactly the ones B is assigned, and never
#      all of them;
#   2. B is SIGTERMed under load: it exits 0, having answered every request
#      it had consumed; A is assigned exactly B's partitions without a
#      revocation of its own; the producer gets every request answered
#      exactly once (no unknown = duplicate responses) and OK;
#   3. the broker is SIGKILLed with requests in flight, then A is SIGTERMed:
#      it exits within its --stop-timeout-ms (status 3: not clean) instead
#      of hanging.
# Starts its own broker (it kills it in step 3).
# Usage: test_scaling.sh BROKER CONSUMER PRODUCER MODEL DATA_DIR
set -euo pipefail
broker=$1 consumer=$2 producer=$3 model=$4 data=$5
work=$(mktemp -d)
bpid= apid= bpid2= ppid=
cleanup() {
  for p in $ppid $bpid2 $apid $bpid; do kill -KILL "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
  return 0
}
trap cleanup EXIT
fail() {
  echo "FAIL: $*" >&2
  for f in A B producer; do echo "--- $f" >&2; tail -15 "$work/$f.log" >&2 || true; done
  exit 1
}
wait_log() { # file pattern tenths
  for _ in $(seq 1 "$3"); do grep -q -- "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done
  fail "no '$2' in $1"
}
parts() { # log line -> sorted partition list, one per line
  sed -n 's/.*partitions=[0-9]* \[\([0-9,]*\)\].*/\1/p' <<<"$1" | tr , '\n' | sort -n
}

TMPDIR="$work" "$broker" --topic requests:6 --topic results:6 --topic requests.dlq:1 \
  --bootstrap-file "$work/bootstrap" >/dev/null 2>"$work/broker.log" &
bpid=$!
for _ in $(seq 1 600); do [ -s "$work/bootstrap" ] && break; sleep 0.1; done
bs=$(sed -n 's/^bootstrap.servers=//p' "$work/bootstrap")
[ -n "$bs" ] || { cat "$work/broker.log" >&2; exit 125; }

w() { # name
  "$consumer" -b "$bs" -g scaling -M "fashion=$model" --worker-name "$1" \
    --metrics-port -1 --stop-timeout-ms 4000 2>"$work/$1.log" &
}
w A; apid=$!
wait_log "$work/A.log" "assigned partitions=6 " 300

# 12 s of 1000 requests/s
"$producer" -b "$bs" --model fashion --input "$data/test.npy" --repeat 1 --rate 1000 \
  --window 100000 --wait --timeout 60 --latency-log "$work/lat" \
  >"$work/out" 2>"$work/producer.log" &
ppid=$!
sleep 2

# 1. the joiner: warmed up, then subscribed; some partitions move
w B; bpid2=$!
# round 1 assigns B nothing (A first gives up what moves), round 2 the rest
wait_log "$work/B.log" "assigned partitions=[1-9]" 300
nwarm=$(grep -n "warm-up done models=1 failed=0" "$work/B.log" | cut -d: -f1)
nsub=$(grep -n "subscribed topic=requests" "$work/B.log" | cut -d: -f1)
[ -n "$nwarm" ] && [ -n "$nsub" ] && [ "$nwarm" -lt "$nsub" ] ||
  fail "B subscribed (line ${nsub:-none}) before its warm-up (line ${nwarm:-none})"
bassign=$(grep -m1 "assigned partitions=[1-9]" "$work/B.log")
nb=$(parts "$bassign" | wc -l)
[ "$nb" -ge 1 ] && [ "$nb" -le 5 ] || fail "B was assigned $nb of 6 partitions: $bassign"
wait_log "$work/A.log" "revoked partitions=[1-9]" 100
arevoke=$(grep "revoked partitions=[1-9]" "$work/A.log")
[ "$(wc -l <<<"$arevoke")" = 1 ] || fail "A revoked more than once: $arevoke"
[ "$(parts "$arevoke")" = "$(parts "$bassign")" ] ||
  fail "A revoked [$(parts "$arevoke" | tr '\n' ' ')], B got [$(parts "$bassign" | tr '\n' ' ')]"
grep -q "owned=$((6 - nb)) lost=0" <<<"$arevoke" || fail "A after the join: $arevoke"
# round 1 gave B nothing: B rejoined at once (consumer/rejoin.h) rather than
# a second after its first JoinGroup
nempty=$(grep -n -m1 "assigned partitions=0 " "$work/B.log" | cut -d: -f1)
nrejoin=$(grep -n -m1 "rebalance: rejoining at once" "$work/B.log" | cut -d: -f1)
nfull=$(grep -n -m1 "assigned partitions=[1-9]" "$work/B.log" | cut -d: -f1)
[ -n "$nempty" ] && [ -n "$nrejoin" ] && [ "$nrejoin" -lt "$nempty" ] && [ "$nempty" -lt "$nfull" ] ||
  fail "B: empty assignment line ${nempty:-none}, rejoin ${nrejoin:-none}, partitions ${nfull:-none}"
ms() { date -d "$(sed -n "$1{s/ .*//;p}" "$work/B.log")" +%s%3N; }
echo "join: B assigned $nb of 6 partitions $(( $(ms "$nfull") - $(ms "$nempty") )) ms after" \
  "its empty first round, A revoked exactly those and kept $((6 - nb))"

# 2. B leaves under load
sleep 3
kill -TERM $bpid2
wait $bpid2 || fail "B exited $? on SIGTERM"
bpid2=
grep -q "stopped cleanly, left the group" "$work/B.log" || fail "B did not leave cleanly"
wait_log "$work/A.log" "assigned partitions=$nb .*owned=6 " 100
[ "$(grep -c "revoked partitions=[1-9]" "$work/A.log")" = 1 ] ||
  fail "A revoked partitions when B left"
again=$(grep "assigned partitions=$nb .*owned=6 " "$work/A.log" | tail -1)
[ "$(parts "$again")" = "$(parts "$bassign")" ] || fail "A took back [$(parts "$again" | tr '\n' ' ')]"
wait $ppid || true
ppid=
sum=$(grep '^summary' "$work/out") || fail "no producer summary"
grep -q 'sent=10000 answered=10000 ok=10000 ' <<<"$sum" || fail "producer: $sum"
grep -q 'unknown_responses=0 ' "$work/out" || fail "duplicate responses: $(grep '^delivery' "$work/out")"
# B answered every message it consumed: its own count of consumed messages
# is the number of answers the producer got from B
bmsgs=$(sed -n 's/.*summary messages=\([0-9]*\) ok=\([0-9]*\) .*/\1 \2/p' "$work/B.log")
bgot=$(awk '$5 == "B"' "$work/lat" | wc -l)
[ -n "$bmsgs" ] && [ "$bmsgs" = "$bgot $bgot" ] ||
  fail "B consumed/answered '$bmsgs', the producer got $bgot answers from B"
[ "$bgot" -gt 0 ] || fail "B answered nothing"
echo "leave: B answered all $bgot requests it consumed; A took back its $nb partitions; $sum"

# 3. the broker dies with requests in flight; A's stop is still bounded
"$producer" -b "$bs" --model fashion --input "$data/test.npy" --repeat 5 --window 20000 \
  --timeout 5 >/dev/null 2>&1 &
ppid=$!
sleep 1
kill -KILL $bpid; wait $bpid 2>/dev/null || true
bpid=
sleep 1
t0=$(date +%s%3N)
kill -TERM $apid
rc=0; wait $apid || rc=$?
apid=
dt=$(( $(date +%s%3N) - t0 ))
[ "$dt" -lt 9000 ] || fail "A took $dt ms to exit without its broker (stop timeout 4000 ms)"
[ "$rc" = 0 ] || [ "$rc" = 3 ] || fail "A exited $rc without its broker"
echo "broker gone: A exited $rc in $dt ms"
echo PASS
